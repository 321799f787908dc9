//! The rotation verdict: a key's age from its `<VAR>_ISSUED_AT` value, judged against the
//! policy's `[rotation]` ages. The loader and `cargo clay audit` both call [`rotation_verdict`],
//! so they count the same days and draw the same lines.
//!
//! Age is counted in whole 24-hour periods since the issue time (a date alone means midnight
//! UTC). An issue time up to [`FUTURE_TOLERANCE_SECS`] ahead of now is accepted as age 0 (a key
//! issued "today" east of UTC is "tomorrow" in UTC); further ahead is an error.
//!
//! ```
//! use clay_policy::{Policy, RotationVerdict, rotation_verdict, unix_seconds_of};
//!
//! let now = unix_seconds_of("2026-11-29T12:00:00Z").expect("a valid time");
//! let rotation = Policy::builtin().rotation();
//! assert_eq!(rotation_verdict("2026-11-19", now, rotation), RotationVerdict::Fresh { age_days: 10 });
//! assert_eq!(rotation_verdict("2026-09-01", now, rotation), RotationVerdict::DueSoon { age_days: 89 });
//! assert_eq!(rotation_verdict("2026-08-30", now, rotation), RotationVerdict::Overdue { age_days: 91 });
//! assert!(matches!(rotation_verdict("2026-13-01", now, rotation), RotationVerdict::Invalid { .. }));
//! assert_eq!(rotation_verdict("2027-01-01", now, rotation), RotationVerdict::InFuture);
//! ```

use crate::policy::Rotation;

/// How far ahead of now an issue time may be and still count as issued now, in seconds.
pub const FUTURE_TOLERANCE_SECS: i64 = 24 * 60 * 60;

const SECONDS_PER_DAY: i64 = 24 * 60 * 60;

/// What the age of a key says about its rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationVerdict {
    /// Younger than `warn_age_days` (or exactly that old).
    Fresh {
        /// Whole days since issue.
        age_days: i64,
    },
    /// Older than `warn_age_days`, not older than `max_age_days`: schedule rotation.
    DueSoon {
        /// Whole days since issue.
        age_days: i64,
    },
    /// Older than `max_age_days`: rotate now (an error in production, a warning elsewhere).
    Overdue {
        /// Whole days since issue.
        age_days: i64,
    },
    /// The value is not a date (`YYYY-MM-DD`) nor an RFC 3339 time with an offset.
    Invalid {
        /// Why, without echoing the value.
        reason: String,
    },
    /// More than a day in the future: no key is issued after now.
    InFuture,
}

impl RotationVerdict {
    /// True when loading must stop in `environment`: an overdue key in production, and an issue
    /// date that cannot be read or lies in the future anywhere.
    pub fn is_error_in(&self, environment: &str) -> bool {
        match self {
            RotationVerdict::Fresh { .. } | RotationVerdict::DueSoon { .. } => false,
            RotationVerdict::Overdue { .. } => {
                crate::canonical_environment(environment) == crate::PRODUCTION
            }
            RotationVerdict::Invalid { .. } | RotationVerdict::InFuture => true,
        }
    }

    /// True for every verdict but [`Fresh`](RotationVerdict::Fresh): something to report.
    pub fn needs_attention(&self) -> bool {
        !matches!(self, RotationVerdict::Fresh { .. })
    }
}

/// The verdict on a key issued at `issued_at` (`YYYY-MM-DD` or an RFC 3339 time with an
/// offset), at `now` (Unix seconds), against `rotation`.
pub fn rotation_verdict(issued_at: &str, now: i64, rotation: Rotation) -> RotationVerdict {
    let issued = match unix_seconds_of(issued_at) {
        Ok(issued) => issued,
        Err(reason) => return RotationVerdict::Invalid { reason },
    };
    let elapsed = now.saturating_sub(issued);
    if elapsed < -FUTURE_TOLERANCE_SECS {
        return RotationVerdict::InFuture;
    }
    let age_days = elapsed.max(0) / SECONDS_PER_DAY;
    if age_days > i64::from(rotation.max_age_days) {
        RotationVerdict::Overdue { age_days }
    } else if age_days > i64::from(rotation.warn_age_days) {
        RotationVerdict::DueSoon { age_days }
    } else {
        RotationVerdict::Fresh { age_days }
    }
}

