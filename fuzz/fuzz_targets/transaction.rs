//! Fuzz target `transaction`: the property `properties::transaction` (fuzz/README.md).
#![no_main]

#[path = "../properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::transaction(data);
});
