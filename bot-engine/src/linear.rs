//! What the engine's two linear text models share: hashed features,
//! logistic regression fitted by AdaGrad in a seeded order, and the seeded
//! generator behind that order (and behind fine-tuning's dropout).
//!
//! The spam model ([`crate::spam`]) and the red-flag model
//! ([`crate::urgency`]) differ in what they hash, not in how they hash or
//! learn; one copy keeps their training deterministic in the same way.

use crate::redflag::fold;

/// FNV-1a over `namespace`, a zero byte and `bytes`: one hash space per
/// kind of feature.
pub(crate) fn fnv1a(namespace: &[u8], bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in namespace.iter().chain([0u8].iter()).chain(bytes) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64's finaliser: FNV's low bits alone are poorly mixed.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `s` hashed into one of 2^`bits` buckets, in `namespace`'s space.
pub(crate) fn bucket(namespace: &[u8], s: &str, bits: u32) -> u32 {
    (mix(fnv1a(namespace, s.as_bytes())) & ((1u64 << bits) - 1)) as u32
}

/// Buckets as features: each once, with the value that makes the vector
/// unit length, so a long message does not score high for its length alone.
pub(crate) fn unit_features(mut buckets: Vec<u32>) -> Vec<(u32, f32)> {
    buckets.sort_unstable();
    buckets.dedup();
    let v = 1.0 / (buckets.len().max(1) as f32).sqrt();
    buckets.into_iter().map(|b| (b, v)).collect()
}

/// The hashed features of `text` the red-flag model and the intents'
/// lexical head read: folded words, word pairs and character 2- to 5-grams
/// inside words, each bucket once, L2-normalised.
pub(crate) fn text_features(text: &str, bits: u32) -> Vec<(u32, f32)> {
    let folded = fold(text);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect();
    let mut buckets: Vec<u32> = Vec::with_capacity(folded.len() * 5);
    let mut add = |ns: &[u8], s: &str| buckets.push(bucket(ns, s, bits));
    for w in &words {
        add(b"w", w);
    }
    for pair in words.windows(2) {
        add(b"b", &format!("{} {}", pair[0], pair[1]));
    }
    let mut gram = String::new();
    for w in &words {
        let chars: Vec<char> = std::iter::once(' ').chain(w.chars()).chain([' ']).collect();
        for n in 2..=5 {
            for window in chars.windows(n) {
                gram.clear();
                gram.extend(window);
                add(b"c", &gram);
            }
        }
    }
    unit_features(buckets)
}

pub(crate) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

pub(crate) fn logit(bias: f32, weights: &[f32], x: &[(u32, f32)]) -> f32 {
    bias + x.iter().map(|&(i, v)| weights[i as usize] * v).sum::<f32>()
}

/// SplitMix64: a seeded source of shuffles (and of fine-tuning's dropout
/// masks, `tune.rs`).
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Fisher-Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// One training example: its features, its label, and how much it counts.
pub(crate) struct Sample<'a> {
    pub x: &'a [(u32, f32)],
    pub label: bool,
    pub weight: f32,
}

/// How a logistic regression is fitted.
pub(crate) struct Fit {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub seed: u64,
}

/// Logistic regression by AdaGrad over `size` weights, the examples in a
/// fresh seeded order each epoch; returns the bias and the weights.
pub(crate) fn fit_logistic(data: &[Sample], size: usize, o: &Fit) -> (f32, Vec<f32>) {
    let mut w = vec![0f32; size];
    let mut g2 = vec![0f32; size];
    let (mut bias, mut bias_g2) = (0f32, 0f32);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut rng = SplitMix(o.seed);
    for _ in 0..o.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let Sample { x, label, weight } = data[i];
            let p = sigmoid(logit(bias, &w, x));
            let err = (p - if label { 1.0 } else { 0.0 }) * weight;
            for &(j, v) in x {
                let j = j as usize;
                let g = err * v + o.l2 * w[j];
                g2[j] += g * g;
                w[j] -= o.learning_rate * g / (g2[j].sqrt() + 1e-8);
            }
            bias_g2 += err * err;
            bias -= o.learning_rate * err / (bias_g2.sqrt() + 1e-8);
        }
    }
    (bias, w)
}
