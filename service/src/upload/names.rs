//! Metric, param and tag names as MLflow accepts them.
//!
//! MLflow 3 takes names of at most 250 characters made of letters, digits,
//! `_`, `-`, `.`, space, `:` and `/`, that do not change when read as a
//! file path (no leading or trailing `/`, no `//`, no `.` or `..` parts).
//! A name that breaks a rule is changed, one rule at a time, into one that
//! keeps to all of them:
//!
//! 1. every character outside the allowed set (ASCII letters and digits
//!    plus `_-. :/`) becomes `_`;
//! 2. leading and trailing `/` are dropped and runs of `/` become one;
//! 3. a path part that is `.` or `..` becomes `_` or `__`;
//! 4. the name is cut to 250 characters; an empty name becomes `_`;
//! 5. if the result is already taken by another name of the run, `_2`,
//!    `_3`, ... is appended (within the 250).
//!
//! A [`NameMap`] remembers every mapping it made, so a name maps the same
//! way for the whole run, and reports the renamed ones so the uploader can
//! record each original name on the MLflow run.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Longest name MLflow stores.
pub const MAX_NAME: usize = 250;

/// The names of one run, original to MLflow.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameMap {
    map: BTreeMap<String, String>,
    #[serde(skip)]
    taken: BTreeSet<String>,
}

impl NameMap {
    /// Rebuilds the set of taken names after loading.
    pub fn reindex(&mut self) {
        self.taken = self.map.values().cloned().collect();
    }

    /// The MLflow name for `name`, and whether it differs (the first time a
    /// renamed name is seen).
    pub fn mlflow_name(&mut self, name: &str) -> (String, bool) {
        if let Some(known) = self.map.get(name) {
            return (known.clone(), false);
        }
        let base = clean(name);
        let mut candidate = base.clone();
        let mut n = 2u32;
        while self.taken.contains(&candidate) {
            let suffix = format!("_{n}");
            let keep = MAX_NAME.saturating_sub(suffix.len());
            candidate = format!("{}{suffix}", cut(&base, keep));
            n += 1;
        }
        self.taken.insert(candidate.clone());
        self.map.insert(name.to_owned(), candidate.clone());
        let renamed = candidate != name;
        (candidate, renamed)
    }
}

/// Rules 1 to 4.
pub fn clean(name: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-. :/".contains(c);
    let replaced: String = name
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    let parts: Vec<String> = replaced
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| match p {
            "." => "_".to_owned(),
            ".." => "__".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    let joined = cut(&parts.join("/"), MAX_NAME)
        .trim_end_matches('/')
        .to_owned();
    if joined.is_empty() {
        "_".to_owned()
    } else {
        joined
    }
}

fn cut(text: &str, max: usize) -> &str {
    // Everything is ASCII after rule 1, so bytes are characters.
    &text[..text.len().min(max)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_mlflow_refuses_are_mapped_by_the_rules() {
        assert_eq!(
            clean("val-aux/aime_2025/acc/best@16/std"),
            "val-aux/aime_2025/acc/best_16/std"
        );
        assert_eq!(clean("/a//b/"), "a/b");
        assert_eq!(clean("a/./b/../c"), "a/_/b/__/c");
        assert_eq!(clean("über"), "_ber");
        assert_eq!(clean("@"), "_");
        assert_eq!(clean("///"), "_");
        assert_eq!(clean(&"k".repeat(300)).len(), 250);
        assert_eq!(clean("train/loss"), "train/loss");
    }

    #[test]
    fn collisions_get_a_suffix_and_mappings_are_stable() {
        let mut names = NameMap::default();
        assert_eq!(names.mlflow_name("a_b"), ("a_b".to_owned(), false));
        assert_eq!(names.mlflow_name("a@b"), ("a_b_2".to_owned(), true));
        assert_eq!(names.mlflow_name("a@b"), ("a_b_2".to_owned(), false));
        let json = serde_json::to_string(&names).unwrap();
        let mut back: NameMap = serde_json::from_str(&json).unwrap();
        back.reindex();
        assert_eq!(back.mlflow_name("a#b"), ("a_b_3".to_owned(), true));
    }
}
