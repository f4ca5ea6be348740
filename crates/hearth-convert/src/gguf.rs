//! A GGUF (version 3) writer, after the format's specification: the magic
//! `GGUF`, the version, the tensor and key/value counts, the key/values
//! (typed scalars, strings, arrays), the tensor infos (name, dimensions
//! innermost first, ggml type, offset into the data section), padding to the
//! alignment, then each tensor's bytes, every tensor starting on an aligned
//! offset. All integers little-endian.
//!
//! The caller declares every tensor (name, dimensions, type) before writing,
//! so the header with its offsets is written first and tensor data can be
//! streamed afterwards, one tensor at a time, in declaration order.

use std::io::{self, Write};

/// Alignment of the data section and of every tensor in it (GGUF's default;
/// we do not write `general.alignment`).
pub const ALIGNMENT: u64 = 32;

const VERSION: u32 = 3;

/// The ggml tensor types the converter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// Blocks of 32 `i8` with an `f16` scale.
    Q8_0,
}

impl TensorType {
    /// ggml's type id.
    pub fn id(self) -> u32 {
        match self {
            TensorType::F32 => 0,
            TensorType::F16 => 1,
            TensorType::Q8_0 => 8,
        }
    }

    /// `(elements per block, bytes per block)`.
    pub fn block(self) -> (u64, u64) {
        match self {
            TensorType::F32 => (1, 4),
            TensorType::F16 => (1, 2),
            TensorType::Q8_0 => (32, 34),
        }
    }

    /// Bytes taken by `elements` values (a whole number of blocks).
    pub fn bytes_for(self, elements: u64) -> u64 {
        let (block, size) = self.block();
        elements.div_ceil(block) * size
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// GGUF type 4.
    U32(u32),
    /// GGUF type 5.
    I32(i32),
    /// GGUF type 6.
    F32(f32),
    /// GGUF type 7.
    Bool(bool),
    /// GGUF type 8.
    Str(String),
    /// GGUF type 10.
    U64(u64),
    /// An array of strings (type 9 of type 8).
    StrArray(Vec<String>),
    /// An array of `i32` (type 9 of type 5).
    I32Array(Vec<i32>),
    /// An array of `f32` (type 9 of type 6).
    F32Array(Vec<f32>),
}

const TYPE_I32: u32 = 5;
const TYPE_F32: u32 = 6;
const TYPE_STR: u32 = 8;
const TYPE_ARRAY: u32 = 9;

impl Value {
    fn type_id(&self) -> u32 {
        match self {
            Value::U32(_) => 4,
            Value::I32(_) => TYPE_I32,
            Value::F32(_) => TYPE_F32,
            Value::Bool(_) => 7,
            Value::Str(_) => TYPE_STR,
            Value::U64(_) => 10,
            Value::StrArray(_) | Value::I32Array(_) | Value::F32Array(_) => TYPE_ARRAY,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Bool(v) => out.push(u8::from(*v)),
            Value::Str(s) => write_str(out, s),
            Value::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::StrArray(items) => {
                array_header(out, TYPE_STR, items.len());
                items.iter().for_each(|s| write_str(out, s));
            }
            Value::I32Array(items) => {
                array_header(out, TYPE_I32, items.len());
                items
                    .iter()
                    .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            }
            Value::F32Array(items) => {
                array_header(out, TYPE_F32, items.len());
                items
                    .iter()
                    .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            }
        }
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn array_header(out: &mut Vec<u8>, element_type: u32, len: usize) {
    out.extend_from_slice(&element_type.to_le_bytes());
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

/// A tensor to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// GGUF name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions, innermost (contiguous) first, as ggml's `ne`.
    pub dims: Vec<u64>,
    /// Storage type.
    pub ty: TensorType,
}

impl TensorInfo {
    /// Number of elements.
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Bytes of data.
    pub fn bytes(&self) -> u64 {
        self.ty.bytes_for(self.elements())
    }
}

/// Metadata and tensor declarations of one file, in writing order.
#[derive(Debug, Default)]
pub struct GgufBuilder {
    metadata: Vec<(String, Value)>,
    tensors: Vec<TensorInfo>,
}

impl GgufBuilder {
    /// An empty file.
    pub fn new() -> GgufBuilder {
        GgufBuilder::default()
    }

    /// Add (or replace) a key/value.
    pub fn set(&mut self, key: &str, value: Value) {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.metadata.push((key.to_owned(), value)),
        }
    }

    /// Declare the next tensor.
    pub fn add_tensor(&mut self, info: TensorInfo) {
        self.tensors.push(info);
    }

    /// The declared tensors, in order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The header bytes: everything up to the aligned start of the data.
    pub fn header_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            write_str(&mut out, key);
            out.extend_from_slice(&value.type_id().to_le_bytes());
            value.write(&mut out);
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            write_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            t.dims
                .iter()
                .for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
            out.extend_from_slice(&t.ty.id().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset = align(offset + t.bytes());
        }
        out.resize(align(out.len() as u64) as usize, 0);
        out
    }

