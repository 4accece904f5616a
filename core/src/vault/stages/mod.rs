//! The vault's stage machine: which version moves to which stage, decided from the head alone.
//!
//! Each operation ([`Head::initial`], [`Head::first_pending`], [`Head::stage_pending`],
//! [`Head::promote`], [`Head::discard_pending`]) reads the head the caller fetched and returns a named refusal
//! ([`VaultError`]), [`Decision::Already`] (a retry: the request already holds, nothing to
//! write) or a [`Plan`]: the new head, the version it creates, the stage moves of existing
//! versions, and the [`HeadCondition`]s the stored head must still meet. An adapter writes a
//! plan atomically (all of it, its conditions and each move's `from` stage checked, or none of
//! it), so of two concurrent writers exactly one wins. The loser re-reads the head and asks
//! `after_lost_*` what its request came to.
//!
//! No I/O here: the rules are tested in milliseconds.

use super::credentials::{CredentialKind, Head, Stage, VaultError};
use crate::AccountId;

/// Which credential a decision is about (names it in refusals).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub account: &'a AccountId,
    pub kind: CredentialKind,
}

/// One existing version changes stage. Written only if it is still in `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageMove {
    pub version: u32,
    pub from: Stage,
    pub to: Stage,
}

/// A version the plan creates (its secret is encrypted by the adapter). Written only if no
/// item with that number exists yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    pub version: u32,
    pub stage: Stage,
    pub execution: String,
}

/// What the stored head must still say for a plan to apply: the part of the head the decision
/// was made on. Every one must hold, or nothing is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadCondition {
    /// Nothing is vaulted yet for this account and kind.
    Absent,
    Current(u32),
    /// The head exists and no version is current yet.
    NoCurrent,
    Previous(u32),
    Pending {
        version: u32,
        execution: String,
    },
    NoPending,
    NextVersion(u32),
}

/// The writes of one stage change, to be applied in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The version the change is about: the one staged, promoted or discarded.
    pub version: u32,
    /// The head after the change.
    pub head: Head,
    pub conditions: Vec<HeadCondition>,
    pub create: Option<NewVersion>,
    pub moves: Vec<StageMove>,
}

/// What a request comes to on the head it was decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<T> {
    /// The request already holds (a retry): nothing to write, this is the answer.
    Already(T),
    /// Write this plan.
    Write(Plan),
}

/// A rotation execution names who staged a version; it must not be empty.
pub fn check_execution(execution: &str) -> Result<(), VaultError> {
    if execution.is_empty() {
        return Err(VaultError::Invalid("execution must not be empty".into()));
    }
    Ok(())
}

/// The condition that `current` is still what `head` says: that version, or none.
fn current_condition(head: &Head) -> HeadCondition {
    match head.current {
        Some(c) => HeadCondition::Current(c),
        None => HeadCondition::NoCurrent,
    }
}

fn lost_race(subject: &Subject<'_>) -> VaultError {
    VaultError::Conflict(format!(
        "another writer changed account {}'s {} stages first",
        subject.account,
        subject.kind.as_str()
    ))
}

impl Head {
    /// Version 1, `current`, for an account where nothing is vaulted yet.
    pub fn initial(execution: &str, now: &str) -> Plan {
        Plan {
            version: 1,
            head: Head {
                current: Some(1),
                current_execution: Some(execution.to_owned()),
                current_since: now.to_owned(),
                previous: None,
                pending: None,
                pending_execution: None,
                next_version: 2,
            },
            conditions: vec![HeadCondition::Absent],
            create: Some(NewVersion {
                version: 1,
                stage: Stage::Current,
                execution: execution.to_owned(),
            }),
            moves: Vec::new(),
        }
    }

    /// Version 1, `pending` for `execution`, with no current, for an account where nothing is
    /// vaulted yet (a takeover's first root password: the account has no password we know
    /// until the operator applies this one). The callers decide when that is allowed.
    pub fn first_pending(execution: &str) -> Result<Plan, VaultError> {
        check_execution(execution)?;
        Ok(Plan {
            version: 1,
            head: Head {
                current: None,
                current_execution: None,
                current_since: String::new(),
                previous: None,
                pending: Some(1),
                pending_execution: Some(execution.to_owned()),
                next_version: 2,
            },
            conditions: vec![HeadCondition::Absent],
            create: Some(NewVersion {
                version: 1,
                stage: Stage::Pending,
                execution: execution.to_owned(),
            }),
            moves: Vec::new(),
        })
    }

