//! Sampling parameters of a conversation or a message, as stored (a JSON object)
//! and validated: unknown keys and out-of-range values are refused with the
//! field named.

use serde::{Deserialize, Serialize};

use super::error::ConversationError;
use crate::backend::SamplingParams;

/// The parameters a conversation or a send may set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatParams {
    /// Maximum tokens of the answer (1–32768).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// 0–2; 0 is greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// 0 disables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    /// 0–2 (1 is off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f64>,
    /// Same seed, same output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Up to 4 stop strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

impl ChatParams {
    /// Parse and check a stored or submitted JSON object (`null` means none).
    pub fn from_json(value: &serde_json::Value) -> Result<ChatParams, ConversationError> {
        if value.is_null() {
            return Ok(ChatParams::default());
        }
        let params: ChatParams = serde_json::from_value(value.clone())
            .map_err(|e| ConversationError::invalid("params", format!("invalid params: {e}")))?;
        params.check()?;
        Ok(params)
    }

    /// The JSON object stored.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }

    fn check(&self) -> Result<(), ConversationError> {
        fn range(name: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<(), ConversationError> {
            match v {
                Some(x) if !(lo..=hi).contains(&x) => Err(ConversationError::invalid(
                    "params",
                    format!("params.{name} must be between {lo} and {hi}"),
                )),
                _ => Ok(()),
            }
        }
        range("temperature", self.temperature, 0.0, 2.0)?;
        range("top_p", self.top_p, 0.0, 1.0)?;
        range("min_p", self.min_p, 0.0, 1.0)?;
        range("repeat_penalty", self.repeat_penalty, 0.0, 2.0)?;
        if let Some(n) = self.max_tokens
            && !(1..=32768).contains(&n)
        {
            return Err(ConversationError::invalid(
                "params",
                "params.max_tokens must be between 1 and 32768",
            ));
        }
        if self.stop.len() > 4 || self.stop.iter().any(String::is_empty) {
            return Err(ConversationError::invalid(
                "params",
                "params.stop takes up to 4 non-empty strings",
            ));
        }
        Ok(())
    }

    /// The sampling parameters given to the backend.
    pub fn sampling(&self) -> SamplingParams {
        SamplingParams {
            max_tokens: self.max_tokens,
            temperature: self.temperature.map(|v| v as f32),
            top_p: self.top_p.map(|v| v as f32),
            top_k: self.top_k,
            min_p: self.min_p.map(|v| v as f32),
            repeat_penalty: self.repeat_penalty.map(|v| v as f32),
            seed: self.seed,
            stop: self.stop.clone(),
            ..SamplingParams::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_out_of_range_are_refused() {
        assert!(ChatParams::from_json(&serde_json::json!({"temprature": 1})).is_err());
        assert!(ChatParams::from_json(&serde_json::json!({"temperature": 3.0})).is_err());
        assert!(ChatParams::from_json(&serde_json::json!({"max_tokens": 0})).is_err());
        let ok =
            ChatParams::from_json(&serde_json::json!({"temperature": 0.5, "seed": 1})).unwrap();
        assert_eq!(ok.sampling().seed, Some(1));
        assert_eq!(
            ChatParams::from_json(&serde_json::Value::Null).unwrap(),
            ChatParams::default()
        );
    }
}
