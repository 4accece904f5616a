//! Test harness: every test starts its own emulator (moto + Root Warden's extensions) on a free
//! port, optionally provisions the SAM template under a unique stack name and starts the function
//! host, and stops the whole process group by PID when the guard drops, even if the test panics.

pub mod custody;
pub mod leaks;
pub mod seed;
mod zygote;

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

/// A fixture message as AWS would have sent it to `to`: its (first) `To:` header names `to`.
/// Mail drives the vault or a workflow only when its own To names the account's root address,
/// so a fixture delivered to another account's address is re-addressed first.
pub fn readdressed(raw: &[u8], to: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len() + to.len());
    let (mut in_headers, mut done) = (true, false);
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        if in_headers && line.trim_end().is_empty() {
            in_headers = false;
        }
        if in_headers && !done && line.len() >= 3 && line[..3].eq_ignore_ascii_case("to:") {
            let eol = if line.ends_with("\r\n") { "\r\n" } else { "\n" };
            out.push_str(&format!("To: {to}{eol}"));
            // Folded continuation lines belong to the old header.
            while lines.peek().is_some_and(|l| l.starts_with([' ', '\t'])) {
                lines.next();
            }
            done = true;
            continue;
        }
        out.push_str(line);
    }
    out.into_bytes()
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
    /// Role ARN of each function, state machine and schedule (by its logical id, and by the
    /// role's own logical id), as the provisioner created them.
    #[serde(default)]
    pub roles: HashMap<String, String>,
    #[serde(default)]
    pub outputs: HashMap<String, serde_json::Value>,
}

/// An IAM principal of the local stack with its keys (an IAM user, or a role session).
#[derive(Debug, Clone, Deserialize)]
pub struct Principal {
    pub arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Principals {
    /// The tests' own identity: allowed everything in IAM, but (like any administrator) not
    /// allowed to use the vault or digest keys, whose key policies name only their roles.
    pub harness: Option<Principal>,
    /// alice and bob: operators, each a session of the stack's OperatorRole named after them.
    #[serde(default)]
    pub operators: HashMap<String, Principal>,
}

/// See [`Emulator::inbound_adapters`].
pub struct InboundAdapters {
    pub mail: rootwarden::inbound::S3RawMailStore,
    pub tickets: rootwarden::tickets::DynamoTicketStore,
    pub vault: rootwarden::vault::KmsTransientStore,
    pub registry: rootwarden::registry::DynamoAccountRegistry,
    pub waits: rootwarden::workflows::DynamoWorkflowWaits,
}

#[derive(Debug, Deserialize)]
struct Ready {
    pid: u32,
    port: u16,
    endpoint: String,
    function_host_port: Option<u16>,
    stack: Option<Stack>,
    #[serde(default)]
    principals: Principals,
    #[serde(default)]
    iam_enforced: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub provision: bool,
    pub function_host: bool,
    /// Provision this template instead of `infra/template.yaml` (e.g. a copy with a permission
    /// removed).
    pub template: Option<PathBuf>,
}

pub struct Emulator {
    pub endpoint: String,
    pub port: u16,
    pub function_host_port: Option<u16>,
    pub stack: Option<Stack>,
    pub pid: u32,
    pub principals: Principals,
    /// Whether the emulator checks every call against the caller's IAM policies (always, unless
    /// started with --no-iam).
    pub iam_enforced: bool,
    process: Process,
    dir: tempfile::TempDir,
}

/// The emulator's process: launched by this test (our child), or forked by the zygote (the
/// zygote's child, which the kernel reaps). Either leads its own process group.
enum Process {
    Launched(Child),
    Forked(u32),
}

impl Process {
    fn pid(&self) -> u32 {
        match self {
            Process::Launched(c) => c.id(),
            Process::Forked(pid) => *pid,
        }
    }

    /// `Some(description)` once the process is gone.
    fn exited(&mut self) -> anyhow::Result<Option<String>> {
        Ok(match self {
            Process::Launched(c) => c.try_wait()?.map(|s| s.to_string()),
            Process::Forked(pid) => (!pid_alive(*pid)).then(|| format!("pid {pid} gone")),
        })
    }

