//! [`Run`]: one training run, from `init` to `finish`.
//!
//! `init` creates the run directory and the ring, writes `run.json`,
//! publishes the initial config and registers the run with the node
//! service (starting one if none runs). Each `log` call is one history row
//! written straight into the ring. `finish` publishes a finish record and
//! waits, up to a timeout, until the service has drained the ring, which it
//! does only after the rows are in a segment and the run's final state is
//! on disk.
//!
//! # The hot path
//!
//! [`Run::log`] and [`Run::log_at`] with [`Metric`] handles make no
//! syscall, no allocation and take no lock: they check the handles, read
//! the row clock, copy the row into the ring and publish it with one
//! release store. The row clock reads the CPU's time-stamp counter where the
//! kernel itself keeps time with it, re-anchored on CLOCK_REALTIME every
//! 10 ms (a vDSO call, not a syscall), and reads CLOCK_REALTIME otherwise;
//! its accuracy and `RINGTRACK_ROW_CLOCK=system` are described in the
//! `clock` module (`producer/src/run/clock.rs`).
//!
//! # When the ring is full
//!
//! The service normally drains a ring within milliseconds; a full ring means
//! it is stopped, stalled or far behind. A call that finds the ring full
//! waits for room for up to [`Settings::full_wait`] (2 s by default),
//! spinning briefly and then sleeping. If no room comes, the row is not
//! logged: the call returns [`Error::RingFull`] and the ring's dropped
//! counter (shown by `ringtrack status` and `ringtrack ls`) goes up. Until the
//! service frees some room, later calls fail the same way at once instead of
//! waiting again, so a trainer whose service is gone is slowed only once.
//!
//! # Steps
//!
//! A row's step is the one given to [`Run::log_at`] (or [`Row::step`]), or
//! else the previous row's step plus one, starting at 0. Steps are stored as
//! given: they may repeat, go backwards, or be `u64::MAX`. The automatic
//! step after `u64::MAX` does not wrap: that call fails with
//! [`Error::StepOverflow`] and logs nothing, and an explicit step still
//! works. Only a logged row moves the step on; a call that fails leaves it
//! where it was.
//!
//! # When the process ends
//!
//! A row is in the ring file once `log` returns, so it survives the
//! trainer's death by any signal: the service sees the control connection
//! close, drains what the ring holds, and marks the run `crashed`. A
//! trainer that wants its run marked `finished` on SIGTERM sets a flag in
//! its handler and calls [`Run::finish`] from its loop (never from the
//! handler: it is not async-signal-safe). `finish` waits only for the
//! service to drain the backlog, typically milliseconds and at most
//! [`Settings::finish_timeout`] (60 s by default); schedulers' usual grace
//! between SIGTERM and SIGKILL (30 s for Kubernetes and Slurm) leaves room.
//! If SIGKILL comes first, the rows are still kept; the run is `crashed`.
//!
//! # Threads
//!
//! A `Run` is `Send`: it can move to another thread. Its methods take
//! `&mut self` because a ring has one writer. To log from several threads
//! at once, wrap it with [`Run::shared`], which puts it behind a mutex (the
//! hot path then takes that lock).

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ringbuf_core::record::{self, RowHeader};
use ringbuf_core::{ReserveError, RingFile, RingOptions, RingWriter};

use crate::client;
use crate::error::{Error, Result};
use crate::meta::RunMeta;
use crate::metrics::{check_name, Metric, MetricTable};
use crate::paths;
use crate::protocol::{Reply, Request};
use crate::settings::{Mode, Settings};
use crate::value::{encode_config, encode_summary, ConfigValue, Value};

mod clock;

/// One history row for [`Run::log_row`]: named values with an optional
/// explicit step and timestamp.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The step; `None` takes the next automatic step.
    pub step: Option<u64>,
    /// Nanoseconds since the Unix epoch; `None` reads the clock.
    pub timestamp_ns: Option<i64>,
    /// The values, by metric name.
    pub values: &'a [(&'a str, Value)],
}

