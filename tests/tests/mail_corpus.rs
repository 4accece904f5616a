//! Real-world MIME (../shared/corpus/mail-parser-eml): every message yields a decision (a ticket
//! or a quarantine), never a panic. Skipped, saying so, when ../shared is absent.

use rootwarden::mail::{self, Context};
use rootwarden_tests::shared_dir;

fn eml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "eml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_shared_corpus_message_gets_a_decision() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIPPED: ../shared is absent, so the mail-parser corpus cannot be read");
        return;
    };
    let files = eml_files(&shared.join("corpus/mail-parser-eml"));
    assert!(
        files.len() >= 100,
        "expected the 107-message corpus, found {}",
        files.len()
    );
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let ctx = Context {
            recipients: vec!["aws-root+123456789012@provider.example".into()],
            ..Context::default()
        };
        let a = std::panic::catch_unwind(|| mail::analyze(&raw, &ctx))
            .unwrap_or_else(|_| panic!("panic on {}", f.display()));
        let d = &a.decision;
        // A decision always routes: the sub-address names the account, whatever the body says.
        assert_eq!(
            d.account_id.as_ref().map(|a| a.as_str()),
            Some("123456789012"),
            "{}",
            f.display()
        );
        assert!(d.summary.chars().count() <= mail::SUMMARY_CHARS + 1);
        assert_eq!(d.quarantined, !d.quarantine_reasons.is_empty());
        // Truncated and mangled variants of each message are decided too.
        for cut in [raw.len() / 3, raw.len() / 2] {
            let _ = mail::analyze(&raw[..cut], &Context::default());
        }
    }
}
