//! Draining one run: ring records in, segment frames out.
//!
//! A drain owns one run from the moment the service learns of it until the
//! run ends. It recovers first (what the segments hold decides where the
//! ring is resumed and which sequence number comes next), then loops:
//! copy a batch of records out of the ring, check them, write them as one
//! frame, and only then free their ring space. It ends the run when it
//! drains the trainer's finish record, or when the trainer is gone and the
//! ring is empty (the run crashed).
//!
//! A fault in the ring (corrupt bytes, a sequence gap) ends this run with
//! the error phase and a message naming the file and the fault. A fault
//! writing segments (a full disk, an I/O error) keeps the batch, frees
//! nothing, reports once, and retries until it works. A segment or run
//! directory removed while live is not retried: nothing written there could
//! be found again, so the run ends with an error and its ring file, which
//! still holds what was not durable, is left in place.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringbuf_core::{Batch, RingFile, RingReader};
use ringtrack::meta::RunMeta;
use ringtrack::paths::process_alive;

use crate::event::Event;
use crate::segment::{encode_frame, FsyncPolicy, SegmentWriter};
use crate::state::{now_ms, Phase, RunState};

/// How drains behave; the same for every run of a service.
#[derive(Debug, Clone, Copy)]
pub struct DrainOptions {
    /// Seal a segment once it reaches this many bytes.
    pub segment_limit: u64,
    /// When to sync segments.
    pub fsync: FsyncPolicy,
    /// Most record bytes per frame. Each drain holds a few buffers of this
    /// size (the copied records, their events, the encoded and the
    /// compressed frame), so it bounds the service's memory per live run.
    pub batch_bytes: usize,
    /// Longest sleep between polls of a ring that was busy within the last
    /// second: what a row logged then may wait before it is drained.
    pub idle_poll: Duration,
    /// Longest sleep between polls of a ring that has been quiet for a
    /// second or more; the first row after such a pause may wait this long.
    /// It keeps a service with many quiet runs near zero CPU.
    pub quiet_poll: Duration,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            segment_limit: 16 << 20,
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            batch_bytes: 1 << 20,
            idle_poll: Duration::from_millis(10),
            quiet_poll: Duration::from_millis(40),
        }
    }
}

/// What the service and `status` can see of a run while it drains.
#[derive(Debug)]
pub struct RunHandle {
    /// Run id.
    pub id: String,
    /// Run directory.
    pub dir: PathBuf,
    /// Current phase.
    pub phase: Mutex<Phase>,
    /// Rows durable.
    pub rows: AtomicU64,
    /// Bytes published and not yet drained.
    pub backlog: AtomicU64,
    /// Records the trainer dropped.
    pub dropped: AtomicU64,
    /// Set when the trainer's control connection closed.
    pub trainer_gone: AtomicBool,
}

impl RunHandle {
    /// A handle for the run in `dir` with id `id`.
    pub fn new(id: String, dir: PathBuf) -> RunHandle {
        RunHandle {
            id,
            dir,
            phase: Mutex::new(Phase::Running),
            rows: AtomicU64::new(0),
            backlog: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            trainer_gone: AtomicBool::new(false),
        }
    }

    fn set_phase(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = phase;
    }
}

/// How a drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainEnd {
    /// The run ended (finished, failed, crashed or error).
    RunEnded(Phase),
    /// The service is stopping; the run continues at the next start.
    Stopped,
}

/// Drains the run until it ends or `stop` is set.
pub fn drain_run(
    handle: &RunHandle,
    options: &DrainOptions,
    stop: &AtomicBool,
) -> DrainEnd {
    match Drain::open(handle, options) {
        Ok(Opened::Live(mut drain)) => drain.run(stop),
        Ok(Opened::Ended(end)) => end,
        Err(message) => {
            tracing::error!(run = %handle.id, error = %message, "run rejected");
            let mut state = RunState::load(&handle.dir).unwrap_or_else(RunState::running);
            state.phase = Phase::Error;
            state.error = Some(message);
            state.ended_ms = Some(now_ms());
            let _ = state.store(&handle.dir);
            handle.set_phase(Phase::Error);
            DrainEnd::RunEnded(Phase::Error)
        }
    }
}

