//! What the root user's credentials look like (as AWS reports them), and which of them may not
//! stay. Identifiers only: no secret is ever part of a posture.

use serde::{Deserialize, Serialize};

use crate::registry::AccountMode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootAccessKey {
    pub id: String,
    pub status: String,
    pub created: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCertificate {
    pub id: String,
    pub status: String,
}

/// The root user's credentials as AWS reports them. Identifiers only, no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posture {
    pub access_keys: Vec<RootAccessKey>,
    pub signing_certificates: Vec<RootCertificate>,
    pub mfa_devices: Vec<String>,
    pub login_profile: bool,
}

/// One root credential to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Delete the root access key.
    AccessKey(String),
    /// Delete the root signing certificate.
    SigningCertificate(String),
    /// Deactivate the MFA device (and delete it when it is a virtual one).
    MfaDevice(String),
    /// Delete the root password.
    LoginProfile,
}

impl Removal {
    pub fn kind(&self) -> &'static str {
        match self {
            Removal::AccessKey(_) => "access-key",
            Removal::SigningCertificate(_) => "signing-certificate",
            Removal::MfaDevice(_) => "mfa-device",
            Removal::LoginProfile => "login-profile",
        }
    }
    pub fn id(&self) -> &str {
        match self {
            Removal::AccessKey(id) | Removal::SigningCertificate(id) | Removal::MfaDevice(id) => id,
            Removal::LoginProfile => "root",
        }
    }
    pub fn describe(&self) -> String {
        match self {
            Removal::LoginProfile => "login-profile".to_owned(),
            other => format!("{} {}", other.kind(), other.id()),
        }
    }
    /// A deactivated virtual MFA device would otherwise linger, ready to be enabled again: it
    /// is deleted too. Hardware devices (serial numbers, not `…:mfa/…` ARNs) are only
    /// deactivated.
    pub fn deletes_virtual_mfa(&self) -> bool {
        matches!(self, Removal::MfaDevice(serial) if serial.contains(":mfa/"))
    }
}

/// What must go. Root access keys and signing certificates never stay; on a credential-less
/// account the password and MFA go too, unless a recovery window is open.
pub fn removals(posture: &Posture, mode: AccountMode, recovering: bool) -> Vec<Removal> {
    let mut out: Vec<Removal> = posture
        .access_keys
        .iter()
        .map(|k| Removal::AccessKey(k.id.clone()))
        .chain(
            posture
                .signing_certificates
                .iter()
                .map(|c| Removal::SigningCertificate(c.id.clone())),
        )
        .collect();
    if mode == AccountMode::CredentialLess && !recovering {
        out.extend(posture.mfa_devices.iter().cloned().map(Removal::MfaDevice));
        if posture.login_profile {
            out.push(Removal::LoginProfile);
        }
    }
    out
}

/// Posture findings that are reported, not remediated.
pub fn findings(posture: &Posture, mode: AccountMode, recovering: bool) -> Vec<String> {
    let mut out = Vec::new();
    match mode {
        AccountMode::Vaulted => {
            if !posture.login_profile {
                out.push("root-password-absent".to_owned());
            }
            if posture.mfa_devices.is_empty() {
                out.push("root-mfa-absent".to_owned());
            }
        }
        AccountMode::CredentialLess => {
            if recovering && posture.login_profile {
                out.push("recovery-window-open".to_owned());
            }
        }
    }
    out
}
