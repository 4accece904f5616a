//! The takeover's ports: [`takeover_store_contract`] (the registry item with its progress,
//! every write conditional and audited with it) and [`primary_email_contract`] (AWS's account
//! API: the code goes to the new address, only it is accepted, a taken address is a conflict).

use std::future::Future;

use chrono::{Duration, SubsecRound, Utc};
use rootwarden_core::audit::{AuditEntry, AuditLog, Outcome, Stream};
use rootwarden_core::registry::{AccountMode, AccountStatus};
use rootwarden_core::takeover::{
    Expect, PrimaryEmail, PrimaryEmailError, Takeover, TakeoverStep, TakeoverStore, UpdateStatus,
};
use rootwarden_core::{AccountId, RootEmail};
use secrecy::SecretString;

use super::fixtures::{fresh, fresh_account};
use super::fresh_account_record;

fn record(account: &AccountId, action: &str) -> AuditEntry {
    AuditEntry::new(Stream::Account(account.clone()), "contract", action)
        .target(account.to_string())
        .outcome(Outcome::Success)
        .reason("contract")
        .correlation_id("contract")
}

async fn records<A: AuditLog>(audit: &A, account: &AccountId) -> usize {
    audit
        .read_stream(&Stream::Account(account.clone()).key())
        .await
        .map(|r| r.len())
        .unwrap_or(0)
}

/// A store whose audit records land in `audit`.
///
/// A takeover is registered only for an unregistered account; read back whole; found by its
/// address; advanced only by its owning execution from the step it read; adopted only from the
/// execution named; activated with its step cleared. A write whose condition fails changes
/// nothing and records nothing; every other write records exactly its record.
pub async fn takeover_store_contract<S: TakeoverStore, A: AuditLog>(store: &S, audit: &A) {
    let now = Utc::now().trunc_subsecs(0);
    let mut account = fresh_account_record(now);
    let id = account.account_id.clone();
    account.status = AccountStatus::TakingOver;
    account.mode = AccountMode::Vaulted;
    account.root_email = RootEmail::parse(&format!("aws-{id}-abcdefgh@root.provider.example"))
        .unwrap_or_else(|_| unreachable!("valid address"));
    assert!(store.get(&id).await.unwrap().is_none(), "unknown account");
    let exec = fresh("takeover");
    let mut t = Takeover {
        account_id: id.clone(),
        execution: exec.clone(),
        execution_arn: format!(
            "arn:aws:states:us-east-1:123456789012:execution:rw-takeover:{exec}"
        ),
        reason: "contract".into(),
        ticket: "CHG-1".into(),
        requested_by: "arn:aws:sts::123456789012:assumed-role/Operator/alice".into(),
        step: Some(TakeoverStep::Allocated),
        resends: 0,
        previous_email: None,
        stopped: None,
        started_at: now,
        updated_at: now,
    };
    assert!(store
        .save(
            &account,
            &t,
            &Expect::Unregistered,
            &record(&id, "takeover.allocated")
        )
        .await
        .unwrap());
    assert_eq!(records(audit, &id).await, 1, "the allocation is audited");
    assert!(
        !store
            .save(&account, &t, &Expect::Unregistered, &record(&id, "x"))
            .await
            .unwrap(),
        "a registered account is not registered again"
    );
    let (a, got) = store.get(&id).await.unwrap().unwrap();
    assert_eq!(a, account);
    assert_eq!(got.as_ref(), Some(&t));
    assert_eq!(
        store.address_owner(&account.root_email).await.unwrap(),
        Some(id.clone())
    );

    // Advancing: only the owner, only from the step it read.
    let mut next = t.clone();
    next.step = Some(TakeoverStep::EmailUpdateStarted);
    next.previous_email = Some("old@customer.example".into());
    next.updated_at = now + Duration::seconds(1);
    let wrong_step = Expect::Step {
        execution: exec.clone(),
        step: Some(TakeoverStep::AwaitingCode),
    };
    let other_owner = Expect::Step {
        execution: "someone-else".into(),
        step: Some(TakeoverStep::Allocated),
    };
    for e in [&wrong_step, &other_owner] {
        assert!(!store
            .save(&account, &next, e, &record(&id, "x"))
            .await
            .unwrap());
    }
    assert_eq!(
        records(audit, &id).await,
        1,
        "a refused write records nothing"
    );
    let owned = Expect::Step {
        execution: exec.clone(),
        step: Some(TakeoverStep::Allocated),
    };
    assert!(store
        .save(
            &account,
            &next,
            &owned,
            &record(&id, "takeover.email-update-started")
        )
        .await
        .unwrap());
    assert_eq!(store.get(&id).await.unwrap().unwrap().1, Some(next.clone()));
    t = next;

    // Adoption by a new execution: only from the execution named.
    let exec2 = fresh("takeover");
    let mut adopted = t.clone();
    adopted.execution = exec2.clone();
    adopted.execution_arn = t.execution_arn.replace(&exec, &exec2);
    adopted.step = Some(TakeoverStep::Allocated);
    let wrong = Expect::Adopt {
        previous: Some("someone-else".into()),
    };
    assert!(!store
        .save(&account, &adopted, &wrong, &record(&id, "x"))
        .await
        .unwrap());
    assert!(!store
        .save(
            &account,
            &adopted,
            &Expect::Adopt { previous: None },
            &record(&id, "x")
        )
        .await
        .unwrap());
    let right = Expect::Adopt {
        previous: Some(exec.clone()),
    };
    assert!(store
        .save(
            &account,
            &adopted,
            &right,
            &record(&id, "takeover.allocated")
        )
        .await
        .unwrap());

    // Activation: active, step cleared; nothing advances it any more.
    let mut active = account.clone();
    active.status = AccountStatus::Active;
    active.rotation_due = Some(now + Duration::days(90));
    let mut done = adopted.clone();
    done.step = None;
    let from = Expect::Step {
        execution: exec2.clone(),
        step: Some(TakeoverStep::Allocated),
    };
    assert!(store
        .save(&active, &done, &from, &record(&id, "takeover.completed"))
        .await
        .unwrap());
    let (a, got) = store.get(&id).await.unwrap().unwrap();
    assert_eq!(a, active);
    assert_eq!(got, Some(done.clone()));
    let after = Expect::Step {
        execution: exec2,
        step: None,
    };
    assert!(
        !store
            .save(&active, &done, &after, &record(&id, "x"))
            .await
            .unwrap(),
        "an active account is not taken over"
    );
    assert_eq!(records(audit, &id).await, 4);
}

