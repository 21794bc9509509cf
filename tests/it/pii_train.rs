//! Training of the person tagger (src/pii/tagger_train.rs), reproducible: the same data, seed and
//! epochs give the same weights file. Run `cargo test --test it pii_train -- --ignored` to write
//! src/pii/model/person_tagger.bin from the development data (never from a held-out set).

use auditgate::pii::tagger_train::{train, Example};
use serde_json::Value;

/// The training data: the Faker development set and the hand-written corpus. The held-out sets
/// (heldout.jsonl, faker_heldout.jsonl) are never read here.
const TRAINING_FILES: &[&str] = &["faker_dev.jsonl", "faker_train.jsonl", "corpus.jsonl"];
const EPOCHS: usize = 8;
const SEED: u64 = 19;

fn examples() -> Vec<Example> {
    load(TRAINING_FILES, |_| true)
}

/// The examples of `files` whose template index passes `keep` (files without one always pass).
fn load(files: &[&str], keep: impl Fn(u64) -> bool) -> Vec<Example> {
    let mut out = Vec::new();
    for file in files {
        let path = format!("{}/tests/pii_corpus/{file}", env!("CARGO_MANIFEST_DIR"));
        let Ok(data) = std::fs::read_to_string(&path) else { continue };
        for line in data.lines().filter(|l| !l.trim().is_empty()) {
            let doc: Value = serde_json::from_str(line).expect("valid jsonl");
            if doc["template"].as_u64().is_some_and(|t| !keep(t)) {
                continue;
            }
            let persons = doc["entities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["type"] == "PERSON")
                .map(|e| (e["start"].as_u64().unwrap_or(0) as usize, e["end"].as_u64().unwrap_or(0) as usize))
                .collect();
            out.push(Example { text: doc["text"].as_str().unwrap_or_default().to_string(), persons });
        }
    }
    out
}

#[test]
#[ignore = "writes the shipped weights; run by hand after changing features or data"]
fn train_person_tagger() {
    let examples = examples();
    let (weights, errors) = train(&examples, EPOCHS, SEED);
    println!("{} examples; token error rate per epoch: {errors:.4?}", examples.len());
    let path = format!("{}/src/pii/model/person_tagger.bin", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(&path, weights.to_bytes()).expect("weights written");
}

#[test]
fn training_is_deterministic_and_learns() {
    let small: Vec<Example> = examples().into_iter().take(120).collect();
    let (a, errors) = train(&small, 3, SEED);
    let (b, _) = train(&small, 3, SEED);
    assert_eq!(a.to_bytes(), b.to_bytes(), "same data and seed, same weights");
    assert!(errors.last() < errors.first(), "training error falls: {errors:?}");
}

/// Tuning aid: train on the even-numbered development templates and measure the tagger alone on
/// renderings of the odd-numbered ones (contexts it has not seen). Prints exact-span P/R/F1.
#[test]
#[ignore = "tuning aid, prints figures"]
fn cross_template_validation() {
    use auditgate::pii::{context::Context, tagger};
    let train_set = load(&["faker_train.jsonl", "corpus.jsonl"], |t| t % 2 == 0);
    let (weights, _) = train(&train_set, EPOCHS, SEED);
    let valid = load(&["faker_dev.jsonl"], |t| t % 2 == 1);
    for gazetteers in [true, false] {
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for e in &valid {
            let ctx = Context::new(&e.text);
            let to_chars = |b: usize| e.text[..b].chars().count();
            let found: Vec<(usize, usize)> = tagger::spans(&weights, &ctx, gazetteers)
                .into_iter()
                .map(|(s, e)| (to_chars(s), to_chars(e)))
                .collect();
            let hit = found.iter().filter(|f| e.persons.contains(f)).count();
            for f in found.iter().filter(|f| !e.persons.contains(f)) {
                println!("FP {:?}", e.text.chars().skip(f.0).take(f.1 - f.0).collect::<String>());
            }
            for g in e.persons.iter().filter(|g| !found.contains(g)) {
                println!("FN {:?}", e.text.chars().skip(g.0).take(g.1 - g.0).collect::<String>());
            }
            tp += hit;
            fp += found.len() - hit;
            fn_ += e.persons.len() - hit;
        }
        let (p, r) = (tp as f64 / (tp + fp).max(1) as f64, tp as f64 / (tp + fn_).max(1) as f64);
        println!(
            "cross-template, gazetteers {gazetteers}: tp {tp} fp {fp} fn {fn_}  P {p:.3} R {r:.3} F1 {:.3}",
            2.0 * p * r / (p + r).max(1e-9)
        );
    }
}
