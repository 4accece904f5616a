//! Whether a rotation still runs: Step Functions answers through `SfnExecutions`
//! (`crate::executions`); the rules that decide from its answer are the core's
//! (`rootwarden_core::rotation::liveness`), re-exported here.

pub use rootwarden_core::rotation::liveness::*;
