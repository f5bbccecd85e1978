//! Values: what a history row or the summary holds ([`Value`]) and what a
//! config holds ([`ConfigValue`]).
//!
//! Floats are kept as their IEEE bits everywhere, so NaN (with its payload),
//! the infinities and -0.0 come back exactly as logged.
//!
//! A config is a tree. On the wire (in the ring and in segments) it is
//! written as a flat, pre-order list of nodes, and read back with a depth
//! limit, so a hostile or corrupt payload cannot exhaust the reader's stack.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A value in a history row or in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A float.
    F64(f64),
    /// An integer.
    I64(i64),
    /// A text value.
    Text(String),
}

impl Value {
    /// Equality that compares floats by their bits (NaN equals itself,
    /// -0.0 differs from 0.0).
    pub fn bit_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            _ => self == other,
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::$variant(v as $as) }
        }
    )*};
}
value_from!(f64 => F64 as f64, f32 => F64 as f64, i64 => I64 as i64, i32 => I64 as i64,
    u32 => I64 as i64, u16 => I64 as i64, u8 => I64 as i64);

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::I64(v.into())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

/// A config value: scalars, lists and nested maps.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
    /// A list.
    List(Vec<ConfigValue>),
    /// A map with string keys, ordered by key.
    Map(BTreeMap<String, ConfigValue>),
}

impl ConfigValue {
    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>, V: Into<ConfigValue>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> ConfigValue {
        ConfigValue::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Converts JSON text (an object) into config entries. Numbers without
    /// a fraction or exponent that fit an `i64` become [`ConfigValue::Int`].
    pub fn entries_from_json(text: &str) -> Result<Vec<(String, ConfigValue)>, String> {
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("config is not valid JSON: {e}"))?;
        match json {
            serde_json::Value::Object(map) => Ok(map
                .into_iter()
                .map(|(k, v)| (k, ConfigValue::from_json(v)))
                .collect()),
            other => Err(format!("config JSON must be an object, not {other}")),
        }
    }

