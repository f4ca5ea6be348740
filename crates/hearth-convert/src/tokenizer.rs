//! The WordPiece vocabulary, rewritten the way llama.cpp's WPM tokenizer
//! (`tokenizer.ggml.model = "bert"`) looks tokens up: it prefixes every word
//! with `▁` (U+2581) and matches greedily, so a word-initial piece `foo` is
//! stored as `▁foo`, a continuation `##foo` as `foo`, and special tokens
//! (`[CLS]`…) as they are. Normalization flags (lower-casing, accent
//! stripping) and the special token ids come from the checkpoint.
//!
//! Sources, in order: `tokenizer.json` (the `tokenizers` library's file) when
//! present, else `vocab.txt` with `special_tokens_map.json` and
//! `tokenizer_config.json`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::ConvertError;
use crate::read_json;

/// The word-start marker of llama.cpp's WPM tokenizer.
const WORD_START: &str = "\u{2581}";

/// llama.cpp token types (`LLAMA_TOKEN_TYPE_*`).
const NORMAL: i32 = 1;
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const UNUSED: i32 = 5;

/// A vocabulary ready for GGUF.
#[derive(Debug, Clone)]
pub struct Vocab {
    /// Token texts in id order, rewritten for llama.cpp.
    pub tokens: Vec<String>,
    /// llama.cpp token types, parallel to `tokens`.
    pub types: Vec<i32>,
    /// `[CLS]`: prepended to every input (llama.cpp's BOS for BERT).
    pub cls: u32,
    /// `[SEP]`: appended to every input.
    pub sep: u32,
    /// `[UNK]`.
    pub unk: u32,
    /// `[PAD]`, if the vocabulary has it.
    pub pad: Option<u32>,
    /// `[MASK]`, if the vocabulary has it.
    pub mask: Option<u32>,
    /// Lower-case the input before lookup.
    pub lowercase: bool,
    /// Strip accents (NFD, drop combining marks) before lookup.
    pub strip_accents: bool,
}

/// The parts of `tokenizer.json` we read.
#[derive(Deserialize)]
struct TokenizerJson {
    model: TokenizerModel,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
    #[serde(default)]
    normalizer: Option<Json>,
}

#[derive(Deserialize)]
struct TokenizerModel {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    vocab: BTreeMap<String, u64>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    unk_token: Option<String>,
}

#[derive(Deserialize)]
struct AddedToken {
    id: u64,
    content: String,
    #[serde(default)]
    special: bool,
}

/// Raw vocabulary before the rewrite.
struct RawVocab {
    /// Token texts by id.
    tokens: Vec<String>,
    /// Texts of special tokens.
    special: HashSet<String>,
    subword_prefix: String,
    lowercase: Option<bool>,
    strip_accents: Option<bool>,
}

/// Read the vocabulary of the checkpoint in `dir`; `rows` is the number of
/// rows of the word embeddings (the vocabulary is padded to it).
pub fn load(dir: &Path, rows: u64) -> Result<Vocab, ConvertError> {
    let json_path = dir.join("tokenizer.json");
    let mut raw = if json_path.exists() {
        from_tokenizer_json(&json_path)?
    } else {
        from_vocab_txt(dir)?
    };
    let config = dir.join("tokenizer_config.json");
    let config: Option<Json> = if config.exists() {
        Some(read_json(&config, "")?)
    } else {
        None
    };
    let names = special_names(dir, config.as_ref())?;
    raw.special.extend(names.values().cloned());
    if raw.lowercase.is_none() {
        raw.lowercase = config
            .as_ref()
            .and_then(|c| c.get("do_lower_case"))
            .and_then(Json::as_bool);
    }
    rewrite(raw, &names, rows)
}

