//! Trains logistic regression on the Wisconsin breast-cancer data set (569 rows,
//! 30 features, label 0 = malignant, 1 = benign) with full-batch gradient descent,
//! and logs every step through ringtrack. Every 5th row (index 4, 9, 14, ...) is
//! held out for validation, so there is no randomness. Features are standardised
//! with training-split statistics. The weights carry an L2 penalty; the learning
//! rate is fixed. Each step logs `train/loss`, `train/accuracy`, `val/loss`,
//! `val/accuracy`, `grad_norm` and `lr`. The losses are the mean cross-entropy
//! before that step's update, without the L2 term, so train and val compare.
//!
//! `cargo run --release -p ringtrack --example train [-- path/to/breast_cancer.csv]`
//!
//! Data set: the first argument, else `RINGTRACK_DATASET`, else the workspace's
//! `../shared/data/datasets/breast_cancer.csv`. `RINGTRACK_EPOCHS` sets the number
//! of steps (default 300); `RINGTRACK_DIR` sets where the SDK puts the run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ringtrack::{ConfigValue, Run, Settings};

const DEFAULT_DATASET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/datasets/breast_cancer.csv"
);
const DEFAULT_EPOCHS: u64 = 300;
const LR: f64 = 0.1;
const L2: f64 = 1e-3;
const VAL_EVERY: usize = 5;

/// One row of the data set: 30 features and a 0.0/1.0 label.
struct Sample {
    x: Vec<f64>,
    y: f64,
}

/// Logistic regression weights, also used to hold a gradient.
struct Model {
    w: Vec<f64>,
    b: f64,
}

impl Model {
    fn zeros(dim: usize) -> Self {
        let w = vec![0.0; dim];
        Model { w, b: 0.0 }
    }
}

/// Bad input (data set, environment) exits with 2, an SDK failure with 1.
fn main() -> ExitCode {
    let path = dataset_path();
    let (epochs, data) = match epochs().and_then(|n| Ok((n, load(&path)?))) {
        Ok(input) => input,
        Err(err) => return fail(err, 2),
    };
    match fit(&path, epochs, data) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(err, 1),
    }
}

fn fail(err: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("train: {err}");
    ExitCode::from(code)
}

/// Fits the model for `epochs` steps, logging each one, then finishes the run.
fn fit(path: &Path, epochs: u64, data: Vec<Sample>) -> Result<(), ringtrack::Error> {
    let (mut train, mut val) = split(data);
    standardise(&mut train, &mut val);
    let dim = train[0].x.len();

    let model_config = ConfigValue::map([
        ("kind", ConfigValue::from("logistic_regression")),
        ("features", ConfigValue::from(dim as u64)),
        ("l2", ConfigValue::from(L2)),
    ]);
    let settings = Settings::new("breast-cancer-logreg")
        .run_name("logreg-gd")
        .config("model", model_config)
        .config("optimizer", "full_batch_gd")
        .config("lr", LR)
        .config("epochs", epochs)
        .config("dataset", file_name(path))
        .config("val_holdout_every_nth_row", VAL_EVERY as u64)
        .config("train_rows", train.len() as u64)
        .config("val_rows", val.len() as u64);
    let mut run = Run::init(settings)?;
    match log_training(&mut run, &train, &val, epochs) {
        Ok(curve) => {
            println!("run {} in {}", run.id(), run.dir().display());
            println!(
                "train/loss: first {:.4}, last {:.4} ({epochs} steps)",
                curve.first_loss, curve.last_loss
            );
            println!(
                "val/accuracy: final {:.4}, best {:.4}",
                curve.last_val_acc, curve.best_val_acc
            );
        }
        Err(err) => {
            // Record the run as failed rather than let `Drop` finish it as a success.
            let _ = run.finish_with(1, std::time::Duration::from_secs(60));
            return Err(err);
        }
    }
    let report = run.finish()?;
    println!("{report}");
    Ok(())
}

/// The figures of a finished training loop, for the closing lines.
struct Curve {
    first_loss: f64,
    last_loss: f64,
    last_val_acc: f64,
    best_val_acc: f64,
}

