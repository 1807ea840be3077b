//! Where a key path (`scenarios.smoke.tasks[0].timeout`) is written in a
//! YAML text: validation runs on the file laid over the catalog, after the
//! parser's positions are gone, so an error's line is found again here by
//! walking the parser's events.

use serde_saphyr::granit_parser::{Event, Parser};

/// A line and column in a file, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `a.b[0][1].c` as steps.
fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, indices) = part
            .split_once('[')
            .map_or((part, ""), |(k, rest)| (k, rest));
        if !key.is_empty() {
            out.push(Step::Key(key.to_owned()));
        }
        for index in indices.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(Step::Index(i));
            }
        }
    }
    out
}

/// Where the parser is in a collection.
#[derive(Debug)]
enum Frame {
    /// In a mapping: the key of the value being read, if a key was read.
    Map(Option<String>),
    /// In a sequence: the index of the next item.
    Seq(usize),
}

/// The position of `path` in `text`: the key for a mapping entry, the item
/// for a sequence index. `None` when the text does not write that path (the
/// value came from the catalog) or is not YAML.
pub fn locate(text: &str, path: &str) -> Option<Position> {
    let target = steps(path);
    if target.is_empty() {
        return None;
    }
    let mut frames: Vec<Frame> = Vec::new();
    // The path to the node the next event starts.
    let here = |frames: &[Frame], last: Option<Step>| -> Vec<Step> {
        let mut p: Vec<Step> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Map(Some(k)) => Some(Step::Key(k.clone())),
                Frame::Seq(i) => Some(Step::Index(*i)),
                Frame::Map(None) => None,
            })
            .collect();
        p.extend(last);
        p
    };
    for next in Parser::new_from_str(text) {
        let (event, span) = next.ok()?;
        let at = Position {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        let is_node = matches!(
            event,
            Event::Scalar(..)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
                | Event::Alias(_)
        );
        // A scalar where a mapping expects a key is the key.
        if let (Event::Scalar(key, ..), Some(Frame::Map(current @ None))) =
            (&event, frames.last_mut())
        {
            *current = Some(key.to_string());
            if here(&frames, None) == target {
                return Some(at);
            }
            continue;
        }
        if is_node && matches!(frames.last(), Some(Frame::Seq(_))) && here(&frames, None) == target
        {
            return Some(at);
        }
        match event {
            Event::MappingStart(..) => frames.push(Frame::Map(None)),
            Event::SequenceStart(..) => frames.push(Frame::Seq(0)),
            Event::MappingEnd | Event::SequenceEnd => {
                frames.pop();
                value_done(&mut frames);
            }
            Event::Scalar(..) | Event::Alias(_) => value_done(&mut frames),
            _ => {}
        }
    }
    None
}

/// The key path of the first key or sequence item written on `line` (from
/// 1) of `text`, as [`locate`] takes it (`scenarios.smoke.tasks[0]`).
pub fn path_at(text: &str, line: usize) -> Option<String> {
    let mut frames: Vec<Frame> = Vec::new();
    let path = |frames: &[Frame]| {
        let mut out = String::new();
        for f in frames {
            match f {
                Frame::Map(Some(k)) if out.is_empty() => out.push_str(k),
                Frame::Map(Some(k)) => {
                    out.push('.');
                    out.push_str(k);
                }
                Frame::Seq(i) => out.push_str(&format!("[{i}]")),
                Frame::Map(None) => {}
            }
        }
        Some(out).filter(|p| !p.is_empty())
    };
    for next in Parser::new_from_str(text) {
        let (event, span) = next.ok()?;
        let here = span.start.line();
        if here > line {
            return None;
        }
        let is_node = matches!(
            event,
            Event::Scalar(..)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
                | Event::Alias(_)
        );
        if let (Event::Scalar(key, ..), Some(Frame::Map(current @ None))) =
            (&event, frames.last_mut())
        {
            *current = Some(key.to_string());
            if here == line {
                return path(&frames);
            }
            continue;
        }
        if is_node && here == line && matches!(frames.last(), Some(Frame::Seq(_))) {
            return path(&frames);
        }
        match event {
            Event::MappingStart(..) => frames.push(Frame::Map(None)),
            Event::SequenceStart(..) => frames.push(Frame::Seq(0)),
            Event::MappingEnd | Event::SequenceEnd => {
                frames.pop();
                value_done(&mut frames);
            }
            Event::Scalar(..) | Event::Alias(_) => value_done(&mut frames),
            _ => {}
        }
    }
    None
}

/// A value ended: the mapping around it reads a key next, the sequence its next item.
fn value_done(frames: &mut [Frame]) {
    match frames.last_mut() {
        Some(Frame::Map(key)) => *key = None,
        Some(Frame::Seq(i)) => *i += 1,
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
scenarios:
  smoke:
    users: 2
    tasks:
      - {name: a, timeout: 1s}
      - name: b
        timeout: 2s
  other: {users: 3}
";

    fn at(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn finds_keys_and_sequence_items() {
        assert_eq!(locate(TEXT, "scenarios"), at(1, 1));
        assert_eq!(locate(TEXT, "scenarios.smoke.users"), at(3, 5));
        assert_eq!(locate(TEXT, "scenarios.smoke.tasks[0]"), at(5, 9));
        assert_eq!(locate(TEXT, "scenarios.smoke.tasks[0].timeout"), at(5, 19));
        assert_eq!(locate(TEXT, "scenarios.smoke.tasks[1].timeout"), at(7, 9));
        assert_eq!(locate(TEXT, "scenarios.other.users"), at(8, 11));
    }

    #[test]
    fn a_path_the_text_does_not_write_is_not_found() {
        assert_eq!(locate(TEXT, "scenarios.smoke.duration"), None);
        assert_eq!(locate(TEXT, "scenarios.smoke.tasks[2]"), None);
        assert_eq!(locate(TEXT, "users"), None);
        assert_eq!(locate("a: [1", "a.b"), None);
        assert_eq!(locate(TEXT, ""), None);
    }

    #[test]
    fn the_path_written_on_a_line_is_its_first_key_or_item() {
        assert_eq!(path_at(TEXT, 1).as_deref(), Some("scenarios"));
        assert_eq!(path_at(TEXT, 3).as_deref(), Some("scenarios.smoke.users"));
        assert_eq!(
            path_at(TEXT, 5).as_deref(),
            Some("scenarios.smoke.tasks[0]")
        );
        assert_eq!(
            path_at(TEXT, 6).as_deref(),
            Some("scenarios.smoke.tasks[1]")
        );
        assert_eq!(
            path_at(TEXT, 7).as_deref(),
            Some("scenarios.smoke.tasks[1].timeout")
        );
        assert_eq!(path_at(TEXT, 8).as_deref(), Some("scenarios.other"));
        assert_eq!(path_at(TEXT, 9), None);
    }

    #[test]
    fn paths_split_into_keys_and_indices() {
        assert_eq!(
            steps("a.b[0][1].c"),
            [
                Step::Key("a".into()),
                Step::Key("b".into()),
                Step::Index(0),
                Step::Index(1),
                Step::Key("c".into())
            ]
        );
    }
}
