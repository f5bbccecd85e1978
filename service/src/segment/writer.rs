//! Appending frames to a run's newest segment, with recovery and rollover.
//!
//! [`SegmentWriter::open`] first recovers: it scans the run's segments,
//! cuts a torn tail off the newest one (a frame the service was writing
//! when it died) and reports what the segments hold, so the drain resumes
//! exactly after the last event that is durable. A frame is written at the
//! known end of the file with one positioned write; if that write fails
//! part-way, the file is cut back to its previous length, so a failed
//! append never leaves a partial frame behind a good one.
//!
//! # Fsync policy
//!
//! [`FsyncPolicy::Interval`] (the default, 1 s) syncs the newest segment at
//! most once per interval while frames arrive, and always when a segment
//! is sealed and when a run ends. Written frames are in the page cache at
//! once, so they survive a crash of the service itself; the interval bounds
//! what a crash of the whole machine can take. [`FsyncPolicy::Always`]
//! syncs every frame before the ring space is freed.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::format::{FileHeader, FILE_HEADER_LEN};
use super::reader::{list_segments, scan_segment, SegmentProblem};
use super::segments_dir;
use crate::event::Event;

/// When segments are synced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every frame.
    Always,
    /// At most once per interval while data arrives, and at every seal and
    /// run end.
    Interval(Duration),
}

/// What recovery found in a run's segments.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The sequence number the next event must have.
    pub next_seq: u64,
    /// Ring position just past the last durable record, when the newest
    /// segment belongs to the current ring.
    pub ring_end: Option<u64>,
    /// Every event the segments hold, in order.
    pub events: Vec<Event>,
    /// The torn tail that was cut off, if any.
    pub cut: Option<(SegmentProblem, u64)>,
    /// Problems in older segments (left as they are).
    pub problems: Vec<SegmentProblem>,
}

/// The writer of a run's newest segment.
#[derive(Debug)]
pub struct SegmentWriter {
    dir: PathBuf,
    file: File,
    number: u32,
    len: u64,
    limit: u64,
    ring_id: u64,
    policy: FsyncPolicy,
    dirty: bool,
    last_sync: Instant,
}

impl SegmentWriter {
    /// Recovers the run's segments and opens the newest for appending
    /// (starting a new one when there is none, when it is full, or when it
    /// belongs to another ring).
    pub fn open(
        run_dir: &Path,
        ring_id: u64,
        limit: u64,
        policy: FsyncPolicy,
    ) -> io::Result<(SegmentWriter, Recovered)> {
        let dir = segments_dir(run_dir);
        // Lists first: a `segments` link is refused before anything is
        // created through it.
        list_segments(run_dir)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let segments = list_segments(run_dir)?;
        let mut recovered = Recovered::default();
        let last = segments.len().saturating_sub(1);
        let mut tail: Option<(u32, PathBuf, u64, Option<FileHeader>)> = None;
        for (i, (number, path)) in segments.iter().enumerate() {
            let report = scan_segment(path)?;
            if let Some(frame) = report.frames.last() {
                recovered.next_seq = frame.first_seq + u64::from(frame.count);
                recovered.ring_end = (report.header.map(|h| h.ring_id) == Some(ring_id))
                    .then_some(frame.ring_end);
            }
            recovered.events.extend(report.events);
            if i == last {
                if let Some(problem) = report.problem {
                    let cut = report.file_len - report.valid_len;
                    recovered.cut = Some((problem, cut));
                }
                tail = Some((*number, path.clone(), report.valid_len, report.header));
            } else {
                recovered.problems.extend(report.problem);
            }
        }
        let writer = match tail {
            Some((number, path, valid_len, Some(header)))
                if header.ring_id == ring_id && valid_len < limit =>
            {
                let file = open_append(&path)?;
                if file.metadata()?.len() != valid_len {
                    file.set_len(valid_len)?;
                    file.sync_all()?;
                }
                SegmentWriter::with_file(
                    dir, file, number, valid_len, limit, ring_id, policy,
                )
            }
            Some((number, path, valid_len, _)) => {
                // The newest file is full, of another ring, or has no valid
                // header: leave it (cut to its good prefix) and start anew.
                if valid_len < FILE_HEADER_LEN as u64 {
                    std::fs::remove_file(&path)?;
                } else {
                    let file = open_append(&path)?;
                    file.set_len(valid_len)?;
                    file.sync_all()?;
                }
                SegmentWriter::create(dir, number + 1, limit, ring_id, policy)?
            }
            None => SegmentWriter::create(dir, 0, limit, ring_id, policy)?,
        };
        Ok((writer, recovered))
    }

