//! Criterion benchmarks for the PII scanner: throughput on mixed multilingual prose (the labeled
//! corpus interleaved with PII-free paragraphs), on PII-free prose, and the classification of a
//! typical 2 KB chat request, scanned afresh and seen before; and issue 19's two cases, every
//! labeled corpus concatenated to 1 MiB (PII-dense) and the README and docs repeated to 1 MiB
//! (PII-free Markdown). Run: `cargo bench --bench pii`. With `PII_BENCH_INPUTS=DIR` set, the two
//! issue-19 inputs are also written to `DIR/dense.txt` and `DIR/prose.txt`, so that the CLI
//! (`auditgate pii scan --json < DIR/dense.txt`) is measured on exactly the same bytes.

use auditgate::pii::{classify_chat_for_key, forget_recent_scans, scan_text, warm_up};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};

const CORPUS: &str = include_str!("../pii_corpus/corpus.jsonl");

/// Every labeled corpus of the project (issue 19's PII-dense case: about 22,000 findings per MiB).
const CORPORA: &[&str] = &[
    CORPUS,
    include_str!("../pii_corpus/heldout.jsonl"),
    include_str!("../pii_corpus/faker_dev.jsonl"),
    include_str!("../pii_corpus/faker_heldout.jsonl"),
    include_str!("../pii_corpus/faker_train.jsonl"),
];

/// The project's own prose (issue 19's PII-free case): the README and the docs, Markdown with
/// tables, code and numbers.
const DOCS: &[&str] =
    &[include_str!("../../README.md"), include_str!("../../docs/pii.md"), include_str!("../../docs/performance.md")];

const PROSE: &[&str] = &[
    "Die Jahresrechnung wurde vom Verwaltungsrat genehmigt. Der Umsatz stieg im Berichtsjahr um 4.2 Prozent, \
     die Marge blieb stabil. Für das kommende Jahr erwarten wir eine moderate Entwicklung der Nachfrage. ",
    "Le conseil d'administration a approuvé les comptes annuels. Les charges de personnel ont augmenté \
     de 3 % en raison des nouvelles embauches, tandis que les produits financiers sont restés stables. ",
    "Il consiglio di amministrazione ha approvato il bilancio. I costi operativi sono diminuiti grazie \
     alla digitalizzazione dei processi contabili e alla riduzione degli spazi in affitto. ",
    "The board approved the annual accounts. Operating costs decreased thanks to the digitisation of \
     bookkeeping, and the team closed 1,250 client files within the statutory deadlines. ",
];

/// About `target` bytes of text: corpus snippets interleaved with PII-free paragraphs.
fn mixed_prose(target: usize) -> String {
    let snippets: Vec<String> = CORPUS
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    let mut out = String::with_capacity(target + 4096);
    let mut i = 0;
    while out.len() < target {
        out.push_str(&snippets[i % snippets.len()]);
        out.push_str("\n\n");
        for p in PROSE {
            out.push_str(p);
        }
        out.push_str("\n\n");
        i += 1;
    }
    out
}

/// The texts of every corpus concatenated (blank line between), repeated up to `target` bytes.
fn corpora_dense(target: usize) -> String {
    let texts: Vec<String> = CORPORA
        .iter()
        .flat_map(|c| c.lines())
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    repeat_to(&texts.join("\n\n"), target)
}

/// README and docs repeated up to `target` bytes.
fn docs_prose(target: usize) -> String {
    repeat_to(&DOCS.join("\n"), target)
}

/// `unit` repeated, cut to at most `target` bytes at a char boundary.
fn repeat_to(unit: &str, target: usize) -> String {
    let mut out = String::with_capacity(target + unit.len());
    while out.len() < target {
        out.push_str(unit);
        out.push_str("\n\n");
    }
    let mut end = target.min(out.len());
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out
}

fn clean_prose(target: usize) -> String {
    let mut out = String::with_capacity(target + 1024);
    while out.len() < target {
        for p in PROSE {
            out.push_str(p);
        }
    }
    out
}

