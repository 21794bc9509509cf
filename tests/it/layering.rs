//! The request path reads one way (docs/architecture.md): no file of `src/api/` imports, directly
//! or through others, a file that imports it; and `config`, `routing`, `providers` and
//! `accounting` never import each other back. Read from the source, so a new back-import fails
//! here instead of in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Code only: line comments dropped, so a doc comment naming a module is no import.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let code: Vec<&str> = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect();
    let code = code.join("\n");
    // Unit tests may reach anywhere; they are not part of the path.
    match code.find("#[cfg(test)]\nmod tests") {
        Some(at) => code[..at].to_string(),
        None => code,
    }
}

/// Names `prefix` is followed by in `code`, braces expanded one level (`super::{a, b::C}`).
fn referenced(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let list = &list[..list.find('}').unwrap_or(list.len())];
            for item in list.split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                names.insert(name);
            }
        } else {
            names.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// The first cycle in `graph`, as a path that returns to its start.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

/// Which `src/api/` file each name re-exported by `api/mod.rs` comes from (`pub use state::AppState`).
fn reexports(mod_rs: &str, files: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in mod_rs.lines().filter(|l| l.trim_start().starts_with("pub use ")) {
        let path = line.trim_start().trim_start_matches("pub use ").trim_end_matches(';');
        let Some((module, items)) = path.split_once("::") else { continue };
        if !files.contains(module) {
            continue;
        }
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            map.insert(item.trim().to_string(), module.to_string());
        }
    }
    map
}

#[test]
fn the_request_path_in_api_has_no_circle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".rs").map(str::to_string))
        .filter(|f| f != "mod")
        .collect();
    let via_mod = reexports(&code_of(&dir.join("mod.rs")), &files);
    let mut graph = BTreeMap::new();
    for file in &files {
        let code = code_of(&dir.join(format!("{file}.rs")));
        let mut uses: BTreeSet<String> = referenced(&code, "super::")
            .into_iter()
            .chain(referenced(&code, "crate::api::"))
            .filter_map(|name| if files.contains(&name) { Some(name) } else { via_mod.get(&name).cloned() })
            .collect();
        uses.remove(file);
        graph.insert(file.clone(), uses);
    }
    assert!(graph.len() >= 10, "src/api/ files not found: {graph:?}");
    assert!(graph["admission"].contains("record"), "the reader missed a known import: {graph:?}");
    if let Some(found) = cycle(&graph) {
        panic!("src/api/ imports in a circle: {}", found.join(" -> "));
    }
}

#[test]
fn config_routing_providers_and_accounting_do_not_import_each_other_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = ["config", "routing", "providers", "accounting"];
    let mut graph = BTreeMap::new();
    for layer in layers {
        let mut code = String::new();
        let single = src.join(format!("{layer}.rs"));
        if single.exists() {
            code.push_str(&code_of(&single));
        }
        let dir = src.join(layer);
        for entry in walk(&dir) {
            code.push_str(&code_of(&entry));
        }
        let uses: BTreeSet<String> =
            referenced(&code, "crate::").into_iter().filter(|m| layers.contains(&m.as_str()) && m != layer).collect();
        graph.insert(layer.to_string(), uses);
    }
    assert!(graph["providers"].contains("config"), "the reader missed a known import: {graph:?}");
    if let Some(found) = cycle(&graph) {
        panic!("modules import each other back: {}", found.join(" -> "));
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}
