//! Loaders that turn the real third-party training logs under
//! `shared/data/real/` (see `SOURCES.md` there) into one neutral in-memory
//! form, [`ReplayRun`], which a replay test pushes through the SDK.
//!
//! Each source becomes one `ReplayRun`: a name (`source`), a flat `config`, the
//! `rows` in the order they must be logged, and the explicit `summary` values
//! when the source has them. Every key is a flat string. Nested parts are joined
//! with `/`.
//!
//! # How values are mapped
//!
//! JSON sources (W&B history and summary, HF `trainer_state.json`):
//! - A number written as an integer (no `.`, no exponent) that fits in an `i64`
//!   becomes [`ReplayValue::Int`]. Any other number becomes
//!   [`ReplayValue::Float`]. That covers `1.0`, `1e+09`, and integers too large
//!   for an `i64`. serde_json's `float_roundtrip` parser reads floats to the
//!   bit. One edge case: serde_json reads `-0` as the float `-0.0`, so it
//!   becomes `Float(-0.0)`.
//! - `true` and `false` become `Int(1)` and `Int(0)`.
//! - `null` is skipped: the key is simply absent.
//! - Strings become [`ReplayValue::Text`].
//! - Nested objects are flattened, with their keys joined by `/`:
//!   `{"gameplays": {"_type": ..}}` gives `gameplays/_type`. An empty nested
//!   object gives no key at all.
//! - An array becomes `Text` of its compact JSON, as re-written by serde_json.
//!   Numbers inside it keep their value but may change spelling (`1e+24` is
//!   written as `1e24`), and object keys inside it come out sorted.
//! - If a key occurs twice after flattening (`"a/b"` next to `{"a":{"b":..}}`),
//!   that is an error. If a key occurs twice inside one JSON object, serde_json
//!   keeps only the last one.
//! - serde_json is built without `preserve_order`, so the source's key order is
//!   lost. The values of a JSON row, a JSON config and a JSON summary are
//!   therefore sorted alphabetically (byte order) by their flattened key.
//!
//! Per format:
//! - **W&B history (`*.jsonl`)**: each non-blank line is one JSON object and
//!   one row. Its top-level `_step` becomes the row's `step` and is taken out of
//!   the values. Every other key stays as a value, flattened, including
//!   `_runtime` and `_timestamp`. `timestamp_ms` is left `None`. If a line has
//!   no `_step`, its step is `None`.
//! - **W&B summary (`*wandb-summary.json`)**: one JSON object. `summary` holds
//!   every flattened key (with `_step`, and with arrays as `Text`). It also gives
//!   exactly one row. Its step is `_step`. Its values are all the flattened
//!   scalar leaves (numbers, booleans, strings) except `_step`. Arrays are left
//!   out of that row, since they are not scalars.
//! - **Lightning CSV (`*.csv`)**: the first non-blank line is the header. It
//!   needs a `step` column, and its names must be non-empty and unique. The
//!   `step` cell becomes the row's step (empty means `None`). Every other column
//!   becomes a value, in header order. For each cell:
//!   - an empty cell is absent;
//!   - an optional sign followed by digits that fits in an `i64` becomes `Int`
//!     (for example the epoch `0`);
//!   - anything else must parse with `str::parse::<f64>`, which is exact and
//!     also accepts `nan`, `inf` and `-inf`, and becomes `Float`;
//!   - a cell that is not a number is an error.
//!
//!   Cells are split on `,`. Quoted fields are not supported: a `"` anywhere in
//!   a line is an error.
//! - **HF `trainer_state.json`**: each entry of `log_history` becomes one row,
//!   in file order. Its `step` key becomes the row's step and leaves the values.
//!   Every top-level key other than `log_history` goes into `config`, flattened
//!   (so `stateful_callbacks/TrainerControl/args/should_save` is `Int(1)`).
//!   Top-level nulls such as `best_metric` are absent.
//! - **MLflow file store (a folder)**: a run directory is a folder that holds
//!   `metrics/`. The search does not go into a run directory, nor into folders
//!   whose names start with `.` (such as `.trash`). [`load_mlflow`] needs
//!   exactly one run. For stores with several runs, use [`find_mlflow_run_dirs`]
//!   and [`load_mlflow_run`].
//!   - A metric's key is the path of its file under `metrics/`, so
//!     `metrics/val/acc_best` gives `val/acc_best`.
//!   - Each non-blank line `timestamp_ms value step` gives one row holding one
//!     value, `{key: Float(value)}`, with its `step` and `timestamp_ms` set. A
//!     line from older MLflow with only `timestamp_ms value` gets step `None`.
//!   - Rows are sorted by (`timestamp_ms`, `step`, key, line number), so the
//!     replay is deterministic.
//!   - A param file `params/<path>` becomes config `<path>` and a tag file
//!     `tags/<path>` becomes config `tags/<path>`. The value is `Text` holding
//!     the file's exact content: nothing is stripped, not even a trailing
//!     newline.
//!   - Config is sorted by key. `meta.yaml` files are not read.
//!
//! A missing trailing newline is fine everywhere. Blank lines are skipped in
//! the line-based formats (JSONL, CSV and MLflow metric files). Anything
//! malformed is an `anyhow` error. Errors in line-based files name
//! `file:line`. Errors in whole-file JSON name the file, plus serde_json's
//! line and column for syntax errors, or the `log_history[i]` entry.

use anyhow::{bail, Context, Result};
use serde_json::{Map, Number, Value};
use std::path::{Path, PathBuf};

/// One logged value.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayValue {
    Int(i64),
    Float(f64),
    Text(String),
}

/// One row to log: an optional step, an optional wall-clock time in
/// milliseconds, and the values it carries.
impl ReplayRow {
    /// Logs the row through `run` (its step and timestamp when it has them)
    /// and returns the step used.
    pub fn log_to(&self, run: &mut ringtrack::Run) -> ringtrack::Result<u64> {
        let values: Vec<(&str, ringtrack::Value)> = self
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_value()))
            .collect();
        run.log_row(&ringtrack::Row {
            step: self.step,
            timestamp_ns: self.timestamp_ms.map(|ms| ms * 1_000_000),
            values: &values,
        })
    }
}

