//! Signed audit digests on the emulator: digests of every chain head written to the audit table,
//! signed by the stack's asymmetric DigestKey (KMS `Sign`), chained, and verified with KMS
//! `Verify`; then tampering with records and digests directly in the table, through the library
//! and through `rootwarden audit verify`.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use rootwarden::audit::digest::{self, Digest, DigestFault};
use rootwarden::audit::{
    self, AuditEntry, AuditLog, DigestCheck, DigestSigner, DigestStore, DynamoAuditLog,
    DynamoDigestStore, Fault, KmsDigestSigner, StoredDigest, Stream, GENESIS_HASH,
};
use rootwarden::{AccountId, SystemClock};
use rootwarden_tests::{build_functions, cli_bin, Emulator};

const A: &str = "111111111111";
const B: &str = "222222222222";

fn account(id: &str) -> Stream {
    Stream::Account(AccountId::parse(id).unwrap())
}

struct Setup {
    emu: Emulator,
    log: DynamoAuditLog,
    store: DynamoDigestStore,
    /// Signs as the hourly digest job's role (the only one that may Sign).
    signer: KmsDigestSigner,
    /// Verifies as the daily verifier's role (Verify only).
    verifier: KmsDigestSigner,
    ddb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Setup {
    /// Records in three chains (A: 3, B: 2, system: 1), then two digests of them.
    async fn new() -> Self {
        let s = Self::empty().await;
        for (stream, n) in [(account(A), 3), (account(B), 2), (Stream::System, 1)] {
            for i in 0..n {
                s.log
                    .append(
                        &AuditEntry::new(
                            stream.clone(),
                            "arn:aws:iam::1:user/op",
                            "audit.annotate",
                        )
                        .reason(format!("note {i}")),
                    )
                    .await
                    .unwrap();
            }
        }
        for _ in 0..2 {
            s.digest().await;
        }
        s
    }

    async fn empty() -> Self {
        let emu = Emulator::with_stack().await.unwrap();
        let table = emu.env("ROOTWARDEN_AUDIT_TABLE");
        let sdk = emu.sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let log = DynamoAuditLog::new(ddb.clone(), &table, Arc::new(SystemClock));
        let key = emu.env("ROOTWARDEN_DIGEST_KEY");
        let signer =
            KmsDigestSigner::from_conf(&emu.role_config("AuditDigestFunction").await, &key);
        let verifier =
            KmsDigestSigner::from_conf(&emu.role_config("AuditVerifierFunction").await, &key);
        Self {
            store: DynamoDigestStore::new(log.clone()),
            emu,
            log,
            signer,
            verifier,
            ddb,
            table,
        }
    }

    async fn digest(&self) -> StoredDigest {
        audit::write_digest(&self.store, &self.signer, &SystemClock)
            .await
            .unwrap()
    }

    async fn verify(&self) -> audit::FullReport {
        audit::verify_with_digests(&self.log, &self.store, Some(&self.verifier), None)
            .await
            .unwrap()
    }

    fn key(stream: &str, seq: u64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("stream".to_owned(), AttributeValue::S(stream.to_owned())),
            ("seq".to_owned(), AttributeValue::N(seq.to_string())),
        ])
    }

    async fn get(&self, stream: &str, seq: u64) -> HashMap<String, AttributeValue> {
        self.ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(stream, seq)))
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    async fn put(&self, item: HashMap<String, AttributeValue>) {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    async fn delete(&self, stream: &str, seq: u64) {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(stream, seq)))
            .send()
            .await
            .unwrap();
    }

    /// `rootwarden audit verify` with the stack's environment minus `without`.
    fn cli_verify(&self, without: Option<&str>) -> (i32, String) {
        build_functions().unwrap();
        let env: Vec<(String, String)> = self
            .emu
            .process_env()
            .into_iter()
            .filter(|(k, _)| Some(k.as_str()) != without)
            .collect();
        let mut cmd = Command::new(cli_bin());
        cmd.args(["audit", "verify"]).env_clear().envs(env);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn digests_are_signed_by_the_asymmetric_key_chained_and_verified() {
    let t = Setup::new().await;
    // The stack's digest key is an ECC signing key.
    let kms = aws_sdk_kms::Client::new(&t.emu.sdk_config().await);
    let meta = kms
        .describe_key()
        .key_id(t.emu.env("ROOTWARDEN_DIGEST_KEY"))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_spec().map(|k| k.as_str()), Some("ECC_NIST_P256"));
    assert_eq!(meta.key_usage().map(|k| k.as_str()), Some("SIGN_VERIFY"));

    let digests: Vec<StoredDigest> = t
        .store
        .digests()
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(digests.len(), 2);
    assert_eq!(digests[0].digest.seq, 1);
    assert_eq!(digests[0].digest.prev_digest_hash, GENESIS_HASH);
    assert_eq!(digests[1].digest.prev_digest_hash, digests[0].digest_hash);
    assert_eq!(digests[1].signing_algorithm, "ECDSA_SHA_256");
    assert_eq!(digests[1].key_id, meta.arn().unwrap());
    let (heads, faults) = digest::load_heads(&t.store, &digests[1]).await.unwrap();
    assert!(faults.is_empty(), "{faults:?}");
    let heads: Vec<(&str, u64)> = heads
        .values()
        .map(|h| (h.stream.as_str(), h.last_seq))
        .collect();
    assert_eq!(
        heads,
        vec![
            ("account/111111111111", 3),
            ("account/222222222222", 2),
            ("system", 1)
        ]
    );
    // Stored as laid out: binary signature, hash over the canonical bytes.
    let item = t.get(digest::DIGEST_STREAM, 2).await;
    assert!(
        matches!(item["signature"], AttributeValue::B(_)),
        "{item:?}"
    );
    assert_eq!(
        item["digest_hash"],
        s(&digests[1].digest.compute_hash()),
        "hash of the canonical bytes"
    );
    // KMS Verify really checks: a signature over another digest does not verify.
    let (other, _) = Digest::new(9, chrono::Utc::now(), GENESIS_HASH, vec![]);
    assert!(t
        .verifier
        .verify(&digests[1].digest.hash_bytes(), &digests[1].signature)
        .await
        .unwrap());
    assert!(!t
        .verifier
        .verify(&other.hash_bytes(), &digests[1].signature)
        .await
        .unwrap());

    let report = t.verify().await;
    assert!(report.is_ok(), "{report:#?}");
    match &report.digests {
        DigestCheck::Checked {
            digests, latest, ..
        } => {
            assert_eq!(*digests, 2);
            assert_eq!(latest.as_ref().map(|l| (l.seq, l.streams)), Some((2, 3)));
        }
        other => panic!("{other:?}"),
    }
    // Record verification ignores the `digest` stream that shares the table.
    let chains = audit::verify(&t.log, None).await.unwrap();
    assert!(chains.is_ok(), "{chains:?}");
    assert_eq!(chains.chains.len(), 3);
    assert_eq!(t.log.streams().await.unwrap().len(), 3);

    // Two writers at once: both land, on distinct sequence numbers, and the chain holds.
    let (x, y) = tokio::join!(t.digest(), t.digest());
    let mut seqs = [x.digest.seq, y.digest.seq];
    seqs.sort();
    assert_eq!(seqs, [3, 4]);
    assert!(t.verify().await.is_ok());

    let (code, text) = t.cli_verify(None);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("3 chains, 6 records, all intact; 4 digests verified"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_newest_record_is_reported_as_truncation_by_library_and_cli() {
    let t = Setup::new().await;
    t.delete("account/111111111111", 3).await;
    let report = t.verify().await;
    // The hash chain alone cannot see it.
    assert!(
        report.chains.iter().all(|c| c.fault.is_none()),
        "{report:#?}"
    );
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::Truncated {
            stream: "account/111111111111".into(),
            digest_seq: 2,
            last_seq: 3,
            chain_ends: 2
        }]
    );
    let (code, text) = t.cli_verify(None);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("TRUNCATED"), "{text}");
    assert!(
        text.contains("account/111111111111: truncated: records deleted after the last digest"),
        "{text}"
    );
    assert!(!text.contains("MODIFIED"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn modifying_a_record_is_reported_as_modification() {
    let t = Setup::new().await;
    // A field edited at the head of B: both the chain and the digest see it.
    let mut item = t.get("account/222222222222", 2).await;
    item.insert("reason".into(), s("nothing to see here"));
    t.put(item).await;
    let report = t.verify().await;
    let b = report
        .chains
        .iter()
        .find(|c| c.stream == "account/222222222222")
        .unwrap();
    assert_eq!(b.fault, Some(Fault::Modified { seq: 2 }));
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::HeadModified {
            stream: "account/222222222222".into(),
            digest_seq: 2,
            seq: 2
        }]
    );
    // The head of A rewritten as a well-formed record, correctly linked: only the digest sees it.
    let prev = match t.get("account/111111111111", 2).await.get("hash") {
        Some(AttributeValue::S(h)) => h.clone(),
        other => panic!("{other:?}"),
    };
    let forged = audit::AuditRecord::seal(
        &AuditEntry::new(account(A), "arn:aws:iam::1:user/mallory", "audit.annotate"),
        3,
        &prev,
        chrono::Utc::now(),
    );
    let mut item = t.get("account/111111111111", 3).await;
    for (k, v) in [
        ("ts", &forged.timestamp),
        ("actor", &forged.actor),
        ("reason", &forged.reason),
        ("details", &forged.details),
        ("hash", &forged.hash),
    ] {
        item.insert(k.into(), s(v));
    }
    t.put(item).await;
    let report = t.verify().await;
    let a = report
        .chains
        .iter()
        .find(|c| c.stream == "account/111111111111")
        .unwrap();
    assert_eq!(a.fault, None, "the rewritten chain is self-consistent");
    assert!(
        report.digest_faults().contains(&DigestFault::HeadModified {
            stream: "account/111111111111".into(),
            digest_seq: 2,
            seq: 3
        }),
        "{:#?}",
        report.digest_faults()
    );
    let (code, text) = t.cli_verify(None);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("account/111111111111: modified: record 3"),
        "{text}"
    );
    assert!(!text.contains("truncat"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_digest_heads_or_signature_fail_kms_verify() {
    let t = Setup::new().await;
    // Digest 2 claims A ended at record 2 (to hide a later deletion): a forged page stored under
    // its own hash, digest 2 pointed at it, hash recomputed to match.
    let mut item = t.get(digest::DIGEST_STREAM, 2).await;
    let mut stored = digest::from_item(&item).unwrap();
    let (heads, _) = digest::load_heads(&t.store, &stored).await.unwrap();
    let mut heads: Vec<_> = heads.into_values().collect();
    heads[0].last_seq = 2;
    let page = digest::paginate(heads).remove(0);
    t.put(digest::page_to_item(&page)).await;
    stored.digest.page_hashes = vec![page.compute_hash()];
    stored.digest_hash = stored.digest.compute_hash();
    let forged = digest::to_item(&stored);
    item.insert("page_hashes".into(), forged["page_hashes"].clone());
    item.insert("digest_hash".into(), forged["digest_hash"].clone());
    t.put(item).await;
    // Digest 1's signature bytes altered.
    let mut item = t.get(digest::DIGEST_STREAM, 1).await;
    let mut sig = item["signature"].as_b().unwrap().clone().into_inner();
    let last = sig.len() - 1;
    sig[last] ^= 0x01;
    item.insert(
        "signature".into(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(sig)),
    );
    t.put(item).await;
    let report = t.verify().await;
    let faults = report.digest_faults();
    assert!(
        matches!(
            faults,
            [
                DigestFault::SignatureInvalid { seq: 1, .. },
                DigestFault::SignatureInvalid { seq: 2, .. }
            ]
        ),
        "{faults:#?}"
    );
    assert!(faults[0].to_string().contains("signature invalid"));
    let (code, text) = t.cli_verify(None);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("digest 2: signature invalid"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_digest_chain_link_is_reported() {
    let t = Setup::new().await;
    // Someone able to call Sign replaces digest 1 with a validly signed digest of nothing.
    let (forged, _) = Digest::new(1, chrono::Utc::now(), GENESIS_HASH, vec![]);
    let sig = t.signer.sign(&forged.hash_bytes()).await.unwrap();
    t.put(digest::to_item(&StoredDigest {
        digest_hash: forged.compute_hash(),
        digest: forged,
        signature: sig.bytes,
        key_id: sig.key_id,
        signing_algorithm: sig.algorithm,
    }))
    .await;
    let report = t.verify().await;
    assert_eq!(
        report.digest_faults(),
        &[DigestFault::Unlinked { seq: 2, prev: 1 }]
    );
    let (code, text) = t.cli_verify(None);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("digest 2 does not link to digest 1: the digest chain is broken"),
        "{text}"
    );
    // A deleted digest is a gap.
    t.delete(digest::DIGEST_STREAM, 1).await;
    assert_eq!(
        t.verify().await.digest_faults(),
        &[DigestFault::Missing { seq: 1 }]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_digest_or_a_key_the_cli_verifies_chains_and_says_so() {
    let t = Setup::empty().await;
    t.log
        .append(&AuditEntry::new(account(A), "arn:a", "audit.annotate"))
        .await
        .unwrap();
    let (code, text) = t.cli_verify(None);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("no digest yet: chains verified only"),
        "{text}"
    );
    t.digest().await;
    // Digests exist but the key is not configured: not a failure, but said clearly.
    t.delete("account/111111111111", 1).await;
    let (code, text) = t.cli_verify(Some("ROOTWARDEN_DIGEST_KEY"));
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("1 digests exist but ROOTWARDEN_DIGEST_KEY is not set: digests NOT checked"),
        "{text}"
    );
    // With the key, the deletion is found.
    let (code, text) = t.cli_verify(None);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("the stream is now missing"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lambda_binary_writes_digests_the_cli_verifies() {
    build_functions().unwrap();
    let emu = Emulator::with_functions().await.unwrap();
    let sdk = emu.sdk_config().await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let name = emu.stack().resources["AuditDigestFunction"]
        .physical_id
        .clone()
        .unwrap();
    let log = DynamoAuditLog::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        emu.env("ROOTWARDEN_AUDIT_TABLE"),
        Arc::new(SystemClock),
    );
    log.append(&AuditEntry::new(account(A), "arn:a", "audit.annotate"))
        .await
        .unwrap();
    let invoke = |payload: &'static str| {
        lambda
            .invoke()
            .function_name(&name)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
    };
    // The scheduler's `{}`, twice: two chained digests.
    let mut outs = Vec::new();
    for _ in 0..2 {
        let out = invoke("{}").await.unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        assert_eq!(out.function_error(), None, "{body}");
        outs.push(body);
    }
    assert_eq!(
        (outs[0]["seq"].as_u64(), outs[0]["streams"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(outs[1]["seq"], 2);
    assert_eq!(outs[1]["prev_digest_hash"], outs[0]["digest_hash"]);
    let bad = invoke(r#"{"now": "later"}"#).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(bad.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "ValidationError", "{body}");
    // Signed by the stack's key, as the verifier (with only the key ARN) confirms.
    let out = Command::new(cli_bin())
        .args(["audit", "verify"])
        .envs(emu.process_env())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 digests verified"), "{text}");
}
