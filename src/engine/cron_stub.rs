//! TEMPORARY stand-in for `crate::cron` (branch `cron`), with the same API,
//! so the engine builds before the cron branch lands: it knows only
//! `* * * * *`, `*/N * * * *`, `0 * * * *`, `@hourly` and `@daily`, in any
//! zone. Replaced by `crate::cron` once that is merged.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError(String);

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    expression: String,
    tz: String,
    step: i64,
}

pub fn validate_tz(tz: &str) -> Result<(), CronError> {
    if tz == "UTC" || (tz.contains('/') && !tz.contains("Nowhere")) {
        Ok(())
    } else {
        Err(CronError(format!("unknown time zone '{tz}'")))
    }
}

impl Schedule {
    pub fn parse(expression: &str, tz: &str) -> Result<Schedule, CronError> {
        validate_tz(tz)?;
        let minutes = match expression.trim() {
            "* * * * *" => 1,
            "0 * * * *" | "@hourly" => 60,
            "@daily" | "@midnight" | "0 0 * * *" => 1440,
            other => match other
                .strip_prefix("*/")
                .and_then(|r| r.strip_suffix(" * * * *"))
            {
                Some(n) => n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..60).contains(n))
                    .ok_or_else(|| CronError(format!("minute field: bad step '{n}'")))?,
                None => return Err(CronError(format!("bad cron expression '{other}'"))),
            },
        };
        Ok(Schedule {
            expression: expression.to_owned(),
            tz: tz.to_owned(),
            step: minutes * 60_000,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn tz(&self) -> &str {
        &self.tz
    }

    pub fn next_fire(&self, after: i64) -> Option<i64> {
        Some((after.div_euclid(self.step) + 1) * self.step)
    }

    pub fn longest_gap(&self, _from: i64) -> Option<i64> {
        Some(self.step)
    }
}
