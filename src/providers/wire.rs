//! What goes on the wire to each provider, in its own dialect: the request body built from the
//! gateway's OpenAI-form template, the answer read back into OpenAI form, the message inside an
//! error answer, and the translator of a streamed answer. The rest of the gateway never asks which
//! dialect a provider speaks.

use bytes::Bytes;
use serde_json::Value;

use super::anthropic::{self, StreamTranslator, TranslateError};
use super::Upstream;
use crate::config::ProviderKind;

/// An answer as the provider sent it, or translated into OpenAI form.
pub enum Answer {
    /// The provider speaks OpenAI: its bytes, to be stamped as they are.
    OpenAi(Bytes),
    /// Translated from the provider's dialect.
    Translated(Value),
}

/// Why a provider's answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("{0} returned a malformed answer")]
    Malformed(String),
    #[error(transparent)]
    Untranslatable(#[from] TranslateError),
}

impl Upstream {
    /// The request body this provider takes for `template` (the request minus the gateway's own
    /// fields), naming `upstream_model`; for a stream, usage is always asked for.
    pub fn encode_request(
        &self,
        template: &Value,
        upstream_model: &str,
        streaming: bool,
    ) -> Result<Bytes, TranslateError> {
        match self.kind {
            ProviderKind::Anthropic => {
                let openai = openai_value(template, upstream_model);
                let translated = anthropic::to_anthropic_request(&openai, upstream_model)?;
                Ok(Bytes::from(serde_json::to_vec(&translated).unwrap_or_default()))
            }
            ProviderKind::Openai | ProviderKind::Demo => Ok(openai_body(template, upstream_model, streaming)),
        }
    }

    /// A successful non-streaming answer, read into OpenAI form.
    pub fn read_answer(&self, bytes: Bytes) -> Result<Answer, AnswerError> {
        match self.kind {
            ProviderKind::Anthropic => {
                let json: Value = serde_json::from_slice(&bytes).map_err(|_| self.malformed())?;
                if !json.is_object() {
                    return Err(self.malformed());
                }
                Ok(Answer::Translated(anthropic::from_anthropic_response(&json)?))
            }
            ProviderKind::Openai | ProviderKind::Demo => Ok(Answer::OpenAi(bytes)),
        }
    }

    /// The human message inside an error answer with `status`, whatever its shape.
    pub fn error_detail(&self, status: u16, body: &[u8]) -> String {
        match self.kind {
            ProviderKind::Anthropic => anthropic::error_message(status, body),
            ProviderKind::Openai | ProviderKind::Demo => openai_error_message(body),
        }
    }

    /// Turns this provider's stream events into OpenAI chunks; None when they already are.
    pub fn stream_translator(&self, public_model: &str) -> Option<StreamTranslator> {
        (self.kind == ProviderKind::Anthropic).then(|| StreamTranslator::new(public_model))
    }

    fn malformed(&self) -> AnswerError {
        AnswerError::Malformed(self.name().to_string())
    }
}

/// The body for one provider, serialized without copying the request: its own model id first,
/// then the request's fields, with `stream_options.include_usage` forced on for streams (the gateway
/// always needs usage for cost and the audit entry).
struct OpenAiBody<'a> {
    model: &'a str,
    fields: Option<&'a serde_json::Map<String, Value>>,
    stream_usage: bool,
}

impl serde::Serialize for OpenAiBody<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("model", self.model)?;
        let mut saw_options = false;
        for (k, v) in self.fields.into_iter().flatten() {
            if self.stream_usage && k == "stream_options" {
                saw_options = true;
                let mut opts = v.as_object().cloned().unwrap_or_default();
                opts.insert("include_usage".into(), Value::Bool(true));
                map.serialize_entry(k, &opts)?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        if self.stream_usage && !saw_options {
            map.serialize_entry("stream_options", &serde_json::json!({"include_usage": true}))?;
        }
        map.end()
    }
}

/// Serialize the body for one OpenAI-compatible provider.
pub fn openai_body(template: &Value, upstream_model: &str, force_stream_usage: bool) -> Bytes {
    let body = OpenAiBody { model: upstream_model, fields: template.as_object(), stream_usage: force_stream_usage };
    // Sized for a typical chat request: serde_json's own buffer starts at 128 bytes and would be
    // reallocated and copied five times on the way to 2 KB.
    let mut bytes = Vec::with_capacity(4096);
    match serde_json::to_writer(&mut bytes, &body) {
        Ok(()) => Bytes::from(bytes),
        Err(_) => Bytes::new(),
    }
}

/// The same body as a JSON value, for providers whose API needs a translation first.
fn openai_value(template: &Value, upstream_model: &str) -> Value {
    let body = OpenAiBody { model: upstream_model, fields: template.as_object(), stream_usage: false };
    serde_json::to_value(&body).unwrap_or(Value::Null)
}

/// The message inside an OpenAI-style error body (`error.message`, `error`, `message`, `detail`),
/// or the start of the body as text.
fn openai_error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let found = v
            .pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"));
        if let Some(m) = found {
            return m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string());
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no details given".into()
    } else {
        text.chars().take(300).collect()
    }
}
