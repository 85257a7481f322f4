//! Fuzz target `export_line`: the property `properties::export_line` (fuzz/README.md).
#![no_main]

#[path = "../properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::export_line(data);
});
