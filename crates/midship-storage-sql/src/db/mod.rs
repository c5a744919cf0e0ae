//! The seam between the SQL written once in this crate and sqlx's two drivers.
//!
//! Generic code over sqlx needs a long list of trait bounds (executors, argument encoding and
//! decoding of every type) repeated on every function, because Rust does not carry a trait's
//! `where` clauses to its users. Here that list is replaced by one trait, [`SqlDatabase`],
//! implemented for `sqlx::Sqlite` and `sqlx::Postgres` from one body: it binds [`Value`]s,
//! runs statements and reads the few column types the schema uses. Everything above it —
//! [`query`], [`QueryBuilder`], [`SqlRow::try_get`] — only needs `Db: SqlDatabase`.

use std::future::Future;

use sqlx::{Database, Pool};

mod query;
mod value;

pub use query::{Done, Executor, Query, QueryBuilder, QueryScalar, Separated, query, query_scalar};
pub use value::{Bind, Column, ColumnRef, FromColumn, Kind, ListItem, SqlRow, Typed, Value};

/// Where a statement runs.
#[derive(Debug)]
pub enum Exec<'e, Db: Database> {
    Pool(&'e Pool<Db>),
    Connection(&'e mut Db::Connection),
}

/// A sqlx database this crate's SQL runs on.
pub trait SqlDatabase: Database {
    fn execute<'e>(
        exec: Exec<'e, Self>,
        query: Query<'e>,
    ) -> impl Future<Output = Result<Done, sqlx::Error>> + Send + 'e;
    fn fetch_all<'e>(
        exec: Exec<'e, Self>,
        query: Query<'e>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'e;
    fn fetch_optional<'e>(
        exec: Exec<'e, Self>,
        query: Query<'e>,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + 'e;

    fn text(row: &Self::Row, column: Column<'_>) -> Result<String, sqlx::Error>;
    fn optional_text(row: &Self::Row, column: Column<'_>) -> Result<Option<String>, sqlx::Error>;
    fn int(row: &Self::Row, column: Column<'_>) -> Result<i64, sqlx::Error>;
    fn optional_int(row: &Self::Row, column: Column<'_>) -> Result<Option<i64>, sqlx::Error>;
    fn float(row: &Self::Row, column: Column<'_>) -> Result<f64, sqlx::Error>;
    fn optional_float(row: &Self::Row, column: Column<'_>) -> Result<Option<f64>, sqlx::Error>;
    fn boolean(row: &Self::Row, column: Column<'_>) -> Result<bool, sqlx::Error>;
    fn optional_boolean(row: &Self::Row, column: Column<'_>) -> Result<Option<bool>, sqlx::Error>;
    fn bytes(row: &Self::Row, column: Column<'_>) -> Result<Vec<u8>, sqlx::Error>;
    fn optional_bytes(row: &Self::Row, column: Column<'_>) -> Result<Option<Vec<u8>>, sqlx::Error>;
}

/// Implements [`SqlDatabase`] for one sqlx database. `$text_list` turns a list of strings into
/// the value the driver binds; `$sql` gives the statement's text as the driver reads it best.
macro_rules! sql_database {
    ($db:ty, text_list: $text_list:expr, sql: $sql:expr) => {
        impl SqlDatabase for $db {
            fn execute<'e>(
                exec: Exec<'e, Self>,
                query: Query<'e>,
            ) -> impl Future<Output = Result<Done, sqlx::Error>> + Send + 'e {
                async move {
                    let Query { sql, values, positional } = query;
                    let arguments = Self::arguments(values)?;
                    let sql = ($sql)(&sql, &positional);
                    let statement = sqlx::query_with::<$db, _>(&sql, arguments);
                    let result = match exec {
                        Exec::Pool(pool) => statement.execute(pool).await?,
                        Exec::Connection(connection) => statement.execute(connection).await?,
                    };
                    Ok(Done { rows_affected: result.rows_affected() })
                }
            }

            fn fetch_all<'e>(
                exec: Exec<'e, Self>,
                query: Query<'e>,
            ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'e {
                async move {
                    let Query { sql, values, positional } = query;
                    let arguments = Self::arguments(values)?;
                    let sql = ($sql)(&sql, &positional);
                    let statement = sqlx::query_with::<$db, _>(&sql, arguments);
                    match exec {
                        Exec::Pool(pool) => statement.fetch_all(pool).await,
                        Exec::Connection(connection) => statement.fetch_all(connection).await,
                    }
                }
            }

            fn fetch_optional<'e>(
                exec: Exec<'e, Self>,
                query: Query<'e>,
            ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + 'e {
                async move {
                    let Query { sql, values, positional } = query;
                    let arguments = Self::arguments(values)?;
                    let sql = ($sql)(&sql, &positional);
                    let statement = sqlx::query_with::<$db, _>(&sql, arguments);
                    match exec {
                        Exec::Pool(pool) => statement.fetch_optional(pool).await,
                        Exec::Connection(connection) => statement.fetch_optional(connection).await,
                    }
                }
            }

            fn text(row: &Self::Row, column: Column<'_>) -> Result<String, sqlx::Error> {
                read(row, column)
            }
            fn optional_text(row: &Self::Row, column: Column<'_>) -> Result<Option<String>, sqlx::Error> {
                read(row, column)
            }
            fn int(row: &Self::Row, column: Column<'_>) -> Result<i64, sqlx::Error> {
                read(row, column)
            }
            fn optional_int(row: &Self::Row, column: Column<'_>) -> Result<Option<i64>, sqlx::Error> {
                read(row, column)
            }
            fn float(row: &Self::Row, column: Column<'_>) -> Result<f64, sqlx::Error> {
                read(row, column)
            }
            fn optional_float(row: &Self::Row, column: Column<'_>) -> Result<Option<f64>, sqlx::Error> {
                read(row, column)
            }
            fn boolean(row: &Self::Row, column: Column<'_>) -> Result<bool, sqlx::Error> {
                read(row, column)
            }
            fn optional_boolean(row: &Self::Row, column: Column<'_>) -> Result<Option<bool>, sqlx::Error> {
                read(row, column)
            }
            fn bytes(row: &Self::Row, column: Column<'_>) -> Result<Vec<u8>, sqlx::Error> {
                read(row, column)
            }
            fn optional_bytes(row: &Self::Row, column: Column<'_>) -> Result<Option<Vec<u8>>, sqlx::Error> {
                read(row, column)
            }
        }

        impl ArgumentsOf for $db {
            fn arguments(values: Vec<Value<'_>>) -> Result<Self::Arguments<'_>, sqlx::Error> {
                use sqlx::Arguments;
                use std::borrow::Cow;

                let mut arguments = Self::Arguments::default();
                arguments.reserve(values.len(), 0);
                for value in values {
                    let added = match value {
                        Value::Null(Kind::Text) => arguments.add(None::<String>),
                        Value::Null(Kind::Int) => arguments.add(None::<i64>),
                        Value::Null(Kind::Float) => arguments.add(None::<f64>),
                        Value::Null(Kind::Bool) => arguments.add(None::<bool>),
                        Value::Null(Kind::Bytes) => arguments.add(None::<Vec<u8>>),
                        Value::Text(Cow::Borrowed(text)) => arguments.add(text),
                        Value::Text(Cow::Owned(text)) => arguments.add(text),
                        Value::Int(number) => arguments.add(number),
                        Value::Float(number) => arguments.add(number),
                        Value::Bool(flag) => arguments.add(flag),
                        Value::Bytes(Cow::Borrowed(bytes)) => arguments.add(bytes),
                        Value::Bytes(Cow::Owned(bytes)) => arguments.add(bytes),
                        Value::TextList(items) => arguments.add(($text_list)(items)),
                    };
                    added.map_err(sqlx::Error::Encode)?;
                }
                Ok(arguments)
            }
        }
    };
}

/// The statement's parameters in the driver's form.
trait ArgumentsOf: Database {
    fn arguments(values: Vec<Value<'_>>) -> Result<Self::Arguments<'_>, sqlx::Error>;
}

sql_database!(
    sqlx::Sqlite,
    text_list: |items: Vec<std::borrow::Cow<'_, str>>| serde_json::to_string(&items).expect("strings serialize"),
    sql: query::positional_placeholders
);
sql_database!(
    sqlx::Postgres,
    text_list: |items: Vec<std::borrow::Cow<'_, str>>| {
        items.into_iter().map(std::borrow::Cow::into_owned).collect::<Vec<String>>()
    },
    sql: query::as_written
);

/// One column, decoded by the driver.
fn read<'r, R, T>(row: &'r R, column: Column<'_>) -> Result<T, sqlx::Error>
where
    R: sqlx::Row,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    match column {
        Column::Index(index) => row.try_get(index),
        Column::Name(name) => row.try_get(name),
    }
}
