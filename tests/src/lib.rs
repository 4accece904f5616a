//! Test harness: every test starts its own emulator (moto + Root Warden's extensions) on a free
//! port, optionally provisions the SAM template under a unique stack name and starts the function
//! host, and stops the whole process group by PID when the guard drops, even if the test panics.

pub mod custody;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde::Deserialize;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `../shared` beside the repository: shared test corpora. `None` (and the caller skips, saying
/// so) when absent.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = repo_root().join("..").join("shared");
    dir.is_dir().then_some(dir)
}

#[derive(Debug, Clone, Deserialize)]
pub struct StackResource {
    #[serde(rename = "type")]
    pub kind: String,
    pub physical_id: Option<String>,
    pub arn: Option<String>,
    #[serde(default)]
    pub skipped: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    pub name: String,
    pub env: HashMap<String, String>,
    /// What a client (the CLI) reads beyond the functions' environment, from stack outputs
    /// (e.g. ROOTWARDEN_ACCESS_URL).
    #[serde(default)]
    pub client_env: HashMap<String, String>,
    pub resources: HashMap<String, StackResource>,
}

#[derive(Debug, Deserialize)]
struct Ready {
    pid: u32,
    port: u16,
    endpoint: String,
    function_host_port: Option<u16>,
    stack: Option<Stack>,
}

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub provision: bool,
    pub function_host: bool,
}

pub struct Emulator {
    pub endpoint: String,
    pub port: u16,
    pub function_host_port: Option<u16>,
    pub stack: Option<Stack>,
    pub pid: u32,
    child: Child,
    dir: tempfile::TempDir,
}

impl Emulator {
    /// Bare emulator: moto plus extensions, nothing provisioned.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Options::default()).await
    }

    /// Emulator with `infra/template.yaml` provisioned under a unique stack name.
    pub async fn with_stack() -> anyhow::Result<Self> {
        Self::start_with(Options {
            provision: true,
            function_host: false,
        })
        .await
    }

    /// Provisioned stack plus the function host, so Lambda invokes run the real Rust handlers.
    pub async fn with_functions() -> anyhow::Result<Self> {
        Self::start_with(Options {
            provision: true,
            function_host: true,
        })
        .await
    }

    pub async fn start_with(opts: Options) -> anyhow::Result<Self> {
        let root = repo_root();
        let python = root.join(".venv/bin/python");
        if !python.exists() {
            bail!(
                "{} is missing: run `make venv` (make test does it)",
                python.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let ready = dir.path().join("ready.json");
        let log_path = dir.path().join("emulator.log");
        let mut cmd = Command::new(&python);
        cmd.arg(root.join("emulator/launcher.py"))
            .args(["--host", "127.0.0.1", "--port", "0", "--ready-file"])
            .arg(&ready)
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log_path)?)
            .stderr(std::fs::File::create(dir.path().join("emulator.err"))?);
        if opts.provision {
            let stack = format!("rwt-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
            cmd.arg("--provision")
                .arg(root.join("infra/template.yaml"))
                .args(["--stack-name", &stack]);
        }
        if opts.function_host {
            cmd.arg("--function-host").arg("--bin-dir").arg(bin_dir());
        }
        // Own process group, so Drop can stop the launcher and everything it started.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", python.display()))?;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                if let Ok(r) = serde_json::from_str::<Ready>(&text) {
                    return Ok(Self {
                        endpoint: r.endpoint,
                        port: r.port,
                        function_host_port: r.function_host_port,
                        stack: r.stack,
                        pid: r.pid,
                        child,
                        dir,
                    });
                }
            }
            if let Some(status) = child.try_wait()? {
                let err =
                    std::fs::read_to_string(dir.path().join("emulator.err")).unwrap_or_default();
                bail!("emulator exited early ({status}):\n{}", tail(&err, 4000));
            }
            if Instant::now() > deadline {
                let err =
                    std::fs::read_to_string(dir.path().join("emulator.err")).unwrap_or_default();
                stop_group(child.id());
                let _ = child.wait();
                bail!("emulator not ready after 90 s:\n{}", tail(&err, 4000));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SDK config aimed at this emulator with dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_with("testing", "testing", None).await
    }

    /// SDK config signing with the given credentials (e.g. an AssumeRoot session).
    pub async fn sdk_config_with(
        &self,
        key: &str,
        secret: &str,
        token: Option<String>,
    ) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                key,
                secret,
                token,
                None,
                "rootwarden-tests",
            ))
            .load()
            .await
    }

    pub fn stack(&self) -> &Stack {
        self.stack
            .as_ref()
            .expect("emulator was started without a provisioned stack")
    }

    /// A resolved environment variable of the provisioned stack (e.g. ROOTWARDEN_AUDIT_TABLE).
    pub fn env(&self, var: &str) -> String {
        self.stack()
            .env
            .get(var)
            .or_else(|| self.stack().client_env.get(var))
            .cloned()
            .unwrap_or_else(|| panic!("stack env has no {var}"))
    }

    /// The environment a CLI or Lambda process needs to talk to this stack.
    pub fn process_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ENDPOINT_URL".to_owned(), self.endpoint.clone()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ];
        if let Some(stack) = &self.stack {
            env.extend(stack.env.iter().map(|(k, v)| (k.clone(), v.clone())));
            env.extend(stack.client_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        env
    }

    /// Plain HTTP to the emulator's test-only endpoints (`/_rootwarden/...`).
    pub fn test_endpoint(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        http_json(self.port, method, path, body)
    }

    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        stop_group(self.child.id());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: plain syscall on a process group we created.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn stop_group(pid: u32) {
    // SAFETY: plain syscall on a process group we created.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGTERM);
    }
}

fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let mut i = start;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// Where the function host finds handler binaries (built by `make test` before the tests run).
pub fn bin_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug")
}

/// Builds the Lambda binaries the function host runs, if a test needs them and they are stale.
pub fn build_functions() -> anyhow::Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--bins",
            "--workspace",
            "--exclude",
            "rootwarden-tests",
        ])
        .current_dir(repo_root())
        .status()?;
    if !status.success() {
        bail!("cargo build of the function binaries failed");
    }
    Ok(())
}

/// The `rootwarden` CLI binary (built with the functions).
pub fn cli_bin() -> PathBuf {
    bin_dir().join("rootwarden")
}

/// Minimal HTTP/1.1 client for the emulator's plain-JSON test endpoints.
pub fn http_json(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    let json = if body.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))
    };
    Ok((status, json))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Whether a process with this PID is still alive.
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}
