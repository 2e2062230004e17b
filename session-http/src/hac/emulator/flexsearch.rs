//! The emulator's FlexibleSearch: `SELECT {a}, {b} FROM {Type[!] [AS t]} [WHERE {t.a} = 'x'
//! [AND …]] [ORDER BY {a} [ASC|DESC], …]` over the emulator's items, with `=`, `<>`, `!=` and
//! `LIKE` (`%`, `_`) conditions. A type includes its subtypes unless written `Type!`; a
//! reference attribute's value is the referenced item's PK, as in the real HAC; column headers
//! are the SQL column names (`PK`, `p_uid`).
//!
//! Errors carry the real HAC's messages for what users meet most: an unknown type and an
//! unknown field.

use std::cmp::Ordering;

use super::items::{AttributeInfo, Items, TypeInfo, type_info};

/// A query's result: column headers and rows of values.
pub(crate) type Table = (Vec<String>, Vec<Vec<String>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equal,
    NotEqual,
    Like,
}

struct Condition {
    attribute: &'static AttributeInfo,
    operator: Operator,
    value: String,
}

/// Runs `query` over `items`.
pub(crate) fn run(items: &Items, query: &str) -> Result<Table, String> {
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
    let written = type_part[..close]
        .split_whitespace()
        .next()
        .ok_or_else(syntax)?;
    let exact = written.ends_with('!');
    let type_code = written.trim_end_matches('!');
    let ty = type_info(type_code).ok_or_else(|| format!("type code '{type_code}' invalid"))?;
    let field = |text: &str| field_of(ty, type_code, text).map_err(|e| e.unwrap_or_else(syntax));

    let mut selected = Vec::new();
    for column in columns.split(',') {
        let column = column.trim();
        if column == "*" {
            selected.extend(ty.attributes());
        } else {
            selected.push(field(column)?);
        }
    }

    let tail = type_part[close + 1..].trim();
    let (where_part, order_part) = split_tail(tail).ok_or_else(syntax)?;
    let conditions = match where_part {
        Some(text) => split_keyword(text, " and ")
            .into_iter()
            .map(|c| condition(c, &field).unwrap_or_else(|| Err(syntax())))
            .collect::<Result<Vec<_>, String>>()?,
        None => Vec::new(),
    };
    let mut order = Vec::new();
    if let Some(text) = order_part {
        for key in text.split(',') {
            let mut words = key.split_whitespace();
            let attribute = field(words.next().ok_or_else(syntax)?)?;
            let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(_) => return Err(syntax()),
            };
            order.push((attribute, descending));
        }
    }

    let mut matching: Vec<_> = items
        .of_type(ty, exact)
        .filter(|item| {
            conditions.iter().all(|c| {
                let value = item.value(c.attribute.name);
                match c.operator {
                    Operator::Equal => value == c.value,
                    Operator::NotEqual => value != c.value,
                    Operator::Like => like(&value, &c.value),
                }
            })
        })
        .collect();
    matching.sort_by(|a, b| {
        order
            .iter()
            .map(|(attribute, descending)| {
                let ordering = compare(&a.value(attribute.name), &b.value(attribute.name));
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    let headers = selected.iter().map(|a| column_name(a.name)).collect();
    let rows = matching
        .into_iter()
        .map(|item| selected.iter().map(|a| item.value(a.name)).collect())
        .collect();
    Ok((headers, rows))
}

/// The SQL column name HAC shows as a header.
fn column_name(attribute: &str) -> String {
    if attribute == "pk" {
        "PK".to_string()
    } else {
        format!("p_{}", attribute.to_ascii_lowercase())
    }
}

/// The attribute a `{[alias.]name[lang]}` field names. `Err(None)` is a syntax error.
fn field_of(
    ty: &TypeInfo,
    type_code: &str,
    text: &str,
) -> Result<&'static AttributeInfo, Option<String>> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or(None)?;
    let name = inner.rsplit(['.', ':']).next().unwrap_or(inner);
    let name = name.split('[').next().unwrap_or(name).trim();
    ty.attribute(name).ok_or_else(|| {
        Some(format!(
            "cannot search unknown field 'TableField(name='{name}',langPK='null',type={type_code})' within type {type_code} unless you disable checking"
        ))
    })
}

/// The `WHERE` and `ORDER BY` parts after the type; `None` when something else follows.
fn split_tail(tail: &str) -> Option<(Option<&str>, Option<&str>)> {
    if tail.is_empty() {
        return Some((None, None));
    }
    let lower = tail.to_ascii_lowercase();
    if let Some(order) = lower.strip_prefix("order by") {
        return Some((None, Some(&tail[tail.len() - order.len()..])));
    }
    lower.strip_prefix("where")?;
    let body = &tail[5..];
    match body.to_ascii_lowercase().find(" order by ") {
        Some(at) => Some((Some(&body[..at]), Some(&body[at + 10..]))),
        None => Some((Some(body), None)),
    }
}

/// `text` split at each `keyword` (any case) outside quotes.
fn split_keyword<'t>(text: &'t str, keyword: &str) -> Vec<&'t str> {
    let lower = text.to_ascii_lowercase();
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let mut index = 0;
    while index < text.len() {
        if text.as_bytes()[index] == b'\'' {
            quoted = !quoted;
        } else if !quoted && lower[index..].starts_with(keyword) {
            parts.push(&text[start..index]);
            index += keyword.len();
            start = index;
            continue;
        }
        index += 1;
    }
    parts.push(&text[start..]);
    parts
}

