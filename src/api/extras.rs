//! OpenRouter's request extras beside the OpenAI schema: `usage`, `route`, `transforms`,
//! `plugins` and the `:online` and `:free` model variants. What the gateway does is honoured; what
//! it cannot do is refused with a 400 naming the parameter, or, with `[request] unsupported =
//! "ignore"`, dropped and named in the answer's `x-auditgate-ignored` header. Never silence.

use serde_json::Value;

use super::ApiError;
use crate::config::Unsupported;

/// What the extras of one request ask for.
#[derive(Debug, Default, PartialEq)]
pub struct Extras {
    /// `usage: {"include": false}` asks for no usage chunk at the end of a stream; `true` or
    /// nothing keeps it (OpenRouter always sends it; answers always carry usage).
    pub include_usage: Option<bool>,
    /// The parameters dropped under `unsupported = "ignore"`, for the `x-auditgate-ignored` header.
    pub ignored: Vec<String>,
}

/// Read the extras of `req` (before the gateway's own fields are stripped).
pub fn read(req: &Value, models: &[String], unsupported: Unsupported) -> Result<Extras, ApiError> {
    let mut extras = Extras::default();
    let mut cannot = |name: &str, why: &str| -> Result<(), ApiError> {
        match unsupported {
            Unsupported::Refuse => Err(ApiError::bad_request(format!(
                "{name} is not supported by this gateway: {why} ([request] unsupported = \"ignore\" drops it instead)"
            ))
            .with_param(name.to_string())),
            Unsupported::Ignore => {
                extras.ignored.push(name.to_string());
                Ok(())
            }
        }
    };
    match req.get("usage") {
        None | Some(Value::Null) => {}
        Some(Value::Object(u)) if u.keys().all(|k| k == "include") => match u.get("include") {
            Some(Value::Bool(b)) => extras.include_usage = Some(*b),
            None => {}
            Some(_) => return Err(ApiError::bad_request("'usage.include' must be a boolean").with_param("usage")),
        },
        Some(_) => return Err(ApiError::bad_request("'usage' must be {\"include\": true|false}").with_param("usage")),
    }
    match req.get("route") {
        // The `models` list is always tried in order: what `route: "fallback"` asks for.
        None | Some(Value::Null) => {}
        Some(Value::String(r)) if r == "fallback" => {}
        Some(_) => cannot("route", "only \"fallback\" (the `models` list tried in order) is implemented")?,
    }
    if non_empty(req.get("transforms")) {
        cannot("transforms", "prompt transforms (middle-out) would change what was classified and recorded")?;
    }
    if non_empty(req.get("plugins")) {
        cannot("plugins", "plugins (web search, file parsing) are not implemented")?;
    }
    if models.iter().any(|m| m.ends_with(":online")) {
        cannot("model", "the :online variant needs web search, which is not implemented")?;
    }
    Ok(extras)
}

fn non_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// A requested model without its `:free` suffix, and whether it had one: only providers that
/// charge nothing for it may serve.
pub fn free_variant(model: &str) -> (&str, bool) {
    match model.strip_suffix(":free") {
        Some(base) => (base, true),
        None => (model, false),
    }
}

/// A requested model without an `:online` suffix (refused or ignored by [`read`]).
pub fn without_online(model: &str) -> &str {
    model.strip_suffix(":online").unwrap_or(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_is_done_passes_and_what_is_not_is_refused_or_named() {
        let ok =
            read(&json!({"usage": {"include": true}, "route": "fallback", "transforms": []}), &[], Unsupported::Refuse)
                .unwrap();
        assert!(ok.include_usage == Some(true) && ok.ignored.is_empty());
        let refused = read(&json!({"transforms": ["middle-out"]}), &[], Unsupported::Refuse).unwrap_err();
        assert_eq!(refused.status.as_u16(), 400);
        assert_eq!(refused.param.as_deref(), Some("transforms"));
        let online = ["m:online".to_string()];
        let ignored = read(&json!({"plugins": [{"id": "web"}]}), &online, Unsupported::Ignore).unwrap();
        assert_eq!(ignored.ignored, ["plugins", "model"]);
        assert!(read(&json!({"usage": {"include": "yes"}}), &[], Unsupported::Ignore).is_err());
        assert_eq!(free_variant("a/b:free"), ("a/b", true));
        assert_eq!(free_variant("a/b"), ("a/b", false));
    }
}
