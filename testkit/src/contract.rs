//! Contract assertions.
