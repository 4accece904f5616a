//! Configuration, read from the environment in exactly one place.
//!
//! Every Lambda and the CLI call [`Config::from_env`] at start-up; a missing or invalid variable
//! fails fast with its name. The SAM template sets the same variables on every function
//! (`Globals.Function.Environment`), and local provisioning writes them to `.local/env`.

/// Environment variable names: the contract between template, local stack and code.
pub mod vars {
    pub const AUDIT_TABLE: &str = "ROOTWARDEN_AUDIT_TABLE";
    pub const TICKETS_TABLE: &str = "ROOTWARDEN_TICKETS_TABLE";
    pub const ACCOUNTS_TABLE: &str = "ROOTWARDEN_ACCOUNTS_TABLE";
    pub const VAULT_TABLE: &str = "ROOTWARDEN_VAULT_TABLE";
    pub const VAULT_KEY: &str = "ROOTWARDEN_VAULT_KEY";
    pub const MAIL_BUCKET: &str = "ROOTWARDEN_MAIL_BUCKET";
    pub const MAIL_PREFIX: &str = "ROOTWARDEN_MAIL_PREFIX";
    pub const MAIL_MAX_BYTES: &str = "ROOTWARDEN_MAIL_MAX_BYTES";
    pub const WORKFLOWS_TABLE: &str = "ROOTWARDEN_WORKFLOWS_TABLE";
    pub const WEBHOOK_URL: &str = "ROOTWARDEN_WEBHOOK_URL";
    pub const WEBHOOK_SECRET_ARN: &str = "ROOTWARDEN_WEBHOOK_SECRET_ARN";
    pub const NOTIFY_FROM: &str = "ROOTWARDEN_NOTIFY_FROM";
    pub const ROTATION_STATE_MACHINE: &str = "ROOTWARDEN_ROTATION_STATE_MACHINE_ARN";
    pub const APPLY_TIMEOUT_SECONDS: &str = "ROOTWARDEN_APPLY_TIMEOUT_SECONDS";
    pub const PASSWORD_LENGTH: &str = "ROOTWARDEN_PASSWORD_LENGTH";
    pub const SWEEP_CONCURRENCY: &str = "ROOTWARDEN_SWEEP_CONCURRENCY";
    pub const DIGEST_KEY: &str = "ROOTWARDEN_DIGEST_KEY";
    pub const DIGEST_MAX_AGE_SECONDS: &str = "ROOTWARDEN_DIGEST_MAX_AGE_SECONDS";
    pub const ACCESS_POLICY: &str = "ROOTWARDEN_ACCESS_POLICY";
    /// The access function's URL (the CLI's `access` commands; stack output `AccessFunctionUrl`).
    pub const ACCESS_URL: &str = "ROOTWARDEN_ACCESS_URL";
    /// The domain of managed root addresses (`aws-<account>-<tag>@<domain>`; MX at SES inbound).
    pub const ROOT_MAIL_DOMAIN: &str = "ROOTWARDEN_ROOT_MAIL_DOMAIN";
    /// The takeover state machine (the CLI's `account takeover`).
    pub const TAKEOVER_STATE_MACHINE: &str = "ROOTWARDEN_TAKEOVER_STATE_MACHINE_ARN";
    /// The release state machines (the access function starts them on approval).
    pub const RELEASE_CLOSE_STATE_MACHINE: &str = "ROOTWARDEN_RELEASE_CLOSE_STATE_MACHINE_ARN";
    #[rustfmt::skip]
    pub const RELEASE_HANDBACK_STATE_MACHINE: &str = "ROOTWARDEN_RELEASE_HANDBACK_STATE_MACHINE_ARN";
    #[rustfmt::skip]
    pub const RELEASE_TRANSFER_STATE_MACHINE: &str = "ROOTWARDEN_RELEASE_TRANSFER_STATE_MACHINE_ARN";
    /// The KMS key that signs handover certificates (ECC_NIST_P256).
    pub const CERTIFICATE_KEY: &str = "ROOTWARDEN_CERTIFICATE_KEY";
    /// The role the release function assumes inside a member account to accept a handshake.
    pub const RELEASE_MEMBER_ROLE: &str = "ROOTWARDEN_RELEASE_MEMBER_ROLE";
    /// The bucket of fleet-wide jobs' manifests, page results and summaries (SSE-KMS).
    pub const FLEET_BUCKET: &str = "ROOTWARDEN_FLEET_BUCKET";

