//! Fuzz target `request_body`: the property `properties::request_body` (fuzz/README.md).
#![no_main]

#[path = "../properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::request_body(data);
});
