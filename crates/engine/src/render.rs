//! Per-request bodies, subjects and headers from a task's templates, the
//! data rows users take, and the values they save from replies. Templates
//! were parsed when the scenario was loaded; here they are compiled once
//! per plan and rendered per request, into one buffer per body.

use bytes::Bytes;
use cliffload_metrics::Outcome;
use cliffload_payloads::template::{Field, JsonTemplate, Names, Scope, Template};
use cliffload_scenario::{
    Capture, Codec, DataSource, Exhausted, Payload as PayloadSource, Protocol, RowOrder, RowPer,
    Scenario, Task,
};
use rand::RngExt;
use rand::rngs::SmallRng;
use serde_json::Value;

use crate::plan::Payload;
use crate::run::EngineError;
use crate::transport::{Reply, sample_of};

/// How a templated task's requests are made.
#[derive(Debug)]
pub struct Render {
    body: Body,
    subject: Option<Template>,
    headers: Vec<(String, Template)>,
    /// Its templates read saved values.
    uses_vars: bool,
    /// Its templates read data rows.
    uses_rows: bool,
}

#[derive(Debug)]
enum Body {
    /// The same bytes every time (only the subject or headers vary).
    Fixed(Bytes),
    /// A JSON body, sent in this encoding.
    Json(JsonTemplate, Codec),
    /// A raw text body.
    Text(Template),
}

/// What the templates of `scenario` may name.
pub(crate) fn names_of(scenario: &Scenario) -> (Option<(String, Vec<String>)>, bool) {
    (
        scenario
            .data_file
            .as_ref()
            .map(|d| (d.table.origin.clone(), d.table.columns.clone())),
        scenario.arrival.is_none(),
    )
}

impl Render {
    /// Compiles `task`'s templates; `None` when it has none. `fixed` is its
    /// body when that is not a template.
    ///
    /// # Errors
    /// [`EngineError::Template`] if a template does not compile (the
    /// scenario was checked when it was loaded, so only a plan built by
    /// hand gets here).
    pub(crate) fn of(
        task: &Task,
        scenario: &Scenario,
        fixed: Option<&Payload>,
    ) -> Result<Option<Self>, EngineError> {
        if !task.is_templated() {
            return Ok(None);
        }
        let (data, users) = names_of(scenario);
        let names = Names {
            data: data.as_ref().map(|(o, c)| (o.as_str(), c.as_slice())),
            vars: &scenario.vars,
            users,
        };
        let error = |message: String| EngineError::Template {
            task: task.name.clone(),
            message,
        };
        let body = match (&task.payload, fixed) {
            (PayloadSource::Template(Value::String(text)), _)
                if task.request.protocol == Protocol::Raw =>
            {
                Body::Text(Template::parse(text, &names).map_err(error)?)
            }
            (PayloadSource::Template(v), _) => Body::Json(
                JsonTemplate::compile(v, &names).map_err(|es| {
                    error(
                        es.into_iter()
                            .map(|e| e.message)
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                })?,
                task.request.codec,
            ),
            (_, Some(p)) => Body::Fixed(p.body.clone()),
            (_, None) => Body::Fixed(Bytes::from_static(b"{}")),
        };
        let subject = cliffload_payloads::template::has_template(&task.request.subject)
            .then(|| Template::parse(&task.request.subject, &names))
            .transpose()
            .map_err(error)?;
        let headers: Vec<(String, Template)> = task
            .headers
            .iter()
            .map(|(k, v)| Ok((k.clone(), Template::parse(v, &names).map_err(error)?)))
            .collect::<Result<_, EngineError>>()?;
        let mut fields: Vec<&Field> = Vec::new();
        match &body {
            Body::Json(t, _) => fields.extend(t.fields().map(|(f, _)| f)),
            Body::Text(t) => fields.extend(t.fields()),
            Body::Fixed(_) => {}
        }
        fields.extend(subject.iter().flat_map(Template::fields));
        fields.extend(headers.iter().flat_map(|(_, t)| t.fields()));
        let uses_vars = fields.iter().any(|f| matches!(f, Field::Var(_)));
        let uses_rows = fields.iter().any(|f| matches!(f, Field::Row(_)));
        Ok(Some(Self {
            body,
            subject,
            headers,
            uses_vars,
            uses_rows,
        }))
    }

    /// Why this task gets no smoke call before the load, if it gets none:
    /// the values it reads are not there yet, or a smoke call would use up
    /// a row that must be used once.
    pub(crate) fn no_smoke(&self, scenario: &Scenario) -> Option<&'static str> {
        let unique = scenario
            .data_file
            .as_ref()
            .is_some_and(|d| d.order == RowOrder::Unique);
        if self.uses_vars {
            Some("it sends values saved from earlier replies")
        } else if self.uses_rows && unique {
            Some("it takes unique data rows")
        } else {
            None
        }
    }

