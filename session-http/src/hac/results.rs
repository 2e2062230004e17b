//! Typed results of the HAC consoles, read from HAC's JSON and HTML answers (pure functions).

use serde::Serialize;
use serde_json::Value;

use super::error::HacError;
use super::html::impex_page;

/// What a Groovy script did (`/hac/console/scripting/execute`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroovyResult {
    /// What the script printed.
    pub output: String,
    /// The script's return value as HAC renders it.
    pub result: String,
    /// The stack trace of a failed script; `None` when it succeeded.
    pub stacktrace: Option<String>,
    /// Whether it ran in commit mode (otherwise its changes were rolled back).
    pub commit: bool,
}

impl GroovyResult {
    /// Whether the script ran without an exception.
    pub fn succeeded(&self) -> bool {
        self.stacktrace.is_none()
    }

    /// Reads HAC's JSON answer (`outputText`, `executionResult`, `stacktraceText`).
    pub fn from_json(body: &[u8], commit: bool) -> Result<Self, HacError> {
        let value = json_object(body, "Groovy execution")?;
        let text = |name: &str| match value.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let stacktrace = text("stacktraceText");
        Ok(GroovyResult {
            output: text("outputText"),
            result: text("executionResult"),
            stacktrace: (!stacktrace.trim().is_empty()).then_some(stacktrace),
            commit,
        })
    }
}

/// A FlexibleSearch query (`/hac/console/flexsearch/execute`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlexSearchQuery {
    /// The FlexibleSearch query text.
    pub query: String,
    /// The most rows to return (HAC's default: 200).
    pub max_count: u32,
    /// The locale for localized attributes (default `en`).
    pub locale: String,
}

impl FlexSearchQuery {
    /// A query with HAC's defaults: at most 200 rows, locale `en`.
    pub fn new(query: impl Into<String>) -> Self {
        FlexSearchQuery {
            query: query.into(),
            max_count: 200,
            locale: "en".to_string(),
        }
    }

    /// Sets the row limit.
    pub fn max_count(mut self, max_count: u32) -> Self {
        self.max_count = max_count;
        self
    }

    /// Sets the locale.
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = locale.into();
        self
    }
}

/// The answer to a FlexibleSearch query. A query HAC could not run is still a result: HAC
/// answers 200 with an exception object, kept in [`FlexSearchResult::exception`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlexSearchResult {
    /// Column headers (SQL column names such as `PK`, `p_uid`).
    pub headers: Vec<String>,
    /// The rows; `null` cells are empty strings.
    pub rows: Vec<Vec<String>>,
    /// How many rows HAC returned.
    pub result_count: u64,
    /// How long the query took, in milliseconds, if reported.
    pub execution_time_ms: Option<u64>,
    /// The error HAC reported, if the query failed.
    pub exception: Option<FlexSearchError>,
}

/// A FlexibleSearch error as HAC reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlexSearchError {
    /// The exception's message.
    pub message: String,
    /// The exception object as HAC sent it.
    pub raw: Value,
}

impl FlexSearchResult {
    /// Whether the query ran.
    pub fn succeeded(&self) -> bool {
        self.exception.is_none()
    }

    /// Reads HAC's JSON answer (`headers`, `resultList`, `resultCount`, `executionTime`,
    /// `exception`).
    pub fn from_json(body: &[u8]) -> Result<Self, HacError> {
        let value = json_object(body, "FlexibleSearch")?;
        let cell = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let headers = value
            .get("headers")
            .and_then(Value::as_array)
            .map(|h| h.iter().map(cell).collect())
            .unwrap_or_default();
        let rows: Vec<Vec<String>> = value
            .get("resultList")
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        row.as_array()
                            .map(|cells| cells.iter().map(cell).collect())
                            .unwrap_or_else(|| vec![cell(row)])
                    })
                    .collect()
            })
            .unwrap_or_default();
        let exception = match value.get("exception") {
            None | Some(Value::Null) => None,
            Some(raw) => {
                let message = match raw {
                    Value::String(s) => s.clone(),
                    Value::Object(o) => o
                        .get("message")
                        .or_else(|| o.get("localizedMessage"))
                        .map(cell)
                        .unwrap_or_else(|| raw.to_string()),
                    other => other.to_string(),
                };
                Some(FlexSearchError {
                    message,
                    raw: raw.clone(),
                })
            }
        };
        Ok(FlexSearchResult {
            headers,
            result_count: value
                .get("resultCount")
                .and_then(Value::as_u64)
                .unwrap_or(rows.len() as u64),
            rows,
            execution_time_ms: value.get("executionTime").and_then(Value::as_u64),
            exception,
        })
    }
}

