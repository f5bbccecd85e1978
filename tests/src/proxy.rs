//! A small HTTP proxy on loopback that sits in front of the real MLflow
//! server and injects the faults a real server cannot be made to produce:
//! refused connections, resets, 5xx storms, 429 with `Retry-After`, and
//! answers that stall past the client's timeout.
//!
//! Every request is decided by a rule the test gives, from the request's
//! path and its number among the requests seen. The proxy stops when
//! dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Pass it to the server and its answer back.
    Forward,
    /// Answer with this status (and `Retry-After` seconds), not forwarding.
    Status(u16, Option<u64>),
    /// Close the connection without an answer, not forwarding.
    Reset,
    /// Forward it, then close the connection instead of answering: the
    /// server has applied the request but the client cannot know.
    ForwardThenReset,
    /// Wait, then forward (a slow server; past the client's timeout the
    /// client gives up while the server still applies the request).
    Stall(Duration),
}

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// Its number, from 0.
    pub index: usize,
    /// Method and path, e.g. `POST /api/2.0/mlflow/runs/log-batch`.
    pub line: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

type Rule = dyn Fn(&SeenRequest) -> Fault + Send + Sync;

/// The proxy.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`.
    pub uri: String,
    stop: Arc<AtomicBool>,
    /// Requests seen so far.
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("uri", &self.uri)
            .finish()
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free loopback port.
    pub fn start(
        upstream: &str,
        rule: impl Fn(&SeenRequest) -> Fault + Send + Sync + 'static,
    ) -> FaultProxy {
        FaultProxy::start_on(0, upstream, rule)
    }

    /// Starts a proxy on `port` (0 for any).
    pub fn start_on(
        port: u16,
        upstream: &str,
        rule: impl Fn(&SeenRequest) -> Fault + Send + Sync + 'static,
    ) -> FaultProxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the proxy");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let uri = format!("http://{}", listener.local_addr().expect("proxy address"));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream
            .strip_prefix("http://")
            .expect("http upstream")
            .to_owned();
        let rule: Arc<Rule> = Arc::new(rule);
        let counter = Arc::new(AtomicUsize::new(0));
        {
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let (rule, seen, counter, upstream) = (
                                Arc::clone(&rule),
                                Arc::clone(&seen),
                                Arc::clone(&counter),
                                upstream.clone(),
                            );
                            std::thread::spawn(move || {
                                let _ = serve(client, &upstream, &*rule, &seen, &counter);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        FaultProxy { uri, stop, seen }
    }

    /// How many requests whose line contains `needle` were seen.
    pub fn count(&self, needle: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.line.contains(needle))
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A free loopback port (bound and released at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn serve(
    mut client: TcpStream,
    upstream: &str,
    rule: &Rule,
    seen: &Mutex<Vec<SeenRequest>>,
    counter: &AtomicUsize,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (head, body) = read_request(&mut client)?;
    let line = head
        .lines()
        .next()
        .unwrap_or("")
        .rsplit_once(' ')
        .map_or("", |(l, _)| l)
        .to_owned();
    let authorization = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        })
        .map(|(_, v)| v.trim().to_owned());
    let request = SeenRequest {
        index: counter.fetch_add(1, Ordering::SeqCst),
        line,
        authorization,
    };
    let fault = rule(&request);
    seen.lock().unwrap().push(request);
    match fault {
        Fault::Forward => {
            let reply = forward(upstream, &head, &body)?;
            client.write_all(&reply)
        }
        Fault::Stall(wait) => {
            std::thread::sleep(wait);
            let reply = forward(upstream, &head, &body)?;
            let _ = client.write_all(&reply);
            Ok(())
        }
        Fault::ForwardThenReset => {
            forward(upstream, &head, &body)?;
            reset(client);
            Ok(())
        }
        Fault::Reset => {
            reset(client);
            Ok(())
        }
        Fault::Status(status, retry_after) => {
            let text = format!("{{\"error_code\":\"INJECTED_FAULT\",\"message\":\"fault injected by the test proxy ({status})\"}}");
            let extra = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            write!(
                client,
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{text}",
                text.len()
            )
        }
    }
}

/// Closes with a TCP reset rather than a clean close.
fn reset(client: TcpStream) {
    let _ = nix::sys::socket::setsockopt(
        &client,
        nix::sys::socket::sockopt::Linger,
        &libc::linger {
            l_onoff: 1,
            l_linger: 0,
        },
    );
    drop(client);
}

fn read_request(client: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let split = loop {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&data[..split]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        })
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = data[split + 4..].to_vec();
    while body.len() < length {
        let n = client.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Ok((head, body))
}

fn forward(upstream: &str, head: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(upstream)?;
    server.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut request = String::new();
    for (i, line) in head.lines().enumerate() {
        let lower = line.to_ascii_lowercase();
        if i > 0 && (lower.starts_with("connection:") || lower.starts_with("keep-alive"))
        {
            continue;
        }
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("Connection: close\r\n\r\n");
    server.write_all(request.as_bytes())?;
    server.write_all(body)?;
    let mut reply = Vec::new();
    server.read_to_end(&mut reply)?;
    Ok(reply)
}