    /// Every variable above, in order. The README's environment table lists exactly these
    /// (`core/tests/readme_env.rs`); a unit test checks this list against the constants.
    pub const ALL: &[&str] = &[
        AUDIT_TABLE,
        TICKETS_TABLE,
        ACCOUNTS_TABLE,
        VAULT_TABLE,
        VAULT_KEY,
        MAIL_BUCKET,
        MAIL_PREFIX,
        MAIL_MAX_BYTES,
        WORKFLOWS_TABLE,
        WEBHOOK_URL,
        WEBHOOK_SECRET_ARN,
        NOTIFY_FROM,
        ROTATION_STATE_MACHINE,
        APPLY_TIMEOUT_SECONDS,
        PASSWORD_LENGTH,
        SWEEP_CONCURRENCY,
        DIGEST_KEY,
        DIGEST_MAX_AGE_SECONDS,
        ACCESS_POLICY,
        ACCESS_URL,
        ROOT_MAIL_DOMAIN,
        TAKEOVER_STATE_MACHINE,
        RELEASE_CLOSE_STATE_MACHINE,
        RELEASE_HANDBACK_STATE_MACHINE,
        RELEASE_TRANSFER_STATE_MACHINE,
        CERTIFICATE_KEY,
        RELEASE_MEMBER_ROLE,
        FLEET_BUCKET,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {var}")]
    Missing { var: &'static str },
    #[error("invalid environment variable {var}: {reason}")]
    Invalid { var: &'static str, reason: String },
}

impl crate::error::Classify for ConfigError {
    fn error_type(&self) -> crate::ErrorType {
        crate::ErrorType::ConfigError
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// DynamoDB table holding the hash-chained audit records.
    pub audit_table: String,
    /// DynamoDB table of tickets, idempotency markers and thread keys.
    pub tickets_table: String,
    /// DynamoDB accounts registry (root email → account).
    pub accounts_table: String,
    /// DynamoDB table of vaulted secrets (ciphertext only).
    pub vault_table: String,
    /// KMS key (id, ARN or alias) that encrypts vaulted secrets.
    pub vault_key: String,
    /// Bucket where SES's S3 action stores raw inbound mail.
    pub mail_bucket: String,
    /// Object key prefix of SES's S3 action (the key is prefix + SES message id).
    pub mail_prefix: String,
    /// Messages above this size become an "oversized" ticket without being loaded.
    pub mail_max_bytes: u64,
    /// DynamoDB table of workflow state (waits for mail, rotations).
    pub workflows_table: String,
    /// Ticket webhook (`None`: no webhook) and the Secrets Manager secret holding its signing key.
    pub webhook: Option<(String, String)>,
    /// Verified SES sender for contact e-mails (`None`: no e-mail).
    pub notify_from: Option<String>,
    /// The rotation state machine (`None` where nothing starts rotations; those that do call
    /// [`Config::rotation_state_machine`], which names the variable when it is missing).
    pub rotation_state_machine: Option<String>,
    /// How long a rotation waits for its apply step (default 72 h, 60 s to 30 days).
    pub apply_timeout_seconds: u64,
    /// Length of generated root passwords (default 32, 20 to 128).
    pub password_length: usize,
    /// Rotation executions the sweep starts at once (default 8, 1 to 64).
    pub sweep_concurrency: usize,
    /// Asymmetric KMS key (SIGN_VERIFY) that signs audit digests (`None` where nothing signs or
    /// verifies digests; see [`Config::digest_key`]).
    pub digest_key: Option<String>,
    /// The oldest the newest signed digest may be before the verifier fails with
    /// `AuditDigestStale` (default 2 h for the hourly digest, 300 s to 30 days).
    pub digest_max_age_seconds: u64,
    /// The break-glass access policy as JSON (`None` where nothing grants access; see
    /// [`Config::access_policy`]). Parsed and validated by `access::AccessPolicy`.
    pub access_policy: Option<String>,
    /// The domain of managed root addresses (`None` where nothing allocates one; see
    /// [`Config::root_mail_domain`]).
    pub root_mail_domain: Option<String>,
    /// The takeover state machine (`None` where nothing starts takeovers; see
    /// [`Config::takeover_state_machine`]).
    pub takeover_state_machine: Option<String>,
    /// The release state machines (close, handback, transfer), where something starts or
    /// inspects releases.
    pub release_state_machines: [Option<String>; 3],
    /// The handover certificate key (`None` where nothing signs or publishes certificates).
    pub certificate_key: Option<String>,
    /// The member role's name (default `RootWardenReleaseMember`).
    pub release_member_role: String,
    /// The fleet jobs' bucket (`None` where no fleet job runs; see [`Config::fleet_bucket`]).
    pub fleet_bucket: Option<String>,
}

/// Default size limit for inbound mail: 40 MB (SES itself accepts up to 40 MB).
pub const DEFAULT_MAIL_MAX_BYTES: u64 = 40_000_000;
/// A rotation waits 72 hours for its password to be applied.
pub const DEFAULT_APPLY_TIMEOUT_SECONDS: u64 = 72 * 3600;
/// Two runs of the hourly digest job.
pub const DEFAULT_DIGEST_MAX_AGE_SECONDS: u64 = 2 * 3600;
/// The member role the release function assumes to accept an invitation.
pub const DEFAULT_RELEASE_MEMBER_ROLE: &str = "RootWardenReleaseMember";

/// An optional whole number within a range: the default when unset, a named error when invalid.
fn bounded<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    match get(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .ok()
            .filter(|n| *n >= min && *n <= max)
            .ok_or_else(|| ConfigError::Invalid {
                var,
                reason: format!("must be a whole number from {min} to {max}"),
            }),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds the config from any key lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |var: &'static str| -> Result<String, ConfigError> {
            match get(var) {
                None => Err(ConfigError::Missing { var }),
                Some(v) if v.trim().is_empty() => Err(ConfigError::Invalid {
                    var,
                    reason: "is empty".into(),
                }),
                Some(v) => Ok(v.trim().to_owned()),
            }
        };
        let audit_table = required(vars::AUDIT_TABLE)?;
        validate_table_name(vars::AUDIT_TABLE, &audit_table)?;
        let tickets_table = required(vars::TICKETS_TABLE)?;
        validate_table_name(vars::TICKETS_TABLE, &tickets_table)?;
        let accounts_table = required(vars::ACCOUNTS_TABLE)?;
        validate_table_name(vars::ACCOUNTS_TABLE, &accounts_table)?;
        let vault_table = required(vars::VAULT_TABLE)?;
        validate_table_name(vars::VAULT_TABLE, &vault_table)?;
        let vault_key = required(vars::VAULT_KEY)?;
        let mail_bucket = required(vars::MAIL_BUCKET)?;
        let mail_prefix = get(vars::MAIL_PREFIX)
            .map(|p| p.trim().to_owned())
            .unwrap_or_default();
        let mail_max_bytes =
            match get(vars::MAIL_MAX_BYTES) {
                None => DEFAULT_MAIL_MAX_BYTES,
                Some(v) => v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ConfigError::Invalid {
                        var: vars::MAIL_MAX_BYTES,
                        reason: "must be a positive whole number of bytes".into(),
                    }
                })?,
            };
        let optional = |var: &'static str| {
            get(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let webhook = match optional(vars::WEBHOOK_URL) {
            None => None,
            Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                return Err(ConfigError::Invalid {
                    var: vars::WEBHOOK_URL,
                    reason: "must be an http(s) URL".into(),
                })
            }
            Some(url) => Some((
                url,
                optional(vars::WEBHOOK_SECRET_ARN).ok_or(ConfigError::Missing {
                    var: vars::WEBHOOK_SECRET_ARN,
                })?,
            )),
        };
        let notify_from = optional(vars::NOTIFY_FROM);
        let workflows_table = required(vars::WORKFLOWS_TABLE)?;
        validate_table_name(vars::WORKFLOWS_TABLE, &workflows_table)?;
        let rotation_state_machine = optional(vars::ROTATION_STATE_MACHINE);
        if let Some(arn) = &rotation_state_machine {
            if !arn.starts_with("arn:") || !arn.contains(":stateMachine:") {
                return Err(ConfigError::Invalid {
                    var: vars::ROTATION_STATE_MACHINE,
                    reason: "must be a state machine ARN".into(),
                });
            }
        }
        let apply_timeout_seconds = bounded(
            &get,
            vars::APPLY_TIMEOUT_SECONDS,
            DEFAULT_APPLY_TIMEOUT_SECONDS,
            60,
            30 * 24 * 3600,
        )?;
        let password_length = bounded(&get, vars::PASSWORD_LENGTH, 32usize, 20, 128)?;
        let sweep_concurrency = bounded(&get, vars::SWEEP_CONCURRENCY, 8usize, 1, 64)?;
        let digest_key = optional(vars::DIGEST_KEY);
        let digest_max_age_seconds = bounded(
            &get,
            vars::DIGEST_MAX_AGE_SECONDS,
            DEFAULT_DIGEST_MAX_AGE_SECONDS,
            300,
            30 * 24 * 3600,
        )?;
        let access_policy = optional(vars::ACCESS_POLICY);
        let root_mail_domain = optional(vars::ROOT_MAIL_DOMAIN).map(|d| d.to_ascii_lowercase());
        if let Some(d) = &root_mail_domain {
            let ok = d.len() <= 40
                && d.contains('.')
                && d.split('.').all(|l| {
                    !l.is_empty()
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !ok {
                return Err(ConfigError::Invalid {
                    var: vars::ROOT_MAIL_DOMAIN,
                    reason: "must be a domain name of at most 40 characters".into(),
                });
            }
        }
        let takeover_state_machine = optional(vars::TAKEOVER_STATE_MACHINE);
        if let Some(arn) = &takeover_state_machine {
            if !arn.starts_with("arn:") || !arn.contains(":stateMachine:") {
                return Err(ConfigError::Invalid {
                    var: vars::TAKEOVER_STATE_MACHINE,
                    reason: "must be a state machine ARN".into(),
                });
            }
        }
        let mut release_state_machines: [Option<String>; 3] = [None, None, None];
        for (slot, var) in release_state_machines.iter_mut().zip([
            vars::RELEASE_CLOSE_STATE_MACHINE,
            vars::RELEASE_HANDBACK_STATE_MACHINE,
            vars::RELEASE_TRANSFER_STATE_MACHINE,
        ]) {
            *slot = optional(var);
            if let Some(arn) = slot {
                if !arn.starts_with("arn:") || !arn.contains(":stateMachine:") {
                    return Err(ConfigError::Invalid {
                        var,
                        reason: "must be a state machine ARN".into(),
                    });
                }
            }
        }
        let certificate_key = optional(vars::CERTIFICATE_KEY);
        let fleet_bucket = optional(vars::FLEET_BUCKET);
        let release_member_role = optional(vars::RELEASE_MEMBER_ROLE)
            .unwrap_or_else(|| DEFAULT_RELEASE_MEMBER_ROLE.to_owned());
        let role_ok = !release_member_role.is_empty()
            && release_member_role.len() <= 64
            && release_member_role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if !role_ok {
            return Err(ConfigError::Invalid {
                var: vars::RELEASE_MEMBER_ROLE,
                reason: "must be an IAM role name (1-64 of A-Za-z0-9+=,.@_-)".into(),
            });
        }
        Ok(Self {
            release_state_machines,
            certificate_key,
            fleet_bucket,
            release_member_role,
            root_mail_domain,
            takeover_state_machine,
            digest_key,
            digest_max_age_seconds,
            access_policy,
            rotation_state_machine,
            apply_timeout_seconds,
            password_length,
            sweep_concurrency,
            workflows_table,
            webhook,
            notify_from,
            audit_table,
            tickets_table,
            accounts_table,
            vault_table,
            vault_key,
            mail_bucket,
            mail_prefix,
            mail_max_bytes,
        })
    }
}

impl Config {
    /// The audit digest signing key, for the components that sign or verify digests.
    pub fn digest_key(&self) -> Result<&str, ConfigError> {
        self.digest_key.as_deref().ok_or(ConfigError::Missing {
            var: vars::DIGEST_KEY,
        })
    }

    /// The break-glass access policy (JSON), for the components that decide on access.
    pub fn access_policy(&self) -> Result<&str, ConfigError> {
        self.access_policy.as_deref().ok_or(ConfigError::Missing {
            var: vars::ACCESS_POLICY,
        })
    }

    /// The domain of managed root addresses, for the takeover.
    pub fn root_mail_domain(&self) -> Result<&str, ConfigError> {
        self.root_mail_domain
            .as_deref()
            .ok_or(ConfigError::Missing {
                var: vars::ROOT_MAIL_DOMAIN,
            })
    }

    /// The takeover state machine's ARN, for `account takeover`.
    pub fn takeover_state_machine(&self) -> Result<&str, ConfigError> {
        self.takeover_state_machine
            .as_deref()
            .ok_or(ConfigError::Missing {
                var: vars::TAKEOVER_STATE_MACHINE,
            })
    }

    /// The state machine of release `exit`, for the components that start or inspect releases.
    pub fn release_state_machine(&self, exit: crate::release::Exit) -> Result<&str, ConfigError> {
        let (i, var) = match exit {
            crate::release::Exit::Close => (0, vars::RELEASE_CLOSE_STATE_MACHINE),
            crate::release::Exit::Handback => (1, vars::RELEASE_HANDBACK_STATE_MACHINE),
            crate::release::Exit::Transfer => (2, vars::RELEASE_TRANSFER_STATE_MACHINE),
        };
        self.release_state_machines[i]
            .as_deref()
            .ok_or(ConfigError::Missing { var })
    }

    /// The fleet jobs' bucket, for the functions that plan, run and summarize fleet-wide jobs.
    pub fn fleet_bucket(&self) -> Result<&str, ConfigError> {
        self.fleet_bucket.as_deref().ok_or(ConfigError::Missing {
            var: vars::FLEET_BUCKET,
        })
    }

    /// The handover certificate key, for the components that sign or publish certificates.
    pub fn certificate_key(&self) -> Result<&str, ConfigError> {
        self.certificate_key.as_deref().ok_or(ConfigError::Missing {
            var: vars::CERTIFICATE_KEY,
        })
    }

    /// The rotation state machine's ARN, for the components that start or inspect rotations.
    pub fn rotation_state_machine(&self) -> Result<&str, ConfigError> {
        self.rotation_state_machine
            .as_deref()
            .ok_or(ConfigError::Missing {
                var: vars::ROTATION_STATE_MACHINE,
            })
    }
}

fn validate_table_name(var: &'static str, name: &str) -> Result<(), ConfigError> {
    let ok_len = (3..=255).contains(&name.len());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var,
            reason: "not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// `vars::ALL` holds exactly the `pub const X: &str = "ROOTWARDEN_…";` lines of `mod vars`,
    /// each once.
    #[test]
    fn all_lists_every_variable_of_the_vars_module_once() {
        let source = include_str!("config.rs");
        let start = source.find("pub mod vars {").expect("mod vars");
        let end = start + source[start..].find("\n}\n").expect("end of mod vars");
        let mut declared: Vec<&str> = source[start..end]
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("pub const ") && l.contains(": &str = \""))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        let mut listed: Vec<&str> = vars::ALL.to_vec();
        declared.sort_unstable();
        listed.sort_unstable();
        let mut unique = listed.clone();
        unique.dedup();
        assert_eq!(unique, listed, "vars::ALL lists a variable twice");
        assert_eq!(
            listed, declared,
            "vars::ALL differs from the constants of mod vars"
        );
        assert!(declared.iter().all(|v| v.starts_with("ROOTWARDEN_")));
    }

    #[test]
    fn missing_variable_is_named() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                var: vars::AUDIT_TABLE
            }
        );
        assert!(err.to_string().contains("ROOTWARDEN_AUDIT_TABLE"));
    }

    #[test]
    fn invalid_table_name_is_named() {
        let err = Config::from_lookup(lookup(&[(vars::AUDIT_TABLE, "bad name!")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                var: vars::AUDIT_TABLE,
                ..
            }
        ));
        let err = Config::from_lookup(lookup(&[(vars::AUDIT_TABLE, "  ")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                var: vars::AUDIT_TABLE,
                ..
            }
        ));
    }

    const FULL: [(&str, &str); 8] = [
        (vars::WORKFLOWS_TABLE, "rw-workflows"),
        (vars::AUDIT_TABLE, " rw-audit "),
        (vars::TICKETS_TABLE, "rw-tickets"),
        (vars::ACCOUNTS_TABLE, "rw-accounts"),
        (vars::VAULT_TABLE, "rw-vault"),
        (vars::VAULT_KEY, "alias/rw-vault"),
        (vars::MAIL_BUCKET, "rw-mail"),
        (vars::MAIL_PREFIX, "inbound/"),
    ];

    #[test]
    fn reads_values_and_defaults() {
        let c = Config::from_lookup(lookup(&FULL)).unwrap();
        assert_eq!(
            (c.audit_table.as_str(), c.tickets_table.as_str()),
            ("rw-audit", "rw-tickets")
        );
        assert_eq!(
            (c.vault_key.as_str(), c.mail_prefix.as_str()),
            ("alias/rw-vault", "inbound/")
        );
        assert_eq!(c.mail_max_bytes, DEFAULT_MAIL_MAX_BYTES);
        let mut with_max = FULL.to_vec();
        with_max.push((vars::MAIL_MAX_BYTES, "1000"));
        assert_eq!(
            Config::from_lookup(lookup(&with_max))
                .unwrap()
                .mail_max_bytes,
            1000
        );
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for (missing, _) in FULL.iter().filter(|(k, _)| *k != vars::MAIL_PREFIX) {
            let rest: Vec<(&str, &str)> =
                FULL.iter().copied().filter(|(k, _)| k != missing).collect();
            assert_eq!(
                Config::from_lookup(lookup(&rest)).unwrap_err(),
                ConfigError::Missing { var: missing }
            );
        }
        let mut bad = FULL.to_vec();
        bad.push((vars::MAIL_MAX_BYTES, "lots"));
        assert!(matches!(
            Config::from_lookup(lookup(&bad)),
            Err(ConfigError::Invalid {
                var: vars::MAIL_MAX_BYTES,
                ..
            })
        ));
    }

    #[test]
    fn rotation_settings_have_defaults_and_named_bounds() {
        let c = Config::from_lookup(lookup(&FULL)).unwrap();
        assert_eq!(c.apply_timeout_seconds, 72 * 3600);
        assert_eq!((c.password_length, c.sweep_concurrency), (32, 8));
        assert_eq!(
            c.rotation_state_machine().unwrap_err(),
            ConfigError::Missing {
                var: vars::ROTATION_STATE_MACHINE
            }
        );
        for (var, value) in [
            (vars::PASSWORD_LENGTH, "19"),
            (vars::PASSWORD_LENGTH, "129"),
            (vars::APPLY_TIMEOUT_SECONDS, "59"),
            (vars::SWEEP_CONCURRENCY, "0"),
            (vars::ROTATION_STATE_MACHINE, "rotation"),
        ] {
            let mut bad = FULL.to_vec();
            bad.push((var, value));
            match Config::from_lookup(lookup(&bad)) {
                Err(ConfigError::Invalid { var: v, .. }) => assert_eq!(v, var),
                other => panic!("{var}={value}: {other:?}"),
            }
        }
        let mut good = FULL.to_vec();
        good.push((vars::PASSWORD_LENGTH, "128"));
        good.push((
            vars::ROTATION_STATE_MACHINE,
            "arn:aws:states:us-east-1:123456789012:stateMachine:rotation",
        ));
        let c = Config::from_lookup(lookup(&good)).unwrap();
        assert_eq!(c.password_length, 128);
        assert!(c.rotation_state_machine().unwrap().ends_with(":rotation"));
    }
}
