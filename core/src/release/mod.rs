//! Giving up custody of an account (`docs/release.md`): closure, hand-back (reverse
//! assumption) and transfer to the customer's organization. The use cases behind the release
//! Lambda's steps ([`run`]), the operator's `status`, `cancel` and `otp`, and the scheduled
//! crypto-shred, generic over [`ReleasePorts`].
//!
//! A release starts only from an access request with reason `release`, approved by someone
//! other than its requester (the access function checks both people as AWS authenticated them,
//! and starts the execution). The progress lives on the account's registry item (status
//! `releasing`, `release_*` attributes, [`Release`]). Every step checks the world first (so a
//! retry, or a new execution resuming a stopped release, converges) and writes its state change
//! and its audit record (`release.<step>`) in one transaction, conditional on the owning
//! execution and the step it read ([`Expect`]).
//!
//! Cancel and the point of no return race through that condition: a cancel moves the step to
//! `cancelled`, and crossing the point of no return moves the step (to the exit's
//! [`progress::point_of_no_return`]) *before* the irreversible call, so exactly one of them
//! wins; a definitive refusal of the call (quota, wrong code) withdraws the crossing.

pub mod approval;
mod begin;
pub mod certificate;
mod close;
mod email;
mod finish;
mod flow;
mod handover;
mod operator;
pub mod poll;
mod ports;
pub mod preconditions;
pub mod progress;
pub mod quota;
mod record;
mod shred_due;
pub mod steps;
mod transfer;

pub use begin::{begin, Begun};
pub use certificate::{verify_certificate, Certificate, CertificateError, CertificateStatement};
pub use close::{await_closure_mail, check_closure, close_account, closed};
pub use email::{accept_email_update, await_code, check_email, resend, start_email_update};
pub use finish::{cancel_step, certify, fail, shred};
pub use handover::{create_login_profile, put_contacts, remove_root_credentials};
pub use operator::{
    cancel, certificate, relay_code, status, CancelOutcome, ReleaseStatus, Waiting,
};
pub use ports::{
    AccountContacts, CertificateSigner, Contact, Invitation, Member, MemberAccount, MemberStatus,
    Organizations, OrganizationsError, ReleaseAccess, ReleasePorts, ReleaseStore, Signature,
    VaultShredder,
};
pub use record::{Customer, Exit, Expect, Release, ReleaseStep, ReleaseTerms};
pub use shred_due::{shred_due, ShredReport};
pub use steps::{StartInput, Step};
pub use transfer::{accept_invitation, check_departure, check_invitation, check_transfer};

use serde_json::{json, Value};

use crate::{ErrorType, LambdaError};

/// The access reason a release request carries.
pub const RELEASE_REASON: &str = "release";
/// Verification codes asked for again at most this often; then `CodeNotReceived`.
pub const MAX_RESENDS: u32 = 3;
/// AWS Support can reinstate a closed account for this many days; then the vault is shredded.
pub const REINSTATEMENT_DAYS: i64 = 90;

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, LambdaError> {
    serde_json::to_value(v).map_err(|e| LambdaError::new(ErrorType::InternalError, e.to_string()))
}

/// A `{"done", "wait_seconds"}` (or `found`) poll answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Polled {
    pub done: bool,
    pub wait_seconds: u64,
}

