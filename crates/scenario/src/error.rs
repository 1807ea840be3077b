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
    #[error("{}{path}: {message}", At(at))]
    Invalid {
        /// Key path, e.g. `scenarios.smoke.users`.
        path: String,
        /// What is wrong and what is allowed.
        message: String,
        /// The file and the place in it the key path is written, when the
        /// file writes it (a value from the built-in catalog has none).
        at: Option<(String, crate::locate::Position)>,
    },
    /// Several problems, each found on its own (one per scenario or section).
    #[error("{} problems:\n{}", .0.len(), Each(.0))]
    Several(Vec<ConfigError>),
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

struct At<'a>(&'a Option<(String, crate::locate::Position)>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((origin, p)) => write!(f, "{origin}:{}:{}: ", p.line, p.column),
            None => Ok(()),
        }
    }
}

struct Each<'a>(&'a [ConfigError]);

impl fmt::Display for Each<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            let sep = if i + 1 < self.0.len() { "\n" } else { "" };
            write!(f, "  {}. {e}{sep}", i + 1)?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// Several errors as one, in one flat list; one as itself. An error met
    /// twice (a user class shared by two scenarios) is kept once.
    pub(crate) fn all(errors: Vec<ConfigError>) -> Option<ConfigError> {
        let mut seen = std::collections::HashSet::new();
        let mut errors: Vec<ConfigError> = errors
            .into_iter()
            .flat_map(ConfigError::into_list)
            .filter(|e| seen.insert(e.to_string()))
            .collect();
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ConfigError::Several(errors)),
        }
    }

    /// The problems this error holds, one by one.
    pub(crate) fn into_list(self) -> Vec<ConfigError> {
        match self {
            ConfigError::Several(all) => all.into_iter().flat_map(Self::into_list).collect(),
            one => vec![one],
        }
    }

    /// The key path this error names, if it names one.
    pub(crate) fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { path, .. } => Some(path),
            ConfigError::Parse { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// The error with the place in `text` (the file `origin`) where each
    /// invalid key path is written; a path the file does not write is
    /// shown by its nearest written parent (its scenario, say), or not at all.
    pub(crate) fn located(self, text: &str, origin: &str) -> Self {
        match self {
            ConfigError::Invalid {
                path,
                message,
                at: None,
            } => {
                let at = ancestors(&path)
                    .find_map(|p| crate::locate::locate(text, p))
                    .map(|pos| (origin.to_owned(), pos));
                ConfigError::Invalid { path, message, at }
            }
            ConfigError::Several(all) => {
                let mut all: Vec<ConfigError> =
                    all.into_iter().map(|e| e.located(text, origin)).collect();
                // In the order they are written; those without a place last.
                all.sort_by_key(|e| match e {
                    ConfigError::Invalid {
                        at: Some((_, p)), ..
                    } => (p.line, p.column),
                    _ => (usize::MAX, 0),
                });
                ConfigError::Several(all)
            }
            other => other,
        }
    }
}

/// `a.b[0].c`, `a.b[0]`, `a.b`: the path and its parents of two steps or more.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let p = next?;
        let cut = p.rfind(['.', '[']);
        next = cut.map(|i| &p[..i]).filter(|q| q.contains('.'));
        Some(p)
    })
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

/// Whether YAML `text` uses an alias (`*name`) anywhere: only then can
/// a file of a few lines expand past the parser's limits.
pub(crate) fn has_aliases(text: &str) -> bool {
    static ALIAS: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    ALIAS
        .get_or_init(|| regex::Regex::new(r"(?m)(?:^|[\s\[{,:?-])\*[^\s,\[\]{}]").ok())
        .as_ref()
        .is_none_or(|re| re.is_match(text))
}

/// The YAML parser's limits in words: `budget breached: Nodes { nodes:
/// 250001 }` says nothing to a person. `aliases`: whether the file uses
/// any (only then is too many values a "YAML bomb").
pub(crate) fn limit_words(message: &str, aliases: bool) -> String {
    static BUDGET: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re =
        BUDGET.get_or_init(|| regex::Regex::new(r"budget breached: (\w+) \{ \w+: (\d+) \}").ok());
    let mut out = match re.as_ref().and_then(|re| re.captures(message)) {
        Some(c) => {
            let n: u64 = c[2].parse().unwrap_or(0);
            let words = match &c[1] {
                "Nodes" if aliases => format!(
                    "the file expands to more than {} YAML values (anchors and aliases repeated, as in a \"YAML bomb\"?); a scenario file needs far fewer",
                    n.saturating_sub(1)
                ),
                "Nodes" => format!(
                    "the file is too large: it holds more than {} YAML values, the limit of a scenario file (a real one has a few hundred)",
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

/// The parser's type names in words: `invalid i64` is what a person reads
/// for `users: "two"`, `users: 2.5` and an overflow.
pub(crate) fn type_words(message: &str) -> String {
    const WORDS: [(&str, &str); 13] = [
        (
            "while parsing a block mapping, did not find expected key",
            "this line does not line up with the keys above it (check its indentation)",
        ),
        ("invalid i64", "expected a whole number (e.g. 10)"),
        ("invalid u64", "expected a whole number (e.g. 10)"),
        ("invalid i32", "expected a whole number (e.g. 10)"),
        ("invalid u32", "expected a whole number (e.g. 10)"),
        ("invalid usize", "expected a whole number (e.g. 10)"),
        ("invalid floating point", "expected a number (e.g. 2.5)"),
        ("invalid f64", "expected a number (e.g. 2.5)"),
        ("invalid boolean", "expected true or false"),
        (
            "expected string scalar",
            "expected a single value here, not a list or a mapping",
        ),
        (
            "expected mapping start",
            "expected a mapping (key: value) here",
        ),
        ("expected sequence start", "expected a list ([a, b]) here"),
        ("invalid type: ", ""),
    ];
    WORDS
        .iter()
        .fold(message.to_owned(), |m, (from, to)| m.replace(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_become_words() {
        assert_eq!(
            type_words("line 3 column 12: invalid i64"),
            "line 3 column 12: expected a whole number (e.g. 10)"
        );
        assert_eq!(type_words("invalid boolean"), "expected true or false");
    }

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
