//! The verifier crate (`crates/auditlog`) stands alone: an auditor builds it without the gateway's
//! HTTP stack, async runtime or PII engine. Checked on Cargo.lock, which lists every dependency a
//! package can pull in (a superset of what any feature set builds), so nothing is missed; the
//! walk leaves out only the crate's optional dependencies (the `postgres` feature, which brings
//! the PostgreSQL client and the runtime it drives), which the default build does not have.

use std::collections::{BTreeSet, HashMap};

/// Crates that belong to the gateway, never to the verifier.
const GATEWAY_ONLY: &[&str] = &[
    "axum",
    "tokio",
    "reqwest",
    "hyper",
    "tower",
    "regex",
    "aho-corasick",
    "unicode-normalization",
    "unicode-security",
    "auditgate",
];

fn lock_graph() -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).expect("Cargo.lock");
    let lock: toml::Value = text.parse().expect("Cargo.lock is TOML");
    let mut graph = HashMap::new();
    for p in lock["package"].as_array().expect("packages") {
        let name = p["name"].as_str().unwrap().to_string();
        let deps = p.get("dependencies").and_then(|d| d.as_array()).cloned().unwrap_or_default();
        // An entry is "name" or "name version" when several versions are locked.
        let deps = deps.iter().filter_map(|d| d.as_str()?.split(' ').next().map(str::to_string));
        graph.entry(name).or_insert_with(Vec::new).extend(deps);
    }
    graph
}

#[test]
fn the_verifier_crate_pulls_in_nothing_of_the_gateway() {
    let graph = lock_graph();
    let optional = optional_deps();
    assert!(optional.contains("postgres"), "the PostgreSQL client is behind a feature: {optional:?}");
    let mut seen = BTreeSet::from(["auditlog".to_string()]);
    let mut todo: Vec<String> = graph["auditlog"].iter().filter(|d| !optional.contains(*d)).cloned().collect();
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(graph.get(&name).cloned().unwrap_or_default());
        }
    }
    assert!(seen.contains("rusqlite") && seen.contains("signed_note"), "the walk found the verifier's own deps");
    let found: Vec<&&str> = GATEWAY_ONLY.iter().filter(|n| seen.contains(**n)).collect();
    assert!(found.is_empty(), "auditlog depends on gateway crates: {found:?}");
    // And the gateway uses the crate rather than a copy of the format.
    assert!(graph["auditgate"].iter().any(|d| d == "auditlog"));
}

/// The dependencies of crates/auditlog marked `optional = true` (each behind a feature).
fn optional_deps() -> BTreeSet<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crates/auditlog/Cargo.toml")).unwrap();
    let manifest: toml::Value = text.parse().expect("Cargo.toml is TOML");
    let deps = manifest["dependencies"].as_table().expect("dependencies");
    deps.iter()
        .filter(|(_, d)| d.get("optional").and_then(|o| o.as_bool()) == Some(true))
        .map(|(n, _)| n.clone())
        .collect()
}
