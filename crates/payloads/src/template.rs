//! Templates in payloads, subjects and headers: `{{uuid}}`, `{{seq}}`,
//! `{{user}}`, `{{random_int 1 100}}`, `{{now}}`, `{{now_ms}}`,
//! `{{pick [a, b, c]}}`, fakes (`{{fake.email}}`), a data file's column
//! (`{{row.email}}`) and a value captured from an earlier reply
//! (`{{order_id}}`).
//!
//! A template is parsed and checked once, when the scenario is loaded, into
//! parts; a request renders the parts into bytes without parsing anything.
//! A JSON body is compiled into segments of pre-encoded JSON between the
//! fields, so a request writes literal bytes and a few values. A string that
//! is one whole field keeps the field's JSON type (`"{{seq}}"` is a number);
//! `| string` and `| number` ask for one.

use std::fmt::Write as _;

use fake::Fake;
use rand::RngExt;
use serde_json::Value;

/// What templates may name, beside the built-in fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct Names<'a> {
    /// The data file's name and columns, when the scenario has one.
    pub data: Option<(&'a str, &'a [String])>,
    /// Values captured from replies (`save:`), by slot.
    pub vars: &'a [String],
    /// Whether requests belong to a virtual user (`{{user}}`): not in the open model.
    pub users: bool,
}

/// One value a template fills in.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A random (v4) UUID.
    Uuid,
    /// The request's number, unique in the run (across threads and workers).
    Seq,
    /// The virtual user's number.
    User,
    /// A whole number in `[lo, hi]`.
    RandomInt(i64, i64),
    /// The time of the request, RFC 3339 (UTC, milliseconds).
    Now,
    /// The time of the request, milliseconds since the Unix epoch.
    NowMs,
    /// One of these values, each equally often.
    Pick(Vec<Value>),
    /// A realistic fake.
    Fake(FakeKind),
    /// Column `n` of the data row.
    Row(usize),
    /// Captured value number `n`.
    Var(usize),
}

/// The fakes a template offers (from the `fake` crate, English locale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeKind {
    /// `Jane Doe`.
    Name,
    /// `Jane`.
    FirstName,
    /// `Doe`.
    LastName,
    /// `jane@example.com` (a reserved domain: never a real address).
    Email,
    /// `555-0134`.
    Phone,
    /// `12 Main Street`.
    Street,
    /// `Springfield`.
    City,
    /// `US`-style state abbreviation.
    State,
    /// `12345`.
    Zip,
    /// `Acme Inc`.
    Company,
    /// One lorem word.
    Word,
    /// A user name.
    Username,
}

impl FakeKind {
    const ALL: [(&'static str, FakeKind); 12] = [
        ("name", FakeKind::Name),
        ("first_name", FakeKind::FirstName),
        ("last_name", FakeKind::LastName),
        ("email", FakeKind::Email),
        ("phone", FakeKind::Phone),
        ("street", FakeKind::Street),
        ("city", FakeKind::City),
        ("state", FakeKind::State),
        ("zip", FakeKind::Zip),
        ("company", FakeKind::Company),
        ("word", FakeKind::Word),
        ("username", FakeKind::Username),
    ];

    fn generate(self, rng: &mut impl rand::Rng) -> String {
        use fake::faker::address::en::{CityName, StateAbbr, StreetName, ZipCode};
        use fake::faker::company::en::CompanyName;
        use fake::faker::internet::en::{SafeEmail, Username};
        use fake::faker::lorem::en::Word;
        use fake::faker::name::en::{FirstName, LastName, Name};
        use fake::faker::phone_number::en::PhoneNumber;
        match self {
            FakeKind::Name => Name().fake_with_rng(rng),
            FakeKind::FirstName => FirstName().fake_with_rng(rng),
            FakeKind::LastName => LastName().fake_with_rng(rng),
            FakeKind::Email => SafeEmail().fake_with_rng(rng),
            FakeKind::Phone => PhoneNumber().fake_with_rng(rng),
            FakeKind::Street => {
                let n: u16 = (1..9999).fake_with_rng(rng);
                let s: String = StreetName().fake_with_rng(rng);
                format!("{n} {s}")
            }
            FakeKind::City => CityName().fake_with_rng(rng),
            FakeKind::State => StateAbbr().fake_with_rng(rng),
            FakeKind::Zip => ZipCode().fake_with_rng(rng),
            FakeKind::Company => CompanyName().fake_with_rng(rng),
            FakeKind::Word => Word().fake_with_rng(rng),
            FakeKind::Username => Username().fake_with_rng(rng),
        }
    }
}

/// How a whole-value field is typed in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    /// The field's own type (a number for `seq`, text for `uuid`).
    #[default]
    Natural,
    /// Always a JSON string (`{{seq | string}}`).
    String,
    /// Always a JSON number (`{{row.age | number}}`; a data column is
    /// checked to hold numbers when the file is read).
    Number,
}

