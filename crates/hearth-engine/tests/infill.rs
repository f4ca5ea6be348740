//! Fill-in-the-middle on the real SmolLM2 weights. SmolLM2's vocabulary has no
//! FIM tokens, so the test gives it some: a copy of the file whose metadata
//! names three existing tokens as the FIM prefix, suffix and middle tokens
//! (`tokenizer.ggml.fim_{pre,suf,mid}_token_id`). The answer is meaningless,
//! but the framing, token counts and capability reporting are the real path.

mod common;

use std::io::Write;
use std::path::Path;

use common::{MODEL, collect, greedy, small_config, smollm2};
use hearth_core::backend::{ChatBackend, GenerateRequest, Principal, Prompt};
use hearth_engine::{Engine, EngineConfig, ModelFiles};

/// Token ids given the FIM roles in the copy (`<repo_name>`, `<reponame>`,
/// `<file_sep>` in SmolLM2's vocabulary).
const FIM_IDS: [(&str, u32); 3] = [
    ("tokenizer.ggml.fim_pre_token_id", 3),
    ("tokenizer.ggml.fim_suf_token_id", 4),
    ("tokenizer.ggml.fim_mid_token_id", 5),
];

/// A little-endian reader over the GGUF bytes, enough to find where the
/// metadata and the tensor table end.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        out
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.u64() as usize;
        String::from_utf8_lossy(self.take(n)).into_owned()
    }
    fn value(&mut self, ty: u32) {
        match ty {
            0 | 1 | 7 => drop(self.take(1)),
            2 | 3 => drop(self.take(2)),
            4..=6 => drop(self.take(4)),
            10..=12 => drop(self.take(8)),
            8 => drop(self.string()),
            9 => {
                let (elem, n) = (self.u32(), self.u64());
                for _ in 0..n {
                    self.value(elem);
                }
            }
            other => panic!("unknown GGUF type {other}"),
        }
    }
}

/// Copy `src` to `dst` with the FIM token ids added to its metadata.
fn with_fim_tokens(src: &Path, dst: &Path) {
    let bytes = std::fs::read(src).unwrap();
    let mut c = Cursor {
        bytes: &bytes,
        pos: 0,
    };
    assert_eq!(c.take(4), b"GGUF");
    let version = c.u32();
    let tensors = c.u64();
    let kvs = c.u64();
    let kv_start = c.pos;
    let mut alignment = 32u64;
    for _ in 0..kvs {
        let key = c.string();
        let ty = c.u32();
        let at = c.pos;
        c.value(ty);
        if key == "general.alignment" {
            alignment = u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()));
        }
    }
    let kv_end = c.pos;
    for _ in 0..tensors {
        c.string();
        let dims = c.u32();
        for _ in 0..dims {
            c.u64();
        }
        c.u32();
        c.u64();
    }
    let table_end = c.pos;
    let data_start = (table_end as u64).div_ceil(alignment) * alignment;

    let mut out = Vec::with_capacity(bytes.len() + 256);
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&tensors.to_le_bytes());
    out.extend_from_slice(&(kvs + FIM_IDS.len() as u64).to_le_bytes());
    out.extend_from_slice(&bytes[kv_start..kv_end]);
    for (key, id) in FIM_IDS {
        out.extend_from_slice(&(key.len() as u64).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out.extend_from_slice(&bytes[kv_end..table_end]);
    while !(out.len() as u64).is_multiple_of(alignment) {
        out.push(0);
    }
    out.extend_from_slice(&bytes[data_start as usize..]);
    std::fs::File::create(dst)
        .and_then(|mut f| f.write_all(&out))
        .unwrap();
}

fn infill(prefix: &str, suffix: &str) -> GenerateRequest {
    GenerateRequest {
        model: MODEL.into(),
        prompt: Prompt::Infill {
            prefix: prefix.into(),
            suffix: suffix.into(),
        },
        params: greedy(8),
        principal: Principal("p".into()),
        weight: 1,
        shares_prompt: false,
    }
}

#[tokio::test]
async fn infill_frames_the_prompt_with_the_models_fim_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smol-fim.gguf");
    with_fim_tokens(&smollm2(), &path);

    // The header check sees the tokens before any weights load.
    let files = ModelFiles::new();
    files.register(MODEL, &path).unwrap();
    assert!(files.entry(MODEL).unwrap().1.info.capabilities.insert);

    let engine = Engine::new(EngineConfig {
        scheduler: small_config(1),
        ..EngineConfig::default()
    });
    engine.load(MODEL, &path).await.expect("the copy loads");
    assert!(engine.get(MODEL).unwrap().capabilities().insert);

    let (prefix, suffix) = ("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n");
    let text_tokens = {
        let loaded = engine.get(MODEL).unwrap();
        let count = |text: &str| {
            loaded
                .tokenize_prompt(&Prompt::Text(text.into()))
                .unwrap()
                .len()
        };
        count(prefix) + count(suffix)
    };
    let outcome = collect(engine.generate(infill(prefix, suffix)).await.unwrap()).await;
    // Prefix and suffix tokens plus the three FIM tokens (SmolLM2 adds no BOS).
    assert_eq!(outcome.stats.prompt_tokens as usize, text_tokens + 3);
    assert!(outcome.stats.completion_tokens > 0);
}

#[tokio::test]
async fn infill_on_a_model_without_fim_tokens_is_a_clear_error() {
    let engine = common::engine(small_config(1)).await;
    assert!(!engine.get(MODEL).unwrap().capabilities().insert);
    let err = engine.generate(infill("a", "b")).await.err().unwrap();
    assert!(
        err.to_string()
            .contains("does not support fill-in-the-middle"),
        "{err}"
    );
}
