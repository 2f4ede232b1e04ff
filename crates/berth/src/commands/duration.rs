//! Durations on the command line: `90s`, `5m`, `3h`, `250ms`, or plain seconds.

use std::time::Duration;

/// Parses a duration flag.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 =
        number.parse().map_err(|_| format!("'{text}' is not a duration such as 30s, 5m or 3h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => return Ok(Duration::from_millis(value)),
        "m" => value.saturating_mul(60),
        "h" => value.saturating_mul(3600),
        _ => return Err(format!("'{text}' has an unknown unit '{unit}' (use ms, s, m or h)")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("3h"), Ok(Duration::from_secs(10800)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse("").is_err());
        assert!(parse("5d").is_err());
        assert!(parse("-1s").is_err());
    }
}
