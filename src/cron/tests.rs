//! Parsing (every form and every error) and fire times around DST
//! changes, the expected times computed by cronsim 2.8.

use super::*;
use jiff::Timestamp;

fn ms(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<Timestamp>()
        .expect("timestamp")
        .as_millisecond()
}

/// The fire times after `start`, one after another.
fn fires(expr: &str, tz: &str, start: &str, n: usize) -> Vec<i64> {
    let s = Schedule::parse(expr, tz).expect("parses");
    let mut after = ms(start);
    let mut out = Vec::new();
    for _ in 0..n {
        match s.next_fire(after) {
            Some(t) => {
                assert!(t > after);
                out.push(t);
                after = t;
            }
            None => break,
        }
    }
    out
}

fn check(expr: &str, tz: &str, start: &str, want: &[&str]) {
    let want: Vec<i64> = want.iter().map(|w| ms(w)).collect();
    assert_eq!(
        fires(expr, tz, start, want.len()),
        want,
        "{expr} in {tz} from {start}"
    );
}

fn error(expr: &str) -> String {
    Schedule::parse(expr, "UTC").expect_err(expr).to_string()
}

fn fields(expr: &str) -> Fields {
    Schedule::parse(expr, "UTC").expect(expr).fields
}

fn bits(values: &[u32]) -> u64 {
    values.iter().fold(0, |a, v| a | 1 << v)
}

#[test]
fn every_syntax_form_parses() {
    assert_eq!(
        fields("* * * * *").minutes,
        bits(&(0..60).collect::<Vec<_>>())
    );
    assert_eq!(fields("*/15 * * * *").minutes, bits(&[0, 15, 30, 45]));
    assert_eq!(
        fields("1-30/5 * * * *").minutes,
        bits(&[1, 6, 11, 16, 21, 26])
    );
    assert_eq!(
        fields("5/10 * * * *").minutes,
        bits(&[5, 15, 25, 35, 45, 55])
    );
    // A range of one value steps to the end, as cronsim does.
    assert_eq!(fields("5-5/20 * * * *").minutes, bits(&[5, 25, 45]));
    assert_eq!(fields("1,2,3-5 * * * *").minutes, bits(&[1, 2, 3, 4, 5]));
    assert_eq!(
        u64::from(fields("0 1-3,22 * * *").hours),
        bits(&[1, 2, 3, 22])
    );
    let f = fields("0 0 * jan,Mar-may,DEC *");
    assert_eq!(u64::from(f.months), bits(&[1, 3, 4, 5, 12]));
    let f = fields("0 0 * * sun,Mon-wed");
    assert_eq!(u64::from(f.weekdays), bits(&[0, 1, 2, 3]));
    assert_eq!(fields("0 0 * * 7").weekdays, 1, "7 is Sunday");
    assert_eq!(fields("0 0 * * 5-7").weekdays, 0b110_0001);
    // Day of week */2 over 0-7: 0,2,4,6.
    assert_eq!(
        u64::from(fields("0 0 * * */2").weekdays),
        bits(&[0, 2, 4, 6])
    );
    assert_eq!(fields("0 0 * * MON/2").weekdays, 0b1010_1010 & 0x7f | 1);
    assert!(fields("0 0 L * *").last_day);
    assert!(fields("0 0 L/3 * *").last_day);
    assert!(fields("0 0 LW * *").last_weekday);
    assert_eq!(fields("0 0 * * 5L").weekdays_last, 1 << 5);
    assert_eq!(fields("0 0 * * 7L").weekdays_last, 1);
    assert_eq!(fields("0 0 * * MON#2").weekdays_nth[1], 1 << 2);
    assert_eq!(fields("0 0 * * 0#5,6").weekdays_nth[0], 1 << 5);
    // Day fields: AND when either starts with `*`, else OR.
    assert!(fields("0 0 */2 * 1").day_and);
    assert!(fields("0 0 1 * *").day_and);
    assert!(!fields("0 0 1 * 1").day_and);
    // Wall-clock (Debian) mode when neither minute nor hour starts with `*`.
    assert!(fields("0 2 * * *").wall_clock);
    assert!(fields("0-59 0-23 * * *").wall_clock);
    assert!(!fields("0 */2 * * *").wall_clock);
    assert!(!fields("*/5 2 * * *").wall_clock);
    for (m, e) in [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@MIDNIGHT", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ] {
        assert_eq!(fields(m), fields(e), "{m}");
    }
    let s = Schedule::parse("  0 4 * * *\t", "Europe/Berlin").unwrap();
    assert_eq!(s.expression(), "0 4 * * *");
    assert_eq!(s.tz(), "Europe/Berlin");
}

