//! `hearth key create|list|quota|revoke`: API keys on the data directory, with or
//! without a running server. A new key is printed once, on stdout alone.

use std::process::ExitCode;

use hearth_core::auth::{AuditContext, KeyInput};

use super::accounts::{open, run};
use crate::cli::KeyCommand;

fn split(list: Option<String>) -> Vec<String> {
    list.map(|l| {
        l.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// `30d`, `30` (days) → days.
fn parse_days(text: &str) -> anyhow::Result<u32> {
    text.trim_end_matches('d')
        .parse()
        .map_err(|_| anyhow::anyhow!("--expires takes days, e.g. 30d"))
}

/// Run a `key` subcommand.
pub fn main(command: KeyCommand) -> ExitCode {
    match command {
        KeyCommand::Create {
            user,
            name,
            scopes,
            models,
            expires,
            config,
        } => run(&config, |config| async move {
            let expires_in_days = expires.as_deref().map(parse_days).transpose()?;
            let (store, auth) = open(&config).await?;
            let owner = auth.user_by_name(&user).await?;
            let input = KeyInput {
                name,
                scopes: split(scopes),
                models: models.map(|m| split(Some(m))),
                expires_in_days,
            };
            let (key, secret) = auth.create_key(&owner, input, &AuditContext::cli()).await?;
            let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
            eprintln!(
                "key {} for {} with scopes {} (shown once):",
                key.id,
                owner.username,
                scopes.join(",")
            );
            println!("{secret}");
            store.close().await;
            Ok(())
        }),
        KeyCommand::List { user, config } => run(&config, |config| async move {
            let (store, auth) = open(&config).await?;
            let owner = match user {
                Some(name) => Some(auth.user_by_name(&name).await?.id),
                None => None,
            };
            println!(
                "{:<36} {:<14} {:<20} {:<8} SCOPES",
                "ID", "PREFIX", "NAME", "STATE"
            );
            for k in auth.list_keys(owner.as_ref()).await? {
                let state = if k.revoked_at_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
                println!(
                    "{:<36} {:<14} {:<20} {:<8} {}",
                    k.id,
                    k.prefix,
                    k.name,
                    state,
                    scopes.join(",")
                );
            }
            store.close().await;
            Ok(())
        }),
        KeyCommand::Quota { id, limits, config } => run(&config, |config| {
            super::quota::run(config, super::quota::Who::Key(id), limits)
        }),
        KeyCommand::Revoke { id, config } => run(&config, |config| async move {
            let (store, auth) = open(&config).await?;
            auth.revoke_key(&id, None, &AuditContext::cli()).await?;
            println!("key {id} revoked");
            store.close().await;
            Ok(())
        }),
    }
}
