//! The testkit's port contracts against the AWS adapters, on one emulator stack (the same
//! assertions run against the in-memory twins in `testkit/tests/contracts.rs`). Each adapter
//! acts as the role that uses it in production where IAM or the vault key's policy decides:
//! the rotation function stages and promotes, the access function reveals, inbound mail
//! encrypts mail secrets and reads the registry. The notifier's contract runs only against the
//! twin: its AWS adapter's effects (webhook, SES) are asserted in `inbound_mail`.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use rootwarden::access::IamRoleDirectory;
use rootwarden::audit::DynamoAuditLog;
use rootwarden::tickets::DynamoTicketStore;
use rootwarden::vault::{CredentialKind, KmsTransientStore};
use rootwarden::workflows::DynamoWorkflowWaits;
use rootwarden::SystemClock;
use rootwarden_testkit::contract::{self, vault::VaultHandles};
use rootwarden_tests::{custody, Emulator};

#[tokio::test(flavor = "multi_thread")]
async fn aws_adapters_honour_the_port_contracts() {
    let emu = Emulator::with_stack().await.unwrap();
    let harness = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&harness);
    let inbound = emu.inbound_adapters(&emu.role_config("InboundMailFunction").await);

    // Audit log.
    let audit = DynamoAuditLog::new(
        ddb.clone(),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    );
    contract::audit_log_contract(audit).await;

    // Raw mail: stored by SES's S3 action, read as inbound mail (no waiting for a missing
    // object: the contract only needs the retryable error).
    let mut mail = inbound.mail.clone();
    mail.retry_delays = Vec::new();
    contract::raw_mail_contract(mail, &emu.env("ROOTWARDEN_MAIL_BUCKET"), |id, raw| {
        let stored = emu.deliver_raw_mail(&id, &raw);
        async move { stored.unwrap() }
    })
    .await;

    // Role directory: roles created in IAM under a path, looked up by name.
    let iam = aws_sdk_iam::Client::new(&harness);
    contract::role_directory_contract(IamRoleDirectory(iam.clone()), |name| {
        let iam = iam.clone();
        async move {
            let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]});
            let out = iam
                .create_role()
                .role_name(&name)
                .path("/rootwarden/")
                .assume_role_policy_document(trust.to_string())
                .send()
                .await
                .unwrap();
            let role = out.role().unwrap();
            (role.arn().to_owned(), role.role_id().to_owned())
        }
    })
    .await;

    // Tickets.
    let audit = DynamoAuditLog::new(
        ddb.clone(),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    );
    let tickets = DynamoTicketStore::new(
        ddb.clone(),
        emu.env("ROOTWARDEN_TICKETS_TABLE"),
        audit.clone(),
    );
    contract::ticket_store_contract(|| tickets.clone()).await;
    assert!(rootwarden::audit::verify(&audit, None)
        .await
        .unwrap()
        .is_ok());

    // Registry: registered as onboarding writes the item; read as inbound mail.
    let accounts_table = emu.env("ROOTWARDEN_ACCOUNTS_TABLE");
    contract::account_registry_contract(|account, email, contacts| {
        let (ddb, table, registry) = (
            ddb.clone(),
            accounts_table.clone(),
            inbound.registry.clone(),
        );
        async move {
            let contacts = contacts.into_iter().map(AttributeValue::S).collect();
            ddb.put_item()
                .table_name(table)
                .set_item(Some(HashMap::from([
                    (
                        "account_id".to_owned(),
                        AttributeValue::S(account.as_str().into()),
                    ),
                    (
                        "root_email".to_owned(),
                        AttributeValue::S(email.as_str().into()),
                    ),
                    ("status".to_owned(), AttributeValue::S("active".into())),
                    ("contacts".to_owned(), AttributeValue::L(contacts)),
                ])))
                .send()
                .await
                .unwrap();
            registry
        }
    })
    .await;

    // Workflow waits (completion with a token Step Functions does not know: removed).
    let waits = DynamoWorkflowWaits::new(
        ddb.clone(),
        aws_sdk_sfn::Client::new(&harness),
        emu.env("ROOTWARDEN_WORKFLOWS_TABLE"),
    );
    contract::workflow_waits_contract(waits).await;

    // Transient secrets: written by inbound mail, read by the access function.
    let reader = KmsTransientStore::new(
        ddb.clone(),
        aws_sdk_kms::Client::new(&emu.role_config("AccessFunction").await),
        emu.env("ROOTWARDEN_VAULT_TABLE"),
        emu.env("ROOTWARDEN_VAULT_KEY"),
    );
    contract::transient_store_contract(inbound.vault.clone(), reader).await;

    // Vault: onboarded by an operator, rotated by the rotation function, revealed by access.
    let operator = custody::operator_deps(&emu, "contract-operator").await;
    let writer = custody::deps(&emu, "contract-rotation").await.vault;
    let reader = custody::inspector_deps(&emu).await.vault;
    contract::vault_contract(|account, secret| {
        let (operator, ddb) = (operator.vault.clone(), ddb.clone());
        let handles = VaultHandles {
            writer: writer.clone(),
            reader: reader.clone(),
        };
        async move {
            let items = operator
                .initial_items(
                    &account,
                    CredentialKind::RootPassword,
                    &secret,
                    "onboarding",
                )
                .await
                .unwrap();
            ddb.transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
                .unwrap();
            handles
        }
    })
    .await;
}

/// The access ledger as the access function writes it (requests, locks and audit records in one
/// transaction); its audit records read back with the harness's credentials.
#[tokio::test(flavor = "multi_thread")]
async fn dynamo_access_ledger_honours_the_access_ledger_contract() {
    let emu = Emulator::with_stack().await.unwrap();
    let access = emu.role_config("AccessFunction").await;
    let ddb = aws_sdk_dynamodb::Client::new(&access);
    let audit_table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    let ledger = rootwarden::access::DynamoAccessLedger::new(
        ddb.clone(),
        emu.env("ROOTWARDEN_WORKFLOWS_TABLE"),
        DynamoAuditLog::new(ddb, &audit_table, Arc::new(SystemClock)),
    );
    let harness = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let audit = DynamoAuditLog::new(harness, audit_table, Arc::new(SystemClock));
    contract::access_ledger_contract(ledger, &audit).await;
}
