//! The control socket's messages, shared by the SDK and the service.
//!
//! The socket is a Unix stream socket in the service's directory. Each
//! message is a `u32` little-endian length followed by that many bytes of
//! postcard. A trainer sends [`Request::Register`] once and keeps the
//! connection open for the run's life: the service takes the connection's
//! end as the trainer's end, and then drains what is left and records how
//! the run ended. Other clients (the CLI) send one request and read one
//! reply.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Largest message either side accepts.
pub const MAX_MESSAGE: usize = 1 << 20;

/// A request to the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Start draining the run in this directory.
    Register {
        /// The run directory (absolute).
        run_dir: PathBuf,
    },
    /// Report what the service is doing.
    Status,
    /// Drain what is held, then exit.
    Stop,
}

/// The service's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// The run is being drained.
    Registered,
    /// The request was refused, with the reason.
    Refused(String),
    /// What the service is doing.
    Status(ServiceStatus),
    /// The service is stopping.
    Stopping,
}

/// The service's account of itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The service's process id.
    pub pid: u32,
    /// The service's version.
    pub version: String,
    /// Start time, milliseconds since the Unix epoch.
    pub started_ms: i64,
    /// The runs it drains.
    pub runs: Vec<RunStatus>,
}

/// One run as the service sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStatus {
    /// Run id.
    pub id: String,
    /// Run directory.
    pub dir: PathBuf,
    /// `running`, `finished`, `failed`, `crashed` or `error`.
    pub state: String,
    /// History rows made durable.
    pub rows: u64,
    /// Bytes published in the ring and not yet drained.
    pub backlog_bytes: u64,
    /// Rows the trainer dropped because the ring stayed full.
    pub dropped: u64,
}

/// Writes one message.
pub fn send<T: Serialize>(stream: &mut impl Write, message: &T) -> io::Result<()> {
    let body = postcard::to_stdvec(message)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame)
}

/// Reads one message; `Ok(None)` on a clean end of stream.
pub fn receive<T: for<'de> Deserialize<'de>>(
    stream: &mut impl Read,
) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "control message of {len} bytes exceeds the {MAX_MESSAGE}-byte limit"
            ),
        ));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    postcard::from_bytes(&body)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