fn from_tokenizer_json(path: &Path) -> Result<RawVocab, ConvertError> {
    let parsed: TokenizerJson = read_json(path, "")?;
    let kind = parsed.model.kind.as_deref().unwrap_or("");
    if kind != "WordPiece" {
        return Err(ConvertError::Tokenizer(format!(
            "{} has a {kind:?} model; a BERT checkpoint needs WordPiece",
            path.display()
        )));
    }
    let mut by_id: BTreeMap<u64, String> = BTreeMap::new();
    let entries = parsed.model.vocab.into_iter().chain(
        parsed
            .added_tokens
            .iter()
            .map(|t| (t.content.clone(), t.id)),
    );
    for (text, id) in entries {
        if let Some(other) = by_id.insert(id, text.clone())
            && other != text
        {
            return Err(ConvertError::Tokenizer(format!(
                "ids collide: {other:?} and {text:?} both have id {id}"
            )));
        }
    }
    let tokens = dense(by_id)?;
    let mut special: HashSet<String> = parsed
        .added_tokens
        .into_iter()
        .filter(|t| t.special)
        .map(|t| t.content)
        .collect();
    special.extend(parsed.model.unk_token);
    let normalizer = parsed.normalizer.unwrap_or(Json::Null);
    let (lowercase, strip_accents) =
        if normalizer.get("type").and_then(Json::as_str) == Some("BertNormalizer") {
            (
                Some(
                    normalizer
                        .get("lowercase")
                        .and_then(Json::as_bool)
                        .unwrap_or(true),
                ),
                normalizer.get("strip_accents").and_then(Json::as_bool),
            )
        } else {
            (None, None)
        };
    Ok(RawVocab {
        tokens,
        special,
        subword_prefix: parsed
            .model
            .continuing_subword_prefix
            .unwrap_or_else(|| "##".into()),
        lowercase,
        strip_accents,
    })
}

/// The ids must be exactly `0..n`.
fn dense(by_id: BTreeMap<u64, String>) -> Result<Vec<String>, ConvertError> {
    let n = by_id.len() as u64;
    if let Some((&id, _)) = by_id.iter().next_back()
        && id + 1 != n
    {
        return Err(ConvertError::Tokenizer(format!(
            "token ids are not contiguous: {n} tokens but the largest id is {id}"
        )));
    }
    Ok(by_id.into_values().collect())
}

fn from_vocab_txt(dir: &Path) -> Result<RawVocab, ConvertError> {
    let path = dir.join("vocab.txt");
    let text = std::fs::read_to_string(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConvertError::MissingFile {
            path: path.clone(),
            hint: " (a BERT checkpoint needs tokenizer.json or vocab.txt)".into(),
        },
        _ => ConvertError::Io {
            path: path.clone(),
            source,
        },
    })?;
    let tokens: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect();
    Ok(RawVocab {
        tokens,
        special: HashSet::new(),
        subword_prefix: "##".into(),
        lowercase: None,
        strip_accents: None,
    })
}

/// Texts of the special tokens by role (`cls`, `sep`, `unk`, `pad`, `mask`):
/// from `special_tokens_map.json` or `tokenizer_config.json`, else BERT's.
fn special_names(
    dir: &Path,
    config: Option<&Json>,
) -> Result<BTreeMap<&'static str, String>, ConvertError> {
    let map_path = dir.join("special_tokens_map.json");
    let map: Option<Json> = if map_path.exists() {
        Some(read_json(&map_path, "")?)
    } else {
        None
    };
    let text = |v: &Json| -> Option<String> {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v.get("content").and_then(Json::as_str).map(str::to_owned))
    };
    let mut names = BTreeMap::new();
    for (role, default) in [
        ("cls", "[CLS]"),
        ("sep", "[SEP]"),
        ("unk", "[UNK]"),
        ("pad", "[PAD]"),
        ("mask", "[MASK]"),
    ] {
        let key = format!("{role}_token");
        let found = [map.as_ref(), config]
            .into_iter()
            .flatten()
            .find_map(|j| j.get(&key).and_then(text));
        names.insert(role, found.unwrap_or_else(|| default.to_owned()));
    }
    Ok(names)
}

