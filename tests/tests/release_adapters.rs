//! The release's AWS adapters over the real SDK against the emulator (as the harness: no
//! function role here makes these calls yet): Organizations (describe, close and its quota),
//! the member account through the member role (invitations, acceptance and its refusals,
//! Control Tower), contacts, the certificate key, the registry item with the release's progress
//! (conditions, audit in the same transaction, the scans) and the vault's crypto-shred.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use chrono::{Duration, SubsecRound, Utc};
use rootwarden::audit::{AuditEntry, AuditLog, DynamoAuditLog, Stream};
use rootwarden::registry::{
    Account, AccountItem, AccountMode, AccountStatus, DynamoAccountRegistry,
};
use rootwarden::release::{
    AccountContacts, AccountContactsApi, CertificateSigner, Contact, Customer, Deps,
    DynamoReleaseStore, DynamoVaultShredder, Exit, Expect, KmsCertificateSigner, MemberAccount,
    MemberAccountApi, MemberStatus, Organizations, OrganizationsApi, OrganizationsError, Release,
    ReleaseStep, ReleaseStore, VaultShredder,
};
use rootwarden::{AccountId, Config, ErrorType, RootEmail, SystemClock};
use rootwarden_tests::Emulator;
use serde_json::json;

const ACTOR: &str = "arn:aws:sts::123456789012:assumed-role/rw-ReleaseFunctionRole/release";
const CUSTOMER_MGMT: &str = "999988887777";

/// Our organization (the harness's account manages it) with `n` created member accounts.
async fn organization(emu: &Emulator, n: usize) -> Vec<AccountId> {
    let orgs = aws_sdk_organizations::Client::new(&emu.sdk_config().await);
    orgs.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let out = orgs
            .create_account()
            .account_name(format!("m{i}"))
            .email(format!("aws-m{i}@root.release.example"))
            .send()
            .await
            .unwrap();
        let id = out.create_account_status().unwrap().account_id().unwrap();
        ids.push(AccountId::parse(id).unwrap());
    }
    ids
}

fn endpoint(
    emu: &Emulator,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, out) = emu.test_endpoint(method, path, Some(&body)).unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {out}"
    );
    out
}

fn config(emu: &Emulator) -> Config {
    let env: HashMap<String, String> = emu.process_env().into_iter().collect();
    Config::from_lookup(|k| env.get(k).cloned()).unwrap()
}

