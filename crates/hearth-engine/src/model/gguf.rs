//! A small, defensive GGUF header reader. It runs before llama.cpp ever sees a
//! file, so that a wrong magic, a truncated download, a corrupt header or an
//! unknown architecture is a typed [`EngineError`] instead of a native abort.
//!
//! It reads the metadata key/values (keeping scalars and strings, only the
//! length of arrays) and the tensor table, and checks that every tensor's data
//! lies inside the file. Pure Rust, no `unsafe`, bounded allocations: no length
//! read from the file is trusted beyond the bytes that remain.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};
use crate::model::arch::SUPPORTED_ARCHITECTURES;

const MAGIC: [u8; 4] = *b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
const MAX_DIMS: u32 = 4;

/// One metadata value; arrays keep only their element type and length.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// Any unsigned integer type.
    Uint(u64),
    /// Any signed integer type.
    Int(i64),
    /// `f32` or `f64`.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string (lossily decoded).
    Str(String),
    /// An array, contents skipped.
    Array {
        /// GGUF type id of the elements.
        element_type: u32,
        /// Number of elements.
        len: u64,
    },
}

impl MetaValue {
    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::Uint(v) => Some(v),
            MetaValue::Int(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// What the header says about a file.
#[derive(Debug, Clone)]
pub struct GgufHeader {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// Number of tensors.
    pub tensor_count: u64,
    /// Metadata key/values.
    pub metadata: BTreeMap<String, MetaValue>,
    /// Total number of weights across all tensors.
    pub parameter_count: u64,
    /// Whether the vocabulary has fill-in-the-middle tokens (prefix, suffix
    /// and middle), by id keys or by the token spellings models use.
    pub has_fim: bool,
}

impl GgufHeader {
    /// `general.architecture`.
    pub fn architecture(&self) -> Option<&str> {
        self.metadata
            .get("general.architecture")
            .and_then(MetaValue::as_str)
    }

    /// An architecture-scoped key, e.g. `arch_key("context_length")`.
    pub fn arch_u64(&self, suffix: &str) -> Option<u64> {
        let arch = self.architecture()?;
        self.metadata
            .get(&format!("{arch}.{suffix}"))
            .and_then(MetaValue::as_u64)
    }

    /// A string value.
    pub fn string(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(MetaValue::as_str)
    }

    /// An unsigned value.
    pub fn uint(&self, key: &str) -> Option<u64> {
        self.metadata.get(key).and_then(MetaValue::as_u64)
    }
}

/// Which FIM token a spelling is (0 prefix, 1 suffix, 2 middle), for the
/// spellings of the common code models (StarCoder/SmolLM, Qwen, CodeLlama,
/// DeepSeek, CodeGemma).
fn fim_kind(token: &[u8]) -> Option<usize> {
    const SPELLINGS: [(&str, usize); 15] = [
        ("<fim_prefix>", 0),
        ("<fim_suffix>", 1),
        ("<fim_middle>", 2),
        ("<|fim_prefix|>", 0),
        ("<|fim_suffix|>", 1),
        ("<|fim_middle|>", 2),
        ("<fim-prefix>", 0),
        ("<fim-suffix>", 1),
        ("<fim-middle>", 2),
        ("<PRE>", 0),
        ("<SUF>", 1),
        ("<MID>", 2),
        ("<｜fim▁begin｜>", 0),
        ("<｜fim▁hole｜>", 1),
        ("<｜fim▁end｜>", 2),
    ];
    let token = std::str::from_utf8(token).ok()?;
    let token = token.strip_prefix('▁').unwrap_or(token);
    SPELLINGS
        .iter()
        .find(|(spelling, _)| *spelling == token)
        .map(|(_, kind)| *kind)
}

/// Read and validate the header of `path`; checks the architecture too.
pub fn read_header(path: &Path) -> Result<GgufHeader> {
    let file = File::open(path).map_err(|source| EngineError::Io {
        path: path.into(),
        source,
    })?;
    let file_len = file
        .metadata()
        .map_err(|source| EngineError::Io {
            path: path.into(),
            source,
        })?
        .len();
    let mut reader = Reader {
        inner: BufReader::new(file),
        pos: 0,
        len: file_len,
        path: path.into(),
    };
    let header = parse(&mut reader)?;
    check_architecture(path, &header)?;
    Ok(header)
}

fn parse(r: &mut Reader) -> Result<GgufHeader> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic, "the magic")?;
    if magic != MAGIC {
        return Err(EngineError::NotGguf {
            path: r.path.clone(),
            found: magic,
        });
    }
    let version = r.u32("the version")?;
    if !(2..=3).contains(&version) {
        return Err(r.malformed(format!("GGUF version {version} is not supported (2 or 3)")));
    }
    let tensor_count = r.u64("the tensor count")?;
    let kv_count = r.u64("the metadata count")?;
    let mut metadata = BTreeMap::new();
    let mut fim_spellings = [false; 3];
    for _ in 0..kv_count {
        let key = r.string("a metadata key")?;
        let value_type = r.u32("a metadata type")?;
        let value = if value_type == 9 && key == "tokenizer.ggml.tokens" {
            r.skip_array(Some(&mut fim_spellings))?
        } else {
            r.value(value_type)?
        };
        metadata.insert(key, value);
    }
    let fim_ids = ["fim_pre", "fim_suf", "fim_mid"]
        .iter()
        .all(|k| metadata.contains_key(&format!("tokenizer.ggml.{k}_token_id")));
    let has_fim = fim_ids || fim_spellings.iter().all(|found| *found);
    let alignment = metadata
        .get("general.alignment")
        .and_then(MetaValue::as_u64)
        .unwrap_or(DEFAULT_ALIGNMENT);
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(r.malformed(format!(
            "general.alignment {alignment} is not a power of two"
        )));
    }
    let (data_end, parameter_count) = read_tensor_table(r, tensor_count)?;
    let data_offset = r.pos.div_ceil(alignment) * alignment;
    let needed = data_offset
        .checked_add(data_end)
        .ok_or_else(|| r.malformed("tensor offsets overflow".into()))?;
    if needed > r.len {
        return Err(EngineError::Truncated {
            path: r.path.clone(),
            detail: format!("the tensors need {needed} bytes but the file has {}", r.len),
        });
    }
    Ok(GgufHeader {
        version,
        tensor_count,
        metadata,
        parameter_count,
        has_fim,
    })
}

