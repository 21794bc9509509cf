//! Errors as clients expect them: the OpenAI / OpenRouter shape
//! `{"error": {"message", "type", "code", "metadata"?}}` with the matching HTTP status, so the
//! official SDKs raise the right exception class.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An error answer for the client. Build with the constructors, which fix status, type and code.
/// Boxed, so `Result<_, ApiError>` stays small on the hot path.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ErrorDetail>);

/// The parts of an error answer.
#[derive(Debug, Clone)]
pub struct ErrorDetail {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: &'static str,
    pub metadata: Option<Value>,
    /// The request member the error is about (OpenAI's `param`): `messages[2].content`.
    pub param: Option<String>,
    /// The audit entry of the request, when one was written before the failure.
    pub entry: Option<u64>,
    /// Extra response headers (Retry-After, X-RateLimit-*).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorDetail {
            status,
            message: message.into(),
            kind,
            code,
            metadata: None,
            param: None,
            entry: None,
            headers: Vec::new(),
        }))
    }

    /// The parts of the answer, to read.
    pub fn detail(&self) -> &ErrorDetail {
        &self.0
    }

    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.0.param = Some(param.into());
        self
    }

    pub fn with_entry(mut self, entry: u64) -> Self {
        self.entry = Some(entry);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", "invalid_api_key", message)
    }

    pub fn payment_required(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, "insufficient_quota", "insufficient_credits", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", "forbidden", message)
    }

    pub fn policy_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", "policy_denied", message)
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("model {model:?} does not exist or no enabled provider serves it; see GET /v1/models"),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", "not_found", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("request body exceeds the limit of {limit} bytes"),
        )
    }

    pub fn upstream(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, "upstream_error", code, message)
    }

    /// Even the least call at any allowed provider costs more than the deciding rule's
    /// `max_cost_usd`: refused before anything is forwarded.
    pub fn over_cost_ceiling(rule: &str, max_cost_usd: f64, minimum_cost_usd: f64) -> Self {
        Self::new(
            StatusCode::PAYMENT_REQUIRED,
            "invalid_request_error",
            "max_cost_exceeded",
            format!(
                "policy rule {rule} allows at most {max_cost_usd} USD per call, and this call costs at least \
                 {minimum_cost_usd:.6} USD at every provider it may go to; nothing was forwarded"
            ),
        )
    }

    /// Every provider of the model is passed over because the request exceeds what it takes
    /// (context length, completion limit, input modality): a client error, not an outage.
    pub fn over_model_limits(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", "exceeds_model_limits", message)
    }

    pub fn no_provider(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "no_allowed_provider", message)
    }

    pub fn audit_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "audit_unavailable",
            "the audit log cannot be written; nothing was forwarded",
        )
    }

    /// A read of audit data whose access record cannot be written is refused (GeBueV art. 8).
    pub fn audit_read_unrecorded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "audit_unavailable",
            "the audit log cannot record this read, so nothing is revealed",
        )
    }

    /// The log failed after the request went upstream: the outcome is kept and recorded once the
    /// log recovers, but the answer cannot be given without its record.
    pub fn audit_unavailable_after_forward(answered: bool) -> Self {
        let message = if answered {
            "the upstream answered, but its answer could not be recorded, so it is withheld"
        } else {
            "the request was forwarded, but its outcome could not be recorded, so it is withheld"
        };
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "audit_unavailable_after_forward", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal_error", message)
    }

    /// A refusal by a per-key limit: 429 with Retry-After and X-RateLimit-* headers, or 402.
    pub fn limit(e: crate::accounting::LimitError) -> Self {
        use crate::accounting::LimitError;
        match e {
            LimitError::RateLimited { what, limit, retry_after } => {
                let secs = retry_after.as_secs().max(1);
                let mut err = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "rate_limit_exceeded",
                    format!("rate limit of {limit} {what} per minute reached for this key; retry in {secs} s"),
                );
                let (limit_h, remaining_h, reset_h) = match what {
                    "tokens" => {
                        ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
                    }
                    _ => ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
                };
                err.headers = vec![
                    ("retry-after", secs.to_string()),
                    (limit_h, limit.to_string()),
                    (remaining_h, "0".to_string()),
                    (reset_h, format!("{secs}s")),
                ];
                err
            }
            LimitError::Credit { limit, spent, reserved, estimate } => Self::payment_required(format!(
                "this request (estimated {estimate:.6} USD) would pass the key's credit limit of {limit:.6} USD \
                 ({spent:.6} spent, {reserved:.6} reserved by requests in flight)"
            ))
            .with_metadata(
                serde_json::json!({"limit": limit, "usage": spent, "reserved": reserved, "limit_source": "key"}),
            ),
        }
    }

    /// The JSON body, also used for error events inside a stream.
    pub fn body(&self) -> Value {
        let mut error = json!({"message": self.message, "type": self.kind, "code": self.code, "param": self.param});
        if let Some(m) = &self.metadata {
            error["metadata"] = m.clone();
        }
        json!({ "error": error })
    }
}

impl std::ops::Deref for ApiError {
    type Target = ErrorDetail;
    fn deref(&self) -> &ErrorDetail {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorDetail {
        &mut self.0
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                response.headers_mut().insert(*name, v);
            }
        }
        if let Some(entry) = self.entry {
            response.headers_mut().insert("x-auditgate-entry", HeaderValue::from(entry));
        }
        response
    }
}

/// Describe a JSON syntax error with its position ("... at line 3 column 7", as serde_json says).
pub fn json_error(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request(format!("request body is not valid JSON: {e}"))
}
