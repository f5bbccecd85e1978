//! The peers, each behind [`Peer`], and the child-process halves of the
//! cross-process ones ([`child_main`]).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use iceoryx2::prelude::*;
use ringtrack_benches::pin_current_thread;

/// One row: the step and four values, as the wire and the files hold it.
pub type RowBits = [u64; 5];

/// The step a cross-process consumer takes as "no more rows".
const END: u64 = u64::MAX;

/// Encodes a row.
#[inline]
pub fn row_bits(step: u64, values: &[f64; 4]) -> RowBits {
    [
        step,
        values[0].to_bits(),
        values[1].to_bits(),
        values[2].to_bits(),
        values[3].to_bits(),
    ]
}

fn row_bytes(row: &RowBits) -> [u8; 40] {
    let mut out = [0u8; 40];
    for (chunk, word) in out.chunks_exact_mut(8).zip(row) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// A way to get rows from a trainer to somewhere else.
pub trait Peer {
    /// Sends one row; the call whose latency is measured.
    fn send(&mut self, step: u64, values: &[f64; 4]);
    /// Waits until every row sent is where the peer puts rows; returns
    /// how many arrived.
    fn finish(self: Box<Self>) -> u64;
}

/// Where consumers run: the other core when pinning.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// The consumer's core, if pinned.
    pub consumer_cpu: Option<usize>,
}

impl Placement {
    fn pin(&self) {
        if let Some(cpu) = self.consumer_cpu {
            pin_current_thread(cpu);
        }
    }

    fn child(&self, args: &[&str]) -> (Child, BufReader<ChildStdout>) {
        let exe = std::env::current_exe().expect("current exe");
        let mut command = Command::new(exe);
        command
            .arg("--peer-child")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(cpu) = self.consumer_cpu {
            // SAFETY: runs in the child between fork and exec and makes
            // one async-signal-safe system call.
            unsafe {
                command.pre_exec(move || {
                    pin_current_thread(cpu);
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().expect("start the peer's reader process");
        let stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        (child, stdout)
    }
}

/// Reads the child's one-line answer (`ready` or a count).
fn read_line(from: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    from.read_line(&mut line)
        .expect("read from the peer process");
    line.trim().to_owned()
}

fn sync_file(mut out: BufWriter<File>) {
    out.flush().expect("flush");
    out.get_ref().sync_data().expect("sync");
}

// --- rtrb -----------------------------------------------------------------

/// rtrb: a wait-free in-process SPSC ring; the consumer only reads.
pub struct Rtrb {
    producer: rtrb::Producer<RowBits>,
    consumer: JoinHandle<u64>,
}

impl Rtrb {
    /// A ring of `capacity` rows and its consumer thread. With
    /// `idle_sleep`, the consumer takes whatever is there in one chunk and
    /// sleeps that long when the ring is empty (as the ringtrack service
    /// polls); without, it pops row by row and spins.
    pub fn new(
        capacity: usize,
        idle_sleep: Option<std::time::Duration>,
        placement: Placement,
    ) -> Rtrb {
        let (producer, consumer) = rtrb::RingBuffer::<RowBits>::new(capacity);
        let consumer = std::thread::spawn(move || {
            placement.pin();
            match idle_sleep {
                None => consume_spinning(consumer),
                Some(pause) => consume_batches(consumer, pause),
            }
        });
        Rtrb { producer, consumer }
    }
}

fn consume_spinning(mut consumer: rtrb::Consumer<RowBits>) -> u64 {
    let mut count = 0u64;
    let mut check = 0u64;
    loop {
        match consumer.pop() {
            Ok(row) => {
                count += 1;
                check = check.wrapping_add(row[0] ^ row[1]);
            }
            Err(_) if consumer.is_abandoned() => {
                if consumer.is_empty() {
                    break;
                }
            }
            Err(_) => std::hint::spin_loop(),
        }
    }
    std::hint::black_box(check);
    count
}

fn consume_batches(
    mut consumer: rtrb::Consumer<RowBits>,
    pause: std::time::Duration,
) -> u64 {
    let mut count = 0u64;
    let mut check = 0u64;
    loop {
        let abandoned = consumer.is_abandoned();
        let n = consumer.slots();
        if n == 0 {
            if abandoned {
                break;
            }
            std::thread::sleep(pause);
            continue;
        }
        let chunk = consumer.read_chunk(n).expect("slots are there");
        let (a, b) = chunk.as_slices();
        for row in a.iter().chain(b) {
            check = check.wrapping_add(row[0] ^ row[1]);
        }
        count += n as u64;
        chunk.commit_all();
    }
    std::hint::black_box(check);
    count
}

impl std::fmt::Debug for Rtrb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rtrb").finish_non_exhaustive()
    }
}

impl Peer for Rtrb {
    #[inline]
    fn send(&mut self, step: u64, values: &[f64; 4]) {
        let mut row = row_bits(step, values);
        loop {
            match self.producer.push(row) {
                Ok(()) => return,
                Err(rtrb::PushError::Full(back)) => {
                    row = back;
                    std::hint::spin_loop();
                }
            }
        }
    }

    fn finish(self: Box<Self>) -> u64 {
        drop(self.producer);
        self.consumer.join().expect("rtrb consumer")
    }
}

// --- crossbeam ------------------------------------------------------------

/// A bounded crossbeam channel to a thread that writes rows to a file.
pub struct Crossbeam {
    sender: crossbeam_channel::Sender<RowBits>,
    writer: JoinHandle<u64>,
}

impl Crossbeam {
    /// A channel of `capacity` rows to a thread writing `path`.
    pub fn new(capacity: usize, path: &Path, placement: Placement) -> Crossbeam {
        let (sender, receiver) = crossbeam_channel::bounded::<RowBits>(capacity);
        let file = File::create(path).expect("crossbeam peer file");
        let writer = std::thread::spawn(move || {
            placement.pin();
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let mut count = 0u64;
            for row in receiver {
                out.write_all(&row_bytes(&row)).expect("write");
                count += 1;
            }
            sync_file(out);
            count
        });
        Crossbeam { sender, writer }
    }
}

impl std::fmt::Debug for Crossbeam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crossbeam").finish_non_exhaustive()
    }
}

