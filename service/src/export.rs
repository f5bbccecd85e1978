//! Writing a run's history out as JSON Lines or CSV.
//!
//! Values are written so they read back exactly:
//!
//! - a float is written in the shortest form that parses back to the same
//!   bits, always with a `.` or an exponent (`1.0`, `-0.0`, `1e24`), so it
//!   reads back as a float, not an integer;
//! - an integer is written as an integer;
//! - the non-finite floats, which JSON has no numbers for, are written as
//!   the strings `"NaN"`, `"Infinity"` and `"-Infinity"`; a NaN whose bits
//!   are not the usual quiet NaN is written `"NaN:0x<16 hex digits>"` with
//!   its bits;
//! - text is a JSON string (and a quoted CSV field when it needs one).
//!
//! A JSON line is `{"step":0,"timestamp_ns":...,"values":{"name":value}}`
//! with the values in the order logged. A CSV file has the columns `step`,
//! `timestamp_ns` and one per metric in the order the metrics were defined
//! (first resolved or first logged by name); a metric absent from a row is
//! an empty cell. A text value that reads `NaN` or `Infinity` prints like
//! the float: the JSON and CSV forms do not tell the two apart.

use std::collections::BTreeMap;
use std::io::{self, Write};

use ringtrack::{ConfigValue, Value};

use crate::history::History;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per row.
    Jsonl,
    /// A header line and one line per row.
    Csv,
}

/// The text of a float, exact (see the module docs).
pub fn float_text(f: f64) -> String {
    if f.is_finite() {
        format!("{f:?}")
    } else if f.is_nan() {
        if f.to_bits() == f64::NAN.to_bits() {
            "NaN".to_owned()
        } else {
            format!("NaN:0x{:016x}", f.to_bits())
        }
    } else if f > 0.0 {
        "Infinity".to_owned()
    } else {
        "-Infinity".to_owned()
    }
}

/// Parses the text [`float_text`] writes, bit-exactly.
pub fn parse_float_text(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => match text.strip_prefix("NaN:0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok().map(f64::from_bits),
            None => text.parse().ok(),
        },
    }
}

/// A value as JSON text.
pub fn value_json(value: &Value) -> String {
    match value {
        Value::F64(f) if f.is_finite() => float_text(*f),
        Value::F64(f) => json_string(&float_text(*f)),
        Value::I64(i) => i.to_string(),
        Value::Text(t) => json_string(t),
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A config value as JSON text, with floats written exactly.
pub fn config_json(value: &ConfigValue) -> String {
    match value {
        ConfigValue::Null => "null".into(),
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Int(i) => i.to_string(),
        ConfigValue::Float(f) => value_json(&Value::F64(*f)),
        ConfigValue::Text(t) => json_string(t),
        ConfigValue::List(items) => {
            let inner: Vec<String> = items.iter().map(config_json).collect();
            format!("[{}]", inner.join(","))
        }
        ConfigValue::Map(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", json_string(k), config_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
    }
}

/// Writes every row as JSON Lines.
pub fn write_jsonl(history: &History, out: &mut impl Write) -> io::Result<()> {
    for row in &history.rows {
        let values: Vec<String> = row
            .values
            .iter()
            .map(|(name, v)| format!("{}:{}", json_string(name), value_json(v)))
            .collect();
        writeln!(
            out,
            "{{\"step\":{},\"timestamp_ns\":{},\"values\":{{{}}}}}",
            row.step,
            row.timestamp_ns,
            values.join(",")
        )?;
    }
    Ok(())
}

/// Writes every row as CSV.
pub fn write_csv(history: &History, out: &mut impl Write) -> io::Result<()> {
    let columns: BTreeMap<&str, usize> = history
        .metric_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let header: Vec<String> = ["step", "timestamp_ns"]
        .iter()
        .map(|s| s.to_string())
        .chain(history.metric_names.iter().map(|n| csv_field(n)))
        .collect();
    writeln!(out, "{}", header.join(","))?;
    let mut cells = vec![String::new(); history.metric_names.len()];
    for row in &history.rows {
        cells.iter_mut().for_each(String::clear);
        for (name, value) in &row.values {
            if let Some(&i) = columns.get(name.as_str()) {
                cells[i] = match value {
                    Value::F64(f) => float_text(*f),
                    Value::I64(n) => n.to_string(),
                    Value::Text(t) => csv_field(t),
                };
            }
        }
        writeln!(out, "{},{},{}", row.step, row.timestamp_ns, cells.join(","))?;
    }
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The config as one JSON object.
pub fn config_object(history: &History) -> String {
    config_json(&ConfigValue::Map(history.config.clone()))
}

/// The summary as one JSON object.
pub fn summary_object(history: &History) -> String {
    let inner: Vec<String> = history
        .summary()
        .iter()
        .map(|(k, v)| format!("{}:{}", json_string(k), value_json(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_text_round_trips_the_awkward_values() {
        let odd = [
            0.0,
            -0.0,
            1.0,
            1.6226933508321501e24,
            136.66666666666666,
            -2.6e-06,
            f64::MIN_POSITIVE / 8.0,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::from_bits(0xfff8_0000_0000_0001),
        ];
        for f in odd {
            let text = float_text(f);
            let back = parse_float_text(&text).unwrap();
            assert_eq!(back.to_bits(), f.to_bits(), "{text}");
            if f.is_finite() {
                assert!(
                    text.contains(['.', 'e']),
                    "{text} must read back as a float"
                );
                assert!(serde_json::from_str::<f64>(&text).is_ok(), "{text} is JSON");
            }
        }
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("59h:30m:19s"), "59h:30m:19s");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
