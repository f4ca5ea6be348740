//! A reader for the safetensors format: an 8-byte little-endian header length,
//! a JSON header mapping tensor names to `{dtype, shape, data_offsets}`, then
//! the raw little-endian data. The header is validated in full before any
//! tensor is read (offsets inside the file, sizes matching shapes), so a
//! truncated or corrupt file is a typed error, never a panic or a huge
//! allocation. Tensors are read one at a time with plain reads.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ConvertError;
use crate::quant::f16_to_f32;

/// Upper bound on the JSON header (the format's own limit is 100 MB).
const MAX_HEADER_BYTES: u64 = 100 * 1024 * 1024;

/// Element type of a stored tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    Bf16,
    /// Any other type (integers, f64…); kept so that unused buffers such as
    /// `position_ids` do not fail the whole file.
    Other,
}

impl Dtype {
    fn parse(s: &str) -> (Dtype, u64) {
        match s {
            "F32" => (Dtype::F32, 4),
            "F16" => (Dtype::F16, 2),
            "BF16" => (Dtype::Bf16, 2),
            "F64" | "I64" | "U64" => (Dtype::Other, 8),
            "I32" | "U32" => (Dtype::Other, 4),
            "I16" | "U16" => (Dtype::Other, 2),
            _ => (Dtype::Other, 1),
        }
    }
}

/// One tensor of the file.
#[derive(Debug, Clone)]
pub struct TensorEntry {
    /// Stored element type.
    pub dtype: Dtype,
    /// The dtype's name as written in the file.
    pub dtype_name: String,
    /// Shape, outermost dimension first (PyTorch order).
    pub shape: Vec<u64>,
    /// Start of the data, absolute in the file.
    pub start: u64,
    /// Length of the data in bytes.
    pub len: u64,
}