/// What `finish` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishReport {
    /// The run id.
    pub id: String,
    /// The run directory.
    pub dir: PathBuf,
    /// Rows logged.
    pub rows: u64,
    /// Records dropped because the ring stayed full.
    pub dropped: u64,
    /// The exit code recorded.
    pub exit_code: i32,
}

impl std::fmt::Display for FinishReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.exit_code == 0 {
            "finished"
        } else {
            "failed"
        };
        write!(
            f,
            "run {} {state} (exit code {}): {} rows durable in {}",
            self.id,
            self.exit_code,
            self.rows,
            self.dir.display()
        )?;
        if self.dropped > 0 {
            write!(f, ", {} records dropped on a full ring", self.dropped)?;
        }
        Ok(())
    }
}

/// The run's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Rows logged.
    pub rows: u64,
    /// Records given up because the ring stayed full.
    pub dropped: u64,
    /// Times a call found the ring full.
    pub full_events: u64,
    /// Bytes published and not yet drained by the service.
    pub backlog_bytes: u64,
}

/// A training run. See the module docs for the hot path, the full-ring rule,
/// steps and threads.
#[derive(Debug)]
pub struct Run {
    state: State,
    last_step: Option<u64>,
}

#[derive(Debug)]
enum State {
    Active(Box<Active>),
    Disabled { metrics: MetricTable },
    Finished,
}

#[derive(Debug)]
struct Active {
    meta: RunMeta,
    dir: PathBuf,
    writer: RingWriter,
    metrics: MetricTable,
    seq: u64,
    rows: u64,
    dropped: u64,
    full_events: u64,
    /// The read position at which the last wait for room gave up.
    stalled_at: Option<u64>,
    full_wait: Duration,
    finish_timeout: Duration,
    /// Stamps rows.
    clock: clock::RowClock,
    /// Reused between named rows so they allocate only for new names.
    scratch: Vec<u32>,
    control: Option<UnixStream>,
}

impl Run {
    /// Starts a run: creates its directory and ring and registers it with
    /// the node service, starting one when none is running.
    pub fn init(settings: Settings) -> Result<Run> {
        check_label("project", &settings.project)?;
        if let Some(name) = &settings.run_name {
            check_label("run name", name)?;
        }
        let mode = settings.resolved_mode()?;
        if mode == Mode::Disabled {
            let metrics = MetricTable::new(settings.max_metrics, 0);
            return Ok(Run {
                state: State::Disabled { metrics },
                last_step: None,
            });
        }
        let active = Active::start(&settings, mode)?;
        Ok(Run {
            state: State::Active(Box::new(active)),
            last_step: None,
        })
    }

    /// The run id (empty for a disabled run).
    pub fn id(&self) -> &str {
        match &self.state {
            State::Active(a) => &a.meta.id,
            _ => "",
        }
    }

    /// The run directory (empty for a disabled run).
    pub fn dir(&self) -> &Path {
        match &self.state {
            State::Active(a) => &a.dir,
            _ => Path::new(""),
        }
    }

    /// Resolves a metric name to a handle for the hot path, defining it the
    /// first time.
    pub fn metric(&mut self, name: &str) -> Result<Metric> {
        match &mut self.state {
            State::Active(a) => a.define(name),
            State::Disabled { metrics } => {
                let found = metrics.lookup(name)?;
                let id = if found.is_new {
                    metrics.commit(name)
                } else {
                    found.id
                };
                Ok(Metric { id, run_tag: 0 })
            }
            State::Finished => Err(Error::Finished),
        }
    }

    /// Logs one row of metric values at the next automatic step and
    /// returns that step.
    #[inline]
    pub fn log(&mut self, values: &[(Metric, f64)]) -> Result<u64> {
        let step = self.auto_step()?;
        self.log_at(step, values)?;
        Ok(step)
    }