    /// Start writing to `out`: the header now, then [`TensorWriter::write`]
    /// once per declared tensor, in order, then [`TensorWriter::finish`].
    pub fn start<W: Write>(&self, mut out: W) -> io::Result<TensorWriter<'_, W>> {
        out.write_all(&self.header_bytes())?;
        Ok(TensorWriter {
            tensors: &self.tensors,
            next: 0,
            out,
        })
    }
}

/// Round `n` up to [`ALIGNMENT`].
fn align(n: u64) -> u64 {
    n.div_ceil(ALIGNMENT) * ALIGNMENT
}

/// Streams tensor data after the header.
#[derive(Debug)]
pub struct TensorWriter<'b, W: Write> {
    tensors: &'b [TensorInfo],
    next: usize,
    out: W,
}

impl<W: Write> TensorWriter<'_, W> {
    /// Write the encoded data of the next declared tensor; its length must be
    /// the declared one.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(info) = self.tensors.get(self.next) else {
            return Err(io::Error::other("more tensors written than declared"));
        };
        if data.len() as u64 != info.bytes() {
            return Err(io::Error::other(format!(
                "tensor {} has {} bytes, declared {}",
                info.name,
                data.len(),
                info.bytes()
            )));
        }
        self.out.write_all(data)?;
        let padding = align(data.len() as u64) - data.len() as u64;
        self.out.write_all(&vec![0u8; padding as usize])?;
        self.next += 1;
        Ok(())
    }

    /// Check every tensor was written and flush.
    pub fn finish(mut self) -> io::Result<W> {
        if self.next != self.tensors.len() {
            return Err(io::Error::other(format!(
                "{} of {} tensors written",
                self.next,
                self.tensors.len()
            )));
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
pub(crate) mod reader;

#[cfg(test)]
mod tests {
    use super::reader::{ReadValue, read};
    use super::*;
    use crate::quant::{decode_q8_0, encode_f16, encode_f32, encode_q8_0, f16_to_f32};

    fn sample() -> (GgufBuilder, Vec<Vec<u8>>, Vec<f32>) {
        let mut b = GgufBuilder::new();
        b.set("general.architecture", Value::Str("bert".into()));
        b.set("bert.block_count", Value::U32(6));
        b.set("bert.attention.layer_norm_epsilon", Value::F32(1e-12));
        b.set("bert.attention.causal", Value::Bool(false));
        b.set("big", Value::U64(u64::MAX));
        b.set("neg", Value::I32(-7));
        b.set(
            "tokenizer.ggml.tokens",
            Value::StrArray(vec!["[PAD]".into(), "▁héllo".into(), String::new()]),
        );
        b.set("tokenizer.ggml.token_type", Value::I32Array(vec![3, 1, 1]));
        b.set("scores", Value::F32Array(vec![0.5, -1.0]));
        b.set("bert.block_count", Value::U32(7)); // replaces, keeps position
        let values: Vec<f32> = (0..96).map(|i| (i as f32 * 0.1).cos()).collect();
        let mut data = Vec::new();
        for (name, dims, ty) in [
            ("a", vec![3u64], TensorType::F32),
            ("b", vec![32, 3], TensorType::Q8_0),
            ("c", vec![5, 1], TensorType::F16),
        ] {
            let info = TensorInfo {
                name: name.into(),
                dims,
                ty,
            };
            let n = info.elements() as usize;
            let mut bytes = Vec::new();
            match ty {
                TensorType::F32 => encode_f32(&values[..n], &mut bytes),
                TensorType::F16 => encode_f16(&values[..n], &mut bytes),
                TensorType::Q8_0 => encode_q8_0(&values[..n], &mut bytes),
            }
            b.add_tensor(info);
            data.push(bytes);
        }
        (b, data, values)
    }

    #[test]
    fn round_trip_metadata_and_tensors() {
        let (b, data, values) = sample();
        let mut w = b.start(Vec::new()).unwrap();
        data.iter().for_each(|d| w.write(d).unwrap());
        let bytes = w.finish().unwrap();
        let file = read(&bytes).unwrap();
        assert_eq!(file.version, 3);
        let keys: Vec<&str> = file.metadata.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys[..3],
            [
                "general.architecture",
                "bert.block_count",
                "bert.attention.layer_norm_epsilon"
            ]
        );
        let get = |k: &str| &file.metadata.iter().find(|(key, _)| key == k).unwrap().1;
        assert_eq!(get("general.architecture"), &ReadValue::Str("bert".into()));
        assert_eq!(get("bert.block_count"), &ReadValue::U32(7));
        assert_eq!(
            get("bert.attention.layer_norm_epsilon"),
            &ReadValue::F32(1e-12)
        );
        assert_eq!(get("bert.attention.causal"), &ReadValue::Bool(false));
        assert_eq!(get("big"), &ReadValue::U64(u64::MAX));
        assert_eq!(get("neg"), &ReadValue::I32(-7));
        assert_eq!(
            get("tokenizer.ggml.tokens"),
            &ReadValue::StrArray(vec!["[PAD]".into(), "▁héllo".into(), String::new()])
        );
        assert_eq!(
            get("tokenizer.ggml.token_type"),
            &ReadValue::I32Array(vec![3, 1, 1])
        );
        assert_eq!(get("scores"), &ReadValue::F32Array(vec![0.5, -1.0]));

        assert_eq!(file.tensors.len(), 3);
        for t in &file.tensors {
            assert_eq!(t.offset % ALIGNMENT, 0, "{}", t.name);
            assert_eq!((file.data_start + t.offset) % ALIGNMENT, 0);
        }
        let a = &file.tensors[0];
        assert_eq!(
            (a.name.as_str(), a.dims.as_slice(), a.type_id),
            ("a", &[3u64][..], 0)
        );
        let raw = file.tensor_bytes(&bytes, a, 12);
        let back: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(back, values[..3]);
        let q = &file.tensors[1];
        assert_eq!((q.dims.as_slice(), q.type_id), (&[32u64, 3][..], 8));
        let back = decode_q8_0(file.tensor_bytes(&bytes, q, 3 * 34));
        assert!(back.iter().zip(&values).all(|(x, y)| (x - y).abs() < 0.01));
        let h = &file.tensors[2];
        let back: Vec<f32> = file
            .tensor_bytes(&bytes, h, 10)
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect();
        assert!(back.iter().zip(&values).all(|(x, y)| (x - y).abs() < 1e-3));
        assert_eq!(bytes.len() as u64 % ALIGNMENT, 0);
    }

    #[test]
    fn wrong_tensor_sizes_and_counts_are_refused() {
        let (b, data, _) = sample();
        let mut w = b.start(Vec::new()).unwrap();
        assert!(w.write(&data[1]).is_err());
        w.write(&data[0]).unwrap();
        assert!(w.finish().is_err());
        let mut w = b.start(Vec::new()).unwrap();
        data.iter().for_each(|d| w.write(d).unwrap());
        assert!(w.write(&data[0]).is_err());
    }
}
