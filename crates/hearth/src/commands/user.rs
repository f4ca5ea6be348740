//! `hearth user add|list|disable|enable|quota|passwd`: accounts on the data directory,
//! with or without a running server.

use std::process::ExitCode;

use hearth_core::auth::{AuditContext, Role};

use super::accounts::{open, read_password, run};
use crate::cli::UserCommand;

/// Run a `user` subcommand.
pub fn main(command: UserCommand) -> ExitCode {
    match command {
        UserCommand::Add {
            name,
            admin,
            role,
            password_stdin,
            config,
        } => run(&config, |config| async move {
            let role = match (admin, role.as_deref()) {
                (true, _) => Role::Admin,
                (false, None) => Role::User,
                (false, Some(r)) => Role::parse(r)
                    .ok_or_else(|| anyhow::anyhow!("--role must be admin, user or readonly"))?,
            };
            let password = read_password(password_stdin)?;
            let (store, auth) = open(&config).await?;
            let user = auth
                .create_user(&name, &password, role, &AuditContext::cli())
                .await?;
            println!(
                "created {} ({}) id {}",
                user.username,
                user.role.as_str(),
                user.id
            );
            store.close().await;
            Ok(())
        }),
        UserCommand::List { config } => run(&config, |config| async move {
            let (store, auth) = open(&config).await?;
            println!("{:<24} {:<9} {:<8} ID", "NAME", "ROLE", "STATE");
            for u in auth.list_users().await? {
                let state = if u.is_disabled { "disabled" } else { "active" };
                println!(
                    "{:<24} {:<9} {:<8} {}",
                    u.username,
                    u.role.as_str(),
                    state,
                    u.id
                );
            }
            store.close().await;
            Ok(())
        }),
        UserCommand::Disable {
            name,
            enable,
            config,
        } => run(&config, |config| async move {
            let (store, auth) = open(&config).await?;
            let user = auth.user_by_name(&name).await?;
            auth.set_disabled(&user.id, !enable, &AuditContext::cli())
                .await?;
            println!(
                "{} {}",
                user.username,
                if enable {
                    "enabled"
                } else {
                    "disabled (sessions ended)"
                }
            );
            store.close().await;
            Ok(())
        }),
        UserCommand::Quota {
            name,
            limits,
            config,
        } => run(&config, |config| {
            super::quota::run(config, super::quota::Who::User(name), limits)
        }),
        UserCommand::Passwd {
            name,
            password_stdin,
            config,
        } => run(&config, |config| async move {
            let password = read_password(password_stdin)?;
            let (store, auth) = open(&config).await?;
            let user = auth.user_by_name(&name).await?;
            auth.reset_password(&user.id, &password, &AuditContext::cli())
                .await?;
            println!("password of {} changed (sessions ended)", user.username);
            store.close().await;
            Ok(())
        }),
    }
}
