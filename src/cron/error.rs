//! The errors of parsing a cron expression or a time-zone name: each names
//! the field (or the zone) and what is wrong with it, so a 400 reply or a
//! configuration error tells the user what to fix.

use std::fmt;

/// The five fields of a cron expression, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    /// The field's name as the messages use it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// The values the field accepts (day of week: 0-7, both 0 and 7 Sunday).
    pub(crate) fn range(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }
}

/// What is wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// An empty value, e.g. `1,,2` or `*/`.
    Empty,
    /// Neither a number nor a name the field knows.
    NotANumber(String),
    /// A number outside the field's range.
    OutOfRange(String),
    /// `5-1`: the end of a range before its start.
    BackwardRange(String),
    /// `*/0`.
    ZeroStep,
    /// `#` with a week number other than 1-5.
    BadNth(String),
    /// `L` in day of week without a day before it (`5L` is Friday's last).
    BadLast(String),
    /// A day of month no selected month has (`30 2` = 30 February).
    NeverMatches(u32),
}

/// Why an expression or a zone was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CronError {
    /// Longer than [`super::MAX_EXPRESSION_LEN`] bytes.
    TooLong(usize),
    /// A character no cron expression contains (control or non-ASCII).
    BadCharacter(char),
    /// Not 5 fields.
    FieldCount(usize),
    /// `@something` that is not one of the macros.
    UnknownMacro(String),
    /// One field is wrong.
    Field(Field, Problem),
    /// Not a time zone of the bundled IANA database.
    UnknownZone(String),
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CronError::TooLong(n) => write!(
                f,
                "cron expression is {n} bytes long; at most {} are accepted",
                super::MAX_EXPRESSION_LEN
            ),
            CronError::BadCharacter(c) => {
                write!(f, "cron expression contains the character {c:?}")
            }
            CronError::FieldCount(n) => write!(
                f,
                "cron expression has {n} fields; expected 5 (minute hour day-of-month month \
                 day-of-week) or one of @hourly @daily @midnight @weekly @monthly @yearly @annually"
            ),
            CronError::UnknownMacro(m) => write!(
                f,
                "unknown cron macro {m:?}; expected one of @hourly @daily @midnight @weekly \
                 @monthly @yearly @annually"
            ),
            CronError::Field(field, problem) => {
                let name = field.name();
                let (lo, hi) = field.range();
                match problem {
                    Problem::Empty => write!(f, "{name} field: empty value"),
                    Problem::NotANumber(v) => write!(f, "{name} field: {v:?} is not a number"),
                    Problem::OutOfRange(v) => {
                        write!(f, "{name} field: {v} is out of range {lo}-{hi}")
                    }
                    Problem::BackwardRange(v) => {
                        write!(f, "{name} field: range {v} ends before it starts")
                    }
                    Problem::ZeroStep => write!(f, "{name} field: a step of 0"),
                    Problem::BadNth(v) => {
                        write!(f, "{name} field: {v:?} needs a week number 1-5 after #")
                    }
                    Problem::BadLast(v) => write!(
                        f,
                        "{name} field: {v:?}: L needs a day number before it (5L = last Friday)"
                    ),
                    Problem::NeverMatches(d) => write!(
                        f,
                        "{name} field: day {d} does not exist in any of the selected months"
                    ),
                }
            }
            CronError::UnknownZone(z) => write!(f, "unknown time zone {z:?}"),
        }
    }
}

impl std::error::Error for CronError {}