/// A piece of a template string.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text as written.
    Lit(String),
    /// A value filled in per request.
    Field(Field, Filter),
}

/// A parsed template string: text and fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

/// Whether `text` holds a template (`{{`).
pub fn has_template(text: &str) -> bool {
    text.contains("{{")
}

/// Whether any string in `value` holds a template.
pub fn value_has_template(value: &Value) -> bool {
    match value {
        Value::String(s) => has_template(s),
        Value::Array(a) => a.iter().any(value_has_template),
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| has_template(k) || value_has_template(v)),
        _ => false,
    }
}

impl Template {
    /// Parses `text`. The error says what is wrong and what is allowed.
    ///
    /// # Errors
    /// An unclosed `{{`, an unknown name (with the closest known one), bad
    /// arguments, a column the data file lacks.
    pub fn parse(text: &str, names: &Names<'_>) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Lit(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!("{{{{ without a closing }}}} in {text:?}: write {{{{name}}}}")
            })?;
            let (field, filter) = parse_field(after[..close].trim(), names)?;
            parts.push(Part::Field(field, filter));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The parts.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The one field the template is, when it is nothing else.
    fn whole(&self) -> Option<(&Field, Filter)> {
        match self.parts.as_slice() {
            [Part::Field(f, filter)] => Some((f, *filter)),
            _ => None,
        }
    }

    /// Renders as plain text (a subject, a header, a raw body).
    pub fn render_text<R: rand::Rng>(&self, scope: &mut Scope<'_, R>, out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Lit(t) => out.push_str(t),
                Part::Field(f, _) => scope.write_text(f, out),
            }
        }
    }

    /// The fields it uses.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(f, _) => Some(f),
            Part::Lit(_) => None,
        })
    }
}

const NAMES: [&str; 7] = ["uuid", "seq", "user", "random_int", "now", "now_ms", "pick"];

fn parse_field(expr: &str, names: &Names<'_>) -> Result<(Field, Filter), String> {
    let (expr, filter) = match expr.split_once('|') {
        None => (expr, Filter::Natural),
        Some((e, f)) => (
            e.trim(),
            match f.trim() {
                "string" => Filter::String,
                "number" => Filter::Number,
                other => {
                    return Err(format!(
                        "{{{{{expr}}}}}: unknown filter {other:?}; `| string` or `| number`"
                    ));
                }
            },
        ),
    };
    let (name, args) = match expr.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (expr, ""),
    };
    let no_args = |f: Field| {
        if args.is_empty() {
            Ok(f)
        } else {
            Err(format!("{{{{{name}}}}} takes no arguments, got {args:?}"))
        }
    };
    let field = match name {
        "" => return Err("{{}} names nothing: write a field such as {{uuid}}".to_owned()),
        "uuid" => no_args(Field::Uuid)?,
        "seq" => no_args(Field::Seq)?,
        "user" if !names.users => {
            return Err(
                "{{user}} needs virtual users, and the open model (arrival_rate) has none: use {{seq}}"
                    .to_owned(),
            );
        }
        "user" => no_args(Field::User)?,
        "now" => no_args(Field::Now)?,
        "now_ms" => no_args(Field::NowMs)?,
        "random_int" => random_int(args)?,
        "pick" => pick(args)?,
        _ if name.starts_with("fake.") => no_args(fake_field(&name[5..])?)?,
        _ if name.starts_with("row.") => no_args(row_field(&name[4..], names)?)?,
        _ => match names.vars.iter().position(|v| v == name) {
            Some(i) => no_args(Field::Var(i))?,
            None => return Err(unknown_name(name, names)),
        },
    };
    if filter == Filter::Number && matches!(field, Field::Uuid | Field::Now | Field::Fake(_)) {
        return Err(format!(
            "{{{{{expr} | number}}}}: {name} is text, not a number"
        ));
    }
    Ok((field, filter))
}

