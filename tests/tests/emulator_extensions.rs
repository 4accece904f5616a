//! The emulator's extensions, exercised through the real Rust SDK exactly as production code
//! calls AWS: STS AssumeRoot, root-context IAM under task policies, the Account primary-email
//! APIs and KMS key-state enforcement.

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_sts::types::PolicyDescriptorType;
use rootwarden_tests::Emulator;
use serde_json::json;

const MEMBER: &str = "222233334444";

fn task_policy(name: &str) -> PolicyDescriptorType {
    PolicyDescriptorType::builder()
        .arn(format!("arn:aws:iam::aws:policy/root-task/{name}"))
        .build()
}

/// An IAM client acting as MEMBER's root user under the given task policy.
async fn root_iam(emu: &Emulator, policy: &str) -> aws_sdk_iam::Client {
    let sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);
    let out = sts
        .assume_root()
        .target_principal(MEMBER)
        .task_policy_arn(task_policy(policy))
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let c = out.credentials.unwrap();
    assert!(c.access_key_id.starts_with("ASIA"));
    let conf = emu
        .sdk_config_with(
            &c.access_key_id,
            &c.secret_access_key,
            Some(c.session_token),
        )
        .await;
    aws_sdk_iam::Client::new(&conf)
}

fn seed_root_state(emu: &Emulator) {
    let (status, _) = emu
        .test_endpoint(
            "PUT",
            &format!("/_rootwarden/root-state/{MEMBER}"),
            Some(&json!({
                "access_keys": [{"id": "AKIAROOTKEY000000001", "status": "Active"}],
                "signing_certificates": [{"id": "CERTROOT0000000000000000001", "status": "Active"}],
                "mfa_devices": [{"serial": format!("arn:aws:iam::{MEMBER}:mfa/root-device")}],
                "login_profile": true
            })),
        )
        .unwrap();
    assert!((200..300).contains(&status), "seeding failed: {status}");
}

fn root_state(emu: &Emulator) -> serde_json::Value {
    emu.test_endpoint("GET", &format!("/_rootwarden/root-state/{MEMBER}"), None)
        .unwrap()
        .1
}

#[tokio::test(flavor = "multi_thread")]
async fn assume_root_audit_policy_reads_but_cannot_delete() {
    let emu = Emulator::start().await.unwrap();
    seed_root_state(&emu);
    let iam = root_iam(&emu, "IAMAuditRootUserCredentials").await;

    let keys = iam.list_access_keys().send().await.unwrap();
    let ids: Vec<_> = keys
        .access_key_metadata()
        .iter()
        .filter_map(|k| k.access_key_id())
        .collect();
    assert_eq!(ids, vec!["AKIAROOTKEY000000001"]);
    let certs = iam.list_signing_certificates().send().await.unwrap();
    assert_eq!(certs.certificates().len(), 1);
    let mfa = iam.list_mfa_devices().send().await.unwrap();
    assert_eq!(
        mfa.mfa_devices()[0].serial_number(),
        format!("arn:aws:iam::{MEMBER}:mfa/root-device")
    );
    assert!(iam.get_login_profile().send().await.is_ok());

    // The audit policy does not allow deletion.
    let err = iam
        .delete_access_key()
        .access_key_id("AKIAROOTKEY000000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    assert_eq!(root_state(&emu)["access_keys"].as_array().unwrap().len(), 1);
    // Nor anything outside IAM's root-credential actions.
    let err = iam.list_users().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test(flavor = "multi_thread")]
async fn assume_root_delete_policy_removes_root_credentials() {
    let emu = Emulator::start().await.unwrap();
    seed_root_state(&emu);
    let iam = root_iam(&emu, "IAMDeleteRootUserCredentials").await;

    iam.delete_access_key()
        .access_key_id("AKIAROOTKEY000000001")
        .send()
        .await
        .unwrap();
    iam.delete_signing_certificate()
        .certificate_id("CERTROOT0000000000000000001")
        .send()
        .await
        .unwrap();
    iam.deactivate_mfa_device()
        .serial_number(format!("arn:aws:iam::{MEMBER}:mfa/root-device"))
        .send()
        .await
        .unwrap();
    iam.delete_login_profile().send().await.unwrap();

    let state = root_state(&emu);
    assert_eq!(state["access_keys"], json!([]));
    assert_eq!(state["signing_certificates"], json!([]));
    assert_eq!(state["mfa_devices"], json!([]));
    assert_eq!(state["login_profile"], json!(false));
    assert!(iam
        .list_access_keys()
        .send()
        .await
        .unwrap()
        .access_key_metadata()
        .is_empty());

    // Deleting what is gone is NoSuchEntity, as in AWS.
    let err = iam
        .delete_access_key()
        .access_key_id("AKIAROOTKEY000000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchEntity"));
    let err = iam.get_login_profile().send().await.unwrap_err();
    assert_eq!(err.code(), Some("NoSuchEntity"));
    // A root session may not act on IAM users.
    let err = iam
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_root_password_policy_allows_recovery_once() {
    let emu = Emulator::start().await.unwrap();
    let (status, _) = emu
        .test_endpoint(
            "PUT",
            &format!("/_rootwarden/root-state/{MEMBER}"),
            Some(&json!({"login_profile": false})),
        )
        .unwrap();
    assert!((200..300).contains(&status));
    let iam = root_iam(&emu, "IAMCreateRootUserPassword").await;
    iam.create_login_profile().send().await.unwrap();
    assert_eq!(root_state(&emu)["login_profile"], json!(true));
    let err = iam.create_login_profile().send().await.unwrap_err();
    assert_eq!(err.code(), Some("EntityAlreadyExists"));
    // This policy cannot delete anything.
    let err = iam.delete_login_profile().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test(flavor = "multi_thread")]
async fn assume_root_validates_its_input() {
    let emu = Emulator::start().await.unwrap();
    let sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);
    let cases = [
        (MEMBER, "IAMAuditRootUserCredentials", 901),
        (MEMBER, "AdministratorAccess", 900),
        ("12345", "IAMAuditRootUserCredentials", 900),
    ];
    for (target, policy, duration) in cases {
        let err = sts
            .assume_root()
            .target_principal(target)
            .task_policy_arn(task_policy(policy))
            .duration_seconds(duration)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some("ValidationError"),
            "{target} {policy} {duration}: {err:?}"
        );
    }
    // Root credentials do nothing outside their task policy's service.
    let out = sts
        .assume_root()
        .target_principal(MEMBER)
        .task_policy_arn(task_policy("S3UnlockBucketPolicy"))
        .send()
        .await
        .unwrap();
    let c = out.credentials.unwrap();
    let conf = emu
        .sdk_config_with(
            &c.access_key_id,
            &c.secret_access_key,
            Some(c.session_token),
        )
        .await;
    let err = aws_sdk_dynamodb::Client::new(&conf)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert!(
        err.code().is_some_and(|c| c.contains("AccessDenied")),
        "{err:?}"
    );
    let err = aws_sdk_iam::Client::new(&conf)
        .list_access_keys()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test(flavor = "multi_thread")]