fn condition<F>(text: &str, field: &F) -> Option<Result<Condition, String>>
where
    F: Fn(&str) -> Result<&'static AttributeInfo, String>,
{
    let text = text.trim();
    let close = text.find('}')?;
    let (left, right) = text.split_at(close + 1);
    let right = right.trim();
    let lower = right.to_ascii_lowercase();
    let (operator, value) = if let Some(v) = right.strip_prefix("<>") {
        (Operator::NotEqual, v)
    } else if let Some(v) = right.strip_prefix("!=") {
        (Operator::NotEqual, v)
    } else if let Some(v) = right.strip_prefix('=') {
        (Operator::Equal, v)
    } else if lower.starts_with("like ") {
        (Operator::Like, &right[5..])
    } else {
        return None;
    };
    let value = value.trim();
    let value = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(quoted) => quoted.replace("''", "'"),
        None if !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            value.to_string()
        }
        None => return None,
    };
    Some(field(left).map(|attribute| Condition {
        attribute,
        operator,
        value,
    }))
}

/// SQL `LIKE`: `%` any run of characters, `_` any one character.
fn like(value: &str, pattern: &str) -> bool {
    // One row of the match table per pattern character: `row[j]` says whether the pattern so
    // far matches the value's first `j` characters. Time O(value × pattern), so a query full
    // of `%` cannot stall the emulator the way backtracking would.
    let value: Vec<char> = value.chars().collect();
    let mut row = vec![false; value.len() + 1];
    row[0] = true;
    for p in pattern.chars() {
        let mut next = vec![false; value.len() + 1];
        for j in 0..=value.len() {
            next[j] = match p {
                '%' => row[j] || (j > 0 && next[j - 1]),
                '_' => j > 0 && row[j - 1],
                c => j > 0 && row[j - 1] && value[j - 1] == c,
            };
        }
        row = next;
    }
    row[value.len()]
}

