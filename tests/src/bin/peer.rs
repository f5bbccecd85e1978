//! A control-socket client for the access tests, meant to run as another
//! user: `peer SOCKET status` or `peer SOCKET register RUN_DIR`. Prints
//! `connect: <error>`, `reply: <reply>` or `io: <error>`.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use ringtrack::protocol::Request;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let socket = PathBuf::from(&args[0]);
    let request = match args.get(1).map(String::as_str) {
        Some("register") => Request::Register {
            run_dir: PathBuf::from(&args[2]),
        },
        _ => Request::Status,
    };
    let mut stream = match UnixStream::connect(&socket) {
        Ok(stream) => stream,
        Err(e) => {
            println!("connect: {e}");
            return;
        }
    };
    match ringtrack::client::call(&mut stream, &request) {
        Ok(reply) => println!("reply: {reply:?}"),
        Err(e) => println!("io: {e}"),
    }
}
