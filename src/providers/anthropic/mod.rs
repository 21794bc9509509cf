//! Anthropic Messages API translation, in both directions, as pure functions over `serde_json::Value`.
//!
//! The gateway speaks OpenAI chat completions internally. This module converts:
//!
//! * **egress** (gateway -> Anthropic upstream): [`to_anthropic_request`] turns an OpenAI chat request
//!   into a Messages request, [`from_anthropic_response`] turns the Messages response back into a
//!   `chat.completion`, [`StreamTranslator`] turns Anthropic SSE events into `chat.completion.chunk`s,
//!   and [`error_message`] extracts a readable message from an Anthropic error body;
//! * **ingress** (Anthropic-format clients -> gateway, `POST /v1/messages`): [`messages_to_openai`],
//!   [`openai_to_messages_response`], [`MessagesStreamEncoder`] and [`error_body`].
//!
//! Nothing here does I/O. The HTTP layer must send, for every upstream call, `POST {base}/v1/messages`
//! ([`MESSAGES_PATH`]) with the headers [`API_KEY_HEADER`] (the provider's key, not a bearer token),
//! [`VERSION_HEADER`]: [`ANTHROPIC_VERSION`] and `content-type: application/json`.
//!
//! Translation failures are typed ([`TranslateError`]); none of these functions panics on any input.

mod egress;
mod encoder;
mod ingress;
mod stream;

pub use egress::{error_message, from_anthropic_response, to_anthropic_request, upstream_headers, DEFAULT_MAX_TOKENS};
pub use encoder::MessagesStreamEncoder;
pub use ingress::{error_body, error_type_for_status, messages_to_openai, openai_to_messages_response};
pub use stream::StreamTranslator;

use serde_json::{Map, Value};

/// Path of the Messages endpoint, relative to the provider's base URL (which has no `/v1`).
pub const MESSAGES_PATH: &str = "/v1/messages";
/// Header carrying the Anthropic API key (Anthropic does not accept `Authorization: Bearer`).
pub const API_KEY_HEADER: &str = "x-api-key";
/// Header selecting the API version; required on every request.
pub const VERSION_HEADER: &str = "anthropic-version";
/// The API version this translation targets.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Why a request, response or event could not be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// A value had the wrong JSON type (e.g. `messages` is not an array).
    #[error("{field} must be {expected}")]
    WrongType { field: String, expected: &'static str },
    /// A required field is absent.
    #[error("missing required field {0}")]
    Missing(String),
    /// A field is present and well-typed but its value is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The input uses a feature the other API cannot express (e.g. `n` > 1, audio parts).
    #[error("not supported by the Anthropic translation: {0}")]
    Unsupported(String),
    /// The upstream reported an error (an Anthropic `error` body or stream event).
    #[error("upstream {kind}: {message}")]
    Upstream { kind: String, message: String },
}

impl TranslateError {
    /// HTTP status the gateway should answer with when it surfaces this error to a client:
    /// 400 for bad client input, the mapped status for upstream errors (see [`upstream_status`]).
    pub fn status(&self) -> u16 {
        match self {
            TranslateError::Upstream { kind, .. } => upstream_status(kind),
            _ => 400,
        }
    }
}

/// HTTP status that corresponds to an Anthropic error `type` (used for `error` stream events, which
/// arrive after a 200). Unknown types count as a bad gateway.
pub fn upstream_status(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 502,
    }
}

fn wrong(field: impl Into<String>, expected: &'static str) -> TranslateError {
    TranslateError::WrongType { field: field.into(), expected }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> TranslateError {
    TranslateError::Invalid { field: field.into(), reason: reason.into() }
}

/// The value as an object, or a `WrongType` error naming `field`.
fn as_object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, TranslateError> {
    v.as_object().ok_or_else(|| wrong(field, "an object"))
}

/// An optional field: absent and `null` both give `None`.
fn opt<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// An optional string field; present with another type is an error.
fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str, field: &str) -> Result<Option<&'a str>, TranslateError> {
    match opt(obj, key) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| wrong(field, "a string")),
    }
}

/// A required string field.
fn req_str<'a>(obj: &'a Map<String, Value>, key: &str, field: &str) -> Result<&'a str, TranslateError> {
    opt_str(obj, key, field)?.ok_or_else(|| TranslateError::Missing(field.to_string()))
}

/// A non-negative integer read leniently (token counts); anything else counts as zero.
fn count(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_errors_map_to_their_http_status() {
        assert_eq!(upstream_status("overloaded_error"), 529);
        assert_eq!(upstream_status("rate_limit_error"), 429);
        assert_eq!(upstream_status("something_new"), 502);
        let e = TranslateError::Upstream { kind: "authentication_error".into(), message: "bad key".into() };
        assert_eq!(e.status(), 401);
        assert_eq!(TranslateError::Missing("messages".into()).status(), 400);
    }
}
