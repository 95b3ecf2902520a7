//! Time for ssso: timestamps as the AWS CLI and botocore write them (`Z`, any UTC offset, the
//! old `UTC` suffix, fractional seconds), parsed to an instant (Unix seconds) and formatted
//! back; the current time; and durations as people type them (`15m`, `1h30m`) and read them
//! (`3h12m`, rounded up where a deadline is meant).

use std::time::Duration;

use anyhow::Context as _;

/// Parse an ISO 8601 UTC timestamp as the AWS CLI writes them: `2026-11-26T09:17:16Z`,
/// `2026-11-26T09:17:16UTC` (CLI before 2.1.14), with optional fractional seconds, and with a
/// `+HH:MM` / `-HH:MM` / `+HHMM` offset instead of `Z`. A space may replace the `T`.
pub fn parse_timestamp(s: &str) -> anyhow::Result<i64> {
    parse_ts(s).with_context(|| format!("`{s}` is not a timestamp like 2026-11-26T09:17:16Z"))
}

fn parse_ts(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" | "UTC" | "+00:00" | "-00:00" => 0,
        _ => {
            let r = rest.as_bytes();
            let sign = match r.first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = match r.len() {
                6 if r[3] == b':' => format!("{}{}", &rest[1..3], &rest[4..6]),
                5 => rest[1..5].to_owned(),
                _ => return None,
            };
            if !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (oh, om): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Unix seconds as `2026-11-26T09:17:16Z`.
pub fn format_timestamp(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Parse a duration: `15m`, `1h30m`, `90s`, `2h`, `1d`, or a plain number of seconds (`900`).
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    parse_secs(s).map(Duration::from_secs)
}

fn parse_secs(s: &str) -> anyhow::Result<u64> {
    let bad = || {
        anyhow::anyhow!(
            "invalid duration `{s}`: use e.g. 15m, 1h30m, 90s, 2h or a number of seconds"
        )
    };
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|c| c.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut last_unit = u64::MAX;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        // Units must be given largest first, once each (`1h30m`, not `30m1h` or `1m1m`).
        if num.is_empty() || unit >= last_unit {
            return Err(bad());
        }
        last_unit = unit;
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// "expires in 3h12m" or "expired 20m ago", for messages and reports.
pub fn relative_expiry(expires_at: i64, now: i64) -> String {
    let left = expires_at - now;
    if left > 0 {
        format!("expires in {}", human_duration(left))
    } else {
        format!("expired {} ago", human_duration(left))
    }
}

/// A short human duration of `|secs|`: `45s` under a minute, `20m` under an hour, `3h12m`
/// under a day, `2d5h` beyond (rounded down; a zero second part is left out: `2h`, `1d`).
pub fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => match s % 3600 / 60 {
            0 => format!("{}h", s / 3600),
            m => format!("{}h{m}m", s / 3600),
        },
        _ => match s % 86400 / 3600 {
            0 => format!("{}d", s / 86400),
            h => format!("{}d{h}h", s / 86400),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = 1795684636; // 2026-11-26T09:17:16Z
        assert_eq!(parse_timestamp("2026-11-26T09:17:16Z").unwrap(), t);
        assert_eq!(parse_timestamp("2026-11-26T09:17:16UTC").unwrap(), t);
        assert_eq!(parse_timestamp("2026-11-26T09:17:16.123456Z").unwrap(), t);
        assert_eq!(parse_timestamp("2026-11-26T09:17:16+00:00").unwrap(), t);
        assert_eq!(parse_timestamp("2026-11-26T09:17:16.5+00:00").unwrap(), t);
        assert_eq!(parse_timestamp("2026-11-26T10:17:16+01:00").unwrap(), t);
        assert_eq!(parse_timestamp("2026-11-26T04:17:16-0500").unwrap(), t);
        assert_eq!(parse_timestamp("2026-11-26 09:17:16Z").unwrap(), t);
        assert_eq!(format_timestamp(t), "2026-11-26T09:17:16Z");
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_timestamp("2024-02-29T00:00:00Z").unwrap(), 1709164800);
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59Z");
        for secs in [951782400, 4102444799, 1, 86399, 86400, 7258118400] {
            assert_eq!(parse_timestamp(&format_timestamp(secs)).unwrap(), secs);
        }
        for bad in [
            "",
            "2026-11-26",
            "2026-11-26T09:17:16",
            "2026-11-26T09:17:16ZZ",
            "2026-11-26T09:17:16.Z",
            "2026-13-26T09:17:16Z",
            "2023-02-29T09:17:16Z",
            "2026-11-26T24:17:16Z",
            "2026-11-26T09:17:16+1",
            "2026/11/26T09:17:16Z",
            "2026-11-26T09:17:16 UTC",
            "+026-11-26T09:17:16Z",
        ] {
            let e = parse_timestamp(bad).unwrap_err();
            assert!(e.to_string().contains("not a timestamp"), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_secs("15m").unwrap(), 900);
        assert_eq!(parse_secs("1h30m").unwrap(), 5400);
        assert_eq!(parse_secs("90s").unwrap(), 90);
        assert_eq!(parse_secs("900").unwrap(), 900);
        assert_eq!(parse_secs("2h").unwrap(), 7200);
        assert_eq!(parse_secs("1d2h3m4s").unwrap(), 93784);
        assert_eq!(parse_secs("0").unwrap(), 0);
        for bad in [
            "", "m", "15x", "1h 30m", "30m1h", "1m1m", "-5m", "15M", "1.5h", "5m3",
        ] {
            let e = parse_secs(bad).unwrap_err().to_string();
            assert!(e.contains("invalid duration"), "{bad}: {e}");
        }
        assert!(parse_secs("99999999999999999999d").is_err());
        assert!(parse_secs("999999999999999999d").is_err());

        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));

        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(20 * 60 + 59), "20m");
        assert_eq!(human_duration(3 * 3600 + 12 * 60 + 5), "3h12m");
        assert_eq!(human_duration(2 * 3600), "2h");
        assert_eq!(human_duration(-1200), "20m");
        assert_eq!(human_duration(90 * 86400 + 3600), "90d1h");
        assert_eq!(human_duration(86400), "1d");
        assert_eq!(
            relative_expiry(100 + 3 * 3600 + 12 * 60, 100),
            "expires in 3h12m"
        );
        assert_eq!(relative_expiry(100, 100 + 1200), "expired 20m ago");
        assert_eq!(human_duration(i64::MIN), "106751991167300d15h");
    }
}
