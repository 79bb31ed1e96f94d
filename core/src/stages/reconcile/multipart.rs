//! `multipart/form-data` bodies (RFC 7578) for `forward_body`: Kong's `get_body()` gives the
//! parts as an object of name to value; we give the parts that are not files.

use serde_json::{Map, Value};

/// The fields of a `multipart/form-data` body: `{name: value}` for each part whose
/// `Content-Disposition` names it and gives no `filename` (file parts are left out: a file's
/// bytes are no form field and may be binary). A name given twice gives an array of its values
/// in order, as a urlencoded form does (Kong's `get_all()` kept the last part, while upstreams
/// may read the first: the service must see every one). Values that are not UTF-8 get U+FFFD
/// for the bad bytes.
///
/// Read leniently, never failing: without a `boundary` parameter the object is empty (Kong's
/// parser finds no part either); a part without the blank line that ends its headers, or without
/// a closing delimiter, is left out.
pub fn form_fields(content_type: &str, body: &[u8]) -> Value {
    let mut out = Map::new();
    let Some(boundary) = boundary(content_type) else {
        return Value::Object(out);
    };
    let delimiter = [b"--", boundary.as_bytes()].concat();
    let next_delimiter = [b"\r\n--", boundary.as_bytes()].concat();
    // The preamble ends at the first delimiter; each part runs to CRLF + the next delimiter.
    let Some(mut rest) = find(body, &delimiter).and_then(|at| body.get(at + delimiter.len()..))
    else {
        return Value::Object(out);
    };
    while !rest.starts_with(b"--") {
        // The delimiter line may carry transport padding before its CRLF.
        let Some(part_start) = find(rest, b"\r\n").and_then(|at| rest.get(at + 2..)) else {
            break;
        };
        let Some(end) = find(part_start, &next_delimiter) else {
            break;
        };
        let part = part_start.get(..end).unwrap_or_default();
        rest = part_start
            .get(end + next_delimiter.len()..)
            .unwrap_or_default();
        if let Some((name, value)) = field(part) {
            let value = Value::String(String::from_utf8_lossy(value).into_owned());
            super::call::push_repeated(&mut out, name, value);
        }
    }
    Value::Object(out)
}

/// The `boundary` parameter of a `Content-Type`, unquoted; `None` when absent or empty.
fn boundary(content_type: &str) -> Option<String> {
    params(content_type)
        .into_iter()
        .find(|(key, _)| key == "boundary")
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// The `key=value` parameters after the first `;` of a header value, keys lower-case, values
/// trimmed and unquoted.
fn params(header_value: &str) -> Vec<(String, String)> {
    header_value
        .split(';')
        .skip(1)
        .filter_map(|piece| {
            let (key, value) = piece.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((key.trim().to_ascii_lowercase(), value.to_string()))
        })
        .collect()
}

/// A part's field name and value, when it is a named part that is not a file.
fn field(part: &[u8]) -> Option<(String, &[u8])> {
    let (head, value) = if part.starts_with(b"\r\n") {
        (&b""[..], part.get(2..)?)
    } else {
        let at = find(part, b"\r\n\r\n")?;
        (part.get(..at)?, part.get(at + 4..)?)
    };
    let head = std::str::from_utf8(head).ok()?;
    let disposition = head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    let mut name = None;
    for (key, value) in params(disposition) {
        match key.as_str() {
            "name" => name = Some(value),
            "filename" | "filename*" => return None,
            _ => {}
        }
    }
    Some((name?, value))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    #[test]
    fn form_fields_gives_named_text_parts_and_skips_files() {
        let body = b"preamble\r\n--XyZ\r\n\
            Content-Disposition: form-data; name=\"user\"\r\n\r\n\
            alice\r\n\
            --XyZ  \r\n\
            content-disposition: form-data; name=\"note\"\r\nContent-Type: text/plain\r\n\r\n\
            two\r\nlines\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\n\r\n\
            \x00\xff\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"user\"\r\n\r\n\
            bob\r\n\
            --XyZ--\r\nepilogue";
        assert_eq!(
            form_fields(CT, body),
            json!({"user": ["alice", "bob"], "note": "two\r\nlines"})
        );
    }

    /// Regression (review): a name given twice showed the auth service only its last part, while
    /// upstreams read the first (Go's `FormValue`, Flask's `request.form[...]`): `role=admin`
    /// then `role=user` was judged as `user` and acted on as `admin`. Every value is shown, in
    /// order, as for a urlencoded form.
    #[test]
    fn form_fields_repeated_name_shows_every_value() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nadmin\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nuser\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nguest\r\n--XyZ--";
        assert_eq!(
            form_fields(CT, body),
            json!({"role": ["admin", "user", "guest"]})
        );
    }

    #[test]
    fn form_fields_quoted_boundary_empty_value_and_bad_utf8() {
        let ct = "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b\"";
        let body = b"--a b\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n\
            --a b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\xffok\r\n--a b--";
        assert_eq!(form_fields(ct, body), json!({"e": "", "x": "\u{fffd}ok"}));
    }

    #[test]
    fn form_fields_without_boundary_or_parts_is_empty() {
        for (ct, body) in [
            ("multipart/form-data", &b"--XyZ\r\n\r\nx\r\n--XyZ--"[..]),
            ("multipart/form-data; boundary=", b"--\r\n\r\nx\r\n----"),
            (CT, b""),
            (CT, b"no delimiter at all"),
            (CT, b"--XyZ--"),
        ] {
            assert_eq!(form_fields(ct, body), json!({}), "{ct}");
        }
    }

    #[test]
    fn form_fields_leaves_out_unnamed_unterminated_and_headless_parts() {
        let body = b"--XyZ\r\nContent-Type: text/plain\r\n\r\nno name\r\n\
            --XyZ\r\n\r\nno headers\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"ok\"\r\n\r\nyes\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"cut\"\r\n\r\nnever closed";
        assert_eq!(form_fields(CT, body), json!({"ok": "yes"}));
        let no_blank_line = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n--XyZ--";
        assert_eq!(form_fields(CT, no_blank_line), json!({}));
    }
}