    /// SIGKILL to the whole group, then reap what is ours.
    fn kill(&mut self) {
        // SAFETY: plain syscall on a process group we (or our zygote) created.
        unsafe {
            libc::kill(-(self.pid() as i32), libc::SIGKILL);
        }
        if let Process::Launched(c) = self {
            let _ = c.wait();
        }
    }
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
            ..Options::default()
        })
        .await
    }

    /// Provisioned stack plus the function host, so Lambda invokes run the real Rust handlers.
    pub async fn with_functions() -> anyhow::Result<Self> {
        Self::start_with(Options {
            provision: true,
            function_host: true,
            ..Options::default()
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
        let err_path = dir.path().join("emulator.err");
        // The default provisioned stack: a forked copy of this process's zygote (milliseconds
        // instead of seconds); anything else is launched.
        if opts.provision && opts.template.is_none() && zygote::enabled() {
            let bins = opts.function_host.then(bin_dir);
            match zygote::fork(&ready, &log_path, &err_path, bins.as_deref()) {
                Ok(pid) => return Self::await_ready(Process::Forked(pid), dir).await,
                Err(e) => eprintln!("emulator zygote unavailable, launching instead: {e:#}"),
            }
        }
        let mut cmd = Command::new(&python);
        cmd.arg(root.join("emulator/launcher.py"))
            .args(["--host", "127.0.0.1", "--port", "0", "--ready-file"])
            .arg(&ready)
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log_path)?)
            .stderr(std::fs::File::create(&err_path)?);
        if opts.provision {
            let stack = format!("rwt-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
            let template = opts
                .template
                .clone()
                .unwrap_or_else(|| root.join("infra/template.yaml"));
            cmd.arg("--provision")
                .arg(template)
                .args(["--stack-name", &stack]);
        }
        if opts.function_host {
            cmd.arg("--function-host").arg("--bin-dir").arg(bin_dir());
        }
        // Own process group, so Drop can stop the launcher and everything it started.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", python.display()))?;
        Self::await_ready(Process::Launched(child), dir).await
    }

    async fn await_ready(mut process: Process, dir: tempfile::TempDir) -> anyhow::Result<Self> {
        let ready = dir.path().join("ready.json");
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
                        principals: r.principals,
                        iam_enforced: r.iam_enforced,
                        process,
                        dir,
                    });
                }
            }
            if let Some(status) = process.exited()? {
                let err =
                    std::fs::read_to_string(dir.path().join("emulator.err")).unwrap_or_default();
                bail!("emulator exited early ({status}):\n{}", tail(&err, 4000));
            }
            if Instant::now() > deadline {
                let err =
                    std::fs::read_to_string(dir.path().join("emulator.err")).unwrap_or_default();
                process.kill();
                bail!("emulator not ready after 90 s:\n{}", tail(&err, 4000));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SDK config aimed at this emulator, signing as the test harness (see [`Principals`]).
    pub async fn sdk_config(&self) -> SdkConfig {
        let p = self.harness();
        self.sdk_config_with(
            &p.access_key_id,
            &p.secret_access_key,
            p.session_token.clone(),
        )
        .await
    }

    /// The harness principal.
    pub fn harness(&self) -> &Principal {
        self.principals
            .harness
            .as_ref()
            .expect("the emulator reported no harness principal")
    }

    /// An operator's (alice, bob) session of the stack's OperatorRole.
    pub fn operator(&self, name: &str) -> &Principal {
        self.principals
            .operators
            .get(name)
            .unwrap_or_else(|| panic!("no operator {name} (is OperatorRole in the template?)"))
    }

    /// SDK config signing as `p`.
    pub async fn sdk_config_as(&self, p: &Principal) -> SdkConfig {
        self.sdk_config_with(
            &p.access_key_id,
            &p.secret_access_key,
            p.session_token.clone(),
        )
        .await
    }

    /// The role ARN the provisioner gave a function, state machine or schedule (by logical id),
    /// or a role by its own logical id.
    pub fn role_arn(&self, logical_id: &str) -> String {
        let stack = self.stack();
        stack
            .roles
            .get(logical_id)
            .cloned()
            .or_else(|| {
                stack
                    .resources
                    .get(logical_id)
                    .filter(|r| r.kind == "AWS::IAM::Role")
                    .and_then(|r| r.arn.clone())
            })
            .unwrap_or_else(|| panic!("stack has no role for {logical_id}"))
    }

    /// A session of the role of a function (or state machine, schedule) as the AWS service that
    /// runs it would get: the test then acts exactly with that code's permissions.
    pub fn role_principal(&self, logical_id: &str) -> anyhow::Result<Principal> {
        let role_arn = self.role_arn(logical_id);
        let session = format!("test-{}", &logical_id[..logical_id.len().min(50)]);
        let (status, body) = self.test_endpoint(
            "POST",
            "/_rootwarden/iam/credentials",
            Some(&serde_json::json!({"role_arn": role_arn, "session_name": session})),
        )?;
        if status != 200 {
            bail!("minting a session of {role_arn}: HTTP {status} {body}");
        }
        let field = |k: &str| {
            body.get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .with_context(|| format!("no {k} in {body}"))
        };
        Ok(Principal {
            arn: format!("{role_arn}/{session}"),
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            session_token: Some(field("SessionToken")?),
        })
    }

    /// SDK config acting as the role of the function (state machine, schedule) `logical_id`.
    pub async fn role_config(&self, logical_id: &str) -> SdkConfig {
        let p = self
            .role_principal(logical_id)
            .unwrap_or_else(|e| panic!("{e:#}"));
        self.sdk_config_as(&p).await
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

    /// The environment the CLI needs to talk to this stack, as the operator alice (or, with no
    /// OperatorRole in the stack, as the harness).
    pub fn process_env(&self) -> Vec<(String, String)> {
        let who = self
            .principals
            .operators
            .get("alice")
            .or(self.principals.harness.as_ref());
        self.process_env_as(who.expect("the emulator reported no principals"))
    }

    /// The environment a process needs to talk to this stack as `p`.
    pub fn process_env_as(&self, p: &Principal) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ENDPOINT_URL".to_owned(), self.endpoint.clone()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), p.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".to_owned(),
                p.secret_access_key.clone(),
            ),
        ];
        if let Some(t) = &p.session_token {
            env.push(("AWS_SESSION_TOKEN".to_owned(), t.clone()));
        }
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
        http_json(self.port, method, path, body).inspect_err(|_| self.dump_threads())
    }

    /// Asks the emulator for every Python thread's stack (SIGUSR1, faulthandler), so that a
    /// request without an answer shows where the emulator was; the dump lands in its log,
    /// which a failing test prints.
    pub fn dump_threads(&self) {
        // SAFETY: plain syscall on the launcher process we started.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGUSR1);
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    /// What a person using break-glass access needs in their identity policy (the access
    /// function's resource policy delegates to the account): its URL, and lambda:InvokeFunction
    /// only through it, as `OperatorRole` holds them.
    pub fn break_glass_policy(&self) -> String {
        let function = self.stack().resources["AccessFunction"]
            .arn
            .clone()
            .expect("AccessFunction has an ARN");
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl", "Resource": function,
             "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}},
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function,
             "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}}]})
        .to_string()
    }

    /// A new IAM user `name` holding [`Self::break_glass_policy`], with one access key; its ARN
    /// is what STS says for those keys.
    pub async fn break_glass_user(&self, name: &str) -> anyhow::Result<Principal> {
        let iam = aws_sdk_iam::Client::new(&self.sdk_config().await);
        iam.create_user().user_name(name).send().await?;
        iam.put_user_policy()
            .user_name(name)
            .policy_name("access-function-url")
            .policy_document(self.break_glass_policy())
            .send()
            .await?;
        let k = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await?
            .access_key
            .context("no access key")?;
        let conf = self
            .sdk_config_with(&k.access_key_id, &k.secret_access_key, None)
            .await;
        let arn = rootwarden::sdk::caller_arn(&aws_sdk_sts::Client::new(&conf)).await?;
        Ok(Principal {
            arn,
            access_key_id: k.access_key_id,
            secret_access_key: k.secret_access_key,
            session_token: None,
        })
    }

    /// A role for a test's own state machine, created by the harness as a deployer would: Step
    /// Functions may assume it, and it may invoke `function` and nothing else (like the stack's
    /// rotation state machine role). Returns its ARN.
    pub async fn state_machine_role(&self, name: &str, function: &str) -> anyhow::Result<String> {
        let iam = aws_sdk_iam::Client::new(&self.sdk_config().await);
        let role_name = format!("{}-{name}-sfn", self.stack().name);
        let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        let role = iam
            .create_role()
            .role_name(&role_name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await?;
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "lambda:InvokeFunction", "Resource": function}]});
        iam.put_role_policy()
            .role_name(&role_name)
            .policy_name("invoke-the-task-function")
            .policy_document(policy.to_string())
            .send()
            .await?;
        Ok(role.role().context("no role")?.arn().to_owned())
    }

    /// Sets one environment variable of a stack function, keeping the others (as a deployment
    /// parameter would, e.g. the access function's `ROOTWARDEN_ACCESS_POLICY`).
    pub async fn set_function_env(
        &self,
        logical_id: &str,
        var: &str,
        value: &str,
    ) -> anyhow::Result<()> {
        let lambda = aws_sdk_lambda::Client::new(&self.sdk_config().await);
        let function = self.stack().resources[logical_id]
            .physical_id
            .clone()
            .with_context(|| format!("{logical_id} has no physical id"))?;
        let conf = lambda
            .get_function_configuration()
            .function_name(&function)
            .send()
            .await?;
        let mut vars = conf
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        vars.insert(var.to_owned(), value.to_owned());
        lambda
            .update_function_configuration()
            .function_name(&function)
            .environment(
                aws_sdk_lambda::types::Environment::builder()
                    .set_variables(Some(vars))
                    .build(),
            )
            .send()
            .await?;
        Ok(())
    }

    /// The inbound-mail use case's adapters over this stack, as the inbound-mail Lambda builds
    /// them, signing with `conf` (normally `role_config("InboundMailFunction")`).
    pub fn inbound_adapters(&self, conf: &SdkConfig) -> InboundAdapters {
        use rootwarden::audit::DynamoAuditLog;
        let ddb = aws_sdk_dynamodb::Client::new(conf);
        let audit = DynamoAuditLog::new(
            ddb.clone(),
            self.env("ROOTWARDEN_AUDIT_TABLE"),
            std::sync::Arc::new(rootwarden::SystemClock),
        );
        InboundAdapters {
            mail: rootwarden::inbound::S3RawMailStore::new(
                rootwarden::sdk::s3_client(conf),
                self.env("ROOTWARDEN_MAIL_BUCKET"),
                self.env("ROOTWARDEN_MAIL_PREFIX"),
            ),
            tickets: rootwarden::tickets::DynamoTicketStore::new(
                ddb.clone(),
                self.env("ROOTWARDEN_TICKETS_TABLE"),
                audit,
            )
            .with_vault_table(self.env("ROOTWARDEN_VAULT_TABLE")),
            vault: rootwarden::vault::KmsTransientStore::new(
                ddb.clone(),
                aws_sdk_kms::Client::new(conf),
                self.env("ROOTWARDEN_VAULT_TABLE"),
                self.env("ROOTWARDEN_VAULT_KEY"),
            ),
            registry: rootwarden::registry::DynamoAccountRegistry::new(
                ddb.clone(),
                self.env("ROOTWARDEN_ACCOUNTS_TABLE"),
            ),
            waits: rootwarden::workflows::DynamoWorkflowWaits::new(
                ddb,
                aws_sdk_sfn::Client::new(conf),
                self.env("ROOTWARDEN_WORKFLOWS_TABLE"),
            ),
        }
    }

    /// Stores a raw message in S3 as SES's receipt rule does: as the `ses.amazonaws.com` service
    /// principal, which the bucket policy and the bucket key's policy must allow.
    pub fn store_as_ses(&self, bucket: &str, key: &str, raw: &[u8]) -> anyhow::Result<()> {
        let (status, body) = http_bytes(
            self.port,
            "PUT",
            &format!("/_rootwarden/ses/store/{bucket}/{key}"),
            raw,
        )?;
        if status != 200 {
            bail!("SES could not store s3://{bucket}/{key}: HTTP {status} {body}");
        }
        Ok(())
    }

    /// Stores a raw message under the stack's mail bucket and prefix, as SES does.
    pub fn deliver_raw_mail(&self, ses_id: &str, raw: &[u8]) -> anyhow::Result<()> {
        let key = format!("{}{ses_id}", self.env("ROOTWARDEN_MAIL_PREFIX"));
        self.store_as_ses(&self.env("ROOTWARDEN_MAIL_BUCKET"), &key, raw)
    }

    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The test failed: what the emulator said last is the first thing to read (CI shows
            // only the test output).
            for name in ["emulator.err", "emulator.log"] {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
                eprintln!(
                    "--- last lines of the failed test's {name} (port {}) ---\n{}",
                    self.port,
                    tail(&text, 12000)
                );
            }
        }
        stop_group(self.process.pid());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.process.kill();
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
/// Exactly `make build`'s command: the same packages resolve the same features, so after
/// `make build` this is a no-op. (Leaving a package out, as this once did with
/// `--exclude rootwarden-tests`, resolves other features and recompiled the whole AWS SDK in
/// the middle of a cold `make test`: two minutes inside the first test that called it.)
pub fn build_functions() -> anyhow::Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--bins", "--workspace"])
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
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    http_bytes(port, method, path, payload.as_bytes())
}

