//! Mapping a run's events onto MLflow: rows to metric points, config to
//! params, text values and summary values to tags, in batches MLflow
//! accepts.
//!
//! The rules (also in `docs/mlflow.md`):
//!
//! - a float is sent as it is, NaN included (MLflow stores NaN); -0.0 is
//!   stored by MLflow as 0.0 (equal as numbers, the sign is lost);
//! - an infinity is not sent: MLflow would store it as the largest finite
//!   float, a different number; it is counted in the run's
//!   `ringtrack.skipped.infinite` tag;
//! - an integer is sent when a float holds it exactly (|i| <= 2^53), else
//!   counted in `ringtrack.skipped.inexact_int`;
//! - a text value is not a metric: its latest value in each batch is set as
//!   the tag `text/<name>`;
//! - a step above the largest `i64` or a timestamp before 1970 cannot be
//!   stored: the point is counted in `ringtrack.skipped.step` or
//!   `ringtrack.skipped.timestamp`;
//! - timestamps are cut to whole milliseconds;
//! - names go through [`super::names`]; a renamed metric gets the tag
//!   `ringtrack.original_name/<mlflow name>` with its name as logged;
//! - config keys are flattened with `.` (`model.layers`); a value is sent
//!   as a param the first time; a later, different value of the same key
//!   cannot change the param (MLflow refuses that) and is set as the tag
//!   `config/<key>` instead;
//! - explicit summary values become tags `summary/<key>`.
//!
//! Everything is computed from the events alone, in order, so planning
//! the same events twice gives the same batches: what makes a re-send
//! identical.

use std::collections::BTreeMap;

use ringtrack::value::decode_config;
use ringtrack::{ConfigValue, Value};

use super::mlflow::Point;
use super::names::NameMap;
use crate::event::Event;
use crate::export::{config_json, float_text};

/// MLflow's limits for one log-batch request.
pub const MAX_METRICS: usize = 1000;
/// Params per request.
pub const MAX_PARAMS: usize = 100;
/// Tags per request.
pub const MAX_TAGS: usize = 100;

/// One log-batch request covering events up to `last_seq`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Planned {
    /// Sequence number of the first event in the batch.
    pub first_seq: u64,
    /// Sequence number of the last event in the batch.
    pub last_seq: u64,
    /// Whether the event `last_seq` is wholly in this or earlier batches
    /// (false when a huge row is split over several requests).
    pub completes: bool,
    /// Rows whose last point is in this batch.
    pub rows: u64,
    /// Metric points.
    pub points: Vec<Point>,
    /// Params.
    pub params: Vec<(String, String)>,
    /// Tags (latest value per key).
    pub tags: Vec<(String, String)>,
}

impl Planned {
    fn is_empty(&self) -> bool {
        self.points.is_empty() && self.params.is_empty() && self.tags.is_empty()
    }

    fn full_after(&self, points: usize, params: usize, tags: usize) -> bool {
        self.points.len() + points > MAX_METRICS
            || self.params.len() + params > MAX_PARAMS
            || self.tags.len() + tags > MAX_TAGS
            || self.points.len()
                + self.params.len()
                + self.tags.len()
                + points
                + params
                + tags
                > MAX_METRICS
    }

    fn set_tag(&mut self, key: String, value: String) {
        match self.tags.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.tags.push((key, value)),
        }
    }
}

/// Values that could not be stored exactly, counted per reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Infinite floats.
    pub infinite: u64,
    /// Integers a float does not hold exactly.
    pub inexact_int: u64,
    /// Points whose step is above `i64::MAX`.
    pub step: u64,
    /// Points with a timestamp before 1970.
    pub timestamp: u64,
}

impl Skipped {
    /// The counters as tags, the non-zero ones only.
    pub fn tags(&self) -> Vec<(String, String)> {
        [
            ("infinite", self.infinite),
            ("inexact_int", self.inexact_int),
            ("step", self.step),
            ("timestamp", self.timestamp),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (format!("ringtrack.skipped.{k}"), n.to_string()))
        .collect()
    }
}

/// The plan for a run: its batches after a sequence number, and what the
/// whole run skipped.
#[derive(Debug, Default)]
pub struct Plan {
    /// Batches to send, in order.
    pub batches: Vec<Planned>,
    /// Values skipped over the whole run.
    pub skipped: Skipped,
    /// History rows in the whole run.
    pub total_rows: u64,
    /// History rows before `from_seq`.
    pub rows_before: u64,
    /// Sequence number after the last event.
    pub end_seq: u64,
}

#[derive(Default)]
struct Planner {
    metric_names: NameMap,
    param_names: NameMap,
    tag_names: NameMap,
    ids: BTreeMap<u32, String>,
    /// Latest value of each param key seen.
    params: BTreeMap<String, String>,
    skipped: Skipped,
    batches: Vec<Planned>,
    current: Planned,
    emitting: bool,
    /// The event being mapped.
    seq: u64,
    /// Whether it has put something in the current batch yet.
    event_in_batch: bool,
    /// Whether the current batch covers any event yet.
    started: bool,
}

