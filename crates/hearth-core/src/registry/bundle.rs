//! Bundles: models carried to another machine without network. `hearth export
//! NAME FILE` writes one file; `hearth import FILE` on the other machine
//! verifies every blob's digest and records the manifests (provenance and
//! presets kept).
//!
//! Format (version 1), all integers little-endian:
//!
//! ```text
//! "HEARTHB1"                     8-byte magic
//! u64 manifest length, then the manifest (JSON):
//!     {"format": 1, "models": [RegistryModel…], "blobs": [{"digest", "size_bytes"}…]}
//! the blobs' bytes, one after the other, in the manifest's order
//! ```
//!
//! The export is written to a temp file and renamed; an import copies each
//! blob into `partial/` while hashing it and commits it only when the digest
//! matches, so a truncated or altered bundle leaves nothing behind.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::blobs::BlobStore;
use super::{ModelRef, Registry, RegistryError, RegistryModel};

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"HEARTHB1";
/// Largest manifest accepted (a bundle's manifest is a few KiB).
const MAX_MANIFEST: u64 = 16 << 20;

/// One blob of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleBlob {
    /// `sha256:…`
    pub digest: String,
    /// Bytes.
    pub size_bytes: u64,
}

/// The manifest of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// Always 1.
    pub format: u32,
    /// The manifests carried.
    pub models: Vec<RegistryModel>,
    /// The blobs, in file order.
    pub blobs: Vec<BundleBlob>,
}

/// Whether `path` starts with the bundle magic.
pub fn is_bundle(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == MAGIC)
}

fn write_bundle(
    blobs: &BlobStore,
    manifest: &BundleManifest,
    out: &Path,
) -> Result<(), RegistryError> {
    let tmp = out.with_extension("partial");
    let io = |e: std::io::Error| RegistryError::io(&tmp, e);
    let json = serde_json::to_vec(manifest)
        .map_err(|e| RegistryError::Io(format!("bundle manifest: {e}")))?;
    let mut writer = BufWriter::new(File::create(&tmp).map_err(io)?);
    writer.write_all(MAGIC).map_err(io)?;
    writer
        .write_all(&(json.len() as u64).to_le_bytes())
        .map_err(io)?;
    writer.write_all(&json).map_err(io)?;
    for blob in &manifest.blobs {
        let path = blobs.path_of(&blob.digest);
        let mut file = File::open(&path).map_err(|e| RegistryError::io(&path, e))?;
        let copied = std::io::copy(&mut file, &mut writer).map_err(io)?;
        if copied != blob.size_bytes {
            let _ = std::fs::remove_file(&tmp);
            return Err(RegistryError::Io(format!(
                "{} changed while it was exported",
                path.display()
            )));
        }
    }
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, out).map_err(|e| RegistryError::io(out, e))
}

/// Read the manifest and bring every blob in (verified). Blocking.
fn read_bundle(blobs: &BlobStore, path: &Path) -> Result<BundleManifest, RegistryError> {
    let bad = |why: String| RegistryError::Invalid {
        field: "file",
        message: format!("{} is not a valid Hearth bundle: {why}", path.display()),
    };
    let mut reader = BufReader::new(File::open(path).map_err(|e| RegistryError::io(path, e))?);
    let mut magic = [0u8; 8];
    let mut len = [0u8; 8];
    reader
        .read_exact(&mut magic)
        .and_then(|()| reader.read_exact(&mut len))
        .map_err(|e| bad(e.to_string()))?;
    if &magic != MAGIC {
        return Err(bad("wrong magic".to_owned()));
    }
    let len = u64::from_le_bytes(len);
    if len > MAX_MANIFEST {
        return Err(bad(format!("manifest of {len} bytes")));
    }
    let mut json = vec![0u8; len as usize];
    reader
        .read_exact(&mut json)
        .map_err(|e| bad(e.to_string()))?;
    let manifest: BundleManifest =
        serde_json::from_slice(&json).map_err(|e| bad(format!("manifest: {e}")))?;
    if manifest.format != 1 {
        return Err(bad(format!("format {} is not supported", manifest.format)));
    }
    blobs.ensure_dirs()?;
    for blob in &manifest.blobs {
        let digest = super::parse_digest(&blob.digest)?;
        let partial = blobs
            .partial_dir()
            .join(format!("bundle-{}.tmp", uuid::Uuid::new_v4()));
        let result = copy_verified(&mut reader, blob.size_bytes, &partial).and_then(|actual| {
            if actual != digest {
                return Err(RegistryError::DigestMismatch {
                    expected: digest.clone(),
                    actual,
                });
            }
            blobs.commit(&partial, &digest).map(drop)
        });
        if let Err(e) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    }
    Ok(manifest)
}

