//! Rule evaluation: the compiled form of a rule and the first-match decision.
//!
//! `decide` is on the request path, so it only compares precompiled values (sets, glob segments,
//! levels) and allocates nothing but the returned `Decision`. `decide_traced` is for `explain` and
//! officer tests: it also records, for every rule tried, each condition and whether it held.

use super::{Decision, Outcome, Policy, RedactAction, RequestFacts, RouteConstraints};
use crate::pii::Level;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

/// Rule id reported when no rule matched and the built-in default deny decided.
pub const DEFAULT_DENY_RULE: &str = "<default-deny>";
/// Reason the client reads when the default deny decided.
pub const DEFAULT_DENY_REASON: &str = "no policy rule allows this request (default deny)";

/// A model-name pattern: `*` matches any run of characters (including `/`), everything else is
/// literal. Compiled once into the literal pieces between the stars.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    pattern: String,
    pieces: Vec<String>,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob { pattern: pattern.to_string(), pieces: pattern.split('*').map(str::to_string).collect() }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Anchored match: the first piece is a prefix, the last a suffix, the middle ones appear in
    /// order in between (greedy-leftmost is exact for `*`-only patterns).
    pub fn matches(&self, text: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        let Some(mut tail) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(at) => tail = &tail[at + piece.len()..],
                None => return false,
            }
        }
        tail.len() >= last.len() && tail.ends_with(last.as_str())
    }
}

/// What a rule does once it matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny { reason: String },
    Redact(RedactAction),
}

/// The conditions of one rule; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matcher {
    pub keys: Option<BTreeSet<String>>,
    pub teams: Option<BTreeSet<String>>,
    pub models: Option<Vec<Glob>>,
    pub levels: Option<BTreeSet<Level>>,
    pub min_level: Option<Level>,
    pub max_level: Option<Level>,
    pub entities: Option<BTreeSet<String>>,
    pub client_labels: Option<BTreeSet<String>>,
    pub stream: Option<bool>,
    pub endpoints: Option<BTreeSet<String>>,
    pub unscannable: Option<bool>,
}

/// The match fields, in the order they are checked and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Keys,
    Teams,
    Models,
    Level,
    MinLevel,
    MaxLevel,
    Entities,
    ClientLabel,
    Stream,
    Endpoint,
    Unscannable,
}

impl Field {
    pub const ALL: [Field; 11] = [
        Field::Keys,
        Field::Teams,
        Field::Models,
        Field::Level,
        Field::MinLevel,
        Field::MaxLevel,
        Field::Entities,
        Field::ClientLabel,
        Field::Stream,
        Field::Endpoint,
        Field::Unscannable,
    ];

    /// The key as written in `match = { ... }`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Keys => "keys",
            Field::Teams => "teams",
            Field::Models => "models",
            Field::Level => "level",
            Field::MinLevel => "min_level",
            Field::MaxLevel => "max_level",
            Field::Entities => "entities",
            Field::ClientLabel => "client_label",
            Field::Stream => "stream",
            Field::Endpoint => "endpoint",
            Field::Unscannable => "unscannable",
        }
    }
}

impl Matcher {
    /// `None` when the rule does not constrain this field, else whether the request satisfies it.
    pub fn holds(&self, field: Field, f: &RequestFacts) -> Option<bool> {
        match field {
            Field::Keys => self.keys.as_ref().map(|s| s.contains(&f.key_name)),
            Field::Teams => self.teams.as_ref().map(|s| s.contains(&f.team)),
            Field::Models => self.models.as_ref().map(|g| g.iter().any(|g| g.matches(&f.model))),
            Field::Level => self.levels.as_ref().map(|s| s.contains(&f.level)),
            Field::MinLevel => self.min_level.map(|l| f.level >= l),
            Field::MaxLevel => self.max_level.map(|l| f.level <= l),
            Field::Entities => self.entities.as_ref().map(|s| s.iter().any(|e| f.entity_types.contains(e))),
            Field::ClientLabel => {
                self.client_labels.as_ref().map(|s| f.client_label.as_ref().is_some_and(|l| s.contains(l.as_str())))
            }
            Field::Stream => self.stream.map(|b| b == f.stream),
            Field::Endpoint => self.endpoints.as_ref().map(|s| s.contains(&f.endpoint)),
            Field::Unscannable => self.unscannable.map(|b| b == f.has_unscannable),
        }
    }