fn unknown_name(name: &str, names: &Names<'_>) -> String {
    let mut known: Vec<String> = NAMES.iter().map(|s| (*s).to_owned()).collect();
    known.extend(FakeKind::ALL.map(|(n, _)| format!("fake.{n}")));
    known.extend(names.vars.iter().cloned());
    if let Some((_, cols)) = names.data {
        known.extend(cols.iter().map(|c| format!("row.{c}")));
    }
    let hint = known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!("; did you mean {{{{{k}}}}}?"))
        .unwrap_or_default();
    let vars = if names.vars.is_empty() {
        String::new()
    } else {
        format!(", a saved value ({})", names.vars.join(", "))
    };
    format!(
        "unknown template field {{{{{name}}}}}{hint}; one of uuid, seq, user, random_int MIN MAX, now, now_ms, pick [a, b], fake.NAME ({}), row.COLUMN (with data:){vars}",
        FakeKind::ALL.map(|(n, _)| n).join(", ")
    )
}

fn random_int(args: &str) -> Result<Field, String> {
    let nums: Vec<&str> = args.split_whitespace().collect();
    let parsed: Option<Vec<i64>> = nums.iter().map(|n| n.parse().ok()).collect();
    match parsed.as_deref() {
        Some([lo, hi]) if lo <= hi => Ok(Field::RandomInt(*lo, *hi)),
        Some([lo, hi]) => Err(format!(
            "{{{{random_int {lo} {hi}}}}}: min {lo} is above max {hi}"
        )),
        _ => Err(format!(
            "{{{{random_int {args}}}}}: give two whole numbers, e.g. {{{{random_int 1 100}}}}"
        )),
    }
}

fn pick(args: &str) -> Result<Field, String> {
    // The list is YAML flow syntax, read as JSON where it can be: numbers
    // stay numbers; bare words are text.
    let inner = args
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .ok_or_else(|| format!("{{{{pick {args}}}}}: give a list, e.g. {{{{pick [a, b, c]}}}}"))?;
    let values: Vec<Value> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_str::<Value>(s)
                .ok()
                .filter(|v| !v.is_object() && !v.is_array())
                .unwrap_or_else(|| Value::String(s.trim_matches(['\'', '"']).to_owned()))
        })
        .collect();
    if values.is_empty() {
        return Err("{{pick []}}: the list is empty".to_owned());
    }
    Ok(Field::Pick(values))
}

fn fake_field(kind: &str) -> Result<Field, String> {
    FakeKind::ALL
        .iter()
        .find(|(n, _)| *n == kind)
        .map(|(_, k)| Field::Fake(*k))
        .ok_or_else(|| {
            format!(
                "unknown fake {{{{fake.{kind}}}}}; one of {}",
                FakeKind::ALL.map(|(n, _)| n).join(", ")
            )
        })
}

fn row_field(column: &str, names: &Names<'_>) -> Result<Field, String> {
    let Some((file, cols)) = names.data else {
        return Err(format!(
            "{{{{row.{column}}}}} needs a data file: add data: {{file: rows.csv}} to the scenario"
        ));
    };
    cols.iter()
        .position(|c| c == column)
        .map(Field::Row)
        .ok_or_else(|| {
            format!(
                "{{{{row.{column}}}}}: {file} has no column {column:?} (its columns: {})",
                cols.join(", ")
            )
        })
}

/// What a request's fields are filled from.
#[derive(Debug)]
pub struct Scope<'a, R> {
    /// The user's random numbers.
    pub rng: &'a mut R,
    /// The request's number, unique in the run.
    pub seq: u64,
    /// The virtual user's number.
    pub user: u32,
    /// The data row, when there is one.
    pub row: Option<&'a [Value]>,
    /// Captured values, by slot (`Null` when not captured).
    pub vars: &'a [Value],
    /// The request's time, read once.
    now: Option<jiff::Timestamp>,
}

impl<'a, R: rand::Rng> Scope<'a, R> {
    /// A scope for one request.
    pub fn new(
        rng: &'a mut R,
        seq: u64,
        user: u32,
        row: Option<&'a [Value]>,
        vars: &'a [Value],
    ) -> Self {
        Self {
            rng,
            seq,
            user,
            row,
            vars,
            now: None,
        }
    }

    fn now(&mut self) -> jiff::Timestamp {
        *self.now.get_or_insert_with(jiff::Timestamp::now)
    }

