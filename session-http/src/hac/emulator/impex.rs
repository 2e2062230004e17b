//! The emulator's Impex import: `INSERT`, `UPDATE`, `INSERT_UPDATE` and `REMOVE` headers for
//! every type of the emulator's items, with `[unique=true]`, `[default=…]` and `[lang=…]`
//! modifiers and reference columns resolved through their pattern, as in
//! `catalogVersion(catalog(id),version)` with the value `Default:Staged`. A bare reference
//! column takes a PK.
//!
//! Lines that cannot be imported are reported as the real HAC reports them: the line, four
//! commas and the reason. Leniency: a product may be imported without a catalog version (the
//! real system requires one), so that scripts for a bare system work.

use std::collections::BTreeMap;

use super::items::{AttributeInfo, Items, Kind, TypeInfo, type_info};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Insert,
    Update,
    InsertUpdate,
    Remove,
}

/// How a reference column's value finds its item: the referenced type, and for each of the
/// pattern's attributes either a part of the value or a nested lookup.
#[derive(Debug)]
struct Lookup {
    ty: &'static TypeInfo,
    parts: Vec<(&'static AttributeInfo, Option<Lookup>)>,
}

impl Lookup {
    /// How many `:`-separated parts a value for this lookup has.
    fn leaves(&self) -> usize {
        self.parts
            .iter()
            .map(|(_, nested)| nested.as_ref().map_or(1, Lookup::leaves))
            .sum()
    }

    /// The PK of the item the parts name.
    fn resolve<'v>(&self, items: &Items, parts: &mut impl Iterator<Item = &'v str>) -> Option<u64> {
        let mut key = Vec::new();
        for (attribute, nested) in &self.parts {
            let value = match nested {
                Some(lookup) => lookup.resolve(items, parts)?.to_string(),
                None => parts.next()?.to_string(),
            };
            key.push((attribute.name, value));
        }
        items.find(self.ty, &key)
    }
}

#[derive(Debug)]
struct Column {
    attribute: &'static AttributeInfo,
    lookup: Option<Lookup>,
    unique: bool,
    default: Option<String>,
}

#[derive(Debug)]
struct Header {
    mode: Mode,
    ty: &'static TypeInfo,
    columns: Vec<Column>,
    /// The columns that identify an item: those marked unique, else the type's key attributes
    /// among the columns.
    key: Vec<usize>,
}

/// Imports `script` into `items`; returns a line for each problem (none: success).
pub(crate) fn import(items: &mut Items, script: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut header: Option<Result<Header, ()>> = None;
    for line in script.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('$') {
            continue;
        }
        if trimmed.starts_with(';') {
            let outcome = match &header {
                Some(Ok(header)) => import_line(items, header, trimmed),
                Some(Err(())) => Err("line belongs to an unresolvable header".to_string()),
                None => Err("no header line for this value line".to_string()),
            };
            if let Err(reason) = outcome {
                problems.push(format!("{trimmed},,,,{reason}"));
            }
            continue;
        }
        header = Some(parse_header(trimmed).map_err(|reason| {
            problems.push(format!("{trimmed},,,,{reason}"));
        }));
    }
    problems
}

fn import_line(items: &mut Items, header: &Header, line: &str) -> Result<(), String> {
    let cells = cells(line);
    let mut values = BTreeMap::new();
    let mut raw_key = Vec::new();
    let mut key = Vec::new();
    for (index, column) in header.columns.iter().enumerate() {
        // The first cell names a subtype to create, which the emulator does not need.
        let written = cells.get(index + 1).map_or("", String::as_str);
        let text = match (written, &column.default) {
            ("", Some(default)) => default.as_str(),
            _ => written,
        };
        let is_key = header.key.contains(&index);
        if text.is_empty() {
            if is_key {
                return Err(format!(
                    "missing value for unique attribute {}",
                    column.attribute.name
                ));
            }
            continue;
        }
        let value = resolve(items, column, text)?;
        if is_key {
            raw_key.push(format!("{} '{text}'", column.attribute.name));
            key.push((column.attribute.name, value.clone()));
        }
        values.insert(column.attribute.name, value);
    }
    let existing = if key.is_empty() {
        None
    } else {
        items.find(header.ty, &key)
    };
    let described = || format!("{} {}", header.ty.code, raw_key.join(", "));
    match (header.mode, existing) {
        (Mode::Insert, Some(_)) => Err(format!(
            "item {} with {} already exists",
            header.ty.code,
            raw_key.join(", ")
        )),
        (Mode::Update, None) => Err(format!(
            "no existing item found for update: {}",
            described()
        )),
        (Mode::Remove, Some(pk)) => {
            items.remove(pk);
            Ok(())
        }
        (Mode::Remove, None) => Ok(()),
        (Mode::Update | Mode::InsertUpdate, Some(pk)) => {
            items.update(pk, values);
            Ok(())
        }
        (Mode::Insert | Mode::InsertUpdate, None) => {
            items.insert(header.ty, values);
            Ok(())
        }
    }
}

