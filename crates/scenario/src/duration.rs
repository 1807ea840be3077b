use std::time::Duration;

/// Parses a duration: `30s`, `1m 30s`, `250ms`, `2h`, or ISO 8601 (`PT30S`).
/// Negative durations are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.parse::<f64>().is_ok() {
        return Err(format!(
            "{text} has no unit (seconds? milliseconds?): write {text}s or {text}ms"
        ));
    }
    let signed: jiff::SignedDuration = text
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write e.g. 30s, 1m 30s, 250ms or 2h"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} is negative; durations must be ≥ 0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_friendly_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn refuses_garbage_and_negatives() {
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5s").is_err());
        assert_eq!(
            parse_duration("10"),
            Err("10 has no unit (seconds? milliseconds?): write 10s or 10ms".to_owned())
        );
        assert_eq!(
            parse_duration("soon"),
            Err("\"soon\" is not a duration: write e.g. 30s, 1m 30s, 250ms or 2h".to_owned())
        );
    }
}
