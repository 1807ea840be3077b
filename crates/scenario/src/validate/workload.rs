//! Your own workload: templates in a task's body, subject and headers, the
//! data file they read rows from, the values tasks save from replies, and
//! flows (a class's tasks in order). Checked once here; rendered by the
//! engine per request.

use std::path::Path;
use std::sync::Arc;

use cliffload_payloads::template::{Field, JsonTemplate, Names, Template, has_template};
use cliffload_payloads::{DataFormat, DataTable};

use super::*;
use crate::{Capture, DataSource, Exhausted, Payload, Protocol, RowOrder, RowPer};

/// The largest data file read (rows travel with a distributed plan too).
pub const MAX_DATA_BYTES: u64 = 64 << 20;

/// Built-in template names a saved value may not take.
const RESERVED: [&str; 7] = ["uuid", "seq", "user", "random_int", "now", "now_ms", "pick"];

/// `data:`: the file read (relative to the scenario file's folder) and how
/// rows are taken.
fn data_of(
    name: &str,
    raw: Option<&RawData>,
    base: &Path,
    open_model: bool,
) -> Result<Option<DataSource>, ConfigError> {
    let Some(d) = raw else { return Ok(None) };
    let path = scenario::key(name, "data.file");
    let format = DataFormat::of(&d.file).ok_or_else(|| {
        invalid(
            &path,
            format!(
                "{:?}: a data file is CSV (.csv, with a header row) or JSON Lines (.jsonl)",
                d.file
            ),
        )
    })?;
    let full = base.join(&d.file);
    let text = crate::read_bounded(&full, MAX_DATA_BYTES, "a data file", "a CSV or JSONL file")
        .map_err(|m| invalid(&path, format!("{}: {m}", full.display())))?;
    let table = DataTable::parse(&text, format, &d.file)
        .map_err(|m| invalid(&path, format!("{}: {m}", d.file)))?;
    let per = d.per.unwrap_or_default();
    if open_model && per == RowPer::User {
        return Err(invalid(
            scenario::key(name, "data.per"),
            "the open model (arrival_rate) has no users to keep a row: use per: iteration",
        ));
    }
    let order = d.order.unwrap_or_default();
    if d.when_exhausted.is_some() && order != RowOrder::Unique {
        return Err(invalid(
            scenario::key(name, "data.when_exhausted"),
            "applies to order: unique only (the other orders never run out)",
        ));
    }
    Ok(Some(DataSource {
        table: Arc::new(table),
        order,
        per,
        when_exhausted: d.when_exhausted.unwrap_or(Exhausted::Stop),
    }))
}

/// A scenario's data file and the names of the values its tasks save
/// (`tasks`: every task it runs, with its key path); each mistake is kept
/// in `errors`. `base` is the folder data files are found from.
pub(super) fn inputs_of<'a>(
    name: &str,
    raw: &RawScenario,
    tasks: impl Iterator<Item = (String, &'a RawTask)>,
    (base, open_model): (&Path, bool),
    errors: &mut Vec<ConfigError>,
) -> (Option<DataSource>, Vec<String>) {
    let data_file = keep(data_of(name, raw.data.as_ref(), base, open_model), errors).flatten();
    let vars = keep(vars_of(tasks), errors).unwrap_or_default();
    if open_model && !vars.is_empty() {
        errors.push(invalid(
            scenario::key(name, "arrival_rate"),
            format!(
                "tasks save values ({}) for later requests, but in the open model each arrival is on its own: use users (the closed model)",
                vars.join(", ")
            ),
        ));
    }
    (data_file, vars)
}

/// The names every `save:` of the scenario's tasks gives, in order of first
/// appearance: templates refer to them by position.
fn vars_of<'a>(
    tasks: impl Iterator<Item = (String, &'a RawTask)>,
) -> Result<Vec<String>, ConfigError> {
    let mut vars: Vec<String> = Vec::new();
    for (path, t) in tasks {
        for (var, at) in t.save.iter().flatten() {
            let vpath = format!("{path}.save.{var}");
            let ident = var
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ident {
                return Err(invalid(
                    vpath,
                    "a saved value's name is letters, digits and _ (e.g. order_id)",
                ));
            }
            if RESERVED.contains(&var.as_str()) {
                return Err(invalid(
                    vpath,
                    format!("{var:?} is a built-in template field; choose another name"),
                ));
            }
            if at.split('.').any(str::is_empty) {
                return Err(invalid(
                    vpath,
                    format!(
                        "{at:?} is not a path into the reply: keys separated by single dots, e.g. result.order_id"
                    ),
                ));
            }
            if !vars.contains(var) {
                vars.push(var.clone());
            }
        }
    }
    Ok(vars)
}

/// A task's `save:` as slots.
pub(super) fn captures(raw: &RawTask, vars: &[String]) -> Vec<Capture> {
    raw.save
        .iter()
        .flatten()
        .filter_map(|(var, path)| {
            Some(Capture {
                var: vars.iter().position(|v| v == var)?,
                path: path.clone(),
            })
        })
        .collect()
}

