//! See `main.rs`. Least privilege, enforced: the emulator checks every call against the caller's
//! IAM policies and the keys' policies, as AWS does. A role that reaches past its grant, an
//! administrator who wants a root password, and a template missing a permission its code needs
//! all fail with AccessDenied naming the action.

use std::collections::HashMap;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rootwarden::audit::AuditLog;
use rootwarden_tests::{build_functions, cli_bin, custody, repo_root, Emulator, Options};
use serde_json::{json, Value};

/// The error code and message of an SDK error (what the code under test would see).
fn denial<E, R>(r: Result<R, aws_sdk_dynamodb::error::SdkError<E>>) -> Option<(String, String)>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match r {
        Ok(_) => None,
        Err(e) => {
            let code = e.code().unwrap_or_default().to_owned();
            let msg = e.message().unwrap_or_default().to_owned();
            Some((code, msg))
        }
    }
}

fn assert_denied(what: &str, got: Option<(String, String)>, action: &str) {
    let (code, msg) = got.unwrap_or_else(|| panic!("{what}: allowed, expected AccessDenied"));
    assert!(
        code.starts_with("AccessDenied"),
        "{what}: expected AccessDenied, got {code}: {msg}"
    );
    assert!(
        msg.contains(action),
        "{what}: the denial ({code}) must name {action}: {msg}"
    );
}

fn assert_allowed(what: &str, got: Option<(String, String)>) {
    if let Some((code, msg)) = got {
        panic!("{what}: expected to be allowed, got {code}: {msg}");
    }
}

fn context(kind: &str) -> HashMap<String, String> {
    HashMap::from([
        ("rootwarden:account".to_owned(), "111122223333".to_owned()),
        ("rootwarden:kind".to_owned(), kind.to_owned()),
        ("rootwarden:source".to_owned(), "attack".to_owned()),
    ])
}

async fn encrypt(conf: &aws_config::SdkConfig, key: &str, kind: &str) -> Option<(String, String)> {
    let kms = aws_sdk_kms::Client::new(conf);
    denial(
        kms.encrypt()
            .key_id(key)
            .plaintext(Blob::new(b"not a secret".to_vec()))
            .set_encryption_context(Some(context(kind)))
            .send()
            .await,
    )
}

