//! What the test trainer logs at each step, as a pure function of the step
//! and a seed, so a test can check every durable row against it without
//! the trainer telling it anything but which steps `log` returned from.
//!
//! With a seed, rows vary in size: a step's row holds 1 to `metrics` float
//! values and, on most steps, a text value of up to 600 bytes. In a 64 KiB
//! ring that makes records of 40 to about 800 bytes, so the ring wraps every
//! few hundred rows at a different offset each time.

use ringtrack::Value;

/// Longest text value a varied row carries.
pub const MAX_TEXT: usize = 600;

/// A small, fast, seeded generator (SplitMix64): the same seed gives the same
/// sequence on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The metric names a trainer with `metrics` metrics defines, in order.
pub fn metric_names(metrics: usize) -> Vec<String> {
    (0..metrics).map(|i| format!("m{i}")).collect()
}

/// The value of metric `index` at `step`.
pub fn value_at(step: u64, index: usize) -> f64 {
    (step * 1000 + index as u64) as f64
}

/// The named values of the row at `step`: all `metrics` values when `seed`
/// is `None`, else a seeded variety of sizes (see the module docs).
pub fn row_values(step: u64, metrics: usize, seed: Option<u64>) -> Vec<(String, Value)> {
    let names = metric_names(metrics);
    let Some(seed) = seed else {
        return names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, Value::F64(value_at(step, i))))
            .collect();
    };
    let mut rng = Rng::new(seed ^ step.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let count = 1 + rng.below(metrics as u64) as usize;
    let mut values: Vec<(String, Value)> = names
        .into_iter()
        .take(count)
        .enumerate()
        .map(|(i, n)| (n, Value::F64(value_at(step, i))))
        .collect();
    if rng.below(4) != 0 {
        let len = rng.below(MAX_TEXT as u64 + 1) as usize;
        let text: String = (0..len)
            .map(|i| char::from(b'a' + ((step as usize + i) % 26) as u8))
            .collect();
        values.push(("text".to_owned(), Value::Text(text)));
    }
    values
}
