//! Fuzz target `store_record`: the property `properties::store_record` (fuzz/README.md).
#![no_main]

#[path = "../properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::store_record(data);
});