/// What opening a run found.
enum Opened<'a> {
    /// The run is live: drain it.
    Live(Box<Drain<'a>>),
    /// The run had already ended (or was closed during recovery).
    Ended(DrainEnd),
}

struct Drain<'a> {
    handle: &'a RunHandle,
    options: &'a DrainOptions,
    meta: RunMeta,
    reader: RingReader,
    segments: SegmentWriter,
    state: RunState,
    next_seq: u64,
    batch: Batch,
    /// A frame encoded but not yet written.
    pending: Option<PendingFrame>,
    write_fault: Option<String>,
    state_dirty: bool,
}

impl<'a> Drain<'a> {
    /// Recovers the run, or says how it had already ended.
    fn open(
        handle: &'a RunHandle,
        options: &'a DrainOptions,
    ) -> Result<Opened<'a>, String> {
        let dir = &handle.dir;
        // Links planted in a run directory are refused, never followed.
        refuse_link(&dir.join(ringtrack::meta::META_FILE))?;
        refuse_link(&dir.join(crate::state::STATE_FILE))?;
        let meta = RunMeta::load(dir)?;
        let mut state = RunState::load(dir).unwrap_or_else(RunState::running);
        if state.phase.is_final() {
            handle.set_phase(state.phase);
            return Ok(Opened::Ended(DrainEnd::RunEnded(state.phase)));
        }
        let ring_gone = matches!(
            std::fs::symlink_metadata(&meta.ring_path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound
        );
        if ring_gone && !process_alive(meta.pid, meta.pid_start_time) {
            // The trainer is gone and so is its ring (removed, or a tmpfs
            // lost in a reboot): what the segments hold is all there is.
            state.phase = Phase::Crashed;
            state.error = Some(format!(
                "ring file {} is gone: rows not yet drained are lost",
                meta.ring_path.display()
            ));
            state.ended_ms = Some(now_ms());
            let _ = state.store(dir);
            tracing::warn!(run = %meta.id, ring = %meta.ring_path.display(), "run crashed and its ring is gone");
            handle.set_phase(Phase::Crashed);
            return Ok(Opened::Ended(DrainEnd::RunEnded(Phase::Crashed)));
        }
        check_ring_path(&meta.ring_path)?;
        let ring = RingFile::open(&meta.ring_path).map_err(|e| e.to_string())?;
        if ring.info().ring_id != meta.ring_id {
            return Err(format!(
                "ring file {} has id {:016x}, but run.json names {:016x}",
                meta.ring_path.display(),
                ring.info().ring_id,
                meta.ring_id
            ));
        }
        let mut reader = RingReader::new(ring).map_err(|e| e.to_string())?;
        let (segments, recovered) =
            SegmentWriter::open(dir, meta.ring_id, options.segment_limit, options.fsync)
                .map_err(|e| format!("segments of {}: {e}", dir.display()))?;
        if let Some((problem, bytes)) = &recovered.cut {
            tracing::warn!(run = %meta.id, bytes, problem = %problem, "cut torn segment tail");
        }
        for problem in &recovered.problems {
            tracing::warn!(run = %meta.id, problem = %problem, "damaged sealed segment");
        }
        if let Some(end) = recovered.ring_end {
            reader.skip_to(end).map_err(|e| e.to_string())?;
        }
        state.rows = recovered
            .events
            .iter()
            .filter(|e| matches!(e, Event::Row { .. }))
            .count() as u64;
        state.events = recovered.events.len() as u64;
        handle.rows.store(state.rows, Ordering::Relaxed);
        let finish = recovered.events.iter().find_map(|e| match e {
            Event::Finish { exit_code, .. } => Some(*exit_code),
            _ => None,
        });
        let mut drain = Drain {
            handle,
            options,
            meta,
            reader,
            segments,
            state,
            next_seq: recovered.next_seq,
            batch: Batch::default(),
            pending: None,
            write_fault: None,
            state_dirty: true,
        };
        if let Some(exit_code) = finish {
            // The finish record is durable but the run was not closed.
            let end = drain.close(finish_phase(exit_code), Some(exit_code));
            if matches!(end, DrainEnd::RunEnded(_)) {
                drain.remove_ring();
            }
            return Ok(Opened::Ended(end));
        }
        tracing::info!(run = %drain.meta.id, rows = drain.state.rows, seq = drain.next_seq, "draining run");
        Ok(Opened::Live(Box::new(drain)))
    }

