//! The testkit's port contracts against the AWS adapters, on one emulator stack (the same
//! assertions run against the in-memory twins in `testkit/tests/contracts.rs`). Each adapter
//! acts as the role that uses it in production where IAM or the vault key's policy decides:
//! the rotation function stages and promotes, the access function reveals, inbound mail
//! encrypts mail secrets and reads the registry. The notifier's contract runs only against the
//! twin: its AWS adapter's effects (webhook, SES) are asserted in `inbound_mail`.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use rootwarden::access::IamRoleDirectory;
use rootwarden::audit::DynamoAuditLog;
use rootwarden::executions::SfnExecutions;
use rootwarden::registry::schedule::{DuePage, RotationSchedule};
use rootwarden::registry::{Account, AccountItem, DynamoPostureRegistry, RotationReason};
use rootwarden::rotation::{DynamoRotationStore, RotationRecord, RotationStage, RotationStore};
use rootwarden::tickets::DynamoTicketStore;
use rootwarden::vault::{CredentialKind, KmsTransientStore};
use rootwarden::workflows::DynamoWorkflowWaits;
use rootwarden::SystemClock;
use rootwarden::{AccountId, LambdaError};
use rootwarden_testkit::contract::{self, vault::VaultHandles};
use rootwarden_tests::{custody, Emulator};

/// A record prepared for a transaction that never committed is never chained onto: the next
/// record takes its seq, linked to the last record written.
async fn prepared_audit_records_chain_only_once_written(
    audit: &DynamoAuditLog,
    ddb: &aws_sdk_dynamodb::Client,
) {
    use rootwarden::audit::{AuditEntry, AuditLog, Stream};
    let stream = Stream::Account(rootwarden_testkit::contract::fixtures::fresh_account());
    let entry =
        |action: &str| AuditEntry::new(stream.clone(), "arn:aws:iam::123456789012:user/t", action);
    let written = audit.append(&entry("test.written")).await.unwrap();
    let (abandoned, _put) = audit.prepare(&entry("test.abandoned")).await.unwrap();
    assert_eq!(abandoned.seq, written.seq + 1);
    let (next, put) = audit.prepare(&entry("test.next")).await.unwrap();
    assert_eq!(
        (next.seq, next.prev_hash.as_str()),
        (written.seq + 1, written.hash.as_str())
    );
    ddb.transact_write_items()
        .transact_items(
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(put)
                .build(),
        )
        .send()
        .await
        .unwrap();
    audit.committed(&next);
    let last = audit.append(&entry("test.last")).await.unwrap();
    assert_eq!(
        (last.seq, last.prev_hash.as_str()),
        (next.seq + 1, next.hash.as_str())
    );
    let items = audit.read_stream(&stream.key()).await.unwrap();
    let report = rootwarden::audit::verify_chain(&stream.key(), &items);
    assert_eq!((report.fault, report.head_seq), (None, 3));
}

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
    // Two instances: each remembers the heads it wrote, as two Lambda instances would.
    let other = DynamoAuditLog::new(
        ddb.clone(),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    );
    contract::audit_log_contract(audit.clone(), other).await;
    prepared_audit_records_chain_only_once_written(&audit, &ddb).await;

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
    contract::transient_store_contract(inbound.vault.clone(), reader.clone()).await;
    // ... and written with the ticket of the delivery that carried them.
    contract::ticket_secrets_contract(
        inbound.tickets.clone(),
        DynamoTicketStore::new(
            ddb.clone(),
            emu.env("ROOTWARDEN_TICKETS_TABLE"),
            audit.clone(),
        ),
        &inbound.vault,
        &reader,
    )
    .await;

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

/// The rotation records as production splits them: the rotation function's steps create, read
/// and end them; the operator (and the access function's apply gate) lists an account's.
struct RecordRoles {
    steps: DynamoRotationStore,
    operator: DynamoRotationStore,
}