impl ReplayValue {
    /// The value as the SDK logs it.
    pub fn to_value(&self) -> ringtrack::Value {
        match self {
            ReplayValue::Int(i) => ringtrack::Value::I64(*i),
            ReplayValue::Float(f) => ringtrack::Value::F64(*f),
            ReplayValue::Text(t) => ringtrack::Value::Text(t.clone()),
        }
    }

    /// The value as a config entry.
    pub fn to_config_value(&self) -> ringtrack::ConfigValue {
        match self {
            ReplayValue::Int(i) => ringtrack::ConfigValue::Int(*i),
            ReplayValue::Float(f) => ringtrack::ConfigValue::Float(*f),
            ReplayValue::Text(t) => ringtrack::ConfigValue::Text(t.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRow {
    pub step: Option<u64>,
    pub timestamp_ms: Option<i64>,
    pub values: Vec<(String, ReplayValue)>,
}

/// Everything one source holds, in replay order.
#[derive(Debug, Clone)]
pub struct ReplayRun {
    /// File or folder name, e.g. `"arcroute-ppo-metrics.csv"`.
    pub source: String,
    /// Flattened keys, `/`-separated.
    pub config: Vec<(String, ReplayValue)>,
    /// In the order they must be logged.
    pub rows: Vec<ReplayRow>,
    /// Explicit summary values, if the source has them.
    pub summary: Vec<(String, ReplayValue)>,
}

type Pairs = Vec<(String, ReplayValue)>;

/// `$RINGTRACK_REAL_DATA` if set and non-empty, else `shared/data/real` next to the repo.
pub fn real_data_dir() -> PathBuf {
    match std::env::var_os("RINGTRACK_REAL_DATA") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/real"
        )),
    }
}

/// Loads every source in `dir`, sorted by name. `*.md` files and names
/// starting with `.` are skipped. An entry of unknown kind is an error.
pub fn load_all(dir: &Path) -> Result<Vec<ReplayRun>> {
    let mut runs = Vec::new();
    for path in sorted_entries(dir)? {
        if let Some(run) = load_entry(&path)? {
            runs.push(run);
        }
    }
    Ok(runs)
}

fn load_entry(path: &Path) -> Result<Option<ReplayRun>> {
    let name = file_name(path)?;
    if name.starts_with('.') || name.ends_with(".md") {
        return Ok(None);
    }
    let run = if path.is_dir() {
        load_mlflow(path)?
    } else if name.ends_with(".jsonl") {
        load_wandb_history(path)?
    } else if name.ends_with("wandb-summary.json") {
        load_wandb_summary(path)?
    } else if name.ends_with("trainer_state.json") {
        load_hf_trainer_state(path)?
    } else if name.ends_with(".csv") {
        load_lightning_csv(path)?
    } else {
        bail!("{}: unknown kind of training log", path.display());
    };
    Ok(Some(run))
}

fn new_run(
    path: &Path,
    config: Pairs,
    rows: Vec<ReplayRow>,
    summary: Pairs,
) -> Result<ReplayRun> {
    let source = file_name(path)?.to_owned();
    Ok(ReplayRun {
        source,
        config,
        rows,
        summary,
    })
}

// ---------------------------------------------------------------- files

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read as UTF-8 text", path.display()))
}

fn file_name(path: &Path) -> Result<&str> {
    path.file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("{}: no UTF-8 file name", path.display()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let listing = || format!("{}: cannot list directory", dir.display());
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(listing)? {
        paths.push(entry.with_context(listing)?.path());
    }
    paths.sort();
    Ok(paths)
}

/// `path:line`, for error messages.
fn at(path: &Path, line: usize) -> String {
    format!("{}:{line}", path.display())
}

/// Non-blank lines with their 1-based line numbers.
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim().is_empty())
}

// ---------------------------------------------------------------- JSON mapping

/// Whether arrays are kept (as `Text` of their JSON) or dropped while flattening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrays {
    AsText,
    Skip,
}

fn parse_object(text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text).context("invalid JSON")? {
        Value::Object(object) => Ok(object),
        other => bail!("expected a JSON object, found {}", json_kind(&other)),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn number_value(number: &Number) -> Result<ReplayValue> {
    if let Some(int) = number.as_i64() {
        return Ok(ReplayValue::Int(int));
    }
    number
        .as_f64()
        .map(ReplayValue::Float)
        .with_context(|| format!("number {number} is not representable"))
}

fn leaf_value(value: &Value) -> Result<Option<ReplayValue>> {
    Ok(match value {
        Value::Null => None,
        Value::Bool(flag) => Some(ReplayValue::Int(i64::from(*flag))),
        Value::Number(number) => Some(number_value(number)?),
        Value::String(text) => Some(ReplayValue::Text(text.clone())),
        Value::Array(_) | Value::Object(_) => {
            Some(ReplayValue::Text(serde_json::to_string(value)?))
        }
    })
}

/// Flattens `object` into `/`-joined keys, sorted by key, each key once.
fn flatten(object: &Map<String, Value>, arrays: Arrays) -> Result<Pairs> {
    let mut pairs = Vec::new();
    flatten_into(object, None, arrays, &mut pairs)?;
    sort_unique(pairs)
}

fn flatten_into(
    object: &Map<String, Value>,
    prefix: Option<&str>,
    arrays: Arrays,
    out: &mut Pairs,
) -> Result<()> {
    for (name, value) in object {
        let key = match prefix {
            Some(prefix) => format!("{prefix}/{name}"),
            None => name.clone(),
        };
        match value {
            Value::Object(inner) => flatten_into(inner, Some(&key), arrays, out)?,
            Value::Array(_) if arrays == Arrays::Skip => {}
            leaf => {
                if let Some(value) = leaf_value(leaf)? {
                    out.push((key, value));
                }
            }
        }
    }
    Ok(())
}

fn sort_unique(mut pairs: Pairs) -> Result<Pairs> {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(twice) = pairs.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        bail!("key `{}` occurs twice (after flattening)", twice[0].0);
    }
    Ok(pairs)
}

