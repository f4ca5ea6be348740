//! Routes llama.cpp's and ggml's log lines to `tracing` (target `llama_cpp`):
//! errors at `warn`, everything else at `debug`, so a default `info` filter
//! keeps the console quiet while `RUST_LOG=llama_cpp=debug` shows it all.
//!
//! This is the crate's only `unsafe`: a C callback handed to `llama_log_set`.
//! Invariant: the callback never unwinds (it only formats and logs) and reads
//! `text` as a NUL-terminated string that llama.cpp owns for the call's duration.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_void};

use llama_cpp_sys_2::{GGML_LOG_LEVEL_ERROR, ggml_log_level, llama_log_set};

/// Install the callback; called once, before the backend is initialized.
pub(super) fn route_llama_logs_to_tracing() {
    // SAFETY: `forward` matches `ggml_log_callback`, is `'static`, and uses no
    // user data, so a null pointer is fine.
    unsafe { llama_log_set(Some(forward), std::ptr::null_mut()) }
}

unsafe extern "C" fn forward(level: ggml_log_level, text: *const c_char, _user_data: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a valid NUL-terminated string (see module doc).
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    if level == GGML_LOG_LEVEL_ERROR {
        tracing::warn!(target: "llama_cpp", "{text}");
    } else {
        tracing::debug!(target: "llama_cpp", "{text}");
    }
}