    fn from_json(json: serde_json::Value) -> ConfigValue {
        use serde_json::Value as J;
        match json {
            J::Null => ConfigValue::Null,
            J::Bool(b) => ConfigValue::Bool(b),
            J::Number(n) => match n.as_i64() {
                Some(i) => ConfigValue::Int(i),
                None => ConfigValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => ConfigValue::Text(s),
            J::Array(a) => {
                ConfigValue::List(a.into_iter().map(ConfigValue::from_json).collect())
            }
            J::Object(m) => ConfigValue::Map(
                m.into_iter()
                    .map(|(k, v)| (k, ConfigValue::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// How deeply lists and maps nest (a scalar is depth 0).
    pub fn depth(&self) -> usize {
        match self {
            ConfigValue::List(items) => {
                1 + items.iter().map(|v| v.depth()).max().unwrap_or(0)
            }
            ConfigValue::Map(map) => {
                1 + map.values().map(|v| v.depth()).max().unwrap_or(0)
            }
            _ => 0,
        }
    }
}

macro_rules! config_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for ConfigValue {
            fn from(v: $t) -> ConfigValue { ConfigValue::$variant(v as $as) }
        }
    )*};
}
config_from!(f64 => Float as f64, f32 => Float as f64, i64 => Int as i64, i32 => Int as i64,
    u32 => Int as i64, u16 => Int as i64, u8 => Int as i64, usize => Int as i64);

impl From<u64> for ConfigValue {
    fn from(v: u64) -> ConfigValue {
        i64::try_from(v)
            .map(ConfigValue::Int)
            .unwrap_or(ConfigValue::Float(v as f64))
    }
}
impl From<bool> for ConfigValue {
    fn from(v: bool) -> ConfigValue {
        ConfigValue::Bool(v)
    }
}
impl From<&str> for ConfigValue {
    fn from(v: &str) -> ConfigValue {
        ConfigValue::Text(v.to_owned())
    }
}
impl From<String> for ConfigValue {
    fn from(v: String) -> ConfigValue {
        ConfigValue::Text(v)
    }
}
impl<T: Into<ConfigValue>> From<Vec<T>> for ConfigValue {
    fn from(v: Vec<T>) -> ConfigValue {
        ConfigValue::List(v.into_iter().map(Into::into).collect())
    }
}

/// Deepest nesting of lists and maps a config may have.
pub const MAX_CONFIG_DEPTH: usize = 32;

/// One node of the flat wire form of a config.
#[derive(Debug, Serialize, Deserialize)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Text(String),
    List(u32),
    Map(u32),
}

/// Encodes config entries (a top-level map) into the wire form.
pub fn encode_config(entries: &[(String, ConfigValue)]) -> Result<Vec<u8>, String> {
    let mut nodes = Vec::new();
    let mut keys = Vec::new();
    nodes.push(Node::Map(entries.len() as u32));
    for (key, value) in entries {
        if value.depth() >= MAX_CONFIG_DEPTH {
            return Err(format!(
                "config key {key:?} nests {} levels deep; the limit is {MAX_CONFIG_DEPTH}",
                value.depth()
            ));
        }
        keys.push(key.clone());
        flatten(value, &mut nodes, &mut keys);
    }
    postcard::to_stdvec(&(nodes, keys))
        .map_err(|e| format!("config cannot be encoded: {e}"))
}

fn flatten(value: &ConfigValue, nodes: &mut Vec<Node>, keys: &mut Vec<String>) {
    match value {
        ConfigValue::Null => nodes.push(Node::Null),
        ConfigValue::Bool(b) => nodes.push(Node::Bool(*b)),
        ConfigValue::Int(i) => nodes.push(Node::Int(*i)),
        ConfigValue::Float(f) => nodes.push(Node::Float(f.to_bits())),
        ConfigValue::Text(s) => nodes.push(Node::Text(s.clone())),
        ConfigValue::List(items) => {
            nodes.push(Node::List(items.len() as u32));
            items.iter().for_each(|v| flatten(v, nodes, keys));
        }
        ConfigValue::Map(map) => {
            nodes.push(Node::Map(map.len() as u32));
            for (k, v) in map {
                keys.push(k.clone());
                flatten(v, nodes, keys);
            }
        }
    }
}

/// Decodes the wire form back into config entries, checking every count
/// and the depth.
pub fn decode_config(bytes: &[u8]) -> Result<Vec<(String, ConfigValue)>, String> {
    let (nodes, keys): (Vec<Node>, Vec<String>) = postcard::from_bytes(bytes)
        .map_err(|e| format!("config payload does not decode: {e}"))?;
    let mut cursor = Cursor {
        nodes: &nodes,
        keys: &keys,
        node: 0,
        key: 0,
    };
    let ConfigValue::Map(map) = cursor.take(0)? else {
        return Err("config payload does not start with a map".into());
    };
    if cursor.node != nodes.len() || cursor.key != keys.len() {
        return Err("config payload has trailing nodes".into());
    }
    Ok(map.into_iter().collect())
}

struct Cursor<'a> {
    nodes: &'a [Node],
    keys: &'a [String],
    node: usize,
    key: usize,
}

impl Cursor<'_> {
    fn take(&mut self, depth: usize) -> Result<ConfigValue, String> {
        if depth > MAX_CONFIG_DEPTH {
            return Err(format!("config nests deeper than {MAX_CONFIG_DEPTH}"));
        }
        let node = self
            .nodes
            .get(self.node)
            .ok_or("config payload ends early")?;
        self.node += 1;
        Ok(match node {
            Node::Null => ConfigValue::Null,
            Node::Bool(b) => ConfigValue::Bool(*b),
            Node::Int(i) => ConfigValue::Int(*i),
            Node::Float(bits) => ConfigValue::Float(f64::from_bits(*bits)),
            Node::Text(s) => ConfigValue::Text(s.clone()),
            Node::List(n) => {
                let n = self.check_count(*n)?;
                let items = (0..n)
                    .map(|_| self.take(depth + 1))
                    .collect::<Result<_, _>>()?;
                ConfigValue::List(items)
            }
            Node::Map(n) => {
                let n = self.check_count(*n)?;
                let mut map = BTreeMap::new();
                for _ in 0..n {
                    let key = self
                        .keys
                        .get(self.key)
                        .ok_or("config payload lacks a key")?;
                    self.key += 1;
                    map.insert(key.clone(), self.take(depth + 1)?);
                }
                ConfigValue::Map(map)
            }
        })
    }