/// A typical 2 KB request: system prompt, a short history and a user message with PII.
fn chat_request() -> Value {
    json!({
        "model": "openai/gpt-4o-mini",
        "user": "team-fiduciary-07",
        "messages": [
            {"role": "system", "content": "Du bist ein Assistent für eine Treuhandfirma in Zürich. Antworte präzise, auf Deutsch, \
              und halte dich an die Vorgaben des Mandats. Erfinde keine Zahlen und verweise bei Unsicherheiten auf die \
              zuständige Sachbearbeiterin. Formatiere Beträge in CHF mit Apostroph als Tausendertrennzeichen."},
            {"role": "user", "content": "Kannst du mir helfen, einen Brief an einen Mandanten zu schreiben? Es geht um die \
              Steuererklärung 2024 und fehlende Belege für die Liegenschaftskosten."},
            {"role": "assistant", "content": "Gerne. Nennen Sie mir bitte den Namen des Mandanten, die fehlenden Belege und \
              bis wann sie eingereicht werden müssen. Soll der Brief formell oder eher persönlich formuliert sein?"},
            {"role": "user", "content": "Formell. Mandant: Herr Reto Gnägi, Seestrasse 118, 8002 Zürich, AHV 756.9217.0769.85. \
              Es fehlen die Rechnungen der Fassadenrenovation (ca. CHF 48'500.00) und der Heizungsersatz. Frist ist der \
              31.03.2025. Die Rückerstattung soll auf sein Konto CH93 0076 2011 6238 5295 7 gehen. Er ist erreichbar unter \
              079 123 45 67 oder reto.gnaegi@bluewin.ch. Bitte erwähne auch, dass die Unterlagen per Post an unsere Adresse \
              geschickt werden können und dass wir bei Fragen gerne telefonisch zur Verfügung stehen. Danke!"},
            {"role": "assistant", "content": "Verstanden. Hier ist ein Entwurf für den Brief an Herrn Gnägi. Ich habe die \
              Frist, die fehlenden Belege und die Kontaktmöglichkeiten aufgenommen und einen höflichen, formellen Ton gewählt."},
            {"role": "user", "content": "Super, bitte noch einen Satz ergänzen, dass die Belege auch digital über unser \
              Kundenportal hochgeladen werden können, und den Brief mit freundlichen Grüssen von Sandra Keller abschliessen."}
        ]
    })
}

fn bench(c: &mut Criterion) {
    warm_up();
    let mixed = mixed_prose(1 << 20);
    let clean = clean_prose(1 << 20);
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(mixed.len() as u64));
    g.bench_function("mixed_prose_1MiB", |b| b.iter(|| scan_text(black_box(&mixed))));
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("clean_prose_1MiB", |b| b.iter(|| scan_text(black_box(&clean))));
    // Issue 19's two cases: the corpora (PII-dense) and the README and docs (PII-free Markdown).
    let dense = corpora_dense(1 << 20);
    let docs = docs_prose(1 << 20);
    if let Some(dir) = std::env::var_os("PII_BENCH_INPUTS") {
        let dir = std::path::PathBuf::from(dir);
        for (name, text) in [("dense.txt", &dense), ("prose.txt", &docs)] {
            std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
        }
    }
    g.throughput(Throughput::Bytes(dense.len() as u64));
    g.bench_function("corpora_dense_1MiB", |b| b.iter(|| scan_text(black_box(&dense))));
    g.throughput(Throughput::Bytes(docs.len() as u64));
    g.bench_function("docs_prose_1MiB", |b| b.iter(|| scan_text(black_box(&docs))));
    g.finish();

    let body = chat_request();
    let size = serde_json::to_string(&body).map(|s| s.len()).unwrap_or(0);
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Bytes(size as u64));
    // Every text scanned (the gateway's first sight of a conversation).
    g.bench_function(format!("chat_request_{size}B"), |b| {
        b.iter_batched(
            forget_recent_scans,
            |_| classify_chat_for_key(black_box(&body), "key-1"),
            BatchSize::PerIteration,
        )
    });
    // The same request again: its texts' scans are remembered (the next turn of a chat resends them).
    g.bench_function(format!("chat_request_{size}B_seen_before"), |b| {
        b.iter(|| classify_chat_for_key(black_box(&body), "key-1"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
