//! Dates as IMAP writes them (RFC 9051 §9 `date`, `date-time`): calendar
//! arithmetic (proleptic Gregorian, no time zone database) and the
//! INTERNALDATE format.

/// RFC 9051 §9 `date-month`.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

const SECS_PER_DAY: i64 = 86_400;

/// A calendar day (SEARCH BEFORE/ON/SINCE, RFC 9051 §6.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    /// 1 ..= 12.
    pub month: u8,
    /// 1 ..= 31, valid for the month.
    pub day: u8,
}

impl Date {
    /// A valid date, or None.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (H. Hinnant's days_from_civil).
    pub fn days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The day containing unix time `t` at UTC offset `offset_secs`.
    pub fn from_unix(t: i64, offset_secs: i64) -> Date {
        let days = (t + offset_secs).div_euclid(SECS_PER_DAY);
        civil_from_days(days)
    }

    /// Unix time of 00:00 UTC on this day.
    pub fn start_unix(self) -> i64 {
        self.days() * SECS_PER_DAY
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// H. Hinnant's civil_from_days.
fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = y + i64::from(m <= 2);
    Date {
        year: i32::try_from(y).unwrap_or(i32::MAX),
        month: u8::try_from(m).unwrap_or(1),
        day: u8::try_from(d).unwrap_or(1),
    }
}

/// A point in time with the sender's UTC offset (APPEND date-time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub unix: i64,
    /// Offset from UTC in minutes, as given.
    pub offset_minutes: i32,
}

impl DateTime {
    /// From calendar fields; None for an invalid time.
    pub fn new(date: Date, hour: u8, min: u8, sec: u8, offset_minutes: i32) -> Option<DateTime> {
        if hour > 23 || min > 59 || sec > 60 || offset_minutes.abs() > 24 * 60 {
            return None;
        }
        let local = date.start_unix()
            + i64::from(hour) * 3600
            + i64::from(min) * 60
            + i64::from(sec.min(59));
        Some(DateTime {
            unix: local - i64::from(offset_minutes) * 60,
            offset_minutes,
        })
    }
}

/// RFC 9051 §9 `date-time` body, e.g. `17-Jul-1996 02:44:25 +0000`, in UTC.
pub fn format_internal_date(unix: i64) -> String {
    let d = Date::from_unix(unix, 0);
    let secs = unix.rem_euclid(SECS_PER_DAY);
    format!(
        "{:02}-{}-{:04} {:02}:{:02}:{:02} +0000",
        d.day,
        MONTHS[usize::from(d.month.clamp(1, 12) - 1)],
        d.year,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A month name (case-insensitive) to 1 ..= 12.
pub fn month_number(s: &str) -> Option<u8> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .and_then(|i| u8::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trip() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().days(), 0);
        assert_eq!(Date::new(2000, 3, 1).unwrap().days(), 11_017);
        for days in [-800_000, -1, 0, 59, 11_016, 20_000, 2_000_000] {
            assert_eq!(civil_from_days(days).days(), days);
        }
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2024, 2, 29).is_some());
    }

    #[test]
    fn internal_date_format() {
        // RFC 9051 §6.4.5 example date, shifted to UTC.
        let d = Date::new(1996, 7, 17).unwrap();
        let t = DateTime::new(d, 2, 44, 25, -7 * 60).unwrap();
        assert_eq!(format_internal_date(t.unix), "17-Jul-1996 09:44:25 +0000");
        assert_eq!(format_internal_date(0), "01-Jan-1970 00:00:00 +0000");
    }
}
