//! Wall-clock time in the ledger's unit (milliseconds since the Unix epoch)
//! and its display.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-24T06:37:22.123Z`.
pub fn format_ms(ms: u64) -> String {
    // RFC 3339 stops at the year 9999; later times print as a number.
    const LAST: u64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    if ms > LAST {
        return format!("{ms} ms after 1970");
    }
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_every_timestamp() {
        assert_eq!(super::format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::format_ms(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            super::format_ms(u64::MAX),
            format!("{} ms after 1970", u64::MAX)
        );
    }
}