fn item(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        (
            "sk".to_owned(),
            AttributeValue::S("v#0000000001".to_owned()),
        ),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn administrators_and_operators_cannot_use_the_vault_key_and_roles_stay_in_their_lane() {
    let emu = Emulator::with_stack().await.unwrap();
    assert!(emu.iam_enforced, "the emulator must enforce IAM");
    let vault_key = emu.env("ROOTWARDEN_VAULT_KEY");
    let vault_table = emu.env("ROOTWARDEN_VAULT_TABLE");
    let audit_table = emu.env("ROOTWARDEN_AUDIT_TABLE");

    // The harness is allowed everything in IAM, like an account administrator: the key policy
    // still gives it no use of the vault key.
    let admin = emu.sdk_config().await;
    assert_denied(
        "administrator encrypts with the vault key",
        encrypt(&admin, &vault_key, "root-password").await,
        "kms:Encrypt",
    );
    let kms = aws_sdk_kms::Client::new(&admin);
    assert_allowed(
        "administrator describes the vault key",
        denial(kms.describe_key().key_id(&vault_key).send().await),
    );
    let operator = emu.sdk_config_as(emu.operator("alice")).await;
    assert_denied(
        "operator decrypts with the vault key",
        denial(
            aws_sdk_kms::Client::new(&operator)
                .decrypt()
                .key_id(&vault_key)
                .ciphertext_blob(Blob::new(vec![1u8; 64]))
                .set_encryption_context(Some(context("root-password")))
                .send()
                .await,
        ),
        "kms:Decrypt",
    );

    // Inbound mail may vault what mail carries (reset links, codes), never a root password,
    // and only under transient# keys.
    let mail = emu.role_config("InboundMailFunction").await;
    assert_allowed(
        "inbound-mail encrypts a reset link",
        encrypt(&mail, &vault_key, "password-reset-link").await,
    );
    assert_denied(
        "inbound-mail encrypts a root password",
        encrypt(&mail, &vault_key, "root-password").await,
        "kms:Encrypt",
    );
    let ddb = aws_sdk_dynamodb::Client::new(&mail);
    assert_denied(
        "inbound-mail writes a cred# vault item",
        denial(
            ddb.put_item()
                .table_name(&vault_table)
                .set_item(Some(item("cred#111122223333#root-password")))
                .send()
                .await,
        ),
        "dynamodb:PutItem",
    );

    // No role may rewrite or delete audit records.
    for logical in ["RotationFunction", "AccessFunction", "InboundMailFunction"] {
        let conf = emu.role_config(logical).await;
        let ddb = aws_sdk_dynamodb::Client::new(&conf);
        let key = HashMap::from([
            (
                "stream".to_owned(),
                AttributeValue::S("acct#111122223333".into()),
            ),
            ("seq".to_owned(), AttributeValue::N("1".into())),
        ]);
        assert_denied(
            &format!("{logical} deletes an audit record"),
            denial(
                ddb.delete_item()
                    .table_name(&audit_table)
                    .set_key(Some(key.clone()))
                    .send()
                    .await,
            ),
            "dynamodb:DeleteItem",
        );
        assert_denied(
            &format!("{logical} updates an audit record"),
            denial(
                ddb.update_item()
                    .table_name(&audit_table)
                    .set_key(Some(key))
                    .update_expression("SET outcome = :o")
                    .expression_attribute_values(":o", AttributeValue::S("success".into()))
                    .send()
                    .await,
            ),
            "dynamodb:UpdateItem",
        );
    }
}

/// A copy of the template with `action` taken from `role`.
fn template_without(role: &str, action: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("template.json");
    let root = repo_root();
    let status = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("emulator/template_edit.py"))
        .args(["remove-action", "--role", role, "--action", action])
        .arg(root.join("infra/template.yaml"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{role} must be granted {action} to begin with"
    );
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permission_missing_from_the_template_fails_the_call_with_access_denied_naming_it() {
    build_functions().unwrap();
    let role = "AuditVerifierFunctionRole";
    let dir = template_without(role, "dynamodb:Scan");
    let emu = Emulator::start_with(Options {
        provision: true,
        function_host: true,
        template: Some(dir.path().join("template.json")),
    })
    .await
    .unwrap();
    let fn_name = emu.stack().resources["AuditVerifierFunction"]
        .physical_id
        .clone()
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&emu.sdk_config().await);
    let out = lambda
        .invoke()
        .function_name(&fn_name)
        .payload(aws_sdk_lambda::primitives::Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap();
    let body: Value =
        serde_json::from_slice(out.payload().map(|b| b.as_ref()).unwrap_or(b"null")).unwrap();
    assert!(
        out.function_error().is_some(),
        "the verifier cannot read the audit table without dynamodb:Scan, yet it succeeded: {body}"
    );
    // What the emulator decided, from its own call log: the verifier's role was refused Scan.
    let (_, calls) = emu
        .test_endpoint("GET", "/_rootwarden/iam/calls", None)
        .unwrap();
    let role_arn = emu.role_arn(role);
    let refused = calls["calls"]
        .as_array()
        .or(calls.as_array())
        .into_iter()
        .flatten()
        .any(|c| {
            c["principal"] == json!(role_arn)
                && c["action"] == json!("dynamodb:Scan")
                && c["allowed"] == json!(false)
        });
    assert!(refused, "no refused dynamodb:Scan by {role_arn} in {calls}");
    let text = body.to_string();
    assert!(
        text.contains("AccessDenied") && text.contains("dynamodb:Scan"),
        "the function's error must say AccessDenied and name dynamodb:Scan: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_schedule_fires_its_target_as_its_own_role_and_operators_reach_the_access_url() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let mut schedules: Vec<String> = emu
        .stack()
        .resources
        .iter()
        .filter(|(_, r)| r.kind == "AWS::Scheduler::Schedule")
        .map(|(_, r)| r.physical_id.clone().unwrap())
        .collect();
    schedules.sort();
    assert!(schedules.len() >= 5, "schedules: {schedules:?}");
    for name in schedules {
        let (status, out) = emu
            .test_endpoint(
                "POST",
                &format!("/_rootwarden/schedules/{name}/fire"),
                Some(&json!({})),
            )
            .unwrap();
        assert_eq!(status, 200, "{name}: {out}");
        assert!(out.get("error").is_none(), "{name}: {out}");
        assert!(
            out["function_error"].is_null(),
            "{name}'s target failed: {out}"
        );
    }

    // The CLI runs as an operator's session of OperatorRole: IAM lets it call the access
    // function's URL (lambda:InvokeFunctionUrl), and the function's own policy, which names
    // nobody by default, refuses the request under the authenticated session.
    let out = Command::new(cli_bin())
        .args(["access", "request", "--account", "314159265358"])
        .args(["--reason", "billing-issue", "--ticket", "INC-1"])
        .envs(emu.process_env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let records = custody::audit_log(&emu)
        .await
        .read_stream("account/314159265358")
        .await
        .unwrap();
    let last = records.last().unwrap().as_ref().unwrap();
    assert_eq!(last.action, "access.refused", "{stderr}");
    assert_eq!(last.actor, emu.operator("alice").arn);
}
