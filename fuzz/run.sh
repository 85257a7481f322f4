#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after another,
# growing fuzz/corpus/<target>/; then minimises each corpus. A crash stops
# the script and leaves its input in fuzz/artifacts/<target>/.
# Needs nightly and cargo-fuzz: cargo install cargo-fuzz --locked
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
targets=(block transaction export_line request_body store_record net_message)
declare -A max_len=(
    [block]=4096 [transaction]=1024 [export_line]=8192
    [request_body]=2048 [store_record]=4096 [net_message]=16384
)
for t in "${targets[@]}"; do
    echo "== $t: ${seconds}s"
    cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1
done
for t in "${targets[@]}"; do
    cargo +nightly fuzz cmin "$t" "corpus/$t" -- -max_len="${max_len[$t]}"
done
du -sh corpus/*