/// Copy exactly `size` bytes into `to`, returning their digest.
fn copy_verified(from: &mut impl Read, size: u64, to: &Path) -> Result<String, RegistryError> {
    let io = |e: std::io::Error| RegistryError::io(to, e);
    let mut out = BufWriter::new(File::create(to).map_err(io)?);
    let mut hasher = Sha256::new();
    let mut left = size;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = from.read(&mut buf[..want]).map_err(io)?;
        if n == 0 {
            return Err(RegistryError::Invalid {
                field: "file",
                message: "the bundle is truncated".to_owned(),
            });
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io)?;
        left -= n as u64;
    }
    out.flush().map_err(io)?;
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("sha256:{hex}"))
}

impl Registry {
    /// Write `names` and their blobs to the bundle `out`.
    pub async fn export(
        &self,
        names: &[String],
        out: &Path,
    ) -> Result<BundleManifest, RegistryError> {
        let mut models = Vec::new();
        let mut blobs: Vec<BundleBlob> = Vec::new();
        for name in names {
            let model = self.get(name).await?;
            if !blobs.iter().any(|b| b.digest == model.digest) {
                blobs.push(BundleBlob {
                    digest: model.digest.clone(),
                    size_bytes: model.size_bytes,
                });
            }
            models.push(model);
        }
        let manifest = BundleManifest {
            format: 1,
            models,
            blobs,
        };
        let (store, written, out) = (self.blobs.clone(), manifest.clone(), out.to_owned());
        tokio::task::spawn_blocking(move || write_bundle(&store, &written, &out))
            .await
            .map_err(|e| RegistryError::Io(format!("export task failed: {e}")))??;
        Ok(manifest)
    }

    /// Import a bundle: verify and store its blobs, record its manifests
    /// (metadata read again from the files; provenance and presets kept).
    pub async fn import_bundle(&self, path: &Path) -> Result<Vec<RegistryModel>, RegistryError> {
        let size = std::fs::metadata(path)
            .map_err(|e| RegistryError::io(path, e))?
            .len();
        self.check_quota(size)?;
        let _guard = self.ops.lock().await;
        let (store, file) = (self.blobs.clone(), path.to_owned());
        let manifest = tokio::task::spawn_blocking(move || read_bundle(&store, &file))
            .await
            .map_err(|e| RegistryError::Io(format!("import task failed: {e}")))??;
        let mut imported = Vec::new();
        for carried in manifest.models {
            let name = ModelRef::parse(&carried.name)?;
            if !manifest.blobs.iter().any(|b| b.digest == carried.digest) {
                return Err(RegistryError::Invalid {
                    field: "file",
                    message: format!("the bundle's model {} has no blob", carried.name),
                });
            }
            let mut model = self
                .record_blob_locked(&name, &carried.digest, carried.source.clone())
                .await?;
            if carried.preset.is_some() {
                model.preset = carried.preset;
                if let Some(template) = model.preset.as_ref().and_then(|p| p.template.clone()) {
                    model.info.chat_template = Some(template);
                }
                self.put_locked(&model).await?;
            }
            imported.push(model);
        }
        Ok(imported)
    }
}
