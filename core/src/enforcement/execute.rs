//! Executing an [`EnforcementPlan`]: open its ticket, then remove each credential in a session
//! scoped to `IAMDeleteRootUserCredentials`, audited before (fail closed) and after.

use super::plan::{Action, EnforcementPlan};
use super::ports::{
    EnforcementPorts, EnforcementTickets, RootCredentials, RootSession, TaskPolicy,
};
use super::records::Recorder;
use crate::audit::AuditLog;
use crate::LambdaError;

/// What executing a plan did.
pub(super) struct Executed<S> {
    /// The delete session, when anything was removed (the posture is read again through it).
    pub session: Option<S>,
    pub removed: Vec<String>,
    pub ticket_id: Option<String>,
}

pub(super) async fn execute<P: EnforcementPorts>(
    ports: &P,
    plan: &EnforcementPlan,
    rec: Recorder<'_>,
) -> Result<Executed<<P::Root as RootCredentials>::Session>, LambdaError> {
    let id = &plan.account_id;
    let mut done = Executed {
        session: None,
        removed: Vec::new(),
        ticket_id: None,
    };
    for action in &plan.actions {
        match action {
            Action::OpenTicket(ticket) => {
                let ticket = ports
                    .tickets()
                    .open_task(ticket, ports.actor(), rec.run)
                    .await
                    .map_err(|e| LambdaError::from_classified(&e))?;
                done.ticket_id = Some(ticket.id);
            }
            Action::Remove(r) => {
                let session = match done.session {
                    Some(ref s) => s,
                    None => {
                        let s = ports
                            .root()
                            .open(id, TaskPolicy::DeleteRootUserCredentials)
                            .await?;
                        done.session.insert(s)
                    }
                };
                // Fail closed: no removal without its record.
                ports
                    .audit()
                    .append(&rec.removal_started(r, plan.mode))
                    .await
                    .map_err(|e| LambdaError::from_classified(&e))?;
                match session.remove(r).await {
                    Ok(()) => {
                        ports
                            .audit()
                            .append(&rec.removed(r))
                            .await
                            .map_err(|e| LambdaError::from_classified(&e))?;
                        tracing::warn!(account = %id, credential = r.kind(), id = r.id(), "root credential removed");
                        done.removed.push(r.describe());
                    }
                    Err(e) => {
                        // Best effort: the error itself is what the caller reports.
                        let _ = ports
                            .audit()
                            .append(&rec.removal_failed(r, &e.message))
                            .await;
                        return Err(e);
                    }
                }
            }
        }
    }
    Ok(done)
}
