//! `hearth convert` as a user runs it: a summary and exit 0 on the real
//! MiniLM checkpoint, a one-line error and a non-zero exit on bad input.
//! (That the converted file embeds like the original is tested in
//! `hearth-engine/tests/convert.rs`.)

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_hearth");

fn convert(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(BIN)
        .arg("convert")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn converts_the_minilm_checkpoint_and_refuses_to_overwrite() {
    let src = hearth_testkit::models::path(hearth_testkit::models::MINILM_DIR);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("minilm.gguf");
    let run = convert(&[
        src.as_os_str(),
        out.as_os_str(),
        "--type".as_ref(),
        "q8_0".as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for expected in [
        "(q8_0)",
        "101",
        "384 dimensions",
        "pooling     mean",
        "normalize   yes",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in {stdout}");
    }
    let header = std::fs::read(&out).unwrap();
    assert_eq!(&header[..4], b"GGUF");
    assert!(!dir.path().join("minilm.gguf.part").exists());

    let again = convert(&[src.as_os_str(), out.as_os_str()]);
    assert_eq!(again.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let forced = convert(&[src.as_os_str(), out.as_os_str(), "--force".as_ref()]);
    assert!(forced.status.success());
}

#[test]
fn bad_input_is_a_clear_error_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.gguf");
    let src = dir.path().join("ckpt");
    std::fs::create_dir(&src).unwrap();
    let expect = |needle: &str| {
        let run = convert(&[src.as_os_str(), out.as_os_str()]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists());
    };
    expect("config.json is missing");
    let config = r#"{"model_type":"bert","architectures":["BertModel"],"hidden_size":8,
        "num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,
        "max_position_embeddings":8,"vocab_size":8}"#;
    std::fs::write(src.join("config.json"), config).unwrap();
    expect("model.safetensors is missing");
    std::fs::write(
        src.join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}",
    )
    .unwrap();
    std::fs::write(src.join("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n").unwrap();
    expect("not a valid safetensors file");
    std::fs::write(
        src.join("config.json"),
        config.replace("\"bert\"", "\"gpt2\""),
    )
    .unwrap();
    expect("unsupported architecture \"gpt2\"");
    let run = convert(&[
        src.as_os_str(),
        out.as_os_str(),
        "--type".as_ref(),
        "q4_k".as_ref(),
    ]);
    assert_eq!(run.status.code(), Some(2));
}
