//! Quantization through llama.cpp's `llama_model_quantize`: reads a GGUF file
//! and writes it again with another tensor type (requantizing an already
//! quantized file is allowed, at some quality cost). Blocking and CPU-heavy;
//! the binary runs it in a child process of its own (`hearth quantize-file`),
//! so a native crash fails the job, not the server.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::EngineError;

/// The file types llama.cpp quantizes to, by their usual names.
pub const TYPES: &[&str] = &[
    "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0",
    "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K",
];

/// llama.cpp's `general.file_type` id of a type name (case-insensitive).
pub fn file_type_id(name: &str) -> Option<u32> {
    let name = name.to_ascii_uppercase();
    if !TYPES.contains(&name.as_str()) {
        return None;
    }
    (0..64u64)
        .find(|id| super::file_type_name(*id) == Some(name.as_str()))
        .and_then(|id| u32::try_from(id).ok())
}

fn c_path(path: &Path) -> Result<CString, EngineError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| EngineError::InvalidParams(format!("{} contains a NUL byte", path.display())))
}

/// Write `input` quantized to `file_type` (`Q8_0`, `Q4_K_M`, …) as `output`,
/// with `threads` threads (0: llama.cpp's choice).
pub fn quantize(
    input: &Path,
    output: &Path,
    file_type: &str,
    threads: u32,
) -> Result<(), EngineError> {
    let ftype = file_type_id(file_type).ok_or_else(|| {
        EngineError::InvalidParams(format!(
            "unknown quantization type '{file_type}'; one of {}",
            TYPES.join(", ")
        ))
    })?;
    crate::model::gguf::read_header(input)?;
    let (input, output) = (c_path(input)?, c_path(output)?);
    super::backend();
    // SAFETY: llama.cpp fills a plain struct of defaults; no pointers are read.
    let mut params = unsafe { llama_cpp_sys_2::llama_model_quantize_default_params() };
    params.nthread = i32::try_from(threads).unwrap_or(0);
    params.ftype = ftype;
    params.allow_requantize = true;
    // SAFETY: both paths are NUL-terminated strings and `params` a valid struct,
    // all alive for the duration of the call, which does not keep them.
    let code =
        unsafe { llama_cpp_sys_2::llama_model_quantize(input.as_ptr(), output.as_ptr(), &params) };
    if code == 0 {
        Ok(())
    } else {
        Err(EngineError::Failed(format!(
            "llama.cpp could not quantize the file (code {code})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_map_to_llama_ids() {
        assert_eq!(file_type_id("Q8_0"), Some(7));
        assert_eq!(file_type_id("q4_k_m"), Some(15));
        assert_eq!(file_type_id("F16"), Some(1));
        assert_eq!(file_type_id("IQ2_XXS"), None);
        assert_eq!(file_type_id("bogus"), None);
        for name in TYPES {
            assert!(file_type_id(name).is_some(), "{name}");
        }
    }
}
