//! cargo-fuzz target: `checks::whatsapp_webhook` on every input (see `fuzz/README.md`).
#![no_main]

// Each target uses one of the shared checks; the others are dead code here.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::whatsapp_webhook(data));
