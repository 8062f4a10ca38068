//! Dates in commands: SEARCH `date` and APPEND `date-time` (RFC 9051 §9).

use super::ParseError;
use super::lexer::Cursor;
use crate::imap::datetime::{Date, DateTime, month_number};

impl Cursor<'_> {
    fn fixed_digits(&mut self, n: usize) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    self.eat(d);
                    v = v * 10 + u32::from(d - b'0');
                }
                _ => return Err(self.err(format!("expected {n} digits"))),
            }
        }
        Ok(v)
    }

    /// `date-day "-" date-month "-" date-year`; `day_fixed` allows the
    /// leading space of `date-day-fixed`.
    fn date_text(&mut self, day_fixed: bool) -> Result<Date, ParseError> {
        let day = if day_fixed && self.eat(b' ') {
            self.fixed_digits(1)?
        } else {
            let d = self.fixed_digits(1)?;
            match self.peek() {
                Some(b'0'..=b'9') => d * 10 + self.fixed_digits(1)?,
                _ => d,
            }
        };
        self.expect(b'-')?;
        let month = self.month()?;
        self.expect(b'-')?;
        let year = self.fixed_digits(4)?;
        let (Ok(year), Ok(day)) = (i32::try_from(year), u8::try_from(day)) else {
            return Err(self.err("invalid date"));
        };
        Date::new(year, month, day).ok_or_else(|| self.err("invalid date"))
    }

    /// RFC 9051 §9 `date-month`.
    fn month(&mut self) -> Result<u8, ParseError> {
        let r = self.rest();
        let m = r
            .get(..3)
            .and_then(|m| std::str::from_utf8(m).ok())
            .and_then(month_number)
            .ok_or_else(|| self.err("invalid month"))?;
        self.advance(3);
        Ok(m)
    }

    /// RFC 9051 §9 `date = date-text / DQUOTE date-text DQUOTE`.
    pub fn date(&mut self) -> Result<Date, ParseError> {
        if self.eat(b'"') {
            let d = self.date_text(false)?;
            self.expect(b'"')?;
            Ok(d)
        } else {
            self.date_text(false)
        }
    }

    /// RFC 9051 §9 `date-time = DQUOTE date-day-fixed "-" date-month "-"
    /// date-year SP time SP zone DQUOTE`.
    pub fn date_time(&mut self) -> Result<DateTime, ParseError> {
        self.expect(b'"')?;
        let date = self.date_text(true)?;
        self.sp()?;
        let h = self.fixed_digits(2)?;
        self.expect(b':')?;
        let m = self.fixed_digits(2)?;
        self.expect(b':')?;
        let s = self.fixed_digits(2)?;
        self.sp()?;
        let sign: i32 = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Err(self.err("expected time zone"));
        };
        let zh = self.fixed_digits(2)?;
        let zm = self.fixed_digits(2)?;
        self.expect(b'"')?;
        let offset = sign * i32::try_from(zh * 60 + zm).unwrap_or(i32::MAX);
        let (Ok(h), Ok(m), Ok(s)) = (u8::try_from(h), u8::try_from(m), u8::try_from(s)) else {
            return Err(self.err("invalid time"));
        };
        DateTime::new(date, h, m, s, offset).ok_or_else(|| self.err("invalid date-time"))
    }
}

#[cfg(test)]
mod tests {
    use crate::imap::datetime::Date;
    use crate::imap::parse::Options;
    use crate::imap::parse::lexer::Cursor;

    #[test]
    fn dates() {
        let d = |s: &str| Cursor::new(s.as_bytes(), Options::default()).date();
        assert_eq!(d("1-Feb-1994").unwrap(), Date::new(1994, 2, 1).unwrap());
        assert_eq!(
            d("\"01-feb-1994\"").unwrap(),
            Date::new(1994, 2, 1).unwrap()
        );
        assert!(d("31-Feb-1994").is_err());
        assert!(d("1-Foo-1994").is_err());
        let dt = |s: &str| Cursor::new(s.as_bytes(), Options::default()).date_time();
        let t = dt("\" 7-Feb-1994 21:52:25 -0800\"").unwrap();
        assert_eq!(t.unix, 760_686_745);
        assert_eq!(t.offset_minutes, -480);
        assert!(dt("\"07-Feb-1994 25:52:25 -0800\"").is_err());
    }
}
