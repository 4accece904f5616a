//! Executing an [`EnforcementPlan`]: open its ticket, then remove each credential in a session
//! scoped to `IAMDeleteRootUserCredentials`, audited before (fail closed) and after.

use aws_sdk_iam::error::ProvideErrorMetadata;

use super::{Deps, TaskPolicy};
use crate::audit::AuditLog;
use crate::enforcement::{Action, EnforcementPlan, Recorder, Removal};
use crate::sdk::sdk_error;
use crate::LambdaError;

/// What executing a plan did.
pub(super) struct Executed {
    /// The delete session, when anything was removed (the posture is read again through it).
    pub session: Option<aws_sdk_iam::Client>,
    pub removed: Vec<String>,
    pub ticket_id: Option<String>,
}

pub(super) async fn execute(
    deps: &Deps,
    plan: &EnforcementPlan,
    rec: Recorder<'_>,
) -> Result<Executed, LambdaError> {
    let id = &plan.account_id;
    let mut done = Executed {
        session: None,
        removed: Vec::new(),
        ticket_id: None,
    };
    for action in &plan.actions {
        match action {
            Action::OpenTicket(ticket) => {
                let ticket = deps
                    .tickets
                    .open_task(ticket, &deps.actor, rec.run)
                    .await
                    .map_err(|e| LambdaError::from_classified(&e))?;
                done.ticket_id = Some(ticket.id);
            }
            Action::Remove(r) => {
                let iam = match &done.session {
                    Some(iam) => iam.clone(),
                    None => {
                        let iam = deps
                            .root_iam(id, TaskPolicy::DeleteRootUserCredentials)
                            .await?;
                        done.session.insert(iam).clone()
                    }
                };
                // Fail closed: no removal without its record.
                deps.audit
                    .append(&rec.removal_started(r, plan.mode))
                    .await
                    .map_err(|e| LambdaError::from_classified(&e))?;
                match remove(&iam, r).await {
                    Ok(()) => {
                        deps.audit
                            .append(&rec.removed(r))
                            .await
                            .map_err(|e| LambdaError::from_classified(&e))?;
                        tracing::warn!(account = %id, credential = r.kind(), id = r.id(), "root credential removed");
                        done.removed.push(r.describe());
                    }
                    Err(e) => {
                        // Best effort: the error itself is what the caller reports.
                        let _ = deps.audit.append(&rec.removal_failed(r, &e.message)).await;
                        return Err(e);
                    }
                }
            }
        }
    }
    Ok(done)
}

/// Removes one root credential. Deleting what is already gone (an earlier, interrupted run)
/// counts as done.
async fn remove(iam: &aws_sdk_iam::Client, r: &Removal) -> Result<(), LambdaError> {
    fn gone<E: ProvideErrorMetadata>(
        e: &aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::http::Response,
        >,
    ) -> bool {
        e.code() == Some("NoSuchEntity")
    }
    match r {
        Removal::AccessKey(id) => match iam.delete_access_key().access_key_id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(sdk_error("iam:DeleteAccessKey", &e)),
        },
        Removal::SigningCertificate(id) => {
            match iam
                .delete_signing_certificate()
                .certificate_id(id)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if gone(&e) => Ok(()),
                Err(e) => Err(sdk_error("iam:DeleteSigningCertificate", &e)),
            }
        }
        Removal::MfaDevice(serial) => {
            match iam
                .deactivate_mfa_device()
                .serial_number(serial)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(sdk_error("iam:DeactivateMFADevice", &e)),
            }
            if r.deletes_virtual_mfa() {
                match iam
                    .delete_virtual_mfa_device()
                    .serial_number(serial)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(sdk_error("iam:DeleteVirtualMFADevice", &e)),
                }
            }
            Ok(())
        }
        Removal::LoginProfile => match iam.delete_login_profile().send().await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(sdk_error("iam:DeleteLoginProfile", &e)),
        },
    }
}
