//! Keyword-argument validation with pydantic's error shapes, so a refused
//! request reads like one refused by a real Cliffracer service.

use cliffload_protocol::{ErrorDetail, Loc};
use serde_json::{Map, Value};

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
    fn accepts_valid_arguments() {
        let m = map(json!({"message": "hi", "numbers": [1, 2.5]}));
        let mut a = Kwargs::new(&m);
        assert_eq!(a.string("message"), Some("hi"));
        assert_eq!(a.numbers("numbers"), Some(vec![1.0, 2.5]));
        assert!(a.finish().is_ok());
    }
}
