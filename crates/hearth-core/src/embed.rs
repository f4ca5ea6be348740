//! The embedding service: validated embedding requests (from the OpenAI and
//! Ollama lanes) run against the [`EmbedBackend`] port, with `dimensions`
//! applied afterwards (truncate, then re-normalize, as for Matryoshka models).

use std::sync::Arc;

use hearth_types::{Code, ErrorCode, ollama, openai};

use crate::backend::{BackendError, EmbedBackend, EmbedRequest, Principal};
use crate::validate::{ValidationError, model_name};

/// Most inputs one request may embed.
pub const MAX_INPUTS: usize = 2048;

/// How vectors go back on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VectorEncoding {
    /// JSON floats.
    #[default]
    Float,
    /// Base64 of little-endian f32 (OpenAI `encoding_format: base64`).
    Base64,
}

/// An embedding request every check has passed.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEmbedRequest {
    /// Model name.
    pub model: String,
    /// Texts, non-empty.
    pub inputs: Vec<String>,
    /// Truncate vectors to this width.
    pub dimensions: Option<u32>,
    /// L2-normalize vectors.
    pub normalize: bool,
    /// Wire encoding of the vectors.
    pub encoding: VectorEncoding,
}

/// Vectors and token count.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedOutcome {
    /// One per input, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens read.
    pub prompt_tokens: u32,
}

/// Failure of an embedding request.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The request asks for something impossible for this model.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl ErrorCode for EmbedError {
    fn code(&self) -> Code {
        match self {
            EmbedError::Invalid(e) => e.code(),
            EmbedError::Backend(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<serde_json::Value> {
        match self {
            EmbedError::Invalid(e) => e.detail(),
            EmbedError::Backend(e) => e.detail(),
        }
    }
}

fn inputs(inputs: Vec<String>) -> Result<Vec<String>, ValidationError> {
    if inputs.is_empty() {
        return Err(ValidationError::new(
            "input",
            "input must hold at least one text",
        ));
    }
    if inputs.len() > MAX_INPUTS {
        return Err(ValidationError::new(
            "input",
            format!(
                "input takes at most {MAX_INPUTS} texts, got {}",
                inputs.len()
            ),
        ));
    }
    if let Some(i) = inputs.iter().position(String::is_empty) {
        return Err(ValidationError::new(
            format!("input[{i}]"),
            format!("input[{i}] is empty; every input must hold text"),
        ));
    }
    Ok(inputs)
}

fn dimensions(dimensions: Option<u32>) -> Result<Option<u32>, ValidationError> {
    match dimensions {
        Some(0) => Err(ValidationError::new(
            "dimensions",
            "dimensions must be at least 1",
        )),
        other => Ok(other),
    }
}

impl TryFrom<openai::EmbeddingRequest> for ValidEmbedRequest {
    type Error = ValidationError;

    fn try_from(r: openai::EmbeddingRequest) -> Result<Self, Self::Error> {
        let texts = match r.input {
            openai::TextOrTokens::Text(text) => vec![text],
            openai::TextOrTokens::Texts(texts) => texts,
            _ => {
                return Err(ValidationError::new(
                    "input",
                    "token-id inputs are not supported; send the input as text",
                ));
            }
        };
        let encoding = match r.encoding_format.as_deref() {
            None | Some("float") => VectorEncoding::Float,
            Some("base64") => VectorEncoding::Base64,
            Some(other) => {
                return Err(ValidationError::new(
                    "encoding_format",
                    format!("encoding_format must be 'float' or 'base64'; got '{other}'"),
                ));
            }
        };
        Ok(ValidEmbedRequest {
            model: model_name(&r.model)?,
            inputs: inputs(texts)?,
            dimensions: dimensions(r.dimensions)?,
            normalize: true,
            encoding,
        })
    }
}

impl TryFrom<ollama::EmbedRequest> for ValidEmbedRequest {
    type Error = ValidationError;

    fn try_from(r: ollama::EmbedRequest) -> Result<Self, Self::Error> {
        Ok(ValidEmbedRequest {
            model: model_name(&r.model)?,
            inputs: inputs(r.input.into_vec())?,
            dimensions: dimensions(r.dimensions)?,
            normalize: true,
            encoding: VectorEncoding::Float,
        })
    }
}

impl TryFrom<ollama::EmbeddingsRequest> for ValidEmbedRequest {
    type Error = ValidationError;

    fn try_from(r: ollama::EmbeddingsRequest) -> Result<Self, Self::Error> {
        if r.prompt.is_empty() {
            return Err(ValidationError::new("prompt", "prompt must hold text"));
        }
        Ok(ValidEmbedRequest {
            model: model_name(&r.model)?,
            inputs: vec![r.prompt],
            dimensions: None,
            normalize: false,
            encoding: VectorEncoding::Float,
        })
    }
}

/// Runs embedding requests.
#[derive(Clone)]
pub struct EmbedService {
    backend: Arc<dyn EmbedBackend>,
}

impl EmbedService {
    /// A service over a backend.
    pub fn new(backend: Arc<dyn EmbedBackend>) -> Self {
        EmbedService { backend }
    }

    /// Embed every input; apply `dimensions`.
    pub async fn embed(
        &self,
        request: ValidEmbedRequest,
        principal: Principal,
    ) -> Result<EmbedOutcome, EmbedError> {
        let response = self
            .backend
            .embed(EmbedRequest {
                model: request.model.clone(),
                inputs: request.inputs,
                normalize: request.normalize,
                principal,
            })
            .await?;
        let mut vectors = response.embeddings;
        if let Some(dims) = request.dimensions {
            let width = vectors.first().map_or(0, Vec::len);
            if dims as usize > width {
                return Err(ValidationError::new(
                    "dimensions",
                    format!(
                        "dimensions must be at most {width} for model '{}', got {dims}",
                        request.model
                    ),
                )
                .into());
            }
            for vector in &mut vectors {
                vector.truncate(dims as usize);
                if request.normalize {
                    normalize(vector);
                }
            }
        }
        Ok(EmbedOutcome {
            vectors,
            prompt_tokens: response.prompt_tokens,
        })
    }
}

fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_inputs_and_formats() {
        let parse = |body: serde_json::Value| {
            ValidEmbedRequest::try_from(
                serde_json::from_value::<openai::EmbeddingRequest>(body).unwrap(),
            )
        };
        let v = parse(serde_json::json!({"model": "e", "input": ["a", "b"],
                                         "encoding_format": "base64"}))
        .unwrap();
        assert_eq!((v.inputs.len(), v.encoding), (2, VectorEncoding::Base64));
        for (body, field) in [
            (serde_json::json!({"model": "e", "input": []}), "input"),
            (
                serde_json::json!({"model": "e", "input": ["a", ""]}),
                "input[1]",
            ),
            (serde_json::json!({"model": "e", "input": [1, 2]}), "input"),
            (
                serde_json::json!({"model": "e", "input": "a", "encoding_format": "hex"}),
                "encoding_format",
            ),
            (
                serde_json::json!({"model": "e", "input": "a", "dimensions": 0}),
                "dimensions",
            ),
        ] {
            assert_eq!(parse(body.clone()).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn normalize_makes_unit_vectors() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
    }
}
