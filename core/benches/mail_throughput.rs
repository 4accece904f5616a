//! `cargo bench --bench mail_throughput`: parse + authenticate + classify + redact throughput
//! (MB/s, messages/s) over the AWS root-mail fixtures and ../shared's mail-parser corpus, then
//! Python's stdlib `email` parser over the same files in the same run, and the ratio.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rootwarden_core::mail::{self, Context};

fn eml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            eml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "eml") {
            out.push(p);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    eml_files(&root.join("tests/fixtures/mail"), &mut files);
    let shared = root.join("../shared/corpus/mail-parser-eml");
    if shared.is_dir() {
        eml_files(&shared, &mut files);
    } else {
        eprintln!("note: ../shared is absent; benchmarking the repository fixtures only");
    }
    files.sort();
    let raws: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    let bytes: usize = raws.iter().map(Vec::len).sum();
    if raws.is_empty() {
        eprintln!("no .eml files found");
        return;
    }
    // Enough rounds for about a second of work.
    let ctx = Context {
        recipients: vec!["root+123456789012@provider.example".into()],
        ..Context::default()
    };
    let probe = Instant::now();
    for r in &raws {
        std::hint::black_box(mail::analyze(r, &ctx));
    }
    let one = probe.elapsed().as_secs_f64().max(1e-6);
    let rounds = ((1.0 / one).ceil() as usize).clamp(3, 2000);
    let start = Instant::now();
    for _ in 0..rounds {
        for r in &raws {
            std::hint::black_box(mail::analyze(r, &ctx));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let total = (bytes * rounds) as f64;
    let rust_mbs = total / secs / 1e6;
    println!(
        "corpus: {} messages, {:.1} KB",
        raws.len(),
        bytes as f64 / 1e3
    );
    println!(
        "rust   parse+classify: {:>8.1} MB/s  {:>9.0} messages/s  ({rounds} rounds, {secs:.2} s)",
        rust_mbs,
        (raws.len() * rounds) as f64 / secs
    );

    let python = ["../.venv/bin/python", "python3"]
        .iter()
        .map(|p| root.join("shared").join(p))
        .find(|p| p.exists())
        .map(|p| p.into_os_string())
        .unwrap_or_else(|| "python3".into());
    let py_rounds = (rounds / 10).max(1);
    let out = std::process::Command::new(python)
        .arg(root.join("bench/python_email_baseline.py"))
        .arg(py_rounds.to_string())
        .args(&files)
        .output();
    match out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
    {
        Some(v) => {
            let (b, m, s) = (
                v["bytes"].as_f64().unwrap_or(0.0),
                v["messages"].as_f64().unwrap_or(0.0),
                v["seconds"].as_f64().unwrap_or(1.0),
            );
            let py_mbs = b / s / 1e6;
            println!("python email (stdlib): {:>8.1} MB/s  {:>9.0} messages/s  ({py_rounds} rounds, {s:.2} s)", py_mbs, m / s);
            println!("ratio rust/python: {:.1}x", rust_mbs / py_mbs.max(1e-9));
        }
        None => println!("python baseline: could not run python3"),
    }
}
