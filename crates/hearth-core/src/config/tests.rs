//! Precedence, strictness and example-config tests for the configuration.

use super::*;
use std::io::Write;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn defaults_are_loopback_and_xdg() {
    let c = Config::load(&Sources {
        env: env(&[("HOME", "/srv/u")]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.server.bind.to_string(), DEFAULT_BIND);
    assert!(c.server.bind.ip().is_loopback());
    assert_eq!(c.data_dir(), Path::new("/srv/u/.local/share/hearth"));
    assert_eq!(
        c.database_url(),
        "sqlite:///srv/u/.local/share/hearth/hearth.db"
    );
    let c = Config::load(&Sources {
        env: env(&[("HOME", "/srv/u"), ("XDG_DATA_HOME", "/x")]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.data_dir(), Path::new("/x/hearth"));
}

#[test]
fn precedence_defaults_file_env_flags() {
    let f = file(
        "[server]\nbind = \"127.0.0.1:1000\"\nbody_limit_bytes = 5000\n[log]\nformat = \"json\"\n",
    );
    let mut sources = Sources {
        file: Some(f.path().to_owned()),
        ..Default::default()
    };
    let c = Config::load(&sources).unwrap();
    assert_eq!(c.server.bind.port(), 1000);
    assert_eq!(c.server.body_limit_bytes, 5000);
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(
        c.server.shutdown_grace_secs,
        ServerConfig::default().shutdown_grace_secs
    );

    sources.env = env(&[
        ("HEARTH_SERVER_BIND", "127.0.0.1:2000"),
        ("HEARTH_LOG_FORMAT", "human"),
    ]);
    let c = Config::load(&sources).unwrap();
    assert_eq!(c.server.bind.port(), 2000, "env beats file");
    assert_eq!(
        c.server.body_limit_bytes, 5000,
        "file value kept where env is silent"
    );
    assert_eq!(c.log.format, LogFormat::Human);

    sources.flags = vec![("server.bind".into(), "127.0.0.1:3000".into())];
    let c = Config::load(&sources).unwrap();
    assert_eq!(c.server.bind.port(), 3000, "flag beats env");
}

#[test]
fn env_values_are_typed_like_defaults() {
    let c = Config::load(&Sources {
        env: env(&[
            ("HEARTH_METRICS_ENABLED", "false"),
            ("HEARTH_DATABASE_MAX_CONNECTIONS", "3"),
            (
                "HEARTH_SERVER_CORS_ORIGINS",
                "http://a.test, https://b.test",
            ),
            ("HEARTH_DATABASE_URL", "postgres://u:p@localhost/db"),
        ]),
        ..Default::default()
    })
    .unwrap();
    assert!(!c.metrics.enabled);
    assert_eq!(c.database.max_connections, 3);
    assert_eq!(
        c.server.cors_origins,
        vec!["http://a.test", "https://b.test"]
    );
    assert_eq!(c.database_url(), "postgres://u:p@localhost/db");
}

#[test]
fn unknown_file_key_names_the_key() {
    let f = file("[server]\nbnd = \"127.0.0.1:1\"\n");
    let err = Config::load(&Sources {
        file: Some(f.path().to_owned()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "server.bnd");
    assert!(err.message.contains("unknown field"), "{err}");
    assert!(err.message.contains("bind"), "lists what is allowed: {err}");
    assert!(matches!(err.layer, Layer::File(_)));
}

#[test]
fn unknown_section_and_env_are_rejected() {
    let f = file("[sever]\nbind = \"x\"\n");
    let err = Config::load(&Sources {
        file: Some(f.path().to_owned()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "sever");
    let err = Config::load(&Sources {
        env: env(&[("HEARTH_SERVER_BND", "x")]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "HEARTH_SERVER_BND");
    assert_eq!(err.layer, Layer::Env("HEARTH_SERVER_BND".into()));
}

#[test]
fn invalid_values_name_key_and_layer() {
    let err = Config::load(&Sources {
        env: env(&[("HEARTH_SERVER_BIND", "nonsense")]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "server.bind");
    assert!(err.to_string().contains("HEARTH_SERVER_BIND"), "{err}");

    let err = Config::load(&Sources {
        env: env(&[("HEARTH_LOG_FORMAT", "xml")]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "log.format");
    assert!(
        err.message.contains("human") && err.message.contains("json"),
        "{err}"
    );

    let err = Config::load(&Sources {
        flags: vec![("database.max_connections".into(), "0".into())],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "database.max_connections");
    assert!(err.message.contains("between 1 and 1024"));
    assert_eq!(err.layer, Layer::Flag("database.max_connections".into()));

    let err = Config::load(&Sources {
        env: env(&[("HEARTH_DATABASE_URL", "mysql://x")]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "database.url");
}

#[test]
fn missing_or_broken_file_is_an_error() {
    let err = Config::load(&Sources {
        file: Some("/nonexistent/hearth.toml".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.message.contains("cannot read"));
    let f = file("[server\n");
    let err = Config::load(&Sources {
        file: Some(f.path().to_owned()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "(syntax)");
}

#[test]
fn test_setup_variables_are_not_config_keys() {
    let c = Config::load(&Sources {
        env: env(&[
            ("HEARTH_TEST_REDIS_URL", "redis://x"),
            ("HEARTH_TEST_MODELS", "/m"),
        ]),
        ..Default::default()
    });
    assert!(c.is_ok());
}

#[test]
fn hearth_config_env_names_the_file() {
    let f = file("[server]\nshutdown_grace_secs = 7\n");
    let c = Config::load(&Sources {
        env: env(&[("HEARTH_CONFIG", f.path().to_str().unwrap())]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.server.shutdown_grace_secs, 7);
}

#[test]
fn key_docs_cover_every_key() {
    let mut documented: Vec<&str> = KEY_DOCS.iter().map(|(k, _, _)| *k).collect();
    let defaults = toml::Value::try_from(Config::default()).unwrap();
    let mut leaves = Vec::new();
    for (section, table) in defaults.as_table().unwrap() {
        for key in table.as_table().unwrap().keys() {
            leaves.push(format!("{section}.{key}"));
        }
    }
    for leaf in &leaves {
        assert!(
            documented.contains(&leaf.as_str()),
            "{leaf} is not in KEY_DOCS"
        );
    }
    // Keys unset by default must carry an example value.
    documented.retain(|k| !leaves.iter().any(|l| l == k));
    for key in documented {
        let (_, _, example) = KEY_DOCS.iter().find(|(k, _, _)| *k == key).unwrap();
        assert!(example.is_some(), "{key} has no default and no example");
    }
}

#[test]
fn example_config_parses_to_defaults_and_matches_golden() {
    let example = Config::example_toml();
    let parsed: Config = toml::from_str(&example).expect("example parses strictly");
    assert_eq!(parsed, Config::default());
    let golden_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/hearth.example.toml");
    let golden = std::fs::read_to_string(&golden_path).unwrap_or_default();
    assert!(
        golden == example,
        "docs/hearth.example.toml is stale: run `cargo run -p hearth -- config example > docs/hearth.example.toml`"
    );
}

#[test]
fn show_redacts_database_password() {
    let c = Config::load(&Sources {
        env: env(&[("HEARTH_DATABASE_URL", "postgres://hearth:s3cret@db/hearth")]),
        ..Default::default()
    })
    .unwrap();
    let shown = c.to_redacted_toml();
    assert!(!shown.contains("s3cret"));
    assert!(shown.contains("postgres://hearth:****@db/hearth"));
}

#[test]
fn auth_off_is_refused_off_loopback() {
    let c = Config::load(&Sources {
        env: env(&[("HEARTH_AUTH_ENABLED", "false")]),
        ..Default::default()
    })
    .unwrap();
    assert!(!c.auth.enabled, "loopback bind may turn auth off");
    let err = Config::load(&Sources {
        env: env(&[
            ("HEARTH_AUTH_ENABLED", "false"),
            ("HEARTH_SERVER_BIND", "0.0.0.0:4327"),
            ("HEARTH_SERVER_ALLOW_INSECURE_BIND", "true"),
        ]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "auth.enabled");
    let c = Config::default();
    assert!(c.auth.enabled && c.auth.cookie_secure && !c.auth.open_registration);
}

#[test]
fn non_loopback_bind_needs_tls_or_an_explicit_switch() {
    let err = Config::load(&Sources {
        env: env(&[("HEARTH_SERVER_BIND", "0.0.0.0:4327")]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "server.bind");
    assert!(err.message.contains("allow_insecure_bind"), "{err}");
    let c = Config::load(&Sources {
        env: env(&[
            ("HEARTH_SERVER_BIND", "0.0.0.0:4327"),
            ("HEARTH_SERVER_ALLOW_INSECURE_BIND", "true"),
        ]),
        ..Default::default()
    })
    .unwrap();
    assert!(c.server.allow_insecure_bind && !c.server.is_tls());
    let c = Config::load(&Sources {
        env: env(&[
            ("HEARTH_SERVER_BIND", "0.0.0.0:4327"),
            ("HEARTH_SERVER_TLS_CERT", "/etc/hearth/cert.pem"),
            ("HEARTH_SERVER_TLS_KEY", "/etc/hearth/key.pem"),
        ]),
        ..Default::default()
    })
    .unwrap();
    assert!(c.server.is_tls());
    let err = Config::load(&Sources {
        env: env(&[("HEARTH_SERVER_TLS_CERT", "/etc/hearth/cert.pem")]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "server.tls_cert");
}

#[test]
fn cross_site_cookies_must_be_secure() {
    let err = Config::load(&Sources {
        env: env(&[
            ("HEARTH_AUTH_COOKIE_CROSS_SITE", "true"),
            ("HEARTH_AUTH_COOKIE_SECURE", "false"),
        ]),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "auth.cookie_cross_site");
}
