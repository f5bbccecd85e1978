//! ringtrack's peers for the side-by-side benchmark in `benches/peers.rs`:
//! the same row (a step and four `f64` values) sent through each of them.
//!
//! | peer | what one call does | where the row ends up |
//! | --- | --- | --- |
//! | `rtrb` | push into an in-process SPSC ring | a thread that pops row by row, spinning (no persistence: the floor) |
//! | `rtrb-batch` | the same push | a thread that takes what is there in one chunk and sleeps 100 µs when the ring is empty, as the ringtrack service polls |
//! | `crossbeam` | send on a bounded channel | a thread that writes it to a file |
//! | `uds` | one `write(2)` on a Unix stream socket | a reader process that writes it to a file |
//! | `iceoryx2` | `send_copy` on a publisher | a subscriber process that writes it to a file |
//!
//! Consumers run on the other core when the benchmark pins (as the
//! ringtrack service does there). Files are written through a buffer and
//! synced once at the end, which `finish` waits for, as ringtrack's
//! `finish` waits for its segments.

pub mod peers;
