//! Form bodies as HTTPie 3.2.4 sends them: `application/x-www-form-urlencoded` encoded like
//! Python's `urlencode` (`quote_plus`), and `multipart/form-data` laid out like
//! `requests_toolbelt`'s `MultipartEncoder` (only the random boundary differs).
//!
//! Pure functions over the parts built by [`crate::request_items`].

use crate::request_items::Part;

/// Python's `quote_plus`: letters, digits and `_.-~` as they are, space as `+`, every other
/// byte of the UTF-8 text as `%XX`.
fn quote_plus(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

/// `name=value&…`, as HTTPie (through `requests`) encodes form fields.
pub(crate) fn form_urlencode(fields: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        quote_plus(name, &mut out);
        out.push('=');
        quote_plus(value, &mut out);
    }
    out.into_bytes()
}

/// A header parameter value as urllib3 writes it (HTML5 style: `"`, CR and LF percent-encoded).
fn quoted_param(value: &str) -> String {
    value
        .replace('\n', "%0A")
        .replace('\r', "%0D")
        .replace('"', "%22")
}

/// 32 hex digits from the OS generator, like the `uuid4().hex` boundary of
/// `requests_toolbelt`: unguessable, so a body cannot be crafted to contain it (and
/// [`multipart_body`] checks that none does).
fn random_boundary() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Encodes `parts` with `boundary`.
pub(crate) fn encode_multipart(parts: &[Part], boundary: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::Field { name, value } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                        quoted_param(name)
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(value.as_bytes());
            }
            Part::File {
                name,
                filename,
                content_type,
                contents,
            } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n",
                        quoted_param(name),
                        quoted_param(filename)
                    )
                    .as_bytes(),
                );
                if let Some(content_type) = content_type {
                    body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(contents);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// The `Content-Type` and the body, with `boundary` if given (as HTTPie's `--boundary`),
/// else with a fresh one that occurs in no part; an error when the OS random generator fails.
pub(crate) fn multipart_body(
    parts: &[Part],
    boundary: Option<&str>,
) -> Result<(String, Vec<u8>), getrandom::Error> {
    if let Some(boundary) = boundary {
        let body = encode_multipart(parts, boundary);
        return Ok((format!("multipart/form-data; boundary={boundary}"), body));
    }
    loop {
        let boundary = random_boundary()?;
        let clash = parts.iter().any(|part| match part {
            Part::Field { value, .. } => contains(value.as_bytes(), boundary.as_bytes()),
            Part::File { contents, .. } => contains(contents, boundary.as_bytes()),
        });
        if !clash {
            let body = encode_multipart(parts, &boundary);
            return Ok((format!("multipart/form-data; boundary={boundary}"), body));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoding_matches_python_quote_plus() {
        let fields = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "x~*y+z é".to_string()),
            ("c d".to_string(), "&%=".to_string()),
        ];
        assert_eq!(
            String::from_utf8(form_urlencode(&fields)).unwrap(),
            "a=1&b=x~%2Ay%2Bz+%C3%A9&c+d=%26%25%3D"
        );
        assert!(form_urlencode(&[]).is_empty());
    }

    #[test]
    fn multipart_layout_matches_requests_toolbelt() {
        let parts = vec![
            Part::Field {
                name: "a".into(),
                value: "1".into(),
            },
            Part::File {
                name: "f\"".into(),
                filename: "t.txt".into(),
                content_type: Some("text/plain".into()),
                contents: b"hello\n".to_vec(),
            },
            Part::File {
                name: "g".into(),
                filename: "noext".into(),
                content_type: None,
                contents: b"x".to_vec(),
            },
        ];
        let body = String::from_utf8(encode_multipart(&parts, "B")).unwrap();
        assert_eq!(
            body,
            "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
             --B\r\nContent-Disposition: form-data; name=\"f%22\"; filename=\"t.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nhello\n\r\n\
             --B\r\nContent-Disposition: form-data; name=\"g\"; filename=\"noext\"\r\n\r\nx\r\n\
             --B--\r\n"
        );
        assert_eq!(encode_multipart(&[], "B"), b"--B--\r\n");
        let (content_type, body) = multipart_body(&parts, None).unwrap();
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        assert_eq!(boundary.len(), 32);
        assert!(boundary.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(body, encode_multipart(&parts, boundary));
        let (again, _) = multipart_body(&parts, None).unwrap();
        assert_ne!(again, content_type, "boundaries are fresh each time");
        assert_eq!(
            multipart_body(&[], Some("given")).unwrap(),
            (
                "multipart/form-data; boundary=given".to_string(),
                b"--given--\r\n".to_vec()
            )
        );
    }
}
