//! Every contract against its in-memory twin (the same assertions run against the AWS adapters
//! in `tests/tests/contracts.rs`).

use std::sync::Arc;

use rootwarden_core::vault::CredentialKind;
use rootwarden_core::SystemClock;
use rootwarden_testkit::contract::{self, vault::VaultHandles};
use rootwarden_testkit::{
    MemoryAccountRegistry, MemoryAuditLog, MemoryRawMailStore, MemoryRoleDirectory,
    MemoryTicketStore, MemoryTransientStore, MemoryVault, MemoryWorkflowWaits, RecordingNotifier,
};

#[tokio::test]
async fn memory_ticket_store_honours_the_ticket_contract() {
    let store = MemoryTicketStore::default();
    contract::ticket_store_contract(|| store.clone()).await;
    // Every recorded message has exactly one audit record, and the chains verify.
    let report = rootwarden_core::audit::verify(store.audit(), None)
        .await
        .unwrap();
    assert!(report.is_ok());
}

#[tokio::test]
async fn memory_vault_honours_the_vault_contract() {
    let audit = MemoryAuditLog::default();
    let vault = MemoryVault::new(audit.clone(), Arc::new(SystemClock));
    contract::vault_contract(|account, secret| {
        let vault = vault.clone();
        async move {
            vault
                .seed(
                    &account,
                    CredentialKind::RootPassword,
                    &secret,
                    "onboarding",
                )
                .await
                .unwrap();
            VaultHandles {
                writer: vault.clone(),
                reader: vault,
            }
        }
    })
    .await;
    // Every stage move was audited, on each account's stream: the seeded account's stage ×3,
    // promote ×2, discard ×1; the two accounts where nothing was vaulted (first pending):
    // stage + promote, and stage + discard + stage; the account staged on a stale head: its one
    // stage (the refused and repeated ones write nothing).
    let streams = rootwarden_core::audit::AuditLog::streams(&audit)
        .await
        .unwrap();
    let mut counts: Vec<usize> = streams.iter().map(|s| audit.records(s).len()).collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![1, 2, 3, 6]);
}

#[tokio::test]
async fn memory_transient_store_honours_the_transient_contract() {
    let store = MemoryTransientStore::default();
    contract::transient_store_contract(store.clone(), store).await;
}

#[tokio::test]
async fn memory_ticket_store_writes_a_messages_secrets_with_its_ticket() {
    let vault = MemoryTransientStore::default();
    let bare = MemoryTicketStore::default();
    let recorder = bare.clone().with_vault(vault.clone());
    contract::ticket_secrets_contract(recorder, bare, &vault, &vault).await;
}

#[tokio::test]
async fn memory_waits_honour_the_workflow_waits_contract() {
    let waits = MemoryWorkflowWaits::default();
    contract::workflow_waits_contract(waits.clone()).await;
    assert_eq!(waits.completed().len(), 1, "one task completion sent");
}

#[tokio::test]
async fn memory_registry_honours_the_registry_contract() {
    let registry = MemoryAccountRegistry::default();
    contract::account_registry_contract(|account, email, contacts| {
        let registry = registry.clone();
        async move {
            let contacts: Vec<&str> = contacts.iter().map(String::as_str).collect();
            registry.register(&account, &email, &contacts);
            registry
        }
    })
    .await;
}

#[tokio::test]
async fn memory_audit_log_honours_the_audit_contract() {
    let log = MemoryAuditLog::default();
    contract::audit_log_contract(log.clone(), log).await;
}

#[tokio::test]
async fn memory_raw_mail_store_honours_the_raw_mail_contract() {
    let store = MemoryRawMailStore::new("mail-bucket", "inbound/");
    contract::raw_mail_contract(store.clone(), "mail-bucket", |id, raw| {
        let store = store.clone();
        async move { store.deliver(&id, &raw) }
    })
    .await;
}

#[tokio::test]
async fn memory_role_directory_honours_the_role_directory_contract() {
    let roles = MemoryRoleDirectory::default();
    contract::role_directory_contract(roles.clone(), |name| {
        let roles = roles.clone();
        async move {
            let arn = format!("arn:aws:iam::123456789012:role/rootwarden/{name}");
            let id = format!("AROA{}", name.len());
            roles.put(&arn, &id);
            (arn, id)
        }
    })
    .await;
}

#[tokio::test]
async fn recording_notifier_honours_the_notifier_contract_and_records_the_email_rule() {
    let notifier = RecordingNotifier::default();
    contract::notifier_contract(notifier.clone()).await;
    let emailed: Vec<usize> = notifier
        .delivered()
        .iter()
        .map(|d| d.emailed.len())
        .collect();
    // E-mail only for priority high and above, and only to contacts there are.
    assert_eq!(emailed, vec![0, 1, 0]);
}

#[tokio::test]
async fn memory_rotation_store_honours_the_rotation_store_contract() {
    contract::rotation_store_contract(rootwarden_testkit::MemoryRotationStore::new()).await;
}

#[tokio::test]
async fn memory_schedule_honours_the_rotation_schedule_contract() {
    let schedule = rootwarden_testkit::MemoryRotationSchedule::new();
    contract::rotation_schedule_contract(|account| {
        let schedule = schedule.clone();
        async move {
            schedule.put(account);
            schedule
        }
    })
    .await;
}

#[tokio::test]
async fn memory_executions_honour_the_executions_contract() {
    let x = rootwarden_testkit::MemoryExecutions::new();
    let sm = "arn:aws:states:us-east-1:123456789012:stateMachine:contract";
    contract::executions_contract(&x, sm, |arn| {
        let x = x.clone();
        async move {
            let token = format!("token-of-{arn}");
            x.wait_for_task(&arn, &token);
            Some(token)
        }
    })
    .await;
}