    fn run(&mut self, stop: &AtomicBool) -> DrainEnd {
        let mut idle = Duration::from_micros(200);
        let mut last_progress = Instant::now();
        let mut last_liveness = Instant::now();
        let mut last_state = Instant::now();
        // The write position published when the stop was first seen: a
        // stopping drain takes what was there then and no more, so a
        // trainer that never pauses cannot hold the service up.
        let mut stop_at: Option<u64> = None;
        loop {
            let progressed = match self.step() {
                Ok(Some(end)) => return end,
                Ok(None) => true,
                Err(StepError::Idle) => false,
                Err(StepError::Fatal(message)) => return self.fail(message),
            };
            if last_state.elapsed() >= Duration::from_secs(1) {
                self.housekeeping();
                last_state = Instant::now();
            }
            if stop.load(Ordering::Relaxed) {
                let target =
                    *stop_at.get_or_insert_with(|| self.reader.stats().write_pos);
                if !progressed || self.reader.committed() >= target {
                    return self.pause();
                }
            }
            if progressed {
                idle = Duration::from_micros(200);
                last_progress = Instant::now();
                continue;
            }
            if self.pending.is_none() && self.trainer_gone(&mut last_liveness) {
                // The trainer's last stores are visible now; take them.
                match self.step() {
                    Ok(Some(end)) => return end,
                    Ok(None) => continue,
                    Err(StepError::Idle) => {
                        return self.close(Phase::Crashed, None);
                    }
                    Err(StepError::Fatal(message)) => return self.fail(message),
                }
            }
            std::thread::sleep(idle);
            let longest = if last_progress.elapsed() >= Duration::from_secs(1) {
                self.options.quiet_poll
            } else {
                self.options.idle_poll
            };
            idle = (idle * 2).min(longest);
        }
    }

    /// One unit of work: retry a pending frame, or read and write a batch.
    fn step(&mut self) -> Result<Option<DrainEnd>, StepError> {
        if self.pending.is_none() {
            self.read_frame()?;
        }
        let Some(frame) = self.pending.take() else {
            return Err(StepError::Idle);
        };
        if let Err(err) = self.segments.append(&frame.bytes) {
            if err.kind() == std::io::ErrorKind::NotFound {
                // The segment or its directory was removed under the run:
                // there is nowhere durable left to write to. The rows not
                // yet durable stay in the ring file, which is kept.
                return Err(StepError::Fatal(format!(
                    "run directory {} lost its segments while live ({err}); rows not yet \
                     durable stay in ring {}",
                    self.handle.dir.display(),
                    self.meta.ring_path.display()
                )));
            }
            let message = format!(
                "cannot write segment in {}: {err}",
                self.handle.dir.display()
            );
            if self.write_fault.as_deref() != Some(message.as_str()) {
                self.state.write_faults += 1;
                tracing::error!(run = %self.meta.id, error = %message, "segment write failed; holding the ring");
                self.state.error = Some(message.clone());
                let _ = self.state.store(&self.handle.dir);
                self.write_fault = Some(message);
            }
            self.pending = Some(frame);
            std::thread::sleep(Duration::from_millis(200));
            return Err(StepError::Idle);
        }
        if self.write_fault.take().is_some() {
            tracing::info!(run = %self.meta.id, "segment writes work again");
            self.state.error = None;
        }
        self.state.rows += frame.rows;
        self.state.events += frame.events;
        self.handle.rows.store(self.state.rows, Ordering::Relaxed);
        self.state_dirty = true;
        if let Some(exit_code) = frame.finish {
            // The segment must hold the finish before the trainer is told.
            return Ok(Some(self.close_after(frame.ring_end, exit_code)));
        }
        self.reader
            .commit_read(frame.ring_end)
            .map_err(|e| StepError::Fatal(e.to_string()))?;
        Ok(None)
    }

