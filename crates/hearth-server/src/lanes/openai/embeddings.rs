//! `POST /v1/embeddings`.

use axum::Json;
use axum::extract::State;
use hearth_core::embed::{EmbedService, ValidEmbedRequest, VectorEncoding};
use hearth_types::openai::{
    Embedding, EmbeddingList, EmbeddingRequest, EmbeddingUsage, EmbeddingVector,
};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

/// `POST /v1/embeddings`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<EmbeddingRequest>,
) -> Result<Json<EmbeddingList>, ApiError> {
    super::ignore_unknown("/v1/embeddings", &body.unknown);
    let request = ValidEmbedRequest::try_from(body)?;
    let (model, encoding) = (request.model.clone(), request.encoding);
    caller.require_model(&request.model)?;
    let outcome = EmbedService::new(state.embed.clone())
        .embed(request, caller.principal)
        .await?;
    let data = outcome
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| Embedding {
            object: "embedding".to_owned(),
            index: index as u32,
            embedding: match encoding {
                VectorEncoding::Float => EmbeddingVector::Float(vector),
                VectorEncoding::Base64 => EmbeddingVector::Base64(base64_f32(&vector)),
            },
        })
        .collect();
    Ok(Json(EmbeddingList {
        object: "list".to_owned(),
        data,
        model,
        usage: EmbeddingUsage {
            prompt_tokens: outcome.prompt_tokens,
            total_tokens: outcome.prompt_tokens,
        },
    }))
}

/// Standard base64 (with padding) of the vector's little-endian f32 bytes, as
/// the OpenAI SDKs decode it.
pub fn base64_f32(vector: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64_f32;

    #[test]
    fn base64_matches_reference() {
        // 1.0f32 = 00 00 80 3f; python: base64.b64encode(struct.pack('<f', 1.0)) == b'AACAPw=='
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        // [1.0, -2.0] = 00 00 80 3f 00 00 00 c0 → 'AACAPwAAAMA='
        assert_eq!(base64_f32(&[1.0, -2.0]), "AACAPwAAAMA=");
        assert_eq!(base64_f32(&[]), "");
    }
}