#[tokio::test]
async fn memory_root_credentials_honour_the_root_credentials_contract() {
    let root = rootwarden_testkit::MemoryRootCredentials::default();
    contract::root_credentials_contract(root.clone(), root.clone(), |account, posture| {
        let root = root.clone();
        async move { root.set_root(&account, posture) }
    })
    .await;
}

#[tokio::test]
async fn memory_posture_registry_honours_the_posture_registry_contract() {
    let audit = MemoryAuditLog::default();
    let registry = rootwarden_testkit::MemoryPostureRegistry::with_audit(audit.clone());
    contract::posture_registry_contract(|account| {
        let (registry, audit) = (registry.clone(), audit.clone());
        async move {
            registry.put(account);
            (registry, audit)
        }
    })
    .await;
}

#[tokio::test]
async fn memory_enforcement_tickets_honour_the_enforcement_tickets_contract() {
    let audit = MemoryAuditLog::default();
    contract::enforcement_tickets_contract(rootwarden_testkit::MemoryEnforcementTickets::new(
        audit.clone(),
    ))
    .await;
    // The ticket was opened once, with one audit record.
    let streams = rootwarden_core::audit::AuditLog::streams(&audit)
        .await
        .unwrap();
    assert_eq!(audit.records(&streams[0]).len(), 1);
}

#[tokio::test]
async fn memory_onboarding_honours_the_onboarding_store_contract() {
    let store = rootwarden_testkit::MemoryOnboarding::default();
    contract::onboarding_store_contract(store.clone(), store.registry.clone(), store.vault.clone())
        .await;
    // One audit record per account written.
    let streams = rootwarden_core::audit::AuditLog::streams(&store.audit)
        .await
        .unwrap();
    assert_eq!(streams.len(), 2);
}

#[tokio::test]
async fn memory_access_ledger_honours_the_access_ledger_contract() {
    let audit = MemoryAuditLog::default();
    let ledger = rootwarden_testkit::MemoryAccessLedger::new(audit.clone());
    contract::access_ledger_contract(ledger, &audit).await;
    assert!(rootwarden_core::audit::verify(&audit, None)
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test]
async fn memory_release_access_honours_the_release_access_contract() {
    let audit = MemoryAuditLog::default();
    let ledger = rootwarden_testkit::MemoryAccessLedger::new(audit.clone());
    let clock = std::sync::Arc::new(rootwarden_core::SystemClock);
    let access = rootwarden_testkit::MemoryReleaseAccess::new(ledger.clone(), clock, "release");
    contract::release_access_contract(access, "release", ledger, &audit).await;
    assert!(rootwarden_core::audit::verify(&audit, None)
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test]
async fn memory_digest_store_and_hmac_signer_honour_the_digest_contracts() {
    use rootwarden_core::audit::{AuditEntry, AuditLog};
    let log = MemoryAuditLog::default();
    let store = rootwarden_testkit::MemoryDigestStore::new(log.clone());
    contract::digest_store_contract(&store, |stream| {
        let log = log.clone();
        async move {
            let e = AuditEntry::new(stream, "arn:aws:iam::123456789012:user/contract", "x");
            log.append(&e).await.unwrap()
        }
    })
    .await;
    // Twice: the second run follows the first digest.
    contract::digest_store_contract(&store, |stream| {
        let log = log.clone();
        async move {
            let e = AuditEntry::new(stream, "arn:aws:iam::123456789012:user/contract", "y");
            log.append(&e).await.unwrap()
        }
    })
    .await;
    let signer = rootwarden_testkit::HmacDigestSigner::default();
    contract::digest_signer_contract(&signer, &signer).await;
}

#[tokio::test]
async fn memory_access_ports_honour_their_contracts() {
    use rootwarden_core::registry::{AccountMode, AccountStatus};
    use rootwarden_testkit::{MemoryAccessAccounts, MemoryAccessTickets, MemoryRotationLookup};
    let accounts = MemoryAccessAccounts::default();
    contract::access_accounts_contract(
        &accounts,
        |a| {
            let accounts = accounts.clone();
            async move { accounts.register(&a, AccountStatus::Active, AccountMode::Vaulted) }
        },
        |a| {
            let accounts = accounts.clone();
            async move { accounts.account(&a).and_then(|x| x.rotation_due) }
        },
    )
    .await;
    contract::access_tickets_contract(&MemoryAccessTickets::new(MemoryAuditLog::default())).await;
    let lookup = MemoryRotationLookup::default();
    contract::rotation_lookup_contract(&lookup, |r| {
        let lookup = lookup.clone();
        async move { lookup.put(r) }
    })
    .await;
}

#[tokio::test]
async fn memory_takeover_store_honours_the_takeover_store_contract() {
    let audit = MemoryAuditLog::default();
    let store = rootwarden_testkit::MemoryTakeoverStore::new(audit.clone());
    contract::takeover_store_contract(&store, &audit).await;
}

#[tokio::test]
async fn memory_primary_email_honours_the_primary_email_contract() {
    let email = rootwarden_testkit::MemoryPrimaryEmail::default();
    let taken = rootwarden_core::RootEmail::parse("taken@customer.example").unwrap();
    email.take(taken.as_str());
    contract::primary_email_contract(
        &email,
        |account, old| {
            email.set(&account, &old);
            async {}
        },
        |account| {
            let code = email.last_code(&account);
            async move { code }
        },
        &taken,
        true,
    )
    .await;
}
