//! The records ringtrack puts in a ring, and their fixed binary layout.
//!
//! Every payload starts with the record's sequence number (`u64`), counted
//! from 0 per run across all kinds, so a consumer that reads a record twice
//! (after a crash between making it durable and freeing it) can tell.
//!
//! | kind | name | payload after the sequence number |
//! | --- | --- | --- |
//! | 1 | metric | `u32` metric id, `u32` name length, UTF-8 name |
//! | 2 | row | `u64` step, `i64` timestamp (ns since the Unix epoch), `u32` entry count, `u32` text length, entries, text |
//! | 3 | config | opaque bytes (the SDK's encoding of a config update) |
//! | 4 | summary | opaque bytes (the SDK's encoding of summary values) |
//! | 5 | finish | `i32` exit code, `u32` zero |
//!
//! A row entry is 16 bytes: `u32` metric id, `u32` value tag, `u64` value
//! bits. Tag 1 is an `f64` (its IEEE bits, so NaN payloads and -0.0 survive),
//! tag 2 an `i64`, tag 3 a text value whose bits hold the text's offset
//! (high 32 bits) and length (low 32 bits) within the row's text area.
//!
//! Decoding treats the payload as untrusted: every length and offset is
//! checked, and a bad one is an error string that says which.

/// A metric definition: binds a name to an id for the rest of the run.
pub const KIND_METRIC: u16 = 1;
/// One history row.
pub const KIND_ROW: u16 = 2;
/// A config update.
pub const KIND_CONFIG: u16 = 3;
/// Summary values.
pub const KIND_SUMMARY: u16 = 4;
/// The run's end, with its exit code.
pub const KIND_FINISH: u16 = 5;

/// Bytes of a row payload before its entries.
pub const ROW_FIXED: usize = 32;
/// Bytes of one row entry.
pub const ROW_ENTRY: usize = 16;
/// Longest metric name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Tag of an `f64` entry.
pub const TAG_F64: u32 = 1;
/// Tag of an `i64` entry.
pub const TAG_I64: u32 = 2;
/// Tag of a text entry.
pub const TAG_TEXT: u32 = 3;

/// A value in a row, borrowed from the payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowValue<'a> {
    /// A float, bit-exact.
    F64(f64),
    /// An integer.
    I64(i64),
    /// A text value.
    Text(&'a str),
}

/// A row's fixed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowHeader {
    /// The record's sequence number.
    pub seq: u64,
    /// The row's step.
    pub step: u64,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
}

#[inline]
fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[inline]
fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(buf: &[u8], at: usize) -> Result<u32, String> {
    buf.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| {
            format!(
                "payload of {} bytes ends before offset {}",
                buf.len(),
                at + 4
            )
        })
}

fn get_u64(buf: &[u8], at: usize) -> Result<u64, String> {
    let b = buf.get(at..at + 8).ok_or_else(|| {
        format!(
            "payload of {} bytes ends before offset {}",
            buf.len(),
            at + 8
        )
    })?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

/// The sequence number every payload starts with.
pub fn seq_of(payload: &[u8]) -> Result<u64, String> {
    get_u64(payload, 0)
}

/// Payload length of a row with `entries` entries and `text_len` text bytes.
#[inline]
pub const fn row_len(entries: usize, text_len: usize) -> usize {
    ROW_FIXED + entries * ROW_ENTRY + text_len
}

/// Writes a row's fixed fields. `buf` is the whole payload.
#[inline]
pub fn put_row_header(buf: &mut [u8], row: &RowHeader, entries: u32, text_len: u32) {
    put_u64(buf, 0, row.seq);
    put_u64(buf, 8, row.step);
    put_u64(buf, 16, row.timestamp_ns as u64);
    put_u32(buf, 24, entries);
    put_u32(buf, 28, text_len);
}

/// Writes entry `index` of a row.
#[inline]
pub fn put_row_entry(buf: &mut [u8], index: usize, id: u32, tag: u32, bits: u64) {
    let at = ROW_FIXED + index * ROW_ENTRY;
    put_u32(buf, at, id);
    put_u32(buf, at + 4, tag);
    put_u64(buf, at + 8, bits);
}

/// A decoded, validated row.
#[derive(Debug, Clone, Copy)]
pub struct RowView<'a> {
    /// The fixed fields.
    pub header: RowHeader,
    entries: &'a [u8],
    text: &'a str,
}

