//! `Retry-After` (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date, which a
//! recipient must accept in all three forms of §5.6.7 (IMF-fixdate, the obsolete RFC 850
//! form and asctime). Waits are capped at [`MAX_WAIT`] so a confused server cannot park a
//! copy for hours.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest wait honoured.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// How long to wait before retrying, as of `now`; `None` when the value is neither form.
/// A date in the past means "now" (zero).
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = v.parse().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_WAIT));
    }
    let at = UNIX_EPOCH + Duration::from_secs(http_date(v)?);
    Some(at.duration_since(now).unwrap_or_default().min(MAX_WAIT))
}

/// Seconds since the epoch of an HTTP-date in any of its three forms.
fn http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let (day, month, year, time) = match parts.as_slice() {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        [wd, d, m, y, t, "GMT"] if wd.ends_with(',') => (*d, *m, y.parse().ok()?, *t),
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
        [wd, dmy, t, "GMT"] if wd.ends_with(',') => {
            let mut f = dmy.split('-');
            let (d, m, y) = (f.next()?, f.next()?, f.next()?);
            let y: u64 = y.parse().ok()?;
            // Two-digit years: RFC 9110 says to read ones over 50 years ahead as past.
            let y = if y < 100 {
                if y < 70 {
                    2000 + y
                } else {
                    1900 + y
                }
            } else {
                y
            };
            (d, m, y, *t)
        }
        // asctime: "Sun Nov  6 08:49:37 1994"
        [_, m, d, t, y] => (*d, *m, y.parse().ok()?, *t),
        _ => return None,
    };
    let day: u64 = day.parse().ok()?;
    let month = month_number(month)?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, min, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some(days * 86_400 + h * 3600 + min * 60 + sec)
}

fn month_number(m: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS.iter().position(|x| *x == m).map(|i| i as u64 + 1)
}

/// Days from 1970-01-01 to the given date (Howard Hinnant's `days_from_civil`), for
/// dates from 1970 on.
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn seconds_and_the_three_date_forms() {
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (the RFC's example).
        let now = at(784_111_777 - 5);
        assert_eq!(parse("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse("100000", now), Some(MAX_WAIT));
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse(form, now), Some(Duration::from_secs(5)), "{form}");
        }
        // A date already past: retry now.
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:49:37 GMT", at(784_111_777 + 10)),
            Some(Duration::ZERO)
        );
        assert_eq!(
            http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(0),
            "the epoch"
        );
        assert_eq!(
            http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(1_835_481_599)
        );
    }

    #[test]
    fn garbage_is_none() {
        let now = at(0);
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
        ] {
            assert_eq!(parse(bad, now), None, "{bad:?}");
        }
    }
}
