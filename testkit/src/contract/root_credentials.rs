//! What every `RootCredentials` promises: sessions scoped to their task policy, removals that
//! count what is gone as done, and a login profile created once.

use std::future::Future;

use rootwarden_core::enforcement::{
    Posture, Removal, RootAccessKey, RootCertificate, RootCredentials, RootSession, TaskPolicy,
};
use rootwarden_core::{AccountId, ErrorType};

use super::fixtures::{fresh_account, nonce};

/// `enforcer` opens audit and delete sessions (the enforcement function's role); `recoverer`
/// opens password-creation sessions (the operator's). `seed(account, posture)` gives a fresh
/// account's root user those credentials.
///
/// An audit session reads everything and removes nothing; a delete session removes (what is
/// gone counts as done) and reads again; a password-creation session creates a login profile
/// once and reads nothing.
pub async fn root_credentials_contract<R, Q, F, Fut>(enforcer: R, recoverer: Q, seed: F)
where
    R: RootCredentials,
    Q: RootCredentials,
    F: Fn(AccountId, Posture) -> Fut,
    Fut: Future<Output = ()>,
{
    let a = fresh_account();
    let key = format!("AKIA{:016}", nonce() % 10_000_000_000_000_000);
    let mfa = format!("arn:aws:iam::{a}:mfa/root-account-mfa-device");
    let everything = Posture {
        access_keys: vec![RootAccessKey {
            id: key.clone(),
            status: "Active".into(),
            created: None,
        }],
        signing_certificates: vec![RootCertificate {
            id: format!("CERT{a}"),
            status: "Active".into(),
        }],
        mfa_devices: vec![mfa.clone()],
        login_profile: true,
    };
    seed(a.clone(), everything.clone()).await;

    // The audit session reads everything, removes nothing.
    let audit = enforcer
        .open(&a, TaskPolicy::AuditRootUserCredentials)
        .await
        .expect("an audit session opens");
    let seen = audit.posture().await.expect("the audit session reads");
    assert_eq!(seen.access_keys.len(), 1);
    assert_eq!(seen.access_keys[0].id, key);
    assert_eq!(seen.access_keys[0].status, "Active");
    assert_eq!(seen.signing_certificates.len(), 1);
    assert_eq!(seen.signing_certificates[0].id, format!("CERT{a}"));
    assert_eq!(seen.mfa_devices, vec![mfa.clone()]);
    assert!(seen.login_profile);
    let refused = audit
        .remove(&Removal::AccessKey(key.clone()))
        .await
        .expect_err("an audit session may not remove");
    assert_eq!(refused.error_type, ErrorType::AwsError);
    assert!(
        refused.message.contains("AccessDenied"),
        "{}",
        refused.message
    );
    assert!(audit.create_login_profile().await.is_err());

    // The delete session removes each kind, and removing again is done, not an error.
    let delete = enforcer
        .open(&a, TaskPolicy::DeleteRootUserCredentials)
        .await
        .expect("a delete session opens");
    for r in [
        Removal::AccessKey(key.clone()),
        Removal::SigningCertificate(format!("CERT{a}")),
        Removal::MfaDevice(mfa.clone()),
        Removal::LoginProfile,
    ] {
        delete.remove(&r).await.expect("removed");
        delete
            .remove(&r)
            .await
            .expect("removing what is gone is done");
    }
    assert_eq!(
        delete.posture().await.expect("read again"),
        Posture::default()
    );
    assert_eq!(audit.posture().await.unwrap(), Posture::default());
    assert!(delete.create_login_profile().await.is_err());

    // A password-creation session creates the login profile once, and reads nothing.
    let create = recoverer
        .open(&a, TaskPolicy::CreateRootUserPassword)
        .await
        .expect("a password-creation session opens");
    assert!(create.create_login_profile().await.expect("created"));
    assert!(!create.create_login_profile().await.expect("already there"));
    assert!(create.posture().await.is_err());
    assert!(create.remove(&Removal::LoginProfile).await.is_err());
    assert!(audit.posture().await.unwrap().login_profile);
}
