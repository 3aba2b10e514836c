//! Timestamps as each service writes them: Keystone in UTC with a `Z`, Cinder naive
//! (no zone suffix; gophercloud rejects a `Z` there).

use time::macros::format_description;
use time::OffsetDateTime;

pub fn now_us() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64
}

fn from_us(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(us as i128 * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2025-01-01T10:00:00.000000Z`
pub fn keystone(us: i64) -> String {
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    from_us(us).format(&f).unwrap_or_default()
}

/// `2025-01-01T10:00:00.123456`
pub fn cinder(t: OffsetDateTime) -> String {
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// Parses Cinder's filter times (`2025-01-01T10:00:00` with optional fraction or `Z`).
pub fn parse_cinder(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim().trim_end_matches('Z');
    let (main, frac) = s.split_once('.').unwrap_or((s, "0"));
    let f = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let t = time::PrimitiveDateTime::parse(main, &f).ok()?.assume_utc();
    let digits: String = frac.chars().take(6).collect();
    let micros: i64 = format!("{digits:0<6}").parse().ok()?;
    Some(t + time::Duration::microseconds(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_each_service() {
        assert_eq!(
            keystone(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
        let t = from_us(1_700_000_000_123_456);
        assert_eq!(cinder(t), "2023-11-14T22:13:20.123456");
        assert_eq!(parse_cinder("2023-11-14T22:13:20.123456"), Some(t));
        assert_eq!(
            parse_cinder("2023-11-14T22:13:20Z"),
            Some(from_us(1_700_000_000_000_000))
        );
        assert_eq!(parse_cinder("yesterday"), None);
    }
}