/// One request with a raw body to a test endpoint; the answer parsed as JSON.
pub fn http_bytes(
    port: u16,
    method: &str,
    path: &str,
    payload: &[u8],
) -> anyhow::Result<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    // generous: a test endpoint may wait on a function cold-starting on a loaded machine
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    )
    .into_bytes();
    request.extend_from_slice(payload);
    stream.write_all(&request)?;
    // Half-close: the request is complete. The emulator's server (werkzeug) drains any body
    // its handler did not read with a blocking read until EOF before it closes the
    // connection; a body that arrived after the headers (two segments, on a loaded machine)
    // would otherwise hold the answer until this side gave up: the "no answer in 120 s" the
    // CI saw on an unsigned function-URL request and on a schedule fire.
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).with_context(|| {
        format!("no complete answer from the emulator on port {port} to {method} {path}")
    })?;
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    #[test]
    fn readdressing_replaces_the_to_header_only() {
        let raw = b"From: a@signin.aws\r\nTo: old@x.example,\r\n\tsecond@x.example\r\nSubject: s\r\n\r\nTo: body line\r\n";
        let out = String::from_utf8(super::readdressed(raw, "new@y.example")).unwrap();
        assert_eq!(
            out,
            "From: a@signin.aws\r\nTo: new@y.example\r\nSubject: s\r\n\r\nTo: body line\r\n"
        );
    }

    /// A server that answers before reading the body and then, as werkzeug does, drains the
    /// connection with a blocking read until EOF before closing it: the test-endpoint client
    /// must half-close after its request, or both sides wait on each other.
    #[test]
    fn the_test_endpoint_client_half_closes_so_a_draining_server_can_answer() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                conn.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            conn.write_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            )
            .unwrap();
            // The drain: the unread body, then EOF (Ok) or, without the half-close, a timeout.
            let mut rest = Vec::new();
            let drained = conn.read_to_end(&mut rest);
            (drained.is_ok(), rest)
        });
        let (status, body) =
            super::http_json(port, "POST", "/x", Some(&serde_json::json!({"a": 1}))).unwrap();
        assert_eq!((status, body), (403, serde_json::json!({})));
        let (saw_eof, unread_body) = server.join().unwrap();
        assert!(saw_eof, "the client did not end its request");
        assert_eq!(unread_body, br#"{"a":1}"#);
    }
}
