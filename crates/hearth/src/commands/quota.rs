//! `hearth user quota` and `hearth key quota`: show or change the token limits
//! of one user or key on the data directory (audited as the CLI).

use std::sync::Arc;

use anyhow::Context;
use hearth_core::auth::AuditContext;
use hearth_core::config::Config;
use hearth_core::limits::InProcessLimiter;
use hearth_core::usage::{QuotaLimits, QuotaOverride, QuotaSettings, Quotas, Subject};

use crate::cli::QuotaArgs;

/// `N` → `Some(N)`, `default` → `None`.
fn parse(flag: &str, text: &str) -> anyhow::Result<Option<u64>> {
    if text.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .with_context(|| format!("--{flag} takes a number of tokens (0 = unlimited) or `default`"))
}

fn patch(
    current: Option<QuotaOverride>,
    args: &QuotaArgs,
) -> anyhow::Result<Option<QuotaOverride>> {
    let mut quota = current.unwrap_or_default();
    let mut changed = false;
    for (flag, value, field) in [
        (
            "tokens-per-minute",
            &args.tokens_per_minute,
            &mut quota.tokens_per_minute,
        ),
        (
            "tokens-per-day",
            &args.tokens_per_day,
            &mut quota.tokens_per_day,
        ),
        (
            "tokens-per-month",
            &args.tokens_per_month,
            &mut quota.tokens_per_month,
        ),
    ] {
        if let Some(text) = value {
            *field = parse(flag, text)?;
            changed = true;
        }
    }
    if let Some(text) = &args.share {
        let max = u64::from(hearth_core::usage::MAX_SHARE);
        quota.share = parse("share", text)?;
        if quota.share.is_some_and(|s| !(1..=max).contains(&s)) {
            anyhow::bail!("--share takes a weight from 1 to {max}, or `default`");
        }
        changed = true;
    }
    Ok(changed.then_some(quota))
}

fn show(subject: &Subject, stored: Option<QuotaOverride>, limits: QuotaLimits) {
    let stored = stored.unwrap_or_default();
    let line = |name: &str, stored: Option<u64>, effective: u64| {
        let effective = match effective {
            0 => "unlimited".to_owned(),
            n => n.to_string(),
        };
        let source = if stored.is_some() { "set" } else { "default" };
        println!("{name:<18} {effective:<12} ({source})");
    };
    println!("{}", subject.as_key());
    line(
        "tokens_per_minute",
        stored.tokens_per_minute,
        limits.tokens_per_minute,
    );
    line(
        "tokens_per_day",
        stored.tokens_per_day,
        limits.tokens_per_day,
    );
    line(
        "tokens_per_month",
        stored.tokens_per_month,
        limits.tokens_per_month,
    );
    let source = if stored.share.is_some() {
        "set"
    } else {
        "default"
    };
    println!("{:<18} {:<12} ({source})", "share", limits.share.max(1));
}

/// Show, or change and show, one subject's limits. `user` names a user by
/// login name; otherwise `key` is a key id.
pub async fn run(config: Config, who: Who, args: QuotaArgs) -> anyhow::Result<()> {
    let (store, auth) = super::accounts::open(&config).await?;
    let subject = match who {
        Who::User(name) => Subject::User(auth.user_by_name(&name).await?.id.0),
        Who::Key(id) => Subject::Key(id),
    };
    let quotas = Quotas::new(
        store.clone(),
        Arc::new(InProcessLimiter::new()),
        Arc::new(auth),
        QuotaSettings::from_config(&config.limits),
    );
    let (stored, _) = quotas.show(&subject).await?;
    if let Some(quota) = patch(stored, &args)? {
        quotas.set(&subject, quota, &AuditContext::cli()).await?;
    }
    let (stored, limits) = quotas.show(&subject).await?;
    show(&subject, stored, limits);
    store.close().await;
    Ok(())
}

/// Whose limits.
pub enum Who {
    /// A user by login name.
    User(String),
    /// A key by id.
    Key(String),
}