/// Reads the tensor infos; returns the end of the data relative to the data
/// section and the total number of weights.
fn read_tensor_table(r: &mut Reader, tensor_count: u64) -> Result<(u64, u64)> {
    let mut data_end = 0u64;
    let mut parameters = 0u64;
    for _ in 0..tensor_count {
        let name = r.string("a tensor name")?;
        let n_dims = r.u32("a tensor rank")?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(r.malformed(format!("tensor '{name}' has {n_dims} dimensions")));
        }
        let mut elements = 1u64;
        let mut first_dim = 0;
        for i in 0..n_dims {
            let dim = r.u64("a tensor dimension")?;
            if i == 0 {
                first_dim = dim;
            }
            elements = elements
                .checked_mul(dim)
                .ok_or_else(|| r.malformed(format!("tensor '{name}' is too large")))?;
        }
        let type_id = r.u32("a tensor type")?;
        let offset = r.u64("a tensor offset")?;
        let (block, type_size) = ggml_type_size(type_id)
            .ok_or_else(|| r.malformed(format!("tensor '{name}' has unknown type {type_id}")))?;
        if first_dim % block != 0 {
            return Err(r.malformed(format!(
                "tensor '{name}' row is not a multiple of its block"
            )));
        }
        let bytes = (elements / block).checked_mul(type_size);
        let end = bytes.and_then(|b| b.checked_add(offset));
        let end = end.ok_or_else(|| r.malformed(format!("tensor '{name}' is too large")))?;
        data_end = data_end.max(end);
        parameters = parameters.saturating_add(elements);
    }
    Ok((data_end, parameters))
}

