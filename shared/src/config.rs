//! Configuration, read from the environment in exactly one place.
//!
//! Every Lambda and the CLI call [`Config::from_env`] at start-up; a missing or invalid variable
//! fails fast with its name. The SAM template sets the same variables on every function
//! (`Globals.Function.Environment`), and local provisioning writes them to `.local/env`.

/// Environment variable names: the contract between template, local stack and code.
pub mod vars {
    pub const AUDIT_TABLE: &str = "ROOTWARDEN_AUDIT_TABLE";
    pub const TICKETS_TABLE: &str = "ROOTWARDEN_TICKETS_TABLE";
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
        Ok(Self {
            audit_table,
            tickets_table,
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

    #[test]
    fn reads_values() {
        let c = Config::from_lookup(lookup(&[
            (vars::AUDIT_TABLE, " rw-audit "),
            (vars::TICKETS_TABLE, "rw-tickets"),
        ]))
        .unwrap();
        assert_eq!(
            (c.audit_table.as_str(), c.tickets_table.as_str()),
            ("rw-audit", "rw-tickets")
        );
        let err = Config::from_lookup(lookup(&[(vars::AUDIT_TABLE, "rw-audit")])).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                var: vars::TICKETS_TABLE
            }
        );
        let c = Config::from_lookup(lookup(&[
            (vars::AUDIT_TABLE, "t1"),
            (vars::TICKETS_TABLE, "rw-tickets"),
        ]));
        assert!(c.is_err(), "3-character minimum for table names");
    }
}