#[test]
fn every_error_names_what_is_wrong() {
    assert_eq!(error("61 * * * *"), "minute field: 61 is out of range 0-59");
    assert_eq!(error("0 24 * * *"), "hour field: 24 is out of range 0-23");
    assert_eq!(
        error("0 0 0 * *"),
        "day-of-month field: 0 is out of range 1-31"
    );
    assert_eq!(error("0 0 * 13 *"), "month field: 13 is out of range 1-12");
    assert_eq!(
        error("0 0 * * 8"),
        "day-of-week field: 8 is out of range 0-7"
    );
    assert_eq!(error("*/0 * * * *"), "minute field: a step of 0");
    assert_eq!(error("1,,2 * * * *"), "minute field: empty value");
    assert_eq!(error("*/ * * * *"), "minute field: empty value");
    assert_eq!(error("x * * * *"), "minute field: \"X\" is not a number");
    assert_eq!(
        error("0 0 * * MONDAY"),
        "day-of-week field: \"MONDAY\" is not a number"
    );
    assert_eq!(error("0 0 * JAN-x *"), "month field: \"X\" is not a number");
    assert_eq!(
        error("5-1 * * * *"),
        "minute field: range 5-1 ends before it starts"
    );
    assert_eq!(
        error("1-2-3 * * * *"),
        "minute field: \"2-3\" is not a number"
    );
    assert_eq!(
        error("*/2/3 * * * *"),
        "minute field: \"2/3\" is not a number"
    );
    assert_eq!(
        error("0 0 * * 1#6"),
        "day-of-week field: \"1#6\" needs a week number 1-5 after #"
    );
    assert_eq!(
        error("0 0 * * L"),
        "day-of-week field: \"L\": L needs a day number before it (5L = last Friday)"
    );
    assert_eq!(
        error("0 0 * * 8L"),
        "day-of-week field: 8 is out of range 0-7"
    );
    assert_eq!(error("0 L * * *"), "hour field: \"L\" is not a number");
    assert!(error("0 0 30 2 *").starts_with("day-of-month field: day 30 does not exist"));
    assert!(error("0 0 31 4,6 *").starts_with("day-of-month field: day 31"));
    // Both day fields restricted: OR, so 30 February on Mondays is fine.
    assert!(Schedule::parse("0 0 30 2 MON", "UTC").is_ok());
    assert!(error("0 0 * * * *").starts_with("cron expression has 6 fields"));
    assert!(error("0 0 * *").starts_with("cron expression has 4 fields"));
    assert!(error("").starts_with("cron expression has 0 fields"));
    assert!(error("@often").starts_with("unknown cron macro \"@often\""));
    assert!(error("0 0 * * mön").starts_with("cron expression contains the character 'ö'"));
    assert!(error("0\n0 * * *").contains("character '\\n'"));
    assert!(error(&"1,".repeat(200)).contains("at most 256"));
    let zone = Schedule::parse("0 0 * * *", "Mars/Olympus").unwrap_err();
    assert_eq!(zone.to_string(), "unknown time zone \"Mars/Olympus\"");
    assert_eq!(validate_tz("Mars/Olympus"), Err(zone));
    assert!(validate_tz("").is_err());
    assert!(validate_tz("+05:00").is_err());
    assert!(validate_tz("../../etc/passwd").is_err());
    assert!(validate_tz("Europe/Berlin").is_ok());
    assert!(validate_tz("UTC").is_ok());
}