impl Peer for Crossbeam {
    #[inline]
    fn send(&mut self, step: u64, values: &[f64; 4]) {
        self.sender
            .send(row_bits(step, values))
            .expect("crossbeam writer is gone");
    }

    fn finish(self: Box<Self>) -> u64 {
        drop(self.sender);
        self.writer.join().expect("crossbeam writer")
    }
}

// --- Unix-domain socket ---------------------------------------------------

/// One `write(2)` of 40 bytes per row on a Unix stream socket, read by
/// another process that writes the rows to a file.
pub struct Uds {
    stream: UnixStream,
    child: Child,
    answer: BufReader<ChildStdout>,
}

impl Uds {
    /// Starts the reader process; `dir` holds the socket and the file.
    pub fn new(dir: &Path, placement: Placement) -> Uds {
        let socket = dir.join("uds.sock");
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).expect("bind the peer socket");
        let out = dir.join("uds.rows");
        let (child, answer) = placement.child(&[
            "uds",
            socket.to_str().expect("utf-8 path"),
            out.to_str().expect("utf-8 path"),
        ]);
        let (stream, _) = listener.accept().expect("reader connects");
        Uds {
            stream,
            child,
            answer,
        }
    }
}

impl std::fmt::Debug for Uds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uds").finish_non_exhaustive()
    }
}

impl Peer for Uds {
    #[inline]
    fn send(&mut self, step: u64, values: &[f64; 4]) {
        self.stream
            .write_all(&row_bytes(&row_bits(step, values)))
            .expect("write to the reader");
    }

    fn finish(mut self: Box<Self>) -> u64 {
        self.stream
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        let count = read_line(&mut self.answer).parse().expect("row count");
        self.child.wait().expect("reader exits");
        count
    }
}

fn uds_child(socket: &str, out: &str) {
    let stream = UnixStream::connect(socket).expect("connect");
    let mut input = BufReader::with_capacity(1 << 16, stream);
    let mut output = BufWriter::with_capacity(1 << 20, File::create(out).expect("file"));
    let mut row = [0u8; 40];
    let mut count = 0u64;
    while input.read_exact(&mut row).is_ok() {
        output.write_all(&row).expect("write");
        count += 1;
    }
    sync_file(output);
    println!("{count}");
}

// --- iceoryx2 -------------------------------------------------------------

/// iceoryx2 publish/subscribe between two processes: `send_copy` of the
/// row; the subscriber process writes rows to a file. The service does not
/// overflow and the publisher retries until delivered, so no row is lost.
pub struct Iceoryx2 {
    // Field order is drop order: the publisher before its service and node.
    publisher: iceoryx2::port::publisher::Publisher<ipc::Service, RowBits, ()>,
    _service: iceoryx2::service::port_factory::publish_subscribe::PortFactory<
        ipc::Service,
        RowBits,
        (),
    >,
    _node: Node<ipc::Service>,
    child: Child,
    answer: BufReader<ChildStdout>,
}

