//! Values bound to statements and read back from rows, as the few SQL types the schema uses.

use std::borrow::Cow;

use super::SqlDatabase;

/// The SQL type a NULL stands for: PostgreSQL types every parameter, NULLs included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    Bool,
    Bytes,
}

/// One statement parameter.
#[derive(Debug, Clone)]
pub enum Value<'q> {
    Null(Kind),
    Text(Cow<'q, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Cow<'q, [u8]>),
    /// A list of strings: an array parameter on PostgreSQL, a JSON array on SQLite (where
    /// `json_each` unpacks it). The backend's dialect writes the matching SQL.
    TextList(Vec<Cow<'q, str>>),
}

/// A Rust value that binds as a statement parameter.
pub trait Bind<'q> {
    fn into_value(self) -> Value<'q>;
}

/// The SQL type of a Rust type, so its `None` binds as a typed NULL.
pub trait Typed {
    const KIND: Kind;
}

impl<T: Typed + ?Sized> Typed for &T {
    const KIND: Kind = T::KIND;
}

macro_rules! typed {
    ($kind:ident: $($type:ty),+) => {
        $(impl Typed for $type {
            const KIND: Kind = Kind::$kind;
        })+
    };
}

typed!(Text: str, String);
typed!(Int: i64, i32, u32);
typed!(Float: f64);
typed!(Bool: bool);
typed!(Bytes: [u8], Vec<u8>);

impl<'q> Bind<'q> for &'q str {
    fn into_value(self) -> Value<'q> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl<'q> Bind<'q> for &'q String {
    fn into_value(self) -> Value<'q> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl<'q> Bind<'q> for String {
    fn into_value(self) -> Value<'q> {
        Value::Text(Cow::Owned(self))
    }
}

impl<'q> Bind<'q> for i64 {
    fn into_value(self) -> Value<'q> {
        Value::Int(self)
    }
}

impl<'q> Bind<'q> for &i64 {
    fn into_value(self) -> Value<'q> {
        Value::Int(*self)
    }
}

impl<'q> Bind<'q> for i32 {
    fn into_value(self) -> Value<'q> {
        Value::Int(i64::from(self))
    }
}

impl<'q> Bind<'q> for u32 {
    fn into_value(self) -> Value<'q> {
        Value::Int(i64::from(self))
    }
}

impl<'q> Bind<'q> for f64 {
    fn into_value(self) -> Value<'q> {
        Value::Float(self)
    }
}

impl<'q> Bind<'q> for bool {
    fn into_value(self) -> Value<'q> {
        Value::Bool(self)
    }
}

impl<'q> Bind<'q> for &'q [u8] {
    fn into_value(self) -> Value<'q> {
        Value::Bytes(Cow::Borrowed(self))
    }
}

impl<'q> Bind<'q> for &'q Vec<u8> {
    fn into_value(self) -> Value<'q> {
        Value::Bytes(Cow::Borrowed(self))
    }
}

impl<'q> Bind<'q> for Vec<u8> {
    fn into_value(self) -> Value<'q> {
        Value::Bytes(Cow::Owned(self))
    }
}

impl<'q, T: Bind<'q> + Typed> Bind<'q> for Option<T> {
    fn into_value(self) -> Value<'q> {
        match self {
            Some(value) => value.into_value(),
            None => Value::Null(T::KIND),
        }
    }
}

impl<'q, T> Bind<'q> for &'q Option<T>
where
    &'q T: Bind<'q> + Typed,
{
    fn into_value(self) -> Value<'q> {
        self.as_ref().into_value()
    }
}

impl<'q, S: ListItem> Bind<'q> for &'q [S] {
    fn into_value(self) -> Value<'q> {
        Value::TextList(self.iter().map(|item| Cow::Borrowed(item.as_str())).collect())
    }
}

/// A string that binds in lists ([`Value::TextList`]).
pub trait ListItem {
    fn as_str(&self) -> &str;
}

impl ListItem for String {
    fn as_str(&self) -> &str {
        self
    }
}

impl ListItem for &str {
    fn as_str(&self) -> &str {
        self
    }
}

/// Which column of a row: by position or by name.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    Index(usize),
    Name(&'a str),
}

/// A column position (`usize`) or name (`&str`).
pub trait ColumnRef {
    fn column(&self) -> Column<'_>;
}

impl ColumnRef for usize {
    fn column(&self) -> Column<'_> {
        Column::Index(*self)
    }
}

impl ColumnRef for &str {
    fn column(&self) -> Column<'_> {
        Column::Name(self)
    }
}

/// A Rust value read from a column.
pub trait FromColumn: Sized {
    fn from_column<Db: SqlDatabase>(row: &Db::Row, column: Column<'_>) -> Result<Self, sqlx::Error>;
}

macro_rules! from_column {
    ($($type:ty => $read:ident),+ $(,)?) => {
        $(impl FromColumn for $type {
            fn from_column<Db: SqlDatabase>(row: &Db::Row, column: Column<'_>) -> Result<Self, sqlx::Error> {
                Db::$read(row, column)
            }
        })+
    };
}

from_column! {
    String => text,
    Option<String> => optional_text,
    i64 => int,
    Option<i64> => optional_int,
    f64 => float,
    Option<f64> => optional_float,
    bool => boolean,
    Option<bool> => optional_boolean,
    Vec<u8> => bytes,
    Option<Vec<u8>> => optional_bytes,
}

/// Reads typed columns from a row of either backend, as sqlx's `Row::try_get` does.
pub trait SqlRow {
    fn try_get<T: FromColumn>(&self, column: impl ColumnRef) -> Result<T, sqlx::Error>;
}

impl<R: sqlx::Row> SqlRow for R
where
    R::Database: SqlDatabase,
{
    fn try_get<T: FromColumn>(&self, column: impl ColumnRef) -> Result<T, sqlx::Error> {
        T::from_column::<R::Database>(self, column.column())
    }
}