#[test]
fn fire_times_in_utc() {
    check(
        "*/15 * * * *",
        "UTC",
        "2025-01-01T00:00:00Z",
        &["2025-01-01T00:15:00Z"],
    );
    check(
        "*/15 * * * *",
        "UTC",
        "2025-01-01T00:14:59.999Z",
        &["2025-01-01T00:15:00Z"],
    );
    check(
        "0 0 L 2 *",
        "UTC",
        "2024-01-01T00:00:00Z",
        &["2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z"],
    );
    check(
        "0 12 LW * *",
        "UTC",
        "2025-05-01T00:00:00Z",
        &["2025-05-30T12:00:00Z", "2025-06-30T12:00:00Z"],
    );
    check(
        "0 0 * * 5L",
        "UTC",
        "2025-01-01T00:00:00Z",
        &["2025-01-31T00:00:00Z", "2025-02-28T00:00:00Z"],
    );
    check(
        "0 0 * * MON#2",
        "UTC",
        "2025-01-01T00:00:00Z",
        &["2025-01-13T00:00:00Z"],
    );
    // OR of the day fields; AND when one starts with `*`.
    check(
        "0 0 13 * FRI",
        "UTC",
        "2025-06-01T00:00:00Z",
        &["2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z"],
    );
    check(
        "0 0 */2 * FRI",
        "UTC",
        "2025-06-01T00:00:00Z",
        &["2025-06-13T00:00:00Z", "2025-06-27T00:00:00Z"],
    );
    check(
        "0 0 29 2 *",
        "UTC",
        "2025-01-01T00:00:00Z",
        &["2028-02-29T00:00:00Z"],
    );
    // Five Mondays in February: 2044, 2072, 2112 (cronsim looks 50 years).
    check(
        "0 0 * 2 MON#5",
        "UTC",
        "2021-01-01T00:00:00Z",
        &[
            "2044-02-29T00:00:00Z",
            "2072-02-29T00:00:00Z",
            "2112-02-29T00:00:00Z",
        ],
    );
    // 1 February (AND) is never its fifth Monday: None after 50 years.
    assert_eq!(
        fires("0 0 */30 2 MON#5", "UTC", "2025-01-01T00:00:00Z", 1),
        Vec::<i64>::new()
    );
}

#[test]
fn europe_berlin_dst() {
    // Spring forward: 02:30 does not exist, the job runs at 03:00.
    check(
        "30 2 * * *",
        "Europe/Berlin",
        "2025-03-29T12:00:00+01:00",
        &["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"],
    );
    // Fall back: a fixed time runs once, in the first pass.
    check(
        "30 2 * * *",
        "Europe/Berlin",
        "2025-10-25T12:00:00+02:00",
        &["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"],
    );
    // ...also when asked from inside the second pass (cronsim would
    // answer the first pass again, before the start).
    check(
        "30 2 * * *",
        "Europe/Berlin",
        "2025-10-26T02:10:00+01:00",
        &["2025-10-27T02:30:00+01:00"],
    );
    // Every minute in the fixed form is wall-clock too: nothing fires in
    // the second pass.
    check(
        "0-59 0-23 * * *",
        "Europe/Berlin",
        "2025-10-26T02:10:00+01:00",
        &["2025-10-26T03:00:00+01:00"],
    );
    check(
        "0-59 0-23 * * *",
        "Europe/Berlin",
        "2025-10-26T02:58:30+02:00",
        &["2025-10-26T02:59:00+02:00", "2025-10-26T03:00:00+01:00"],
    );
    // Wildcard minute or hour: every existing minute, both passes.
    check(
        "*/30 * * * *",
        "Europe/Berlin",
        "2025-10-26T01:50:00+02:00",
        &[
            "2025-10-26T02:00:00+02:00",
            "2025-10-26T02:30:00+02:00",
            "2025-10-26T02:00:00+01:00",
            "2025-10-26T02:30:00+01:00",
        ],
    );
    check(
        "30 * * * *",
        "Europe/Berlin",
        "2025-03-30T01:00:00+01:00",
        &["2025-03-30T01:30:00+01:00", "2025-03-30T03:30:00+02:00"],
    );
}

#[test]
fn america_new_york_dst() {
    check(
        "0,30 2 * * *",
        "America/New_York",
        "2025-03-09T00:00:00-05:00",
        &["2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00"],
    );
    check(
        "0 1 * * *",
        "America/New_York",
        "2025-11-02T00:30:00-04:00",
        &["2025-11-02T01:00:00-04:00", "2025-11-03T01:00:00-05:00"],
    );
}

