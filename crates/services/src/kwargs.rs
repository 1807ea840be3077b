//! Keyword-argument validation with pydantic's error shapes, so a refused
//! request reads like one refused by a real Cliffracer service, and
//! [`RawKwargs`], the way around it for requests that need no refusal.

use cliffload_protocol::{Codec, ErrorDetail, Loc};
use serde_json::{Map, Value};

/// A request's keyword arguments still encoded: a body that may be decoded
/// straight into a method's typed arguments, skipping `serde_json::Value`
/// (half of `process_order`'s cost went to building and walking it).
///
/// Only a JSON object qualifies. rmp-serde passes a MsgPack value to
/// whatever visitor asks, whatever type it asked for (a float reaches
/// `Decimal`, an integer key names a struct field by index), so MsgPack
/// decoded straight would accept requests the `Value` way refuses; it keeps
/// going through `Value`.
#[derive(Debug, Clone, Copy)]
pub struct RawKwargs<'a>(&'a [u8]);

impl<'a> RawKwargs<'a> {
    /// `body` if it is JSON (by its Content-Type, or sniffed without one)
    /// and opens an object: anything else (an array would fill a struct by
    /// position) takes the `Value` way.
    pub fn json_object(codec: Option<Codec>, body: &'a [u8]) -> Option<Self> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        (codec != Some(Codec::MsgPack) && first == Some(&b'{')).then_some(Self(body))
    }

    /// The arguments as `T`, or `None` on any error: the caller then takes
    /// the `Value` way, which writes the refusal. `T` is a method's kwargs
    /// struct with `deny_unknown_fields`, so a missing, extra or duplicate
    /// key fails here too.
    ///
    /// The body's UTF-8 is checked once, whole, and the text then read as a
    /// `str`: `from_slice` checks each string apart, which was 8% of
    /// `process_order`'s CPU (perf). A body that is not UTF-8 gets `None`,
    /// as it did.
    pub fn decode<T: serde::Deserialize<'a>>(self) -> Option<T> {
        let text = std::str::from_utf8(self.0).ok()?;
        serde_json::from_str(text).ok()
    }
}

/// Reads a request's keyword arguments, collecting every error at once.
#[derive(Debug)]
pub struct Kwargs<'a> {
    map: &'a Map<String, Value>,
    known: Vec<&'static str>,
    errors: Vec<ErrorDetail>,
}

fn detail(kind: &str, key: &str, msg: &str, input: Value) -> ErrorDetail {
    ErrorDetail {
        kind: kind.to_owned(),
        loc: vec![Loc::from(key)],
        msg: msg.to_owned(),
        input: Some(input),
        ctx: None,
    }
}

