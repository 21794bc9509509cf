//! Officer-written policy tests: `[[test]]` blocks beside the rules, run by `auditgate policy test`
//! (in the spirit of OPA's policy tests). Each test describes a request (plain text or a whole
//! OpenAI request body, plus key, team, model, label) and the decision the officer expects.
//!
//! The classifier is passed in, so the runner works with the real PII scanner in the CLI and with
//! a simple keyword classifier in unit tests.

use super::format::{RawTest, StrList};
use super::load::{check_endpoint, check_region, Ctx};
use super::{vocab, Decision, Policy, RequestFacts, SourcePos};
use crate::pii::Classification;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use toml::Spanned;

/// What the test describes as input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestInput {
    /// Plain text, classified as one user message.
    Text(String),
    /// A whole request body.
    Request(Value),
}

/// One compiled `[[test]]` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyTest {
    pub name: String,
    pub source: SourcePos,
    pub input: TestInput,
    pub key_name: String,
    pub team: String,
    pub model: Option<String>,
    pub client_label: Option<String>,
    pub stream: Option<bool>,
    pub endpoint: Option<String>,
    pub unscannable: bool,
    /// `allow`, `deny` or `redact`.
    pub expect: String,
    pub expect_rule: Option<String>,
    /// `None`: not checked. `Some(None)`: expects no region constraint (written `["any"]`).
    pub expect_regions: Option<Option<BTreeSet<String>>>,
}

pub(crate) fn compile_test(ctx: &mut Ctx, raw: &Spanned<RawTest>) -> Option<PolicyTest> {
    let t = raw.get_ref();
    let n = ctx.diags.len();
    let name = match &t.name {
        Some(n) if !n.get_ref().trim().is_empty() => n.get_ref().clone(),
        _ => {
            ctx.err(raw.span(), "test has no `name`");
            String::new()
        }
    };
    let input = test_input(ctx, t, raw.span());
    let expect = expectation(ctx, t, raw.span(), &name);
    let expect_regions = t.expect_regions.as_ref().map(|l| expected_regions(ctx, l, &expect));
    let endpoint = t.endpoint.as_ref().map(|e| {
        check_endpoint(e.get_ref()).unwrap_or_else(|msg| {
            ctx.err(e.span(), msg);
            String::new()
        })
    });
    if ctx.diags.len() > n {
        return None;
    }
    Some(PolicyTest {
        name,
        source: ctx.pos(raw.span().start),
        input: input?,
        key_name: t.key.clone().unwrap_or_default(),
        team: t.team.clone().unwrap_or_default(),
        model: t.model.clone(),
        client_label: t.client_label.as_ref().map(|l| l.to_lowercase()),
        stream: t.stream,
        endpoint,
        unscannable: t.unscannable.unwrap_or(false),
        expect,
        expect_rule: t.expect_rule.as_ref().map(|r| r.get_ref().clone()),
        expect_regions: expect_regions.flatten(),
    })
}

/// `expect`: allow, deny or redact (empty string after reporting an error).
fn expectation(ctx: &mut Ctx, t: &RawTest, span: std::ops::Range<usize>, name: &str) -> String {
    let Some(e) = &t.expect else {
        ctx.err(span, format!("test `{name}` has no `expect` (allow, deny or redact)"));
        return String::new();
    };
    if vocab::EXPECTATIONS.contains(&e.get_ref().as_str()) {
        return e.get_ref().clone();
    }
    let hint = vocab::suggest(e.get_ref(), vocab::EXPECTATIONS.iter().copied(), false);
    let msg = vocab::unknown_msg("expected decision", e.get_ref(), hint, vocab::EXPECTATIONS);
    ctx.err(e.span(), msg);
    String::new()
}

fn test_input(ctx: &mut Ctx, t: &RawTest, span: std::ops::Range<usize>) -> Option<TestInput> {
    match (&t.input, &t.request) {
        (Some(text), None) => Some(TestInput::Text(text.clone())),
        (None, Some(req)) => match serde_json::from_str::<Value>(req.get_ref()) {
            Ok(v) if v.is_object() => Some(TestInput::Request(v)),
            Ok(_) => {
                ctx.err(req.span(), "`request` must be a JSON object (an OpenAI request body)");
                None
            }
            Err(e) => {
                ctx.err(req.span(), format!("`request` is not valid JSON: {e}"));
                None
            }
        },
        (Some(_), Some(req)) => {
            ctx.err(req.span(), "give either `input` or `request`, not both");
            None
        }
        (None, None) => {
            ctx.err(span, "test needs `input` (text) or `request` (a JSON request body)");
            None
        }
    }
}