    /// Logs one row of metric values at `step`.
    #[inline]
    pub fn log_at(&mut self, step: u64, values: &[(Metric, f64)]) -> Result<()> {
        match &mut self.state {
            State::Active(a) => a.write_f64_row(step, values)?,
            State::Disabled { .. } => {}
            State::Finished => return Err(Error::Finished),
        }
        self.last_step = Some(step);
        Ok(())
    }

    /// Logs one row of named values (floats, integers or text) at the next
    /// automatic step and returns that step.
    pub fn log_named(&mut self, values: &[(&str, Value)]) -> Result<u64> {
        self.log_row(&Row {
            step: None,
            timestamp_ns: None,
            values,
        })
    }

    /// Logs one row with full control over step and timestamp; returns the
    /// step used.
    pub fn log_row(&mut self, row: &Row<'_>) -> Result<u64> {
        let step = match row.step {
            Some(step) => step,
            None => self.auto_step()?,
        };
        match &mut self.state {
            State::Active(a) => a.write_named_row(step, row.timestamp_ns, row.values)?,
            State::Disabled { metrics } => {
                for (name, _) in row.values {
                    let found = metrics.lookup(name)?;
                    if found.is_new {
                        metrics.commit(name);
                    }
                }
            }
            State::Finished => return Err(Error::Finished),
        }
        self.last_step = Some(step);
        Ok(step)
    }

    /// Sets a summary value explicitly; it wins over the last logged value
    /// of a metric with the same name.
    pub fn summary(&mut self, key: &str, value: impl Into<Value>) -> Result<()> {
        check_name(key)?;
        match &mut self.state {
            State::Active(a) => a.write_summary(key, value.into()),
            State::Disabled { .. } => Ok(()),
            State::Finished => Err(Error::Finished),
        }
    }

    /// Sets (or changes) a config entry.
    pub fn config(&mut self, key: &str, value: impl Into<ConfigValue>) -> Result<()> {
        match &mut self.state {
            State::Active(a) => a.write_config(&[(key.to_owned(), value.into())]),
            State::Disabled { .. } => Ok(()),
            State::Finished => Err(Error::Finished),
        }
    }

    /// The run's counters.
    pub fn counters(&self) -> Counters {
        match &self.state {
            State::Active(a) => Counters {
                rows: a.rows,
                dropped: a.dropped,
                full_events: a.full_events,
                backlog_bytes: a.writer.backlog(),
            },
            _ => Counters::default(),
        }
    }

    /// Finishes the run with exit code 0 and the settings' finish timeout.
    pub fn finish(mut self) -> Result<FinishReport> {
        let timeout = match &self.state {
            State::Active(a) => a.finish_timeout,
            _ => Duration::ZERO,
        };
        self.end(0, timeout)
    }

    /// Finishes the run with `exit_code` (non-zero marks it failed), waiting
    /// up to `timeout` for the service to make it durable.
    pub fn finish_with(
        mut self,
        exit_code: i32,
        timeout: Duration,
    ) -> Result<FinishReport> {
        self.end(exit_code, timeout)
    }

    /// Makes the run shareable between threads.
    pub fn shared(self) -> crate::SharedRun {
        crate::SharedRun::new(self)
    }

    /// Lets go of the run without finishing it, for a forked child that
    /// holds a copy of its parent's run: the child's mapping and socket are
    /// closed, and nothing is written into the ring, whose one writer is the
    /// parent.
    pub(crate) fn abandon(mut self) {
        self.state = State::Finished;
    }