impl TensorEntry {
    /// Number of elements.
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// An open safetensors file with its validated header.
#[derive(Debug)]
pub struct SafeTensors {
    path: PathBuf,
    file: File,
    /// Tensors by name.
    pub tensors: BTreeMap<String, TensorEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

impl SafeTensors {
    /// Open `path` and validate its header.
    pub fn open(path: &Path) -> Result<SafeTensors, ConvertError> {
        let io = |source| ConvertError::Io {
            path: path.into(),
            source,
        };
        let bad = |detail: String| ConvertError::BadSafetensors {
            path: path.into(),
            detail,
        };
        let mut file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut len_bytes = [0u8; 8];
        if file_len < 8 {
            return Err(bad(format!("the file has only {file_len} bytes")));
        }
        file.read_exact(&mut len_bytes).map_err(io)?;
        let header_len = u64::from_le_bytes(len_bytes);
        if header_len > MAX_HEADER_BYTES || header_len > file_len - 8 {
            return Err(bad(format!(
                "the header length {header_len} does not fit the file ({file_len} bytes)"
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header).map_err(io)?;
        let raw: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&header)
            .map_err(|e| bad(format!("the header is not a JSON object: {e}")))?;
        let data_start = 8 + header_len;
        let data_len = file_len - data_start;
        let mut tensors = BTreeMap::new();
        for (name, value) in raw {
            if name == "__metadata__" {
                continue;
            }
            let entry: RawEntry =
                serde_json::from_value(value).map_err(|e| bad(format!("tensor '{name}': {e}")))?;
            let (dtype, size) = Dtype::parse(&entry.dtype);
            let [begin, end] = entry.data_offsets;
            let elements = entry
                .shape
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .and_then(|n| n.checked_mul(size));
            if end < begin || end > data_len || elements != Some(end - begin) {
                return Err(bad(format!(
                    "tensor '{name}': offsets {begin}..{end} do not match its shape {:?} \
                     of {} or the data section ({data_len} bytes)",
                    entry.shape, entry.dtype
                )));
            }
            tensors.insert(
                name,
                TensorEntry {
                    dtype,
                    dtype_name: entry.dtype,
                    shape: entry.shape,
                    start: data_start + begin,
                    len: end - begin,
                },
            );
        }
        Ok(SafeTensors {
            path: path.into(),
            file,
            tensors,
        })
    }

    /// The data of tensor `name` as `f32` (from F32, F16 or BF16).
    pub fn read_f32(&mut self, name: &str) -> Result<Vec<f32>, ConvertError> {
        let entry = self
            .tensors
            .get(name)
            .ok_or_else(|| ConvertError::MissingTensor(name.into()))?
            .clone();
        let io = |source| ConvertError::Io {
            path: self.path.clone(),
            source,
        };
        let mut bytes = vec![0u8; entry.len as usize];
        self.file.seek(SeekFrom::Start(entry.start)).map_err(io)?;
        self.file.read_exact(&mut bytes).map_err(io)?;
        Ok(match entry.dtype {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            Dtype::Bf16 => bytes
                .chunks_exact(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                .collect(),
            Dtype::Other => {
                return Err(ConvertError::UnsupportedDtype {
                    tensor: name.into(),
                    dtype: entry.dtype_name,
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(header: &str, data: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&(header.len() as u64).to_le_bytes()).unwrap();
        f.write_all(header.as_bytes()).unwrap();
        f.write_all(data).unwrap();
        f
    }

    #[test]
    fn reads_f32_f16_and_bf16() {
        let mut data = Vec::new();
        data.extend_from_slice(&1.5f32.to_le_bytes());
        data.extend_from_slice(&(-2.0f32).to_le_bytes());
        data.extend_from_slice(&0x3c00u16.to_le_bytes()); // 1.0 in f16
        data.extend_from_slice(&0x4040u16.to_le_bytes()); // 3.0 in bf16
        let header = r#"{"__metadata__":{"format":"pt"},
            "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
            "b":{"dtype":"F16","shape":[1,1],"data_offsets":[8,10]},
            "c":{"dtype":"BF16","shape":[1],"data_offsets":[10,12]}}"#;
        let f = file_with(header, &data);
        let mut st = SafeTensors::open(f.path()).unwrap();
        assert_eq!(st.read_f32("a").unwrap(), [1.5, -2.0]);
        assert_eq!(st.read_f32("b").unwrap(), [1.0]);
        assert_eq!(st.read_f32("c").unwrap(), [3.0]);
        assert!(matches!(
            st.read_f32("d"),
            Err(ConvertError::MissingTensor(_))
        ));
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        let cases: &[(&str, &[u8])] = &[
            ("not json", &[]),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                &[0; 4],
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                &[0; 8],
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
                &[0; 8],
            ),
            (r#"{"a":{"dtype":"F32"}}"#, &[]),
            (
                r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#,
                &[0; 8],
            ),
        ];
        for (header, data) in cases {
            let f = file_with(header, data);
            let err = SafeTensors::open(f.path()).unwrap_err();
            assert!(
                matches!(err, ConvertError::BadSafetensors { .. }),
                "{header}: {err}"
            );
        }
        // A header length beyond the file, and a file shorter than 8 bytes.
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&u64::MAX.to_le_bytes()).unwrap();
        assert!(matches!(
            SafeTensors::open(f.path()),
            Err(ConvertError::BadSafetensors { .. })
        ));
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"abc").unwrap();
        assert!(matches!(
            SafeTensors::open(f.path()),
            Err(ConvertError::BadSafetensors { .. })
        ));
    }

    #[test]
    fn integer_tensors_are_listed_but_not_converted() {
        let header = r#"{"ids":{"dtype":"I64","shape":[1,2],"data_offsets":[0,16]}}"#;
        let f = file_with(header, &[0; 16]);
        let mut st = SafeTensors::open(f.path()).unwrap();
        assert!(matches!(
            st.read_f32("ids"),
            Err(ConvertError::UnsupportedDtype { .. })
        ));
    }
}