fn expected_regions(ctx: &mut Ctx, list: &Spanned<StrList>, expect: &str) -> Option<Option<BTreeSet<String>>> {
    if expect == "deny" {
        ctx.err(list.span(), "`expect_regions` cannot be checked on a deny");
        return None;
    }
    let items = StrList::items(list);
    if items.len() == 1 && items[0].get_ref() == "any" {
        return Some(None);
    }
    ctx.words(list, "expect_regions", check_region).map(Some)
}

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    pub name: String,
    pub source: String,
    pub passed: bool,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
    pub decision: Decision,
}

/// The outcome of every test, in file order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    pub passed: usize,
    pub failed: usize,
}

impl TestReport {
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            match &r.failure {
                None => writeln!(f, "PASS {}", r.name)?,
                Some(why) => writeln!(f, "FAIL {}: {} ({})", r.name, why, r.source)?,
            }
        }
        write!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

/// Run every `[[test]]` of the policy, classifying each input with `classify`.
pub fn run_tests(policy: &Policy, classify: &dyn Fn(&str) -> Classification) -> TestReport {
    let mut report = TestReport::default();
    for test in &policy.tests {
        let facts = test_facts(test, classify);
        let decision = policy.decide(&facts);
        let failure = compare(test, &decision);
        if failure.is_none() {
            report.passed += 1;
        } else {
            report.failed += 1;
        }
        report.results.push(TestResult {
            name: test.name.clone(),
            source: test.source.to_string(),
            passed: failure.is_none(),
            failure,
            decision,
        });
    }
    report
}

/// The request facts a test describes: its fields win over what its request body says.
pub fn test_facts(test: &PolicyTest, classify: &dyn Fn(&str) -> Classification) -> RequestFacts {
    let (text, body) = match &test.input {
        TestInput::Text(t) => (t.clone(), None),
        TestInput::Request(v) => (request_text(v), Some(v)),
    };
    let c = classify(&text);
    let from_body = body.map(super::explain::body_shape).unwrap_or_default();
    RequestFacts {
        key_name: test.key_name.clone(),
        team: test.team.clone(),
        model: test.model.clone().or(from_body.model).unwrap_or_default(),
        level: c.level,
        entity_types: c.entity_types(),
        client_label: test.client_label.clone(),
        stream: test.stream.unwrap_or(from_body.stream),
        endpoint: test.endpoint.clone().unwrap_or(from_body.endpoint),
        has_unscannable: test.unscannable || from_body.unscannable || !c.unscannable.is_empty(),
    }
}

/// All text of a request body a scanner would look at, one part per line.
pub fn request_text(body: &Value) -> String {
    let mut parts: Vec<&str> = Vec::new();
    collect_strings(body.get("messages"), &mut parts);
    collect_strings(body.get("input"), &mut parts);
    collect_strings(body.get("prompt"), &mut parts);
    parts.join("\n")
}

/// Every string value below `v` except structural ones (roles, types, ids, URLs).
fn collect_strings<'a>(v: Option<&'a Value>, out: &mut Vec<&'a str>) {
    match v {
        Some(Value::String(s)) => out.push(s),
        Some(Value::Array(items)) => items.iter().for_each(|i| collect_strings(Some(i), out)),
        Some(Value::Object(map)) => {
            for (k, v) in map {
                if !matches!(k.as_str(), "role" | "type" | "id" | "url" | "image_url" | "tool_call_id") {
                    collect_strings(Some(v), out);
                }
            }
        }
        _ => {}
    }
}

/// Why the decision differs from what the test expects, or `None` when it matches.
fn compare(test: &PolicyTest, d: &Decision) -> Option<String> {
    let got = d.action();
    if got != test.expect {
        return Some(format!("expected {}, got {} (rule {})", test.expect, got, d.rule_id));
    }
    if let Some(rule) = &test.expect_rule {
        if *rule != d.rule_id {
            return Some(format!("expected rule {rule}, got rule {}", d.rule_id));
        }
    }
    if let Some(expected) = &test.expect_regions {
        if *expected != d.constraints.regions {
            return Some(format!(
                "expected regions {}, got regions {} (rule {})",
                regions_str(expected),
                regions_str(&d.constraints.regions),
                d.rule_id
            ));
        }
    }
    None
}

fn regions_str(r: &Option<BTreeSet<String>>) -> String {
    match r {
        None => "any".into(),
        Some(set) => format!("[{}]", set.iter().cloned().collect::<Vec<_>>().join(", ")),
    }
}