/// Removes `key` from `values` and returns it as a step (a non-negative integer).
fn take_step(values: &mut Pairs, key: &str) -> Result<Option<u64>> {
    let Some(position) = values.iter().position(|(name, _)| name == key) else {
        return Ok(None);
    };
    match values.remove(position).1 {
        ReplayValue::Int(step) => u64::try_from(step)
            .map(Some)
            .with_context(|| format!("`{key}` is negative: {step}")),
        other => bail!("`{key}` is not an integer: {other:?}"),
    }
}

fn json_row(
    object: &Map<String, Value>,
    step_key: &str,
    arrays: Arrays,
) -> Result<ReplayRow> {
    let mut values = flatten(object, arrays)?;
    let step = take_step(&mut values, step_key)?;
    Ok(ReplayRow {
        step,
        timestamp_ms: None,
        values,
    })
}

// ---------------------------------------------------------------- W&B

/// Loads a W&B `wandb-history.jsonl`: one row per line, `_step` as the step.
pub fn load_wandb_history(path: &Path) -> Result<ReplayRun> {
    let text = read_text(path)?;
    let mut rows = Vec::new();
    for (line_no, line) in numbered_lines(&text) {
        let row =
            parse_object(line).and_then(|obj| json_row(&obj, "_step", Arrays::AsText));
        rows.push(row.with_context(|| at(path, line_no))?);
    }
    new_run(path, Vec::new(), rows, Vec::new())
}

/// Loads a W&B `wandb-summary.json`: all keys as summary, plus one row at `_step`.
pub fn load_wandb_summary(path: &Path) -> Result<ReplayRun> {
    let text = read_text(path)?;
    let (row, summary) =
        wandb_summary_parts(&text).with_context(|| path.display().to_string())?;
    new_run(path, Vec::new(), vec![row], summary)
}

fn wandb_summary_parts(text: &str) -> Result<(ReplayRow, Pairs)> {
    let object = parse_object(text)?;
    let summary = flatten(&object, Arrays::AsText)?;
    let row = json_row(&object, "_step", Arrays::Skip)?;
    Ok((row, summary))
}

// ---------------------------------------------------------------- Hugging Face

/// Loads a HF `trainer_state.json`: `log_history` entries as rows, the rest as config.
pub fn load_hf_trainer_state(path: &Path) -> Result<ReplayRun> {
    let text = read_text(path)?;
    let (config, rows) =
        trainer_state_parts(&text).with_context(|| path.display().to_string())?;
    new_run(path, config, rows, Vec::new())
}

fn trainer_state_parts(text: &str) -> Result<(Pairs, Vec<ReplayRow>)> {
    let mut object = parse_object(text)?;
    let history = object
        .remove("log_history")
        .context("no `log_history` key")?;
    let Value::Array(entries) = history else {
        bail!("`log_history` is {}, not an array", json_kind(&history));
    };
    let mut rows = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        rows.push(
            trainer_state_row(entry).with_context(|| format!("log_history[{index}]"))?,
        );
    }
    Ok((flatten(&object, Arrays::AsText)?, rows))
}

fn trainer_state_row(entry: &Value) -> Result<ReplayRow> {
    let Value::Object(object) = entry else {
        bail!("expected an object, found {}", json_kind(entry));
    };
    json_row(object, "step", Arrays::AsText)
}

// ---------------------------------------------------------------- Lightning CSV

#[derive(Debug)]
struct CsvHeader {
    names: Vec<String>,
    step_column: usize,
}

/// Loads a Lightning CSVLogger `metrics.csv`: one row per line, `step` column as the step.
pub fn load_lightning_csv(path: &Path) -> Result<ReplayRun> {
    let text = read_text(path)?;
    let mut lines = numbered_lines(&text);
    let (header_no, header_line) = lines
        .next()
        .with_context(|| format!("{}: empty file", path.display()))?;
    let header = csv_header(header_line).with_context(|| at(path, header_no))?;
    let mut rows = Vec::new();
    for (line_no, line) in lines {
        rows.push(csv_row(&header, line).with_context(|| at(path, line_no))?);
    }
    new_run(path, Vec::new(), rows, Vec::new())
}

/// Splits one CSV line on commas. Quoted fields are not supported.
fn split_csv_line(line: &str) -> Result<Vec<&str>> {
    if line.contains('"') {
        bail!("quoted CSV fields are not supported (found `\"`)");
    }
    Ok(line.split(',').collect())
}

fn csv_header(line: &str) -> Result<CsvHeader> {
    let names: Vec<String> = split_csv_line(line)?
        .into_iter()
        .map(str::to_owned)
        .collect();
    if names.iter().any(String::is_empty) {
        bail!("empty column name in header");
    }
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    if let Some(twice) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        bail!("column `{}` occurs twice in header", twice[0]);
    }
    let step_column = names
        .iter()
        .position(|name| name == "step")
        .context("no `step` column")?;
    Ok(CsvHeader { names, step_column })
}

fn csv_row(header: &CsvHeader, line: &str) -> Result<ReplayRow> {
    let cells = split_csv_line(line)?;
    if cells.len() != header.names.len() {
        bail!(
            "expected {} cells, found {}",
            header.names.len(),
            cells.len()
        );
    }
    let mut step = None;
    let mut values = Vec::new();
    for (column, (name, cell)) in header.names.iter().zip(cells).enumerate() {
        if column == header.step_column {
            step = csv_step(cell)?;
        } else if let Some(value) =
            csv_value(cell).with_context(|| format!("column `{name}`"))?
        {
            values.push((name.clone(), value));
        }
    }
    Ok(ReplayRow {
        step,
        timestamp_ms: None,
        values,
    })
}

fn csv_step(cell: &str) -> Result<Option<u64>> {
    if cell.is_empty() {
        return Ok(None);
    }
    let step = cell.parse::<u64>();
    step.map(Some)
        .with_context(|| format!("step `{cell}` is not a non-negative integer"))
}

