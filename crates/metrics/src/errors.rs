//! The text of failures and refusals, kept per task × outcome: distinct
//! messages with ids and numbers masked, a count and one raw sample each,
//! bounded in memory (Locust's failures table, without its unbounded dict).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// Distinct messages kept per task × outcome; the rest are counted together.
pub const MAX_MESSAGES: usize = 20;
/// Longest message or sample kept, in characters.
const MAX_CHARS: usize = 240;
/// The message under which messages past [`MAX_MESSAGES`] are counted.
pub const OTHER: &str = "(other messages)";

/// One distinct message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// The message with ids and numbers masked (`#`), what entries are keyed by.
    pub message: String,
    /// How many requests got it.
    pub count: u64,
    /// The first raw message seen (ids and numbers intact).
    pub sample: String,
    /// The reply body that came with that first message, control
    /// characters escaped and cut (absent when no reply came, a timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// Messages per task (by position) and outcome.
///
/// Serialised as a list of groups (a map keyed by pairs is not JSON), so a
/// distributed worker can send its log to the coordinator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "Vec<ErrorGroup>", from = "Vec<ErrorGroup>")]
pub struct ErrorLog {
    entries: BTreeMap<(usize, Outcome), Vec<ErrorEntry>>,
}

/// One task × outcome's messages, as [`ErrorLog`] is serialised.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ErrorGroup {
    task: usize,
    outcome: Outcome,
    entries: Vec<ErrorEntry>,
}

impl From<ErrorLog> for Vec<ErrorGroup> {
    fn from(log: ErrorLog) -> Self {
        log.entries
            .into_iter()
            .map(|((task, outcome), entries)| ErrorGroup {
                task,
                outcome,
                entries,
            })
            .collect()
    }
}

impl From<Vec<ErrorGroup>> for ErrorLog {
    fn from(groups: Vec<ErrorGroup>) -> Self {
        Self {
            entries: groups
                .into_iter()
                .map(|g| ((g.task, g.outcome), g.entries))
                .collect(),
        }
    }
}

impl ErrorLog {
    /// Counts `raw` for `task` and `outcome`. A service chose the text, so
    /// its control characters are kept only as visible escapes (see
    /// [`visible`]); ids are masked first, so an escape's digits stay as sent.
    pub fn record(&mut self, task: usize, outcome: Outcome, raw: &str) {
        self.record_reply(task, outcome, raw, None);
    }

    /// [`ErrorLog::record`], keeping `reply` (a sample of the reply body)
    /// with the first occurrence of the message: one sample per kind.
    pub fn record_reply(&mut self, task: usize, outcome: Outcome, raw: &str, reply: Option<&str>) {
        let message = visible(&normalise(raw)).into_owned();
        let list = self.entries.entry((task, outcome)).or_default();
        Self::add(list, message, 1, || {
            (
                truncate(&visible(raw)),
                reply.map(|r| truncate(&visible(r))),
            )
        });
    }

    fn add(
        list: &mut Vec<ErrorEntry>,
        message: String,
        count: u64,
        sample: impl FnOnce() -> (String, Option<String>),
    ) {
        if let Some(e) = list.iter_mut().find(|e| e.message == message) {
            e.count = e.count.saturating_add(count);
            return;
        }
        if list.len() < MAX_MESSAGES {
            let (sample, reply) = sample();
            list.push(ErrorEntry {
                message,
                count,
                sample,
                reply,
            });
            return;
        }
        // Full: the last slot becomes (or stays) the catch-all.
        let last = list.len() - 1;
        if list[last].message != OTHER {
            let evicted = list[last].count;
            list[last] = ErrorEntry {
                message: OTHER.into(),
                count: evicted,
                sample: String::new(),
                reply: None,
            };
        }
        list[last].count = list[last].count.saturating_add(count);
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: &ErrorLog) {
        for (key, list) in &other.entries {
            let mine = self.entries.entry(*key).or_default();
            for e in list {
                Self::add(mine, e.message.clone(), e.count, || {
                    (e.sample.clone(), e.reply.clone())
                });
            }
        }
    }

    /// Takes the contents, leaving the log empty.
    pub fn take(&mut self) -> ErrorLog {
        std::mem::take(self)
    }