    fn check_count(&self, n: u32) -> Result<usize, String> {
        let n = n as usize;
        if n > self.nodes.len() - self.node {
            return Err(format!(
                "config payload claims {n} children it does not hold"
            ));
        }
        Ok(n)
    }
}

/// Encodes summary values.
pub fn encode_summary(entries: &[(String, Value)]) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(entries).map_err(|e| format!("summary cannot be encoded: {e}"))
}

/// Decodes summary values.
pub fn decode_summary(bytes: &[u8]) -> Result<Vec<(String, Value)>, String> {
    postcard::from_bytes(bytes)
        .map_err(|e| format!("summary payload does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_with_nesting_and_odd_floats() {
        let entries = vec![
            ("lr".to_string(), ConfigValue::Float(-0.0)),
            (
                "model".to_string(),
                ConfigValue::map([
                    ("layers", ConfigValue::from(vec![64i64, 32])),
                    ("act", ConfigValue::from("relu")),
                    ("nan", ConfigValue::Float(f64::NAN)),
                ]),
            ),
            ("empty".to_string(), ConfigValue::Map(BTreeMap::new())),
        ];
        let back = decode_config(&encode_config(&entries).unwrap()).unwrap();
        assert_eq!(back.len(), 3);
        let lr = back.iter().find(|(k, _)| k == "lr").unwrap();
        assert!(
            matches!(lr.1, ConfigValue::Float(f) if f.to_bits() == (-0.0f64).to_bits())
        );
        let model = &back.iter().find(|(k, _)| k == "model").unwrap().1;
        let ConfigValue::Map(m) = model else {
            panic!("model is a map")
        };
        assert_eq!(
            m["layers"],
            ConfigValue::List(vec![64i64.into(), 32i64.into()])
        );
        assert!(matches!(m["nan"], ConfigValue::Float(f) if f.is_nan()));
    }

    #[test]
    fn too_deep_config_is_refused_both_ways() {
        let mut v = ConfigValue::Int(1);
        for _ in 0..40 {
            v = ConfigValue::List(vec![v]);
        }
        let err = encode_config(&[("deep".into(), v)]).unwrap_err();
        assert!(err.contains("\"deep\" nests 40 levels"), "{err}");

        // A hand-made payload claiming 40 nested lists.
        let mut nodes = vec![Node::Map(1)];
        nodes.extend((0..40).map(|_| Node::List(1)));
        nodes.push(Node::Null);
        let bytes = postcard::to_stdvec(&(nodes, vec!["k".to_string()])).unwrap();
        assert!(decode_config(&bytes).unwrap_err().contains("deeper"));
    }

    #[test]
    fn lying_counts_are_errors() {
        let bytes =
            postcard::to_stdvec(&(vec![Node::Map(1_000_000)], Vec::<String>::new()));
        assert!(decode_config(&bytes.unwrap())
            .unwrap_err()
            .contains("claims"));
        assert!(decode_config(&[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn json_config_keeps_ints_and_floats_apart() {
        let e =
            ConfigValue::entries_from_json(r#"{"a": 1, "b": 1.5, "c": {"d": [true]}}"#);
        let e = e.unwrap();
        assert_eq!(e[0], ("a".into(), ConfigValue::Int(1)));
        assert_eq!(e[1], ("b".into(), ConfigValue::Float(1.5)));
        assert!(ConfigValue::entries_from_json("[1]")
            .unwrap_err()
            .contains("object"));
        assert!(ConfigValue::entries_from_json("{")
            .unwrap_err()
            .contains("not valid JSON"));
    }
}