    /// The version `execution` stages as `pending`. Idempotent per execution: its existing
    /// pending version is the answer. A pending version of another execution, or an execution
    /// whose version is already current, is a `Conflict`.
    pub fn stage_pending(
        &self,
        subject: &Subject<'_>,
        execution: &str,
    ) -> Result<Decision<u32>, VaultError> {
        check_execution(execution)?;
        if let Some(p) = self.pending {
            return if self.pending_execution.as_deref() == Some(execution) {
                Ok(Decision::Already(p))
            } else {
                Err(VaultError::Conflict(format!(
                    "account {} already has pending {} version {p} of another rotation",
                    subject.account,
                    subject.kind.as_str()
                )))
            };
        }
        if self.current_execution.as_deref() == Some(execution) {
            return Err(VaultError::Conflict(format!(
                "rotation {execution} already completed for account {}",
                subject.account
            )));
        }
        let v = self.next_version;
        Ok(Decision::Write(Plan {
            version: v,
            head: Head {
                pending: Some(v),
                pending_execution: Some(execution.to_owned()),
                next_version: v + 1,
                ..self.clone()
            },
            conditions: vec![
                HeadCondition::NoPending,
                HeadCondition::NextVersion(v),
                current_condition(self),
            ],
            create: Some(NewVersion {
                version: v,
                stage: Stage::Pending,
                execution: execution.to_owned(),
            }),
            moves: Vec::new(),
        }))
    }

    /// pending → current, current → previous, previous → retired, for `execution`'s pending
    /// version (with no current yet, only pending → current). Idempotent: if `execution`'s
    /// version is already current, that is the answer.
    /// Another execution's pending version is a `Conflict`; no pending version is `NotFound`.
    pub fn promote(
        &self,
        subject: &Subject<'_>,
        execution: &str,
        now: &str,
    ) -> Result<Decision<u32>, VaultError> {
        let p = match (self.pending, self.pending_execution.as_deref()) {
            (Some(p), Some(e)) if e == execution => p,
            _ if self.current_execution.as_deref() == Some(execution) => {
                if let Some(c) = self.current {
                    return Ok(Decision::Already(c));
                }
                return Err(VaultError::Corrupt(format!(
                    "account {}'s {} head names a current execution but no current version",
                    subject.account,
                    subject.kind.as_str()
                )));
            }
            (Some(p), _) => {
                return Err(VaultError::Conflict(format!(
                    "pending version {p} of account {} belongs to another rotation",
                    subject.account
                )))
            }
            (None, _) => {
                return Err(VaultError::NotFound(format!(
                    "rotation {execution} has no pending {} for account {}",
                    subject.kind.as_str(),
                    subject.account
                )))
            }
        };
        let mut conditions = vec![
            HeadCondition::Pending {
                version: p,
                execution: execution.to_owned(),
            },
            current_condition(self),
        ];
        let mut moves = vec![StageMove {
            version: p,
            from: Stage::Pending,
            to: Stage::Current,
        }];
        if let Some(c) = self.current {
            moves.push(StageMove {
                version: c,
                from: Stage::Current,
                to: Stage::Previous,
            });
        }
        // With no current there is no previous either; a previous that outlives its current
        // (never written by these plans) is left alone rather than guessed at.
        if let (Some(old), Some(_)) = (self.previous, self.current) {
            conditions.push(HeadCondition::Previous(old));
            moves.push(StageMove {
                version: old,
                from: Stage::Previous,
                to: Stage::Retired,
            });
        }
        Ok(Decision::Write(Plan {
            version: p,
            head: Head {
                current: Some(p),
                current_execution: Some(execution.to_owned()),
                current_since: now.to_owned(),
                previous: self.current,
                pending: None,
                pending_execution: None,
                next_version: self.next_version,
            },
            conditions,
            create: None,
            moves,
        }))
    }

