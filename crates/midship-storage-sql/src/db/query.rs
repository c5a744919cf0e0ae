//! Statements as the SQL of this crate writes them: text with `$n` placeholders (both SQLite and
//! PostgreSQL read them) and the values to bind, run on a pool or a connection of either backend.
//! The names follow sqlx's (`query`, `bind`, `execute`, `fetch_all`, `QueryBuilder`) so the code
//! reads like ordinary sqlx code.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;

use sqlx::Pool;

use super::value::{Bind, FromColumn, SqlRow, Value};
use super::{Exec, SqlDatabase};

/// What a statement runs on: a pool, or a connection (a transaction derefs to one).
pub trait Executor<'e>: Send {
    type Database: SqlDatabase;
    fn into_exec(self) -> Exec<'e, Self::Database>;
}

impl<'e, Db: SqlDatabase> Executor<'e> for &'e Pool<Db> {
    type Database = Db;
    fn into_exec(self) -> Exec<'e, Db> {
        Exec::Pool(self)
    }
}

impl<'e, C> Executor<'e> for &'e mut C
where
    C: sqlx::Connection,
    C::Database: SqlDatabase,
{
    type Database = C::Database;
    fn into_exec(self) -> Exec<'e, C::Database> {
        Exec::Connection(self)
    }
}

/// What an `execute` changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub(crate) rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// A statement and its parameters.
#[derive(Debug)]
pub struct Query<'q> {
    pub(crate) sql: Cow<'q, str>,
    pub(crate) values: Vec<Value<'q>>,
    /// Where a [`QueryBuilder`] wrote its `$n` placeholders, in order: they may be written as
    /// plain positional `?` instead. (SQLite looks a named parameter up by scanning every name, so
    /// binding thousands of `$n` costs their square; `?` costs nothing.)
    pub(crate) positional: Vec<std::ops::Range<usize>>,
}

/// `sql` as it is, `$n` placeholders and all (PostgreSQL numbers its parameters itself).
pub(crate) fn as_written<'s>(sql: &'s str, _positional: &[std::ops::Range<usize>]) -> Cow<'s, str> {
    Cow::Borrowed(sql)
}

/// `sql` with the builder's placeholders at `positional` written as `?` (statements written by
/// hand have none, and keep their `$n`).
pub(crate) fn positional_placeholders<'s>(sql: &'s str, positional: &[std::ops::Range<usize>]) -> Cow<'s, str> {
    if positional.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut rewritten = String::with_capacity(sql.len());
    let mut written = 0;
    for placeholder in positional {
        rewritten.push_str(&sql[written..placeholder.start]);
        rewritten.push('?');
        written = placeholder.end;
    }
    rewritten.push_str(&sql[written..]);
    Cow::Owned(rewritten)
}

/// A statement with `$n` placeholders; bind a value for each.
pub fn query(sql: &str) -> Query<'_> {
    Query { sql: Cow::Borrowed(sql), values: Vec::new(), positional: Vec::new() }
}

/// A statement whose rows are read as the single value of their first column.
pub fn query_scalar<T: FromColumn>(sql: &str) -> QueryScalar<'_, T> {
    QueryScalar { query: query(sql), output: PhantomData }
}

impl<'q> Query<'q> {
    pub fn bind(mut self, value: impl Bind<'q>) -> Self {
        self.values.push(value.into_value());
        self
    }

    pub fn execute<'e, E: Executor<'e>>(
        self,
        executor: E,
    ) -> impl Future<Output = Result<Done, sqlx::Error>> + Send + 'e
    where
        'q: 'e,
    {
        E::Database::execute(executor.into_exec(), self)
    }

    pub fn fetch_all<'e, E: Executor<'e>>(
        self,
        executor: E,
    ) -> impl Future<Output = Result<Vec<<E::Database as sqlx::Database>::Row>, sqlx::Error>> + Send + 'e
    where
        'q: 'e,
    {
        E::Database::fetch_all(executor.into_exec(), self)
    }

    pub fn fetch_optional<'e, E: Executor<'e>>(
        self,
        executor: E,
    ) -> impl Future<Output = Result<Option<<E::Database as sqlx::Database>::Row>, sqlx::Error>> + Send + 'e
    where
        'q: 'e,
    {
        E::Database::fetch_optional(executor.into_exec(), self)
    }

    pub fn fetch_one<'e, E: Executor<'e>>(
        self,
        executor: E,
    ) -> impl Future<Output = Result<<E::Database as sqlx::Database>::Row, sqlx::Error>> + Send + 'e
    where
        'q: 'e,
    {
        let row = self.fetch_optional(executor);
        async move { row.await?.ok_or(sqlx::Error::RowNotFound) }
    }
}

/// A [`Query`] read as one value per row.
#[derive(Debug)]
pub struct QueryScalar<'q, T> {
    query: Query<'q>,
    output: PhantomData<fn() -> T>,
}

