//! The `registeredAt` date formats the ECS documentation gives: `2018-06-18T22:28:28+00:00`,
//! `2018-06-18T22:28:28Z`, `2018-06-18T22:28:28` and `2018-06-18`. A time without an offset, and a
//! date alone, are UTC. Fractional seconds are accepted and dropped, since instances are compared
//! at whole seconds.

/// Seconds since the epoch for `text`, and whether it was a date alone; `None` when `text` is
/// not one of the formats.
pub(crate) fn parse(text: &str) -> Option<(i64, bool)> {
    let bytes = text.as_bytes();
    let date = civil_date(bytes.get(..10)?)?;
    let rest = &bytes[10..];
    if rest.is_empty() {
        return Some((date, true));
    }
    let rest = rest.strip_prefix(b"T").or_else(|| rest.strip_prefix(b"t"))?;
    let clock = clock(rest.get(..8)?)?;
    let mut rest = &rest[8..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = offset(rest)?;
    Some((date + clock - offset, false))
}

/// `YYYY-MM-DD` as epoch seconds at midnight UTC.
fn civil_date(bytes: &[u8]) -> Option<i64> {
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = number(&bytes[0..4])?;
    let month = number(&bytes[5..7])?;
    let day = number(&bytes[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400)
}

/// `HH:MM:SS` as seconds into the day.
fn clock(bytes: &[u8]) -> Option<i64> {
    if bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let (hour, minute, second) = (number(&bytes[0..2])?, number(&bytes[3..5])?, number(&bytes[6..8])?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(hour * 3600 + minute * 60 + second)
}

/// Nothing (UTC), `Z`, or `+HH:MM`/`-HH:MM`, as seconds east of UTC.
fn offset(bytes: &[u8]) -> Option<i64> {
    match bytes {
        [] | [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = number(&[*h1, *h2])?;
            let minutes = number(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

fn number(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |value, digit| value * 10 + i64::from(digit - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_documented_formats_agree() {
        // 2018-06-18T22:28:28Z is 1529360908 seconds after the epoch.
        assert_eq!(parse("2018-06-18T22:28:28+00:00"), Some((1_529_360_908, false)));
        assert_eq!(parse("2018-06-18T22:28:28Z"), Some((1_529_360_908, false)));
        assert_eq!(parse("2018-06-18T22:28:28"), Some((1_529_360_908, false)));
        assert_eq!(parse("2018-06-18"), Some((1_529_280_000, true)));
        assert_eq!(parse("1970-01-01"), Some((0, true)));
    }

    #[test]
    fn offsets_move_the_instant() {
        assert_eq!(parse("2018-06-18T22:28:28+02:00"), Some((1_529_360_908 - 7200, false)));
        assert_eq!(parse("2018-06-18T22:28:28-05:30"), Some((1_529_360_908 + 19_800, false)));
        assert_eq!(parse("2018-06-18T22:28:28.123Z"), Some((1_529_360_908, false)));
    }

    #[test]
    fn impossible_dates_are_refused() {
        for text in [
            "2018-02-30",
            "2019-02-29",
            "2018-13-01",
            "2018-00-10",
            "2018-6-18",
            "2018-06-18T24:00:00",
            "2018-06-18T22:60:00",
            "2018-06-18 22:28:28",
            "2018-06-18T22:28:28+0200",
            "2018-06-18T22:28:28.Z",
            "18-06-2018",
            "",
            "2018-06-18T",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        assert_eq!(parse("2020-02-29"), Some((1_582_934_400, true)));
    }
}
