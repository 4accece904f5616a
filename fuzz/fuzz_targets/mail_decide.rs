//! Parse → authenticate → classify → resolve → redact on arbitrary bytes: must never panic,
//! and no secret it reports may survive in the decision it returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rootwarden_core::mail::{self, Context};
use secrecy::ExposeSecret;

fuzz_target!(|data: &[u8]| {
    let ctx = Context { recipients: vec!["root+123456789012@provider.example".into()], ..Context::default() };
    let a = mail::analyze(data, &ctx);
    let d = &a.decision;
    for s in &a.found {
        let v = s.value.expose_secret();
        if v.len() >= 6 {
            assert!(!d.subject.contains(v) && !d.summary.contains(v), "secret leaked into the decision");
        }
    }
});
