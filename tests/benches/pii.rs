//! Criterion benchmarks for the PII scanner (placeholder until the scanner lands).
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    c.bench_function("scan_empty", |b| b.iter(|| auditgate::pii::scan_text("")));
}

criterion_group!(benches, bench);
criterion_main!(benches);