/// Plans the batches for the events from `from_seq` on. Earlier events are
/// mapped too (names, params, counters) but not sent.
pub fn plan(events: &[Event], from_seq: u64) -> Plan {
    let mut planner = Planner::default();
    let mut plan = Plan::default();
    for event in events {
        let seq = event.seq();
        planner.emitting = seq >= from_seq;
        planner.seq = seq;
        planner.event_in_batch = false;
        if planner.emitting && !planner.started {
            planner.current.first_seq = seq;
            planner.started = true;
        }
        let is_row = matches!(event, Event::Row { .. });
        planner.event(event);
        if is_row {
            plan.total_rows += 1;
            if planner.emitting {
                planner.current.rows += 1;
            } else {
                plan.rows_before += 1;
            }
        }
        if planner.emitting {
            planner.current.last_seq = seq;
            planner.current.completes = true;
        }
        plan.end_seq = seq + 1;
    }
    planner.flush();
    plan.batches = planner.batches;
    plan.skipped = planner.skipped;
    plan
}

impl Planner {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Metric { id, name, .. } => {
                self.ids.insert(*id, name.clone());
            }
            Event::Row {
                step,
                timestamp_ns,
                values,
                ..
            } => self.row(*step, *timestamp_ns, values),
            Event::Config { wire, .. } => {
                if let Ok(entries) = decode_config(wire) {
                    let mut flat = Vec::new();
                    for (key, value) in &entries {
                        flatten_config(key, value, &mut flat);
                    }
                    for (key, value) in flat {
                        self.config_entry(&key, value);
                    }
                }
            }
            Event::Summary { entries, .. } => {
                for (key, value) in entries {
                    let tag = self.tag_names.mlflow_name(&format!("summary/{key}")).0;
                    self.tag(tag, value_text(value));
                }
            }
            Event::Finish { .. } => {}
        }
    }

    fn row(&mut self, step: u64, timestamp_ns: i64, values: &[(u32, Value)]) {
        let step = i64::try_from(step).ok();
        let timestamp_ms = (timestamp_ns >= 0).then_some(timestamp_ns / 1_000_000);
        for (id, value) in values {
            let name = self
                .ids
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("#{id}"));
            let number = match value {
                Value::F64(f) if f.is_infinite() => {
                    self.count(|s| &mut s.infinite);
                    continue;
                }
                Value::F64(f) => *f,
                Value::I64(i) if i.unsigned_abs() <= 1 << 53 => *i as f64,
                Value::I64(_) => {
                    self.count(|s| &mut s.inexact_int);
                    continue;
                }
                Value::Text(text) => {
                    let tag = self.tag_names.mlflow_name(&format!("text/{name}")).0;
                    self.tag(tag, text.clone());
                    continue;
                }
            };
            let (Some(step), Some(timestamp_ms)) = (step, timestamp_ms) else {
                if step.is_none() {
                    self.count(|s| &mut s.step);
                } else {
                    self.count(|s| &mut s.timestamp);
                }
                continue;
            };
            let (key, renamed) = self.metric_names.mlflow_name(&name);
            if renamed {
                let tag = self
                    .tag_names
                    .mlflow_name(&format!("ringtrack.original_name/{key}"))
                    .0;
                self.tag(tag, name.clone());
            }
            if self.emitting {
                self.make_room(1, 0, 0);
                self.current.points.push(Point {
                    key,
                    value: number,
                    timestamp_ms,
                    step,
                });
                self.added();
            }
        }
    }

    fn config_entry(&mut self, key: &str, value: String) {
        let name = self.param_names.mlflow_name(key).0;
        match self.params.get(&name) {
            None => {
                self.params.insert(name.clone(), value.clone());
                if self.emitting {
                    self.make_room(0, 1, 0);
                    self.current.params.push((name, value));
                    self.added();
                }
            }
            Some(latest) if *latest == value => {}
            Some(_) => {
                self.params.insert(name, value.clone());
                let tag = self.tag_names.mlflow_name(&format!("config/{key}")).0;
                self.tag(tag, value);
            }
        }
    }

    fn tag(&mut self, key: String, value: String) {
        if self.emitting {
            if !self.current.tags.iter().any(|(k, _)| *k == key) {
                self.make_room(0, 0, 1);
            }
            self.current.set_tag(key, value);
            self.added();
        }
    }

    fn count(&mut self, counter: impl FnOnce(&mut Skipped) -> &mut u64) {
        *counter(&mut self.skipped) += 1;
    }

    /// Starts a new batch when the current one cannot take more. A batch
    /// cut inside an event does not complete that event.
    fn make_room(&mut self, points: usize, params: usize, tags: usize) {
        if self.current.full_after(points, params, tags) {
            let mut done = std::mem::take(&mut self.current);
            if self.event_in_batch {
                done.last_seq = self.seq;
                done.completes = false;
            }
            self.batches.push(done);
            self.current.first_seq = self.seq;
            self.event_in_batch = false;
        }
    }

    /// Notes that the current event put something in the current batch.
    fn added(&mut self) {
        self.event_in_batch = true;
    }

    fn flush(&mut self) {
        if !self.current.is_empty() || self.current.completes {
            self.batches.push(std::mem::take(&mut self.current));
        }
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::F64(f) => float_text(*f),
        Value::I64(i) => i.to_string(),
        Value::Text(t) => t.clone(),
    }
}