    pub(crate) fn end(
        &mut self,
        exit_code: i32,
        timeout: Duration,
    ) -> Result<FinishReport> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Active(a) => a.finish(exit_code, timeout),
            State::Disabled { .. } => Ok(FinishReport {
                id: String::new(),
                dir: PathBuf::new(),
                rows: 0,
                dropped: 0,
                exit_code,
            }),
            State::Finished => Err(Error::Finished),
        }
    }

    #[inline]
    fn auto_step(&self) -> Result<u64> {
        // A match, not `ok_or(Error::StepOverflow)`: that builds the error
        // and drops it (an out-of-line drop of the whole enum) on every
        // call, about 30 instructions of a ~175-instruction `log`.
        match self.last_step {
            None => Ok(0),
            Some(step) => match step.checked_add(1) {
                Some(next) => Ok(next),
                None => Err(Error::StepOverflow),
            },
        }
    }
}

impl Drop for Run {
    /// Finishes a run that was not finished: exit code 1 when the thread is
    /// panicking, 0 otherwise. `Drop` cannot see why a run is dropped, so a
    /// run dropped on an error path (`?` out of the training loop) is
    /// recorded as finished; call [`Run::finish_with`] with a non-zero code
    /// there to record it as failed. Errors cannot be returned from here;
    /// the data stays in the ring for the service either way.
    fn drop(&mut self) {
        if let State::Active(a) = &self.state {
            let timeout = a.finish_timeout;
            let code = if std::thread::panicking() { 1 } else { 0 };
            let _ = self.end(code, timeout);
        }
    }
}

