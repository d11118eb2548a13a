//! `twofold audit`: lists audit events, newest last.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use crate::store::audit::{AuditFilter, AuditRecord};

#[derive(Args)]
pub struct AuditArgs {
    /// Only failures and blocks.
    #[arg(long)]
    failed: bool,
    /// Only events of this user.
    #[arg(long, value_name = "EMAIL")]
    user: Option<String>,
    /// Only events newer than this, such as 30m, 1h or 7d.
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// At most this many events.
    #[arg(long, default_value_t = 1000)]
    limit: i64,
}

pub async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let since = match &args.since {
        Some(age) => Some(crate::clock::now() - parse_age(age)?),
        None => None,
    };
    let filter = AuditFilter {
        failed_only: args.failed,
        email: args.user.map(|e| e.trim().to_lowercase()),
        since,
        limit: args.limit.max(1),
    };
    let (_, store) = super::open().await?;

    for event in store.list_audit(&filter).await? {
        if args.json {
            println!("{}", serde_json::to_string(&event)?);
        } else {
            println!("{}", line(&event));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn line(e: &AuditRecord) -> String {
    let when = cookie::time::OffsetDateTime::from_unix_timestamp(e.at)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_else(|_| e.at.to_string());
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    format!(
        "{when} {:26} {:8} email={} ip={} actor={} detail={}",
        e.kind,
        e.outcome,
        dash(&e.email),
        dash(&e.ip),
        dash(&e.actor),
        dash(&e.detail)
    )
}

/// Parses `90s`, `30m`, `1h`, `7d` into seconds.
fn parse_age(text: &str) -> anyhow::Result<i64> {
    let bad = || anyhow!("--since takes an age such as 30m, 1h or 7d, not {text:?}");
    let text = text.trim();
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = (
        text.get(..split).ok_or_else(bad)?,
        text.get(split..).ok_or_else(bad)?,
    );
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    number.checked_mul(unit).filter(|n| *n >= 0).ok_or_else(bad)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("90s").unwrap(), 90);
        assert_eq!(parse_age("30m").unwrap(), 1_800);
        assert_eq!(parse_age("1h").unwrap(), 3_600);
        assert_eq!(parse_age("7d").unwrap(), 604_800);
        for bad in ["", "h", "1y", "-1h", "é", "99999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }
}
