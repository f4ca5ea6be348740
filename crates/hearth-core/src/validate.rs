//! [`ValidationError`]: a request field that is malformed or out of range, named
//! so every lane can point at it (OpenAI's `param`, the envelope's
//! `detail.field`). Plus the small range checks the `Valid*` conversions share.

use hearth_types::{Code, ErrorCode};

/// A field of a request is wrong; the message names it and its bounds.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Path of the field, e.g. `temperature` or `messages[2].content`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl ValidationError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl ErrorCode for ValidationError {
    fn code(&self) -> Code {
        Code::Validation
    }

    fn detail(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "field": self.field }))
    }
}

/// `Ok(v)` when `v` is absent or within `lo..=hi`.
pub fn in_range_f32(
    field: &str,
    value: Option<f32>,
    lo: f32,
    hi: f32,
) -> Result<Option<f32>, ValidationError> {
    match value {
        Some(v) if !(lo..=hi).contains(&v) || v.is_nan() => Err(ValidationError::new(
            field,
            format!("{field} must be between {lo} and {hi}, got {v}"),
        )),
        other => Ok(other),
    }
}

/// `Ok(v)` when `v` is absent or within `lo..=hi`.
pub fn in_range_u32(
    field: &str,
    value: Option<u32>,
    lo: u32,
    hi: u32,
) -> Result<Option<u32>, ValidationError> {
    match value {
        Some(v) if !(lo..=hi).contains(&v) => Err(ValidationError::new(
            field,
            format!("{field} must be between {lo} and {hi}, got {v}"),
        )),
        other => Ok(other),
    }
}

/// The model name, non-empty.
pub fn model_name(model: &str) -> Result<String, ValidationError> {
    let model = model.trim();
    if model.is_empty() {
        return Err(ValidationError::new(
            "model",
            "model must name a model; list them with GET /v1/models or /api/tags",
        ));
    }
    Ok(model.to_owned())
}

/// Stop strings: empty ones dropped, at most [`MAX_STOP`].
pub fn stop_strings(field: &str, stop: Vec<String>) -> Result<Vec<String>, ValidationError> {
    let stop: Vec<String> = stop.into_iter().filter(|s| !s.is_empty()).collect();
    if stop.len() > MAX_STOP {
        return Err(ValidationError::new(
            field,
            format!(
                "{field} takes at most {MAX_STOP} strings, got {}",
                stop.len()
            ),
        ));
    }
    Ok(stop)
}

/// Most stop strings a request may give.
pub const MAX_STOP: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_the_field_and_bounds() {
        let err = in_range_f32("temperature", Some(3.0), 0.0, 2.0).unwrap_err();
        assert_eq!(err.field, "temperature");
        assert_eq!(err.message, "temperature must be between 0 and 2, got 3");
        assert!(in_range_f32("t", Some(f32::NAN), 0.0, 2.0).is_err());
        assert_eq!(in_range_u32("n", None, 1, 16), Ok(None));
        assert_eq!(err.detail().unwrap()["field"], "temperature");
    }

    #[test]
    fn stop_drops_empty_and_caps_count() {
        assert_eq!(
            stop_strings("stop", vec!["".into(), "x".into()]).unwrap(),
            vec!["x"]
        );
        assert!(stop_strings("stop", vec!["a".into(); 17]).is_err());
    }
}