    pub fn matches(&self, f: &RequestFacts) -> bool {
        Field::ALL.iter().all(|field| self.holds(*field, f) != Some(false))
    }

    /// Fields this rule constrains.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        let empty = RequestFacts::default();
        Field::ALL.into_iter().filter(move |field| self.holds(*field, &empty).is_some())
    }

    /// True when every request this rule matches is also matched by `self` (cheap, sound test:
    /// each condition of `self` is absent or written identically in `other`).
    pub fn covers(&self, other: &Matcher) -> bool {
        fn same<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            a.is_none() || a == b
        }
        same(&self.keys, &other.keys)
            && same(&self.teams, &other.teams)
            && same(&self.models, &other.models)
            && same(&self.levels, &other.levels)
            && same(&self.min_level, &other.min_level)
            && same(&self.max_level, &other.max_level)
            && same(&self.entities, &other.entities)
            && same(&self.client_labels, &other.client_labels)
            && same(&self.stream, &other.stream)
            && same(&self.endpoints, &other.endpoints)
            && same(&self.unscannable, &other.unscannable)
    }

    /// A sentence for explain output: what the request had, then what the rule wants.
    fn describe(&self, field: Field, f: &RequestFacts) -> String {
        let list = |s: &Option<BTreeSet<String>>| s.iter().flatten().cloned().collect::<Vec<_>>().join(", ");
        let yes = |b: bool| if b { "yes" } else { "no" };
        match field {
            Field::Keys => format!("key `{}`; rule wants one of [{}]", f.key_name, list(&self.keys)),
            Field::Teams => format!("team `{}`; rule wants one of [{}]", f.team, list(&self.teams)),
            Field::Models => {
                let pats: Vec<&str> = self.models.iter().flatten().map(Glob::as_str).collect();
                format!("model `{}`; rule wants one of [{}]", f.model, pats.join(", "))
            }
            Field::Level => {
                let lv: Vec<&str> = self.levels.iter().flatten().map(|l| l.as_str()).collect();
                format!("level {}; rule wants one of [{}]", f.level.as_str(), lv.join(", "))
            }
            Field::MinLevel => format!("level {}; rule wants at least {}", f.level.as_str(), lvl(self.min_level)),
            Field::MaxLevel => format!("level {}; rule wants at most {}", f.level.as_str(), lvl(self.max_level)),
            Field::Entities => {
                let found = f.entity_types.iter().cloned().collect::<Vec<_>>().join(", ");
                format!("entities found [{found}]; rule wants any of [{}]", list(&self.entities))
            }
            Field::ClientLabel => format!(
                "client label {}; rule wants one of [{}]",
                f.client_label.as_deref().unwrap_or("(none)"),
                list(&self.client_labels)
            ),
            Field::Stream => format!("streaming {}; rule wants {}", yes(f.stream), yes(self.stream.unwrap_or(false))),
            Field::Endpoint => format!("endpoint {}; rule wants one of [{}]", f.endpoint, list(&self.endpoints)),
            Field::Unscannable => format!(
                "unscannable parts {}; rule wants {}",
                yes(f.has_unscannable),
                yes(self.unscannable.unwrap_or(false))
            ),
        }
    }
}

fn lvl(l: Option<Level>) -> &'static str {
    l.map(Level::as_str).unwrap_or("none")
}

/// Where a rule was written, for traces and diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcePos {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// One compiled `[[rule]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub description: Option<String>,
    pub source: SourcePos,
    pub matcher: Matcher,
    pub action: Action,
    pub constraints: RouteConstraints,
    pub max_cost_usd: Option<f64>,
    /// Years the stored bodies of calls this rule decides are held (overrides `[audit]`).
    pub body_hold_years: Option<u32>,
}

