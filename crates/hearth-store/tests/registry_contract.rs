//! The storage contract of the model registry's manifests, on SQLite always and
//! on PostgreSQL when the test server is up (always, under CI). Kept apart
//! from `contract.rs` so the registry's checks read as one unit.

use std::sync::Arc;

use hearth_core::backend::Capabilities;
use hearth_core::models::ModelInfo;
use hearth_core::registry::{Preset, Provenance, RegistryModel};
use hearth_core::store::{Store, StoreError, StoreKind};
use hearth_store::{OpenOptions, open};

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    (open(&url, &OpenOptions::default()).await.unwrap(), dir)
}

async fn postgres() -> Option<Arc<dyn Store>> {
    let admin = hearth_testkit::postgres::admin_url()?;
    let url = hearth_testkit::postgres::fresh_database(&admin)
        .await
        .unwrap();
    Some(open(&url, &OpenOptions::default()).await.unwrap())
}

macro_rules! contract {
    ($name:ident, $check:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (store, _dir) = super::sqlite().await;
                assert_eq!(store.kind(), super::StoreKind::Sqlite);
                super::$check(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(store) = super::postgres().await {
                    assert_eq!(store.kind(), super::StoreKind::Postgres);
                    super::$check(store).await;
                }
            }
        }
    };
}

contract!(manifests_lifecycle, lifecycle_check);
contract!(manifests_count_blob_references, references_check);
contract!(hostile_manifest_strings_are_inert, hostile_check);

fn model(name: &str, digest: &str) -> RegistryModel {
    RegistryModel {
        name: name.to_owned(),
        digest: digest.to_owned(),
        size_bytes: 5_000_000_000,
        info: ModelInfo {
            name: name.to_owned(),
            size_bytes: 5_000_000_000,
            digest: Some(digest.to_owned()),
            architecture: "llama".to_owned(),
            parameter_count: Some(134_515_008),
            quantization: Some("Q4_1".to_owned()),
            context_length: Some(8192),
            embedding_length: Some(576),
            chat_template: Some("{{ messages }}".to_owned()),
            capabilities: Capabilities {
                chat: true,
                completion: true,
                ..Capabilities::default()
            },
            modified_at_ms: 1_700_000_000_000,
        },
        source: Provenance {
            kind: "pull".to_owned(),
            url: Some("https://x.test/m.gguf".to_owned()),
            hf_repo: Some("org/repo".to_owned()),
            hf_revision: Some("abc123".to_owned()),
            license: Some("apache-2.0".to_owned()),
            ..Provenance::default()
        },
        preset: None,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_000,
    }
}

async fn lifecycle_check(store: Arc<dyn Store>) {
    let repo = store.registry();
    assert!(repo.list().await.unwrap().is_empty());
    assert!(matches!(
        repo.get("a:latest").await,
        Err(StoreError::NotFound)
    ));
    let a = model("a:latest", "sha256:aa");
    repo.put(&a).await.unwrap();
    repo.put(&model("b:latest", "sha256:bb")).await.unwrap();
    assert_eq!(repo.get("a:latest").await.unwrap(), a);
    let names: Vec<String> = repo
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["a:latest", "b:latest"]);

    // Replacing keeps the creation time and takes everything else.
    let mut replaced = model("a:latest", "sha256:cc");
    replaced.created_at_ms = 1;
    replaced.updated_at_ms = 1_800_000_000_000;
    replaced.preset = Some(Preset {
        system: Some("Be brief.".to_owned()),
        template: None,
        parameters: serde_json::json!({"temperature": 0.2, "stop": ["###"]})
            .as_object()
            .unwrap()
            .clone(),
    });
    repo.put(&replaced).await.unwrap();
    let got = repo.get("a:latest").await.unwrap();
    assert_eq!(got.digest, "sha256:cc");
    assert_eq!(got.created_at_ms, 1_700_000_000_000);
    assert_eq!(got.updated_at_ms, 1_800_000_000_000);
    assert_eq!(got.preset, replaced.preset);
    assert_eq!(got.size_bytes, 5_000_000_000);

    repo.delete("a:latest").await.unwrap();
    assert!(matches!(
        repo.delete("a:latest").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(repo.list().await.unwrap().len(), 1);
}

async fn references_check(store: Arc<dyn Store>) {
    let repo = store.registry();
    assert_eq!(repo.count_digest("sha256:aa").await.unwrap(), 0);
    repo.put(&model("a:latest", "sha256:aa")).await.unwrap();
    repo.put(&model("a:copy", "sha256:aa")).await.unwrap();
    repo.put(&model("b:latest", "sha256:bb")).await.unwrap();
    assert_eq!(repo.count_digest("sha256:aa").await.unwrap(), 2);
    repo.delete("a:copy").await.unwrap();
    assert_eq!(repo.count_digest("sha256:aa").await.unwrap(), 1);
    assert_eq!(repo.count_digest("sha256:bb").await.unwrap(), 1);
}

async fn hostile_check(store: Arc<dyn Store>) {
    let repo = store.registry();
    let name = "x'; DROP TABLE registry_models; --:latest";
    let mut m = model(name, "sha256:'\"\\");
    m.info.chat_template = Some("{% raw %}\u{0}💥'\"{% endraw %}".to_owned());
    m.source.url = Some("https://x.test/?q='\"".to_owned());
    repo.put(&m).await.unwrap();
    assert_eq!(repo.get(name).await.unwrap(), m);
    assert_eq!(repo.count_digest("sha256:'\"\\").await.unwrap(), 1);
    assert_eq!(repo.list().await.unwrap().len(), 1);
}