impl Active {
    fn start(settings: &Settings, mode: Mode) -> Result<Active> {
        let capacity = settings.resolved_capacity()?;
        let root = absolute(&settings.root.clone().unwrap_or_else(paths::default_root))?;
        let id = new_run_id();
        let dir = root.join(&id);
        let run_dir_err = |path: &Path, what, source| Error::RunDir {
            path: path.to_owned(),
            what,
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)
            .map_err(|e| run_dir_err(&root, "cannot create the run directory root", e))?;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| run_dir_err(&dir, "cannot create the run directory", e))?;
        let started = Self::start_in(settings, mode, capacity, id, dir.clone());
        if started.is_err() {
            // Leave nothing half-made behind: the run never started.
            if let Ok(meta) = RunMeta::load(&dir) {
                let _ = std::fs::remove_file(meta.ring_path);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    fn start_in(
        settings: &Settings,
        mode: Mode,
        capacity: u64,
        id: String,
        dir: PathBuf,
    ) -> Result<Active> {
        // First, so the clock's rate baseline grows while the ring is made.
        let clock = clock::RowClock::new();
        let ring_path = create_ring_dir(settings, &dir).join(format!("{id}.ring"));
        let file = RingFile::create(&ring_path, RingOptions::with_capacity(capacity))?;
        let pid = std::process::id();
        let meta = RunMeta {
            format: 1,
            name: settings.run_name.clone().unwrap_or_else(|| id.clone()),
            id,
            project: settings.project.clone(),
            created_ms: now_ns() / 1_000_000,
            host: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            pid,
            pid_start_time: paths::process_start_time(pid),
            ring_path: ring_path.clone(),
            ring_id: file.info().ring_id,
            mode: mode.as_str().to_owned(),
            sdk_version: env!("CARGO_PKG_VERSION").to_owned(),
            tracking_uri: settings.resolved_tracking_uri(),
        };
        if let Err(source) = meta.store(&dir) {
            let _ = std::fs::remove_file(&ring_path);
            return Err(Error::RunDir {
                path: dir,
                what: "cannot write run.json",
                source,
            });
        }
        let mut active = Active {
            metrics: MetricTable::new(settings.max_metrics, random_u32() | 1),
            writer: RingWriter::new(file),
            meta,
            dir,
            seq: 0,
            rows: 0,
            dropped: 0,
            full_events: 0,
            stalled_at: None,
            full_wait: settings.full_wait,
            finish_timeout: settings.finish_timeout,
            clock,
            scratch: Vec::new(),
            control: None,
        };
        if !settings.config.is_empty() {
            active.write_config(&settings.config)?;
        }
        active.register(settings)?;
        Ok(active)
    }

    fn register(&mut self, settings: &Settings) -> Result<()> {
        let service_dir = settings
            .service_dir
            .clone()
            .unwrap_or_else(paths::default_service_dir);
        let mut stream =
            client::connect_or_start(&service_dir, settings.service_bin.as_deref())?;
        match client::call(
            &mut stream,
            &Request::Register {
                run_dir: self.dir.clone(),
            },
        )? {
            Reply::Registered => {
                self.control = Some(stream);
                Ok(())
            }
            Reply::Refused(reason) => {
                Err(Error::Service(format!("run refused: {reason}")))
            }
            other => Err(Error::Service(format!(
                "unexpected reply to register: {other:?}"
            ))),
        }
    }

    fn define(&mut self, name: &str) -> Result<Metric> {
        let found = self.metrics.lookup(name)?;
        if found.is_new {
            let seq = self.seq;
            let id = found.id;
            self.put(
                record::metric_len(name.len()),
                record::KIND_METRIC,
                "metric name",
                |b| record::put_metric(b, seq, id, name),
            )?;
            self.seq += 1;
            self.metrics.commit(name);
        }
        Ok(Metric {
            id: found.id,
            run_tag: self.metrics.run_tag,
        })
    }

    #[inline]
    fn write_f64_row(&mut self, step: u64, values: &[(Metric, f64)]) -> Result<()> {
        self.metrics.begin_row();
        for &(metric, _) in values {
            self.metrics.check_in_row(metric)?;
        }
        let header = RowHeader {
            seq: self.seq,
            step,
            timestamp_ns: self.clock.now_ns(),
        };
        let len = record::row_len(values.len(), 0);
        self.put(len, record::KIND_ROW, "row", |buf| {
            record::put_row_header(buf, &header, values.len() as u32, 0);
            for (i, &(metric, value)) in values.iter().enumerate() {
                record::put_row_entry(
                    buf,
                    i,
                    metric.id,
                    record::TAG_F64,
                    value.to_bits(),
                );
            }
        })?;
        self.seq += 1;
        self.rows += 1;
        Ok(())
    }

    fn write_named_row(
        &mut self,
        step: u64,
        timestamp_ns: Option<i64>,
        values: &[(&str, Value)],
    ) -> Result<()> {
        let mut ids = std::mem::take(&mut self.scratch);
        let result = self.write_named_row_with(&mut ids, step, timestamp_ns, values);
        self.scratch = ids;
        result
    }

    fn write_named_row_with(
        &mut self,
        ids: &mut Vec<u32>,
        step: u64,
        timestamp_ns: Option<i64>,
        values: &[(&str, Value)],
    ) -> Result<()> {
        ids.clear();
        for (name, _) in values {
            ids.push(self.define(name)?.id);
        }
        self.metrics.begin_row();
        for &id in ids.iter() {
            self.metrics.check_in_row(Metric {
                id,
                run_tag: self.metrics.run_tag,
            })?;
        }
        let text_len: usize = values
            .iter()
            .map(|(_, v)| if let Value::Text(t) = v { t.len() } else { 0 })
            .sum();
        let header = RowHeader {
            seq: self.seq,
            step,
            timestamp_ns: match timestamp_ns {
                Some(ns) => ns,
                None => self.clock.now_ns(),
            },
        };
        let len = record::row_len(values.len(), text_len);
        self.put(len, record::KIND_ROW, "row", |buf| {
            record::put_row_header(buf, &header, values.len() as u32, text_len as u32);
            let text_start = record::row_len(values.len(), 0);
            let mut at = 0usize;
            for (i, ((_, value), &id)) in values.iter().zip(ids.iter()).enumerate() {
                let (tag, bits) = match value {
                    Value::F64(f) => (record::TAG_F64, f.to_bits()),
                    Value::I64(n) => (record::TAG_I64, *n as u64),
                    Value::Text(t) => {
                        buf[text_start + at..text_start + at + t.len()]
                            .copy_from_slice(t.as_bytes());
                        let bits = ((at as u64) << 32) | t.len() as u64;
                        at += t.len();
                        (record::TAG_TEXT, bits)
                    }
                };
                record::put_row_entry(buf, i, id, tag, bits);
            }
        })?;
        self.seq += 1;
        self.rows += 1;
        Ok(())
    }

    fn write_summary(&mut self, key: &str, value: Value) -> Result<()> {
        let body = encode_summary(&[(key.to_owned(), value)]).map_err(Error::Config)?;
        self.write_opaque(record::KIND_SUMMARY, "summary value", &body)
    }

    fn write_config(&mut self, entries: &[(String, ConfigValue)]) -> Result<()> {
        if let Some((key, _)) = entries.iter().find(|(k, _)| k.is_empty()) {
            return Err(Error::Config(format!("config key {key:?} is empty")));
        }
        let body = encode_config(entries).map_err(Error::Config)?;
        self.write_opaque(record::KIND_CONFIG, "config", &body)
    }

    fn write_opaque(&mut self, kind: u16, what: &'static str, body: &[u8]) -> Result<()> {
        let seq = self.seq;
        self.put(8 + body.len(), kind, what, |buf| {
            record::put_opaque_seq(buf, seq);
            buf[8..].copy_from_slice(body);
        })?;
        self.seq += 1;
        Ok(())
    }

    /// Reserves `len` payload bytes, lets `fill` write them and publishes
    /// the record, waiting for room by the full-ring rule.
    #[inline(always)]
    fn put(
        &mut self,
        len: usize,
        kind: u16,
        what: &'static str,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<()> {
        match self.writer.reserve(len) {
            Ok(mut slot) => {
                fill(slot.payload());
                slot.commit(kind);
                return Ok(());
            }
            Err(ReserveError::TooLarge { size, max }) => {
                return Err(Error::TooLarge {
                    what,
                    size,
                    limit: max,
                });
            }
            Err(ReserveError::Full { .. }) => self.wait_for_room(len, self.full_wait)?,
        }
        let mut slot = self.writer.reserve(len).map_err(|_| Error::RingFull {
            waited: Duration::ZERO,
            dropped: self.dropped,
        })?;
        fill(slot.payload());
        slot.commit(kind);
        Ok(())
    }

    #[cold]
    fn wait_for_room(&mut self, len: usize, wait: Duration) -> Result<()> {
        self.full_events += 1;
        self.writer.count_full();
        let read_now = self.writer.read_pos();
        if self.stalled_at == Some(read_now) {
            return Err(self.give_up(Duration::ZERO));
        }
        let start = Instant::now();
        let mut pause = Duration::from_micros(20);
        for spin in 0u32.. {
            if self.writer.has_room(len) {
                self.stalled_at = None;
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= wait {
                self.stalled_at = Some(self.writer.read_pos());
                return Err(self.give_up(waited));
            }
            if spin < 200 {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(2));
            }
        }
        unreachable!("the wait loop returns")
    }

    fn give_up(&mut self, waited: Duration) -> Error {
        self.dropped += 1;
        self.writer.count_dropped();
        Error::RingFull {
            waited,
            dropped: self.dropped,
        }
    }

    fn finish(
        mut self: Box<Self>,
        exit_code: i32,
        timeout: Duration,
    ) -> Result<FinishReport> {
        // One deadline covers both waits: room for the finish record, then
        // the drain.
        let deadline = Instant::now() + timeout;
        let seq = self.seq;
        match self.writer.reserve(record::FINISH_LEN) {
            Ok(mut slot) => {
                record::put_finish(slot.payload(), seq, exit_code);
                slot.commit(record::KIND_FINISH);
            }
            Err(_) => {
                self.stalled_at = None;
                self.wait_for_room(record::FINISH_LEN, timeout)?;
                let mut slot = self.writer.reserve(record::FINISH_LEN).map_err(|_| {
                    Error::RingFull {
                        waited: timeout,
                        dropped: self.dropped,
                    }
                })?;
                record::put_finish(slot.payload(), seq, exit_code);
                slot.commit(record::KIND_FINISH);
            }
        }
        self.seq += 1;
        while !self.writer.is_drained() {
            if Instant::now() >= deadline {
                return Err(Error::FinishTimeout {
                    timeout,
                    backlog: self.writer.backlog(),
                    ring: self.meta.ring_path.clone(),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.control.take();
        Ok(FinishReport {
            id: self.meta.id.clone(),
            dir: self.dir.clone(),
            rows: self.rows,
            dropped: self.dropped,
            exit_code,
        })
    }
}

/// Checks a project or run name: 1 to 255 bytes, no control characters,
/// no `/`.
fn check_label(what: &str, text: &str) -> Result<()> {
    if text.is_empty()
        || text.len() > 255
        || text.chars().any(|c| c.is_control() || c == '/')
    {
        return Err(Error::Settings(format!(
            "{what} {text:?} must be 1 to 255 bytes without '/' or control characters"
        )));
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|source| Error::RunDir {
        path: path.to_owned(),
        what: "cannot make the path absolute",
        source,
    })
}

/// The ring's directory: the configured one, or `/dev/shm/ringtrack-<uid>`,
/// falling back to the run directory when it cannot be created.
fn create_ring_dir(settings: &Settings, run_dir: &Path) -> PathBuf {
    let explicit =
        settings.ring_dir.is_some() || std::env::var_os("RINGTRACK_RING_DIR").is_some();
    match settings.resolved_ring_dir() {
        Some(dir) => {
            let made = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir);
            // A shared default location is used only when it is ours alone.
            if explicit || (made.is_ok() && is_private_dir(&dir)) {
                dir
            } else {
                run_dir.to_owned()
            }
        }
        None => run_dir.to_owned(),
    }
}

/// Whether `dir` is a directory owned by this user that no one else can
/// enter.
fn is_private_dir(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir).is_ok_and(|m| {
        m.is_dir() && m.uid() == nix::unistd::getuid().as_raw() && m.mode() & 0o077 == 0
    })
}

/// Nanoseconds since the Unix epoch (CLOCK_REALTIME), for everything but
/// rows, which use the run's row clock.
#[inline]
pub(crate) fn now_ns() -> i64 {
    clock::realtime_ns()
}

fn random_u32() -> u32 {
    let mut buf = [0u8; 4];
    // SAFETY: getrandom writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n == 4 {
        u32::from_le_bytes(buf)
    } else {
        (now_ns() as u32) ^ std::process::id().rotate_left(16)
    }
}

/// A run id: the UTC start time and six random hex digits,
/// `20261204-133000-a1b2c3`, so ids sort by start time.
fn new_run_id() -> String {
    let secs = now_ns().div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:06x}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        random_u32() & 0xff_ffff
    )
}

/// Converts days since 1970-01-01 to a (year, month, day) date in the
/// proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_426), (2025, 12, 4));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn run_ids_have_the_documented_shape() {
        let id = new_run_id();
        assert_eq!(id.len(), 22, "{id}");
        assert_eq!(&id[8..9], "-");
    }

    #[test]
    fn disabled_runs_accept_everything_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::new("p").mode(Mode::Disabled).root(dir.path());
        let mut run = Run::init(settings).unwrap();
        let loss = run.metric("loss").unwrap();
        assert_eq!(run.log(&[(loss, 1.0)]).unwrap(), 0);
        assert_eq!(run.log(&[(loss, 1.0)]).unwrap(), 1);
        run.finish().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn bad_labels_are_named() {
        let err = Run::init(Settings::new("a/b")).unwrap_err().to_string();
        assert!(err.contains("project \"a/b\""), "{err}");
    }
}
