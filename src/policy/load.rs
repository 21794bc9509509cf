//! Loading: find the policy files, parse them, validate every rule and test, and build a [`Policy`].
//!
//! Every problem becomes a [`Diagnostic`] at the exact `FILE:LINE:COL` (1-based, columns counted in
//! characters) of the offending value; all problems of all files are collected before giving up.
//! A TOML syntax error or an unknown key stops the checks of that one file (the parser cannot go
//! on past it), the other files are still checked.

use super::eval::{Action, Glob, Matcher, Rule, SourcePos};
use super::format::{unknown_keys, RawFile, RawMatch, RawRedact, RawRoute, RawRule, StrList, Tree, FILE_SCHEMA};
use super::vocab;
use super::{Diagnostic, FileMeta, Policy, PolicyTest, RedactAction, RedactOperator, RouteConstraints};
use crate::pii::Level;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The result of one load attempt, with the hash of every file read even when it failed (so a
/// rejected reload can be recorded in the audit log with what was on disk).
#[derive(Debug)]
pub struct LoadReport {
    pub policy: Result<Policy, Vec<Diagnostic>>,
    /// File name -> hex SHA-256 of its bytes.
    pub files: BTreeMap<String, String>,
}

/// Positions and diagnostics for one file being checked.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    fn new(file: &'a Path, text: &'a str) -> Self {
        Ctx { file, text, diags: Vec::new() }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn pos(&self, offset: usize) -> SourcePos {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        SourcePos { file: self.file.to_path_buf(), line, col }
    }

    pub fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        let p = self.pos(span.start);
        self.diags.push(Diagnostic { file: p.file, line: p.line, col: p.col, message: message.into() });
    }

    /// Check each entry of a list with `check` (which returns the normalised word or an error);
    /// an empty list is an error because the condition could never hold.
    pub fn words(
        &mut self,
        list: &Spanned<StrList>,
        key: &str,
        check: impl Fn(&str) -> Result<String, String>,
    ) -> Option<BTreeSet<String>> {
        let items = StrList::items(list);
        if items.is_empty() {
            self.err(
                list.span(),
                format!("`{key}` is an empty list, which nothing satisfies; remove `{key}` to allow any"),
            );
            return None;
        }
        let mut out = BTreeSet::new();
        let mut ok = true;
        for item in &items {
            match check(item.get_ref()) {
                Ok(word) => {
                    out.insert(word);
                }
                Err(msg) => {
                    self.err(item.span(), msg);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

/// Load and validate; see [`Policy::load`].
pub fn load(paths: &[PathBuf]) -> LoadReport {
    let mut diags = Vec::new();
    let files = discover(paths, &mut diags);
    let mut read = Vec::new();
    let mut hashes = BTreeMap::new();
    for path in files {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let sha = hex::encode(Sha256::digest(&bytes));
                hashes.insert(file_name(&path), sha.clone());
                read.push((path, sha, bytes));
            }
            Err(e) => diags.push(whole_file(&path, format!("cannot read policy file: {e}"))),
        }
    }
    let policy = build(&read, diags);
    LoadReport { policy, files: hashes }
}

/// Load one policy from text held in memory; `name` is the file name used in diagnostics and in
/// the version hash (handy for tests and for policies built by programs).
pub fn load_str(name: &str, text: &str) -> Result<Policy, Vec<Diagnostic>> {
    let bytes = text.as_bytes().to_vec();
    let sha = hex::encode(Sha256::digest(&bytes));
    build(&[(PathBuf::from(name), sha, bytes)], Vec::new())
}

/// Parse and validate already-read files (name, sha256, bytes), in order.
fn build(read: &[(PathBuf, String, Vec<u8>)], mut diags: Vec<Diagnostic>) -> Result<Policy, Vec<Diagnostic>> {
    let mut rules = Vec::new();
    let mut tests = Vec::new();
    let mut meta = Vec::new();
    for (path, _, bytes) in read {
        let Ok(text) = std::str::from_utf8(bytes) else {
            diags.push(whole_file(path, "policy file is not valid UTF-8".into()));
            continue;
        };
        let mut ctx = Ctx::new(path, text);
        if let Some(raw) = parse(&mut ctx) {
            meta.push(FileMeta {
                file: path.clone(),
                name: raw.policy.as_ref().and_then(|m| m.name.clone()),
                description: raw.policy.as_ref().and_then(|m| m.description.clone()),
            });
            rules.extend(raw.rule.iter().filter_map(|r| compile_rule(&mut ctx, r)));
            tests.extend(raw.test.iter().filter_map(|t| super::tests::compile_test(&mut ctx, t)));
        }
        diags.extend(ctx.diags);
    }
    check_across(&rules, &tests, read, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let files: Vec<(PathBuf, String)> = read.iter().map(|(p, s, _)| (p.clone(), s.clone())).collect();
    Ok(Policy { version: version_of(&files), files, meta, rules, tests })
}

/// Policy version: hex SHA-256 over `"<file name>\t<hex sha256 of file>\n"` for each file in
/// load order. Renaming, reordering or editing any file changes it; the directory path does not.
pub fn version_of(files: &[(PathBuf, String)]) -> String {
    let mut h = Sha256::new();
    for (path, sha) in files {
        h.update(file_name(path).as_bytes());
        h.update(b"\t");
        h.update(sha.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

fn whole_file(path: &Path, message: String) -> Diagnostic {
    Diagnostic { file: path.to_path_buf(), line: 1, col: 1, message }
}

/// The files to read, in order: a file as given, a directory as its `*.toml` files (not hidden
/// ones, not in subdirectories) sorted by file name.
pub fn discover(paths: &[PathBuf], diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            match toml_files_in(path) {
                Ok(files) if files.is_empty() => {
                    diags.push(whole_file(path, "no *.toml policy files in this directory".into()))
                }
                Ok(files) => out.extend(files),
                Err(e) => diags.push(whole_file(path, format!("cannot list directory: {e}"))),
            }
        } else if path.exists() {
            out.push(path.clone());
        } else {
            diags.push(whole_file(path, "no such file or directory".into()));
        }
    }
    // The version and the reload records name files by file name, so names must be unique.
    let mut seen = BTreeSet::new();
    out.retain(|p| {
        let fresh = seen.insert(file_name(p));
        if !fresh {
            diags.push(whole_file(p, "another policy file has the same file name; rename one".into()));
        }
        fresh
    });
    out
}

fn toml_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        // Hidden files are editor or tool leftovers, never policy.
        let hidden = file_name(&path).starts_with('.');
        if !hidden && path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort_by_key(|p| file_name(p));
    Ok(files)
}

/// Parse in two passes: first every unknown key of the file (all reported, with hints), then the
/// typed schema (which stops at its first type error).
fn parse(ctx: &mut Ctx) -> Option<RawFile> {
    let tree = match toml::from_str::<Tree>(ctx.text) {
        Ok(tree) => tree,
        Err(e) => {
            ctx.err(e.span().unwrap_or(0..0), e.message().trim().to_string());
            return None;
        }
    };
    let mut unknown = Vec::new();
    unknown_keys(&tree, &FILE_SCHEMA, &mut unknown);
    if !unknown.is_empty() {
        unknown.into_iter().for_each(|(span, msg)| ctx.err(span, msg));
        return None;
    }
    match toml::from_str::<RawFile>(ctx.text) {
        Ok(raw) => Some(raw),
        Err(e) => {
            ctx.err(e.span().unwrap_or(0..0), e.message().trim().to_string());
            None
        }
    }
}

fn compile_rule(ctx: &mut Ctx, raw: &Spanned<RawRule>) -> Option<Rule> {
    let span = raw.span();
    let r = raw.get_ref();
    let id = rule_id(ctx, r, span.clone());
    let matcher = match &r.matches {
        Some(m) => compile_match(ctx, m),
        None => Some(Matcher::default()),
    };
    let action = compile_action(ctx, r, span.clone(), id.as_deref().unwrap_or("?"));
    let constraints = match &r.route {
        Some(route) => compile_route(ctx, route),
        None => Some(RouteConstraints::default()),
    };
    let max_cost_usd = match &r.max_cost_usd {
        Some(c) if !c.get_ref().is_finite() || *c.get_ref() < 0.0 => {
            ctx.err(c.span(), "max_cost_usd must be a number of dollars, zero or more");
            return None;
        }
        Some(c) => Some(*c.get_ref()),
        None => None,
    };
    let body_hold_years = match &r.body_hold_years {
        Some(y) => match u32::try_from(*y.get_ref()) {
            Ok(years) if years <= 100 => Some(years),
            _ => {
                ctx.err(y.span(), "body_hold_years must be a whole number of years from 0 to 100");
                return None;
            }
        },
        None => None,
    };
    Some(Rule {
        id: id?,
        description: r.description.clone(),
        source: ctx.pos(span.start),
        matcher: matcher?,
        action: action?,
        constraints: constraints?,
        max_cost_usd,
        body_hold_years,
    })
}

fn rule_id(ctx: &mut Ctx, r: &RawRule, span: Range<usize>) -> Option<String> {
    let Some(id) = &r.id else {
        ctx.err(span, "rule has no `id`: give every rule a short unique id, e.g. id = \"special-categories\"");
        return None;
    };
    let ok = !id.get_ref().is_empty()
        && id.get_ref().chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        ctx.err(
            id.span(),
            format!("rule id `{}` must be non-empty and use only letters, digits, `-`, `_` and `.`", id.get_ref()),
        );
        return None;
    }
    Some(id.get_ref().clone())
}

fn compile_action(ctx: &mut Ctx, r: &RawRule, span: Range<usize>, id: &str) -> Option<Action> {
    let Some(action) = &r.action else {
        ctx.err(span, format!("rule `{id}` has no `action`: add action = \"allow\", \"deny\" or \"redact\""));
        return None;
    };
    let a_span = action.span();
    match action.get_ref().as_str() {
        "allow" => {
            forbid(ctx, r.reason.as_ref().map(Spanned::span), "reason", "deny rules only");
            forbid(ctx, r.redact.as_ref().map(Spanned::span), "redact", "action = \"redact\"");
            Some(Action::Allow)
        }
        "deny" => {
            forbid(ctx, r.redact.as_ref().map(Spanned::span), "redact", "action = \"redact\"");
            forbid(ctx, r.route.as_ref().map(Spanned::span), "route", "allow and redact rules (a deny sends nothing)");
            forbid(ctx, r.max_cost_usd.as_ref().map(Spanned::span), "max_cost_usd", "allow and redact rules");
            match &r.reason {
                Some(reason) if !reason.get_ref().trim().is_empty() => {
                    Some(Action::Deny { reason: reason.get_ref().clone() })
                }
                _ => {
                    ctx.err(a_span, format!("deny rule `{id}` needs a `reason` the client can read"));
                    None
                }
            }
        }
        "redact" => {
            forbid(ctx, r.reason.as_ref().map(Spanned::span), "reason", "deny rules only");
            match &r.redact {
                Some(red) => compile_redact(ctx, red).map(Action::Redact),
                None => {
                    ctx.err(a_span, format!("redact rule `{id}` needs redact = {{ operator = \"pseudonymize\" }} (or replace, mask, hash)"));
                    None
                }
            }
        }
        other => {
            let hint = vocab::suggest(other, vocab::ACTIONS.iter().copied(), false);
            ctx.err(a_span, vocab::unknown_msg("action", other, hint, vocab::ACTIONS));
            None
        }
    }
}

/// An error when `key` is present on a rule whose action does not use it.
fn forbid(ctx: &mut Ctx, span: Option<Range<usize>>, key: &str, applies_to: &str) {
    if let Some(span) = span {
        ctx.err(span, format!("`{key}` applies to {applies_to}; remove it or change the action"));
    }
}

fn compile_redact(ctx: &mut Ctx, raw: &Spanned<RawRedact>) -> Option<RedactAction> {
    let r = raw.get_ref();
    let entities = match &r.entities {
        Some(list) => ctx.words(list, "entities", check_entity)?,
        None => BTreeSet::new(),
    };
    let Some(op) = &r.operator else {
        ctx.err(raw.span(), "redact needs an `operator`: replace, mask, hash or pseudonymize");
        return None;
    };
    match RedactOperator::parse(op.get_ref()) {
        Some(operator) => Some(RedactAction { entities, operator }),
        None => {
            let hint = vocab::suggest(op.get_ref(), vocab::OPERATORS.iter().copied(), false);
            ctx.err(op.span(), vocab::unknown_msg("operator", op.get_ref(), hint, vocab::OPERATORS));
            None
        }
    }
}

pub(crate) fn check_entity(s: &str) -> Result<String, String> {
    if vocab::is_entity_type(s) {
        Ok(s.to_string())
    } else {
        Err(vocab::unknown_msg("entity type", s, vocab::entity_hint(s), &[]))
    }
}

pub(crate) fn check_region(s: &str) -> Result<String, String> {
    if vocab::REGIONS.contains(&s) {
        return Ok(s.to_string());
    }
    let hint = vocab::suggest(s, vocab::REGIONS.iter().copied(), false);
    Err(vocab::unknown_msg("region", s, hint, vocab::REGIONS))
}

fn check_country(s: &str) -> Result<String, String> {
    if vocab::is_country(s) {
        return Ok(s.to_string());
    }
    Err(format!(
        "unknown country `{s}`: countries are ISO 3166-1 alpha-2 codes in upper case{}",
        vocab::country_hint(s).map_or(String::new(), |h| format!(", did you mean {h}?"))
    ))
}

fn check_level(s: &str) -> Result<Level, String> {
    vocab::parse_level(s).ok_or_else(|| {
        let hint = vocab::suggest(s, vocab::LEVELS.iter().copied(), false);
        vocab::unknown_msg("level", s, hint, vocab::LEVELS)
    })
}

pub(crate) fn check_endpoint(s: &str) -> Result<String, String> {
    if vocab::ENDPOINTS.contains(&s) {
        return Ok(s.to_string());
    }
    let hint = vocab::suggest(s, vocab::ENDPOINTS.iter().copied(), false);
    Err(vocab::unknown_msg("endpoint", s, hint, vocab::ENDPOINTS))
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Err("empty string".into())
    } else {
        Ok(s.to_string())
    }
}

fn single_level(ctx: &mut Ctx, v: &Option<Spanned<String>>) -> Result<Option<Level>, ()> {
    match v {
        None => Ok(None),
        Some(s) => check_level(s.get_ref()).map(Some).map_err(|msg| ctx.err(s.span(), msg)),
    }
}

fn compile_match(ctx: &mut Ctx, raw: &Spanned<RawMatch>) -> Option<Matcher> {
    let m = raw.get_ref();
    let n = ctx.diags.len();
    let mut list = |v: &Option<Spanned<StrList>>, key: &str, check: fn(&str) -> Result<String, String>| {
        v.as_ref().and_then(|l| ctx.words(l, key, check))
    };
    let keys = list(&m.keys, "keys", non_empty);
    let teams = list(&m.teams, "teams", non_empty);
    let models = list(&m.models, "models", non_empty);
    let levels = list(&m.level, "level", |s| check_level(s).map(|l| l.as_str().to_string()));
    let entities = list(&m.entities, "entities", check_entity);
    let labels = list(&m.client_label, "client_label", |s| non_empty(s).map(|s| s.to_lowercase()));
    let endpoints = list(&m.endpoint, "endpoint", check_endpoint);
    let min_level = single_level(ctx, &m.min_level).ok()?;
    let max_level = single_level(ctx, &m.max_level).ok()?;
    if ctx.diags.len() > n {
        return None;
    }
    let matcher = Matcher {
        keys,
        teams,
        models: models.map(|ms| ms.iter().map(|p| Glob::new(p)).collect()),
        levels: levels.map(|ls| ls.iter().filter_map(|l| vocab::parse_level(l)).collect()),
        min_level,
        max_level,
        entities,
        client_labels: labels,
        stream: m.stream.as_ref().map(|b| *b.get_ref()),
        endpoints,
        unscannable: m.unscannable.as_ref().map(|b| *b.get_ref()),
    };
    match contradiction(&matcher) {
        Some(msg) => {
            ctx.err(raw.span(), format!("this match can never hold: {msg}"));
            None
        }
        None => Some(matcher),
    }
}

/// Conditions of one rule that exclude each other (cheap cases only).
fn contradiction(m: &Matcher) -> Option<String> {
    let lo = m.min_level.unwrap_or(Level::None);
    let hi = m.max_level.unwrap_or(Level::Special);
    if lo > hi {
        return Some(format!("min_level {} is above max_level {}", lo.as_str(), hi.as_str()));
    }
    if let Some(levels) = &m.levels {
        if !levels.iter().any(|l| (lo..=hi).contains(l)) {
            return Some("no listed level lies between min_level and max_level".into());
        }
    }
    if m.stream == Some(true) && m.endpoints.as_ref().is_some_and(|e| !e.contains("chat")) {
        return Some("embeddings requests never stream".into());
    }
    None
}

fn compile_route(ctx: &mut Ctx, raw: &Spanned<RawRoute>) -> Option<RouteConstraints> {
    let r = raw.get_ref();
    let n = ctx.diags.len();
    let regions = r.regions.as_ref().and_then(|l| ctx.words(l, "regions", check_region));
    let countries = r.countries.as_ref().and_then(|l| ctx.words(l, "countries", check_country));
    let providers = r.providers.as_ref().and_then(|l| ctx.words(l, "providers", non_empty));
    if ctx.diags.len() > n {
        return None;
    }
    if let (Some(rs), Some(cs)) = (&regions, &countries) {
        if !rs.iter().any(|r| cs.iter().any(|c| region_may_hold(r, c))) {
            let span = r.countries.as_ref().map_or(raw.span(), Spanned::span);
            ctx.err(span, "no allowed country lies in any allowed region, so no provider could ever qualify");
            return None;
        }
    }
    Some(RouteConstraints {
        regions,
        countries,
        providers,
        require_zdr: r.require_zdr,
        deny_data_collection: r.deny_data_collection,
    })
}

const EU_STATES: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// Whether a provider in `region` could be based in `country` (unknown combinations: yes).
fn region_may_hold(region: &str, country: &str) -> bool {
    match region {
        "eu" => EU_STATES.contains(&country),
        "eea" => EU_STATES.contains(&country) || matches!(country, "NO" | "IS" | "LI"),
        "ch" | "us" | "ca" | "au" | "nz" | "jp" | "kr" | "sg" | "br" => region.eq_ignore_ascii_case(country),
        "in" => country == "IN",
        "uk" => country == "GB",
        _ => true,
    }
}

/// Checks that need every file: duplicate ids, unreachable rules, tests naming unknown rules.
fn check_across(
    rules: &[Rule],
    tests: &[PolicyTest],
    read: &[(PathBuf, String, Vec<u8>)],
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen: BTreeMap<&str, &Rule> = BTreeMap::new();
    for rule in rules {
        if let Some(first) = seen.get(rule.id.as_str()) {
            diags
                .push(at(&rule.source, format!("duplicate rule id `{}` (first defined at {})", rule.id, first.source)));
        } else {
            seen.insert(&rule.id, rule);
        }
    }
    for (j, rule) in rules.iter().enumerate() {
        if let Some(earlier) = rules[..j].iter().find(|e| e.matcher.covers(&rule.matcher)) {
            diags.push(at(
                &rule.source,
                format!(
                "rule `{}` can never decide: rule `{}` at {} comes first and matches every request this one matches",
                rule.id, earlier.id, earlier.source
            ),
            ));
        }
    }
    for t in tests {
        if let Some(expected) = &t.expect_rule {
            if !seen.contains_key(expected.as_str()) && expected != super::DEFAULT_DENY_RULE {
                let hint = vocab::suggest(expected, seen.keys().copied(), false);
                diags.push(at(&t.source, vocab::unknown_msg("rule id in expect_rule", expected, hint, &[])));
            }
        }
    }
    if rules.is_empty() && diags.is_empty() {
        if let Some((path, _, _)) = read.first() {
            diags.push(whole_file(path, "the policy has no [[rule]]: every request would be denied".into()));
        }
    }
}

fn at(pos: &SourcePos, message: String) -> Diagnostic {
    Diagnostic { file: pos.file.clone(), line: pos.line, col: pos.col, message }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match load_str("p.toml", text) {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(ToString::to_string).collect(),
        }
    }

    const OK_TAIL: &str = "\n[[rule]]\nid = \"rest\"\naction = \"allow\"\n";

    #[test]
    fn shipped_default_policy_loads() {
        let text = include_str!("../../policies/default.toml");
        let p = load_str("default.toml", text).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(p.rules.len(), 6);
        assert!(p.tests.len() >= 5);
    }

    #[test]
    fn position_of_rule_and_values() {
        let text = "[[rule]]\nid = \"a\"\nmatch = { entities = [\"IBAN\"] }\naction = \"allow\"\n";
        assert_eq!(errors(text), vec!["p.toml:3:23: unknown entity type `IBAN`: did you mean IBAN_CODE?"]);
        let text = "\n\n[[rule]]\nid = \"a\"\n";
        let e = errors(text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("p.toml:3:1: rule `a` has no `action`"), "{e:?}");
    }

    #[test]
    fn syntax_error_and_unknown_field_have_positions() {
        let e = errors("[[rule]]\nid = \"a\"\naction = allow\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("p.toml:3:10: "), "{e:?}");
        let e = errors("[[rule]]\nid = \"a\"\nactoin = \"allow\"\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("p.toml:3:1: unknown field `actoin`"), "{e:?}");
    }

    #[test]
    fn multiline_unicode_columns_count_chars() {
        let text = "# Zürich\n[[rule]]\nid = \"ä\"\naction = \"allow\"\n";
        let e = errors(text);
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("p.toml:3:6: rule id `ä`"), "{e:?}");
    }

    #[test]
    fn collects_every_error_of_a_file() {
        let text = format!(
            "[[rule]]\nid = \"a\"\nmatch = {{ level = \"sensitve\" }}\naction = \"allow\"\n\
             route = {{ regions = [\"cj\", \"us\"], countries = [\"ch\"] }}\n{OK_TAIL}"
        );
        let e = errors(&text);
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0], "p.toml:3:19: unknown level `sensitve`: did you mean sensitive?");
        assert_eq!(e[1], "p.toml:5:22: unknown region `cj`: did you mean ch?");
        assert!(e[2].starts_with("p.toml:5:48: unknown country `ch`"), "{e:?}");
        assert!(e[2].ends_with("did you mean CH?"), "{e:?}");
    }

    #[test]
    fn action_mistakes() {
        let e = errors("[[rule]]\nid = \"a\"\naction = \"alow\"\n");
        assert_eq!(e, vec!["p.toml:3:10: unknown action `alow`: did you mean allow?"]);
        let e = errors("[[rule]]\nid = \"a\"\naction = \"deny\"\n");
        assert_eq!(e, vec!["p.toml:3:10: deny rule `a` needs a `reason` the client can read"]);
        let e = errors("[[rule]]\nid = \"a\"\naction = \"redact\"\nredact = { operator = \"pseudonymise\" }\n");
        assert_eq!(e, vec!["p.toml:4:23: unknown operator `pseudonymise`: did you mean pseudonymize?"]);
        let e = errors("[[rule]]\nid = \"a\"\naction = \"deny\"\nreason = \"no\"\nroute = { regions = [\"ch\"] }\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("p.toml:5:9: `route` applies to allow and redact rules"), "{e:?}");
    }

    #[test]
    fn duplicate_and_unreachable_rules() {
        let text = "[[rule]]\nid = \"a\"\naction = \"allow\"\nmatch = { level = \"none\" }\n\
                    [[rule]]\nid = \"a\"\naction = \"allow\"\nmatch = { level = \"personal\" }\n";
        let e = errors(text);
        assert_eq!(e, vec!["p.toml:5:1: duplicate rule id `a` (first defined at p.toml:1:1)"]);
        let text = "[[rule]]\nid = \"all\"\naction = \"allow\"\n[[rule]]\nid = \"b\"\naction = \"allow\"\nmatch = { stream = true }\n";
        let e = errors(text);
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("p.toml:4:1: rule `b` can never decide: rule `all` at p.toml:1:1"), "{e:?}");
    }

    #[test]
    fn contradictions_inside_one_rule() {
        let e = errors(
            "[[rule]]\nid = \"a\"\naction = \"allow\"\nmatch = { min_level = \"special\", max_level = \"personal\" }\n",
        );
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("min_level special is above max_level personal"), "{e:?}");
        let e =
            errors("[[rule]]\nid = \"a\"\naction = \"allow\"\nmatch = { stream = true, endpoint = \"embeddings\" }\n");
        assert!(e[0].contains("embeddings requests never stream"), "{e:?}");
        let e =
            errors("[[rule]]\nid = \"a\"\naction = \"allow\"\nroute = { regions = [\"ch\"], countries = [\"DE\"] }\n");
        assert!(e[0].starts_with("p.toml:4:41: no allowed country lies in any allowed region"), "{e:?}");
        let e = errors("[[rule]]\nid = \"a\"\naction = \"allow\"\nmatch = { keys = [] }\n");
        assert!(e[0].starts_with("p.toml:4:18: `keys` is an empty list"), "{e:?}");
    }

    #[test]
    fn empty_policy_and_missing_id() {
        let e = errors("[policy]\nname = \"x\"\n");
        assert_eq!(e, vec!["p.toml:1:1: the policy has no [[rule]]: every request would be denied"]);
        let e = errors("[[rule]]\naction = \"allow\"\n");
        assert!(e[0].starts_with("p.toml:1:1: rule has no `id`"), "{e:?}");
    }

    #[test]
    fn test_block_mistakes() {
        let text = format!(
            "{OK_TAIL}[[test]]\nname = \"t\"\ninput = \"x\"\nexpect = \"alow\"\n\
             [[test]]\nname = \"u\"\nexpect = \"allow\"\n\
             [[test]]\nname = \"v\"\ninput = \"x\"\nexpect = \"allow\"\nexpect_rule = \"rset\"\n"
        );
        let e = errors(&text);
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0], "p.toml:8:10: unknown expected decision `alow`: did you mean allow?");
        assert!(e[1].starts_with("p.toml:9:1: test needs `input`"), "{e:?}");
        assert_eq!(e[2], "p.toml:12:1: unknown rule id in expect_rule `rset`: did you mean rest?");
    }

    #[test]
    fn test_endpoint_and_regions_are_checked() {
        let text = format!(
            "{OK_TAIL}[[test]]\nname = \"t\"\ninput = \"x\"\nexpect = \"deny\"\nendpoint = \"embedding\"\n\
             expect_regions = [\"ch\"]\n"
        );
        let e = errors(&text);
        assert_eq!(
            e,
            vec![
                "p.toml:10:18: `expect_regions` cannot be checked on a deny",
                "p.toml:9:12: unknown endpoint `embedding`: did you mean embeddings?",
            ]
        );
    }

    #[test]
    fn version_depends_on_content_and_name() {
        let a = load_str("a.toml", OK_TAIL).map(|p| p.version);
        let b = load_str("b.toml", OK_TAIL).map(|p| p.version);
        let c = load_str("a.toml", &format!("# comment{OK_TAIL}")).map(|p| p.version);
        assert!(a.is_ok());
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_ref().map(String::len), Ok(64));
    }
}
