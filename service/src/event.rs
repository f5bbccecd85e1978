//! Events: what a segment holds, one per ring record, decoded and checked.
//!
//! The drain turns each ring record into an [`Event`] after validating its
//! payload (the ring is untrusted input), so everything in a segment has
//! already been checked once; readers check it again where it matters
//! (checksums, sequence numbers, config depth).

use ringbuf_core::record::{self, RowValue};
use ringbuf_core::RawRecord;
use ringtrack::value::{decode_config, decode_summary};
use ringtrack::Value;
use serde::{Deserialize, Serialize};

/// One logged thing, in the order the trainer logged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A metric name bound to an id.
    Metric {
        /// Sequence number.
        seq: u64,
        /// The id rows use.
        id: u32,
        /// The name.
        name: String,
    },
    /// One history row.
    Row {
        /// Sequence number.
        seq: u64,
        /// The step.
        step: u64,
        /// Nanoseconds since the Unix epoch.
        timestamp_ns: i64,
        /// Values by metric id.
        values: Vec<(u32, Value)>,
    },
    /// A config update, in the SDK's flat wire form.
    Config {
        /// Sequence number.
        seq: u64,
        /// The encoded entries.
        wire: Vec<u8>,
    },
    /// Summary values set explicitly.
    Summary {
        /// Sequence number.
        seq: u64,
        /// The values.
        entries: Vec<(String, Value)>,
    },
    /// The trainer finished the run.
    Finish {
        /// Sequence number.
        seq: u64,
        /// The exit code it gave.
        exit_code: i32,
    },
}

impl Event {
    /// The event's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Event::Metric { seq, .. }
            | Event::Row { seq, .. }
            | Event::Config { seq, .. }
            | Event::Summary { seq, .. }
            | Event::Finish { seq, .. } => *seq,
        }
    }

    /// Decodes and checks one ring record.
    pub fn from_record(record: &RawRecord<'_>) -> Result<Event, String> {
        let payload = record.payload;
        let fail = |what: &str, e: String| {
            format!("{what} record at ring position {}: {e}", record.pos)
        };
        match record.kind {
            record::KIND_METRIC => {
                let (seq, id, name) =
                    record::decode_metric(payload).map_err(|e| fail("metric", e))?;
                Ok(Event::Metric {
                    seq,
                    id,
                    name: name.to_owned(),
                })
            }
            record::KIND_ROW => {
                let row = record::decode_row(payload).map_err(|e| fail("row", e))?;
                let values = row
                    .entries()
                    .map(|(id, v)| {
                        let value = match v {
                            RowValue::F64(f) => Value::F64(f),
                            RowValue::I64(i) => Value::I64(i),
                            RowValue::Text(t) => Value::Text(t.to_owned()),
                        };
                        (id, value)
                    })
                    .collect();
                Ok(Event::Row {
                    seq: row.header.seq,
                    step: row.header.step,
                    timestamp_ns: row.header.timestamp_ns,
                    values,
                })
            }
            record::KIND_CONFIG => {
                let (seq, body) =
                    record::decode_opaque(payload).map_err(|e| fail("config", e))?;
                decode_config(body).map_err(|e| fail("config", e))?;
                Ok(Event::Config {
                    seq,
                    wire: body.to_vec(),
                })
            }
            record::KIND_SUMMARY => {
                let (seq, body) =
                    record::decode_opaque(payload).map_err(|e| fail("summary", e))?;
                let entries = decode_summary(body).map_err(|e| fail("summary", e))?;
                Ok(Event::Summary { seq, entries })
            }
            record::KIND_FINISH => {
                let (seq, exit_code) =
                    record::decode_finish(payload).map_err(|e| fail("finish", e))?;
                Ok(Event::Finish { seq, exit_code })
            }
            other => Err(format!(
                "record at ring position {} has unknown kind {other}",
                record.pos
            )),
        }
    }
}
