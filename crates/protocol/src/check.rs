//! Checks on the body of a successful reply (a task's `expect:`), for
//! services whose success says little by itself: a `raw` responder that
//! answers `ERROR: something broke`, or an envelope whose result is wrong.
//! Run only on tasks that set them, and only on replies that succeeded.

use regex::bytes::Regex;
use serde_json::Value;

use crate::codec::Codec;

/// What a successful reply must hold.
#[derive(Debug, Clone)]
pub struct ReplyCheck {
    /// `path.to.field` (dots between keys, numbers index arrays) → value.
    json: Vec<(String, Value)>,
    contains: Option<String>,
    regex: Option<(String, Regex)>,
    max_bytes: Option<usize>,
}

impl ReplyCheck {
    /// A check; `None` when it checks nothing. The error names a bad regex.
    pub fn new(
        json: Vec<(String, Value)>,
        contains: Option<String>,
        regex: Option<String>,
        max_bytes: Option<usize>,
    ) -> Result<Option<Self>, String> {
        let regex = match regex {
            Some(r) => Some((
                r.clone(),
                Regex::new(&r).map_err(|e| format!("not a regular expression: {e}"))?,
            )),
            None => None,
        };
        if json.is_empty() && contains.is_none() && regex.is_none() && max_bytes.is_none() {
            return Ok(None);
        }
        Ok(Some(Self {
            json,
            contains,
            regex,
            max_bytes,
        }))
    }

    /// `Ok` when `body` passes every check; else which check failed and why.
    /// `content_type` picks the codec for the `json` checks (sniffed without).
    pub fn check(&self, content_type: Option<&str>, body: &[u8]) -> Result<(), String> {
        if let Some(max) = self.max_bytes
            && body.len() > max
        {
            return Err(format!(
                "expect.max_bytes: the reply has {} bytes, more than {max}",
                body.len()
            ));
        }
        if let Some(needle) = &self.contains
            && !contains(body, needle.as_bytes())
        {
            return Err(format!(
                "expect.contains: the reply does not contain {needle:?}"
            ));
        }
        if let Some((text, re)) = &self.regex
            && !re.is_match(body)
        {
            return Err(format!("expect.regex: the reply does not match /{text}/"));
        }
        if self.json.is_empty() {
            return Ok(());
        }
        let codec = content_type.map_or_else(|| Codec::sniff(body), Codec::from_content_type);
        let doc: Value = codec
            .decode(body)
            .map_err(|e| undecodable(codec, content_type, body, &e))?;
        for (path, want) in &self.json {
            match lookup(&doc, path) {
                Some(got) if got == want => {}
                Some(got) => {
                    return Err(format!("expect.json {path}: got {got}, expected {want}"));
                }
                None => return Err(format!("expect.json {path}: not in the reply")),
            }
        }
        Ok(())
    }
}

/// Why `expect.json` could not read a reply, in the reply's terms: plain
/// text is called text (sniffing calls anything not JSON MsgPack, and "not
/// MsgPack" sent people looking for a codec problem), a Content-Type that
/// lies is named, with a short, printable excerpt.
fn undecodable(
    codec: Codec,
    content_type: Option<&str>,
    body: &[u8],
    e: &dyn std::fmt::Display,
) -> String {
    let excerpt: String = String::from_utf8_lossy(&body[..body.len().min(60)])
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    let more = if body.len() > 60 { "…" } else { "" };
    let text = std::str::from_utf8(body)
        .is_ok_and(|t| !t.is_empty() && t.chars().all(|c| !c.is_control() || c.is_whitespace()));
    match content_type {
        Some(ct) => format!(
            "expect.json: the reply says Content-Type {ct} but is not {codec} ({e}): {excerpt:?}{more}"
        ),
        None if text => {
            format!("expect.json: the reply is plain text, not JSON or MsgPack: {excerpt:?}{more}")
        }
        None => {
            format!("expect.json: the reply is neither JSON nor MsgPack ({e}): {excerpt:?}{more}")
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The value at `a.b.0.c`: keys of objects, indexes of arrays.
fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, key| match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(json: Vec<(&str, Value)>, contains: Option<&str>, regex: Option<&str>) -> ReplyCheck {
        ReplyCheck::new(
            json.into_iter().map(|(p, v)| (p.to_owned(), v)).collect(),
            contains.map(str::to_owned),
            regex.map(str::to_owned),
            None,
        )
        .expect("valid")
        .expect("checks something")
    }

    #[test]
    fn an_error_text_fails_contains_and_regex() {
        let c = check(vec![], Some("pong"), None);
        assert!(c.check(None, b"pong").is_ok());
        let e = c.check(None, b"ERROR: something broke").expect_err("fails");
        assert!(e.starts_with("expect.contains"), "{e}");
        let r = check(vec![], None, Some("^OK "));
        assert!(r.check(None, b"OK 42").is_ok());
        assert!(
            r.check(None, b"ERROR")
                .expect_err("fails")
                .contains("/^OK /")
        );
    }

    #[test]
    fn json_paths_compare_values() {
        let c = check(
            vec![("result.status", json!("ok")), ("result.items.1", json!(2))],
            None,
            None,
        );
        let good = br#"{"success": true, "result": {"status": "ok", "items": [1, 2]}}"#;
        assert!(c.check(Some("application/json"), good).is_ok());
        let bad = br#"{"success": true, "result": {"status": "pending", "items": [1, 2]}}"#;
        let e = c.check(None, bad).expect_err("wrong value");
        assert_eq!(
            e,
            r#"expect.json result.status: got "pending", expected "ok""#
        );
        let missing = br#"{"success": true, "result": {}}"#;
        assert!(
            c.check(None, missing)
                .expect_err("missing")
                .contains("not in the reply")
        );
    }

    /// Issue 27: a plain-text reply was "not MsgPack" (sniffing calls
    /// anything that is not JSON MsgPack).
    #[test]
    fn a_reply_that_json_paths_cannot_read_is_named_for_what_it_is() {
        let c = check(vec![("status", json!("ok"))], None, None);
        let e = c.check(None, b"OK: all good").expect_err("text");
        assert_eq!(
            e,
            r#"expect.json: the reply is plain text, not JSON or MsgPack: "OK: all good""#
        );
        let e = c
            .check(Some("application/json"), b"<html>")
            .expect_err("lies");
        assert!(
            e.contains("says Content-Type application/json but is not JSON"),
            "{e}"
        );
        let e = c.check(None, b"\xc1\x1b[2J").expect_err("bytes");
        assert!(
            e.contains("neither JSON nor MsgPack") && !e.contains('\u{1b}'),
            "{e}"
        );
    }

    #[test]
    fn size_bound_and_nothing_to_check() {
        let c = ReplyCheck::new(vec![], None, None, Some(3))
            .expect("valid")
            .expect("checks");
        assert!(c.check(None, b"abc").is_ok());
        assert!(c.check(None, b"abcd").is_err());
        assert!(
            ReplyCheck::new(vec![], None, None, None)
                .expect("valid")
                .is_none()
        );
        assert!(ReplyCheck::new(vec![], None, Some("(".into()), None).is_err());
    }
}