fn check_architecture(path: &Path, header: &GgufHeader) -> Result<()> {
    let Some(architecture) = header.architecture() else {
        return Err(EngineError::Malformed {
            path: path.into(),
            detail: "general.architecture is missing".into(),
        });
    };
    if SUPPORTED_ARCHITECTURES.contains(&architecture) {
        Ok(())
    } else {
        Err(EngineError::UnsupportedArchitecture {
            path: path.into(),
            architecture: architecture.to_owned(),
        })
    }
}

/// `(elements per block, bytes per block)` of a ggml tensor type, from
/// `ggml/src/ggml-common.h` of the vendored llama.cpp.
fn ggml_type_size(type_id: u32) -> Option<(u64, u64)> {
    Some(match type_id {
        0 => (1, 4),           // F32
        1 | 30 => (1, 2),      // F16, BF16
        2 | 20 => (32, 18),    // Q4_0, IQ4_NL
        3 => (32, 20),         // Q4_1
        6 => (32, 22),         // Q5_0
        7 => (32, 24),         // Q5_1
        8 => (32, 34),         // Q8_0
        9 => (32, 36),         // Q8_1
        10 => (256, 84),       // Q2_K
        11 | 21 => (256, 110), // Q3_K, IQ3_S
        12 => (256, 144),      // Q4_K
        13 => (256, 176),      // Q5_K
        14 => (256, 210),      // Q6_K
        15 => (256, 292),      // Q8_K
        16 | 35 => (256, 66),  // IQ2_XXS, TQ2_0
        17 => (256, 74),       // IQ2_XS
        18 => (256, 98),       // IQ3_XXS
        19 => (256, 50),       // IQ1_S
        22 => (256, 82),       // IQ2_S
        23 => (256, 136),      // IQ4_XS
        24 => (1, 1),          // I8
        25 => (1, 2),          // I16
        26 => (1, 4),          // I32
        27 | 28 => (1, 8),     // I64, F64
        29 => (256, 56),       // IQ1_M
        34 => (256, 54),       // TQ1_0
        39 => (32, 17),        // MXFP4
        40 => (64, 36),        // NVFP4
        41 => (128, 18),       // Q1_0
        42 => (64, 18),        // Q2_0
        _ => return None,
    })
}

/// A byte reader that knows how much of the file remains.
struct Reader {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
    path: PathBuf,
}

impl Reader {
    fn truncated(&self, what: &str) -> EngineError {
        EngineError::Truncated {
            path: self.path.clone(),
            detail: format!("the file ends inside {what}"),
        }
    }

