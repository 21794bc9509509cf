//! Training of the person tagger (`tagger.rs`): an averaged perceptron over the same features and
//! the same greedy decoding the scanner uses, so training and tagging cannot drift apart.
//! Deterministic: documents are visited in an order shuffled by a fixed seed.
//!
//! Run: `cargo test --test it pii_train -- --ignored` (reads the development data, writes
//! `src/pii/model/person_tagger.bin`).

use super::canonical::Canonical;
use super::context::Context;
use super::tagger::{self, Weights, B, BUCKETS, CLASSES, I, O};

/// One training text with its PERSON spans in char offsets (as the corpora store them).
pub struct Example {
    pub text: String,
    pub persons: Vec<(usize, usize)>,
}

/// Gold tag per token from byte spans.
fn gold_tags(toks: &[tagger::Tok], spans: &[(usize, usize)]) -> Vec<u8> {
    toks.iter()
        .map(|t| match spans.iter().find(|&&(s, e)| t.start >= s && t.end <= e) {
            Some(&(s, _)) if t.start == s => B,
            Some(_) => I,
            None => O,
        })
        .collect()
}

/// Char offsets to byte offsets in `text`.
fn byte_spans(text: &str, spans: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let offsets: Vec<usize> = text.char_indices().map(|(b, _)| b).chain([text.len()]).collect();
    spans.iter().filter_map(|&(s, e)| Some((*offsets.get(s)?, *offsets.get(e)?))).collect()
}

/// Dense float weights with the averaging accumulators.
struct Averaged {
    w: Vec<[f32; CLASSES]>,
    acc: Vec<[f32; CLASSES]>,
    step: f32,
}

impl Averaged {
    fn score(&self, feats: &[u64]) -> [f32; CLASSES] {
        let mut s = [0f32; CLASSES];
        for &f in feats {
            let row = &self.w[tagger::bucket(f)];
            for c in 0..CLASSES {
                s[c] += row[c];
            }
        }
        s
    }

    fn update(&mut self, feats: &[u64], class: u8, delta: f32) {
        for &f in feats {
            let b = tagger::bucket(f);
            self.w[b][class as usize] += delta;
            self.acc[b][class as usize] += self.step * delta;
        }
    }

    /// The averaged weights, quantised to i16.
    fn finish(&self) -> Weights {
        let avg: Vec<[f32; CLASSES]> =
            self.w.iter().zip(&self.acc).map(|(w, a)| std::array::from_fn(|c| w[c] - a[c] / self.step)).collect();
        let max = avg.iter().flatten().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        let scale = 32_000.0 / max;
        let table = avg.iter().map(|r| std::array::from_fn(|c| (r[c] * scale).round() as i16)).collect();
        Weights { table }
    }
}

/// A small deterministic generator for the visiting order (xorshift).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

fn float_best(s: [f32; CLASSES], prev: u8) -> u8 {
    let mut best = O;
    for c in [B, I] {
        if (c != I || prev != O) && s[c as usize] > s[best as usize] {
            best = c;
        }
    }
    best
}

/// Train for `epochs` passes; returns the quantised averaged weights and the token error rate of
/// each pass (on the training data, as it goes).
pub fn train(examples: &[Example], epochs: usize, seed: u64) -> (Weights, Vec<f64>) {
    let mut model = Averaged { w: vec![[0.0; CLASSES]; BUCKETS], acc: vec![[0.0; CLASSES]; BUCKETS], step: 1.0 };
    let prepared: Vec<(String, Vec<(usize, usize)>)> = examples
        .iter()
        .filter_map(|e| {
            let canonical = Canonical::new(&e.text);
            // Texts the scanning form changes would need their spans mapped: rare, left out.
            canonical.is_identity().then(|| (e.text.clone(), byte_spans(&e.text, &e.persons)))
        })
        .collect();
    let mut order: Vec<usize> = (0..prepared.len()).collect();
    let mut errors = Vec::new();
    for epoch in 0..epochs {
        shuffle(&mut order, seed.wrapping_add(epoch as u64 * 7919));
        let (mut wrong, mut seen) = (0usize, 0usize);
        for &k in &order {
            let (text, spans) = &prepared[k];
            let ctx = Context::new(text);
            let toks = tagger::tokenize(&ctx);
            let gold = gold_tags(&toks, spans);
            // Every other visit without gazetteers (which half changes with the epoch).
            let gazetteers = (k + epoch) % 2 == 0;
            let step = |i: usize, feats: &[u64], prev| {
                let pred = float_best(model.score(feats), prev);
                // A name's later token after a missed first one starts the name for the decoder.
                let want = if gold[i] == I && prev == O { B } else { gold[i] };
                seen += 1;
                if pred != want {
                    wrong += 1;
                    model.update(feats, want, 1.0);
                    model.update(feats, pred, -1.0);
                }
                model.step += 1.0;
                pred
            };
            tagger::decode(&ctx, gazetteers, step, |_, _| {});
        }
        errors.push(wrong as f64 / seen.max(1) as f64);
    }
    (model.finish(), errors)
}