/// `seed(account, email)` makes `email` the account's primary email at AWS; `code_of(account)`
/// reads the code AWS mailed for the pending update (what inbound mail would vault); `taken` is
/// an address another AWS account uses.
///
/// A start sends a code to the new address; only that code (of the newest start) is accepted
/// for that address; a wrong code, or an accept without a start, is `WrongCode`; a taken
/// address is `Conflict`; after the accept the primary email is the new address.
///
/// `status`: also the update's status (what only the release function's role may read): none
/// before a start, pending until the accept, accepted after it, and an accept repeated after it
/// refused (`WrongCode`: no update is pending) while the status still says accepted.
pub async fn primary_email_contract<P, Seed, SeedFut, Code, CodeFut>(
    email: &P,
    seed: Seed,
    code_of: Code,
    taken: &RootEmail,
    status: bool,
) where
    P: PrimaryEmail,
    Seed: Fn(AccountId, RootEmail) -> SeedFut,
    SeedFut: Future<Output = ()>,
    Code: Fn(AccountId) -> CodeFut,
    CodeFut: Future<Output = Option<String>>,
{
    let account = fresh_account();
    let old = RootEmail::parse(&format!("old-{account}@customer.example"))
        .unwrap_or_else(|_| unreachable!("valid address"));
    let new = RootEmail::parse(&format!("aws-{account}-contract@root.provider.example"))
        .unwrap_or_else(|_| unreachable!("valid address"));
    seed(account.clone(), old.clone()).await;
    assert_eq!(email.get(&account).await.unwrap(), old);
    if status {
        assert_eq!(email.update_status(&account).await.unwrap(), None);
    }
    let wrong = SecretString::from("000000".to_owned());
    assert!(matches!(
        email.accept_update(&account, &new, &wrong).await,
        Err(PrimaryEmailError::WrongCode(_))
    ));
    assert!(matches!(
        email.start_update(&account, taken).await,
        Err(PrimaryEmailError::Conflict(_))
    ));
    email.start_update(&account, &new).await.unwrap();
    let first = code_of(account.clone()).await.expect("a code was mailed");
    email.start_update(&account, &new).await.unwrap();
    let code = code_of(account.clone()).await.expect("a code was mailed");
    if code != first {
        assert!(
            matches!(
                email
                    .accept_update(&account, &new, &SecretString::from(first))
                    .await,
                Err(PrimaryEmailError::WrongCode(_))
            ),
            "only the newest code counts"
        );
    }
    let bad = if code == "000000" { "111111" } else { "000000" };
    assert!(matches!(
        email
            .accept_update(&account, &new, &SecretString::from(bad.to_owned()))
            .await,
        Err(PrimaryEmailError::WrongCode(_))
    ));
    assert_eq!(
        email.get(&account).await.unwrap(),
        old,
        "nothing changed yet"
    );
    if status {
        assert_eq!(
            email.update_status(&account).await.unwrap(),
            Some(UpdateStatus::Pending)
        );
    }
    let secret = SecretString::from(code);
    email.accept_update(&account, &new, &secret).await.unwrap();
    assert_eq!(email.get(&account).await.unwrap(), new);
    if status {
        assert!(matches!(
            email.accept_update(&account, &new, &secret).await,
            Err(PrimaryEmailError::WrongCode(_))
        ));
        assert_eq!(
            email.update_status(&account).await.unwrap(),
            Some(UpdateStatus::Accepted)
        );
    }
}