/// A value line's cells, split at `;` outside double quotes; a quoted cell loses its quotes
/// and reads `""` as one quote, as Impex does.
fn cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if current.trim().is_empty() => {
                current.clear();
                quoted = true;
            }
            ';' if !quoted => cells.push(std::mem::take(&mut current).trim().to_string()),
            _ => current.push(c),
        }
    }
    cells.push(current.trim().to_string());
    cells
}

/// The stored value of `text` in `column`: the text, or the PK of the item it names.
fn resolve(items: &Items, column: &Column, text: &str) -> Result<String, String> {
    let Kind::Reference(_) = column.attribute.kind else {
        return Ok(text.to_string());
    };
    let unresolved = || {
        format!(
            "cannot resolve value '{text}' for attribute '{}'",
            column.attribute.name
        )
    };
    let pk = match &column.lookup {
        Some(lookup) => {
            let parts: Vec<&str> = text.split(':').collect();
            if parts.len() != lookup.leaves() {
                return Err(unresolved());
            }
            lookup.resolve(items, &mut parts.into_iter())
        }
        None => text
            .parse::<u64>()
            .ok()
            .filter(|pk| items.get(*pk).is_some()),
    };
    pk.map(|pk| pk.to_string()).ok_or_else(unresolved)
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
    let ty = type_info(type_code).ok_or_else(|| format!("unknown type '{type_code}' in header"))?;
    let mut columns = Vec::new();
    let mut unknown = Vec::new();
    for spec in fields.filter(|f| !f.is_empty()) {
        match column(ty, spec) {
            Ok(column) => columns.push(column),
            Err(name) => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "unknown attributes [{}] - cannot resolve them",
            unknown.join(", ")
        ));
    }
    let marked: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].unique).collect();
    let key = if marked.is_empty() {
        (0..columns.len())
            .filter(|&i| ty.unique.contains(&columns[i].attribute.name))
            .collect()
    } else {
        marked
    };
    if key.is_empty() && mode != Mode::Insert {
        return Err(format!("no unique attributes in {} header", ty.code));
    }
    Ok(Header {
        mode,
        ty,
        columns,
        key,
    })
}

/// One header column: `name[(pattern)][modifiers]`. `Err` names what cannot be resolved as
/// `Type.attribute`.
fn column(ty: &'static TypeInfo, spec: &str) -> Result<Column, String> {
    let (body, modifiers) = split_modifiers(spec);
    let (name, pattern) = match body.find('(') {
        Some(open) if body.ends_with(')') => (&body[..open], Some(&body[open + 1..body.len() - 1])),
        _ => (body, None),
    };
    let name = name.trim();
    let unknown = || format!("{}.{name}", ty.code);
    let attribute = ty.attribute(name).ok_or_else(unknown)?;
    let lookup = match (pattern, attribute.kind) {
        (None, _) => None,
        (Some(pattern), Kind::Reference(to)) => {
            Some(lookup(type_info(to).ok_or_else(unknown)?, pattern)?)
        }
        (Some(_), Kind::Text) => return Err(unknown()),
    };
    let modifier = |wanted: &str| {
        modifiers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(wanted))
            .map(|(_, v)| v.to_string())
    };
    Ok(Column {
        attribute,
        lookup,
        unique: modifier("unique").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        default: modifier("default"),
    })
}

/// A reference pattern such as `catalog(id),version` for the type `ty`.
fn lookup(ty: &'static TypeInfo, pattern: &str) -> Result<Lookup, String> {
    let mut parts = Vec::new();
    for piece in split_top_level(pattern) {
        let piece = piece.trim();
        let (name, nested) = match piece.find('(') {
            Some(open) if piece.ends_with(')') => {
                (&piece[..open], Some(&piece[open + 1..piece.len() - 1]))
            }
            _ => (piece, None),
        };
        let unknown = || format!("{}.{}", ty.code, name.trim());
        let attribute = ty.attribute(name.trim()).ok_or_else(unknown)?;
        let nested = match (nested, attribute.kind) {
            (None, _) => None,
            (Some(inner), Kind::Reference(to)) => {
                Some(lookup(type_info(to).ok_or_else(unknown)?, inner)?)
            }
            (Some(_), Kind::Text) => return Err(unknown()),
        };
        parts.push((attribute, nested));
    }
    Ok(Lookup { ty, parts })
}

