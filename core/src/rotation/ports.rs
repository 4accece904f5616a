//! The ports a rotation talks to, bundled: what the steps, the operator's decisions and the
//! `rotation-apply` gate need. Implemented by the AWS side's `rotation::Deps` and by the
//! testkit's `MemoryRotationPorts`.

use crate::audit::AuditLog;
use crate::executions::Executions;
use crate::registry::schedule::RotationSchedule;
use crate::tickets::TaskTickets;
use crate::vault::{Actor, Vault};
use crate::workflows::WorkflowWaits;
use crate::Clock;

use super::store::RotationStore;

pub trait RotationPorts: Send + Sync {
    type Registry: RotationSchedule;
    type Vault: Vault;
    type Tickets: TaskTickets;
    type Waits: WorkflowWaits;
    type Rotations: RotationStore;
    type Audit: AuditLog;
    type Executions: Executions;

    fn registry(&self) -> &Self::Registry;
    fn vault(&self) -> &Self::Vault;
    fn tickets(&self) -> &Self::Tickets;
    fn waits(&self) -> &Self::Waits;
    fn rotations(&self) -> &Self::Rotations;
    fn audit(&self) -> &Self::Audit;
    fn executions(&self) -> &Self::Executions;
    fn clock(&self) -> &dyn Clock;
    /// Who acts (audit `actor`): the Lambda's name or the operator's ARN.
    fn actor(&self) -> &str;
    /// Length of a generated root password.
    fn password_length(&self) -> usize;
    /// How long the apply step waits unless the execution asks otherwise.
    fn apply_timeout_seconds(&self) -> u64;
}

/// The vault's actor for a change made by rotation `execution`.
pub(super) fn vault_actor<P: RotationPorts>(
    ports: &P,
    execution: &str,
    reason: impl Into<String>,
) -> Actor {
    Actor {
        actor: ports.actor().to_owned(),
        correlation_id: execution.to_owned(),
        reason: reason.into(),
    }
}

/// A port error in the error vocabulary (its classification decides the `error_type`).
pub(super) fn classified<E: crate::error::Classify + std::fmt::Display>(
    e: E,
) -> crate::LambdaError {
    crate::LambdaError::from_classified(&e)
}
