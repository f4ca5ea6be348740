//! The test PostgreSQL: the README's test command starts a real server on
//! loopback and exports its admin URL as `HEARTH_TEST_DATABASE_URL`. Each test gets
//! a fresh database of its own, so tests run in parallel without interfering.

/// Admin URL of the test server, if one was started. Under CI a missing server is
/// a failure, not a skip.
pub fn admin_url() -> Option<String> {
    match std::env::var("HEARTH_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but HEARTH_TEST_DATABASE_URL is not: run the tests with scripts/test.sh"
            );
            eprintln!("HEARTH_TEST_DATABASE_URL not set: PostgreSQL half of this test not run");
            None
        }
    }
}

/// Create an empty database on the test server and return its URL.
pub async fn fresh_database(admin_url: &str) -> anyhow::Result<String> {
    let name = format!("hearth_test_{}", uuid::Uuid::new_v4().simple());
    let status = tokio::process::Command::new("psql")
        .arg(admin_url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .status()
        .await?;
    anyhow::ensure!(status.success(), "psql could not create database {name}");
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    Ok(format!("{base}/{name}"))
}
