//! The handover certificate: a statement of what was handed over, signed by the certificate
//! key (KMS, ECDSA P-256 with SHA-256). The signed bytes are the statement's canonical JSON:
//! serde_json of [`CertificateStatement`] (fixed field order, no whitespace). Anyone holding the
//! published public key (DER SubjectPublicKeyInfo) verifies it offline ([`verify_certificate`]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature as EcdsaSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};

use super::ports::Signature;

/// The only algorithm a certificate is signed with.
pub const ALGORITHM: &str = "ECDSA_SHA_256";
/// The statement format.
pub const VERSION: u32 = 1;

/// The head of the account's audit chain at handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHead {
    pub stream: String,
    pub sequence: u64,
    pub hash: String,
}

/// What the certificate states. Field order is the signed order: never reorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateStatement {
    pub version: u32,
    pub account_id: String,
    pub exit: String,
    pub new_root_email: Option<String>,
    pub removed: Vec<String>,
    pub customer_org: Option<String>,
    pub released_at: String,
    pub audit_head: AuditHead,
    pub request_id: String,
    pub approved_by: Vec<String>,
}

/// The certificate as stored and handed to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub statement: CertificateStatement,
    /// Base64 of the DER signature.
    pub signature: String,
    pub key_id: String,
    pub algorithm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("not a handover certificate: {0}")]
    Malformed(String),
    #[error("unsupported certificate: {0}")]
    Unsupported(String),
    #[error("the public key is not a P-256 SubjectPublicKeyInfo (DER): {0}")]
    PublicKey(String),
    #[error("the signature does not verify: the certificate was altered or signed by another key")]
    BadSignature,
}

/// The bytes the key signs: the statement's canonical JSON.
pub fn signing_bytes(statement: &CertificateStatement) -> Vec<u8> {
    // A struct of strings, numbers and lists serializes infallibly.
    serde_json::to_vec(statement).unwrap_or_default()
}

/// The certificate JSON for `statement` signed with `signature`.
pub fn assemble(statement: CertificateStatement, signature: &Signature) -> String {
    let cert = Certificate {
        statement,
        signature: STANDARD.encode(&signature.der),
        key_id: signature.key_id.clone(),
        algorithm: signature.algorithm.clone(),
    };
    serde_json::to_string_pretty(&cert).unwrap_or_default()
}

/// Checks `json` against the public key (DER SubjectPublicKeyInfo) and returns what it states.
pub fn verify_certificate(
    json: &str,
    public_key_der: &[u8],
) -> Result<CertificateStatement, CertificateError> {
    let cert: Certificate =
        serde_json::from_str(json).map_err(|e| CertificateError::Malformed(e.to_string()))?;
    if cert.algorithm != ALGORITHM {
        return Err(CertificateError::Unsupported(format!(
            "algorithm {:?}",
            cert.algorithm
        )));
    }
    if cert.statement.version != VERSION {
        return Err(CertificateError::Unsupported(format!(
            "statement version {}",
            cert.statement.version
        )));
    }
    let key = VerifyingKey::from_public_key_der(public_key_der)
        .map_err(|e| CertificateError::PublicKey(e.to_string()))?;
    let der = STANDARD
        .decode(cert.signature.trim())
        .map_err(|_| CertificateError::BadSignature)?;
    let sig = EcdsaSignature::from_der(&der).map_err(|_| CertificateError::BadSignature)?;
    key.verify(&signing_bytes(&cert.statement), &sig)
        .map_err(|_| CertificateError::BadSignature)?;
    Ok(cert.statement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::SigningKey;
    use p256::pkcs8::EncodePublicKey;

    fn statement() -> CertificateStatement {
        CertificateStatement {
            version: 1,
            account_id: "111122223333".into(),
            exit: "handback".into(),
            new_root_email: Some("owner@customer.example".into()),
            removed: vec!["mfa:arn:aws:iam::111122223333:mfa/root".into()],
            customer_org: None,
            released_at: "2026-12-01T10:00:00Z".into(),
            audit_head: AuditHead {
                stream: "account/111122223333".into(),
                sequence: 9,
                hash: "ab".repeat(32),
            },
            request_id: "AR-20261201-0011223344".into(),
            approved_by: vec!["arn:aws:iam::999988887777:user/bob".into()],
        }
    }

    fn signed(key: &SigningKey) -> String {
        let s = statement();
        let sig: EcdsaSignature = key.sign(&signing_bytes(&s));
        assemble(
            s,
            &Signature {
                key_id: "key-1".into(),
                algorithm: ALGORITHM.into(),
                der: sig.to_der().as_bytes().to_vec(),
            },
        )
    }

    #[test]
    fn signing_bytes_are_compact_and_ordered() {
        let b = String::from_utf8(signing_bytes(&statement())).unwrap();
        assert!(b.starts_with(r#"{"version":1,"account_id":"111122223333","exit":"handback""#));
        assert!(!b.contains(' ') && !b.contains('\n'));
    }

    #[test]
    fn verifies_and_refuses_tampering_or_another_key() {
        let key = SigningKey::random(&mut rand::thread_rng());
        let der = key.verifying_key().to_public_key_der().unwrap();
        let json = signed(&key);
        assert_eq!(
            verify_certificate(&json, der.as_bytes()).unwrap(),
            statement()
        );
        let tampered = json.replace("owner@customer", "thief@customer");
        assert_eq!(
            verify_certificate(&tampered, der.as_bytes()),
            Err(CertificateError::BadSignature)
        );
        let other = SigningKey::random(&mut rand::thread_rng());
        let other_der = other.verifying_key().to_public_key_der().unwrap();
        assert_eq!(
            verify_certificate(&json, other_der.as_bytes()),
            Err(CertificateError::BadSignature)
        );
        assert!(matches!(
            verify_certificate(&json, b"junk"),
            Err(CertificateError::PublicKey(_))
        ));
        assert!(matches!(
            verify_certificate("{}", der.as_bytes()),
            Err(CertificateError::Malformed(_))
        ));
        let other_alg = json.replace(ALGORITHM, "RSASSA_PSS_SHA_256");
        assert!(matches!(
            verify_certificate(&other_alg, der.as_bytes()),
            Err(CertificateError::Unsupported(_))
        ));
    }
}
