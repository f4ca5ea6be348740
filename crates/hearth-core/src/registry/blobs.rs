//! The blob directory: `DATA_DIR/registry/blobs/sha256-HEX` (final, verified
//! content, never changed) and `DATA_DIR/registry/partial/` (downloads and
//! imports in progress, never served). Every function here blocks: callers run
//! them on the blocking pool.
//!
//! A blob appears under its final name only through [`BlobStore::commit`], a
//! rename from `partial/` after its digest was checked, so a crash leaves either
//! nothing or the whole file.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::RegistryError;

/// Content-addressed files of the registry.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// The blob directory under `registry_dir` (created on first write).
    pub fn new(registry_dir: &Path) -> BlobStore {
        BlobStore {
            root: registry_dir.to_owned(),
        }
    }

    /// `…/blobs`
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// `…/partial`
    pub fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    /// Create both directories.
    pub fn ensure_dirs(&self) -> Result<(), RegistryError> {
        for dir in [self.blobs_dir(), self.partial_dir()] {
            fs::create_dir_all(&dir).map_err(|e| RegistryError::io(&dir, e))?;
        }
        Ok(())
    }

    /// The final path of `sha256:hex`.
    pub fn path_of(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.blobs_dir().join(format!("sha256-{hex}"))
    }

    /// Whether the blob exists.
    pub fn exists(&self, digest: &str) -> bool {
        self.path_of(digest).is_file()
    }

    /// A partial file's path for `key` (a job or transfer id, file-name safe).
    pub fn partial_path(&self, key: &str) -> PathBuf {
        self.partial_dir().join(format!("{key}.partial"))
    }

    /// Move a verified partial file to its final name. When the blob already
    /// exists (same content) the partial file is dropped.
    pub fn commit(&self, partial: &Path, digest: &str) -> Result<PathBuf, RegistryError> {
        let target = self.path_of(digest);
        if target.is_file() {
            fs::remove_file(partial).map_err(|e| RegistryError::io(partial, e))?;
            return Ok(target);
        }
        File::open(partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| RegistryError::io(partial, e))?;
        fs::rename(partial, &target).map_err(|e| RegistryError::io(&target, e))?;
        if let Ok(dir) = File::open(self.blobs_dir()) {
            // The rename is durable once the directory is synced.
            let _ = dir.sync_all();
        }
        Ok(target)
    }

    /// Bring a local file in: hard-link it (`link`, same file system only) or
    /// copy it into `partial/`, hash it, and commit it. Returns the digest and
    /// size. `expected` is checked when given.
    pub fn ingest(
        &self,
        source: &Path,
        link: bool,
        expected: Option<&str>,
    ) -> Result<(String, u64), RegistryError> {
        self.ensure_dirs()?;
        let partial = self
            .partial_dir()
            .join(format!("import-{}.tmp", uuid::Uuid::new_v4()));
        let result = (|| {
            if link {
                fs::hard_link(source, &partial).map_err(|e| {
                    RegistryError::Io(format!(
                        "cannot hard-link {} into {} ({e}); import without --link to copy",
                        source.display(),
                        self.partial_dir().display()
                    ))
                })?;
            } else {
                fs::copy(source, &partial).map_err(|e| RegistryError::io(source, e))?;
            }
            let (digest, size) = hash_file(&partial)?;
            if let Some(expected) = expected
                && expected != digest
            {
                return Err(RegistryError::DigestMismatch {
                    expected: expected.to_owned(),
                    actual: digest,
                });
            }
            self.commit(&partial, &digest)?;
            Ok((digest, size))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&partial);
        }
        result
    }

    /// Remove the blob of `digest` (absent is fine).
    pub fn remove(&self, digest: &str) -> Result<(), RegistryError> {
        let path = self.path_of(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RegistryError::io(&path, e)),
        }
    }

    /// Every blob on disk: digest and size.
    pub fn list(&self) -> Vec<(String, u64)> {
        let Ok(read) = fs::read_dir(self.blobs_dir()) else {
            return Vec::new();
        };
        let mut out: Vec<(String, u64)> = read
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let hex = name.strip_prefix("sha256-")?;
                let size = entry.metadata().ok()?.len();
                Some((format!("sha256:{hex}"), size))
            })
            .collect();
        out.sort();
        out
    }

    /// Bytes used by blobs and partial files (what the quota counts).
    pub fn usage(&self) -> u64 {
        [self.blobs_dir(), self.partial_dir()]
            .iter()
            .filter_map(|dir| fs::read_dir(dir).ok())
            .flat_map(|read| read.filter_map(Result::ok))
            .filter_map(|entry| entry.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }

    /// Remove leftovers of interrupted imports (`partial/*.tmp`; downloads'
    /// `*.partial` files are kept so pulls resume).
    pub fn remove_stale_imports(&self) -> u64 {
        let Ok(read) = fs::read_dir(self.partial_dir()) else {
            return 0;
        };
        let mut removed = 0;
        for entry in read.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "tmp") && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// SHA-256 (`sha256:hex`) and size of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), RegistryError> {
    let mut file = File::open(path).map_err(|e| RegistryError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| RegistryError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex(&hasher.finalize())), size))
}

/// SHA-256 (`sha256:hex`) of bytes.
pub fn hash_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `bytes` to `path` through a temp file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|e| RegistryError::io(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| RegistryError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| RegistryError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_copies_hashes_and_commits_once() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::new(&dir.path().join("registry"));
        let src = dir.path().join("m.gguf");
        fs::write(&src, b"hello").unwrap();
        let (digest, size) = blobs.ingest(&src, false, None).unwrap();
        assert_eq!(digest, hash_bytes(b"hello"));
        assert_eq!(size, 5);
        assert!(blobs.exists(&digest));
        assert_eq!(fs::read(blobs.path_of(&digest)).unwrap(), b"hello");
        // Same content again: one blob, no leftovers.
        let (again, _) = blobs.ingest(&src, true, Some(&digest)).unwrap();
        assert_eq!(again, digest);
        assert_eq!(blobs.list().len(), 1);
        assert_eq!(fs::read_dir(blobs.partial_dir()).unwrap().count(), 0);
        assert_eq!(blobs.usage(), 5);
    }

    #[test]
    fn ingest_with_wrong_digest_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::new(&dir.path().join("registry"));
        let src = dir.path().join("m.gguf");
        fs::write(&src, b"hello").unwrap();
        let wrong = hash_bytes(b"other");
        assert!(matches!(
            blobs.ingest(&src, false, Some(&wrong)),
            Err(RegistryError::DigestMismatch { .. })
        ));
        assert!(blobs.list().is_empty());
        assert_eq!(blobs.usage(), 0);
    }
}
