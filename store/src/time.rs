//! Times as whole seconds since the Unix epoch, shown as RFC 3339 UTC.
//!
//! Records carry a [`Timestamp`], not a string; how a backend keeps it is
//! its own business (SQLite: RFC 3339 text, which sorts as time does).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seconds since the Unix epoch; serialized as `2026-11-21T22:30:45Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }

    /// The system clock now.
    pub fn now() -> Timestamp {
        Timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        )
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    pub fn plus_secs(self, secs: i64) -> Timestamp {
        Timestamp(self.0 + secs)
    }

    /// RFC 3339 UTC (civil-from-days).
    pub fn rfc3339(self) -> String {
        let (days, rem) = (self.0.div_euclid(86_400), self.0.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }

    /// Reads what [`Self::rfc3339`] writes (`YYYY-MM-DDTHH:MM:SSZ`, UTC);
    /// `None` for anything else.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<i64> {
            s.get(from..to)?.bytes().try_fold(0i64, |n, c| {
                c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
            })
        };
        let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        // days-from-civil, the inverse of the formatting above.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(Timestamp(days * 86_400 + hh * 3600 + mm * 60 + ss))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 UTC time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(951_782_400).rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp(1_795_300_245).rfc3339(), "2026-11-21T22:30:45Z");
    }

    #[test]
    fn parses_what_it_formats() {
        for secs in [
            0,
            59,
            951_782_399,
            951_782_400,
            1_795_300_245,
            -86_401,
            4_102_444_800,
        ] {
            let t = Timestamp(secs);
            assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339()), Some(t), "{secs}");
        }
        for bad in [
            "",
            "2026-11-21 22:30:45Z",
            "2026-13-01T00:00:00Z",
            "2026-11-21T22:30:45+01:00",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn serializes_as_text() {
        let t = Timestamp(1_795_300_245);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-11-21T22:30:45Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }
}