#[test]
fn lord_howe_half_hour_dst() {
    check(
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2025-10-04T12:00:00+10:30",
        &["2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"],
    );
    check(
        "*/15 * * * *",
        "Australia/Lord_Howe",
        "2025-10-05T01:50:00+10:30",
        &[
            "2025-10-05T02:30:00+11:00",
            "2025-10-05T02:45:00+11:00",
            "2025-10-05T03:00:00+11:00",
        ],
    );
    check(
        "*/20 1 * * *",
        "Australia/Lord_Howe",
        "2025-04-06T01:30:00+11:00",
        &[
            "2025-04-06T01:40:00+11:00",
            "2025-04-06T01:40:00+10:30",
            "2025-04-07T01:00:00+10:30",
            "2025-04-07T01:20:00+10:30",
        ],
    );
}

#[test]
fn kathmandu_45_minute_offset() {
    check(
        "45 5 * * *",
        "Asia/Kathmandu",
        "2025-06-01T00:00:00+05:45",
        &["2025-06-01T05:45:00+05:45", "2025-06-02T05:45:00+05:45"],
    );
    check(
        "*/40 * * * *",
        "Asia/Kathmandu",
        "2025-06-01T00:00:00+05:45",
        &["2025-06-01T00:40:00+05:45", "2025-06-01T01:00:00+05:45"],
    );
}

#[test]
fn southern_hemisphere_dst() {
    check(
        "30 2 * * *",
        "Australia/Sydney",
        "2025-10-04T12:00:00+10:00",
        &["2025-10-05T03:00:00+11:00", "2025-10-06T02:30:00+11:00"],
    );
    check(
        "30 2 * * *",
        "Australia/Sydney",
        "2025-04-05T12:00:00+11:00",
        &["2025-04-06T02:30:00+11:00", "2025-04-07T02:30:00+10:00"],
    );
    check(
        "0 * * * *",
        "Australia/Sydney",
        "2025-04-06T01:30:00+11:00",
        &[
            "2025-04-06T02:00:00+11:00",
            "2025-04-06T02:00:00+10:00",
            "2025-04-06T03:00:00+10:00",
        ],
    );
    // Santiago changes at midnight: midnight itself is skipped.
    check(
        "0 0 * * *",
        "America/Santiago",
        "2025-09-06T12:00:00-04:00",
        &["2025-09-07T01:00:00-03:00", "2025-09-08T00:00:00-03:00"],
    );
    check(
        "0 * * * *",
        "America/Santiago",
        "2025-09-06T23:30:00-04:00",
        &["2025-09-07T01:00:00-03:00", "2025-09-07T02:00:00-03:00"],
    );
    check(
        "0 0 * * *",
        "America/Santiago",
        "2025-04-05T12:00:00-03:00",
        &["2025-04-06T00:00:00-04:00", "2025-04-07T00:00:00-04:00"],
    );
}

#[test]
fn garbage_instants_do_not_panic() {
    let s = Schedule::parse("* * * * *", "Europe/Berlin").unwrap();
    for after in [i64::MIN, i64::MAX, -1, 0, MAX_MS, MIN_MS, MAX_MS + 1] {
        if let Some(t) = s.next_fire(after) {
            assert!(t > after);
        }
    }
    assert_eq!(s.next_fire(0), Some(60_000));
}

#[test]
fn longest_gap() {
    let at = ms("2025-01-01T00:00:00Z");
    let gap = |e: &str, tz: &str| Schedule::parse(e, tz).unwrap().longest_gap(at);
    assert_eq!(gap("* * * * *", "UTC"), Some(60_000));
    assert_eq!(gap("*/15 * * * *", "UTC"), Some(15 * 60_000));
    assert_eq!(gap("0 2 * * *", "UTC"), Some(86_400_000));
    assert_eq!(
        gap("0 9-17 * * MON-FRI", "UTC"),
        Some((3 * 86_400 - 8 * 3600) * 1000)
    );
    assert_eq!(gap("0 0 1 * *", "UTC"), Some(31 * 86_400_000));
    // Plus the DST shift where the zone has one.
    assert_eq!(
        gap("0 2 * * *", "Europe/Berlin"),
        Some(86_400_000 + 3_600_000)
    );
    assert_eq!(
        gap("0 2 * * *", "Australia/Lord_Howe"),
        Some(86_400_000 + 1_800_000)
    );
    assert_eq!(
        gap("0 0 29 2 *", "UTC"),
        Some(4 * 365 * 86_400_000 + 86_400_000)
    );
}