    /// pending → discarded for `execution`; `current` untouched. Idempotent: `None` when that
    /// execution has no pending version (already discarded, never staged, or another
    /// execution's pending version, which is left alone).
    pub fn discard_pending(&self, execution: &str) -> Decision<Option<u32>> {
        let p = match (self.pending, self.pending_execution.as_deref()) {
            (Some(p), Some(e)) if e == execution => p,
            _ => return Decision::Already(None),
        };
        Decision::Write(Plan {
            version: p,
            head: Head {
                pending: None,
                pending_execution: None,
                ..self.clone()
            },
            conditions: vec![HeadCondition::Pending {
                version: p,
                execution: execution.to_owned(),
            }],
            create: None,
            moves: vec![StageMove {
                version: p,
                from: Stage::Pending,
                to: Stage::Discarded,
            }],
        })
    }

    /// A new version, `current` at once, made by `execution`: the first one where nothing is
    /// vaulted ([`Head::initial`]), else the old current → previous and previous → retired (an
    /// MFA seed an operator enrolled and typed in: there is nothing to apply, so no pending
    /// stage). A pending version is a `Conflict` (a rotation of it is in flight).
    pub fn replace_current(
        head: Option<&Head>,
        subject: &Subject<'_>,
        execution: &str,
        now: &str,
    ) -> Result<Plan, VaultError> {
        check_execution(execution)?;
        let Some(head) = head else {
            return Ok(Head::initial(execution, now));
        };
        if let Some(p) = head.pending {
            return Err(VaultError::Conflict(format!(
                "account {} has pending {} version {p}",
                subject.account,
                subject.kind.as_str()
            )));
        }
        let v = head.next_version;
        let mut conditions = vec![
            HeadCondition::NoPending,
            HeadCondition::NextVersion(v),
            current_condition(head),
        ];
        let mut moves = Vec::new();
        if let Some(c) = head.current {
            moves.push(StageMove {
                version: c,
                from: Stage::Current,
                to: Stage::Previous,
            });
            if let Some(old) = head.previous {
                conditions.push(HeadCondition::Previous(old));
                moves.push(StageMove {
                    version: old,
                    from: Stage::Previous,
                    to: Stage::Retired,
                });
            }
        }
        Ok(Plan {
            version: v,
            head: Head {
                current: Some(v),
                current_execution: Some(execution.to_owned()),
                current_since: now.to_owned(),
                previous: head.current,
                pending: None,
                pending_execution: None,
                next_version: v + 1,
            },
            conditions,
            create: Some(NewVersion {
                version: v,
                stage: Stage::Current,
                execution: execution.to_owned(),
            }),
            moves,
        })
    }

    /// A `stage_pending` plan lost its race and this is the head now: if the winner was the
    /// same execution (a retry racing itself) its version stands, else `Conflict`.
    pub fn after_lost_stage_pending(
        &self,
        subject: &Subject<'_>,
        execution: &str,
    ) -> Result<u32, VaultError> {
        match (self.pending, self.pending_execution.as_deref()) {
            (Some(p), Some(e)) if e == execution => Ok(p),
            _ => Err(lost_race(subject)),
        }
    }

    /// A `promote` plan lost its race and this is the head now: done if `execution`'s version
    /// is current (someone promoted it), else `Conflict`.
    pub fn after_lost_promote(
        &self,
        subject: &Subject<'_>,
        execution: &str,
    ) -> Result<u32, VaultError> {
        match self.current {
            Some(c) if self.current_execution.as_deref() == Some(execution) => Ok(c),
            _ => Err(lost_race(subject)),
        }
    }

    /// A `discard_pending` plan lost its race and this is the head now: `None` if `execution`
    /// no longer has a pending version, else `Conflict` (it changed while discarding).
    pub fn after_lost_discard(
        &self,
        subject: &Subject<'_>,
        execution: &str,
    ) -> Result<Option<u32>, VaultError> {
        if self.pending_execution.as_deref() == Some(execution) {
            Err(VaultError::Conflict(format!(
                "account {}'s pending {} changed while discarding",
                subject.account,
                subject.kind.as_str()
            )))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod first_versions_tests;
#[cfg(test)]
mod tests;