impl Rule {
    fn decision(&self, version: &str) -> Decision {
        let (outcome, redact) = match &self.action {
            Action::Allow => (Outcome::Allow, None),
            Action::Deny { reason } => (Outcome::Deny { reason: reason.clone() }, None),
            Action::Redact(r) => (Outcome::Allow, Some(r.clone())),
        };
        let denied = matches!(outcome, Outcome::Deny { .. });
        Decision {
            policy_version: version.to_string(),
            rule_id: self.id.clone(),
            outcome,
            redact,
            constraints: if denied { RouteConstraints::default() } else { self.constraints.clone() },
            max_cost_usd: if denied { None } else { self.max_cost_usd },
            body_hold_years: self.body_hold_years,
        }
    }
}

/// One condition of one rule, as evaluated against one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionTrace {
    pub field: &'static str,
    pub matched: bool,
    pub detail: String,
}

/// One rule tried, in evaluation order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTrace {
    pub rule_id: String,
    /// The rule's `description`, for the officer reading the explanation.
    pub description: Option<String>,
    /// `FILE:LINE:COL` of the rule.
    pub source: String,
    pub matched: bool,
    /// Every condition of the rule (all are shown, not only the first that failed).
    pub conditions: Vec<ConditionTrace>,
}

/// A decision with the trace of every rule tried until one matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracedDecision {
    pub decision: Decision,
    pub trace: Vec<RuleTrace>,
}

pub(crate) fn default_deny(version: &str) -> Decision {
    Decision {
        policy_version: version.to_string(),
        rule_id: DEFAULT_DENY_RULE.to_string(),
        outcome: Outcome::Deny { reason: DEFAULT_DENY_REASON.to_string() },
        redact: None,
        constraints: RouteConstraints::default(),
        max_cost_usd: None,
        body_hold_years: None,
    }
}

impl Policy {
    /// First matching rule decides; no match means deny with rule id [`DEFAULT_DENY_RULE`].
    pub fn decide(&self, facts: &RequestFacts) -> Decision {
        self.rules
            .iter()
            .find(|r| r.matcher.matches(facts))
            .map(|r| r.decision(&self.version))
            .unwrap_or_else(|| default_deny(&self.version))
    }

    /// Like [`Policy::decide`], plus why each rule tried did or did not match.
    pub fn decide_traced(&self, facts: &RequestFacts) -> TracedDecision {
        let mut trace = Vec::new();
        for rule in &self.rules {
            let conditions: Vec<ConditionTrace> = rule
                .matcher
                .fields()
                .map(|field| ConditionTrace {
                    field: field.name(),
                    matched: rule.matcher.holds(field, facts) == Some(true),
                    detail: rule.matcher.describe(field, facts),
                })
                .collect();
            let matched = conditions.iter().all(|c| c.matched);
            trace.push(RuleTrace {
                rule_id: rule.id.clone(),
                description: rule.description.clone(),
                source: rule.source.to_string(),
                matched,
                conditions,
            });
            if matched {
                return TracedDecision { decision: rule.decision(&self.version), trace };
            }
        }
        TracedDecision { decision: default_deny(&self.version), trace }
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn glob_matching() {
        let g = Glob::new("openai/*");
        assert!(g.matches("openai/gpt-4o"));
        assert!(g.matches("openai/"));
        assert!(!g.matches("mistral/large"));
        assert!(Glob::new("*").matches("anything/at-all"));
        assert!(Glob::new("demo/echo").matches("demo/echo"));
        assert!(!Glob::new("demo/echo").matches("demo/echo2"));
        assert!(Glob::new("*/gpt-*-mini").matches("openai/gpt-4o-mini"));
        assert!(!Glob::new("*/gpt-*-mini").matches("openai/gpt-4o"));
        assert!(!Glob::new("ab*ba").matches("aba"));
        assert!(Glob::new("a*b*c").matches("axxbyyc"));
    }

    #[test]
    fn covers_is_field_wise() {
        let broad = Matcher { min_level: Some(Level::Personal), ..Matcher::default() };
        let narrow = Matcher { min_level: Some(Level::Personal), stream: Some(true), ..Matcher::default() };
        assert!(broad.covers(&narrow));
        assert!(!narrow.covers(&broad));
        assert!(Matcher::default().covers(&narrow));
    }
}