/// `text` split at commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A column spec without its trailing `[k=v,…]` groups, and those modifiers.
fn split_modifiers(spec: &str) -> (&str, Vec<(&str, &str)>) {
    let Some(open) = spec.find('[').filter(|&open| {
        // Brackets inside a pattern's parentheses belong to the pattern.
        spec[..open].matches('(').count() == spec[..open].matches(')').count()
    }) else {
        return (spec.trim(), Vec::new());
    };
    let modifiers = spec[open..]
        .split(['[', ']', ','])
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    (spec[..open].trim(), modifiers)
}

#[cfg(test)]
mod tests {
    use super::super::flexsearch;
    use super::*;

    fn query(items: &Items, query: &str) -> Vec<Vec<String>> {
        flexsearch::run(items, query).unwrap().1
    }

    #[test]
    fn products_go_into_a_catalog_version_with_a_unit() {
        let mut items = Items::default();
        let problems = import(
            &mut items,
            "$catalogVersion=catalogVersion(catalog(id),version)[unique=true,default=Default:Staged]\n\
             INSERT_UPDATE Product;code[unique=true];name[lang=en];unit(code);catalogVersion(catalog(id),version)[unique=true,default=Default:Staged]\n\
             ;p1;First;pieces;\n\
             ;p1;First online;pieces;Default:Online\n\
             ;p2;\"Second; quoted\";kg;Default:Staged\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let staged = query(
            &items,
            "SELECT {v.pk} FROM {CatalogVersion AS v} WHERE {v.version} = 'Staged'",
        )[0][0]
            .clone();
        assert_eq!(
            query(
                &items,
                &format!(
                    "SELECT {{code}}, {{name}} FROM {{Product}} WHERE {{catalogVersion}} = {staged} ORDER BY {{code}}"
                )
            ),
            [["p1", "First"], ["p2", "Second; quoted"]]
        );
        assert_eq!(query(&items, "SELECT {code} FROM {Product}").len(), 3);
        let problems = import(
            &mut items,
            "UPDATE Product;code[unique=true];catalogVersion(catalog(id),version)[unique=true];name\n\
             ;p1;Default:Online;Renamed\n\
             ;p1;Nowhere:Staged;Lost\n\
             ;p9;Default:Staged;Missing\n",
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].ends_with(
                ",,,,cannot resolve value 'Nowhere:Staged' for attribute 'catalogVersion'"
            )
        );
        assert!(problems[1].contains("no existing item found for update: Product code 'p9'"));
        assert_eq!(
            query(
                &items,
                "SELECT {name} FROM {Product} WHERE {name} = 'Renamed'"
            )
            .len(),
            1
        );
    }

    #[test]
    fn core_types_are_imported_and_removed() {
        let mut items = Items::default();
        let problems = import(
            &mut items,
            "INSERT_UPDATE Currency;isocode[unique=true];name;symbol;digits\n;CHF;Swiss Franc;CHF;2\n\
             INSERT_UPDATE Country;isocode[unique=true];name\n;FR;France\n\
             INSERT Employee;uid[unique=true];name\n;ops;Operations\n\
             REMOVE Language;isocode[unique=true]\n;de\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            query(
                &items,
                "SELECT {name} FROM {Currency} WHERE {isocode} = 'CHF'"
            ),
            [["Swiss Franc"]]
        );
        assert_eq!(query(&items, "SELECT {uid} FROM {User}").len(), 4);
        assert_eq!(query(&items, "SELECT {isocode} FROM {Language}"), [["en"]]);
    }

    #[test]
    fn broken_headers_and_lines_are_reported_line_by_line() {
        let mut items = Items::default();
        let problems = import(
            &mut items,
            "INSERT Unit;code[unique=true]\n;pieces\n\
             INSERT_UPDATE Foo;code\n;x\n\
             UPSERT Unit;code\n\
             INSERT_UPDATE Unit;code;colour\n\
             INSERT_UPDATE Unit;name\n\
             INSERT_UPDATE Unit;code[unique=true];name\n;;nameless\n\
             INSERT_UPDATE Unit;name(code)\n\
             ;orphan\n",
        );
        let reasons: Vec<&str> = problems
            .iter()
            .map(|p| p.split(",,,,").nth(1).unwrap())
            .collect();
        assert_eq!(
            reasons,
            [
                "item Unit with code 'pieces' already exists",
                "unknown type 'Foo' in header",
                "line belongs to an unresolvable header",
                "unknown header mode 'UPSERT'",
                "unknown attributes [Unit.colour] - cannot resolve them",
                "no unique attributes in Unit header",
                "missing value for unique attribute code",
                "unknown attributes [Unit.name] - cannot resolve them",
                "line belongs to an unresolvable header",
            ]
        );
    }
}
