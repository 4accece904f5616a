//! Break-glass access: who may request, approve and check out a root credential
//! ([`policy`]), and who a caller is ([`identity`]).

pub mod identity;
pub mod policy;

pub use identity::{Caller, Person};
pub use policy::{AccessPolicy, ReasonRule, Role};