    /// Copies a batch out of the ring and encodes it as the pending frame.
    fn read_frame(&mut self) -> Result<(), StepError> {
        self.reader
            .read_batch(self.options.batch_bytes, &mut self.batch)
            .map_err(|e| StepError::Fatal(e.to_string()))?;
        let stats = self.reader.stats();
        self.handle
            .backlog
            .store(stats.write_pos - stats.read_pos, Ordering::Relaxed);
        self.handle.dropped.store(stats.dropped, Ordering::Relaxed);
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut events = Vec::with_capacity(self.batch.len());
        let mut finish = None;
        let mut rows = 0;
        for record in self.batch.iter() {
            let event = Event::from_record(&record).map_err(|e| {
                StepError::Fatal(format!("ring {}: {e}", self.meta.ring_path.display()))
            })?;
            let seq = event.seq();
            if seq < self.next_seq {
                continue; // already durable: read again after a restart
            }
            if seq != self.next_seq {
                return Err(StepError::Fatal(format!(
                    "ring {}: sequence number {seq} at ring position {} where {} was due",
                    self.meta.ring_path.display(),
                    record.pos,
                    self.next_seq
                )));
            }
            self.next_seq += 1;
            match &event {
                Event::Row { .. } => rows += 1,
                Event::Finish { exit_code, .. } => finish = Some(*exit_code),
                _ => {}
            }
            let is_finish = finish.is_some();
            events.push(event);
            if is_finish {
                break; // anything after a finish is not part of the run
            }
        }
        if events.is_empty() {
            self.reader
                .commit_read(self.batch.end_pos())
                .map_err(|e| StepError::Fatal(e.to_string()))?;
            return Ok(());
        }
        let frame =
            encode_frame(&events, self.batch.end_pos()).map_err(StepError::Fatal)?;
        self.pending = Some(PendingFrame {
            bytes: frame,
            ring_end: self.batch.end_pos(),
            finish,
            rows,
            events: events.len() as u64,
        });
        Ok(())
    }

    fn trainer_gone(&self, last_check: &mut Instant) -> bool {
        if self.handle.trainer_gone.load(Ordering::Relaxed) {
            return true;
        }
        if last_check.elapsed() < Duration::from_millis(500) {
            return false;
        }
        *last_check = Instant::now();
        !process_alive(self.meta.pid, self.meta.pid_start_time)
    }

    fn housekeeping(&mut self) {
        if let Err(err) = self.segments.sync_if_due() {
            tracing::warn!(run = %self.meta.id, error = %err, "segment sync failed");
        }
        if self.state_dirty {
            self.state.dropped = self.reader.stats().dropped;
            if self.state.store(&self.handle.dir).is_ok() {
                self.state_dirty = false;
            }
        }
    }

    /// Ends the run after the frame holding its finish record was written.
    fn close_after(&mut self, ring_end: u64, exit_code: i32) -> DrainEnd {
        let end = self.close(finish_phase(exit_code), Some(exit_code));
        if let Err(err) = self.reader.commit_read(ring_end) {
            tracing::warn!(run = %self.meta.id, error = %err, "could not free the ring");
        }
        if matches!(end, DrainEnd::RunEnded(_)) {
            self.remove_ring();
        }
        end
    }

    /// Writes the final state. When that fails the run must not be
    /// forgotten: the drain ends as if stopped, so the run stays in the
    /// registry (and its ring in place) and the next service start records
    /// how it ended, from the segments.
    fn record_end(&mut self) -> DrainEnd {
        match self.state.store(&self.handle.dir) {
            Ok(()) => DrainEnd::RunEnded(self.state.phase),
            Err(err) => {
                tracing::error!(run = %self.meta.id, error = %err, "cannot write state.json; the run stays registered for the next service start to record its end");
                DrainEnd::Stopped
            }
        }
    }

