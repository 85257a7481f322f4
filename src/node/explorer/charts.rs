//! The overview's charts, drawn here as plain SVG (no chart library): over
//! the recent blocks of the active chain, the time between blocks against
//! the target, the difficulty, and the hash rate those imply.

use maud::{html, Markup};

use crate::api::views::BlockSummary;

const W: f64 = 600.0;
const H: f64 = 120.0;
const PAD: f64 = 24.0;

/// Expected hashes for a block of `bits` leading zero bits.
fn work(bits: u32) -> f64 {
    2f64.powi(bits as i32)
}

/// Oldest first, with the time since each block's parent (ms), for the
/// blocks whose parent is in the list.
fn intervals_of(newest_first: &[BlockSummary]) -> Vec<(&BlockSummary, f64)> {
    let mut out: Vec<(&BlockSummary, f64)> = newest_first
        .windows(2)
        .map(|w| (&w[0], w[0].timestamp.saturating_sub(w[1].timestamp) as f64))
        .collect();
    out.reverse();
    out
}

/// Hashes a second over `newest_first`: their work over the time they took.
pub fn hash_rate(newest_first: &[BlockSummary]) -> f64 {
    let pairs = intervals_of(newest_first);
    let ms: f64 = pairs.iter().map(|(_, dt)| dt).sum();
    let hashes: f64 = pairs.iter().map(|(b, _)| work(b.difficulty)).sum();
    if ms > 0.0 {
        hashes / (ms / 1000.0)
    } else {
        0.0
    }
}

/// A line chart of `values` (left to right), with an optional dashed
/// reference line, a title and the largest value labelled.
fn line_chart(title: &str, unit: &str, values: &[f64], reference: Option<f64>) -> Markup {
    let max = values
        .iter()
        .copied()
        .chain(reference)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let x = |i: usize| PAD + (W - 2.0 * PAD) * i as f64 / (values.len().max(2) - 1) as f64;
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * (v / max);
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    html! {
        figure {
            svg.chart viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
                title { (title) }
                text x=(PAD) y="14" { (title) " (max " (format!("{max:.3}")) " " (unit) ")" }
                @if let Some(r) = reference {
                    line.target x1=(PAD) x2=(W - PAD) y1=(format!("{:.1}", y(r))) y2=(format!("{:.1}", y(r))) {}
                }
                @if values.is_empty() {
                    text x=(PAD) y=(H / 2.0) { "not enough blocks yet" }
                } @else {
                    polyline points=(points.join(" ")) {}
                }
            }
        }
    }
}

/// Seconds between blocks, against the target (none at a fixed difficulty).
pub fn intervals(newest_first: &[BlockSummary], target_ms: Option<u64>) -> Markup {
    let values: Vec<f64> = intervals_of(newest_first)
        .iter()
        .map(|(_, dt)| dt / 1000.0)
        .collect();
    line_chart(
        "Time between blocks (dashed: target)",
        "s",
        &values,
        target_ms.map(|t| t as f64 / 1000.0),
    )
}

/// Difficulty in bits, oldest first.
pub fn difficulty(newest_first: &[BlockSummary]) -> Markup {
    let values: Vec<f64> = newest_first
        .iter()
        .rev()
        .map(|b| b.difficulty as f64)
        .collect();
    line_chart("Difficulty", "bits", &values, None)
}

/// The hash rate each block implies (its work over its interval), MH/s.
pub fn rates(newest_first: &[BlockSummary]) -> Markup {
    let values: Vec<f64> = intervals_of(newest_first)
        .iter()
        .map(|(b, dt)| work(b.difficulty) / (dt.max(1.0) / 1000.0) / 1e6)
        .collect();
    line_chart("Hash rate implied by each block", "MH/s", &values, None)
}