// The futures are spelled out as `impl Future + Send` rather than `async fn`: an `async fn`
// generic over the executor's lifetime makes the storage traits' futures fail their `Send` check.
impl<'q, T: FromColumn + Send + 'q> QueryScalar<'q, T> {
    pub fn bind(self, value: impl Bind<'q>) -> Self {
        Self { query: self.query.bind(value), output: PhantomData }
    }

    pub fn fetch_optional<'e, E: Executor<'e>>(
        self,
        executor: E,
    ) -> impl Future<Output = Result<Option<T>, sqlx::Error>> + Send + 'e
    where
        'q: 'e,
    {
        let row = self.query.fetch_optional(executor);
        async move { row.await?.map(|row| row.try_get(0)).transpose() }
    }

    pub fn fetch_one<'e, E: Executor<'e>>(self, executor: E) -> impl Future<Output = Result<T, sqlx::Error>> + Send + 'e
    where
        'q: 'e,
    {
        let row = self.query.fetch_one(executor);
        async move { row.await?.try_get(0) }
    }

    pub fn fetch_all<'e, E: Executor<'e>>(
        self,
        executor: E,
    ) -> impl Future<Output = Result<Vec<T>, sqlx::Error>> + Send + 'e
    where
        'q: 'e,
    {
        let rows = self.query.fetch_all(executor);
        async move { rows.await?.iter().map(|row| row.try_get(0)).collect() }
    }
}

/// Builds a statement piece by piece, numbering placeholders as values are bound.
#[derive(Debug)]
pub struct QueryBuilder<'q> {
    sql: String,
    values: Vec<Value<'q>>,
    placeholders: Vec<std::ops::Range<usize>>,
}

impl<'q> QueryBuilder<'q> {
    pub fn new(init: impl Into<String>) -> Self {
        Self { sql: init.into(), values: Vec::new(), placeholders: Vec::new() }
    }

    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write;
        write!(self.sql, "{sql}").expect("writing to a String cannot fail");
        self
    }

    /// Appends a placeholder for `value`.
    pub fn push_bind(&mut self, value: impl Bind<'q>) -> &mut Self {
        self.values.push(value.into_value());
        let start = self.sql.len();
        self.push(format_args!("${}", self.values.len()));
        self.placeholders.push(start..self.sql.len());
        self
    }

    /// Appends `VALUES (…), (…)`, one tuple per item, filled by `each`.
    pub fn push_values<I, F>(&mut self, items: I, mut each: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Separated<'_, 'q>, I::Item),
    {
        self.push("VALUES ");
        for (position, item) in items.into_iter().enumerate() {
            if position > 0 {
                self.push(", ");
            }
            self.push("(");
            each(Separated { builder: self, first: true }, item);
            self.push(")");
        }
        self
    }

    pub fn build(&mut self) -> Query<'q> {
        Query {
            sql: Cow::Owned(std::mem::take(&mut self.sql)),
            values: std::mem::take(&mut self.values),
            positional: std::mem::take(&mut self.placeholders),
        }
    }
}

/// One tuple of [`QueryBuilder::push_values`]: each push is separated from the previous by a comma.
#[derive(Debug)]
pub struct Separated<'b, 'q> {
    builder: &'b mut QueryBuilder<'q>,
    first: bool,
}

impl<'q> Separated<'_, 'q> {
    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.builder.push(", ");
        }
    }

    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.separate();
        self.builder.push(sql);
        self
    }

    pub fn push_bind(&mut self, value: impl Bind<'q>) -> &mut Self {
        self.separate();
        self.builder.push_bind(value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_as_values_are_bound() {
        let mut builder = QueryBuilder::new("INSERT INTO t (a, b, c) ");
        builder.push_values([("x", 1_i64), ("y", 2)], |mut row, (text, number)| {
            row.push_bind(text).push_bind(number).push("0");
        });
        builder.push(" WHERE d = ").push_bind(None::<String>);
        let query = builder.build();
        assert_eq!(query.sql, "INSERT INTO t (a, b, c) VALUES ($1, $2, 0), ($3, $4, 0) WHERE d = $5");
        assert_eq!(
            positional_placeholders(&query.sql, &query.positional),
            "INSERT INTO t (a, b, c) VALUES (?, ?, 0), (?, ?, 0) WHERE d = ?",
            "SQLite gets the builder's placeholders as plain `?`"
        );
        assert!(matches!(
            query.values[..],
            [Value::Text(_), Value::Int(1), Value::Text(_), Value::Int(2), Value::Null(crate::db::Kind::Text)]
        ));
    }

    #[test]
    fn options_bind_as_typed_nulls_and_lists_as_one_value() {
        let missing: Option<String> = None;
        let devices = ["a", "b"];
        let query = query("SELECT 1").bind(&missing).bind(Some(3_i64)).bind(&devices[..]);
        assert!(matches!(&query.values[..], [
            Value::Null(crate::db::Kind::Text),
            Value::Int(3),
            Value::TextList(items)
        ] if items == &["a", "b"]));
    }
}