fn rewrite(
    raw: RawVocab,
    names: &BTreeMap<&'static str, String>,
    rows: u64,
) -> Result<Vocab, ConvertError> {
    if raw.tokens.len() as u64 > rows {
        return Err(ConvertError::Tokenizer(format!(
            "the vocabulary has {} tokens but the word embeddings only {rows} rows",
            raw.tokens.len()
        )));
    }
    let id_of = |role: &str| -> Option<u32> {
        let text = names.get(role)?;
        raw.tokens
            .iter()
            .position(|t| t == text)
            .and_then(|i| u32::try_from(i).ok())
    };
    let required = |role: &str| {
        id_of(role).ok_or_else(|| {
            ConvertError::Tokenizer(format!(
                "the {role} token {:?} is not in the vocabulary",
                names.get(role).map(String::as_str).unwrap_or("")
            ))
        })
    };
    let (cls, sep, unk) = (required("cls")?, required("sep")?, required("unk")?);
    let (pad, mask) = (id_of("pad"), id_of("mask"));
    let unk_text = raw.tokens[unk as usize].clone();
    let mut tokens = Vec::with_capacity(rows as usize);
    let mut types = Vec::with_capacity(rows as usize);
    let mut seen = HashSet::with_capacity(rows as usize);
    for token in raw.tokens {
        let (text, ty) = if token == unk_text {
            (token, UNKNOWN)
        } else if raw.special.contains(&token) {
            (token, CONTROL)
        } else if let Some(rest) = token
            .strip_prefix(raw.subword_prefix.as_str())
            .filter(|r| !r.is_empty())
        {
            (rest.to_owned(), NORMAL)
        } else {
            (format!("{WORD_START}{token}"), NORMAL)
        };
        if !seen.insert(text.clone()) {
            return Err(ConvertError::Tokenizer(format!(
                "two tokens become {text:?} in llama.cpp's WordPiece form"
            )));
        }
        tokens.push(text);
        types.push(ty);
    }
    // Embedding rows past the vocabulary: unused placeholders.
    for i in tokens.len() as u64..rows {
        let text = format!("[hearth-unused-{i}]");
        seen.insert(text.clone());
        tokens.push(text);
        types.push(UNUSED);
    }
    let lowercase = raw.lowercase.unwrap_or(true);
    Ok(Vocab {
        tokens,
        types,
        cls,
        sep,
        unk,
        pad,
        mask,
        lowercase,
        strip_accents: raw.strip_accents.unwrap_or(lowercase),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const VOCAB: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\ncat\n#\n##\n";

    #[test]
    fn vocab_txt_is_rewritten_for_wpm() {
        let dir = dir_with(&[("vocab.txt", VOCAB)]);
        let v = load(dir.path(), 12).unwrap();
        assert_eq!(
            v.tokens[..10],
            [
                "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "▁the", "s", "▁cat", "▁#", "▁##"
            ]
        );
        assert_eq!(
            v.types[..8],
            [
                CONTROL, UNKNOWN, CONTROL, CONTROL, CONTROL, NORMAL, NORMAL, NORMAL
            ]
        );
        assert_eq!(v.tokens[10], "[hearth-unused-10]");
        assert_eq!(v.types[11], UNUSED);
        assert_eq!(
            (v.cls, v.sep, v.unk, v.pad, v.mask),
            (2, 3, 1, Some(0), Some(4))
        );
        assert!(v.lowercase && v.strip_accents);
    }

    #[test]
    fn tokenizer_json_wins_and_sets_the_normalizer() {
        let json = r###"{"added_tokens":[{"id":0,"content":"<cls>","special":true},
            {"id":1,"content":"<sep>","special":true}],
            "normalizer":{"type":"BertNormalizer","lowercase":false,"strip_accents":null},
            "model":{"type":"WordPiece","unk_token":"<unk>","continuing_subword_prefix":"##",
            "vocab":{"<cls>":0,"<sep>":1,"<unk>":2,"Hi":3,"##!":4}}}"###;
        let map = r#"{"cls_token":"<cls>","sep_token":{"content":"<sep>"},"unk_token":"<unk>"}"#;
        let dir = dir_with(&[("tokenizer.json", json), ("special_tokens_map.json", map)]);
        let v = load(dir.path(), 5).unwrap();
        assert_eq!(v.tokens, ["<cls>", "<sep>", "<unk>", "▁Hi", "!"]);
        assert_eq!((v.cls, v.sep, v.unk, v.pad), (0, 1, 2, None));
        assert!(!v.lowercase && !v.strip_accents);
    }

    #[test]
    fn bad_vocabularies_are_typed_errors() {
        let dir = dir_with(&[]);
        assert!(matches!(
            load(dir.path(), 5),
            Err(ConvertError::MissingFile { .. })
        ));
        let dir = dir_with(&[("vocab.txt", "[UNK]\n[CLS]\n")]);
        assert!(matches!(
            load(dir.path(), 5),
            Err(ConvertError::Tokenizer(_))
        ));
        let dir = dir_with(&[("vocab.txt", VOCAB)]);
        assert!(matches!(
            load(dir.path(), 3),
            Err(ConvertError::Tokenizer(_))
        ));
        let dir = dir_with(&[("vocab.txt", "[UNK]\n[CLS]\n[SEP]\na\n##▁a\n")]);
        assert!(matches!(
            load(dir.path(), 5),
            Err(ConvertError::Tokenizer(_))
        ));
        let bpe = r#"{"model":{"type":"BPE","vocab":{"a":0}}}"#;
        let dir = dir_with(&[("tokenizer.json", bpe)]);
        assert!(matches!(
            load(dir.path(), 5),
            Err(ConvertError::Tokenizer(_))
        ));
        let gaps = r#"{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":5}}}"#;
        let dir = dir_with(&[("tokenizer.json", gaps)]);
        assert!(matches!(
            load(dir.path(), 6),
            Err(ConvertError::Tokenizer(_))
        ));
    }
}
