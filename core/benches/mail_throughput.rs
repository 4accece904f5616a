//! `make bench-mail` (`cargo bench --bench mail_throughput`): the inbound-mail pipeline's
//! throughput — parse + authenticate + classify + redact, `rootwarden_core::mail::analyze`, the
//! code the `inbound-mail` Lambda runs on every message — in MB/s and messages/s over the AWS
//! root-mail fixtures and ../shared's mail-parser corpus, then Python's stdlib `email` parser over
//! the same files in the same run (bench/python_email_baseline.py), and the ratio. Each side runs
//! for about `MAIL_BENCH_SECONDS` (default 3) and reports its best of three rounds.
//!
//! Writes `target/bench/mail.json` (the `make bench` table's "mail" part), with the notes of the
//! toolchain-pin measurement (`make bench-mail-pin`, bench/mail_pin.sh) when it has been run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rootwarden_core::mail::{self, Context};
use serde_json::{json, Value};

/// The goal: Rust's MB/s at least this many times Python stdlib's.
const GOAL_RATIO: f64 = 100.0;

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

/// Best of three timed rounds of `iterations` passes; seconds for one round.
fn best_of_three(mut round: impl FnMut() -> f64) -> f64 {
    (0..3).map(|_| round()).fold(f64::INFINITY, f64::min)
}

fn main() {
    let started = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let budget: f64 = std::env::var("MAIL_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let mut files = Vec::new();
    eml_files(&root.join("tests/fixtures/mail"), &mut files);
    let shared = root.join("../shared/corpus/mail-parser-eml");
    let with_shared = shared.is_dir();
    if with_shared {
        eml_files(&shared, &mut files);
    } else {
        eprintln!("note: ../shared is absent; benchmarking the repository fixtures only");
    }
    files.sort();
    let raws: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    let bytes: usize = raws.iter().map(Vec::len).sum();
    if raws.is_empty() {
        eprintln!("no .eml files found");
        std::process::exit(1);
    }
    let ctx = Context {
        recipients: vec!["root+123456789012@provider.example".into()],
        ..Context::default()
    };
    let pass = || {
        for r in &raws {
            std::hint::black_box(mail::analyze(std::hint::black_box(r), &ctx));
        }
    };
    // Warm up first: the first pass also compiles the pipeline's regexes and automata, once per
    // process, and would make the calibration take rounds far shorter than the budget asks.
    pass();
    // Calibrate: passes for a third of the budget per round.
    let probe = Instant::now();
    pass();
    let one = probe.elapsed().as_secs_f64().max(1e-6);
    let rounds = ((budget / 3.0 / one).ceil() as usize).clamp(3, 100_000);
    let secs = best_of_three(|| {
        let t = Instant::now();
        for _ in 0..rounds {
            pass();
        }
        t.elapsed().as_secs_f64()
    });
    let rust_mbs = (bytes * rounds) as f64 / secs / 1e6;
    let rust_msgs = (raws.len() * rounds) as f64 / secs;
    println!(
        "corpus: {} messages, {:.1} KB",
        raws.len(),
        bytes as f64 / 1e3
    );
    println!(
        "rust   parse+classify+redact: {rust_mbs:>8.1} MB/s  {rust_msgs:>9.0} messages/s  ({rounds} passes, best {secs:.2} s)"
    );

    let python = [".venv/bin/python"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.exists())
        .map(|p| p.into_os_string())
        .unwrap_or_else(|| "python3".into());
    let out = std::process::Command::new(&python)
        .arg(root.join("bench/python_email_baseline.py"))
        .arg(format!("{}", budget / 3.0))
        .args(&files)
        .output();
    let py = out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok());
    let Some(py) = py else {
        eprintln!("python baseline: could not run {python:?}");
        std::process::exit(1);
    };
    let (py_mbs, py_msgs) = (
        py["mb_per_s"].as_f64().unwrap_or(0.0),
        py["messages_per_s"].as_f64().unwrap_or(0.0),
    );
    let ratio = rust_mbs / py_mbs.max(1e-9);
    let ratio_msgs = rust_msgs / py_msgs.max(1e-9);
    println!(
        "python email (stdlib): {py_mbs:>8.1} MB/s  {py_msgs:>9.0} messages/s  ({} passes, best {:.2} s)",
        py["passes"], py["seconds"].as_f64().unwrap_or(0.0)
    );
    println!("ratio rust/python: {ratio:.1}x MB/s, {ratio_msgs:.1}x messages/s");

    let corpus = format!(
        "{} messages, {:.0} KB: tests/fixtures/mail{}",
        raws.len(),
        bytes as f64 / 1e3,
        if with_shared {
            " + ../shared/corpus/mail-parser-eml"
        } else {
            " only (../shared absent)"
        }
    );
    let mut notes = vec![format!(
        "Mail pipeline: rootwarden_core::mail::analyze (parse + authenticate + classify + redact, bench profile = the Lambdas' release profile) against Python {} stdlib email (parse, walk, decode every part) on the same corpus ({corpus}); best of three rounds each.",
        py["python"].as_str().unwrap_or("3")
    )];
    match std::fs::read_to_string(root.join("target/bench/mail-pin.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        Some(pin) => notes.extend(
            pin["notes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned)),
        ),
        None => notes.push(
            "Toolchain pin for mail-parser 1.x: not measured in this run (make bench-mail-pin); the decision and its figures are in bench/README.md.".to_owned(),
        ),
    }
    let report = json!({
        "part": "mail",
        "title": "Mail pipeline",
        "seconds": started.elapsed().as_secs_f64(),
        "rows": [
            {"what": "Rust pipeline", "figure": format!("{rust_mbs:.1} MB/s, {rust_msgs:.0} messages/s"),
             "goal": null, "met": null},
            {"what": "Python stdlib email, same corpus", "figure": format!("{py_mbs:.2} MB/s, {py_msgs:.0} messages/s"),
             "goal": null, "met": null},
            {"what": "Rust / Python (MB/s)", "figure": format!("{ratio:.1}×"),
             "goal": format!("≥ {GOAL_RATIO:.0}×"), "met": ratio >= GOAL_RATIO},
            {"what": "Rust / Python (messages/s)", "figure": format!("{ratio_msgs:.1}×"),
             "goal": format!("≥ {GOAL_RATIO:.0}×"), "met": ratio_msgs >= GOAL_RATIO},
        ],
        "notes": notes,
        "measured": {"rust_mb_per_s": rust_mbs, "rust_messages_per_s": rust_msgs,
                     "python_mb_per_s": py_mbs, "python_messages_per_s": py_msgs,
                     "ratio_mb": ratio, "ratio_messages": ratio_msgs,
                     "messages": raws.len(), "bytes": bytes},
    });
    let out = root.join("target/bench");
    if let Err(e) = std::fs::create_dir_all(&out).and_then(|()| {
        std::fs::write(
            out.join("mail.json"),
            serde_json::to_string_pretty(&report).unwrap_or_default(),
        )
    }) {
        eprintln!("writing target/bench/mail.json: {e}");
        std::process::exit(1);
    }
    println!("wrote target/bench/mail.json");
}