    fn close(&mut self, phase: Phase, exit_code: Option<i32>) -> DrainEnd {
        if let Err(err) = self.segments.sync() {
            tracing::error!(run = %self.meta.id, error = %err, "final segment sync failed");
        }
        self.state.phase = phase;
        self.state.exit_code = exit_code;
        self.state.ended_ms = Some(now_ms());
        self.state.dropped = self.reader.stats().dropped;
        let end = self.record_end();
        self.handle.set_phase(phase);
        self.handle.backlog.store(0, Ordering::Relaxed);
        match phase {
            Phase::Crashed => {
                tracing::warn!(run = %self.meta.id, rows = self.state.rows, "run crashed: trainer gone without finishing");
                if matches!(end, DrainEnd::RunEnded(_)) {
                    self.remove_ring();
                }
            }
            _ => {
                tracing::info!(run = %self.meta.id, rows = self.state.rows, state = phase.as_str(), "run ended")
            }
        }
        end
    }

    fn fail(&mut self, message: String) -> DrainEnd {
        tracing::error!(run = %self.meta.id, error = %message, "run stopped on a fault");
        let _ = self.segments.sync();
        self.state.phase = Phase::Error;
        self.state.error = Some(message);
        self.state.ended_ms = Some(now_ms());
        let end = self.record_end();
        self.handle.set_phase(Phase::Error);
        end
    }

    /// Stops for a service shutdown, leaving the run to be resumed.
    fn pause(&mut self) -> DrainEnd {
        let _ = self.segments.sync();
        let _ = self.state.store(&self.handle.dir);
        tracing::info!(run = %self.meta.id, rows = self.state.rows, "drain paused for shutdown");
        DrainEnd::Stopped
    }

    fn remove_ring(&self) {
        if let Err(err) = std::fs::remove_file(&self.meta.ring_path) {
            if err.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(run = %self.meta.id, error = %err, "cannot remove ring file");
            }
        }
    }
}

/// A frame encoded from a batch, kept until it is in a segment.
struct PendingFrame {
    bytes: Vec<u8>,
    /// Ring position just past the batch.
    ring_end: u64,
    /// The exit code, when the frame holds the finish record.
    finish: Option<i32>,
    rows: u64,
    events: u64,
}

enum StepError {
    Idle,
    Fatal(String),
}

fn finish_phase(exit_code: i32) -> Phase {
    if exit_code == 0 {
        Phase::Finished
    } else {
        Phase::Failed
    }
}

/// Fails when `path` exists but is a symbolic link or not a regular file.
fn refuse_link(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(()),
        Ok(meta) => Err(format!(
            "{} is a {}, not a regular file; the service does not follow links planted \
             in a run directory",
            path.display(),
            if meta.file_type().is_symlink() {
                "symbolic link"
            } else {
                "special file"
            }
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot inspect {}: {e}", path.display())),
    }
}

/// Checks the ring file `run.json` names before the service maps it: a
/// regular file (not a link), owned by the service's user and writable by
/// no one else, so a ring cannot be made to point at someone else's file.
fn check_ring_path(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) => return Err(format!("ring file {}: {e}", path.display())),
    };
    if !meta.file_type().is_file() {
        return Err(format!(
            "ring file {} is a {}; the service maps only regular files",
            path.display(),
            if meta.file_type().is_symlink() {
                "symbolic link"
            } else {
                "special file"
            }
        ));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "ring file {} belongs to uid {}, not to this service's uid {me}",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "ring file {} can be written by other users (mode {:o})",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The run id for a run directory, checked to be a plain file name.
pub fn run_id_of(dir: &Path) -> Option<String> {
    let name = dir.file_name()?.to_str()?;
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| name.to_owned())
}
