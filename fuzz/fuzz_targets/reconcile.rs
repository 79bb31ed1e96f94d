#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jwt_relay_core::fuzzing::reconcile(data));