    fn with_file(
        dir: PathBuf,
        file: File,
        number: u32,
        len: u64,
        limit: u64,
        ring_id: u64,
        policy: FsyncPolicy,
    ) -> SegmentWriter {
        SegmentWriter {
            dir,
            file,
            number,
            len,
            limit,
            ring_id,
            policy,
            dirty: false,
            last_sync: Instant::now(),
        }
    }

    fn create(
        dir: PathBuf,
        number: u32,
        limit: u64,
        ring_id: u64,
        policy: FsyncPolicy,
    ) -> io::Result<SegmentWriter> {
        let path = dir.join(format!("{number:08}.seg"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        let init = file
            .write_all_at(&FileHeader { ring_id }.encode(), 0)
            .and_then(|()| file.sync_all())
            .and_then(|()| File::open(&dir)?.sync_all());
        if let Err(err) = init {
            // Leave no headerless file behind: it would make every later
            // attempt to create this segment fail with "File exists".
            let _ = std::fs::remove_file(&path);
            return Err(err);
        }
        Ok(SegmentWriter::with_file(
            dir,
            file,
            number,
            FILE_HEADER_LEN as u64,
            limit,
            ring_id,
            policy,
        ))
    }

    /// Appends one encoded frame, syncing by the policy and sealing the
    /// segment when it reaches its size limit.
    ///
    /// An error means the frame is not in the segment (any part of it that
    /// made it was cut off again), so the caller retries the same frame.
    /// A seal that fails after the frame is in does not fail the append: it
    /// is retried before the next frame is written.
    pub fn append(&mut self, frame: &[u8]) -> io::Result<()> {
        if self.len >= self.limit {
            self.seal()?;
        }
        let before = self.len;
        let written = self
            .file
            .write_all_at(frame, before)
            .and_then(|()| self.check_linked());
        if let Err(err) = written {
            // Cut any part of the frame that made it, so the file ends on a
            // whole frame.
            let _ = self.file.set_len(before);
            return Err(err);
        }
        self.len += frame.len() as u64;
        self.dirty = true;
        let synced = match self.policy {
            FsyncPolicy::Always => self.sync(),
            FsyncPolicy::Interval(every) if self.last_sync.elapsed() >= every => {
                self.sync()
            }
            FsyncPolicy::Interval(_) => Ok(()),
        };
        if let Err(err) = synced {
            // The caller will write the frame again: take this copy out so
            // the retry does not leave it in the segment twice.
            self.len = before;
            let _ = self.file.set_len(before);
            return Err(err);
        }
        if self.len >= self.limit {
            if let Err(err) = self.seal() {
                tracing::warn!(segment = self.number, error = %err, "cannot seal the segment yet; retrying before the next frame");
            }
        }
        Ok(())
    }

    /// Fails when the segment file no longer has a name: its directory (or
    /// the run directory) was removed, so what is written to it is lost.
    fn check_linked(&self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if self.file.metadata()?.nlink() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "segment {} was removed while being written",
                    self.dir.join(format!("{:08}.seg", self.number)).display()
                ),
            ));
        }
        Ok(())
    }

    /// Syncs the newest segment if it has unsynced frames.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.sync_data()?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Syncs when the interval has passed.
    pub fn sync_if_due(&mut self) -> io::Result<()> {
        match self.policy {
            FsyncPolicy::Interval(every)
                if self.dirty && self.last_sync.elapsed() >= every =>
            {
                self.sync()
            }
            _ => Ok(()),
        }
    }

    /// Seals the current segment and starts the next one.
    pub fn seal(&mut self) -> io::Result<()> {
        self.sync()?;
        let next = SegmentWriter::create(
            self.dir.clone(),
            self.number + 1,
            self.limit,
            self.ring_id,
            self.policy,
        )?;
        tracing::info!(segment = self.number, bytes = self.len, "segment sealed");
        *self = next;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}