async fn primary_email_update_needs_the_otp_sent_to_the_new_address() {
    let emu = Emulator::start().await.unwrap();
    let (status, _) = emu
        .test_endpoint(
            "PUT",
            "/_rootwarden/primary-email/333344445555",
            Some(&json!({"email": "aws+333344445555@provider.example"})),
        )
        .unwrap();
    assert!((200..300).contains(&status));
    let account = aws_sdk_account::Client::new(&emu.sdk_config().await);

    let got = account
        .get_primary_email()
        .account_id("333344445555")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.primary_email(),
        Some("aws+333344445555@provider.example")
    );

    let started = account
        .start_primary_email_update()
        .account_id("333344445555")
        .primary_email("owner@customer.example")
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().map(|s| s.as_str()), Some("PENDING"));

    let (status, sent) = emu
        .test_endpoint("GET", "/_rootwarden/primary-email/333344445555/otp", None)
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(sent["email"], "owner@customer.example");
    let otp = sent["otp"].as_str().unwrap().to_owned();
    assert_eq!(otp.len(), 6);

    let wrong = if otp == "000000" { "111111" } else { "000000" };
    let err = account
        .accept_primary_email_update()
        .account_id("333344445555")
        .primary_email("owner@customer.example")
        .otp(wrong)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_validation_exception()),
        "{err:?}"
    );
    // Still the old address.
    let got = account
        .get_primary_email()
        .account_id("333344445555")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.primary_email(),
        Some("aws+333344445555@provider.example")
    );

    let accepted = account
        .accept_primary_email_update()
        .account_id("333344445555")
        .primary_email("owner@customer.example")
        .otp(&otp)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().map(|s| s.as_str()), Some("ACCEPTED"));
    let got = account
        .get_primary_email()
        .account_id("333344445555")
        .send()
        .await
        .unwrap();
    assert_eq!(got.primary_email(), Some("owner@customer.example"));

    let err = account
        .get_primary_email()
        .account_id("999988887777")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_refuses_disabled_and_pending_deletion_keys() {
    use aws_sdk_kms::primitives::Blob;
    let emu = Emulator::start().await.unwrap();
    let kms = aws_sdk_kms::Client::new(&emu.sdk_config().await);
    let key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.create_alias()
        .alias_name("alias/rw-test")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    let ct = kms
        .encrypt()
        .key_id("alias/rw-test")
        .plaintext(Blob::new("x"))
        .encryption_context("account", MEMBER)
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();

    kms.disable_key().key_id(&key).send().await.unwrap();
    let err = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_disabled_exception()),
        "{err:?}"
    );
    let err = kms
        .encrypt()
        .key_id("alias/rw-test")
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_disabled_exception()),
        "by alias: {err:?}"
    );
    let err = kms
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("account", MEMBER)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_disabled_exception()),
        "decrypt: {err:?}"
    );
    let err = kms
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_disabled_exception()),
        "{err:?}"
    );

    kms.enable_key().key_id(&key).send().await.unwrap();
    let pt = kms
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("account", MEMBER)
        .send()
        .await
        .unwrap();
    assert_eq!(pt.plaintext.unwrap().as_ref(), b"x");

    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let err = kms
        .decrypt()
        .ciphertext_blob(ct)
        .encryption_context("account", MEMBER)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_kms_invalid_state_exception()),
        "{err:?}"
    );
    let err = kms
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_kms_invalid_state_exception()),
        "{err:?}"
    );
}
