//! The provisioned-emulator fork server (`emulator/zygote.py`), one per test process.
//!
//! Provisioning `infra/template.yaml` costs seconds of CPU per emulator, and the suite starts
//! about a hundred of them. The first test in a process that asks for the default provisioned
//! stack starts the zygote, which provisions once; every such test then gets a forked copy of
//! that state with its own port, function host and process group. The zygote lives as long as
//! the pipe on its stdin, which this process holds until it exits: nothing outlives the tests.
//!
//! `ROOTWARDEN_TEST_NO_ZYGOTE=1` launches every emulator the slow way instead (a bisecting aid).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::repo_root;

struct Zygote {
    socket: PathBuf,
    /// Held until the process exits: its end closing is what stops the zygote.
    _stdin: ChildStdin,
}

#[derive(Deserialize)]
struct Hello {
    socket: Option<PathBuf>,
    error: Option<String>,
    log: Option<String>,
}

#[derive(Deserialize)]
struct Forked {
    pid: u32,
}

static ZYGOTE: OnceLock<Mutex<Option<Result<Zygote, String>>>> = OnceLock::new();

pub(crate) fn enabled() -> bool {
    std::env::var_os("ROOTWARDEN_TEST_NO_ZYGOTE").is_none_or(|v| v.is_empty() || v == "0")
}

fn start() -> anyhow::Result<Zygote> {
    let root = repo_root();
    let stack = format!("rwt-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut child = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("emulator/zygote.py"))
        .arg("--provision")
        .arg(root.join("infra/template.yaml"))
        .args(["--stack-name", &stack])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting emulator/zygote.py")?;
    let stdin = child.stdin.take().context("zygote stdin")?;
    let stdout = child.stdout.take().context("zygote stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    // The zygote reaps nothing of ours; leaving the Child unwaited is fine (it exits with us).
    std::mem::forget(child);
    let hello: Hello = serde_json::from_str(&line)
        .with_context(|| format!("zygote said {line:?} instead of its socket"))?;
    match (hello.socket, hello.error) {
        (Some(socket), _) => Ok(Zygote {
            socket,
            _stdin: stdin,
        }),
        (None, e) => bail!(
            "zygote failed: {}\n{}",
            e.unwrap_or_default(),
            hello.log.unwrap_or_default()
        ),
    }
}

/// Forks a copy of the provisioned emulator that writes `ready` when it serves; returns its PID
/// (the leader of its own process group).
pub(crate) fn fork(
    ready: &Path,
    stdout: &Path,
    stderr: &Path,
    function_host: Option<&Path>,
) -> anyhow::Result<u32> {
    let cell = ZYGOTE.get_or_init(|| Mutex::new(None));
    let socket = {
        let mut guard = cell.lock().unwrap_or_else(|p| p.into_inner());
        let z = guard.get_or_insert_with(|| start().map_err(|e| format!("{e:#}")));
        match z {
            Ok(z) => z.socket.clone(),
            Err(e) => bail!("{e}"),
        }
    };
    let mut conn = UnixStream::connect(&socket)
        .with_context(|| format!("connecting to the zygote at {}", socket.display()))?;
    let request = serde_json::json!({
        "ready_file": ready,
        "stdout": stdout,
        "stderr": stderr,
        "function_host": function_host.is_some(),
        "bin_dir": function_host,
    });
    conn.write_all(format!("{request}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line)?;
    let forked: Forked = serde_json::from_str(&line)
        .with_context(|| format!("zygote answered {line:?} to a fork request"))?;
    Ok(forked.pid)
}