    fn malformed(&self, detail: String) -> EngineError {
        EngineError::Malformed {
            path: self.path.clone(),
            detail,
        }
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        if self.len.saturating_sub(self.pos) < buf.len() as u64 {
            return Err(self.truncated(what));
        }
        self.inner
            .read_exact(buf)
            .map_err(|_| self.truncated(what))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        if self.len.saturating_sub(self.pos) < n {
            return Err(self.truncated(what));
        }
        let n_i64 = i64::try_from(n).map_err(|_| self.truncated(what))?;
        self.inner
            .seek_relative(n_i64)
            .map_err(|_| self.truncated(what))?;
        self.pos += n;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.read_exact(&mut buf, what)?;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let len = self.u64(what)?;
        if len > self.len.saturating_sub(self.pos) {
            return Err(self.truncated(what));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf, what)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn value(&mut self, value_type: u32) -> Result<MetaValue> {
        let what = "a metadata value";
        Ok(match value_type {
            0 => MetaValue::Uint(u64::from(self.array::<1>(what)?[0])),
            1 => MetaValue::Int(i64::from(i8::from_le_bytes(self.array(what)?))),
            2 => MetaValue::Uint(u64::from(u16::from_le_bytes(self.array(what)?))),
            3 => MetaValue::Int(i64::from(i16::from_le_bytes(self.array(what)?))),
            4 => MetaValue::Uint(u64::from(self.u32(what)?)),
            5 => MetaValue::Int(i64::from(i32::from_le_bytes(self.array(what)?))),
            6 => MetaValue::Float(f64::from(f32::from_le_bytes(self.array(what)?))),
            7 => MetaValue::Bool(self.array::<1>(what)?[0] != 0),
            8 => MetaValue::Str(self.string(what)?),
            9 => self.skip_array(None)?,
            10 => MetaValue::Uint(self.u64(what)?),
            11 => MetaValue::Int(i64::from_le_bytes(self.array(what)?)),
            12 => MetaValue::Float(f64::from_le_bytes(self.array(what)?)),
            other => return Err(self.malformed(format!("unknown metadata type {other}"))),
        })
    }

    /// Skip an array; for the token list, `fim` records which of the FIM
    /// prefix, suffix and middle spellings appear.
    fn skip_array(&mut self, mut fim: Option<&mut [bool; 3]>) -> Result<MetaValue> {
        let what = "a metadata array";
        let element_type = self.u32(what)?;
        let len = self.u64(what)?;
        let fixed = match element_type {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        };
        match (fixed, element_type) {
            (Some(size), _) => {
                let bytes = len.checked_mul(size).ok_or_else(|| self.truncated(what))?;
                self.skip(bytes, what)?;
            }
            (None, 8) => {
                for _ in 0..len {
                    let n = self.u64(what)?;
                    match fim.as_deref_mut() {
                        Some(found) if n <= 24 => {
                            let mut buf = [0u8; 24];
                            let token = &mut buf[..n as usize];
                            self.read_exact(token, what)?;
                            if let Some(kind) = fim_kind(token) {
                                found[kind] = true;
                            }
                        }
                        _ => self.skip(n, what)?,
                    }
                }
            }
            (None, other) => {
                return Err(
                    self.malformed(format!("metadata arrays of type {other} are not supported"))
                );
            }
        }
        Ok(MetaValue::Array { element_type, len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fim_spellings_of_the_common_code_models() {
        assert_eq!(fim_kind(b"<fim_prefix>"), Some(0));
        assert_eq!(fim_kind(b"<|fim_suffix|>"), Some(1));
        assert_eq!(fim_kind("▁<MID>".as_bytes()), Some(2));
        assert_eq!(fim_kind("<｜fim▁hole｜>".as_bytes()), Some(1));
        assert_eq!(fim_kind(b"fim"), None);
        assert_eq!(fim_kind(b"<|im_start|>"), None);
    }
    use std::io::Write;

    fn gguf_bytes(arch: &str) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes()); // one tensor
        b.extend_from_slice(&1u64.to_le_bytes()); // one kv
        let key = b"general.architecture";
        b.extend_from_slice(&(key.len() as u64).to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&(arch.len() as u64).to_le_bytes());
        b.extend_from_slice(arch.as_bytes());
        let name = b"w";
        b.extend_from_slice(&(name.len() as u64).to_le_bytes());
        b.extend_from_slice(name);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&8u64.to_le_bytes()); // 8 f32 = 32 bytes
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        while b.len() % 32 != 0 {
            b.push(0);
        }
        b.extend_from_slice(&[0u8; 32]);
        b
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn reads_a_minimal_file() {
        let f = write(&gguf_bytes("llama"));
        let h = read_header(f.path()).unwrap();
        assert_eq!(h.architecture(), Some("llama"));
        assert_eq!(h.parameter_count, 8);
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let bytes = gguf_bytes("llama");
        for cut in 0..bytes.len() {
            let f = write(&bytes[..cut]);
            let err = read_header(f.path()).unwrap_err();
            assert!(
                matches!(err, EngineError::Truncated { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn wrong_magic_and_unknown_architecture() {
        let mut bytes = gguf_bytes("llama");
        bytes[0] = b'X';
        let f = write(&bytes);
        assert!(matches!(
            read_header(f.path()),
            Err(EngineError::NotGguf { .. })
        ));
        let f = write(&gguf_bytes("frobnicator"));
        assert!(matches!(
            read_header(f.path()),
            Err(EngineError::UnsupportedArchitecture { .. })
        ));
    }

    #[test]
    fn huge_lengths_do_not_allocate() {
        let mut bytes = gguf_bytes("llama");
        // key length of the first kv → u64::MAX
        bytes[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        let f = write(&bytes);
        assert!(matches!(
            read_header(f.path()),
            Err(EngineError::Truncated { .. })
        ));
    }
}
