//! Text forms of HAC results: aligned tables and RFC 4180 CSV.

/// An aligned table with a header rule; widths count characters.
pub(crate) fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let columns = headers
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0usize; columns];
    for row in std::iter::once(headers).chain(rows.iter().map(Vec::as_slice)) {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(display(cell).chars().count());
        }
    }
    let line = |row: &[String]| {
        let cells: Vec<String> = (0..columns)
            .map(|i| {
                let cell = row.get(i).map(|c| display(c)).unwrap_or_default();
                let pad = widths[i].saturating_sub(cell.chars().count());
                format!("{cell}{}", " ".repeat(pad))
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    if !headers.is_empty() {
        out.push_str(&line(headers));
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&rule.join("  "));
        out.push('\n');
    }
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// Control characters would break the table's lines; show them escaped.
fn display(cell: &str) -> String {
    cell.chars()
        .flat_map(|c| match c {
            '\n' => vec!['\\', 'n'],
            '\t' => vec!['\\', 't'],
            '\r' => vec!['\\', 'r'],
            c => vec![c],
        })
        .collect()
}

/// CSV (RFC 4180): fields with commas, quotes or line breaks are quoted, quotes doubled.
pub(crate) fn csv(headers: &[String], rows: &[Vec<String>]) -> String {
    let field = |cell: &String| {
        if cell.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", cell.replace('"', "\"\""))
        } else {
            cell.clone()
        }
    };
    let mut out = String::new();
    for row in std::iter::once(headers).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = row.iter().map(field).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn tables_align_columns() {
        let out = table(
            &strings(&["PK", "p_uid"]),
            &[strings(&["1", "admin"]), strings(&["22", "a\nb"])],
        );
        assert_eq!(out, "PK  p_uid\n--  -----\n1   admin\n22  a\\nb\n");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let out = csv(&strings(&["a", "b"]), &[strings(&["x,y", "say \"hi\""])]);
        assert_eq!(out, "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n");
    }
}