impl RotationStore for RecordRoles {
    async fn create(&self, r: &RotationRecord) -> Result<RotationRecord, LambdaError> {
        RotationStore::create(&self.steps, r).await
    }
    async fn get(&self, a: &AccountId, e: &str) -> Result<Option<RotationRecord>, LambdaError> {
        RotationStore::get(&self.steps, a, e).await
    }
    async fn list(&self, a: &AccountId) -> Result<Vec<RotationRecord>, LambdaError> {
        RotationStore::list(&self.operator, a).await
    }
    async fn set_token(
        &self,
        a: &AccountId,
        e: &str,
        token: &str,
        deadline: &str,
        now: &str,
    ) -> Result<(), LambdaError> {
        RotationStore::set_token(&self.steps, a, e, token, deadline, now).await
    }
    async fn end(
        &self,
        a: &AccountId,
        e: &str,
        stage: RotationStage,
        version: Option<u32>,
        outcome: &str,
        now: &str,
    ) -> Result<(), LambdaError> {
        RotationStore::end(&self.steps, a, e, stage, version, outcome, now).await
    }
}

/// The schedule as production splits it: the rotation function reads the account and
/// reschedules it; the rotation scheduler pages the due index and moves or records due dates.
#[derive(Clone)]
struct ScheduleRoles {
    steps: rootwarden::registry::DynamoAccountRegistry,
    sweep: rootwarden::registry::DynamoAccountRegistry,
}