    fn value<'v>(&'v self, field: &Field) -> &'v Value {
        match field {
            Field::Row(i) => self.row.and_then(|r| r.get(*i)).unwrap_or(&Value::Null),
            Field::Var(i) => self.vars.get(*i).unwrap_or(&Value::Null),
            _ => &Value::Null,
        }
    }

    /// Writes a field as text: strings without quotes, other values as JSON.
    fn write_text(&mut self, field: &Field, out: &mut String) {
        match field {
            Field::Uuid => {
                let bytes: [u8; 16] = self.rng.random();
                let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
                let mut buf = uuid::Uuid::encode_buffer();
                out.push_str(id.hyphenated().encode_lower(&mut buf));
            }
            Field::Seq => {
                let _ = write!(out, "{}", self.seq);
            }
            Field::User => {
                let _ = write!(out, "{}", self.user);
            }
            Field::RandomInt(lo, hi) => {
                let n = self.rng.random_range(*lo..=*hi);
                let _ = write!(out, "{n}");
            }
            Field::Now => {
                let t = self.now();
                let _ = write!(out, "{t:.3}");
            }
            Field::NowMs => {
                let ms = self.now().as_millisecond();
                let _ = write!(out, "{ms}");
            }
            Field::Pick(values) => {
                let v = &values[self.rng.random_range(0..values.len())];
                push_value_text(v, out);
            }
            Field::Fake(k) => out.push_str(&k.generate(self.rng)),
            Field::Row(_) | Field::Var(_) => push_value_text(self.value(field), out),
        }
    }

    /// Whether a field is written as a JSON number when it stands alone.
    fn is_number(&self, field: &Field) -> bool {
        match field {
            Field::Seq | Field::User | Field::RandomInt(..) | Field::NowMs => true,
            Field::Uuid | Field::Now | Field::Fake(_) | Field::Pick(_) => false,
            Field::Row(_) | Field::Var(_) => self.value(field).is_number(),
        }
    }

    /// Writes the text of a field that never needs escaping (a number, a
    /// UUID) straight into `out`, with no formatting machinery or temporary
    /// string: the fields most bodies hold. False for any other field.
    fn write_plain(&mut self, field: &Field, out: &mut Vec<u8>) -> bool {
        let mut n = itoa::Buffer::new();
        match field {
            Field::Seq => out.extend_from_slice(n.format(self.seq).as_bytes()),
            Field::User => out.extend_from_slice(n.format(self.user).as_bytes()),
            Field::RandomInt(lo, hi) => {
                let v = self.rng.random_range(*lo..=*hi);
                out.extend_from_slice(n.format(v).as_bytes());
            }
            Field::NowMs => {
                let ms = self.now().as_millisecond();
                out.extend_from_slice(n.format(ms).as_bytes());
            }
            Field::Uuid => {
                let bytes: [u8; 16] = self.rng.random();
                let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
                let mut buf = uuid::Uuid::encode_buffer();
                out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
            }
            _ => return false,
        }
        true
    }

    /// Writes a field inside a JSON string: its text, escaped.
    fn write_in_string(&mut self, field: &Field, text: &mut String, out: &mut Vec<u8>) {
        if !self.write_plain(field, out) {
            text.clear();
            self.write_text(field, text);
            escape_into(text, out);
        }
    }

    /// Writes a field that is a whole JSON value.
    fn write_json(&mut self, field: &Field, filter: Filter, out: &mut Vec<u8>) {
        let plain_number = matches!(
            field,
            Field::Seq | Field::User | Field::RandomInt(..) | Field::NowMs
        );
        match (field, filter) {
            // A picked, captured or JSONL value keeps its own type (an
            // object stays an object).
            (Field::Pick(values), Filter::Natural) => {
                let v = &values[self.rng.random_range(0..values.len())];
                let _ = serde_json::to_writer(&mut *out, v);
            }
            (Field::Row(_) | Field::Var(_), Filter::Natural) => match self.value(field) {
                Value::String(text) => {
                    out.push(b'"');
                    escape_into(text, out);
                    out.push(b'"');
                }
                other => {
                    let _ = serde_json::to_writer(&mut *out, other);
                }
            },
            (_, Filter::Natural | Filter::Number) if plain_number => {
                self.write_plain(field, out);
            }
            (_, Filter::Number) => {
                let mut text = String::new();
                self.write_text(field, &mut text);
                // Checked to be a number when loaded; a captured value that
                // is not one is sent as null rather than as broken JSON.
                if serde_json::from_str::<serde_json::Number>(&text).is_ok() {
                    out.extend_from_slice(text.as_bytes());
                } else {
                    out.extend_from_slice(b"null");
                }
            }
            (_, Filter::Natural) if self.is_number(field) => {
                let mut text = String::new();
                self.write_text(field, &mut text);
                out.extend_from_slice(text.as_bytes());
            }
            _ => {
                out.push(b'"');
                self.write_in_string(field, &mut String::new(), out);
                out.push(b'"');
            }
        }
    }
}

