//! Model fallback order: OpenRouter's `models` parameter.
//!
//! The primary `model` comes first (when given), then `models` in order; repeats are dropped
//! and empty names ignored. The gateway plans and tries each model in turn (policy is decided
//! per model) and moves to the next model only when every provider of the current one failed.

use crate::routing::RoutingError;

/// The models to try, in order. Errors when neither `model` nor `models` names one.
pub fn model_sequence(model: Option<&str>, models: Option<&[String]>) -> Result<Vec<String>, RoutingError> {
    let listed = models.unwrap_or_default().iter().map(String::as_str);
    let mut out: Vec<String> = Vec::new();
    for name in model.into_iter().chain(listed) {
        if !name.is_empty() && !out.iter().any(|m| m == name) {
            out.push(name.to_owned());
        }
    }
    if out.is_empty() {
        return Err(RoutingError::NoModel);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn primary_first_then_list_without_duplicates() {
        let models = list(&["b", "a", "c", "b"]);
        assert_eq!(model_sequence(Some("a"), Some(&models)), Ok(list(&["a", "b", "c"])));
    }

    #[test]
    fn only_model_or_only_models() {
        assert_eq!(model_sequence(Some("a"), None), Ok(list(&["a"])));
        assert_eq!(model_sequence(None, Some(&list(&["x", "y"]))), Ok(list(&["x", "y"])));
    }

    #[test]
    fn nothing_is_an_error() {
        assert_eq!(model_sequence(None, None), Err(RoutingError::NoModel));
        assert_eq!(model_sequence(Some(""), Some(&list(&["", ""]))), Err(RoutingError::NoModel));
    }
}
