//! One way to talk to both databases: statements with `$1, $2, …`
//! placeholders (each used once, in order: SQLite numbers `$N` parameters
//! by first appearance, PostgreSQL by N), values of a few types, rows read
//! back as values.

use crate::error::Raw;

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

impl Val {
    pub(crate) fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            Val::Real(f) => *f as i64,
            Val::Bool(b) => i64::from(*b),
            _ => 0,
        }
    }

    pub(crate) fn real(&self) -> f64 {
        match self {
            Val::Real(f) => *f,
            Val::Int(i) => *i as f64,
            _ => 0.0,
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            Val::Text(t) => t.clone(),
            _ => String::new(),
        }
    }

    pub(crate) fn opt_text(&self) -> Option<String> {
        match self {
            Val::Text(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// SQLite keeps a boolean as 0 or 1.
    pub(crate) fn bool(&self) -> bool {
        match self {
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            _ => false,
        }
    }

    /// A count: negative values (none are written) read as 0.
    pub(crate) fn count(&self) -> u64 {
        u64::try_from(self.int()).unwrap_or(0)
    }
}

impl From<u64> for Val {
    fn from(v: u64) -> Self {
        Val::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Val::Null => ToSqlOutput::Owned(Value::Null),
            Val::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            Val::Real(f) => ToSqlOutput::Owned(Value::Real(*f)),
            Val::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Val::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Val::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
        })
    }
}

fn sqlite_val(v: rusqlite::types::ValueRef<'_>) -> Val {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(f) => Val::Real(f),
        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
    }
}

/// SQL NULL for a parameter of any type (an `Option<T>` is refused by a
/// column of another type than `T`'s).
#[derive(Debug)]
struct AnyNull;

impl postgres::types::ToSql for AnyNull {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        _: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(postgres::types::IsNull::Yes)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// The PostgreSQL value of `v`.
fn pg_param(v: &Val) -> Box<dyn postgres::types::ToSql + Sync + '_> {
    match v {
        Val::Null => Box::new(AnyNull),
        Val::Int(i) => Box::new(*i),
        Val::Real(f) => Box::new(*f),
        Val::Text(t) => Box::new(t.as_str()),
        Val::Bytes(b) => Box::new(b.as_slice()),
        Val::Bool(b) => Box::new(*b),
    }
}

fn pg_val(row: &postgres::Row, i: usize) -> Result<Val, postgres::Error> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    Ok(if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?
            .map_or(Val::Null, Val::Int)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map_or(Val::Null, |v| Val::Int(v.into()))
    } else if ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?
            .map_or(Val::Null, Val::Real)
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map_or(Val::Null, Val::Bool)
    } else if ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Val::Null, Val::Bytes)
    } else {
        row.try_get::<_, Option<String>>(i)?
            .map_or(Val::Null, Val::Text)
    })
}

/// A connection to either database.
pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

impl Conn {
    /// Statements without parameters, one after the other.
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), Raw> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql)?,
            Conn::Postgres(c) => c.batch_execute(sql)?,
        }
        Ok(())
    }

    /// One statement; returns the rows it changed.
    pub(crate) fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, Raw> {
        Ok(match self {
            Conn::Sqlite(c) => c.execute(sql, rusqlite::params_from_iter(params))? as u64,
            Conn::Postgres(c) => {
                let boxed: Vec<_> = params.iter().map(pg_param).collect();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| b.as_ref() as _).collect();
                c.execute(sql, &refs)?
            }
        })
    }

    /// The rows of a query, each as its columns' values.
    pub(crate) fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, Raw> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare(sql)?;
                let n = stmt.column_count();
                let rows = stmt.query_map(rusqlite::params_from_iter(params), |row| {
                    (0..n)
                        .map(|i| row.get_ref(i).map(sqlite_val))
                        .collect::<rusqlite::Result<Vec<Val>>>()
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Conn::Postgres(c) => {
                let boxed: Vec<_> = params.iter().map(pg_param).collect();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| b.as_ref() as _).collect();
                let rows = c.query(sql, &refs)?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    out.push(
                        (0..row.len())
                            .map(|i| pg_val(row, i))
                            .collect::<Result<Vec<Val>, _>>()?,
                    );
                }
                Ok(out)
            }
        }
    }

    /// `f` in one transaction: committed when it returns `Ok`, rolled back
    /// otherwise. On SQLite the write lock is taken at the start
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of failing midway.
    pub(crate) fn in_tx<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Raw>,
    ) -> Result<T, Raw> {
        let begin = match self {
            Conn::Sqlite(_) => "BEGIN IMMEDIATE",
            Conn::Postgres(_) => "BEGIN",
        };
        self.batch(begin)?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                // The first error is the one to report; a failed rollback
                // leaves nothing half-written (the connection is dropped).
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The column type of an auto-numbered id, and of bytes.
    pub(crate) fn dialect(&self) -> (&'static str, &'static str) {
        match self {
            Conn::Sqlite(_) => ("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"),
            Conn::Postgres(_) => ("BIGSERIAL PRIMARY KEY", "BYTEA"),
        }
    }
}