fn is_integer_literal(cell: &str) -> bool {
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

fn csv_value(cell: &str) -> Result<Option<ReplayValue>> {
    if cell.is_empty() {
        return Ok(None);
    }
    if is_integer_literal(cell) {
        if let Ok(int) = cell.parse::<i64>() {
            return Ok(Some(ReplayValue::Int(int)));
        }
    }
    let float = cell
        .parse::<f64>()
        .with_context(|| format!("cell `{cell}` is not a number"))?;
    Ok(Some(ReplayValue::Float(float)))
}

// ---------------------------------------------------------------- MLflow

#[derive(Debug)]
struct MetricPoint {
    timestamp_ms: i64,
    step: Option<u64>,
    key: String,
    line: usize,
    value: f64,
}

/// Loads the single run of an MLflow file store found under `root`.
/// `source` is the name of `root`.
pub fn load_mlflow(root: &Path) -> Result<ReplayRun> {
    let run_dirs = find_mlflow_run_dirs(root)?;
    match run_dirs.as_slice() {
        [run_dir] => load_mlflow_run(run_dir, file_name(root)?),
        [] => bail!(
            "{}: no MLflow run directory (one with metrics/)",
            root.display()
        ),
        many => bail!(
            "{}: {} MLflow runs found; load them one by one with load_mlflow_run",
            root.display(),
            many.len()
        ),
    }
}

/// Every MLflow run directory (a folder holding `metrics/`) under `root`, sorted.
pub fn find_mlflow_run_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    collect_run_dirs(root, &mut found)?;
    Ok(found)
}

fn collect_run_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    if dir.join("metrics").is_dir() {
        found.push(dir.to_path_buf());
        return Ok(());
    }
    for path in sorted_entries(dir)? {
        if path.is_dir() && !path.is_symlink() && !file_name(&path)?.starts_with('.') {
            collect_run_dirs(&path, found)?;
        }
    }
    Ok(())
}

/// Loads one MLflow run directory: metric points as rows, params and tags as config.
pub fn load_mlflow_run(run_dir: &Path, source: &str) -> Result<ReplayRun> {
    let mut points = Vec::new();
    for (key, path) in files_under(&run_dir.join("metrics"), "")? {
        read_metric_file(&key, &path, &mut points)?;
    }
    points.sort_by(|a, b| {
        (a.timestamp_ms, a.step, &a.key, a.line).cmp(&(
            b.timestamp_ms,
            b.step,
            &b.key,
            b.line,
        ))
    });
    let mut config = read_text_tree(&run_dir.join("params"), "")?;
    config.extend(read_text_tree(&run_dir.join("tags"), "tags/")?);
    let config = sort_unique(config).with_context(|| run_dir.display().to_string())?;
    let rows = points.into_iter().map(point_row).collect();
    Ok(ReplayRun {
        source: source.to_owned(),
        config,
        rows,
        summary: Vec::new(),
    })
}

fn point_row(point: MetricPoint) -> ReplayRow {
    ReplayRow {
        step: point.step,
        timestamp_ms: Some(point.timestamp_ms),
        values: vec![(point.key, ReplayValue::Float(point.value))],
    }
}

/// Every file under `dir` (recursively, sorted) with its `/`-joined relative path after `prefix`.
fn files_under(dir: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for path in sorted_entries(dir)? {
        let key = format!("{prefix}{}", file_name(&path)?);
        if path.is_dir() {
            files.extend(files_under(&path, &format!("{key}/"))?);
        } else {
            files.push((key, path));
        }
    }
    Ok(files)
}

/// Each file under `dir` as `(prefix + relative path, Text(exact content))`; none if no `dir`.
fn read_text_tree(dir: &Path, prefix: &str) -> Result<Pairs> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut pairs = Vec::new();
    for (key, path) in files_under(dir, prefix)? {
        pairs.push((key, ReplayValue::Text(read_text(&path)?)));
    }
    Ok(pairs)
}

fn read_metric_file(key: &str, path: &Path, points: &mut Vec<MetricPoint>) -> Result<()> {
    let text = read_text(path)?;
    for (line_no, line) in numbered_lines(&text) {
        points.push(metric_point(key, line_no, line).with_context(|| at(path, line_no))?);
    }
    Ok(())
}

fn metric_point(key: &str, line: usize, text: &str) -> Result<MetricPoint> {
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    let (timestamp, value, step) = match fields.as_slice() {
        [timestamp, value] => (*timestamp, *value, None),
        [timestamp, value, step] => (*timestamp, *value, Some(*step)),
        _ => bail!(
            "expected `timestamp_ms value step`, found {} fields",
            fields.len()
        ),
    };
    let timestamp_ms = timestamp
        .parse::<i64>()
        .with_context(|| format!("timestamp `{timestamp}` is not an integer"))?;
    let value = value
        .parse::<f64>()
        .with_context(|| format!("value `{value}` is not a number"))?;
    let step = step
        .map(|step| {
            let parsed = step.parse::<u64>();
            parsed.with_context(|| format!("step `{step}` is not a non-negative integer"))
        })
        .transpose()?;
    Ok(MetricPoint {
        timestamp_ms,
        step,
        key: key.to_owned(),
        line,
        value,
    })
}

