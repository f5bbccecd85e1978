//! A run's history rebuilt from its events: rows with metric names, the
//! config as it stands after every update, and the summary.
//!
//! The summary follows W&B: the last logged value of every metric, unless
//! the trainer set a summary value of the same name explicitly, which wins.

use std::collections::BTreeMap;

use ringtrack::value::decode_config;
use ringtrack::{ConfigValue, Value};

use crate::event::Event;

/// One history row with names resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// Sequence number.
    pub seq: u64,
    /// The step.
    pub step: u64,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Values as (metric name, value), in the order logged.
    pub values: Vec<(String, Value)>,
}

/// A run's history.
#[derive(Debug, Default)]
pub struct History {
    /// Metric names in the order they were first defined.
    pub metric_names: Vec<String>,
    /// Rows in the order logged.
    pub rows: Vec<HistoryRow>,
    /// The config after every update.
    pub config: BTreeMap<String, ConfigValue>,
    /// Summary values set explicitly, latest per key.
    pub explicit_summary: BTreeMap<String, Value>,
    /// The exit code, if the trainer finished.
    pub exit_code: Option<i32>,
    /// Events that did not make sense (a row naming an undefined metric, a
    /// config that does not decode), described.
    pub anomalies: Vec<String>,
}

impl History {
    /// Rebuilds the history from events in order.
    pub fn from_events(events: &[Event]) -> History {
        let mut history = History::default();
        let mut names: BTreeMap<u32, String> = BTreeMap::new();
        let mut next_seq = 0u64;
        for event in events {
            // A repeated event (one written twice) counts once.
            if event.seq() < next_seq {
                history
                    .anomalies
                    .push(format!("event {} appears more than once", event.seq()));
                continue;
            }
            next_seq = event.seq() + 1;
            match event {
                Event::Metric { id, name, .. } => {
                    if names.insert(*id, name.clone()).is_none() {
                        history.metric_names.push(name.clone());
                    }
                }
                Event::Row {
                    seq,
                    step,
                    timestamp_ns,
                    values,
                } => {
                    let values = values
                        .iter()
                        .map(|(id, v)| {
                            let name = names.get(id).cloned().unwrap_or_else(|| {
                                history.anomalies.push(format!(
                                    "row {seq} uses undefined metric {id}"
                                ));
                                format!("#{id}")
                            });
                            (name, v.clone())
                        })
                        .collect();
                    history.rows.push(HistoryRow {
                        seq: *seq,
                        step: *step,
                        timestamp_ns: *timestamp_ns,
                        values,
                    });
                }
                Event::Config { seq, wire } => match decode_config(wire) {
                    Ok(entries) => history.config.extend(entries),
                    Err(e) => history.anomalies.push(format!("config {seq}: {e}")),
                },
                Event::Summary { entries, .. } => {
                    history.explicit_summary.extend(entries.iter().cloned());
                }
                Event::Finish { exit_code, .. } => history.exit_code = Some(*exit_code),
            }
        }
        history
    }

    /// The summary: last value per metric, overridden by explicit values.
    pub fn summary(&self) -> BTreeMap<String, Value> {
        let mut summary = BTreeMap::new();
        for row in &self.rows {
            for (name, value) in &row.values {
                summary.insert(name.clone(), value.clone());
            }
        }
        summary.extend(
            self.explicit_summary
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_last_value_unless_set() {
        let events = vec![
            Event::Metric {
                seq: 0,
                id: 0,
                name: "loss".into(),
            },
            Event::Metric {
                seq: 1,
                id: 1,
                name: "acc".into(),
            },
            Event::Row {
                seq: 2,
                step: 0,
                timestamp_ns: 0,
                values: vec![(0, Value::F64(2.0))],
            },
            Event::Row {
                seq: 3,
                step: 1,
                timestamp_ns: 0,
                values: vec![(0, Value::F64(1.0)), (1, Value::F64(0.5))],
            },
            Event::Summary {
                seq: 4,
                entries: vec![("acc".into(), Value::F64(0.9))],
            },
        ];
        let history = History::from_events(&events);
        let summary = history.summary();
        assert_eq!(summary["loss"], Value::F64(1.0));
        assert_eq!(summary["acc"], Value::F64(0.9));
        assert_eq!(history.metric_names, ["loss", "acc"]);
        assert!(history.anomalies.is_empty());
    }
}
