use std::fmt;

/// A scenario file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path as given.
        path: String,
        /// The OS error.
        message: String,
    },
    /// Not valid YAML, or a key or type the format does not have. The message
    /// carries line, column and a snippet.
    #[error("{origin}: {}{message}", path.as_ref().map(|p| format!("at {p}: ")).unwrap_or_default())]
    Parse {
        /// File name.
        origin: String,
        /// Key path of the offending value, when known.
        path: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// A value out of range or inconsistent.
    #[error("{path}: {message}")]
    Invalid {
        /// Key path, e.g. `scenarios.smoke.users`.
        path: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// No scenario of that name.
    #[error(
        "no scenario named {name:?}{}; known: {}",
        DidYouMean(name, known),
        Known(known)
    )]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
}

struct DidYouMean<'a>(&'a str, &'a [String]);

impl fmt::Display for DidYouMean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match closest(self.0, self.1.iter().map(String::as_str)) {
            Some(c) => write!(f, " (did you mean {c:?}?)"),
            None => Ok(()),
        }
    }
}

struct Known<'a>(&'a [String]);

impl fmt::Display for Known<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(none)");
        }
        f.write_str(&self.0.join(", "))
    }
}

/// The closest allowed name to the unknown one in a parser message
/// ("unknown field `wieght`, expected one of name, weight, …"), as a hint.
pub(crate) fn suggestion(message: &str) -> Option<String> {
    let rest = message
        .split("unknown field `")
        .nth(1)
        .or_else(|| message.split("unknown variant `").nth(1))?;
    let (bad, rest) = rest.split_once('`')?;
    let allowed = rest.split("expected").nth(1)?.lines().next()?;
    let allowed = allowed
        .trim_start_matches(" one of")
        .trim_start_matches(' ');
    closest(
        bad,
        allowed
            .split([',', ' '])
            .map(|s| s.trim_matches(|c: char| c == '`' || c.is_whitespace()))
            .filter(|s| !s.is_empty() && *s != "or"),
    )
    .map(|best| format!("did you mean `{best}`?"))
}

/// The candidate closest to `bad`, if close enough to be a typo.
pub(crate) fn closest<'a>(
    bad: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(bad, c), c))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// An I/O error in words, without the OS's code (`No such file or directory`).
pub(crate) fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_owned()
        }
    }
}

/// The YAML parser's limits in words: `budget breached: Nodes { nodes:
/// 250001 }` says nothing to a person.
pub(crate) fn limit_words(message: &str) -> String {
    static BUDGET: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re =
        BUDGET.get_or_init(|| regex::Regex::new(r"budget breached: (\w+) \{ \w+: (\d+) \}").ok());
    let mut out = match re.as_ref().and_then(|re| re.captures(message)) {
        Some(c) => {
            let n: u64 = c[2].parse().unwrap_or(0);
            let words = match &c[1] {
                "Nodes" => format!(
                    "the file expands to more than {} YAML values (anchors and aliases repeated, as in a \"YAML bomb\"?); a scenario file needs far fewer",
                    n.saturating_sub(1)
                ),
                "Aliases" => format!(
                    "more than {} aliases (*name): a scenario file needs far fewer",
                    n.saturating_sub(1)
                ),
                "Anchors" => format!("more than {} anchors (&name)", n.saturating_sub(1)),
                "Depth" => format!("nested deeper than {} levels", n.saturating_sub(1)),
                "Documents" => "more than one YAML document (---): give one".to_owned(),
                other => format!("too large to read ({other} over the parser's limit)"),
            };
            message.replace(&c[0], &words)
        }
        None => message.to_owned(),
    };
    if out.contains("recursion limit exceeded") {
        out = out.replace(
            "recursion limit exceeded",
            "nested too deeply (a scenario file needs a few levels, not hundreds)",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_known_key() {
        let m = "line 8 column 9: unknown field `wieght`, expected one of name, subject, weight, timeout";
        assert_eq!(suggestion(m).as_deref(), Some("did you mean `weight`?"));
        let m = "unknown variant `cliffrace`, expected one of `cliffracer`, `micro`, `raw`";
        assert_eq!(suggestion(m).as_deref(), Some("did you mean `cliffracer`?"));
        assert_eq!(
            suggestion("unknown field `zzzzzz`, expected one of name, weight"),
            None
        );
    }
}