/// Trains for `epochs` steps, logging every one through `run`.
fn log_training(
    run: &mut Run,
    train: &[Sample],
    val: &[Sample],
    epochs: u64,
) -> Result<Curve, ringtrack::Error> {
    let dim = train[0].x.len();
    // Metric handles are resolved once; the loop below only logs values.
    let train_loss_m = run.metric("train/loss")?;
    let train_acc_m = run.metric("train/accuracy")?;
    let val_loss_m = run.metric("val/loss")?;
    let val_acc_m = run.metric("val/accuracy")?;
    let grad_norm_m = run.metric("grad_norm")?;
    let lr_m = run.metric("lr")?;

    let (mut model, mut grad) = (Model::zeros(dim), Model::zeros(dim));
    let (mut first_loss, mut last_loss) = (f64::NAN, f64::NAN);
    let (mut best_val_acc, mut last_val_acc) = (0.0_f64, 0.0_f64);
    for _ in 0..epochs {
        let train_loss = loss_and_grad(&model, train, L2, &mut grad);
        let train_acc = accuracy(&model, train);
        let val_loss = loss(&model, val);
        let val_acc = accuracy(&model, val);
        let step = run.log(&[
            (train_loss_m, train_loss),
            (train_acc_m, train_acc),
            (val_loss_m, val_loss),
            (val_acc_m, val_acc),
            (grad_norm_m, norm(&grad)),
            (lr_m, LR),
        ])?;
        if step == 0 {
            first_loss = train_loss;
        }
        last_loss = train_loss;
        last_val_acc = val_acc;
        best_val_acc = best_val_acc.max(val_acc);
        descend(&mut model, &grad, LR);
    }

    run.summary("best_val_accuracy", best_val_acc)?;
    run.summary("final_train_loss", last_loss)?;
    Ok(Curve {
        first_loss,
        last_loss,
        last_val_acc,
        best_val_acc,
    })
}

/// First command-line argument, else `RINGTRACK_DATASET`, else the shared copy.
fn dataset_path() -> PathBuf {
    std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("RINGTRACK_DATASET").filter(|v| !v.is_empty()))
        .map_or_else(|| PathBuf::from(DEFAULT_DATASET), PathBuf::from)
}

/// Number of gradient steps from `RINGTRACK_EPOCHS` (default 300, at least 1).
fn epochs() -> Result<u64, String> {
    let raw = match std::env::var("RINGTRACK_EPOCHS") {
        Err(std::env::VarError::NotPresent) => return Ok(DEFAULT_EPOCHS),
        Err(err) => return Err(format!("RINGTRACK_EPOCHS: {err}")),
        Ok(raw) => raw,
    };
    let epochs = raw.trim().parse().ok().filter(|&n| n > 0);
    epochs.ok_or_else(|| format!("RINGTRACK_EPOCHS={raw:?}: expected a number >= 1"))
}

/// Reads the CSV: a header `rows,features,name0,name1`, then one row per line.
fn load(path: &Path) -> Result<Vec<Sample>, String> {
    let file = path.display();
    let bad = |line: usize, msg: String| format!("{file}:{line}: {msg}");
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read data set {file}: {e}"))?;
    let numbered = text.lines().zip(1..);
    let mut lines = numbered.filter(|(line, _)| !line.trim().is_empty());
    let (header, at) = lines.next().unwrap_or(("", 1));
    let (rows, dim) = parse_header(header).map_err(|msg| bad(at, msg))?;
    let data = lines
        .map(|(line, n)| parse_row(line, dim).map_err(|msg| bad(n, msg)))
        .collect::<Result<Vec<_>, _>>()?;
    if data.len() != rows {
        let msg = format!("header says {rows} rows, found {}", data.len());
        return Err(bad(at, msg));
    }
    if rows < VAL_EVERY {
        let msg =
            format!("{rows} rows, need at least {VAL_EVERY} to hold out validation");
        return Err(bad(at, msg));
    }
    Ok(data)
}

/// `rows,features,name0,name1` -> (rows, features), both at least 1.
fn parse_header(line: &str) -> Result<(usize, usize), String> {
    let head: Vec<&str> = line.split(',').map(str::trim).collect();
    let counts = match head.as_slice() {
        [r, d, _, _] => r.parse::<usize>().ok().zip(d.parse::<usize>().ok()),
        _ => None,
    };
    let valid = counts.filter(|&(r, d)| r > 0 && d > 0);
    valid.ok_or_else(|| format!("expected `rows,features,name0,name1`, found {line:?}"))
}

