//! The emulator's consoles: deterministic stand-ins for Groovy, FlexibleSearch and Impex that
//! answer in the real HAC's shapes.
//!
//! - Groovy understands `println 'text'`, `println "text"`, `return <literal>` and
//!   `throw new SomeException("message")`, one per line; everything else is accepted silently.
//! - FlexibleSearch ([`super::flexsearch`]) and Impex ([`super::impex`]) work on the core
//!   types of a fresh SAP Commerce ([`super::items`]); what Impex imports shows up in
//!   FlexibleSearch.

use serde_json::{Value, json};

use super::items::Items;
use super::{flexsearch, impex};

/// What the consoles work on: the emulated system's items.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalogue {
    items: Items,
}

/// A Groovy execution: console output, return value, stack trace (empty on success).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroovyRun {
    pub(crate) output: String,
    pub(crate) result: String,
    pub(crate) stacktrace: String,
}

impl GroovyRun {
    /// The JSON body HAC answers `/console/scripting/execute` with.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "outputText": self.output,
            "executionResult": self.result,
            "stacktraceText": self.stacktrace,
        })
    }
}

/// An Impex import: whether it succeeded and the unresolved lines with reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImpexRun {
    pub(crate) problems: Vec<String>,
}

impl Catalogue {
    /// Runs a Groovy script (see the module docs for what is understood).
    pub(crate) fn groovy(&self, script: &str) -> GroovyRun {
        let mut run = GroovyRun {
            output: String::new(),
            result: String::new(),
            stacktrace: String::new(),
        };
        for (index, line) in script.lines().enumerate() {
            let line = line.trim().trim_end_matches(';').trim();
            if let Some(argument) = line.strip_prefix("println") {
                let argument = argument
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')');
                run.output.push_str(&unquote(argument.trim()));
                run.output.push('\n');
            } else if let Some(value) = line.strip_prefix("return ") {
                run.result = unquote(value.trim());
                break;
            } else if let Some(thrown) = line.strip_prefix("throw new ") {
                let (class, message) = match thrown.split_once('(') {
                    Some((class, rest)) => {
                        (class.trim(), unquote(rest.trim_end_matches(')').trim()))
                    }
                    None => (thrown.trim(), String::new()),
                };
                let class = if class.contains('.') {
                    class.to_string()
                } else {
                    format!("java.lang.{class}")
                };
                run.stacktrace = format!(
                    "{class}: {message}\n\tat Script1.run(Script1.groovy:{})\n",
                    index + 1
                );
                run.result.clear();
                break;
            }
        }
        run
    }

    /// Runs a FlexibleSearch query; the JSON HAC answers `/console/flexsearch/execute` with
    /// (errors are a 200 with an exception object, as in the real HAC).
    pub(crate) fn flexible_search(&self, query: &str, max_count: usize) -> Value {
        match flexsearch::run(&self.items, query) {
            Ok((headers, mut rows)) => {
                rows.truncate(max_count);
                json!({
                    "query": query,
                    "executionTime": 1,
                    "resultCount": rows.len(),
                    "exception": null,
                    "exceptionStackTrace": null,
                    "headers": headers,
                    "resultList": rows,
                    "rawExecution": false,
                    "dataSourceId": "master",
                    "parametersAsString": "",
                    "catalogVersionsAsString": "",
                })
            }
            Err(message) => {
                let full = format!(
                    "de.hybris.platform.servicelayer.search.exceptions.FlexibleSearchException: {message}"
                );
                json!({
                    "query": query,
                    "executionTime": 0,
                    "resultCount": 0,
                    "exception": {
                        "message": message,
                        "localizedMessage": message,
                        "cause": null,
                        "stackTrace": [{
                            "className": "de.hybris.platform.jalo.flexiblesearch.FlexibleSearch",
                            "methodName": "search",
                            "fileName": "FlexibleSearch.java",
                            "lineNumber": 1441,
                        }],
                        "suppressed": [],
                    },
                    "exceptionStackTrace": format!("{full}\n\tat de.hybris.platform.jalo.flexiblesearch.FlexibleSearch.search(FlexibleSearch.java:1441)\n"),
                    "headers": [],
                    "resultList": [],
                    "rawExecution": false,
                    "dataSourceId": "master",
                    "parametersAsString": "",
                    "catalogVersionsAsString": "",
                })
            }
        }
    }

    /// Imports Impex; every line that cannot be imported is reported.
    pub(crate) fn import_impex(&mut self, script: &str) -> ImpexRun {
        ImpexRun {
            problems: impex::import(&mut self.items, script),
        }
    }
}

fn unquote(text: &str) -> String {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner.to_string();
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groovy_prints_returns_and_throws() {
        let c = Catalogue::default();
        let run = c.groovy("println 'hello'\nprintln(\"world\")\nreturn 42");
        assert_eq!(run.output, "hello\nworld\n");
        assert_eq!(run.result, "42");
        assert!(run.stacktrace.is_empty());
        let run = c.groovy("println 'a'\nthrow new IllegalStateException(\"boom\")");
        assert!(
            run.stacktrace
                .starts_with("java.lang.IllegalStateException: boom")
        );
    }

    #[test]
    fn flexible_search_selects_filters_and_caps() {
        let c = Catalogue::default();
        let v = c.flexible_search("SELECT {pk}, {uid} FROM {User}", 2);
        assert_eq!(v["headers"], json!(["PK", "p_uid"]));
        assert_eq!(v["resultCount"], 2);
        assert_eq!(v["resultList"][0][1], "admin");
        let v = c.flexible_search(
            "SELECT {u.name} FROM {User AS u} WHERE {u.uid} = 'anonymous'",
            200,
        );
        assert_eq!(v["resultList"], json!([["Anonymous"]]));
        let v = c.flexible_search("SELECT {pk} FROM {NoSuchType}", 200);
        assert_eq!(v["exception"]["message"], "type code 'NoSuchType' invalid");
        let v = c.flexible_search("SELECT {nope} FROM {User}", 200);
        assert!(v["exception"]["message"].as_str().unwrap().contains("nope"));
    }

    #[test]
    fn impex_changes_products_and_reports_problems() {
        let mut c = Catalogue::default();
        let run = c.import_impex(
            "INSERT_UPDATE Product;code[unique=true];name[lang=en]\n;p1;One\n;p2;Two\n",
        );
        assert!(run.problems.is_empty(), "{:?}", run.problems);
        let v = c.flexible_search("SELECT {code},{name} FROM {Product}", 200);
        assert_eq!(v["resultList"], json!([["p1", "One"], ["p2", "Two"]]));
        let run =
            c.import_impex("INSERT Product;code[unique=true]\n;p1\nINSERT_UPDATE Foo;code\n;x\n");
        assert_eq!(run.problems.len(), 3, "{:?}", run.problems);
        assert!(run.problems[1].contains("unknown type 'Foo'"));
    }
}
