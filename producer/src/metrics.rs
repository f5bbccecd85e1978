//! The run's metric names: validation, ids, and the per-row duplicate
//! check.
//!
//! A name is resolved to an id once; the id is what rows carry. The first
//! time a name is seen the run publishes a metric record binding it to its
//! id, ahead of any row that uses it.

use std::collections::HashMap;

use ringbuf_core::record::MAX_NAME_LEN;

use crate::error::{Error, Result};

/// A metric resolved once, for the hot path: pass it to
/// [`crate::Run::log`] with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Metric {
    pub(crate) id: u32,
    pub(crate) run_tag: u32,
}

impl Metric {
    /// The metric's id within its run.
    pub fn id(self) -> u32 {
        self.id
    }
}

/// Checks a metric (or summary) name: 1 to 255 bytes of UTF-8 with no
/// control characters.
pub fn check_name(name: &str) -> Result<()> {
    let bad = |reason: String| Error::MetricName {
        name: shorten(name),
        reason,
    };
    if name.is_empty() {
        return Err(bad("a name may not be empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad(format!(
            "{} bytes is longer than the {MAX_NAME_LEN}-byte limit",
            name.len()
        )));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(bad(format!("contains the control character {c:?}")));
    }
    Ok(())
}

fn shorten(name: &str) -> String {
    if name.len() <= 64 {
        return name.to_owned();
    }
    let mut end = 60;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &name[..end])
}

/// The names a run has defined.
#[derive(Debug)]
pub(crate) struct MetricTable {
    by_name: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    /// `seen[id] == row_stamp` when the current row already has `id`.
    seen: Vec<u64>,
    row_stamp: u64,
    limit: usize,
    pub(crate) run_tag: u32,
}

/// A name lookup: the id, and whether the name is new.
#[derive(Debug)]
pub(crate) struct Lookup {
    pub(crate) id: u32,
    pub(crate) is_new: bool,
}

impl MetricTable {
    pub(crate) fn new(limit: usize, run_tag: u32) -> MetricTable {
        MetricTable {
            by_name: HashMap::new(),
            names: Vec::new(),
            seen: Vec::new(),
            row_stamp: 0,
            limit,
            run_tag,
        }
    }

    /// The id for `name`, taking the next id when it is new (the caller
    /// then publishes the definition and calls [`MetricTable::commit`]).
    pub(crate) fn lookup(&self, name: &str) -> Result<Lookup> {
        if let Some(&id) = self.by_name.get(name) {
            return Ok(Lookup { id, is_new: false });
        }
        check_name(name)?;
        if self.names.len() >= self.limit {
            return Err(Error::TooManyMetrics {
                name: shorten(name),
                count: self.names.len() + 1,
                limit: self.limit,
            });
        }
        Ok(Lookup {
            id: self.names.len() as u32,
            is_new: true,
        })
    }

    /// Records a new name once its definition is published.
    pub(crate) fn commit(&mut self, name: &str) -> u32 {
        let id = self.names.len() as u32;
        self.by_name.insert(name.into(), id);
        self.names.push(name.into());
        self.seen.push(0);
        id
    }

    /// Starts the duplicate check for a new row.
    #[inline]
    pub(crate) fn begin_row(&mut self) {
        self.row_stamp += 1;
    }

    /// Checks that `metric` is this run's and not yet in the current row.
    #[inline]
    pub(crate) fn check_in_row(&mut self, metric: Metric) -> Result<()> {
        if metric.run_tag != self.run_tag {
            return Err(Error::ForeignMetric(metric.id));
        }
        let Some(stamp) = self.seen.get_mut(metric.id as usize) else {
            return Err(Error::ForeignMetric(metric.id));
        };
        if *stamp == self.row_stamp {
            return Err(Error::DuplicateMetric(
                self.names[metric.id as usize].to_string(),
            ));
        }
        *stamp = self.row_stamp;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("train/loss").is_ok());
        assert!(check_name("val-aux/aime_2025/acc/best@16/std").is_ok());
        assert!(check_name("").unwrap_err().to_string().contains("empty"));
        let long = "x".repeat(300);
        let err = check_name(&long).unwrap_err().to_string();
        assert!(err.contains("300 bytes") && err.contains("xxx..."), "{err}");
        assert!(check_name("a\nb")
            .unwrap_err()
            .to_string()
            .contains("control"));
    }

    #[test]
    fn limit_and_duplicates() {
        let mut table = MetricTable::new(2, 7);
        for name in ["a", "b"] {
            assert!(table.lookup(name).unwrap().is_new);
            table.commit(name);
        }
        assert!(!table.lookup("a").unwrap().is_new);
        let err = table.lookup("c").unwrap_err().to_string();
        assert!(err.contains("\"c\"") && err.contains("may have 2"), "{err}");

        table.begin_row();
        let a = Metric { id: 0, run_tag: 7 };
        table.check_in_row(a).unwrap();
        assert!(table
            .check_in_row(a)
            .unwrap_err()
            .to_string()
            .contains("\"a\" appears twice"));
        table.begin_row();
        table.check_in_row(a).unwrap();
        let foreign = Metric { id: 0, run_tag: 8 };
        assert!(matches!(
            table.check_in_row(foreign),
            Err(Error::ForeignMetric(0))
        ));
    }
}
