//! ISO-8601 durations on the wire (`PT1H`, `PT8H`, `P90D`), as the Identity Center APIs use them.
//! Parsing is iso8601's; years and months are refused because their length in seconds is not fixed.

use crate::ValidationError;

/// A whole-seconds duration bounded to `[min, max]`, written as ISO-8601 on the wire.
#[macro_export]
macro_rules! bounded_duration {
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr, default = $default:expr, limits = $limits:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "u64", into = "u64")]
        pub struct $name(u64);

        impl $name {
            pub const MIN_SECONDS: u64 = $min;
            pub const MAX_SECONDS: u64 = $max;
            pub const DEFAULT_SECONDS: u64 = $default;

            pub fn from_seconds(seconds: u64) -> Result<Self, $crate::ValidationError> {
                if (Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&seconds) {
                    Ok(Self(seconds))
                } else {
                    Err($crate::ValidationError::new(concat!("must be between ", $limits)))
                }
            }
            /// Parses the ISO-8601 form used on the wire.
            pub fn parse_iso8601(s: &str) -> Result<Self, $crate::ValidationError> {
                Self::from_seconds($crate::duration::parse_iso8601_seconds(s)?)
            }
            pub fn seconds(&self) -> u64 {
                self.0
            }
            pub fn to_iso8601(&self) -> String {
                $crate::duration::format_iso8601_seconds(self.0)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Self::DEFAULT_SECONDS)
            }
        }

        impl TryFrom<u64> for $name {
            type Error = $crate::ValidationError;
            fn try_from(s: u64) -> Result<Self, Self::Error> {
                Self::from_seconds(s)
            }
        }

        impl From<$name> for u64 {
            fn from(v: $name) -> u64 {
                v.0
            }
        }
    };
}

/// Parses an ISO-8601 duration into whole seconds.
pub fn parse_iso8601_seconds(s: &str) -> Result<u64, ValidationError> {
    let invalid = || {
        ValidationError::new(format!(
            "'{s}' is not an ISO-8601 duration such as PT1H or P1D"
        ))
    };
    let (rest, parsed) = iso8601::parsers::parse_duration(s.as_bytes()).map_err(|_| invalid())?;
    // iso8601 accepts a bare `PT` as zero; a duration must name at least one component.
    if !rest.is_empty() || s.ends_with('T') || !s.bytes().any(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match parsed {
        iso8601::Duration::Weeks(w) => Ok(u64::from(w) * 7 * 86_400),
        iso8601::Duration::YMDHMS {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millisecond,
        } => {
            if year != 0 || month != 0 {
                return Err(ValidationError::new(
                    "years and months have no fixed length: use days (P30D) instead",
                ));
            }
            if millisecond != 0 {
                return Err(ValidationError::new(
                    "fractions of a second are not supported",
                ));
            }
            Ok(u64::from(day) * 86_400
                + u64::from(hour) * 3_600
                + u64::from(minute) * 60
                + u64::from(second))
        }
    }
}

/// Formats whole seconds as the shortest ISO-8601 duration (`P1DT2H30M`, `PT8H`, `PT0S`).
pub fn format_iso8601_seconds(total: u64) -> String {
    let (days, rem) = (total / 86_400, total % 86_400);
    let (hours, rem) = (rem / 3_600, rem % 3_600);
    let (minutes, seconds) = (rem / 60, rem % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || (days == 0 && hours == 0 && minutes == 0) {
            out.push_str(&format!("{seconds}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_iso8601_seconds("PT1H").ok(), Some(3600));
        assert_eq!(parse_iso8601_seconds("P90D").ok(), Some(90 * 86_400));
        assert_eq!(parse_iso8601_seconds("PT15M").ok(), Some(900));
        assert_eq!(parse_iso8601_seconds("P1DT2H30M").ok(), Some(95_400));
        assert_eq!(parse_iso8601_seconds("P2W").ok(), Some(14 * 86_400));
        for bad in ["", "1H", "PT1Hx", "P1M", "P1Y", "PT", "hello"] {
            assert!(parse_iso8601_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(format_iso8601_seconds(3600), "PT1H");
        assert_eq!(format_iso8601_seconds(90 * 86_400), "P90D");
        assert_eq!(format_iso8601_seconds(95_400), "P1DT2H30M");
        assert_eq!(format_iso8601_seconds(0), "PT0S");
        assert_eq!(format_iso8601_seconds(61), "PT1M1S");
    }
}