impl<'a> RowView<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len() / ROW_ENTRY
    }

    /// Whether the row has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, as (metric id, value).
    pub fn entries(&self) -> impl Iterator<Item = (u32, RowValue<'a>)> + 'a {
        let text = self.text;
        self.entries.chunks_exact(ROW_ENTRY).map(move |e| {
            let id = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            let tag = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            let mut b = [0u8; 8];
            b.copy_from_slice(&e[8..16]);
            let bits = u64::from_le_bytes(b);
            let value = match tag {
                TAG_I64 => RowValue::I64(bits as i64),
                TAG_TEXT => {
                    let (at, len) =
                        ((bits >> 32) as usize, (bits & 0xffff_ffff) as usize);
                    // Ranges were checked in `decode_row`, on char boundaries.
                    RowValue::Text(&text[at..at + len])
                }
                _ => RowValue::F64(f64::from_bits(bits)),
            };
            (id, value)
        })
    }
}

/// Decodes and validates a row payload.
pub fn decode_row(payload: &[u8]) -> Result<RowView<'_>, String> {
    if payload.len() < ROW_FIXED {
        return Err(format!(
            "row payload of {} bytes is shorter than 32",
            payload.len()
        ));
    }
    let header = RowHeader {
        seq: get_u64(payload, 0)?,
        step: get_u64(payload, 8)?,
        timestamp_ns: get_u64(payload, 16)? as i64,
    };
    let n = get_u32(payload, 24)? as usize;
    let text_len = get_u32(payload, 28)? as usize;
    let expected = n
        .checked_mul(ROW_ENTRY)
        .and_then(|e| e.checked_add(ROW_FIXED + text_len))
        .ok_or("row entry count overflows")?;
    if expected != payload.len() {
        return Err(format!(
            "row says {n} entries and {text_len} text bytes ({expected} bytes) but the \
             payload is {} bytes",
            payload.len()
        ));
    }
    let entries = &payload[ROW_FIXED..ROW_FIXED + n * ROW_ENTRY];
    let text = std::str::from_utf8(&payload[ROW_FIXED + n * ROW_ENTRY..])
        .map_err(|e| format!("row text is not UTF-8: {e}"))?;
    for (i, e) in entries.chunks_exact(ROW_ENTRY).enumerate() {
        let tag = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        match tag {
            TAG_F64 | TAG_I64 => {}
            TAG_TEXT => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&e[8..16]);
                let bits = u64::from_le_bytes(b);
                let (at, len) = ((bits >> 32) as usize, (bits & 0xffff_ffff) as usize);
                let ok = at.checked_add(len).is_some_and(|end| {
                    end <= text.len()
                        && text.is_char_boundary(at)
                        && text.is_char_boundary(end)
                });
                if !ok {
                    return Err(format!(
                        "row entry {i}: text range {at}+{len} is out of bounds"
                    ));
                }
            }
            _ => return Err(format!("row entry {i} has unknown value tag {tag}")),
        }
    }
    Ok(RowView {
        header,
        entries,
        text,
    })
}

/// Payload length of a metric definition for a name of `name_len` bytes.
pub const fn metric_len(name_len: usize) -> usize {
    16 + name_len
}

/// Writes a metric definition payload.
pub fn put_metric(buf: &mut [u8], seq: u64, id: u32, name: &str) {
    put_u64(buf, 0, seq);
    put_u32(buf, 8, id);
    put_u32(buf, 12, name.len() as u32);
    buf[16..16 + name.len()].copy_from_slice(name.as_bytes());
}

/// Decodes a metric definition: (seq, id, name).
pub fn decode_metric(payload: &[u8]) -> Result<(u64, u32, &str), String> {
    let seq = get_u64(payload, 0)?;
    let id = get_u32(payload, 8)?;
    let len = get_u32(payload, 12)? as usize;
    if len == 0 || len > MAX_NAME_LEN || payload.len() != 16 + len {
        return Err(format!(
            "metric name length {len} is not within 1..={MAX_NAME_LEN} or disagrees with the \
             {}-byte payload",
            payload.len()
        ));
    }
    let name = std::str::from_utf8(&payload[16..])
        .map_err(|e| format!("metric name is not UTF-8: {e}"))?;
    Ok((seq, id, name))
}

/// Payload length of a finish record.
pub const FINISH_LEN: usize = 16;

/// Writes a finish payload.
pub fn put_finish(buf: &mut [u8], seq: u64, exit_code: i32) {
    put_u64(buf, 0, seq);
    put_u32(buf, 8, exit_code as u32);
    put_u32(buf, 12, 0);
}