/// Subscriber buffer, in rows.
const ICEORYX_BUFFER: usize = 4096;

impl Iceoryx2 {
    /// Creates the service and starts the subscriber process.
    pub fn new(dir: &Path, placement: Placement) -> Result<Iceoryx2, String> {
        set_log_level(LogLevel::Error);
        let name = format!("ringtrack-bench/{}/{}", std::process::id(), unique());
        let node = NodeBuilder::new()
            .create::<ipc::Service>()
            .map_err(|e| format!("iceoryx2 node: {e:?}"))?;
        let service_name: ServiceName = name
            .as_str()
            .try_into()
            .map_err(|e| format!("iceoryx2 service name: {e:?}"))?;
        let service = node
            .service_builder(&service_name)
            .publish_subscribe::<RowBits>()
            .enable_safe_overflow(false)
            .subscriber_max_buffer_size(ICEORYX_BUFFER)
            .history_size(0)
            .max_publishers(1)
            .max_subscribers(1)
            .create()
            .map_err(|e| format!("iceoryx2 service: {e:?}"))?;
        let publisher = service
            .publisher_builder()
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            .create()
            .map_err(|e| format!("iceoryx2 publisher: {e:?}"))?;
        let out = dir.join("iceoryx2.rows");
        let (child, mut answer) =
            placement.child(&["iceoryx2", &name, out.to_str().expect("utf-8 path")]);
        let ready = read_line(&mut answer);
        if ready != "ready" {
            return Err(format!("iceoryx2 subscriber process said {ready:?}"));
        }
        // The publisher learns of the subscriber on a send; the first rows
        // may reach nobody, so send a marker until one is delivered.
        let mut tries = 0;
        while publisher
            .send_copy(row_bits(END - 1, &[0.0; 4]))
            .map_err(|e| format!("iceoryx2 send: {e:?}"))?
            == 0
        {
            tries += 1;
            if tries > 10_000 {
                return Err("iceoryx2 subscriber never connected".into());
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
        Ok(Iceoryx2 {
            publisher,
            _service: service,
            _node: node,
            child,
            answer,
        })
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl std::fmt::Debug for Iceoryx2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iceoryx2").finish_non_exhaustive()
    }
}

impl Peer for Iceoryx2 {
    #[inline]
    fn send(&mut self, step: u64, values: &[f64; 4]) {
        self.publisher
            .send_copy(row_bits(step, values))
            .expect("iceoryx2 send");
    }

    fn finish(mut self: Box<Self>) -> u64 {
        self.publisher
            .send_copy(row_bits(END, &[0.0; 4]))
            .expect("iceoryx2 send");
        let count = read_line(&mut self.answer).parse().expect("row count");
        self.child.wait().expect("subscriber exits");
        count
    }
}

fn iceoryx2_child(name: &str, out: &str) {
    set_log_level(LogLevel::Error);
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .expect("iceoryx2 node");
    let service_name: ServiceName = name.try_into().expect("service name");
    let service = node
        .service_builder(&service_name)
        .publish_subscribe::<RowBits>()
        .open()
        .expect("open the service");
    let subscriber = service
        .subscriber_builder()
        .buffer_size(ICEORYX_BUFFER)
        .create()
        .expect("subscriber");
    println!("ready");
    let mut output = BufWriter::with_capacity(1 << 20, File::create(out).expect("file"));
    let mut count = 0u64;
    'rows: loop {
        match subscriber.receive().expect("receive") {
            Some(sample) => {
                let row: RowBits = *sample;
                match row[0] {
                    END => break 'rows,
                    s if s == END - 1 => {} // connection marker
                    _ => {
                        output.write_all(&row_bytes(&row)).expect("write");
                        count += 1;
                    }
                }
            }
            None => std::hint::spin_loop(),
        }
    }
    sync_file(output);
    println!("{count}");
}

/// The reader halves of the cross-process peers. Returns `true` when
/// `args` asked for one (and it ran).
pub fn child_main(args: &[String]) -> bool {
    let Some(at) = args.iter().position(|a| a == "--peer-child") else {
        return false;
    };
    let rest: Vec<&str> = args[at + 1..].iter().map(String::as_str).collect();
    match rest.as_slice() {
        ["uds", socket, out, ..] => uds_child(socket, out),
        ["iceoryx2", name, out, ..] => iceoryx2_child(name, out),
        other => panic!("unknown peer child {other:?}"),
    }
    true
}

/// A temporary directory for the peers' sockets and files.
pub fn scratch_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_owned();
    (dir, path)
}
