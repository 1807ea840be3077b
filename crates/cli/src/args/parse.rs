//! The flags' value parsers: each error names what was given and what the
//! flag takes.

/// A whole number ≥ `min` from a flag's text, or why not in words (clap
/// prints it after the flag's name; Rust's parse errors name no number).
pub(super) fn whole_from<T: TryFrom<u64>>(text: &str, min: u64) -> Result<T, String> {
    let t = text.trim();
    let n: u64 = t.parse().map_err(|_| match t.parse::<f64>() {
        Ok(x) if x < 0.0 => format!("{t} is negative: give a whole number from {min} up"),
        Ok(x) if x.fract() == 0.0 => format!("{t} is too large"),
        Ok(_) => format!("{t} is not a whole number: give one from {min} up, e.g. 10"),
        Err(_) => format!("\"{t}\" is not a number: give a whole number from {min} up, e.g. 10"),
    })?;
    if n < min {
        return Err(format!("must be at least {min}, got {n}"));
    }
    T::try_from(n).map_err(|_| format!("{n} is too large"))
}

pub(super) fn whole<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    whole_from(text, 0)
}

pub(super) fn at_least_one<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    whole_from(text, 1)
}

/// A duration of 0 or more (`30s`, `1m 30s`, `250ms`), kept as written.
/// Its flag takes values that start with `-`, so that `-5s` gets this
/// message instead of clap's tip about `--` (issue 26).
pub(super) fn duration(text: &str) -> Result<String, String> {
    not_negative_duration(text, "0 or more").map(|_| text.to_owned())
}

/// `--prometheus-linger`: a duration of 0 or more.
pub(super) fn linger(text: &str) -> Result<std::time::Duration, String> {
    not_negative_duration(text, "0 or more")
}

/// A duration above 0, kept as written (see [`duration`]).
pub(super) fn positive_duration(text: &str) -> Result<String, String> {
    match not_negative_duration(text, "positive")? {
        d if d.is_zero() => Err(format!(
            "{} is zero: a duration must be positive, e.g. 30s",
            text.trim()
        )),
        _ => Ok(text.to_owned()),
    }
}

/// `text` as a duration; a negative one (`-5s`) is named as such, and a
/// flag taken as the value (`-d -q`) as not a duration.
pub(super) fn not_negative_duration(
    text: &str,
    must_be: &str,
) -> Result<std::time::Duration, String> {
    let t = text.trim();
    if let Some(magnitude) = t.strip_prefix('-')
        && cliffload_scenario::parse_duration(magnitude).is_ok()
    {
        return Err(format!(
            "{t} is negative: a duration must be {must_be}, e.g. 30s"
        ));
    }
    cliffload_scenario::parse_duration(t)
}

/// The most `sample --items` takes: the largest count a scenario accepts
/// (events of an analytics batch, items of a batch request). 100 million
/// tried to allocate 45.6 GB and aborted.
pub const MAX_SAMPLE_ITEMS: usize = 10_000;

/// `sample --items`: 1 to [`MAX_SAMPLE_ITEMS`].
pub(super) fn sample_items(text: &str) -> Result<usize, String> {
    let n: usize = at_least_one(text)?;
    if n > MAX_SAMPLE_ITEMS {
        return Err(format!(
            "at most {MAX_SAMPLE_ITEMS} (the most a scenario's count takes), got {n}"
        ));
    }
    Ok(n)
}

/// A finite number, or why not.
pub(super) fn number(text: &str) -> Result<f64, String> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("\"{t}\" is not a number: give one like 10 or 2.5")),
    }
}

/// A number above 0 (a rate).
pub(super) fn above_zero(text: &str) -> Result<f64, String> {
    let x = number(text)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(format!("must be above 0, got {x}"))
    }
}

/// A number of 0 or more (a percentage).
pub(super) fn not_negative(text: &str) -> Result<f64, String> {
    let x = number(text)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err(format!("must be 0 or more, got {x}"))
    }
}
