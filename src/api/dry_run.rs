//! A dry run of admission for `auditgate policy explain`: what the gateway would do with a request
//! for a caller, planned by the very functions a live request goes through (shape check,
//! classification, policy per model, model limits, provider preferences, cost ceiling), without
//! recording or forwarding anything. Explain and serve agree because they share the code.

use serde::Serialize;
use serde_json::Value;

use super::admission::{apply_preset, plan_routes, read_request, Ask, Caller, Planned, Planner, Reading, Refusal};
use super::exchange::Endpoint;
use crate::audit::Excluded;
use crate::config::Config;

/// The gateway's answer to one request, before anything leaves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRun {
    /// Per model the request may go to (the `models` list in order): the deciding rule and the
    /// providers in the order they would be tried.
    pub routes: Vec<DryRoute>,
    /// Providers passed over, and why.
    pub excluded: Vec<Excluded>,
    /// The error answer when the request would be refused.
    pub refused: Option<DryRefusal>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRoute {
    pub model: String,
    pub rule: String,
    /// `allow` or `redact`.
    pub action: String,
    pub providers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRefusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// Plan `request` (OpenAI form, `body_len` bytes as received) for `caller`.
pub fn dry_run(
    planner: &Planner<'_>,
    config: &Config,
    caller: &Caller<'_>,
    mut request: Value,
    body_len: usize,
) -> DryRun {
    let endpoint = endpoint_of(&request);
    let refused = |error: &super::ApiError, excluded| {
        let d = error.detail();
        let refusal = DryRefusal { status: d.status.as_u16(), code: d.code.to_string(), message: d.message.clone() };
        DryRun { routes: Vec::new(), excluded, refused: Some(refusal) }
    };
    if let Err(e) = apply_preset(&config.presets, endpoint, &mut request) {
        return refused(&e, Vec::new());
    }
    let Reading { stream, cls, models, .. } = match read_request(&request, endpoint, &config.request, "") {
        Ok(reading) => reading,
        Err(e) => return refused(&e, Vec::new()),
    };
    let ask = Ask::new(endpoint, &cls, stream, &models, body_len);
    match plan_routes(planner, caller, &ask, request) {
        Ok(Planned { routes, excluded }) => {
            let routes = routes
                .into_iter()
                .map(|r| DryRoute {
                    action: r.decision.action().to_string(),
                    rule: r.decision.rule_id,
                    providers: r.candidates.iter().map(|c| c.provider.name.clone()).collect(),
                    model: r.model,
                })
                .collect();
            DryRun { routes, excluded, refused: None }
        }
        Err(Refusal { error, excluded, .. }) => refused(&error, excluded),
    }
}

/// An embeddings body has `input` and no `messages`; everything else is a chat request.
fn endpoint_of(request: &Value) -> Endpoint {
    if request.get("messages").is_none() && request.get("input").is_some() {
        Endpoint::Embeddings
    } else {
        Endpoint::Chat
    }
}

impl std::fmt::Display for DryRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "the gateway would:")?;
        if let Some(r) = &self.refused {
            writeln!(f, "  refuse with {} {}: {}", r.status, r.code, r.message)?;
        }
        for route in &self.routes {
            writeln!(
                f,
                "  {} {} by rule {}: try {}",
                route.action,
                route.model,
                route.rule,
                route.providers.join(", then ")
            )?;
        }
        for e in &self.excluded {
            writeln!(f, "  pass over {} for {} ({}): {}", e.provider, e.model, e.by, e.reason)?;
        }
        Ok(())
    }
}