/// Now, in Unix seconds, from the system clock (0 if the clock is before 1970).
pub fn now_unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix seconds of `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time with an offset
/// (`2026-11-29T17:00:00Z`, `2026-11-29T19:00:00+02:00`). The calendar checks (month lengths,
/// leap years) are toml_datetime's, the parser the policy reader already uses. The error says
/// what was expected and never repeats the value.
pub fn unix_seconds_of(text: &str) -> Result<i64, String> {
    const EXPECTED: &str =
        "expected YYYY-MM-DD or an RFC 3339 time with an offset, such as 2026-11-29T17:00:00Z";
    let parsed: toml_datetime::Datetime = text
        .trim()
        .parse()
        .map_err(|_| format!("not a date: {EXPECTED}"))?;
    let Some(date) = parsed.date else {
        return Err(format!("a time without a date: {EXPECTED}"));
    };
    let days = days_from_civil(
        i64::from(date.year),
        i64::from(date.month),
        i64::from(date.day),
    );
    let (seconds_of_day, offset_minutes) = match (parsed.time, parsed.offset) {
        (None, None) => (0, 0),
        (Some(time), Some(offset)) => {
            let seconds = i64::from(time.hour) * 3600
                + i64::from(time.minute) * 60
                + i64::from(time.second.unwrap_or(0));
            let offset = match offset {
                toml_datetime::Offset::Z => 0,
                toml_datetime::Offset::Custom { minutes } => i64::from(minutes),
            };
            (seconds, offset)
        }
        (Some(_), None) => {
            return Err(format!(
                "a date and time without an offset (say Z for UTC): {EXPECTED}"
            ));
        }
        (None, Some(_)) => return Err(format!("not a date: {EXPECTED}")),
    };
    Ok(days * SECONDS_PER_DAY + seconds_of_day - offset_minutes * 60)
}

/// `YYYY-MM-DD` of a Unix time, in UTC: how `_ISSUED_AT` dates are written.
///
/// ```
/// assert_eq!(clay_policy::utc_date(1_795_953_600), "2026-11-29");
/// ```
pub fn utc_date(unix_seconds: i64) -> String {
    let (year, month, day) = civil_from_days(unix_seconds.div_euclid(SECONDS_PER_DAY));
    format!("{year:04}-{month:02}-{day:02}")
}

/// RFC 3339 in UTC with milliseconds (`2026-11-29T17:00:00.000Z`) of a Unix time in
/// milliseconds: the audit log's timestamp format.
///
/// ```
/// assert_eq!(clay_policy::utc_timestamp_millis(1_795_971_600_123), "2026-11-29T17:00:00.123Z");
/// ```
pub fn utc_timestamp_millis(unix_millis: i64) -> String {
    let seconds = unix_millis.div_euclid(1000);
    let millis = unix_millis.rem_euclid(1000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (the inverse of
/// [`days_from_civil`], Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        unix_seconds_of("2026-11-29T12:00:00Z").expect("valid")
    }

    fn rotation() -> Rotation {
        Rotation {
            max_age_days: 90,
            warn_age_days: 75,
        }
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(unix_seconds_of("2026-11-29T12:00:00Z"), Ok(1_795_953_600));
        assert_eq!(
            unix_seconds_of("2026-11-29T14:00:00+02:00"),
            unix_seconds_of("2026-11-29T12:00:00Z")
        );
        assert_eq!(unix_seconds_of("2024-02-29"), Ok(1_709_164_800));
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_date(1_709_164_800), "2024-02-29");
        let text = utc_timestamp_millis(1_795_971_600_123);
        assert_eq!(text, "2026-11-29T17:00:00.123Z");
        assert_eq!(unix_seconds_of(&text), Ok(1_795_971_600));
    }

    #[test]
    fn whole_days() {
        let age = |issued| rotation_verdict(issued, now(), rotation());
        assert_eq!(age("2026-11-29"), RotationVerdict::Fresh { age_days: 0 });
        assert_eq!(
            age("2026-11-28T12:00:01Z"),
            RotationVerdict::Fresh { age_days: 0 },
            "23h59m59s is not a day"
        );
        assert_eq!(
            age("2026-11-28T12:00:00Z"),
            RotationVerdict::Fresh { age_days: 1 }
        );
        assert_eq!(age("2026-09-15"), RotationVerdict::Fresh { age_days: 75 });
        assert_eq!(age("2026-09-14"), RotationVerdict::DueSoon { age_days: 76 });
        assert_eq!(age("2026-08-31"), RotationVerdict::DueSoon { age_days: 90 });
        assert_eq!(age("2026-08-30"), RotationVerdict::Overdue { age_days: 91 });
        assert_eq!(age("2026-11-30"), RotationVerdict::Fresh { age_days: 0 });
        assert_eq!(
            age("2026-11-30T12:00:00Z"),
            RotationVerdict::Fresh { age_days: 0 }
        );
        assert_eq!(age("2026-11-30T12:00:01Z"), RotationVerdict::InFuture);
    }

    #[test]
    fn bad_dates() {
        for bad in [
            "2026-13-45",
            "2026-02-30",
            "yesterday",
            "",
            "2026-11-29T12:00:00",
            "12:00:00",
            "20261129",
        ] {
            assert!(
                matches!(
                    rotation_verdict(bad, now(), rotation()),
                    RotationVerdict::Invalid { .. }
                ),
                "{bad:?}"
            );
        }
        let verdict = rotation_verdict("sk_live_abcd1234efgh", now(), rotation());
        assert!(
            matches!(&verdict, RotationVerdict::Invalid { reason } if !reason.contains("sk_live")),
            "{verdict:?}"
        );
    }

    #[test]
    fn severity() {
        let overdue = RotationVerdict::Overdue { age_days: 100 };
        assert!(overdue.is_error_in("production"));
        assert!(overdue.is_error_in("prod"));
        assert!(!overdue.is_error_in("staging"));
        assert!(RotationVerdict::InFuture.is_error_in("development"));
        assert!(!RotationVerdict::DueSoon { age_days: 80 }.is_error_in("production"));
    }
}
