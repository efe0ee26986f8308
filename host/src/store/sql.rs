//! The narrow SQL interface the store's tables are written against, so that one implementation of
//! every query (and of the journal's exactly-once rules) runs on both backends: SQLite
//! (`sqlite.rs`) and PostgreSQL (`postgres.rs`).
//!
//! Statements use SQLite's numbered placeholders (`?1`, `?2`, …); the PostgreSQL backend rewrites
//! them to `$1`, `$2`. Values cross as [`Value`] (the five SQLite storage classes), which each
//! backend converts to and from its own types. What the two dialects spell differently is asked
//! of [`Dialect`]; the rest is SQL both accept (upserts, `RETURNING`, `CAST(… AS BIGINT)`).

use anyhow::Context as _;

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (also booleans, as 0 and 1).
    Int(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "bytes",
        }
    }
}

/// What may be bound to a placeholder.
pub trait ToValue {
    /// The value bound.
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8, bool);

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// The parameters of a statement: `params![a, b]`.
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::sql::ToValue] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::sql::ToValue),+] as &[&dyn $crate::store::sql::ToValue] };
}
pub(crate) use params;

/// What may be read from a column.
pub trait FromValue: Sized {
    /// The column's value as `Self`, or why it is not one.
    fn from_value(value: &Value) -> Result<Self, String>;
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(value.clone())
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int(v) => Ok(*v),
            other => Err(format!("expected an integer, found {}", other.kind())),
        }
    }
}

macro_rules! narrow_int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, String> {
                let wide = i64::from_value(value)?;
                <$t>::try_from(wide).map_err(|_| format!("{wide} is out of range for {}", stringify!($t)))
            }
        }
    )*};
}
narrow_int_from_value!(i32, u32, u64, usize, u16);

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Real(v) => Ok(*v),
            #[expect(
                clippy::cast_precision_loss,
                reason = "as SQLite reads an integer as a real"
            )]
            Value::Int(v) => Ok(*v as f64),
            other => Err(format!("expected a real, found {}", other.kind())),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(v) => Ok(v.clone()),
            other => Err(format!("expected text, found {}", other.kind())),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Blob(v) => Ok(v.clone()),
            other => Err(format!("expected bytes, found {}", other.kind())),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    /// A row of these values.
    pub fn new(values: Vec<Value>) -> Self {
        Self { values }
    }

    /// Column `idx` (from 0) as `T`.
    pub fn get<T: FromValue>(&self, idx: usize) -> anyhow::Result<T> {
        let value = self
            .values
            .get(idx)
            .with_context(|| format!("no column {idx} in a row of {}", self.values.len()))?;
        T::from_value(value).map_err(|err| anyhow::anyhow!("column {idx}: {err}"))
    }

    /// Column `idx`, a JSON text, decoded.
    pub fn json<T: serde::de::DeserializeOwned>(&self, idx: usize) -> anyhow::Result<T> {
        let text: String = self.get(idx)?;
        serde_json::from_str(&text).with_context(|| format!("column {idx}: not the JSON stored"))
    }
}

/// Where the two SQL dialects differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// `FROM table` naming the index to scan where SQLite's planner needs telling (`INDEXED BY`);
    /// PostgreSQL chooses by itself.
    pub fn table_indexed_by(self, table: &str, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{table} INDEXED BY {index}"),
            Dialect::Postgres => table.to_owned(),
        }
    }
}

/// A connection or transaction of either backend: the only way the store's tables reach SQL.
pub trait Sql {
    /// Runs a statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> anyhow::Result<usize>;

    /// Runs a query; returns all its rows.
    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> anyhow::Result<Vec<Row>>;

    /// The backend's dialect.
    fn dialect(&self) -> Dialect;
}

impl dyn Sql + '_ {
    /// The rows of a query, each mapped by `map`.
    pub fn query_map<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
        map: impl FnMut(&Row) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        self.query(sql, params)?.iter().map(map).collect()
    }

    /// The first row of a query mapped by `map`, or `None` when it has no rows.
    pub fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
        map: impl FnOnce(&Row) -> anyhow::Result<T>,
    ) -> anyhow::Result<Option<T>> {
        self.query(sql, params)?.first().map(map).transpose()
    }

    /// The first row of a query mapped by `map`; an error when it has no rows.
    pub fn query_row<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
        map: impl FnOnce(&Row) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        self.query_opt(sql, params, map)?
            .with_context(|| format!("no row from {}", first_line(sql)))
    }

    /// The first column of the first row.
    pub fn query_one<T: FromValue>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
    ) -> anyhow::Result<T> {
        self.query_row(sql, params, |r| r.get(0))
    }
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_column_names_it_and_what_it_held() {
        let row = Row::new(vec![Value::Text("x".into()), Value::Int(-1), Value::Null]);
        let err = row.get::<i64>(0).unwrap_err().to_string();
        assert!(err.contains("column 0") && err.contains("text"), "{err}");
        let err = row.get::<u64>(1).unwrap_err().to_string();
        assert!(err.contains("out of range"), "{err}");
        assert_eq!(row.get::<Option<String>>(2).unwrap(), None);
        assert!(row.get::<String>(3).is_err());
    }

    #[test]
    fn parameters_become_the_values_bound() {
        let none: Option<&str> = None;
        let values: Vec<Value> = params![1_i64, "a", none, true, vec![1_u8]]
            .iter()
            .map(|p| p.to_value())
            .collect();
        assert_eq!(
            values,
            vec![
                Value::Int(1),
                Value::Text("a".into()),
                Value::Null,
                Value::Int(1),
                Value::Blob(vec![1])
            ]
        );
    }
}
