//! Fuzz target `net_message`: the property `properties::net_message` (fuzz/README.md).
#![no_main]

#[path = "../properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::net_message(data);
});
