//! Root password rotation's rules, without I/O: the rotation record, the steps' decisions
//! ([`steps`]), whether a leftover pending version may be discarded ([`liveness`]) and the
//! operator's decisions ([`decisions`]). The adapter (`rootwarden_aws::rotation`) reads the
//! registry, vault, records and Step Functions, asks these, and writes what they return.

pub mod decisions;
pub mod liveness;
mod record;
pub mod steps;
#[cfg(test)]
mod tests;

pub use decisions::{manual_execution_name, Decidable};
pub use record::{RotationRecord, RotationStage};
pub use steps::{
    ticket_id, Abandoned, Finished, Prepared, StartInput, Step, REJECTED_ERROR, RETRY_AFTER_ABANDON,
};