impl<'a> Kwargs<'a> {
    /// Starts reading `map`.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            known: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        let v = self.map.get(key);
        if v.is_none() {
            self.errors.push(detail(
                "missing",
                key,
                "Field required",
                Value::Object(self.map.clone()),
            ));
        }
        v
    }

    /// A required value of any type.
    pub fn value(&mut self, key: &'static str) -> Option<&'a Value> {
        self.get(key)
    }

    /// A required string.
    pub fn string(&mut self, key: &'static str) -> Option<&'a str> {
        let v = self.get(key)?;
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.errors.push(detail(
                    "string_type",
                    key,
                    "Input should be a valid string",
                    v.clone(),
                ));
                None
            }
        }
    }

    /// A required non-empty list of numbers.
    pub fn numbers(&mut self, key: &'static str) -> Option<Vec<f64>> {
        let v = self.get(key)?;
        let Some(list) = v.as_array() else {
            self.errors.push(detail(
                "list_type",
                key,
                "Input should be a valid list",
                v.clone(),
            ));
            return None;
        };
        if list.is_empty() {
            let mut d = detail(
                "too_short",
                key,
                "List should have at least 1 item after validation, not 0",
                v.clone(),
            );
            d.ctx = Some(
                serde_json::json!({"field_type": "List", "min_length": 1, "actual_length": 0}),
            );
            self.errors.push(d);
            return None;
        }
        let mut out = Vec::with_capacity(list.len());
        for (i, x) in list.iter().enumerate() {
            match x.as_f64() {
                Some(f) => out.push(f),
                None => self.errors.push(ErrorDetail {
                    kind: "float_type".into(),
                    loc: vec![Loc::from(key), Loc::from(i)],
                    msg: "Input should be a valid number".into(),
                    input: Some(x.clone()),
                    ctx: None,
                }),
            }
        }
        (out.len() == list.len()).then_some(out)
    }

    /// Ends reading: every key not asked for is `extra_forbidden`. Returns all
    /// errors, or none.
    pub fn finish(mut self) -> Result<(), Vec<ErrorDetail>> {
        for (k, v) in self.map {
            if !self.known.contains(&k.as_str()) {
                self.errors.push(detail(
                    "extra_forbidden",
                    k,
                    "Extra inputs are not permitted",
                    v.clone(),
                ));
            }
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// Payload violations as Cliffracer `details` entries.
pub fn details(violations: &[cliffload_payloads::Violation]) -> Vec<ErrorDetail> {
    violations
        .iter()
        .map(|v| ErrorDetail {
            kind: v.code.to_owned(),
            loc: v
                .path
                .iter()
                .map(|s| match s {
                    cliffload_payloads::Seg::Key(k) => Loc::Key(k.clone()),
                    cliffload_payloads::Seg::Index(i) => Loc::Index(*i as u64),
                })
                .collect(),
            msg: v.message.clone(),
            input: None,
            ctx: None,
        })
        .collect()
}

/// The one keyword argument `key` of a method: missing and extra keys are
/// reported as pydantic does.
pub fn take_one(
    key: &'static str,
    mut args: Map<String, Value>,
) -> Result<Value, Vec<ErrorDetail>> {
    let value = args.remove(key);
    let mut errors = Vec::new();
    if value.is_none() {
        errors.push(ErrorDetail {
            kind: "missing".into(),
            loc: vec![key.into()],
            msg: "Field required".into(),
            input: Some(Value::Object(args.clone())),
            ctx: None,
        });
    }
    if let Err(extra) = Kwargs::new(&args).finish() {
        errors.extend(extra);
    }
    match value {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(errors),
    }
}

/// pydantic's error for list `key` of `n` items, over its `max`.
pub fn too_long(key: &str, n: usize, max: usize) -> ErrorDetail {
    ErrorDetail {
        kind: "too_long".into(),
        loc: vec![key.into()],
        msg: format!("List should have at most {max} items after validation, not {n}"),
        input: None,
        ctx: Some(serde_json::json!({"max_length": max, "actual_length": n})),
    }
}

/// pydantic's error for list `key`, empty where one item is the least.
pub fn too_short(key: &str) -> ErrorDetail {
    ErrorDetail {
        kind: "too_short".into(),
        loc: vec![key.into()],
        msg: "List should have at least 1 item after validation, not 0".into(),
        input: None,
        ctx: Some(serde_json::json!({"min_length": 1, "actual_length": 0})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reports_every_error_at_once() {
        let m = map(json!({"numbers": [1, "x"], "extra": 1}));
        let mut a = Kwargs::new(&m);
        assert!(a.string("message").is_none());
        assert!(a.numbers("numbers").is_none());
        let errs = a.finish().expect_err("invalid");
        let kinds: Vec<_> = errs
            .iter()
            .map(|e| (e.kind.as_str(), e.loc.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("missing", vec![Loc::from("message")]),
                ("float_type", vec![Loc::from("numbers"), Loc::from(1usize)]),
                ("extra_forbidden", vec![Loc::from("extra")]),
            ]
        );
    }

    #[test]
    fn only_a_json_object_may_skip_the_value() {
        let raw = |codec, body: &[u8]| RawKwargs::json_object(codec, body).is_some();
        assert!(raw(Some(Codec::Json), b" {}"));
        assert!(raw(None, b"\n{\"a\": 1}"));
        for body in [&b""[..], b"  ", b"[]", b"\"x\"", b"null", b"\x81\xa1a\x01"] {
            assert!(!raw(None, body), "{body:?}");
        }
        assert!(!raw(Some(Codec::MsgPack), b"{}"));
    }

    #[test]
    fn accepts_valid_arguments() {
        let m = map(json!({"message": "hi", "numbers": [1, 2.5]}));
        let mut a = Kwargs::new(&m);
        assert_eq!(a.string("message"), Some("hi"));
        assert_eq!(a.numbers("numbers"), Some(vec![1.0, 2.5]));
        assert!(a.finish().is_ok());
    }
}