fn push_value_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        other => out.push_str(&other.to_string()),
    }
}

/// `text` as the inside of a JSON string.
fn escape_into(text: &str, out: &mut Vec<u8>) {
    // Most text (names, addresses, words) needs no escaping: one copy.
    if !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = std::io::Write::write_fmt(out, format_args!("\\u{:04x}", c as u32));
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// A JSON body with templates, compiled: encoded JSON between fields.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonTemplate {
    segs: Vec<Seg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    /// Encoded JSON, as is.
    Lit(Vec<u8>),
    /// A field that is a whole value.
    Whole(Field, Filter),
    /// A field inside a JSON string (its text, escaped).
    InString(Field),
}

/// A template's error inside a JSON value: the path to the string
/// (`customer.email`, `items.0`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Dot path inside the value (empty: the value itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl JsonTemplate {
    /// Compiles `value`, whose strings may hold templates. Object keys are
    /// sent as written.
    ///
    /// # Errors
    /// Each template that does not parse, with its path: all of them.
    pub fn compile(value: &Value, names: &Names<'_>) -> Result<Self, Vec<TemplateError>> {
        let mut c = Compiler {
            segs: Vec::new(),
            lit: Vec::new(),
            errors: Vec::new(),
            names,
        };
        c.value(value, "");
        if !c.errors.is_empty() {
            return Err(c.errors);
        }
        c.flush();
        Ok(Self { segs: c.segs })
    }

    /// The fields it uses.
    pub fn fields(&self) -> impl Iterator<Item = (&Field, Filter)> {
        self.segs.iter().filter_map(|s| match s {
            Seg::Whole(f, filter) => Some((f, *filter)),
            Seg::InString(f) => Some((f, Filter::String)),
            Seg::Lit(_) => None,
        })
    }

    /// Renders one body into `out` (cleared first).
    pub fn render<R: rand::Rng>(&self, scope: &mut Scope<'_, R>, out: &mut Vec<u8>) {
        out.clear();
        let mut text = String::new();
        for s in &self.segs {
            match s {
                Seg::Lit(b) => out.extend_from_slice(b),
                Seg::Whole(f, filter) => scope.write_json(f, *filter, out),
                Seg::InString(f) => scope.write_in_string(f, &mut text, out),
            }
        }
    }
}

struct Compiler<'n, 'a> {
    segs: Vec<Seg>,
    lit: Vec<u8>,
    errors: Vec<TemplateError>,
    names: &'n Names<'a>,
}

impl Compiler<'_, '_> {
    fn flush(&mut self) {
        if !self.lit.is_empty() {
            self.segs.push(Seg::Lit(std::mem::take(&mut self.lit)));
        }
    }

    fn value(&mut self, v: &Value, path: &str) {
        match v {
            Value::String(s) if has_template(s) => self.string(s, path),
            Value::Array(a) => {
                self.lit.push(b'[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        self.lit.push(b',');
                    }
                    self.value(x, &join(path, &i.to_string()));
                }
                self.lit.push(b']');
            }
            Value::Object(o) => {
                self.lit.push(b'{');
                for (i, (k, x)) in o.iter().enumerate() {
                    if i > 0 {
                        self.lit.push(b',');
                    }
                    let _ = serde_json::to_writer(&mut self.lit, k);
                    self.lit.push(b':');
                    self.value(x, &join(path, k));
                }
                self.lit.push(b'}');
            }
            other => {
                let _ = serde_json::to_writer(&mut self.lit, other);
            }
        }
    }

    fn string(&mut self, s: &str, path: &str) {
        let t = match Template::parse(s, self.names) {
            Ok(t) => t,
            Err(message) => {
                self.errors.push(TemplateError {
                    path: path.to_owned(),
                    message,
                });
                return;
            }
        };
        if let Some((f, filter)) = t.whole() {
            self.flush();
            self.segs.push(Seg::Whole(f.clone(), filter));
            return;
        }
        self.lit.push(b'"');
        for p in t.parts {
            match p {
                Part::Lit(text) => escape_into(&text, &mut self.lit),
                Part::Field(f, _) => {
                    self.flush();
                    self.segs.push(Seg::InString(f));
                }
            }
        }
        self.lit.push(b'"');
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests;
