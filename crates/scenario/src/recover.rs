//! Every mistake of a file the parser cannot read, not only the first.
//!
//! The parser stops at the first key it cannot read (an unknown key, a value
//! of the wrong type), so the file is read again with that key's lines
//! blanked out, line numbers kept — a list item becomes `- {}`, so the items
//! after it keep their index — until it reads, or nothing more can be
//! blanked. What remains is then validated as any file is, and its errors
//! are reported too, but for those about the keys blanked out: a `users:
//! two` blanked out is not also "required".

use serde_saphyr::{Error, MessageFormatter};

use crate::error::{self, ConfigError};
use crate::locate::{self, Position};
use crate::raw::RawFile;
use crate::{RawError, read_raw};

/// Larger files are reported by their first mistake only: the file is read
/// again once per mistake (a real one is a few KB).
const MAX_TEXT: usize = 1 << 20;
/// At most this many unreadable keys are gathered.
const MAX_MISTAKES: usize = 50;

/// Every mistake of `text` (the file `origin`), whose first is `first`:
/// the keys the parser cannot read, then `check`'s errors of the rest. One
/// mistake alone is `first` as the parser says it, with its snippet.
pub(crate) fn every_mistake(
    text: &str,
    origin: &str,
    first: RawError,
    check: impl Fn(RawFile) -> Option<ConfigError>,
) -> ConfigError {
    let Some(Found { mut mistakes, rest }) = gather(text, &first) else {
        return first.into_config(text, origin);
    };
    // A key the file writes is not missing for a typo of it elsewhere.
    for m in &mut mistakes {
        m.meant = m.meant.take().filter(|p| locate::locate(text, p).is_none());
    }
    let value_errors: Vec<ConfigError> = rest
        .and_then(check)
        .map(ConfigError::into_list)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !mistakes.iter().any(|m| m.covers(e.path())))
        .collect();
    if mistakes.len() == 1 && value_errors.is_empty() {
        return first.into_config(text, origin);
    }
    let all = mistakes
        .into_iter()
        .map(|m| m.into_error(origin))
        .chain(value_errors)
        .collect();
    match ConfigError::all(all) {
        Some(e) => e.located(text, origin),
        None => first.into_config(text, origin),
    }
}

/// The keys that could not be read, and the file without them, if it reads.
struct Found {
    mistakes: Vec<Mistake>,
    rest: Option<RawFile>,
}

/// One key that could not be read.
struct Mistake {
    /// The key path the parser names.
    path: Option<String>,
    /// The key path of the lines blanked out for it.
    blanked: Option<String>,
    /// For an unknown key, the path of the known key it is closest to (a
    /// typo of `users` leaves the scenario without users).
    meant: Option<String>,
    at: Position,
    message: String,
}

impl Mistake {
    /// Whether an error at `path` may only come from this mistake's lines
    /// being blanked out: it is at, inside or around them.
    fn covers(&self, path: Option<&str>) -> bool {
        let Some(p) = path else { return false };
        [self.path.as_deref(), self.blanked.as_deref()]
            .into_iter()
            .flatten()
            .any(|q| within(p, q) || within(q, p))
            || self.meant.as_deref().is_some_and(|m| within(p, m))
    }

    fn into_error(self, origin: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self
                .path
                .or(self.blanked)
                .unwrap_or_else(|| "(the file)".to_owned()),
            message: self.message,
            at: Some((origin.to_owned(), self.at)),
        }
    }
}

/// Whether key path `inner` is `outer` or inside it.
fn within(inner: &str, outer: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|r| r.is_empty() || r.starts_with(['.', '[']))
}

/// The mistakes of `text`, reading it again without each; `None` when it
/// cannot be read that way (not YAML, too large, anchors and aliases, a
/// limit of the parser), and only `first` is said.
fn gather(text: &str, first: &RawError) -> Option<Found> {
    if text.len() > MAX_TEXT || error::has_aliases(text) || !is_yaml(text) {
        return None;
    }
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let mut mistakes: Vec<Mistake> = Vec::new();
    let mut next: Option<RawError> = None;
    for _ in 0..MAX_MISTAKES {
        let e = next.as_ref().unwrap_or(first);
        if !about_a_key(&e.error) {
            break;
        }
        let loc = e.error.location()?;
        let line = usize::try_from(loc.line()).ok()?;
        let blanked = locate::path_at(&lines.join("\n"), line);
        // A field missing only because an earlier key was blanked out is
        // not a mistake of the file.
        let artefact = matches!(e.error.without_snippet(), Error::SerdeMissingField { .. })
            && mistakes.iter().any(|m| m.covers(e.path.as_deref()));
        if !artefact {
            let message = message(&e.error);
            mistakes.push(Mistake {
                meant: meant(e.path.as_deref(), &message),
                path: e.path.clone(),
                blanked,
                at: Position {
                    line,
                    column: usize::try_from(loc.column()).unwrap_or(1),
                },
                message,
            });
        }
        if !blank(&mut lines, line) {
            break;
        }
        let rest = lines.join("\n");
        if !is_yaml(&rest) {
            break;
        }
        match read_raw(&rest) {
            Ok(raw) => {
                return Some(Found {
                    mistakes,
                    rest: Some(raw),
                });
            }
            Err(e) => next = Some(e),
        }
    }
    (!mistakes.is_empty()).then_some(Found {
        mistakes,
        rest: None,
    })
}

