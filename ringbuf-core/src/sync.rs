//! The one place the ring's atomics come from.
//!
//! Every shared counter in the header is reached through this module so a
//! model checker can swap the implementation in one place; today it is the
//! standard library's.

pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
