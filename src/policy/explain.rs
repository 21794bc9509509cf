//! `auditgate policy explain`: why the policy decides what it decides for one request.
//!
//! An [`Explanation`] lists the classification facts, every rule tried with each of its conditions,
//! the deciding rule and outcome, and every configured provider as allowed or excluded (with the
//! reason from [`super::RouteConstraints::check`]). It serialises to JSON (`--json`) and prints as
//! plain text for officers.

use super::eval::RuleTrace;
use super::{Decision, Policy, RequestFacts};
use crate::offer::ProviderProfile;
use crate::pii::Classification;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// One provider and whether the decision lets the request go there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderVerdict {
    pub provider: String,
    pub region: String,
    pub country: String,
    pub allowed: bool,
    /// Why it is excluded; `None` when allowed.
    pub reason: Option<String>,
}

/// The full account of one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub policy_version: String,
    pub facts: RequestFacts,
    /// Rules in evaluation order, up to and including the deciding one.
    pub rules: Vec<RuleTrace>,
    pub decision: Decision,
    /// `allow`, `redact` or `deny`.
    pub action: String,
    pub providers: Vec<ProviderVerdict>,
}

/// Explain the decision for `facts` against each of `providers`.
pub fn explain(policy: &Policy, facts: &RequestFacts, providers: &[ProviderProfile]) -> Explanation {
    let traced = policy.decide_traced(facts);
    let providers = providers
        .iter()
        .map(|p| {
            let verdict = traced.decision.check_provider(p);
            ProviderVerdict {
                provider: p.name.clone(),
                region: p.region.clone(),
                country: p.country.clone(),
                allowed: verdict.is_ok(),
                reason: verdict.err().map(|e| e.to_string()),
            }
        })
        .collect();
    Explanation {
        policy_version: policy.version.clone(),
        facts: facts.clone(),
        rules: traced.trace,
        action: traced.decision.action().to_string(),
        decision: traced.decision,
        providers,
    }
}

/// What the body of a request says about itself (model, streaming, endpoint, attachments).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BodyShape {
    /// `model`, else the first entry of an OpenRouter `models` list.
    pub model: Option<String>,
    pub stream: bool,
    /// `embeddings` when the body has `input` and no `messages`, else `chat`.
    pub endpoint: String,
    /// A message part the scanner cannot read (image, audio, file).
    pub unscannable: bool,
}

pub fn body_shape(body: &Value) -> BodyShape {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .or_else(|| body.pointer("/models/0").and_then(Value::as_str))
        .map(str::to_string);
    let endpoint = if body.get("messages").is_none() && body.get("input").is_some() { "embeddings" } else { "chat" };
    let unscannable = body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .any(|part| {
            matches!(
                part.get("type").and_then(Value::as_str),
                Some("image_url" | "input_audio" | "file" | "input_image" | "input_file")
            )
        });
    BodyShape {
        model,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        endpoint: endpoint.to_string(),
        unscannable,
    }
}

/// The facts for a request body and its classification; the key's name and team and the client's
/// `X-Data-Classification` header come from outside the body.
pub fn facts_for_request(
    body: &Value,
    classification: &Classification,
    key_name: &str,
    team: &str,
    client_label: Option<&str>,
) -> RequestFacts {
    let shape = body_shape(body);
    RequestFacts {
        key_name: key_name.to_string(),
        team: team.to_string(),
        model: shape.model.unwrap_or_default(),
        level: classification.level,
        entity_types: classification.entity_types(),
        client_label: client_label.map(|l| l.trim().to_lowercase()),
        stream: shape.stream,
        endpoint: shape.endpoint,
        has_unscannable: shape.unscannable || !classification.unscannable.is_empty(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let facts = &self.facts;
        writeln!(f, "policy version {}", self.policy_version)?;
        writeln!(f, "request:")?;
        writeln!(
            f,
            "  key {:?}, team {:?}, model {:?}, endpoint {}",
            facts.key_name, facts.team, facts.model, facts.endpoint
        )?;
        let entities: Vec<&str> = facts.entity_types.iter().map(String::as_str).collect();
        writeln!(f, "  level {}, entities [{}]", facts.level.as_str(), entities.join(", "))?;
        writeln!(
            f,
            "  client label {}, stream {}, unscannable parts {}",
            facts.client_label.as_deref().unwrap_or("(none)"),
            yes_no(facts.stream),
            yes_no(facts.has_unscannable)
        )?;
        writeln!(f, "rules tried:")?;
        for rule in &self.rules {
            let verdict = if rule.matched { "MATCH" } else { "no match" };
            writeln!(f, "  {} ({}): {}", rule.rule_id, rule.source, verdict)?;
            if let Some(why) = &rule.description {
                writeln!(f, "      {why}")?;
            }
            if rule.conditions.is_empty() {
                writeln!(f, "      (no conditions: matches every request)")?;
            }
            for c in &rule.conditions {
                writeln!(f, "      [{}] {}: {}", if c.matched { "x" } else { " " }, c.field, c.detail)?;
            }
        }
        if !self.rules.iter().any(|r| r.matched) {
            writeln!(f, "  no rule matched: default deny")?;
        }
        self.fmt_decision(f)?;
        writeln!(f, "providers:")?;
        for p in &self.providers {
            match &p.reason {
                None => writeln!(f, "  {} ({}, {}): allowed", p.provider, p.region, p.country)?,
                Some(why) => writeln!(f, "  {} ({}, {}): excluded: {}", p.provider, p.region, p.country, why)?,
            }
        }
        if self.providers.is_empty() {
            writeln!(f, "  (no providers configured)")?;
        }
        Ok(())
    }
}

impl Explanation {
    fn fmt_decision(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.decision;
        write!(f, "decision: {} by rule {}", self.action, d.rule_id)?;
        if let super::Outcome::Deny { reason } = &d.outcome {
            write!(f, ": {reason}")?;
        }
        writeln!(f)?;
        if let Some(r) = &d.redact {
            let which = if r.entities.is_empty() {
                "every finding".to_string()
            } else {
                r.entities.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            let rev = if r.operator.reversible() { "reversible" } else { "irreversible" };
            writeln!(f, "  redact {which} with {} ({rev})", r.operator.as_str())?;
        }
        let c = &d.constraints;
        if !d.is_denied() {
            let list = |s: &Option<std::collections::BTreeSet<String>>| match s {
                None => "any".to_string(),
                Some(s) => s.iter().cloned().collect::<Vec<_>>().join(", "),
            };
            writeln!(
                f,
                "  route: regions {}, countries {}, providers {}, zero retention required {}, data collection forbidden {}",
                list(&c.regions),
                list(&c.countries),
                list(&c.providers),
                yes_no(c.require_zdr),
                yes_no(c.deny_data_collection)
            )?;
            if let Some(max) = d.max_cost_usd {
                writeln!(f, "  cost ceiling: {max} USD")?;
            }
        }
        Ok(())
    }
}