/// The outcome of an Impex import (`/hac/console/impex/import`), read from the HTML page HAC
/// answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpexResult {
    /// Whether the import went through (`data-level` is not `error`).
    pub success: bool,
    /// HAC's level (`notice`, `error`).
    pub level: String,
    /// HAC's summary, e.g. `Import finished successfully`.
    pub summary: String,
    /// The detail HAC shows (the unresolved lines of a failed import).
    pub detail: String,
    /// The detail's non-empty lines, for a failed import.
    pub errors: Vec<String>,
}

impl ImpexResult {
    /// Reads the import result page.
    pub fn from_html(html: &str) -> Result<Self, HacError> {
        let page = impex_page(html).ok_or_else(|| HacError::InvalidResponse {
            operation: "Impex import",
            detail: "the page has no impexResult element".to_string(),
        })?;
        let success = page.level != "error";
        let errors = if success {
            Vec::new()
        } else {
            page.detail
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        };
        Ok(ImpexResult {
            success,
            level: page.level,
            summary: page.summary,
            detail: page.detail,
            errors,
        })
    }
}

fn json_object(body: &[u8], operation: &'static str) -> Result<Value, HacError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(HacError::InvalidResponse {
            operation,
            detail: "expected a JSON object".to_string(),
        }),
        Err(e) => Err(HacError::InvalidResponse {
            operation,
            detail: format!("not JSON ({e})"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groovy_success_and_failure() {
        let ok = GroovyResult::from_json(
            br#"{"outputText":"hi\n","executionResult":"7","stacktraceText":""}"#,
            false,
        )
        .unwrap();
        assert!(ok.succeeded());
        assert_eq!((ok.output.as_str(), ok.result.as_str()), ("hi\n", "7"));
        let failed = GroovyResult::from_json(
            br#"{"outputText":"","executionResult":null,"stacktraceText":"java.lang.X: y"}"#,
            true,
        )
        .unwrap();
        assert_eq!(failed.stacktrace.as_deref(), Some("java.lang.X: y"));
        assert!(GroovyResult::from_json(b"<html>login</html>", false).is_err());
    }

    #[test]
    fn flexsearch_rows_and_exceptions() {
        let ok = FlexSearchResult::from_json(
            br#"{"headers":["PK","p_uid"],"resultList":[["1","admin"],["2",null]],"resultCount":2,"executionTime":3,"exception":null}"#,
        )
        .unwrap();
        assert!(ok.succeeded());
        assert_eq!(ok.rows[1], vec!["2".to_string(), String::new()]);
        assert_eq!(ok.execution_time_ms, Some(3));
        let failed = FlexSearchResult::from_json(
            br#"{"headers":[],"resultList":[],"resultCount":0,"exception":{"message":"type code 'X' invalid","cause":null}}"#,
        )
        .unwrap();
        assert_eq!(failed.exception.unwrap().message, "type code 'X' invalid");
    }

    #[test]
    fn impex_pages() {
        let ok = ImpexResult::from_html(
            r#"<span id="impexResult" data-level="notice" data-result="Import finished successfully"></span>"#,
        )
        .unwrap();
        assert!(ok.success && ok.errors.is_empty());
        let failed = ImpexResult::from_html(
            r#"<span id="impexResult" data-level="error" data-result="Import has encountered problems"></span><div class="box impexResult quiet"><pre>a,,,,x
b,,,,y</pre></div>"#,
        )
        .unwrap();
        assert!(!failed.success);
        assert_eq!(failed.errors, vec!["a,,,,x", "b,,,,y"]);
    }
}
