//! Time: [`Timestamp`] (microseconds since the Unix epoch, UTC, the engine's
//! `Value::Timestamp` unit) and the [`Clock`] the store reads when a call gives no time.
//!
//! Scoring never reads a clock: every scoring function takes `now` as an argument.
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;
/// Microseconds in one hour.
pub const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SEC;
/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// A point in time: microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The latest representable time (used as the open end of a validity interval).
    pub const MAX: Timestamp = Timestamp(i64::MAX);
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// From whole seconds since the epoch (saturating).
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(MICROS_PER_SEC))
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// This time plus `days` (fractional days allowed; saturating).
    pub fn plus_days(self, days: f64) -> Self {
        Timestamp(self.0.saturating_add((days * MICROS_PER_DAY as f64) as i64))
    }

    /// This time plus `micros` (saturating).
    pub const fn plus_micros(self, micros: i64) -> Self {
        Timestamp(self.0.saturating_add(micros))
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Timestamp) -> f64 {
        (later.0 as f64 - self.0 as f64) / MICROS_PER_DAY as f64
    }

    /// Parse RFC 3339 UTC (`2026-01-06T17:16:00Z`, optional fraction, `+hh:mm` offsets) or a
    /// bare date (`2026-01-06`, midnight UTC). `None` when it does not parse.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        parse_rfc3339(text.trim()).map(Timestamp)
    }

    /// The current system time (only [`SystemClock`] calls this).
    pub fn now_system() -> Timestamp {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX)),
        }
    }
}

/// RFC 3339 with a `Z` suffix and microsecond precision when needed.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Timestamp::MAX {
            return f.write_str("+infinity");
        }
        let secs = self.0.div_euclid(MICROS_PER_SEC);
        let frac = self.0.rem_euclid(MICROS_PER_SEC);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )?;
        if frac != 0 {
            write!(f, ".{frac:06}")?;
        }
        f.write_str("Z")
    }
}

/// Where the store gets "now" when a call does not say.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now_system()
    }
}

/// A clock that reads a settable value (tests, replays, simulations).
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock reading `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(at.0))
    }

    /// Set the time.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, std::sync::atomic::Ordering::SeqCst);
    }

    /// Move the time forward by `days`.
    pub fn advance_days(&self, days: f64) {
        let now = self.now();
        self.set(now.plus_days(days));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
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
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, rest) = match text.find(['T', 't', ' ']) {
        Some(i) => (text.get(..i)?, Some(text.get(i + 1..)?)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let y = digits(parts.next()?)?;
    let m = digits(parts.next()?)?;
    let d = digits(parts.next()?)?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return None; // e.g. February 30
    }
    let mut micros = days.checked_mul(MICROS_PER_DAY)?;
    let Some(rest) = rest else {
        return Some(micros);
    };
    let (clock, offset_secs) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (c, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let mut hm = off.get(1..)?.split(':');
        let h = digits(hm.next()?)?;
        let mi = digits(hm.next()?)?;
        if hm.next().is_some() || h > 23 || mi > 59 {
            return None;
        }
        (c, sign * (h * 3600 + mi * 60))
    } else {
        return None;
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (clock, None),
    };
    let mut hms = hms.split(':');
    let h = digits(hms.next()?)?;
    let mi = digits(hms.next()?)?;
    let s = digits(hms.next()?)?;
    if hms.next().is_some() || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    micros = micros.checked_add((h * 3600 + mi * 60 + s - offset_secs) * MICROS_PER_SEC)?;
    if let Some(frac) = frac {
        digits(frac)?;
        let mut us = 0i64;
        for (i, b) in frac.bytes().take(6).enumerate() {
            us += i64::from(b - b'0') * 10i64.pow(5 - i as u32);
        }
        micros = micros.checked_add(us)?;
    }
    Some(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2026-01-06T17:16:00Z",
            "2024-02-29T23:59:59.123456Z",
            "1969-12-31T23:59:59Z",
        ] {
            let t = Timestamp::parse_rfc3339(text);
            assert!(t.is_some(), "{text}");
            assert_eq!(t.map(|t| t.to_string()).as_deref(), Some(text));
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-06T18:16:00+01:00"),
            Timestamp::parse_rfc3339("2026-01-06T17:16:00Z")
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-06"),
            Timestamp::parse_rfc3339("2026-01-06T00:00:00Z")
        );
        for bad in [
            "",
            "2026-02-30",
            "2026-13-01T00:00:00Z",
            "x",
            "2026-01-01T25:00:00Z",
            "2026-01-01T00:00:00",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn day_arithmetic() {
        let t = Timestamp::from_secs(1_000);
        assert!((t.days_until(t.plus_days(2.5)) - 2.5).abs() < 1e-9);
        assert_eq!(Timestamp::MAX.plus_micros(5), Timestamp::MAX);
        let clock = ManualClock::new(t);
        clock.advance_days(1.0);
        assert_eq!(clock.now(), t.plus_days(1.0));
    }
}