/// Flattens nested maps into `a.b.c` keys; other values become text.
fn flatten_config(prefix: &str, value: &ConfigValue, out: &mut Vec<(String, String)>) {
    match value {
        ConfigValue::Map(map) if !map.is_empty() => {
            for (key, inner) in map {
                flatten_config(&format!("{prefix}.{key}"), inner, out);
            }
        }
        ConfigValue::Text(text) => out.push((prefix.to_owned(), text.clone())),
        other => out.push((prefix.to_owned(), config_json(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(seq: u64, id: u32, name: &str) -> Event {
        Event::Metric {
            seq,
            id,
            name: name.into(),
        }
    }

    fn row(seq: u64, step: u64, values: Vec<(u32, Value)>) -> Event {
        Event::Row {
            seq,
            step,
            timestamp_ns: 1_500_000_000_123_456_789,
            values,
        }
    }

    #[test]
    fn values_map_by_the_rules() {
        let events = vec![
            metric(0, 0, "loss"),
            metric(1, 1, "best@16"),
            metric(2, 2, "eta"),
            row(
                3,
                0,
                vec![
                    (0, Value::F64(f64::NAN)),
                    (1, Value::I64(3)),
                    (2, Value::Text("1h".into())),
                ],
            ),
            row(
                4,
                1,
                vec![(0, Value::F64(f64::INFINITY)), (1, Value::I64(i64::MAX))],
            ),
            row(5, u64::MAX, vec![(0, Value::F64(1.0))]),
        ];
        let plan = plan(&events, 0);
        assert_eq!(plan.batches.len(), 1);
        let batch = &plan.batches[0];
        assert_eq!(
            (batch.first_seq, batch.last_seq, batch.completes, batch.rows),
            (0, 5, true, 3)
        );
        assert_eq!(batch.points.len(), 2);
        assert!(
            batch.points[0].value.is_nan()
                && batch.points[0].timestamp_ms == 1_500_000_000_123
        );
        assert_eq!(
            (batch.points[1].key.as_str(), batch.points[1].value),
            ("best_16", 3.0)
        );
        assert!(batch.tags.contains(&("text/eta".into(), "1h".into())));
        assert!(batch
            .tags
            .contains(&("ringtrack.original_name/best_16".into(), "best@16".into())));
        assert_eq!(
            plan.skipped,
            Skipped {
                infinite: 1,
                inexact_int: 1,
                step: 1,
                timestamp: 0
            }
        );
    }

    #[test]
    fn big_rows_split_and_acks_stay_whole() {
        let mut events: Vec<Event> = (0..1500)
            .map(|i| metric(i, i as u32, &format!("m{i}")))
            .collect();
        let values = (0..1500u32)
            .map(|i| (i, Value::F64(f64::from(i))))
            .collect();
        events.push(row(1500, 0, values));
        events.push(row(1501, 1, vec![(0, Value::F64(0.5))]));
        let plan = plan(&events, 0);
        let shape: Vec<_> = plan
            .batches
            .iter()
            .map(|b| (b.last_seq, b.completes, b.points.len()))
            .collect();
        assert_eq!(shape, [(1500, false, 1000), (1501, true, 501)]);
        assert_eq!(plan.batches[1].rows, 2);

        let later = super::plan(&events, 1501);
        assert_eq!(later.batches.len(), 1);
        assert_eq!(
            (
                later.batches[0].points.len(),
                later.rows_before,
                later.total_rows
            ),
            (1, 1, 2)
        );
    }

    #[test]
    fn config_becomes_params_and_changes_become_tags() {
        let config = |seq, entries: Vec<(String, ConfigValue)>| Event::Config {
            seq,
            wire: ringtrack::value::encode_config(&entries).unwrap(),
        };
        let events = vec![
            config(
                0,
                vec![
                    ("lr".into(), 0.1.into()),
                    (
                        "model".into(),
                        ConfigValue::map([("layers", vec![64i64, 32])]),
                    ),
                ],
            ),
            config(1, vec![("lr".into(), 0.05.into())]),
            config(2, vec![("lr".into(), 0.1.into())]),
        ];
        let plan = plan(&events, 0);
        let batch = &plan.batches[0];
        assert_eq!(
            batch.params,
            [
                ("lr".to_owned(), "0.1".to_owned()),
                ("model.layers".to_owned(), "[64,32]".to_owned())
            ]
        );
        assert_eq!(
            batch.tags,
            [("config/lr".to_owned(), "0.1".to_owned())],
            "latest value wins"
        );
        // Replanning from a later point sends no param again.
        assert!(super::plan(&events, 1).batches[0].params.is_empty());
    }
}
