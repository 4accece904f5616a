//! Attacks on Root Warden's trust boundaries (issue 10). Each test plays the attacker, names the
//! attack in its name, failed on the code before the fix and passes after it. `docs/security.md`
//! maps each guarantee to the test here that proves it.
//!
//! - `mail`: forged or misdirected mail cannot complete a workflow.
//! - `mail_secrets`: mail cannot plant secrets, merge tickets across accounts, create audit chains
//!   for unknown accounts or fail the pipeline.
//! - `access`: the access function's caller is who AWS says; dual control means two people.
//! - `rotation`: rotations never wedge an account and never discard a confirmed password.
//! - `digests`: signed digests and alarms work at the scale of a real estate.
//! - `iam`: every call is checked against the caller's policies and the key policies (issue 11).

mod access;
mod digests;
mod iam;
mod mail;
mod mail_secrets;
mod rotation;
