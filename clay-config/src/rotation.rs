//! Key age from `<VAR>_ISSUED_AT`, with jiff doing the calendar.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// How far in the future an issue time may be before it is an error: clocks and time zones
/// differ (a key issued "today" east of UTC is "tomorrow" in UTC).
const FUTURE_TOLERANCE: SignedDuration = SignedDuration::from_hours(24);

/// Whole days between `issued` (`YYYY-MM-DD`, midnight UTC, or an RFC 3339 time) and `now`.
/// The error completes a sentence that starts with the variable's name.
pub(crate) fn age_in_days(issued: &str, now: Timestamp) -> Result<i64, String> {
    let text = issued.trim();
    let issued_at = if text.len() == 10 && !text.contains(['T', 't', ' ']) {
        text.parse::<Date>().and_then(|date| {
            TimeZone::UTC.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        })
    } else {
        text.parse::<Timestamp>()
    };
    let issued_at = issued_at.map_err(|err| {
        format!(
            "is {text:?}, which is not a date: expected YYYY-MM-DD or an RFC 3339 time such as 2026-11-29T17:00:00Z ({err})"
        )
    })?;
    let age = now.duration_since(issued_at);
    if age < -FUTURE_TOLERANCE {
        return Err(format!(
            "is {text:?}, which is in the future: a key cannot have been issued after now; check the date"
        ));
    }
    Ok((age.as_secs() / 86_400).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-29T12:00:00Z".parse().expect("valid")
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(age_in_days("2026-11-29", now()), Ok(0));
        assert_eq!(age_in_days("2026-08-31", now()), Ok(90));
        assert_eq!(age_in_days("2026-11-19T12:00:00Z", now()), Ok(10));
        assert_eq!(age_in_days("2026-11-19T12:00:00+02:00", now()), Ok(10));
        assert_eq!(
            age_in_days("2026-11-30", now()),
            Ok(0),
            "within a day is tolerated"
        );
    }

    #[test]
    fn bad_dates_are_errors() {
        let err = age_in_days("2026-13-45", now()).expect_err("invalid");
        assert!(err.contains("not a date"), "{err}");
        assert!(age_in_days("yesterday", now()).is_err());
        assert!(age_in_days("", now()).is_err());
        let err = age_in_days("2027-01-01", now()).expect_err("future");
        assert!(err.contains("in the future"), "{err}");
    }
}
