//! The `sledger` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    sledger::cli::main()
}