#[tokio::test]
async fn organizations_close_and_describe_a_member() {
    let emu = Emulator::start().await.unwrap();
    let ids = organization(&emu, 12).await;
    let sdk = emu.sdk_config().await;
    let orgs = OrganizationsApi::new(aws_sdk_organizations::Client::new(&sdk), "aws");
    assert_eq!(orgs.partition(), "aws");

    let m = orgs.describe(&ids[0]).await.unwrap().unwrap();
    assert_eq!(m.status, MemberStatus::Active);
    assert!(
        (Utc::now() - m.joined_at).num_seconds().abs() < 120,
        "{m:?}"
    );
    assert_eq!(
        orgs.describe(&AccountId::parse("555566667777").unwrap())
            .await
            .unwrap(),
        None
    );

    // A closure pending, then done: CloseAccount again is done both times.
    orgs.close(&ids[0]).await.unwrap();
    assert_eq!(
        orgs.describe(&ids[0]).await.unwrap().unwrap().status,
        MemberStatus::PendingClosure
    );
    orgs.close(&ids[0]).await.unwrap();
    endpoint(
        &emu,
        "POST",
        &format!(
            "/_rootwarden/organizations/accounts/{}/close/advance",
            ids[0]
        ),
        json!({}),
    );
    assert_eq!(
        orgs.describe(&ids[0]).await.unwrap().unwrap().status,
        MemberStatus::Suspended
    );
    orgs.close(&ids[0]).await.unwrap();

    // 12 members: 10 closures per 30 days, then the quota error saying when.
    for id in &ids[1..10] {
        orgs.close(id).await.unwrap();
    }
    match orgs.close(&ids[10]).await {
        Err(OrganizationsError::CloseQuotaExceeded(m)) => {
            assert!(m.contains("You can close another account after"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rootwarden::LambdaError::from(OrganizationsError::CloseQuotaExceeded(String::new()))
            .error_type,
        ErrorType::CloseQuotaExceeded
    );
    // The management account itself: refused, not done.
    assert!(matches!(
        orgs.close(&AccountId::parse("123456789012").unwrap()).await,
        Err(OrganizationsError::Refused(_))
    ));
}

#[tokio::test]
async fn the_member_role_finds_accepts_and_refuses_invitations_and_sees_control_tower() {
    let emu = Emulator::with_stack().await.unwrap();
    let ids = organization(&emu, 2).await;
    let sdk = emu.sdk_config().await;
    let conf = config(&emu);
    // Deps builds the member role's ARN from the configured role and the partition.
    let deps = Deps::new(&conf, &sdk, Arc::new(SystemClock), ACTOR);
    assert_eq!(
        deps.member.role_arn(&ids[0]),
        format!("arn:aws:iam::{}:role/RootWardenReleaseMember", ids[0])
    );
    assert_eq!(deps.orgs.partition(), "aws");
    let member = deps.member.clone();
    let orgs = OrganizationsApi::new(aws_sdk_organizations::Client::new(&sdk), "aws");
    let acct = &ids[0];

    assert_eq!(member.invitations(acct).await.unwrap(), vec![]);
    assert!(!member.control_tower_enrolled(acct).await.unwrap());
    let path = format!("/_rootwarden/organizations/accounts/{acct}");

    let inv = endpoint(
        &emu,
        "POST",
        "/_rootwarden/organizations/customer-org",
        json!({"account_id": acct.as_str(), "management_account_id": CUSTOMER_MGMT}),
    );
    let found = member.invitations(acct).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let i = &found[0];
    assert_eq!(i.handshake_id, inv["handshake_id"].as_str().unwrap());
    assert_eq!(i.organization_id, inv["organization_id"].as_str().unwrap());
    assert!(
        i.handshake_arn.starts_with("arn:aws:organizations::"),
        "{i:?}"
    );
    assert!(i.expires_at.unwrap() > Utc::now());
    assert!(!i.state.is_empty());

    // Too young, then Control Tower's deny: preconditions the operator must resolve.
    match member.accept(acct, &i.handshake_id).await {
        Err(OrganizationsError::Precondition(m)) => {
            assert!(
                m.contains("ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    endpoint(
        &emu,
        "PUT",
        &path,
        json!({"created_days_ago": 8, "control_tower": true}),
    );
    assert!(member.control_tower_enrolled(acct).await.unwrap());
    match member.accept(acct, &i.handshake_id).await {
        Err(OrganizationsError::Precondition(m)) => assert!(m.contains("Control Tower"), "{m}"),
        other => panic!("{other:?}"),
    }
    endpoint(&emu, "PUT", &path, json!({"control_tower": false}));
    assert!(!member.control_tower_enrolled(acct).await.unwrap());
    assert!(orgs.describe(acct).await.unwrap().is_some());
    member.accept(acct, &i.handshake_id).await.unwrap();
    // Accepting again is done; the account has left us.
    member.accept(acct, &i.handshake_id).await.unwrap();
    assert_eq!(orgs.describe(acct).await.unwrap(), None);

    // A handshake that does not exist: the customer must invite again.
    assert!(matches!(
        member.accept(&ids[1], "h-doesnotexist1").await,
        Err(OrganizationsError::Precondition(_))
    ));
    // No member role in an account outside our organization: refused, never a precondition.
    let outsider = MemberAccountApi::new(&sdk, "aws", "RootWardenReleaseMember");
    let stranger = AccountId::parse("555566667777").unwrap();
    assert!(matches!(
        outsider.invitations(&stranger).await,
        Err(OrganizationsError::Refused(_))
    ));
    assert_eq!(
        outsider
            .control_tower_enrolled(&stranger)
            .await
            .unwrap_err()
            .error_type,
        ErrorType::AwsError
    );
}

#[tokio::test]
async fn contacts_keep_the_address_and_set_every_alternate() {
    let emu = Emulator::start().await.unwrap();
    let ids = organization(&emu, 2).await;
    let sdk = emu.sdk_config().await;
    let account = aws_sdk_account::Client::new(&sdk);
    let contacts = AccountContactsApi::new(account.clone());
    let acct = &ids[0];
    let customer = Contact {
        name: "Customer Ltd".into(),
        phone: "+15550100".into(),
        email: Some("owner@customer.example".into()),
    };

    // Never set: nothing to keep, so nothing written.
    let e = contacts.put_primary(acct, &customer).await.unwrap_err();
    assert_eq!(e.error_type, ErrorType::AwsError, "{e:?}");

    let ours = aws_sdk_account::types::ContactInformation::builder()
        .full_name("Provider Ops")
        .address_line1("1 Provider Way")
        .city("Seattle")
        .state_or_region("WA")
        .postal_code("98109")
        .country_code("US")
        .phone_number("+12065550100")
        .company_name("Provider Inc")
        .build()
        .unwrap();
    account
        .put_contact_information()
        .account_id(acct.as_str())
        .contact_information(ours)
        .send()
        .await
        .unwrap();
    contacts.put_primary(acct, &customer).await.unwrap();
    contacts.put_primary(acct, &customer).await.unwrap();
    let got = account
        .get_contact_information()
        .account_id(acct.as_str())
        .send()
        .await
        .unwrap();
    let ci = got.contact_information().unwrap();
    assert_eq!(
        (ci.full_name(), ci.phone_number()),
        ("Customer Ltd", "+15550100")
    );
    assert_eq!(
        (
            ci.address_line1(),
            ci.city(),
            ci.postal_code(),
            ci.company_name()
        ),
        ("1 Provider Way", "Seattle", "98109", Some("Provider Inc"))
    );

    contacts.put_alternates(acct, &customer).await.unwrap();
    for kind in rootwarden::release::ALTERNATE_TYPES {
        let out = account
            .get_alternate_contact()
            .account_id(acct.as_str())
            .alternate_contact_type(kind.clone())
            .send()
            .await
            .unwrap();
        let c = out.alternate_contact().unwrap();
        assert_eq!(
            c.email_address(),
            Some("owner@customer.example"),
            "{kind:?}"
        );
        assert_eq!(c.name(), Some("Customer Ltd"));
        assert_eq!(c.phone_number(), Some("+15550100"));
    }
    let no_email = Contact {
        email: None,
        ..customer.clone()
    };
    assert_eq!(
        contacts
            .put_alternates(&ids[1], &no_email)
            .await
            .unwrap_err()
            .error_type,
        ErrorType::ValidationError
    );
    // Not a member of our organization: AWS refuses.
    let stranger = AccountId::parse("555566667777").unwrap();
    assert_eq!(
        contacts
            .put_alternates(&stranger, &customer)
            .await
            .unwrap_err()
            .error_type,
        ErrorType::AwsError
    );
}

#[tokio::test]
async fn the_certificate_key_signs_what_its_public_key_verifies() {
    let emu = Emulator::start().await.unwrap();
    let kms = aws_sdk_kms::Client::new(&emu.sdk_config().await);
    let key = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let signer = KmsCertificateSigner::new(kms.clone(), &key_id);
    let statement = br#"{"version":1,"account_id":"111122223333","exit":"handback"}"#;
    let sig = signer.sign(statement).await.unwrap();
    assert_eq!(sig.algorithm, "ECDSA_SHA_256");
    assert!(sig.key_id.contains(&key_id), "{}", sig.key_id);
    assert_eq!(sig.der[0], 0x30, "a DER SEQUENCE");
    let verify = |message: &'static [u8], der: Vec<u8>| {
        let kms = kms.clone();
        let key_id = key_id.clone();
        async move {
            kms.verify()
                .key_id(key_id)
                .message(Blob::new(message))
                .message_type(MessageType::Raw)
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .signature(Blob::new(der))
                .send()
                .await
                .map(|o| o.signature_valid())
                .unwrap_or(false)
        }
    };
    assert!(verify(statement, sig.der.clone()).await);
    assert!(!verify(br#"{"version":1,"account_id":"999999999999"}"#, sig.der).await);
    let public = signer.public_key().await.unwrap();
    assert_eq!(public[0], 0x30);
    assert!(public.len() > 80, "SubjectPublicKeyInfo of a P-256 key");

    assert_eq!(
        signer.sign(&[b'x'; 4097]).await.unwrap_err().error_type,
        ErrorType::InternalError
    );
    let unset = KmsCertificateSigner::new(kms.clone(), "");
    assert_eq!(
        unset.sign(b"x").await.unwrap_err().error_type,
        ErrorType::ConfigError
    );
    assert_eq!(
        unset.public_key().await.unwrap_err().error_type,
        ErrorType::ConfigError
    );
}

fn account(id: &AccountId, status: AccountStatus) -> Account {
    let now = Utc::now().trunc_subsecs(0);
    Account {
        account_id: id.clone(),
        root_email: RootEmail::parse(&format!("aws-{id}@root.release.example")).unwrap(),
        name: Some(format!("acct {id}")),
        status,
        mode: AccountMode::Vaulted,
        max_age_days: 90,
        contacts: vec!["ops@provider.example".into()],
        onboarded_at: now - Duration::days(100),
        last_rotated_at: Some(now - Duration::days(10)),
        rotation_due: Some(now + Duration::days(80)),
        rotation_reason: None,
        rotation_execution: None,
        posture: None,
        posture_checked_at: None,
        recovery_until: None,
    }
}

fn release(id: &AccountId, exit: Exit, execution: &str) -> Release {
    let now = Utc::now().trunc_subsecs(0);
    Release {
        account_id: id.clone(),
        exit,
        execution: execution.into(),
        execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:m:{execution}"),
        request_id: "8f14e45f".into(),
        requested_by: "arn:aws:sts::123456789012:assumed-role/rw-OperatorRole/alice".into(),
        approved_by: vec!["arn:aws:sts::123456789012:assumed-role/rw-OperatorRole/bob".into()],
        reason: "customer leaves".into(),
        ticket: "T-14".into(),
        customer: (exit != Exit::Close).then(|| Customer {
            email: Some(RootEmail::parse("owner@customer.example").unwrap()),
            phone: "+15550100".into(),
            name: None,
        }),
        customer_org: (exit == Exit::Transfer).then(|| "o-customer123".into()),
        keep_email: false,
        step: Some(ReleaseStep::Begun),
        previous_status: AccountStatus::Active,
        previous_email: None,
        resends: 0,
        polls: 0,
        poll_seconds: 7,
        invitation_timeout_seconds: 3600,
        removed: vec![],
        cancel_requested_by: None,
        stopped: None,
        point_of_no_return_at: None,
        closed_at: None,
        shred_after: None,
        shredded_at: None,
        started_at: now,
        updated_at: now,
    }
}

fn record(id: &AccountId, action: &str) -> AuditEntry {
    AuditEntry::new(Stream::Account(id.clone()), ACTOR, action).target(id.as_str())
}

struct Registry {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    store: DynamoReleaseStore,
    audit: DynamoAuditLog,
}

impl Registry {
    async fn new(emu: &Emulator) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
        let table = emu.env("ROOTWARDEN_ACCOUNTS_TABLE");
        let audit = DynamoAuditLog::new(
            ddb.clone(),
            emu.env("ROOTWARDEN_AUDIT_TABLE"),
            Arc::new(SystemClock),
        );
        let store = DynamoReleaseStore::new(
            DynamoAccountRegistry::new(ddb.clone(), &table),
            audit.clone(),
        );
        Self {
            ddb,
            table,
            store,
            audit,
        }
    }

    async fn seed(&self, a: &Account, extra: &[(&str, &str)]) {
        let mut item = a.to_item();
        for (k, v) in extra {
            item.insert((*k).into(), AttributeValue::S((*v).into()));
        }
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    async fn item(&self, id: &AccountId) -> HashMap<String, AttributeValue> {
        self.ddb
            .get_item()
            .table_name(&self.table)
            .key("account_id", AttributeValue::S(id.as_str().into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    async fn actions(&self, id: &AccountId) -> Vec<String> {
        self.audit
            .read_stream(&format!("account/{id}"))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.unwrap().action)
            .collect()
    }
}

#[tokio::test]
async fn the_release_store_writes_state_and_audit_together_under_its_conditions() {
    let emu = Emulator::with_stack().await.unwrap();
    let reg = Registry::new(&emu).await;
    let store = &reg.store;
    let id = AccountId::parse("111122223333").unwrap();
    let active = account(&id, AccountStatus::Active);
    reg.seed(&active, &[("takeover_execution", "takeover-old")])
        .await;
    assert!(reg.item(&id).await.contains_key("due_shard"));
    assert_eq!(store.get(&id).await.unwrap(), Some((active.clone(), None)));

    // begin: active and no release recorded
    let mut releasing = active.clone();
    releasing.status = AccountStatus::Releasing;
    let mut r = release(&id, Exit::Transfer, "release-111122223333-a");
    let begin = Expect::Begin {
        status: AccountStatus::Active,
        previous: None,
    };
    assert!(store
        .save(&releasing, &r, &begin, &record(&id, "release.begun"))
        .await
        .unwrap());
    // the same begin again (a retry, a second execution): the condition fails, nothing written
    assert!(!store
        .save(&releasing, &r, &begin, &record(&id, "release.begun"))
        .await
        .unwrap());
    let item = reg.item(&id).await;
    assert!(
        !item.contains_key("due_shard"),
        "the rotation sweep no longer sees it"
    );
    assert_eq!(item["takeover_execution"].as_s().unwrap(), "takeover-old");
    assert_eq!(
        store.get(&id).await.unwrap(),
        Some((releasing.clone(), Some(r.clone())))
    );

    // a step: owned by the execution, at the step read
    let step = Expect::Step {
        execution: r.execution.clone(),
        step: Some(ReleaseStep::Begun),
    };
    let mut next = r.clone();
    next.step = Some(ReleaseStep::PreconditionsChecked);
    next.removed = vec!["login-profile".into()];
    assert!(store
        .save(
            &releasing,
            &next,
            &step,
            &record(&id, "release.check-transfer")
        )
        .await
        .unwrap());
    assert!(!store
        .save(
            &releasing,
            &next,
            &step,
            &record(&id, "release.check-transfer")
        )
        .await
        .unwrap());
    let other = Expect::Step {
        execution: "release-111122223333-b".into(),
        step: Some(ReleaseStep::PreconditionsChecked),
    };
    assert!(!store
        .save(&releasing, &next, &other, &record(&id, "release.x"))
        .await
        .unwrap());
    let none = Expect::Step {
        execution: r.execution.clone(),
        step: None,
    };
    assert!(!store
        .save(&releasing, &next, &none, &record(&id, "release.x"))
        .await
        .unwrap());

    // resume: a new execution adopts the release it read
    r = next.clone();
    r.execution = "release-111122223333-b".into();
    r.stopped = None;
    let adopt = Expect::Begin {
        status: AccountStatus::Releasing,
        previous: Some("release-111122223333-wrong".into()),
    };
    assert!(!store
        .save(&releasing, &r, &adopt, &record(&id, "release.begun"))
        .await
        .unwrap());
    let adopt = Expect::Begin {
        status: AccountStatus::Releasing,
        previous: Some(next.execution.clone()),
    };
    assert!(store
        .save(&releasing, &r, &adopt, &record(&id, "release.begun"))
        .await
        .unwrap());
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().1.unwrap().execution,
        r.execution
    );

    // one audit record per written state change, none for a refused one
    assert_eq!(
        reg.actions(&id).await,
        ["release.begun", "release.check-transfer", "release.begun"]
    );

    // a step on an account never registered: refused, and no item appears
    let ghost = AccountId::parse("999900001111").unwrap();
    let gr = release(&ghost, Exit::Close, "release-999900001111-a");
    let gstep = Expect::Step {
        execution: gr.execution.clone(),
        step: Some(ReleaseStep::Begun),
    };
    let ga = account(&ghost, AccountStatus::Releasing);
    assert!(!store
        .save(&ga, &gr, &gstep, &record(&ghost, "release.x"))
        .await
        .unwrap());
    assert_eq!(store.get(&ghost).await.unwrap(), None);
    assert_eq!(
        store
            .save(&active, &gr, &gstep, &record(&id, "release.x"))
            .await
            .unwrap_err()
            .error_type,
        ErrorType::InternalError,
        "a release is never written onto another account's item"
    );

    // the certificate: once, the same bytes again are a no-op, other bytes a conflict
    assert_eq!(store.certificate(&id).await.unwrap(), None);
    store
        .put_certificate(&id, r#"{"statement":{}}"#)
        .await
        .unwrap();
    store
        .put_certificate(&id, r#"{"statement":{}}"#)
        .await
        .unwrap();
    assert_eq!(
        store
            .put_certificate(&id, r#"{"statement":{"x":1}}"#)
            .await
            .unwrap_err()
            .error_type,
        ErrorType::Conflict
    );
    assert_eq!(
        store
            .put_certificate(&ghost, "{}")
            .await
            .unwrap_err()
            .error_type,
        ErrorType::NotFound
    );
    // a later save leaves the certificate alone
    let step = Expect::Step {
        execution: r.execution.clone(),
        step: r.step,
    };
    let mut certified = r.clone();
    certified.step = Some(ReleaseStep::Certified);
    assert!(store
        .save(
            &releasing,
            &certified,
            &step,
            &record(&id, "release.certify")
        )
        .await
        .unwrap());
    assert_eq!(
        store.certificate(&id).await.unwrap().as_deref(),
        Some(r#"{"statement":{}}"#)
    );
}

#[tokio::test]
async fn the_closure_scans_find_recent_closures_and_unshredded_closed_accounts() {
    let emu = Emulator::with_stack().await.unwrap();
    let reg = Registry::new(&emu).await;
    let now = Utc::now().trunc_subsecs(0);
    let mut seeded = Vec::new();
    for (i, (status, ponr_days, shredded)) in [
        (AccountStatus::Closed, 10, false),
        (AccountStatus::Closed, 40, false),
        (AccountStatus::Closed, 100, true),
        (AccountStatus::Releasing, 1, false),
    ]
    .into_iter()
    .enumerate()
    {
        let id = AccountId::parse(&format!("30000000000{i}")).unwrap();
        reg.seed(&account(&id, AccountStatus::Active), &[]).await;
        let mut r = release(&id, Exit::Close, &format!("release-{id}-a"));
        r.point_of_no_return_at = Some(now - Duration::days(ponr_days));
        if status == AccountStatus::Closed {
            r.step = Some(ReleaseStep::Closed);
            r.closed_at = r.point_of_no_return_at;
            r.shred_after = r.closed_at.map(|t| t + Duration::days(90));
        }
        if shredded {
            r.step = Some(ReleaseStep::Shredded);
            r.shredded_at = Some(now - Duration::days(1));
        }
        let begin = Expect::Begin {
            status: AccountStatus::Active,
            previous: None,
        };
        let a = account(&id, status);
        assert!(reg
            .store
            .save(&a, &r, &begin, &record(&id, "release.begun"))
            .await
            .unwrap());
        seeded.push((a, r));
    }
    // a hand-back past its point of no return is not a closure
    let h = AccountId::parse("300000000009").unwrap();
    reg.seed(&account(&h, AccountStatus::Active), &[]).await;
    let mut hr = release(&h, Exit::Handback, "release-300000000009-a");
    hr.point_of_no_return_at = Some(now);
    let begin = Expect::Begin {
        status: AccountStatus::Active,
        previous: None,
    };
    let ha = account(&h, AccountStatus::Releasing);
    assert!(reg
        .store
        .save(&ha, &hr, &begin, &record(&h, "release.begun"))
        .await
        .unwrap());

    let since = reg
        .store
        .closures_since(now - Duration::days(30))
        .await
        .unwrap();
    assert_eq!(
        since,
        vec![now - Duration::days(10), now - Duration::days(1)]
    );
    let closed = reg.store.closed().await.unwrap();
    assert_eq!(closed, vec![seeded[0].clone(), seeded[1].clone()]);
}

async fn put_vault_item(ddb: &aws_sdk_dynamodb::Client, table: &str, pk: &str, sk: &str) {
    ddb.put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.into()))
        .item("sk", AttributeValue::S(sk.into()))
        .item(
            "ciphertext",
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![7; 64])),
        )
        .send()
        .await
        .unwrap();
}

async fn count(ddb: &aws_sdk_dynamodb::Client, table: &str, pk: &str) -> usize {
    ddb.query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count() as usize
}

#[tokio::test]
async fn the_shredder_audits_first_then_deletes_every_vault_item_of_the_account() {
    let emu = Emulator::with_stack().await.unwrap();
    let reg = Registry::new(&emu).await;
    let ddb = reg.ddb.clone();
    let vault = emu.env("ROOTWARDEN_VAULT_TABLE");
    let id = AccountId::parse("111122223333").unwrap();
    let other = AccountId::parse("444455556666").unwrap();
    let pw = format!("cred#{id}#root-password");
    let seed = format!("cred#{id}#mfa-seed");
    let transient = format!("transient#{id}");
    let seed_all = || async {
        put_vault_item(&ddb, &vault, &pw, "head").await;
        for v in 1..=30 {
            put_vault_item(&ddb, &vault, &pw, &format!("v#{v:010}")).await;
        }
        put_vault_item(&ddb, &vault, &seed, "head").await;
        put_vault_item(&ddb, &vault, &seed, "v#0000000001").await;
        put_vault_item(&ddb, &vault, &transient, "verification-code#1").await;
    };
    seed_all().await;
    put_vault_item(&ddb, &vault, &format!("cred#{other}#root-password"), "head").await;
    put_vault_item(&ddb, &vault, &format!("transient#{other}"), "x").await;
    assert_eq!(
        rootwarden::release::vault_partitions(&id),
        vec![pw.clone(), seed.clone(), transient.clone()]
    );

    // the audit record cannot be written: nothing is deleted
    let broken = DynamoVaultShredder::new(
        ddb.clone(),
        &vault,
        DynamoAuditLog::new(ddb.clone(), "no-such-audit-table", Arc::new(SystemClock)),
    );
    let e = broken
        .shred(&id, &record(&id, "release.shredded"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type, ErrorType::AuditWriteFailed, "{e:?}");
    assert_eq!(count(&ddb, &vault, &pw).await, 31);

    let shredder = DynamoVaultShredder::new(ddb.clone(), &vault, reg.audit.clone());
    assert_eq!(
        shredder
            .shred(&id, &record(&id, "release.shredded"))
            .await
            .unwrap(),
        34
    );
    for pk in [&pw, &seed, &transient] {
        assert_eq!(count(&ddb, &vault, pk).await, 0, "{pk}");
    }
    assert_eq!(
        count(&ddb, &vault, &format!("cred#{other}#root-password")).await,
        1
    );
    assert_eq!(count(&ddb, &vault, &format!("transient#{other}")).await, 1);
    // a retry finds nothing left and still leaves its record
    assert_eq!(
        shredder
            .shred(&id, &record(&id, "release.shredded"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        reg.actions(&id).await,
        ["release.shredded", "release.shredded"]
    );
}