    /// The tasks (by position) with messages.
    pub fn tasks(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.keys().map(|(task, _)| *task)
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The messages of one task and outcome, most frequent first.
    pub fn messages(&self, task: usize, outcome: Outcome) -> Vec<ErrorEntry> {
        let mut list = self
            .entries
            .get(&(task, outcome))
            .cloned()
            .unwrap_or_default();
        list.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.message.cmp(&b.message))
        });
        list
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// `s` with every control character (C0 including newline and tab, DEL,
/// C1) written as its Rust escape (`\n`, `\u{1b}`): text a service sent
/// (an error message, a reply's bytes) is shown on a terminal and in CSV,
/// Markdown and XML files, where an escape sequence could retitle or clear
/// the terminal, or a newline break a row. Borrowed when there is none.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Masks what differs between occurrences of the same error: every run of
/// digits becomes `#` (ids, correlation ids, counts, amounts, times), and a
/// hex word of 4+ characters with a digit (a UUID part) becomes `#`.
pub fn normalise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_CHARS));
    for word in raw.split_inclusive(|c: char| !c.is_ascii_alphanumeric()) {
        let (body, sep) = match word.char_indices().last() {
            Some((i, c)) if !c.is_ascii_alphanumeric() => (&word[..i], &word[i..]),
            _ => (word, ""),
        };
        let idlike = body.len() >= 4
            && body.bytes().any(|b| b.is_ascii_digit())
            && body.bytes().all(|b| b.is_ascii_hexdigit());
        if idlike {
            out.push('#');
        } else {
            let mut in_digits = false;
            for c in body.chars() {
                if c.is_ascii_digit() {
                    if !in_digits {
                        out.push('#');
                    }
                    in_digits = true;
                } else {
                    out.push(c);
                    in_digits = false;
                }
            }
        }
        out.push_str(sep);
        if out.len() >= MAX_CHARS {
            return truncate(&out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_numbers_are_masked_so_one_error_is_one_entry() {
        assert_eq!(
            normalise("Internal server error (correlation_id: corr-demo-0001)"),
            "Internal server error (correlation_id: corr-demo-#)"
        );
        assert_eq!(
            normalise("order 3f2a9c1e-77b0-4c1d-9a2e-0b1c2d3e4f50 refused: stock 12 < 15"),
            "order #-#-#-#-# refused: stock # < #"
        );
        let mut log = ErrorLog::default();
        log.record(
            0,
            Outcome::ServiceError,
            "Internal server error (correlation_id: cl-0-17)",
        );
        log.record(
            0,
            Outcome::ServiceError,
            "Internal server error (correlation_id: cl-1-99)",
        );
        let m = log.messages(0, Outcome::ServiceError);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].count, 2);
        assert_eq!(
            m[0].sample,
            "Internal server error (correlation_id: cl-0-17)"
        );
    }

    #[test]
    fn distinct_messages_are_bounded_and_the_rest_counted_as_other() {
        let mut log = ErrorLog::default();
        let words = ["alpha", "beta", "gamma", "delta", "epsilon"];
        for i in 0..(MAX_MESSAGES + 30) {
            let msg = format!("failure {}{}", words[i % 5], "x".repeat(i));
            log.record(1, Outcome::Decode, &msg);
        }
        let m = log.messages(1, Outcome::Decode);
        assert_eq!(m.len(), MAX_MESSAGES);
        assert_eq!(
            m.iter().map(|e| e.count).sum::<u64>(),
            (MAX_MESSAGES + 30) as u64
        );
        assert!(m.iter().any(|e| e.message == OTHER && e.count == 31));
    }

    #[test]
    fn control_characters_from_a_service_are_kept_only_as_visible_escapes() {
        // Issue 26: an OSC retitle, BEL, a clear-screen CSI, DEL and C1 CSI.
        let hostile = "boom \u{1b}]0;pwned\u{7}\u{1b}[2J\u{7f}\u{9b}31m\nnext";
        assert_eq!(
            visible(hostile),
            "boom \\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{7f}\\u{9b}31m\\nnext"
        );
        assert!(matches!(visible("plain · text"), Cow::Borrowed(_)));
        let mut log = ErrorLog::default();
        log.record(0, Outcome::ServiceError, hostile);
        let e = &log.messages(0, Outcome::ServiceError)[0];
        for text in [&e.message, &e.sample] {
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
        assert_eq!(
            e.message,
            "boom \\u{1b}]#;pwned\\u{7}\\u{1b}[#J\\u{7f}\\u{9b}#m\\nnext"
        );
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_first_sample() {
        let mut a = ErrorLog::default();
        let mut b = ErrorLog::default();
        a.record(0, Outcome::Timeout, "no reply within 1 s");
        b.record(0, Outcome::Timeout, "no reply within 1 s");
        b.record(0, Outcome::Transport, "connection closed");
        a.merge(&b);
        assert_eq!(a.messages(0, Outcome::Timeout)[0].count, 2);
        assert_eq!(a.messages(0, Outcome::Transport)[0].count, 1);
        assert!(a.messages(1, Outcome::Timeout).is_empty());
    }
}
