//! The few fragments of SQL that SQLite and PostgreSQL write differently.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `SELECT <each number of a JSON array parameter>`, for `IN (…)`, per dialect.
    pub(super) fn json_numbers(self, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("SELECT value FROM json_each({param})"),
            Dialect::Postgres => format!("SELECT jsonb_array_elements_text({param}::jsonb)::bigint"),
        }
    }

    /// `FROM <rows of a JSON array parameter>` with typed columns, per dialect.
    pub(super) fn json_rows(self, param: &str, columns: &[(&str, &str)]) -> String {
        match self {
            Dialect::Sqlite => {
                let cols: Vec<String> =
                    columns.iter().map(|(c, _)| format!("json_extract(value, '$.{c}') AS {c}")).collect();
                format!("(SELECT {} FROM json_each({param}))", cols.join(", "))
            }
            Dialect::Postgres => {
                let cols: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
                format!("jsonb_to_recordset({param}::jsonb) AS j({})", cols.join(", "))
            }
        }
    }

    pub(super) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}