impl RotationSchedule for ScheduleRoles {
    async fn account(&self, a: &AccountId) -> Result<Option<Account>, LambdaError> {
        RotationSchedule::account(&self.steps, a).await
    }
    async fn due_page(
        &self,
        now: DateTime<Utc>,
        after: Option<String>,
        limit: u32,
    ) -> Result<DuePage, LambdaError> {
        RotationSchedule::due_page(&self.sweep, now, after, limit).await
    }
    async fn move_due(
        &self,
        a: &AccountId,
        old: &str,
        new: DateTime<Utc>,
    ) -> Result<bool, LambdaError> {
        self.sweep.move_due(a, old, new).await
    }
    async fn mark_started(&self, a: &AccountId, due: &str, e: &str) -> Result<bool, LambdaError> {
        RotationSchedule::mark_started(&self.sweep, a, due, e).await
    }
    async fn reschedule(
        &self,
        a: &AccountId,
        e: &str,
        next: DateTime<Utc>,
        reason: RotationReason,
        rotated: Option<DateTime<Utc>>,
    ) -> Result<(), LambdaError> {
        RotationSchedule::reschedule(&self.steps, a, e, next, reason, rotated).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_adapters_honour_the_port_contracts() {
    let emu = Emulator::with_stack().await.unwrap();
    let harness = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&harness);

    // Rotation records: written and read by the rotation function, listed by the operator.
    let rotation = custody::deps(&emu, "contract-rotation").await;
    let operator = custody::operator_deps(&emu, "contract-operator").await;
    contract::rotation_store_contract(RecordRoles {
        steps: rotation.rotations.clone(),
        operator: operator.rotations.clone(),
    })
    .await;

    // The schedule: accounts written as onboarding writes them.
    let scheduler = custody::function_deps(&emu, "RotationSchedulerFunction", "contract").await;
    let roles = ScheduleRoles {
        steps: rotation.registry.clone(),
        sweep: scheduler.registry.clone(),
    };
    let accounts_table = emu.env("ROOTWARDEN_ACCOUNTS_TABLE");
    contract::rotation_schedule_contract(|account| {
        let (ddb, table, roles) = (ddb.clone(), accounts_table.clone(), roles.clone());
        async move {
            ddb.put_item()
                .table_name(table)
                .set_item(Some(account.to_item()))
                .send()
                .await
                .unwrap();
            roles
        }
    })
    .await;

    // Executions, as the harness (the production roles may start only the stack's rotation
    // state machine), on a parked state machine whose executions keep running. The task-token
    // flow is covered by the twin only: the emulator's Step Functions interpreter (moto 5.2.5)
    // cannot run a `states:startExecution.waitForTaskToken` task (it hands botocore PascalCase
    // parameters: KeyError 'StateMachineArn' / 'Input'), and the other callback integrations
    // need SQS or the function host. Unknown tokens are still checked here (`InvalidToken`).
    let sfn = aws_sdk_sfn::Client::new(&harness);
    let parked = sfn
        .create_state_machine()
        .name("contract-parked")
        .role_arn("arn:aws:iam::123456789012:role/sfn")
        .definition(
            r#"{"StartAt":"Park","States":{"Park":{"Type":"Wait","Seconds":3600,"End":true}}}"#,
        )
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    contract::executions_contract(&SfnExecutions::new(sfn), &parked, |_| async { None }).await;
}

/// Enforcement's and onboarding's ports, each adapter acting as its production role: the
/// enforcement function opens audit and delete root sessions, reads and annotates the registry
/// and opens task tickets; the operator opens password-creation sessions, records recovery
/// windows and onboards.
#[tokio::test(flavor = "multi_thread")]
async fn enforcement_and_onboarding_adapters_honour_their_contracts() {
    use rootwarden::enforcement::{Posture, StsIamRootCredentials};
    use rootwarden::onboarding::DynamoOnboarding;
    use rootwarden::registry::{AccountItem, DynamoAccountRegistry};

    let emu = Emulator::with_stack().await.unwrap();
    let harness = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let enforcer = emu.role_config("RootEnforcementFunction").await;
    let operator = emu.sdk_config_as(emu.operator("alice")).await;

    // Root sessions: the function audits and deletes, the operator creates a password.
    contract::root_credentials_contract(
        StsIamRootCredentials::new(&enforcer),
        StsIamRootCredentials::new(&operator),
        |account, posture: Posture| {
            let state = serde_json::json!({
                "access_keys": posture.access_keys.iter()
                    .map(|k| serde_json::json!({"id": k.id, "status": k.status}))
                    .collect::<Vec<_>>(),
                "signing_certificates": posture.signing_certificates.iter()
                    .map(|c| serde_json::json!({"id": c.id, "status": c.status}))
                    .collect::<Vec<_>>(),
                "mfa_devices": posture.mfa_devices.iter()
                    .map(|s| serde_json::json!({"serial": s}))
                    .collect::<Vec<_>>(),
                "login_profile": posture.login_profile,
            });
            let (status, body) = emu
                .test_endpoint(
                    "PUT",
                    &format!("/_rootwarden/root-state/{account}"),
                    Some(&state),
                )
                .unwrap();
            assert_eq!(status, 200, "{body}");
            async {}
        },
    )
    .await;

    // The registry as the enforcement function reads and annotates it (accounts registered by
    // the harness, as onboarding would).
    let table = emu.env("ROOTWARDEN_ACCOUNTS_TABLE");
    // Its records are read back as the harness (the enforcer only appends).
    let enforcer_ddb = aws_sdk_dynamodb::Client::new(&enforcer);
    let audit_table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    let registry = DynamoPostureRegistry::new(
        DynamoAccountRegistry::new(enforcer_ddb.clone(), &table),
        DynamoAuditLog::new(enforcer_ddb, &audit_table, Arc::new(SystemClock)),
    );
    let records = DynamoAuditLog::new(harness.clone(), &audit_table, Arc::new(SystemClock));
    contract::posture_registry_contract(|account| {
        let (harness, table) = (harness.clone(), table.clone());
        let (registry, records) = (registry.clone(), records.clone());
        async move {
            harness
                .put_item()
                .table_name(&table)
                .set_item(Some(account.to_item()))
                .send()
                .await
                .unwrap();
            (registry, records)
        }
    })
    .await;

    // Task tickets, opened by the enforcement function.
    let enforcement = rootwarden::enforcement::Deps::new(
        &custody::config(&emu),
        &enforcer,
        Arc::new(SystemClock),
        "contract-enforcement",
    );
    contract::enforcement_tickets_contract(enforcement.tickets.clone()).await;

    // Onboarding, by an operator; read back as the inspector would.
    let ops = custody::operator_deps(&emu, "contract-operator").await;
    let inspector = custody::inspector_deps(&emu).await;
    contract::onboarding_store_contract(
        DynamoOnboarding::new(ops.registry.clone(), ops.vault.clone(), ops.audit.clone()),
        inspector.registry.clone(),
        inspector.vault.clone(),
    )
    .await;
    custody::assert_audit_intact(&emu, None).await;
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

/// The access ledger as a release sees it: read the approving request, revoke the account's
/// other open access. As the release function's role, which runs it in production.
#[tokio::test(flavor = "multi_thread")]
async fn dynamo_release_access_honours_the_release_access_contract() {
    let emu = Emulator::with_stack().await.unwrap();
    let config = custody::config(&emu);
    let release = emu.role_config("ReleaseFunction").await;
    let access = rootwarden::access::DynamoReleaseAccess::new(
        aws_sdk_dynamodb::Client::new(&release),
        &config,
        "release",
    );
    // The harness seeds and reads the ledger (requests as the access function writes them).
    let harness = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let audit = DynamoAuditLog::new(harness.clone(), &config.audit_table, Arc::new(SystemClock));
    let ledger = rootwarden::access::DynamoAccessLedger::new(
        harness,
        &config.workflows_table,
        audit.clone(),
    );
    contract::release_access_contract(access, "release", ledger, &audit).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_adapters_honour_the_digest_contracts() {
    use rootwarden::audit::{AuditEntry, AuditLog, DynamoDigestStore, KmsDigestSigner};
    let emu = Emulator::with_stack().await.unwrap();
    let table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    // The records: appended as the harness (any chain); digests and pages: written and read as
    // the audit-digest function, the only principal that may write them.
    let records = DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&emu.sdk_config().await),
        table.clone(),
        Arc::new(SystemClock),
    );
    let digest_role = emu.role_config("AuditDigestFunction").await;
    let verifier_role = emu.role_config("AuditVerifierFunction").await;
    let as_role = |conf: &aws_types::SdkConfig| {
        DynamoDigestStore::new(DynamoAuditLog::new(
            aws_sdk_dynamodb::Client::new(conf),
            table.clone(),
            Arc::new(SystemClock),
        ))
    };
    let store = DigestRoles {
        writer: as_role(&digest_role),
        reader: as_role(&verifier_role),
    };
    for action in ["contract.first", "contract.second"] {
        contract::digest_store_contract(&store, |stream| {
            let records = records.clone();
            async move {
                let e = AuditEntry::new(stream, "arn:aws:iam::123456789012:user/contract", action);
                records.append(&e).await.unwrap()
            }
        })
        .await;
    }
    // The digest key: the digest function signs, the verifier verifies.
    let key = emu.env("ROOTWARDEN_DIGEST_KEY");
    let signer = KmsDigestSigner::new(aws_sdk_kms::Client::new(&digest_role), key.clone());
    let verifier = KmsDigestSigner::new(aws_sdk_kms::Client::new(&verifier_role), key);
    contract::digest_signer_contract(&signer, &verifier).await;
}

/// The digests as production splits them: the digest function reads the heads and the latest
/// digest and writes pages and digests; the verifier reads every digest and its pages.
struct DigestRoles {
    writer: rootwarden::audit::DynamoDigestStore,
    reader: rootwarden::audit::DynamoDigestStore,
}

impl rootwarden::audit::DigestStore for DigestRoles {
    async fn heads(
        &self,
    ) -> Result<Vec<rootwarden::audit::ChainHead>, rootwarden::audit::AuditError> {
        self.writer.heads().await
    }
    async fn segment_heads(
        &self,
        segment: rootwarden::audit::Segment,
    ) -> Result<Vec<rootwarden::audit::ChainHead>, rootwarden::audit::AuditError> {
        self.writer.segment_heads(segment).await
    }
    async fn digests(
        &self,
    ) -> Result<Vec<rootwarden::audit::digest::DigestItem>, rootwarden::audit::AuditError> {
        self.reader.digests().await
    }
    async fn digest_at(
        &self,
        seq: u64,
    ) -> Result<Option<rootwarden::audit::digest::DigestItem>, rootwarden::audit::AuditError> {
        self.reader.digest_at(seq).await
    }
    async fn latest_digest(
        &self,
    ) -> Result<Option<rootwarden::audit::digest::DigestItem>, rootwarden::audit::AuditError> {
        self.writer.latest_digest().await
    }
    async fn pages(
        &self,
        hashes: &[String],
    ) -> Result<Vec<rootwarden::audit::digest::PageItem>, rootwarden::audit::AuditError> {
        self.reader.pages(hashes).await
    }
    async fn put_page(
        &self,
        page: &rootwarden::audit::DigestPage,
    ) -> Result<(), rootwarden::audit::DigestError> {
        self.writer.put_page(page).await
    }
    async fn put_digest(
        &self,
        digest: &rootwarden::audit::StoredDigest,
    ) -> Result<bool, rootwarden::audit::DigestError> {
        self.writer.put_digest(digest).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_port_adapters_honour_their_contracts() {
    use rootwarden::registry::{AccountMode, DynamoAccountRegistry};
    use rootwarden_testkit::contract::fixtures::registered_account;
    let emu = Emulator::with_stack().await.unwrap();
    let harness = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let access = aws_sdk_dynamodb::Client::new(&emu.role_config("AccessFunction").await);
    let steps = aws_sdk_dynamodb::Client::new(&emu.role_config("RotationFunction").await);
    let accounts_table = emu.env("ROOTWARDEN_ACCOUNTS_TABLE");

    // The registry as the access function reads and marks it; accounts put as the harness.
    let registry = DynamoAccountRegistry::new(access.clone(), &accounts_table);
    let inspector = DynamoAccountRegistry::new(harness.clone(), &accounts_table);
    contract::access_accounts_contract(
        &registry,
        |a| {
            let (harness, table) = (harness.clone(), accounts_table.clone());
            async move {
                let account = registered_account(a, AccountMode::Vaulted);
                harness
                    .put_item()
                    .table_name(table)
                    .set_item(Some(account.to_item()))
                    .send()
                    .await
                    .unwrap();
            }
        },
        |a| {
            let inspector = inspector.clone();
            async move { inspector.get(&a).await.unwrap().unwrap().rotation_due }
        },
    )
    .await;

    // Task tickets as the access function opens them (its self-service review ticket).
    let audit = DynamoAuditLog::new(
        access.clone(),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    );
    let tickets =
        DynamoTicketStore::new(access.clone(), emu.env("ROOTWARDEN_TICKETS_TABLE"), audit);
    contract::access_tickets_contract(&tickets).await;

    // Rotation records: created by the rotation function, looked up by the access function.
    let workflows = emu.env("ROOTWARDEN_WORKFLOWS_TABLE");
    let lookup = DynamoRotationStore::new(access, &workflows);
    let writer = DynamoRotationStore::new(steps, &workflows);
    contract::rotation_lookup_contract(&lookup, |r| {
        let writer = writer.clone();
        async move {
            RotationStore::create(&writer, &r).await.unwrap();
        }
    })
    .await;
}

/// The takeover's adapters as the takeover function uses them: its store (registry item and
/// audit record in one transaction; the audit records read back with the harness's
/// credentials) and AWS's account API (codes read through the emulator's test endpoint, as
/// inbound mail would receive them).
#[tokio::test(flavor = "multi_thread")]
async fn takeover_adapters_honour_their_contracts() {
    use rootwarden::registry::DynamoAccountRegistry;
    use rootwarden::takeover::{AccountApiPrimaryEmail, DynamoTakeoverStore};
    use rootwarden::RootEmail;

    let emu = Emulator::with_stack().await.unwrap();
    let role = emu.role_config("TakeoverFunction").await;
    let ddb = aws_sdk_dynamodb::Client::new(&role);
    let audit_table = emu.env("ROOTWARDEN_AUDIT_TABLE");
    let store = DynamoTakeoverStore::new(
        DynamoAccountRegistry::new(ddb.clone(), emu.env("ROOTWARDEN_ACCOUNTS_TABLE")),
        DynamoAuditLog::new(ddb, &audit_table, Arc::new(SystemClock)),
    );
    let harness = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let audit = DynamoAuditLog::new(harness, audit_table, Arc::new(SystemClock));
    contract::takeover_store_contract(&store, &audit).await;
    // A save leaves attributes it does not know alone (other writers' fields on the item).
    {
        use rootwarden::registry::AccountStatus;
        use rootwarden::takeover::{Expect, Takeover, TakeoverStep, TakeoverStore};
        let mut account = contract::fresh_account_record(Utc::now());
        account.status = AccountStatus::TakingOver;
        let id = account.account_id.clone();
        let t = Takeover {
            account_id: id.clone(),
            execution: "takeover-other-attrs".into(),
            execution_arn: "arn:aws:states:us-east-1:1:execution:t:takeover-other-attrs".into(),
            reason: "contract".into(),
            ticket: "CHG-1".into(),
            requested_by: "arn:aws:sts::1:assumed-role/Operator/alice".into(),
            step: Some(TakeoverStep::Allocated),
            resends: 0,
            previous_email: None,
            stopped: None,
            started_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let entry = |action: &str| {
            rootwarden::audit::AuditEntry::new(
                rootwarden::audit::Stream::Account(id.clone()),
                "contract",
                action,
            )
        };
        assert!(store
            .save(
                &account,
                &t,
                &Expect::Unregistered,
                &entry("takeover.allocated")
            )
            .await
            .unwrap());
        let harness = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
        let table = emu.env("ROOTWARDEN_ACCOUNTS_TABLE");
        harness
            .update_item()
            .table_name(&table)
            .key("account_id", AttributeValue::S(id.to_string()))
            .update_expression("SET other_writer = :v")
            .expression_attribute_values(":v", AttributeValue::S("kept".into()))
            .send()
            .await
            .unwrap();
        let mut next = t.clone();
        next.step = Some(TakeoverStep::EmailUpdateStarted);
        let expect = Expect::Step {
            execution: t.execution.clone(),
            step: t.step,
        };
        assert!(store
            .save(
                &account,
                &next,
                &expect,
                &entry("takeover.email-update-started")
            )
            .await
            .unwrap());
        let item = harness
            .get_item()
            .table_name(&table)
            .key("account_id", AttributeValue::S(id.to_string()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item["other_writer"], AttributeValue::S("kept".into()));
        assert_eq!(
            item["takeover_step"],
            AttributeValue::S("email-update-started".into())
        );
    }

    // As the takeover function (no update status), then as the release function (which reads
    // it when an accept is retried).
    let release_role = emu.role_config("ReleaseFunction").await;
    for (role, with_status) in [(&role, false), (&release_role, true)] {
        let email = AccountApiPrimaryEmail::new(aws_sdk_account::Client::new(role));
        let other = contract::fixtures::fresh_account();
        let taken = RootEmail::parse(&format!("in-use-{other}@customer.example")).unwrap();
        let (status, _) = emu
            .test_endpoint(
                "PUT",
                &format!("/_rootwarden/primary-email/{other}"),
                Some(&serde_json::json!({"email": taken.as_str()})),
            )
            .unwrap();
        assert_eq!(status, 200);
        contract::primary_email_contract(
            &email,
            |account, old| {
                let (status, _) = emu
                    .test_endpoint(
                        "PUT",
                        &format!("/_rootwarden/primary-email/{account}"),
                        Some(&serde_json::json!({"email": old.as_str()})),
                    )
                    .unwrap();
                assert_eq!(status, 200);
                async {}
            },
            |account| {
                let (status, body) = emu
                    .test_endpoint(
                        "GET",
                        &format!("/_rootwarden/primary-email/{account}/otp"),
                        None,
                    )
                    .unwrap();
                let code = (status == 200)
                    .then(|| body["otp"].as_str().map(str::to_owned))
                    .flatten();
                async move { code }
            },
            &taken,
            with_status,
        )
        .await;
    }
    custody::assert_audit_intact(&emu, None).await;
}
