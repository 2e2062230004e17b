//! The emulator's consoles: deterministic stand-ins for Groovy, FlexibleSearch and Impex that
//! answer in the real HAC's shapes.
//!
//! - Groovy understands `println 'text'`, `println "text"`, `return <literal>` and
//!   `throw new SomeException("message")`, one per line; everything else is accepted silently.
//! - FlexibleSearch understands `SELECT {a}, {b} FROM {Type} [WHERE {attr} = 'value']` over a
//!   small fixed catalogue (User, Employee, Language, Product); column headers are SQL column
//!   names (`PK`, `p_uid`) as HAC shows them.
//! - Impex understands `INSERT`, `UPDATE`, `INSERT_UPDATE` and `REMOVE` headers for Product
//!   (`code`, `name`) and reports unknown types and attributes as HAC does; imported products
//!   show up in FlexibleSearch.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// What the consoles work on: a few items, with products that Impex can change.
#[derive(Debug, Clone)]
pub(crate) struct Catalogue {
    products: BTreeMap<String, Product>,
    next_pk: u64,
}

#[derive(Debug, Clone)]
struct Product {
    pk: u64,
    name: String,
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

const USERS: [(u64, &str, &str, &str); 3] = [
    (8_796_093_054_980, "admin", "Administrator", "Employee"),
    (8_796_093_087_748, "anonymous", "Anonymous", "Customer"),
    (
        8_796_093_120_516,
        "keenreviewer1@hybris.com",
        "Keen Reviewer",
        "Customer",
    ),
];
const LANGUAGES: [(u64, &str, &str); 2] = [
    (8_796_093_056_032, "en", "English"),
    (8_796_093_088_800, "de", "German"),
];

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue {
            products: BTreeMap::new(),
            next_pk: 8_796_093_382_657,
        }
    }
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
        match self.select(query) {
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

    fn rows_of(&self, type_code: &str) -> Option<Vec<BTreeMap<&'static str, String>>> {
        let user = |(pk, uid, name, _): &(u64, &str, &str, &str)| {
            BTreeMap::from([
                ("pk", pk.to_string()),
                ("uid", (*uid).to_string()),
                ("name", (*name).to_string()),
            ])
        };
        let rows = match type_code.to_ascii_lowercase().as_str() {
            "user" | "principal" => USERS.iter().map(user).collect(),
            "employee" | "customer" => USERS
                .iter()
                .filter(|u| u.3.eq_ignore_ascii_case(type_code))
                .map(user)
                .collect(),
            "language" => LANGUAGES
                .iter()
                .map(|(pk, iso, name)| {
                    BTreeMap::from([
                        ("pk", pk.to_string()),
                        ("isocode", (*iso).to_string()),
                        ("name", (*name).to_string()),
                    ])
                })
                .collect(),
            "product" => self
                .products
                .iter()
                .map(|(code, p)| {
                    BTreeMap::from([
                        ("pk", p.pk.to_string()),
                        ("code", code.clone()),
                        ("name", p.name.clone()),
                    ])
                })
                .collect(),
            _ => return None,
        };
        Some(rows)
    }

    fn attributes_of(type_code: &str) -> &'static [&'static str] {
        match type_code.to_ascii_lowercase().as_str() {
            "user" | "principal" | "employee" | "customer" => &["pk", "uid", "name"],
            "language" => &["pk", "isocode", "name"],
            "product" => &["pk", "code", "name"],
            _ => &[],
        }
    }

    #[allow(clippy::type_complexity)]
    fn select(&self, query: &str) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
        let syntax = || format!("invalid FlexibleSearch query: {}", query.trim());
        let lower = query.to_ascii_lowercase();
        let select_at = lower.find("select").ok_or_else(syntax)?;
        let from_at = lower.find(" from ").ok_or_else(syntax)?;
        if from_at < select_at {
            return Err(syntax());
        }
        let columns = &query[select_at + 6..from_at];
        let rest = query[from_at + 6..].trim();
        let type_part = rest.strip_prefix('{').ok_or_else(syntax)?;
        let close = type_part.find('}').ok_or_else(syntax)?;
        let type_code = type_part[..close]
            .split_whitespace()
            .next()
            .ok_or_else(syntax)?
            .trim_end_matches('!');
        let rows = self
            .rows_of(type_code)
            .ok_or_else(|| format!("type code '{type_code}' invalid"))?;
        let attributes = Self::attributes_of(type_code);
        let known = |attribute: &str| -> Result<&'static str, String> {
            attributes
                .iter()
                .find(|a| a.eq_ignore_ascii_case(attribute))
                .copied()
                .ok_or_else(|| {
                    format!(
                        "cannot search unknown field 'TableField(name='{attribute}',langPK='null',type={type_code})' within type {type_code} unless you disable checking"
                    )
                })
        };
        let field = |text: &str| -> Result<&'static str, String> {
            let inner = text
                .trim()
                .strip_prefix('{')
                .and_then(|t| t.strip_suffix('}'));
            let inner = inner.ok_or_else(syntax)?;
            let name = inner.rsplit(['.', ':']).next().unwrap_or(inner).trim();
            known(name)
        };
        let mut selected = Vec::new();
        for column in columns.split(',') {
            let column = column.trim();
            if column == "*" {
                selected.extend(attributes.iter().copied());
            } else {
                selected.push(field(column)?);
            }
        }
        let mut filter: Option<(&str, String)> = None;
        let after_type = type_part[close + 1..].trim();
        let after_lower = after_type.to_ascii_lowercase();
        if let Some(condition) = after_lower
            .strip_prefix("where")
            .map(|_| after_type[5..].trim())
        {
            let (left, right) = condition.split_once('=').ok_or_else(syntax)?;
            let value = right.trim();
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .ok_or_else(syntax)?;
            filter = Some((field(left)?, value.to_string()));
        } else if !after_type.is_empty() && !after_lower.starts_with("order by") {
            return Err(syntax());
        }
        let headers = selected
            .iter()
            .map(|a| {
                if *a == "pk" {
                    "PK".to_string()
                } else {
                    format!("p_{a}")
                }
            })
            .collect();
        let rows = rows
            .into_iter()
            .filter(|row| {
                filter
                    .as_ref()
                    .is_none_or(|(attribute, value)| row.get(attribute) == Some(value))
            })
            .map(|row| {
                selected
                    .iter()
                    .map(|a| row.get(a).cloned().unwrap_or_default())
                    .collect()
            })
            .collect();
        Ok((headers, rows))
    }

    /// Imports Impex; products are changed, every line that cannot be resolved is reported.
    pub(crate) fn import_impex(&mut self, script: &str) -> ImpexRun {
        let mut problems = Vec::new();
        let mut header: Option<Header> = None;
        for line in script.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('$') {
                continue;
            }
            if trimmed.starts_with(';') {
                match &header {
                    Some(Header::Product { mode, code, name }) => {
                        let fields: Vec<&str> = trimmed.split(';').map(str::trim).collect();
                        let value = |i: &Option<usize>| {
                            i.and_then(|i| fields.get(i + 1)).map(|v| v.to_string())
                        };
                        let Some(product_code) = value(&Some(*code)).filter(|c| !c.is_empty())
                        else {
                            problems.push(format!(
                                "{trimmed},,,,missing value for unique attribute code"
                            ));
                            continue;
                        };
                        if let Err(reason) =
                            self.apply(*mode, product_code, value(name).unwrap_or_default())
                        {
                            problems.push(format!("{trimmed},,,,{reason}"));
                        }
                    }
                    Some(Header::Broken) => {
                        problems.push(format!(
                            "{trimmed},,,,line belongs to an unresolvable header"
                        ));
                    }
                    None => {
                        problems.push(format!("{trimmed},,,,no header line for this value line"))
                    }
                }
                continue;
            }
            header = Some(match parse_header(trimmed) {
                Ok(parsed) => parsed,
                Err(reason) => {
                    problems.push(format!("{trimmed},,,,{reason}"));
                    Header::Broken
                }
            });
        }
        ImpexRun { problems }
    }

    fn apply(&mut self, mode: Mode, code: String, name: String) -> Result<(), String> {
        match mode {
            Mode::Insert if self.products.contains_key(&code) => {
                Err(format!("item Product with code '{code}' already exists"))
            }
            Mode::Update if !self.products.contains_key(&code) => Err(format!(
                "no existing item found for update: Product code '{code}'"
            )),
            Mode::Remove => {
                self.products.remove(&code);
                Ok(())
            }
            _ => {
                if let Some(product) = self.products.get_mut(&code) {
                    if !name.is_empty() {
                        product.name = name;
                    }
                } else {
                    let pk = self.next_pk;
                    self.next_pk += 32_768;
                    self.products.insert(code, Product { pk, name });
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Insert,
    Update,
    InsertUpdate,
    Remove,
}

#[derive(Debug, Clone)]
enum Header {
    Product {
        mode: Mode,
        code: usize,
        name: Option<usize>,
    },
    Broken,
}

fn parse_header(line: &str) -> Result<Header, String> {
    let mut fields = line.split(';').map(str::trim);
    let first = fields.next().unwrap_or_default();
    let (mode, type_code) = first
        .split_once(char::is_whitespace)
        .ok_or_else(|| "unknown header format".to_string())?;
    let mode = match mode.to_ascii_uppercase().as_str() {
        "INSERT" => Mode::Insert,
        "UPDATE" => Mode::Update,
        "INSERT_UPDATE" => Mode::InsertUpdate,
        "REMOVE" => Mode::Remove,
        other => return Err(format!("unknown header mode '{other}'")),
    };
    let type_code = type_code.trim();
    if !type_code.eq_ignore_ascii_case("product") {
        return Err(format!("unknown type '{type_code}' in header"));
    }
    let (mut code, mut name) = (None, None);
    for (index, attribute) in fields.enumerate() {
        let bare = attribute
            .split('[')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match bare.as_str() {
            "code" => code = Some(index),
            "name" => name = Some(index),
            "" => {}
            other => {
                return Err(format!(
                    "unknown attributes [Product.{other}] - cannot resolve them"
                ));
            }
        }
    }
    let code = code.ok_or_else(|| "no unique attribute code in Product header".to_string())?;
    Ok(Header::Product { mode, code, name })
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