/// Runs one step of a release state machine, or the scheduled sweep.
pub async fn run<P: ReleasePorts>(ports: &P, step: Step) -> Result<Value, LambdaError> {
    use steps::{account_id as id, execution as ex};
    match step {
        Step::Begin {
            execution,
            execution_arn,
            input,
        } => to_value(&begin(ports, &execution, &execution_arn, &input).await?),
        Step::CheckTransfer {
            account_id,
            execution,
        } => {
            check_transfer(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"ok": true}))
        }
        Step::CloseAccount {
            account_id,
            execution,
        } => {
            close_account(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"close_requested": true}))
        }
        Step::AwaitClosureMail {
            account_id,
            execution,
            task_token,
            timeout_seconds,
        } => {
            let t = steps::timeout(timeout_seconds, poll::MAX_WAIT_SECONDS, steps::WAIT_BOUNDS)?;
            let token = steps::task_token(&task_token)?;
            await_closure_mail(ports, &id(&account_id)?, ex(&execution)?, token, t).await?;
            Ok(json!({"registered": true}))
        }
        Step::CheckClosure {
            account_id,
            execution,
        } => to_value(&check_closure(ports, &id(&account_id)?, ex(&execution)?).await?),
        Step::Closed {
            account_id,
            execution,
        } => to_value(&closed(ports, &id(&account_id)?, ex(&execution)?).await?),
        Step::StartEmailUpdate {
            account_id,
            execution,
        } => {
            let already = start_email_update(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"already_customers": already}))
        }
        Step::AwaitCode {
            account_id,
            execution,
            task_token,
            timeout_seconds,
        } => {
            let t = steps::timeout(
                timeout_seconds,
                steps::DEFAULT_CODE_TIMEOUT_SECONDS,
                steps::CODE_TIMEOUT_BOUNDS,
            )?;
            let token = steps::task_token(&task_token)?;
            await_code(ports, &id(&account_id)?, ex(&execution)?, token, t).await?;
            Ok(json!({"registered": true}))
        }
        Step::Resend {
            account_id,
            execution,
        } => {
            let n = resend(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"resends": n}))
        }
        Step::AcceptEmailUpdate {
            account_id,
            execution,
        } => {
            let address = accept_email_update(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"root_email": address}))
        }
        Step::CheckEmail {
            account_id,
            execution,
        } => to_value(&check_email(ports, &id(&account_id)?, ex(&execution)?).await?),
        Step::PutContacts {
            account_id,
            execution,
        } => {
            put_contacts(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"contacts_updated": true}))
        }
        Step::RemoveRootCredentials {
            account_id,
            execution,
        } => {
            let removed =
                remove_root_credentials(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"removed": removed}))
        }
        Step::CreateLoginProfile {
            account_id,
            execution,
        } => {
            let created = create_login_profile(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"created": created}))
        }
        Step::CheckInvitation {
            account_id,
            execution,
        } => {
            let p = check_invitation(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"found": p.done, "wait_seconds": p.wait_seconds}))
        }
        Step::AcceptInvitation {
            account_id,
            execution,
        } => {
            let h = accept_invitation(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"handshake_id": h}))
        }
        Step::CheckDeparture {
            account_id,
            execution,
        } => to_value(&check_departure(ports, &id(&account_id)?, ex(&execution)?).await?),
        Step::Shred {
            account_id,
            execution,
        } => {
            let n = shred(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"shredded": n}))
        }
        Step::Certify {
            account_id,
            execution,
        } => {
            let c = certify(ports, &id(&account_id)?, ex(&execution)?).await?;
            let statement: Value = serde_json::from_str::<Value>(&c)
                .ok()
                .and_then(|v| v.get("statement").cloned())
                .unwrap_or(Value::Null);
            Ok(json!({"certified": true, "statement": statement}))
        }
        Step::Cancel {
            account_id,
            execution,
            error: _,
        } => {
            let restored = cancel_step(ports, &id(&account_id)?, ex(&execution)?).await?;
            Ok(json!({"cancelled": true, "status": restored}))
        }
        Step::Fail {
            account_id,
            execution,
            error,
        } => {
            let name = error
                .get("Error")
                .and_then(Value::as_str)
                .unwrap_or("InternalError");
            let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("");
            let stopped = fail(ports, &id(&account_id)?, ex(&execution)?, name, cause).await?;
            Ok(json!({"stopped": stopped}))
        }
        Step::ShredDue {} => to_value(&shred_due(ports).await?),
    }
}