/// A task's templated body, subject and headers, checked: the body (as
/// the task sends it), its own headers, and the saved values its templates
/// read (by slot).
pub(super) struct Checked {
    pub payload: Payload,
    pub headers: Vec<(String, String)>,
    pub uses: Vec<usize>,
}

/// Checks the templates of a task whose body is `payload` (before any
/// `arg` wrapping: error paths are the file's).
pub(super) fn templates(
    path: &str,
    raw: &RawTask,
    payload: Payload,
    names: &Names<'_>,
) -> Result<Checked, ConfigError> {
    let mut errors = Vec::new();
    let mut uses = Vec::new();
    let mut note = |fields: &mut dyn Iterator<Item = &Field>| {
        for f in fields {
            if let Field::Var(i) = f
                && !uses.contains(i)
            {
                uses.push(*i);
            }
        }
    };
    let payload = match (&raw.payload, payload) {
        (Some(v), Payload::Static(body)) if cliffload_payloads::template::value_has_template(v) => {
            if raw.protocol == Some(Protocol::Raw)
                && let serde_json::Value::String(text) = v
            {
                match Template::parse(text, names) {
                    Ok(t) => note(&mut t.fields()),
                    Err(m) => errors.push(invalid(format!("{path}.payload"), m)),
                }
            } else {
                match JsonTemplate::compile(v, names) {
                    Ok(t) => note(&mut t.fields().map(|(f, _)| f)),
                    Err(es) => errors.extend(es.into_iter().map(|e| {
                        let at = if e.path.is_empty() {
                            format!("{path}.payload")
                        } else {
                            format!("{path}.payload.{}", e.path)
                        };
                        invalid(at, e.message)
                    })),
                }
            }
            Payload::Template(body)
        }
        (_, p) => p,
    };
    let subject_path = format!("{path}.subject");
    if let Some(s) = raw.subject.as_deref().filter(|s| has_template(s)) {
        match Template::parse(s, names) {
            Ok(t) => note(&mut t.fields()),
            Err(m) => errors.push(invalid(&subject_path, m)),
        }
    }
    let headers = own_headers(path, raw, names, &mut errors, &mut note);
    if let Some(e) = ConfigError::all(errors) {
        return Err(e);
    }
    Ok(Checked {
        payload,
        headers,
        uses,
    })
}

/// A task's own headers (`headers: {Name: value}`), their values checked
/// as templates; each mistake kept in `errors`, each field read passed to `note`.
fn own_headers(
    path: &str,
    raw: &RawTask,
    names: &Names<'_>,
    errors: &mut Vec<ConfigError>,
    note: &mut dyn FnMut(&mut dyn Iterator<Item = &Field>),
) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if let Some(RawHeaders::Own(map)) = &raw.headers {
        for (name, value) in map {
            let hpath = format!("{path}.headers.{name}");
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b':' && b != b'"');
            if !token {
                errors.push(invalid(
                    &hpath,
                    "a header name is printable ASCII without spaces or colons (e.g. X-Tenant)",
                ));
                continue;
            }
            match Template::parse(value, names) {
                Ok(t) => note(&mut t.fields()),
                Err(m) => errors.push(invalid(&hpath, m)),
            }
            if value.contains(['\r', '\n']) {
                errors.push(invalid(&hpath, "a header value is one line"));
            }
            headers.push((name.clone(), value.clone()));
        }
    }
    headers
}

/// A subject with templates, checked as a subject with each field as one
/// token's worth of text.
pub(super) fn subject_shape(subject: &str) -> String {
    let mut out = String::new();
    let mut rest = subject;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        out.push('x');
        rest = match rest[open..].find("}}") {
            Some(close) => &rest[open + close + 2..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The saved values a task reads that nothing before it saves: in a flow,
/// an earlier step; otherwise, any task of its class.
pub(super) fn check_uses(
    path: &str,
    flow: bool,
    steps: &[(Vec<usize>, Vec<Capture>)],
    vars: &[String],
) -> Result<(), ConfigError> {
    for (i, (uses, _)) in steps.iter().enumerate() {
        let before: Vec<usize> = if flow {
            steps[..i]
                .iter()
                .flat_map(|(_, c)| c.iter().map(|c| c.var))
                .collect()
        } else {
            steps
                .iter()
                .flat_map(|(_, c)| c.iter().map(|c| c.var))
                .collect()
        };
        if let Some(missing) = uses.iter().find(|u| !before.contains(u)) {
            let var = &vars[*missing];
            let why = if flow {
                "no earlier step of this flow saves it (save: {NAME: path.in.reply})"
            } else {
                "no task of this user class saves it (save: {NAME: path.in.reply})"
            };
            return Err(invalid(
                format!("{path}.tasks[{i}]"),
                format!("uses {{{{{var}}}}}, but {why}"),
            ));
        }
    }
    Ok(())
}
