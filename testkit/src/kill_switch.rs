//! The kill switch of the port bundles (`MemoryRotationPorts`, `MemoryTakeoverPorts`): it
//! simulates the process dying between two port calls. [`KillSwitch::kill_at`]`(n)` makes the
//! n-th port call (counted from the last `kill_at`) panic before it reaches the port, so
//! everything the step did before stays and nothing after happens. Run the step under
//! `catch_unwind`, then run it again: it must converge. (Killing "after the n-th call took
//! effect" leaves the same state as killing before call n + 1; after the last call it is a
//! retry of a finished step.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The message of a simulated kill's panic.
pub const KILLED: &str = "killed (simulated)";

/// Shared by clones of a bundle: a kill set on one applies to all.
#[derive(Clone, Default)]
pub struct KillSwitch {
    calls: Arc<AtomicUsize>,
    kill_at: Arc<AtomicUsize>,
}

impl KillSwitch {
    /// Kills the n-th port call from now (1-based); 0: never.
    pub fn kill_at(&self, n: usize) {
        self.calls.store(0, Ordering::SeqCst);
        self.kill_at.store(n, Ordering::SeqCst);
    }

    /// Port calls since the last [`kill_at`](Self::kill_at).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Counts a port call; panics with [`KILLED`] if it is the one to kill.
    pub fn call(&self) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.kill_at.load(Ordering::SeqCst) {
            panic!("{KILLED}");
        }
    }
}