    /// One request's body, subject and headers. `buf` is the user's
    /// scratch buffer (kept between requests, so a body costs one copy).
    pub(crate) fn render(&self, scope: &mut Scope<'_, SmallRng>, buf: &mut Vec<u8>) -> Payload {
        let body = match &self.body {
            Body::Fixed(b) => b.clone(),
            Body::Json(t, Codec::Json) => {
                t.render(scope, buf);
                // The buffer becomes the body (no copy); the next one is
                // made its size, so rendering into it never grows it.
                let next = Vec::with_capacity(buf.len() + 16);
                Bytes::from(std::mem::replace(buf, next))
            }
            Body::Json(t, codec) => {
                t.render(scope, buf);
                // MessagePack: rendered as JSON, then re-encoded (slower;
                // said in the docs).
                serde_json::from_slice::<Value>(buf)
                    .ok()
                    .and_then(|v| codec.encode(&v).ok())
                    .map_or_else(|| Bytes::copy_from_slice(buf), Bytes::from)
            }
            Body::Text(t) => {
                let mut s = String::new();
                t.render_text(scope, &mut s);
                Bytes::from(s)
            }
        };
        let subject = self.subject.as_ref().map(|t| {
            let mut s = String::new();
            t.render_text(scope, &mut s);
            s
        });
        let headers = (!self.headers.is_empty()).then(|| {
            self.headers
                .iter()
                .map(|(k, t)| {
                    let mut v = String::new();
                    t.render_text(scope, &mut v);
                    (k.clone(), v)
                })
                .collect()
        });
        Payload {
            body,
            injected: None,
            subject,
            headers,
        }
    }
}

/// One body of templated task `task`, rendered when the plan is made: its
/// smoke call's (user 0, the first data row, no saved values).
///
/// # Errors
/// [`EngineError::Template`], as [`Render::of`].
pub(crate) fn sample(task: &Task, scenario: &Scenario) -> Result<Payload, EngineError> {
    let Some(render) = Render::of(task, scenario, None)? else {
        return Ok(Payload::valid(Bytes::from_static(b"{}")));
    };
    let mut rng = <SmallRng as rand::SeedableRng>::seed_from_u64(scenario.seed);
    let vars = vec![Value::Null; scenario.vars.len()];
    let row = scenario
        .data_file
        .as_ref()
        .and_then(|d| d.table.rows.first());
    let mut scope = Scope::new(&mut rng, 0, 0, row.map(Vec::as_slice), &vars);
    Ok(render.render(&mut scope, &mut Vec::new()))
}

/// Which row a user takes next, or `None` when `unique` rows ran out and
/// the user must stop. `k` counts this worker's takes (its slot spaces
/// them over the run, so no two workers take the same number).
pub(crate) fn next_row(
    data: &DataSource,
    user: u32,
    k: u64,
    slot: crate::Slot,
    rng: &mut SmallRng,
) -> Option<usize> {
    let n = data.table.rows.len() as u64;
    let i = match (data.order, data.per) {
        (RowOrder::Random, _) => return Some(rng.random_range(0..n) as usize),
        (_, RowPer::User) => u64::from(user),
        (_, RowPer::Iteration) => slot.offset.saturating_add(k.saturating_mul(slot.stride)),
    };
    match data.order {
        RowOrder::Unique if i >= n && data.when_exhausted == Exhausted::Stop => None,
        _ => Some((i % n) as usize),
    }
}

/// Saves `captures` from a successful reply into `vars`. A value the reply
/// lacks turns the reply into `check_failed`, naming the value and the
/// path; returns false then.
pub(crate) fn capture(
    captures: &[Capture],
    names: &[String],
    reply: &mut Reply,
    vars: &mut [Value],
) -> bool {
    if reply.outcome != Outcome::Ok {
        return false;
    }
    let body = reply.body.as_deref().unwrap_or_default();
    let doc: Option<Value> = Codec::sniff(body).decode(body).ok();
    let mut missing = None;
    for c in captures {
        let found = doc.as_ref().and_then(|d| at_path(d, &c.path));
        match found {
            Some(v) if !v.is_null() => vars[c.var] = v.clone(),
            _ => {
                vars[c.var] = Value::Null;
                missing.get_or_insert(c);
            }
        }
    }
    let Some(c) = missing else { return true };
    let name = names.get(c.var).map_or("?", String::as_str);
    let why = if doc.is_none() {
        "the reply is not JSON or MessagePack"
    } else {
        "the reply has no value there"
    };
    reply.outcome = Outcome::CheckFailed;
    reply.detail = Some(format!("save {name}: nothing at {} ({why})", c.path));
    reply.sample = Some(sample_of(body));
    false
}

/// The value at a dot path (`result.items.0.id`: keys, and array indexes).
fn at_path<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(doc, |v, key| match v {
        Value::Object(o) => o.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_reaches_into_objects_and_arrays() {
        let doc = serde_json::json!({"result": {"items": [{"id": 7}]}});
        assert_eq!(at_path(&doc, "result.items.0.id"), Some(&Value::from(7)));
        assert_eq!(at_path(&doc, "result.items.1.id"), None);
        assert_eq!(at_path(&doc, "result.nope"), None);
    }

    #[test]
    fn a_missing_value_fails_the_step_naming_it() {
        let caps = [Capture {
            var: 0,
            path: "result.order_id".into(),
        }];
        let names = ["order_id".to_owned()];
        let mut vars = [Value::Null];
        let mut ok = Reply::from(Outcome::Ok);
        ok.body = Some(Bytes::from_static(
            br#"{"success":true,"result":{"order_id":"o-1"}}"#,
        ));
        assert!(capture(&caps, &names, &mut ok, &mut vars));
        assert_eq!(vars[0], "o-1");
        let mut wrong = Reply::from(Outcome::Ok);
        wrong.body = Some(Bytes::from_static(
            br#"{"success":true,"result":{"id":"o-2"}}"#,
        ));
        assert!(!capture(&caps, &names, &mut wrong, &mut vars));
        assert_eq!(wrong.outcome, Outcome::CheckFailed);
        let detail = wrong.detail.unwrap_or_default();
        assert!(
            detail.contains("save order_id: nothing at result.order_id"),
            "{detail}"
        );
        assert_eq!(vars[0], Value::Null, "a stale value is not kept");
    }
}
