//! Client dialects beside chat completions that the gateway serves by translation: the legacy
//! completions API (`POST /v1/completions`) and the Responses API (`POST /v1/responses`).
//!
//! Each request is translated at the edge into the gateway's working form (an OpenAI chat request),
//! so it is validated, classified, decided, routed, recorded and forwarded exactly as a chat request
//! is: the walk of `pii::request` scans the translated body, which is all that goes upstream. The
//! answer (whole or streamed) is translated back. A member the translation cannot carry is never
//! dropped quietly: it is refused with 400 naming it, or, where `[request] unsupported = "ignore"`
//! allows, dropped and named in `x-auditgate-ignored`. Members of the gateway's own output that a
//! client sends back (an item's `id` and `status`) carry nothing for the model and are left out.
//!
//! Pure functions over `serde_json::Value`; nothing here does I/O or panics on any input.

pub mod completions;
pub mod responses;

use serde_json::{Map, Value};

use crate::config::Unsupported;

/// Why a request cannot be translated: a 400 naming the member at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DialectError {
    /// The member at fault, as a path (`input[2].content[0].type`).
    pub param: String,
    pub message: String,
}

/// A client request in the gateway's working form.
#[derive(Debug, Default)]
pub struct Translated {
    /// The OpenAI chat request, gateway fields (`models`, `provider`, ...) passed on unchanged.
    pub chat: Value,
    /// Members dropped under `[request] unsupported = "ignore"`, for `x-auditgate-ignored`.
    pub ignored: Vec<String>,
    /// The request members the answer repeats (the Responses object echoes its parameters).
    pub echo: Value,
}

fn refuse(param: impl Into<String>, message: impl Into<String>) -> DialectError {
    DialectError { param: param.into(), message: message.into() }
}

fn wrong_type(param: &str, expected: &str) -> DialectError {
    refuse(param, format!("'{param}' must be {expected}"))
}

/// The parameters of one request the gateway knows but cannot honour, refused or noted as the
/// `[request] unsupported` setting says.
struct Unhonoured {
    setting: Unsupported,
    ignored: Vec<String>,
}

impl Unhonoured {
    fn new(setting: Unsupported) -> Self {
        Unhonoured { setting, ignored: Vec::new() }
    }

    /// `param` cannot be honoured because of `why`: Err under `refuse`, noted under `ignore`.
    fn cannot(&mut self, param: &str, why: &str) -> Result<(), DialectError> {
        match self.setting {
            Unsupported::Refuse => Err(refuse(
                param,
                format!("{param} is not supported by this gateway: {why} ([request] unsupported = \"ignore\" drops it instead)"),
            )),
            Unsupported::Ignore => {
                self.ignored.push(param.to_string());
                Ok(())
            }
        }
    }
}

/// A member that is absent or null.
fn absent(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).is_none_or(Value::is_null)
}

/// Move the members no translation rule claimed into the chat request, refusing one whose name
/// the translation already produced (a chat field such as `messages` sent to another API).
fn pass_on(
    rest: impl Iterator<Item = (String, Value)>,
    chat: &mut Map<String, Value>,
    api: &str,
) -> Result<(), DialectError> {
    for (k, v) in rest {
        if chat.contains_key(&k) {
            return Err(refuse(
                &k,
                format!("'{k}' is not a member of the {api}; it would collide with its translation"),
            ));
        }
        chat.insert(k, v);
    }
    Ok(())
}