/// Whether the parser stopped at a key it could not read (not at broken
/// YAML or one of its limits), so the rest can be read without it.
fn about_a_key(e: &Error) -> bool {
    matches!(
        e.without_snippet(),
        Error::Message { .. }
            | Error::Unexpected { .. }
            | Error::InvalidBooleanStrict { .. }
            | Error::NullIntoString { .. }
            | Error::InvalidScalar { .. }
            | Error::NonFiniteFloat { .. }
            | Error::SerdeInvalidType { .. }
            | Error::SerdeInvalidValue { .. }
            | Error::SerdeInvalidLength { .. }
            | Error::SerdeUnknownVariant { .. }
            | Error::SerdeUnknownField { .. }
            | Error::SerdeMissingField { .. }
            | Error::DuplicateMappingKey { .. }
            | Error::TaggedScalarCannotDeserializeIntoString { .. }
    )
}

/// The parser's message, in words, without its place (said beside it).
fn message(e: &Error) -> String {
    let words = serde_saphyr::DefaultMessageFormatter.format_message(e.without_snippet());
    // Control characters of a hostile file are not written to a terminal.
    let words: String = words
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words = error::type_words(&words);
    match error::suggestion(&words) {
        Some(s) => format!("{words}; {s}"),
        None => words,
    }
}

/// The key path an unknown key at `path` was closest to, from the
/// `did you mean `key`?` of its `message`.
fn meant(path: Option<&str>, message: &str) -> Option<String> {
    let key = message.split("did you mean `").nth(1)?.split('`').next()?;
    let parent = path?.rsplit_once('.').map_or("", |(p, _)| p);
    Some(if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    })
}

/// Whether `text` is YAML at all (whatever its keys).
fn is_yaml(text: &str) -> bool {
    serde_saphyr::granit_parser::Parser::new_from_str(text).all(|e| e.is_ok())
}

/// Blanks out line `line` (from 1) and the lines of its value; a list item
/// becomes `- {}`, so the items after it keep their index. False when
/// there is nothing there to blank (a blank line, a comment, an emptied item).
fn blank(lines: &mut [String], line: usize) -> bool {
    let Some(i) = line.checked_sub(1).filter(|i| *i < lines.len()) else {
        return false;
    };
    if lines[i].trim() == "- {}" {
        return false;
    }
    let Some(own) = depth(&lines[i]) else {
        return false;
    };
    let end = (i + 1..lines.len())
        .find(|j| depth(&lines[*j]).is_some_and(|d| d <= own))
        .unwrap_or(lines.len());
    let indent = lines[i].len() - lines[i].trim_start_matches(' ').len();
    let item = lines[i].trim_start().starts_with('-');
    for l in &mut lines[i..end] {
        l.clear();
    }
    if item {
        lines[i] = format!("{}- {{}}", " ".repeat(indent));
    }
    true
}

/// How deep a line sits: twice its indentation, plus one for a list item
/// (an item belongs to the key above it at the same indentation). `None`
/// for a blank line or a comment.
fn depth(line: &str) -> Option<usize> {
    let body = line.trim_start_matches(' ');
    if body.trim().is_empty() || body.starts_with('#') {
        return None;
    }
    let indent = line.len() - body.len();
    Some(2 * indent + usize::from(body.starts_with("- ") || body.trim_end() == "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blanked(text: &str, line: usize) -> (bool, String) {
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let done = blank(&mut lines, line);
        (done, lines.join("\n"))
    }

    #[test]
    fn a_key_is_blanked_with_its_value_and_an_item_becomes_empty() {
        let text = "a:\n  b: 1\n  c:\n    d: 2\n  e: 3\nl:\n- x: 1\n  y: 2\n- z\n";
        assert_eq!(
            blanked(text, 3),
            (
                true,
                "a:\n  b: 1\n\n\n  e: 3\nl:\n- x: 1\n  y: 2\n- z\n".into()
            )
        );
        assert_eq!(
            blanked(text, 7),
            (
                true,
                "a:\n  b: 1\n  c:\n    d: 2\n  e: 3\nl:\n- {}\n\n- z\n".into()
            )
        );
        // Nothing is left to blank on an emptied item, a blank line or past the end.
        let (_, once) = blanked(text, 7);
        assert!(!blanked(&once, 7).0);
        assert!(!blanked(text, 10).0);
        assert!(!blanked(text, 0).0);
    }
}
