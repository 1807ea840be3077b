//! Data files: rows that templates read as `{{row.COLUMN}}`. A CSV file
//! with a header row (every cell is text), or JSON Lines (one object per
//! line; values keep their JSON type, a key missing from a row is `null`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The rows of a data file, read once before the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataTable {
    /// The file, as the scenario names it (for messages).
    pub origin: String,
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// The rows, each with one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// The format of a data file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// `.csv`: a header row, then rows of text.
    Csv,
    /// `.jsonl` / `.ndjson`: one JSON object per line.
    JsonLines,
}

impl DataFormat {
    /// The format a file name's extension says, if it says one.
    pub fn of(path: &str) -> Option<Self> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Self::Csv)
        } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(Self::JsonLines)
        } else {
            None
        }
    }
}

impl DataTable {
    /// Parses a data file's text.
    ///
    /// # Errors
    /// What is wrong and where (line numbers count from 1): no rows, a
    /// malformed line, a row with a different number of cells.
    pub fn parse(text: &str, format: DataFormat, origin: &str) -> Result<Self, String> {
        let table = match format {
            DataFormat::Csv => Self::csv(text, origin)?,
            DataFormat::JsonLines => Self::json_lines(text, origin)?,
        };
        if table.rows.is_empty() {
            return Err("has no rows: a data file needs at least one".to_owned());
        }
        Ok(table)
    }

    fn csv(text: &str, origin: &str) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::Headers)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| format!("cannot read the header row: {e}"))?
            .iter()
            .map(str::to_owned)
            .collect();
        if columns.iter().all(String::is_empty) {
            return Err("has no header row: the first line names the columns".to_owned());
        }
        if let Some(dup) = columns
            .iter()
            .enumerate()
            .find(|(i, c)| columns[..*i].contains(c))
        {
            return Err(format!("names column {:?} twice", dup.1));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| match e.position() {
                Some(p) => format!("line {}: {e}", p.line()),
                None => e.to_string(),
            })?;
            rows.push(
                record
                    .iter()
                    .map(|cell| Value::String(cell.to_owned()))
                    .collect(),
            );
        }
        Ok(Self {
            origin: origin.to_owned(),
            columns,
            rows,
        })
    }

    fn json_lines(text: &str, origin: &str) -> Result<Self, String> {
        let mut objects = Vec::new();
        let mut columns: Vec<String> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", i + 1))?;
            let Value::Object(o) = value else {
                return Err(format!(
                    "line {}: a JSON Lines data file holds one object per line",
                    i + 1
                ));
            };
            for k in o.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
            objects.push(o);
        }
        let rows = objects
            .into_iter()
            .map(|mut o| {
                columns
                    .iter()
                    .map(|c| o.remove(c).unwrap_or(Value::Null))
                    .collect()
            })
            .collect();
        Ok(Self {
            origin: origin.to_owned(),
            columns,
            rows,
        })
    }

    /// The position of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The first row (1-based, after the header for CSV) whose cell in
    /// `column` is not a JSON number, with the cell: for `| number`.
    pub fn first_non_number(&self, column: usize) -> Option<(usize, &Value)> {
        self.rows.iter().enumerate().find_map(|(i, r)| {
            let v = r.get(column)?;
            let ok = match v {
                Value::Number(_) => true,
                Value::String(s) => serde_json::from_str::<serde_json::Number>(s).is_ok(),
                _ => false,
            };
            (!ok).then_some((i + 1, v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_file_is_its_header_and_rows_of_text() {
        let t = DataTable::parse(
            "email, age\na@example.com,31\n\"b,c@example.com\",40\n",
            DataFormat::Csv,
            "c.csv",
        )
        .expect("parses");
        assert_eq!(t.columns, ["email", "age"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1][0], "b,c@example.com");
        assert_eq!(t.rows[0][1], "31", "CSV cells are text");
        assert_eq!(t.first_non_number(1), None);
        assert_eq!(t.first_non_number(0).map(|(r, _)| r), Some(1));
    }

    #[test]
    fn a_ragged_or_empty_csv_file_is_refused_with_its_line() {
        let e = DataTable::parse("a,b\n1,2\n3\n", DataFormat::Csv, "c.csv").expect_err("ragged");
        assert!(e.contains("line 3"), "{e}");
        let e = DataTable::parse("a,b\n", DataFormat::Csv, "c.csv").expect_err("no rows");
        assert!(e.contains("no rows"), "{e}");
        let e = DataTable::parse("a,a\n1,2\n", DataFormat::Csv, "c.csv").expect_err("dup");
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn json_lines_keep_their_types_and_missing_keys_are_null() {
        let t = DataTable::parse(
            "{\"id\": 7, \"tags\": [\"x\"]}\n\n{\"id\": 8, \"name\": \"n\"}\n",
            DataFormat::JsonLines,
            "d.jsonl",
        )
        .expect("parses");
        assert_eq!(t.columns, ["id", "tags", "name"]);
        assert_eq!(t.rows[0][0], 7);
        assert_eq!(t.rows[0][2], Value::Null);
        assert_eq!(t.rows[1][1], Value::Null);
        let e = DataTable::parse("{\"a\":1}\n[1]\n", DataFormat::JsonLines, "d.jsonl")
            .expect_err("not an object");
        assert!(e.contains("line 2"), "{e}");
    }
}
