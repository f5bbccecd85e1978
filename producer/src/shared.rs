//! [`SharedRun`]: a [`Run`] that several threads log to.
//!
//! A ring has one writer, so sharing puts the run behind a mutex: each call
//! takes the lock for the time it takes to write one row. A thread that
//! panicked while holding the lock does not make the run unusable; the ring
//! is consistent between calls, so the lock is simply taken again.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::Result;
use crate::metrics::Metric;
use crate::run::{Counters, FinishReport, Run};
use crate::value::{ConfigValue, Value};

/// A run shared by threads; clone it to hand it to another thread.
#[derive(Debug, Clone)]
pub struct SharedRun {
    inner: Arc<Mutex<Run>>,
}

impl SharedRun {
    pub(crate) fn new(run: Run) -> SharedRun {
        SharedRun {
            inner: Arc::new(Mutex::new(run)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Run> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// See [`Run::metric`].
    pub fn metric(&self, name: &str) -> Result<Metric> {
        self.lock().metric(name)
    }

    /// See [`Run::log`].
    pub fn log(&self, values: &[(Metric, f64)]) -> Result<u64> {
        self.lock().log(values)
    }

    /// See [`Run::log_at`].
    pub fn log_at(&self, step: u64, values: &[(Metric, f64)]) -> Result<()> {
        self.lock().log_at(step, values)
    }

    /// See [`Run::log_named`].
    pub fn log_named(&self, values: &[(&str, Value)]) -> Result<u64> {
        self.lock().log_named(values)
    }

    /// See [`Run::summary`].
    pub fn summary(&self, key: &str, value: impl Into<Value>) -> Result<()> {
        self.lock().summary(key, value)
    }

    /// See [`Run::config`].
    pub fn config(&self, key: &str, value: impl Into<ConfigValue>) -> Result<()> {
        self.lock().config(key, value)
    }

    /// See [`Run::counters`].
    pub fn counters(&self) -> Counters {
        self.lock().counters()
    }

    /// Finishes the run for every clone; later calls on any clone return
    /// [`crate::Error::Finished`].
    pub fn finish_with(&self, exit_code: i32, timeout: Duration) -> Result<FinishReport> {
        self.lock().end(exit_code, timeout)
    }
}
