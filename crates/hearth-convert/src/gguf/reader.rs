//! Test-only: an independent, full GGUF reader (values and tensor infos) to
//! check the writer round-trips. It reads what the spec says, not what the
//! writer does, so that a symmetric mistake in both is less likely.

/// A decoded metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadValue {
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    U64(u64),
    StrArray(Vec<String>),
    I32Array(Vec<i32>),
    F32Array(Vec<f32>),
}

/// One tensor info.
#[derive(Debug)]
pub struct ReadTensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub type_id: u32,
    pub offset: u64,
}

/// A parsed file.
#[derive(Debug)]
pub struct ReadFile {
    pub version: u32,
    pub metadata: Vec<(String, ReadValue)>,
    pub tensors: Vec<ReadTensor>,
    pub data_start: u64,
}

impl ReadFile {
    /// `len` bytes of tensor `t`.
    pub fn tensor_bytes<'a>(&self, file: &'a [u8], t: &ReadTensor, len: usize) -> &'a [u8] {
        let start = (self.data_start + t.offset) as usize;
        &file[start..start + len]
    }

    /// A metadata value by key.
    pub fn get(&self, key: &str) -> Option<&ReadValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A tensor by name.
    pub fn tensor(&self, name: &str) -> Option<&ReadTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at {}", self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "u32")?,
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "u64")?,
        ))
    }
    fn string(&mut self) -> Result<String, String> {
        let n = self.u64()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
    fn value(&mut self, ty: u32) -> Result<ReadValue, String> {
        Ok(match ty {
            4 => ReadValue::U32(self.u32()?),
            5 => ReadValue::I32(self.u32()? as i32),
            6 => ReadValue::F32(f32::from_bits(self.u32()?)),
            7 => ReadValue::Bool(self.take(1)?[0] != 0),
            8 => ReadValue::Str(self.string()?),
            10 => ReadValue::U64(self.u64()?),
            9 => {
                let elem = self.u32()?;
                let n = self.u64()? as usize;
                match elem {
                    8 => ReadValue::StrArray(
                        (0..n).map(|_| self.string()).collect::<Result<_, _>>()?,
                    ),
                    5 => ReadValue::I32Array(
                        (0..n)
                            .map(|_| self.u32().map(|v| v as i32))
                            .collect::<Result<_, _>>()?,
                    ),
                    6 => ReadValue::F32Array(
                        (0..n)
                            .map(|_| self.u32().map(f32::from_bits))
                            .collect::<Result<_, _>>()?,
                    ),
                    other => return Err(format!("array of type {other}")),
                }
            }
            other => return Err(format!("value type {other}")),
        })
    }
}

/// Parse a whole file held in memory.
pub fn read(bytes: &[u8]) -> Result<ReadFile, String> {
    let mut c = Cursor { bytes, pos: 0 };
    if c.take(4)? != b"GGUF" {
        return Err("magic".into());
    }
    let version = c.u32()?;
    let n_tensors = c.u64()?;
    let n_kv = c.u64()?;
    let mut metadata = Vec::new();
    for _ in 0..n_kv {
        let key = c.string()?;
        let ty = c.u32()?;
        metadata.push((key, c.value(ty)?));
    }
    let mut tensors = Vec::new();
    for _ in 0..n_tensors {
        let name = c.string()?;
        let n_dims = c.u32()?;
        let dims = (0..n_dims).map(|_| c.u64()).collect::<Result<_, _>>()?;
        let type_id = c.u32()?;
        let offset = c.u64()?;
        tensors.push(ReadTensor {
            name,
            dims,
            type_id,
            offset,
        });
    }
    let data_start = (c.pos as u64).div_ceil(32) * 32;
    Ok(ReadFile {
        version,
        metadata,
        tensors,
        data_start,
    })
}