/// Decodes a finish payload: (seq, exit code).
pub fn decode_finish(payload: &[u8]) -> Result<(u64, i32), String> {
    if payload.len() != FINISH_LEN {
        return Err(format!(
            "finish payload is {} bytes, expected 16",
            payload.len()
        ));
    }
    if get_u32(payload, 12)? != 0 {
        return Err("finish payload's reserved word is not zero".into());
    }
    Ok((get_u64(payload, 0)?, get_u32(payload, 8)? as i32))
}

/// Splits an opaque (config or summary) payload into (seq, body).
pub fn decode_opaque(payload: &[u8]) -> Result<(u64, &[u8]), String> {
    Ok((get_u64(payload, 0)?, &payload[8..]))
}

/// Writes the sequence number of an opaque payload; the body follows it.
pub fn put_opaque_seq(buf: &mut [u8], seq: u64) {
    put_u64(buf, 0, seq);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[(u32, RowValue<'_>)]) -> Vec<u8> {
        let text: String = values
            .iter()
            .filter_map(|(_, v)| {
                if let RowValue::Text(t) = v {
                    Some(*t)
                } else {
                    None
                }
            })
            .collect();
        let mut buf = vec![0u8; row_len(values.len(), text.len())];
        let header = RowHeader {
            seq: 9,
            step: 3,
            timestamp_ns: -5,
        };
        put_row_header(&mut buf, &header, values.len() as u32, text.len() as u32);
        let mut at = 0u64;
        for (i, (id, v)) in values.iter().enumerate() {
            let (tag, bits) = match v {
                RowValue::F64(f) => (TAG_F64, f.to_bits()),
                RowValue::I64(n) => (TAG_I64, *n as u64),
                RowValue::Text(t) => {
                    let bits = (at << 32) | t.len() as u64;
                    at += t.len() as u64;
                    (TAG_TEXT, bits)
                }
            };
            put_row_entry(&mut buf, i, *id, tag, bits);
        }
        let n = buf.len() - text.len();
        buf[n..].copy_from_slice(text.as_bytes());
        buf
    }

    #[test]
    fn row_round_trips_every_value_kind_bit_exactly() {
        let nan = f64::from_bits(0x7ff8_0000_dead_beef);
        let values = [
            (1, RowValue::F64(-0.0)),
            (2, RowValue::F64(nan)),
            (3, RowValue::I64(i64::MIN)),
            (4, RowValue::Text("59h:30m:19s")),
            (5, RowValue::F64(f64::NEG_INFINITY)),
            (6, RowValue::Text("é")),
        ];
        let buf = row(&values);
        let view = decode_row(&buf).unwrap();
        assert_eq!(
            view.header,
            RowHeader {
                seq: 9,
                step: 3,
                timestamp_ns: -5
            }
        );
        let back: Vec<_> = view.entries().collect();
        assert_eq!(back.len(), values.len());
        for ((id, v), (bid, bv)) in values.iter().zip(&back) {
            assert_eq!(id, bid);
            match (v, bv) {
                (RowValue::F64(a), RowValue::F64(b)) => {
                    assert_eq!(a.to_bits(), b.to_bits())
                }
                _ => assert_eq!(v, bv),
            }
        }
    }

    #[test]
    fn lying_rows_are_errors() {
        let mut buf = row(&[(1, RowValue::Text("abc"))]);
        put_u32(&mut buf, 24, 1000);
        assert!(decode_row(&buf).unwrap_err().contains("1000 entries"));

        let mut buf = row(&[(1, RowValue::Text("abc"))]);
        put_u64(&mut buf, ROW_FIXED + 8, (2 << 32) | 5);
        assert!(decode_row(&buf).unwrap_err().contains("out of bounds"));

        let mut buf = row(&[(1, RowValue::F64(1.0))]);
        put_u32(&mut buf, ROW_FIXED + 4, 77);
        assert!(decode_row(&buf).unwrap_err().contains("tag 77"));

        let mut buf = row(&[(1, RowValue::Text("é"))]);
        put_u64(&mut buf, ROW_FIXED + 8, 1);
        assert!(decode_row(&buf).unwrap_err().contains("out of bounds"));

        assert!(decode_row(&[0u8; 7]).is_err());
    }

    #[test]
    fn metric_and_finish_round_trip() {
        let mut buf = vec![0u8; metric_len(4)];
        put_metric(&mut buf, 1, 2, "loss");
        assert_eq!(decode_metric(&buf).unwrap(), (1, 2, "loss"));
        buf.push(0);
        assert!(decode_metric(&buf).is_err());

        let mut buf = [0u8; FINISH_LEN];
        put_finish(&mut buf, 4, -9);
        assert_eq!(decode_finish(&buf).unwrap(), (4, -9));
    }
}