/// Parses one `feature,...,feature,label` line; the label must be 0 or 1.
fn parse_row(line: &str, dim: usize) -> Result<Sample, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != dim + 1 {
        let found = fields.len();
        return Err(format!("expected {} fields, found {found}", dim + 1));
    }
    let mut x = Vec::with_capacity(dim);
    for (col, field) in fields[..dim].iter().enumerate() {
        match field.parse::<f64>() {
            Ok(v) if v.is_finite() => x.push(v),
            _ => return Err(format!("field {}: {field:?} is not a number", col + 1)),
        }
    }
    let y = match fields[dim] {
        "0" => 0.0,
        "1" => 1.0,
        label => return Err(format!("label {label:?} is not 0 or 1")),
    };
    Ok(Sample { x, y })
}

/// Deterministic split: every `VAL_EVERY`-th row goes to validation.
fn split(data: Vec<Sample>) -> (Vec<Sample>, Vec<Sample>) {
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (i, sample) in data.into_iter().enumerate() {
        let is_val = i % VAL_EVERY == VAL_EVERY - 1;
        (if is_val { &mut val } else { &mut train }).push(sample);
    }
    (train, val)
}

/// Scales every feature to zero mean and unit variance, using training statistics.
fn standardise(train: &mut [Sample], val: &mut [Sample]) {
    let (n, dim) = (train.len() as f64, train[0].x.len());
    let (mut mean, mut scale) = (vec![0.0; dim], vec![0.0; dim]);
    for s in train.iter() {
        for (m, v) in mean.iter_mut().zip(&s.x) {
            *m += v / n;
        }
    }
    for s in train.iter() {
        for ((var, v), m) in scale.iter_mut().zip(&s.x).zip(&mean) {
            *var += (v - m) * (v - m) / n;
        }
    }
    for sd in &mut scale {
        // A constant feature would divide by zero; leave its scale alone.
        *sd = if *sd > 0.0 { sd.sqrt() } else { 1.0 };
    }
    for s in train.iter_mut().chain(val.iter_mut()) {
        for ((v, m), sd) in s.x.iter_mut().zip(&mean).zip(&scale) {
            *v = (*v - m) / sd;
        }
    }
}

fn logit(model: &Model, x: &[f64]) -> f64 {
    model.b + model.w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Probability that the sample is benign (label 1).
fn predict(model: &Model, x: &[f64]) -> f64 {
    sigmoid(logit(model, x))
}

/// Cross-entropy of label `y` given logit `z`, stable for large |z|.
fn cross_entropy(z: f64, y: f64) -> f64 {
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// Mean cross-entropy over the samples.
fn loss(model: &Model, data: &[Sample]) -> f64 {
    let per_sample = |s: &Sample| cross_entropy(logit(model, &s.x), s.y);
    data.iter().map(per_sample).sum::<f64>() / data.len() as f64
}

/// Mean cross-entropy; writes the gradient of (mean cross-entropy + l2/2 * |w|^2)
/// into `grad`.
fn loss_and_grad(model: &Model, data: &[Sample], l2: f64, grad: &mut Model) -> f64 {
    let n = data.len() as f64;
    for (g, w) in grad.w.iter_mut().zip(&model.w) {
        *g = l2 * w;
    }
    grad.b = 0.0;
    let mut total = 0.0;
    for s in data {
        let z = logit(model, &s.x);
        total += cross_entropy(z, s.y);
        let err = (sigmoid(z) - s.y) / n;
        for (g, x) in grad.w.iter_mut().zip(&s.x) {
            *g += err * x;
        }
        grad.b += err;
    }
    total / n
}

/// Share of samples whose predicted class (probability >= 0.5) matches the label.
fn accuracy(model: &Model, data: &[Sample]) -> f64 {
    let correct = |s: &&Sample| (predict(model, &s.x) >= 0.5) == (s.y == 1.0);
    data.iter().filter(correct).count() as f64 / data.len() as f64
}

fn norm(grad: &Model) -> f64 {
    (grad.b * grad.b + grad.w.iter().map(|g| g * g).sum::<f64>()).sqrt()
}

fn descend(model: &mut Model, grad: &Model, lr: f64) {
    for (w, g) in model.w.iter_mut().zip(&grad.w) {
        *w -= lr * g;
    }
    model.b -= lr * grad.b;
}

/// The data set's file name, for the config (its full path says nothing
/// about the run and differs between machines).
fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