// ---------------------------------------------------------------- tests

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const HISTORY: &str = "spaceinvaders-wandb-history.jsonl";
    const SUMMARY: &str = "verl-grpo-wandb-summary.json";
    const GENRISK: &str = "genrisk-gan-diverged-metrics.csv";
    const ARCROUTE: &str = "arcroute-ppo-metrics.csv";
    const TRAINER: &str = "star-eagle-trainer_state.json";
    const MLFLOW: &str = "mlflow-hydra-mnist";

    fn real(name: &str) -> PathBuf {
        real_data_dir().join(name)
    }

    fn get<'a>(pairs: &'a [(String, ReplayValue)], key: &str) -> Option<&'a ReplayValue> {
        pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    fn float(pairs: &[(String, ReplayValue)], key: &str) -> f64 {
        match get(pairs, key) {
            Some(ReplayValue::Float(value)) => *value,
            other => panic!("`{key}` is not a Float: {other:?}"),
        }
    }

    fn has(row: &ReplayRow, key: &str) -> bool {
        get(&row.values, key).is_some()
    }

    fn keys(pairs: &[(String, ReplayValue)]) -> Vec<&str> {
        pairs.iter().map(|(name, _)| name.as_str()).collect()
    }

    fn steps(run: &ReplayRun) -> Vec<Option<u64>> {
        run.rows.iter().map(|row| row.step).collect()
    }

    fn is_sorted_by_key(pairs: &[(String, ReplayValue)]) -> bool {
        pairs.windows(2).all(|pair| pair[0].0 < pair[1].0)
    }

    /// A private folder under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Result<Scratch> {
            let dir = std::env::temp_dir()
                .join(format!("ringtrack-replay-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            Ok(Scratch(dir))
        }

        fn write(&self, relative: &str, content: &str) -> Result<PathBuf> {
            let path = self.0.join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, content)?;
            Ok(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn error_text<T: std::fmt::Debug>(result: Result<T>) -> String {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(error) => format!("{error:#}"),
        }
    }

    // ------------------------------------------------------------ real data

    #[test]
    fn load_all_finds_the_six_sources() -> Result<()> {
        let runs = load_all(&real_data_dir())?;
        let names: Vec<&str> = runs.iter().map(|run| run.source.as_str()).collect();
        assert_eq!(
            names,
            [ARCROUTE, GENRISK, MLFLOW, HISTORY, TRAINER, SUMMARY]
        );
        Ok(())
    }

    #[test]
    fn spaceinvaders_history() -> Result<()> {
        let run = load_wandb_history(&real(HISTORY))?;
        assert_eq!(run.rows.len(), 198);
        assert_eq!(steps(&run), (0..=197).map(Some).collect::<Vec<_>>());
        let count = |key: &str| run.rows.iter().filter(|row| has(row, key)).count();
        assert_eq!(count("episodic_reward"), 98);
        assert_eq!(count("cumulative_avg_reward"), 98);
        assert_eq!(count("gameplays/_type"), 2);
        assert!(!run
            .rows
            .iter()
            .any(|r| has(r, "episodic_reward") && has(r, "cumulative_avg_reward")));
        for row in &run.rows {
            assert!(!has(row, "_step"));
            assert!(matches!(
                get(&row.values, "_runtime"),
                Some(ReplayValue::Float(_))
            ));
            assert!(matches!(
                get(&row.values, "_timestamp"),
                Some(ReplayValue::Float(_))
            ));
            assert!(is_sorted_by_key(&row.values));
            assert_eq!(row.timestamp_ms, None);
        }
        assert!(run.config.is_empty() && run.summary.is_empty());
        Ok(())
    }

    #[test]
    fn spaceinvaders_values_are_exact() -> Result<()> {
        let run = load_wandb_history(&real(HISTORY))?;
        assert_eq!(float(&run.rows[0].values, "episodic_reward"), 180.0);
        let avg = float(&run.rows[1].values, "cumulative_avg_reward");
        assert_eq!(avg.to_bits(), 136.666_666_666_666_66_f64.to_bits());
        let media = &run.rows[2];
        assert_eq!(media.step, Some(2));
        assert_eq!(
            keys(&media.values),
            [
                "_runtime",
                "_timestamp",
                "gameplays/_type",
                "gameplays/path",
                "gameplays/sha256",
                "gameplays/size"
            ]
        );
        assert_eq!(
            get(&media.values, "gameplays/_type"),
            Some(&ReplayValue::Text("video-file".into()))
        );
        assert_eq!(
            get(&media.values, "gameplays/size"),
            Some(&ReplayValue::Int(192_147))
        );
        assert_eq!(
            float(&media.values, "_timestamp").to_bits(),
            1_582_070_919.529_954_2_f64.to_bits()
        );
        assert_eq!(run.rows[103].step, Some(103));
        assert!(has(&run.rows[103], "gameplays/sha256"));
        Ok(())
    }

    #[test]
    fn verl_summary() -> Result<()> {
        let path = real(SUMMARY);
        let top_level = parse_object(&std::fs::read_to_string(&path)?)?.len();
        assert_eq!(top_level, 276);
        let run = load_wandb_summary(&path)?;
        // 276 keys - 2 objects + `_wandb` (1 key) + `val/generations` (9 keys).
        assert_eq!(run.summary.len(), 284);
        assert!(is_sorted_by_key(&run.summary));
        let count = |f: fn(&ReplayValue) -> bool| {
            run.summary.iter().filter(|(_, v)| f(v)).count()
        };
        assert_eq!(count(|v| matches!(v, ReplayValue::Int(_))), 55);
        assert_eq!(count(|v| matches!(v, ReplayValue::Float(_))), 223);
        assert_eq!(count(|v| matches!(v, ReplayValue::Text(_))), 6);
        assert_eq!(get(&run.summary, "_step"), Some(&ReplayValue::Int(11)));
        assert_eq!(run.rows.len(), 1);
        let row = &run.rows[0];
        assert_eq!(row.step, Some(11));
        assert_eq!(row.values.len(), 283);
        assert!(!has(row, "_step"));
        assert!(run.config.is_empty());
        Ok(())
    }

    #[test]
    fn verl_summary_values() -> Result<()> {
        let run = load_wandb_summary(&real(SUMMARY))?;
        let s = &run.summary;
        assert_eq!(
            float(s, "_timestamp").to_bits(),
            1.764_422_208_795_43e9_f64.to_bits()
        );
        assert_eq!(
            float(s, "actor/ppo_kl").to_bits(),
            (-2.618_287_595_623_769_4e-6_f64).to_bits()
        );
        assert_eq!(get(s, "_wandb/runtime"), Some(&ReplayValue::Int(7161)));
        assert_eq!(
            get(s, "val/generations/_type"),
            Some(&ReplayValue::Text("table-file".into()))
        );
        assert_eq!(get(s, "val/generations/nrows"), Some(&ReplayValue::Int(2)));
        assert_eq!(
            get(s, "timing_s/agent_loop/slowest/tool_calls"),
            Some(&ReplayValue::Int(0))
        );
        assert_eq!(
            float(s, "val-aux/aime_2024/score/worst@2/mean"),
            -0.963_733_333_333_333_3
        );
        assert!(get(s, "val/generations").is_none());
        assert_eq!(get(s, "_timestamp"), get(&run.rows[0].values, "_timestamp"));
        Ok(())
    }

    #[test]
    fn genrisk_csv() -> Result<()> {
        let run = load_lightning_csv(&real(GENRISK))?;
        assert_eq!(run.rows.len(), 320);
        assert_eq!(steps(&run), (0..320).map(Some).collect::<Vec<_>>());
        let first = &run.rows[0].values;
        assert_eq!(keys(first), ["epoch", "train_disc_loss", "train_gen_loss"]);
        assert_eq!(
            float(first, "train_disc_loss").to_bits(),
            1.622_693_350_832_150_1e24_f64.to_bits()
        );
        assert!(float(first, "train_gen_loss").is_nan());
        for (index, row) in run.rows.iter().enumerate() {
            assert_eq!(
                get(&row.values, "epoch"),
                Some(&ReplayValue::Int(index as i64 / 4))
            );
        }
        let nan_after_row_0 = run.rows[1..]
            .iter()
            .flat_map(|row| &row.values)
            .filter(|(_, value)| matches!(value, ReplayValue::Float(f) if f.is_nan()))
            .count();
        assert_eq!(nan_after_row_0, 638);
        Ok(())
    }

    #[test]
    fn arcroute_csv() -> Result<()> {
        let run = load_lightning_csv(&real(ARCROUTE))?;
        assert_eq!(run.rows.len(), 189);
        let val_rows: Vec<&ReplayRow> = run
            .rows
            .iter()
            .filter(|row| keys(&row.values) == ["epoch", "val/reward"])
            .collect();
        assert_eq!(val_rows.len(), 17);
        assert_eq!(val_rows[0].step, Some(488));
        assert_eq!(val_rows[1].step, Some(977));
        let train_rows = run
            .rows
            .iter()
            .filter(|row| row.values.len() == 6 && !has(row, "val/reward"));
        assert_eq!(train_rows.count(), 172);
        let cells: usize = run.rows.iter().map(|row| row.values.len()).sum();
        assert_eq!(189 * 7 - cells, 257, "empty cells");
        assert_eq!(run.rows[0].step, Some(49));
        let spike = run
            .rows
            .iter()
            .find(|row| row.step == Some(6249))
            .context("step 6249")?;
        assert_eq!(float(&spike.values, "train/loss"), 3_668.494_384_765_625);
        assert_eq!(float(&spike.values, "train/reward"), -2_855.626_953_125);
        assert_eq!(get(&spike.values, "epoch"), Some(&ReplayValue::Int(12)));
        Ok(())
    }

    #[test]
    fn star_eagle_trainer_state_rows() -> Result<()> {
        let run = load_hf_trainer_state(&real(TRAINER))?;
        assert_eq!(run.rows.len(), 2000);
        assert_eq!(
            steps(&run),
            (1..=2000).map(|i| Some(i * 20)).collect::<Vec<_>>()
        );
        for row in &run.rows {
            assert_eq!(row.values.len(), 19, "20 keys minus `step`");
            assert!(matches!(
                get(&row.values, "remaining_time"),
                Some(ReplayValue::Text(_))
            ));
            assert!(
                has(row, "lr") && has(row, "train/ploss_6") && !has(row, "learning_rate")
            );
        }
        let first = &run.rows[0].values;
        assert_eq!(
            get(first, "remaining_time"),
            Some(&ReplayValue::Text("59h:30m:19s".into()))
        );
        assert_eq!(
            float(first, "grad_norm").to_bits(),
            4.839_384_663_661_892_5_f64.to_bits()
        );
        Ok(())
    }

    #[test]
    fn star_eagle_trainer_state_config() -> Result<()> {
        let run = load_hf_trainer_state(&real(TRAINER))?;
        let c = &run.config;
        // 19 keys besides log_history, 5 of them null, stateful_callbacks -> 5 leaves.
        assert_eq!(c.len(), 18);
        assert_eq!(get(c, "global_step"), Some(&ReplayValue::Int(40_000)));
        assert_eq!(get(c, "is_hyper_param_search"), Some(&ReplayValue::Int(0)));
        assert_eq!(
            get(c, "stateful_callbacks/TrainerControl/args/should_save"),
            Some(&ReplayValue::Int(1))
        );
        assert_eq!(float(c, "total_flos"), 10_842_937_786_368.0);
        assert!(get(c, "best_metric").is_none() && get(c, "log_history").is_none());
        assert!(run.summary.is_empty());
        Ok(())
    }

    #[test]
    fn mlflow_rows() -> Result<()> {
        let run = load_mlflow(&real(MLFLOW))?;
        assert_eq!(run.rows.len(), 73);
        let count = |key: &str| run.rows.iter().filter(|row| has(row, key)).count();
        let expected = [
            ("epoch", 21),
            ("test/acc", 1),
            ("test/loss", 1),
            ("train/acc", 10),
            ("train/loss", 10),
            ("val/acc", 10),
            ("val/acc_best", 10),
            ("val/loss", 10),
        ];
        for (key, points) in expected {
            assert_eq!(count(key), points, "{key}");
        }
        assert!(run
            .rows
            .iter()
            .all(|row| row.values.len() == 1 && row.step.is_some()));
        let times: Vec<i64> =
            run.rows.iter().filter_map(|row| row.timestamp_ms).collect();
        assert_eq!(times.len(), 73);
        assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
        let epochs: Vec<&ReplayRow> =
            run.rows.iter().filter(|row| has(row, "epoch")).collect();
        assert_eq!(epochs[0].step, epochs[1].step);
        let last = epochs[epochs.len() - 1];
        assert_eq!((last.step, float(&last.values, "epoch")), (Some(8600), 8.0));
        let before = epochs[epochs.len() - 2];
        assert_eq!(
            (before.step, float(&before.values, "epoch")),
            (Some(8599), 9.0)
        );
        let val_loss_steps: Vec<Option<u64>> = run
            .rows
            .iter()
            .filter(|row| has(row, "val/loss"))
            .map(|row| row.step)
            .collect();
        assert_eq!(val_loss_steps.last(), Some(&Some(8599)));
        Ok(())
    }

    #[test]
    fn mlflow_config() -> Result<()> {
        let run = load_mlflow(&real(MLFLOW))?;
        let c = &run.config;
        let tags = c.iter().filter(|(key, _)| key.starts_with("tags/")).count();
        assert_eq!((c.len() - tags, tags), (63, 4));
        assert!(c
            .iter()
            .all(|(_, value)| matches!(value, ReplayValue::Text(_))));
        let text = |key: &str| get(c, key).cloned();
        let t = |s: &str| Some(ReplayValue::Text(s.into()));
        assert_eq!(
            text("datamodule/train_val_test_split"),
            t("[55000, 5000, 10000]")
        );
        assert_eq!(text("tags"), t("['mnist', 'simple_dense_net']"));
        assert_eq!(text("tags/mlflow.user"), t("gitpod"));
        assert_eq!(
            text("callbacks/early_stopping/check_on_train_epoch_end"),
            t("None")
        );
        assert_eq!(text("model/optimizer/lr"), t("0.002"));
        assert!(is_sorted_by_key(c));
        Ok(())
    }

    // ------------------------------------------------------------ rules on made-up input

    #[test]
    fn json_mapping_rules() -> Result<()> {
        let dir = Scratch::new("json-rules")?;
        let line = r#"{"_step":3,"i":1,"f":1.0,"e":1e2,"t":true,"n":false,"z":null,"s":"x","a":[1,2.5,"y"],"o":{"p":{"q":-7}},"big":9223372036854775808,"neg0":-0,"emp":{}}"#;
        let run = load_wandb_history(&dir.write("h.jsonl", &format!("{line}\n\n"))?)?;
        assert_eq!(run.rows.len(), 1);
        let v = &run.rows[0].values;
        assert_eq!(run.rows[0].step, Some(3));
        assert_eq!(
            keys(v),
            ["a", "big", "e", "f", "i", "n", "neg0", "o/p/q", "s", "t"]
        );
        assert_eq!(get(v, "i"), Some(&ReplayValue::Int(1)));
        assert_eq!(get(v, "f"), Some(&ReplayValue::Float(1.0)));
        assert_eq!(get(v, "e"), Some(&ReplayValue::Float(100.0)));
        assert_eq!(
            (get(v, "t"), get(v, "n")),
            (Some(&ReplayValue::Int(1)), Some(&ReplayValue::Int(0)))
        );
        assert_eq!(get(v, "s"), Some(&ReplayValue::Text("x".into())));
        assert_eq!(
            get(v, "a"),
            Some(&ReplayValue::Text(r#"[1,2.5,"y"]"#.into()))
        );
        assert_eq!(get(v, "o/p/q"), Some(&ReplayValue::Int(-7)));
        assert_eq!(float(v, "big"), 9_223_372_036_854_775_808.0);
        assert_eq!(float(v, "neg0").to_bits(), (-0.0_f64).to_bits());
        Ok(())
    }

    #[test]
    fn summary_row_leaves_arrays_out() -> Result<()> {
        let dir = Scratch::new("summary-arrays")?;
        let path = dir.write(
            "wandb-summary.json",
            r#"{"_step":5,"a":[1],"b":{"c":"d"},"x":0.5}"#,
        )?;
        let run = load_wandb_summary(&path)?;
        assert_eq!(keys(&run.summary), ["_step", "a", "b/c", "x"]);
        assert_eq!(keys(&run.rows[0].values), ["b/c", "x"]);
        assert_eq!(run.rows[0].step, Some(5));
        Ok(())
    }

    #[test]
    fn json_errors_name_file_and_line() -> Result<()> {
        let dir = Scratch::new("json-errors")?;
        let bad = dir.write("bad.jsonl", "{\"_step\":0}\n{\"_step\":1,\n")?;
        assert!(error_text(load_wandb_history(&bad)).contains("bad.jsonl:2"));
        let not_object = dir.write("arr.jsonl", "[1]\n")?;
        assert!(error_text(load_wandb_history(&not_object))
            .contains("arr.jsonl:1: expected a JSON object"));
        let float_step = dir.write("fs.jsonl", "{\"_step\":1.5}")?;
        assert!(error_text(load_wandb_history(&float_step))
            .contains("`_step` is not an integer"));
        let negative = dir.write("neg.jsonl", "{\"_step\":-1}")?;
        assert!(error_text(load_wandb_history(&negative)).contains("`_step` is negative"));
        let twice = dir.write("dup.jsonl", r#"{"a/b":1,"a":{"b":2}}"#)?;
        assert!(error_text(load_wandb_history(&twice)).contains("key `a/b` occurs twice"));
        let summary = dir.write("wandb-summary.json", "{\n\"a\": 1,\n\"b\": }\n")?;
        let text = error_text(load_wandb_summary(&summary));
        assert!(
            text.contains("wandb-summary.json") && text.contains("line 3"),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn trainer_state_errors_name_the_entry() -> Result<()> {
        let dir = Scratch::new("hf-errors")?;
        let path = dir.write(
            "trainer_state.json",
            r#"{"log_history":[{"step":1},{"step":"2"}]}"#,
        )?;
        let text = error_text(load_hf_trainer_state(&path));
        assert!(
            text.contains("trainer_state.json: log_history[1]: `step` is not an integer"),
            "{text}"
        );
        let missing = dir.write("t2/trainer_state.json", r#"{"global_step":1}"#)?;
        assert!(
            error_text(load_hf_trainer_state(&missing)).contains("no `log_history` key")
        );
        Ok(())
    }

    #[test]
    fn csv_cells() -> Result<()> {
        let dir = Scratch::new("csv-cells")?;
        let text = "epoch,step,a,b\n0,0,nan,\n1,1,inf,-inf\r\n,2,1e+24,-3\n2,,0.1,99999999999999999999";
        let run = load_lightning_csv(&dir.write("m.csv", text)?)?;
        assert_eq!(steps(&run), [Some(0), Some(1), Some(2), None]);
        let r = &run.rows;
        assert_eq!(keys(&r[0].values), ["epoch", "a"]);
        assert!(float(&r[0].values, "a").is_nan());
        assert_eq!(float(&r[1].values, "a"), f64::INFINITY);
        assert_eq!(float(&r[1].values, "b"), f64::NEG_INFINITY);
        assert_eq!(keys(&r[2].values), ["a", "b"]);
        assert_eq!(get(&r[2].values, "b"), Some(&ReplayValue::Int(-3)));
        assert_eq!(float(&r[3].values, "a").to_bits(), 0.1_f64.to_bits());
        assert_eq!(float(&r[3].values, "b"), 1e20);
        Ok(())
    }

    #[test]
    fn csv_errors_name_file_and_line() -> Result<()> {
        let dir = Scratch::new("csv-errors")?;
        let cases = [
            (
                "quote.csv",
                "step,a\n0,\"1\"\n",
                "quote.csv:2: quoted CSV fields are not supported",
            ),
            (
                "short.csv",
                "step,a\n0,1\n1\n",
                "short.csv:3: expected 2 cells, found 1",
            ),
            (
                "word.csv",
                "step,a\n0,abc\n",
                "word.csv:2: column `a`: cell `abc` is not a number",
            ),
            (
                "step.csv",
                "step,a\n-1,0\n",
                "step.csv:2: step `-1` is not a non-negative integer",
            ),
            ("nostep.csv", "epoch,a\n", "nostep.csv:1: no `step` column"),
            (
                "dup.csv",
                "step,a,a\n",
                "dup.csv:1: column `a` occurs twice",
            ),
            ("empty.csv", "\n", "empty.csv: empty file"),
        ];
        for (name, content, expected) in cases {
            let text = error_text(load_lightning_csv(&dir.write(name, content)?));
            assert!(text.contains(expected), "{name}: {text}");
        }
        Ok(())
    }

    #[test]
    fn mlflow_store_layout_and_order() -> Result<()> {
        let dir = Scratch::new("mlflow-order")?;
        let run_dir = "store/mlruns/3/abc";
        dir.write(
            &format!("{run_dir}/metrics/val/loss"),
            "20 0.5 2\n10 0.25 1\n30 0.75 0",
        )?;
        dir.write(&format!("{run_dir}/metrics/epoch"), "10 0 1\n10 1 1\n5 7")?;
        dir.write(&format!("{run_dir}/params/opt/lr"), "0.1\n")?;
        dir.write(&format!("{run_dir}/tags/mlflow.user"), "me")?;
        dir.write("store/mlruns/.trash/old/metrics/x", "1 1 1\n")?;
        let run = load_mlflow(&dir.0.join("store"))?;
        assert_eq!(run.source, "store");
        let order: Vec<(Option<i64>, Option<u64>, &str)> = run
            .rows
            .iter()
            .map(|row| (row.timestamp_ms, row.step, row.values[0].0.as_str()))
            .collect();
        let expected = [
            (Some(5), None, "epoch"),
            (Some(10), Some(1), "epoch"),
            (Some(10), Some(1), "epoch"),
            (Some(10), Some(1), "val/loss"),
            (Some(20), Some(2), "val/loss"),
            (Some(30), Some(0), "val/loss"),
        ];
        assert_eq!(order, expected);
        assert_eq!(float(&run.rows[1].values, "epoch"), 0.0);
        assert_eq!(float(&run.rows[2].values, "epoch"), 1.0);
        assert_eq!(keys(&run.config), ["opt/lr", "tags/mlflow.user"]);
        assert_eq!(
            get(&run.config, "opt/lr"),
            Some(&ReplayValue::Text("0.1\n".into()))
        );
        Ok(())
    }

    #[test]
    fn mlflow_errors() -> Result<()> {
        let dir = Scratch::new("mlflow-errors")?;
        dir.write("a/run/metrics/loss", "1 0.5 0\n2 oops 1\n")?;
        let text = error_text(load_mlflow(&dir.0.join("a")));
        assert!(
            text.contains("loss:2: value `oops` is not a number"),
            "{text}"
        );
        dir.write("b/run/metrics/loss", "1 0.5 -3\n")?;
        let text = error_text(load_mlflow(&dir.0.join("b")));
        assert!(
            text.contains("loss:1: step `-3` is not a non-negative integer"),
            "{text}"
        );
        dir.write("c/run/metrics/loss", "1 0.5 0 9\n")?;
        assert!(error_text(load_mlflow(&dir.0.join("c")))
            .contains("loss:1: expected `timestamp_ms value step`"));
        dir.write("d/r1/metrics/x", "")?;
        dir.write("d/r2/metrics/x", "")?;
        assert!(error_text(load_mlflow(&dir.0.join("d"))).contains("2 MLflow runs found"));
        assert_eq!(find_mlflow_run_dirs(&dir.0.join("d"))?.len(), 2);
        std::fs::create_dir_all(dir.0.join("e/empty"))?;
        assert!(
            error_text(load_mlflow(&dir.0.join("e"))).contains("no MLflow run directory")
        );
        Ok(())
    }

    #[test]
    fn load_all_rejects_unknown_entries() -> Result<()> {
        let dir = Scratch::new("load-all")?;
        dir.write("README.md", "# notes")?;
        dir.write("x.jsonl", "{\"_step\":0,\"a\":1}\n")?;
        assert_eq!(load_all(&dir.0)?.len(), 1);
        dir.write("weights.bin", "")?;
        assert!(error_text(load_all(&dir.0))
            .contains("weights.bin: unknown kind of training log"));
        Ok(())
    }
}