/// Numbers compare as numbers, everything else as text.
fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(query: &str) -> Vec<Vec<String>> {
        run(&Items::default(), query).unwrap().1
    }

    #[test]
    fn the_core_types_answer_with_sql_column_headers() {
        let (headers, rows) = run(
            &Items::default(),
            "SELECT {isocode}, {symbol} FROM {Currency} ORDER BY {isocode} DESC",
        )
        .unwrap();
        assert_eq!(headers, ["p_isocode", "p_symbol"]);
        assert_eq!(rows, [["USD", "$"], ["EUR", "€"]]);
        assert_eq!(
            rows_of_one("SELECT {name} FROM {Country} WHERE {isocode} = 'DE'"),
            "Germany"
        );
        assert_eq!(
            run(
                &Items::default(),
                "SELECT {pk}, {catalogVersion} FROM {Product}"
            )
            .unwrap()
            .0,
            ["PK", "p_catalogversion"]
        );
    }

    fn rows_of_one(query: &str) -> String {
        let mut rows = rows(query);
        assert_eq!(rows.len(), 1, "{query}: {rows:?}");
        rows.remove(0).remove(0)
    }

    #[test]
    fn subtypes_are_included_unless_the_type_is_exact() {
        assert_eq!(rows("SELECT {uid} FROM {User}").len(), 3);
        assert_eq!(rows("SELECT {uid} FROM {Principal}").len(), 6);
        assert!(rows("SELECT {uid} FROM {User!}").is_empty());
        assert_eq!(
            rows("SELECT {uid} FROM {Customer} ORDER BY {uid}"),
            [["anonymous"], ["keenreviewer1@hybris.com"]]
        );
    }

    #[test]
    fn conditions_combine_and_references_are_pks() {
        let catalog = rows_of_one("SELECT {pk} FROM {Catalog} WHERE {id} = 'Default'");
        let online = rows(&format!(
            "SELECT {{v.version}} FROM {{CatalogVersion AS v}} WHERE {{v.catalog}} = {catalog} AND {{v.active}} = 'true'"
        ));
        assert_eq!(online, [["Online"]]);
        assert_eq!(
            rows("SELECT {isocode} FROM {Language} WHERE {name} LIKE 'G%n' AND {isocode} <> 'en'"),
            [["de"]]
        );
        assert_eq!(
            rows("SELECT {uid} FROM {Principal} WHERE {uid} LIKE '%group' ORDER BY {uid} DESC")
                .len(),
            3
        );
        assert_eq!(
            rows("SELECT {name} FROM {Principal} WHERE {name} = 'it''s nobody'").len(),
            0
        );
    }

    #[test]
    fn errors_read_as_hacs() {
        let items = Items::default();
        assert_eq!(
            run(&items, "SELECT {pk} FROM {NoSuchType}").unwrap_err(),
            "type code 'NoSuchType' invalid"
        );
        assert!(
            run(&items, "SELECT {nope} FROM {Unit}")
                .unwrap_err()
                .starts_with("cannot search unknown field 'TableField(name='nope'")
        );
        for broken in [
            "SELECT {code} FROM Unit",
            "SELECT {code} FROM {Unit} WHERE {code} ~ 'x'",
            "SELECT {code} FROM {Unit} GROUP BY {code}",
            "SELECT {code} FROM {Unit} ORDER BY {code} SIDEWAYS",
            "FROM {Unit}",
        ] {
            assert!(
                run(&items, broken)
                    .unwrap_err()
                    .starts_with("invalid FlexibleSearch query"),
                "{broken}"
            );
        }
    }

    #[test]
    fn like_matches_sql_patterns() {
        assert!(like("keenreviewer1@hybris.com", "%@hybris.com"));
        assert!(like("de", "d_"));
        assert!(!like("de", "d"));
        assert!(like("", "%"));
        assert!(!like("en", "_"));
        assert!(like("abc", "a%c") && like("abc", "%%%") && !like("abc", "a%d"));
        // Many wildcards against a long value that does not match: answered, not stalled.
        let long = "a".repeat(2000);
        assert!(!like(&long, &format!("{}b", "%a".repeat(30))));
        assert!(like(&long, &"%a".repeat(30)));
    }
}
