//! RFC 3339 timestamps ↔ microseconds since the Unix epoch (UTC).
//!
//! Hand-written rather than a `time`/`jiff` dependency: the filter language needs only
//! this one conversion, it must never panic on hostile text (it is fuzzed through the
//! filter parser), and the proleptic-Gregorian day count is ten lines.
//!
//! Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`T`/`t`, `Z`/`z`), and a bare
//! `YYYY-MM-DD` meaning midnight UTC. Years 0000–9999. Fractions beyond microseconds are
//! truncated. Leap seconds (`:60`) are refused.

/// Microseconds per second.
const MICROS: i64 = 1_000_000;
/// Microseconds per day.
const MICROS_PER_DAY: i64 = 86_400 * MICROS;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
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

/// A cursor over ASCII digits and separators.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut v = 0i64;
        for _ in 0..n {
            let c = *self.b.get(self.i)?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
            self.i += 1;
        }
        Some(v)
    }
    fn eat(&mut self, set: &[u8]) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        if set.contains(&c) {
            self.i += 1;
            Some(c)
        } else {
            None
        }
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// Parse an RFC 3339 timestamp (see the module doc) into microseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    let y = c.digits(4)?;
    c.eat(b"-")?;
    let mo = c.digits(2)?;
    c.eat(b"-")?;
    let d = c.digits(2)?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if c.done() {
        return Some(days * MICROS_PER_DAY);
    }
    c.eat(b"Tt")?;
    let h = c.digits(2)?;
    c.eat(b":")?;
    let mi = c.digits(2)?;
    c.eat(b":")?;
    let s = c.digits(2)?;
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut micros = 0i64;
    if c.eat(b".").is_some() {
        let mut n = 0;
        while let Some(v) = c.digits(1) {
            if n < 6 {
                micros = micros * 10 + v;
            }
            n += 1;
        }
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_secs = match c.eat(b"Zz+-")? {
        b'Z' | b'z' => 0,
        sign => {
            let oh = c.digits(2)?;
            c.eat(b":")?;
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'-' { -off } else { off }
        }
    };
    if !c.done() {
        return None;
    }
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
    Some(secs * MICROS + micros)
}

/// Format microseconds since the epoch as RFC 3339 in UTC (`2026-01-01T00:00:00Z`, with
/// `.ffffff` when there are microseconds). Timestamps outside years 0000–9999 are written
/// `@<micros>`, which the filter parser also reads.
pub fn format_rfc3339(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return format!("@{micros}");
    }
    let secs = rem / MICROS;
    let frac = rem % MICROS;
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-01-01T00:00:00Z"),
            Some(1_767_225_600 * MICROS)
        );
        assert_eq!(
            parse_rfc3339("2026-01-01T01:00:00+01:00"),
            parse_rfc3339("2026-01-01T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.5Z"), Some(-500_000));
        assert_eq!(
            parse_rfc3339("2000-02-29T12:00:00.1234567z"),
            Some(951_825_600 * MICROS + 123_456)
        );
        assert_eq!(
            parse_rfc3339("0000-01-01T00:00:00Z"),
            Some(-62_167_219_200 * MICROS)
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-29",
            "2026-01-01T",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+1:00",
            "2026-01-01T00:00:00Zx",
            "2026-01-01x",
            "-001-01-01",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn format_round_trips() {
        for t in [
            0,
            1,
            -1,
            1_767_225_600 * MICROS + 42,
            -62_167_219_200 * MICROS,
            253_402_300_799 * MICROS + 999_999,
        ] {
            let s = format_rfc3339(t);
            assert_eq!(parse_rfc3339(&s), Some(t), "{s}");
        }
        assert_eq!(format_rfc3339(i64::MAX), format!("@{}", i64::MAX));
        assert_eq!(format_rfc3339(i64::MIN), format!("@{}", i64::MIN));
        // Every day of a 400-year cycle maps back to itself.
        for day in -200_000..200_000i64 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }
}
