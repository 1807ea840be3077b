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
    #[error("no scenario named {name:?}; known: {}", Known(known))]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
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
