use std::time::Duration;

/// Parses a duration: `30s`, `1m 30s`, `250ms`, `2h`, or ISO 8601 (`PT30S`).
/// Negative durations are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text.trim().parse().map_err(|e| {
        format!("{text:?} is not a duration ({e}); write e.g. 30s, 1m 30s, 250ms or 2h")
    })?;
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
    }
}
