//! `multipart/form-data` bodies (RFC 7578) for `forward_body`: Kong's `get_body()` gives the
//! parts as an object of name to value; we give the parts that are not files.

use serde_json::{Map, Value};

/// The fields of a `multipart/form-data` body: `{name: value}` for each part whose
/// `Content-Disposition` names it and gives no file name (file parts are left out: a file's
/// bytes are no form field and may be binary; an empty `filename=""`, which Go reads as a
/// value, is shown as one). A name given twice gives an array of its values in order, as a
/// urlencoded form does (Kong's `get_all()` kept the last part, while upstreams may read the
/// first: the service must see every one). Values that are not UTF-8 get U+FFFD for the bad
/// bytes.
///
/// `None` when the body is not a form every parser reads alike, so the service cannot be shown
/// what the upstream may act on: no `boundary`, a preamble or an epilogue (Django reads either
/// as a part), the delimiter anywhere but at the start of a line (Django ends a part there), a
/// line ending without CR (Go accepts bare LF, werkzeug bare CR), a folded part header line, a
/// part without the blank line that ends its headers, no closing delimiter, a
/// `Content-Transfer-Encoding` that changes the bytes (Go decodes quoted-printable), or a
/// `Content-Disposition` whose parameters do not parse plainly (a quote inside a value, a
/// single-quoted value, which PHP unquotes, a name given twice, RFC 2231 `name*`, which Go
/// decodes, `filename*` without `filename`, a file to Go and a field to PHP). A part without a
/// `Content-Disposition` name is named by its `Content-ID`, as Rack names it.
pub fn form_fields(content_type: &str, body: &[u8]) -> Option<Value> {
    let mut out = Map::new();
    let boundary = boundary(content_type)?;
    let delimiter = [b"--", boundary.as_bytes()].concat();
    let next_delimiter = [b"\r\n--", boundary.as_bytes()].concat();
    // The body starts with a delimiter: no preamble (Django reads one holding a blank line and
    // a Content-Disposition as a part); each part runs to CRLF and the next delimiter.
    let mut rest = body.strip_prefix(delimiter.as_slice())?;
    loop {
        if let Some(close) = rest.strip_prefix(b"--") {
            // No epilogue either (Django reads it as a part) but transport padding and a line
            // ending.
            let padding = close
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .count();
            let close = close.get(padding..).unwrap_or_default();
            return (close.is_empty() || close == b"\r\n").then_some(Value::Object(out));
        }
        // A delimiter that opens a part ends its line at once: transport padding there (RFC
        // 2046 allows it) makes PHP and busboy skip the part, and Rack and formidable read it
        // into the part before (review).
        let part_start = rest.strip_prefix(b"\r\n")?;
        let end = find(part_start, &next_delimiter)?;
        rest = part_start.get(end + next_delimiter.len()..)?;
        let part = part_start.get(..end)?;
        // Django ends a part at the delimiter anywhere, werkzeug after a bare CR or LF.
        if find(part, &delimiter).is_some() {
            return None;
        }
        let read = Part::read(part)?;
        if !read.file {
            let value = Value::String(String::from_utf8_lossy(read.value).into_owned());
            for name in read.names {
                super::call::push_repeated(&mut out, name, value.clone());
            }
        }
    }
}

/// The body without the parts (files too) whose name `drop` picks, every other byte as it came
/// (key-auth's `hide_credentials` with `key_in_body`); `None` when no part is dropped or the
/// body is not a form [`form_fields`] reads.
pub fn without_parts(
    content_type: &str,
    body: &[u8],
    drop: impl Fn(&str) -> bool,
) -> Option<Vec<u8>> {
    form_fields(content_type, body)?;
    let boundary = boundary(content_type)?;
    let delimiter = [b"--", boundary.as_bytes()].concat();
    let next_delimiter = [b"\r\n--", boundary.as_bytes()].concat();
    let mut rest = body.strip_prefix(delimiter.as_slice())?;
    let mut out = delimiter.clone();
    let mut dropped = false;
    // Each part is carried with what follows its delimiter up to the next one: padding, CRLF,
    // the part, CRLF and the next delimiter; the closing `--` and its line end as they came.
    while !rest.starts_with(b"--") {
        let eol = find(rest, b"\r\n")?;
        let part_start = rest.get(eol + 2..)?;
        let end = find(part_start, &next_delimiter)?;
        let taken = eol + 2 + end + next_delimiter.len();
        let named = Part::read(part_start.get(..end)?)?
            .names
            .iter()
            .any(|n| drop(n));
        if named {
            dropped = true;
        } else {
            out.extend_from_slice(rest.get(..taken)?);
        }
        rest = rest.get(taken..)?;
    }
    if out.len() == delimiter.len() {
        // No part left: the one empty form every reader takes (Rack 3 refuses any other).
        out.extend_from_slice(b"--\r\n");
    } else {
        out.extend_from_slice(rest);
    }
    dropped.then_some(out)
}

/// Inserts `spaces` spaces into a form ([`form_fields`] reads) right after its closing
/// delimiter's `--`, before any line end: transport padding, which every reader tried skips
/// there (PHP, busboy, Rack, formidable, python-multipart, Werkzeug, Django, Go), where on a
/// delimiter that opens a part some skip that part. False, and nothing changed, when `form`
/// does not end with the type's closing delimiter (and an optional CRLF).
pub fn pad_closing_delimiter(content_type: &str, form: &mut Vec<u8>, spaces: usize) -> bool {
    let Some(boundary) = boundary(content_type) else {
        return false;
    };
    let close = [b"--", boundary.as_bytes(), b"--"].concat();
    let body = form.strip_suffix(b"\r\n").unwrap_or(form);
    let padding = body
        .iter()
        .rev()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    let at = body.len() - padding;
    if !body.get(..at).is_some_and(|b| b.ends_with(&close)) {
        return false;
    }
    form.splice(at..at, std::iter::repeat_n(b' ', spaces));
    true
}

/// The `boundary` parameter of a `Content-Type`; `None` when absent, empty, not plain, or longer
/// than RFC 2046's 70 characters (each search for it costs the body's length times its own).
pub(super) fn boundary(content_type: &str) -> Option<String> {
    params(content_type)?
        .into_iter()
        .find(|(key, _)| key == "boundary")
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty() && value.len() <= 70)
}

/// Most parameters a plain `Content-Type` or `Content-Disposition` holds here (they hold a few:
/// `name`, `filename`, `filename*`, `boundary`, `charset`): each new key is checked against the
/// ones before it, and a part of 20,000 parameters cost 2 s of CPU (review).
const MAX_PARAMS: usize = 16;

/// The `key=value` parameters after the first `;` of a header value, keys lower-case, values
/// trimmed and unquoted; `None` unless each is plain: a quoted value holds no `"` or `\`, an
/// unquoted one no `"`, no key repeats or is an RFC 2231 one (`name*`) but `filename*`, and
/// there are at most [`MAX_PARAMS`].
fn params(header_value: &str) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for piece in header_value.split(';').skip(1) {
        if piece.trim().is_empty() {
            continue;
        }
        if out.len() == MAX_PARAMS {
            return None;
        }
        let (key, value) = piece.split_once('=')?;
        // `name ="x"`: Go reads the name, Rack 2's pattern finds none there.
        let blank = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
        if blank(key.as_bytes().last()) || blank(value.as_bytes().first()) {
            return None;
        }
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(quoted) => quoted.strip_suffix('"')?,
            None => value,
        };
        let extended = key.contains('*') && key != "filename*";
        // PHP strips single quotes too (`name='apikey'` is `apikey`); Go keeps them.
        let unplain = value.bytes().any(|b| b == b'"' || b == b'\\') || value.starts_with('\'');
        if extended || unplain || out.iter().any(|(k, _)| *k == key) {
            return None;
        }
        out.push((key, value.to_string()));
    }
    Some(out)
}

/// One part as every reader reads it.
struct Part<'a> {
    /// The names readers file it under: the `Content-Disposition` name; without one (or with an
    /// empty one), the `Content-ID` (Rack 2) and the part's type with `[]` (Rack 3:
    /// `text/plain[]` when untyped), for a part that is no file.
    names: Vec<String>,
    /// A file: a non-empty `filename` (Go reads `filename=""` as a value).
    file: bool,
    value: &'a [u8],
}

impl<'a> Part<'a> {
    /// `None` when the part cannot be read plainly: a folded header line or a bare CR or LF,
    /// two `Content-Disposition`s, a `Content-Transfer-Encoding` that changes the bytes,
    /// a line with a second `:` (Rack 2 finds `Content-Disposition:`, `Content-ID:` and
    /// `Content-Type:` anywhere in the part's head), parameters that do not parse plainly ([`params`]),
    /// or `filename*` without `filename` (PHP reads that part as a field, Go as a file).
    fn read(part: &'a [u8]) -> Option<Self> {
        let (head, value) = if part.starts_with(b"\r\n") {
            (&b""[..], part.get(2..)?)
        } else {
            let at = find(part, b"\r\n\r\n")?;
            (part.get(..at)?, part.get(at + 4..)?)
        };
        let mut disposition = None;
        let mut content_id = None;
        let mut part_type = None;
        let lines = std::str::from_utf8(head).ok()?.split("\r\n");
        for line in lines.filter(|line| !line.is_empty()) {
            // A folded line (Go and werkzeug join it to the header before) or a bare CR or LF
            // (werkzeug's line ending) is a header this reader would not see as they do.
            if matches!(line.as_bytes().first(), Some(b' ' | b'\t'))
                || line.bytes().any(|b| b == b'\r' || b == b'\n')
            {
                return None;
            }
            // Rack 2 finds `Content-Disposition:`, `Content-ID:` and `Content-Type:` anywhere in
            // the part's head: in a value (a second `:`) or another header's name.
            let (name, value) = line.split_once(':')?;
            let name = name.trim();
            let lower = name.to_ascii_lowercase();
            let inside = ["content-disposition", "content-id", "content-type"]
                .iter()
                .any(|m| lower.len() > m.len() && lower.ends_with(m));
            if value.contains(':') || inside {
                return None;
            }
            if name.eq_ignore_ascii_case("content-disposition") {
                if disposition.replace(value).is_some() {
                    return None;
                }
            } else if name.eq_ignore_ascii_case("content-id") {
                content_id = Some(value.trim().to_string());
            } else if name.eq_ignore_ascii_case("content-type") {
                part_type = Some(value.trim().to_string());
            } else if name.eq_ignore_ascii_case("content-transfer-encoding") {
                let plain = ["7bit", "8bit", "binary"];
                if !plain.iter().any(|p| value.trim().eq_ignore_ascii_case(p)) {
                    return None;
                }
            }
        }
        let mut name = None;
        let (mut file, mut plain_filename, mut extended) = (false, false, false);
        for (key, value) in params(disposition.unwrap_or_default())? {
            match key.as_str() {
                "name" => name = Some(value),
                "filename" => {
                    plain_filename = true;
                    file |= !value.is_empty();
                }
                "filename*" => {
                    extended = true;
                    file |= !value.is_empty();
                }
                _ => {}
            }
        }
        if extended && !plain_filename {
            return None;
        }
        let mut names = Vec::new();
        match name.filter(|n| !n.is_empty()) {
            Some(name) => names.push(name),
            None if !file => {
                names.extend(content_id.filter(|id| !id.is_empty()));
                let mut part_type = part_type.unwrap_or_else(|| "text/plain".into());
                part_type.push_str("[]");
                names.push(part_type);
            }
            None => {}
        }
        Some(Self { names, file, value })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    // To each occurrence of the first byte, then the rest: a comparison at every byte of a
    // large part cost a third of reading it (review).
    let mut from = 0;
    loop {
        let at = from + haystack.get(from..)?.iter().position(|&b| b == first)?;
        if haystack.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    /// Regression (review): a part or type of thousands of parameters (each checked against
    /// the ones before it) cost seconds; more than [`MAX_PARAMS`] is no plain form.
    #[test]
    fn form_fields_refuses_more_parameters_than_a_plain_header_holds() {
        let extra = |n: usize| (1..n).map(|i| format!("; a{i}=1")).collect::<String>();
        let form = |n: usize| {
            let head = format!("Content-Disposition: form-data; name=\"k\"{}", extra(n));
            format!("--XyZ\r\n{head}\r\n\r\nv\r\n--XyZ--\r\n")
        };
        assert_eq!(
            form_fields(CT, form(MAX_PARAMS).as_bytes()),
            Some(json!({"k": "v"}))
        );
        assert_eq!(form_fields(CT, form(MAX_PARAMS + 1).as_bytes()), None);
        assert_eq!(form_fields(CT, form(20_000).as_bytes()), None);
        let typed = |n: usize| format!("{CT}{}", extra(n));
        let body = form(1);
        assert_eq!(
            form_fields(&typed(MAX_PARAMS), body.as_bytes()),
            Some(json!({"k": "v"}))
        );
        assert_eq!(form_fields(&typed(MAX_PARAMS + 1), body.as_bytes()), None);
    }

    /// `find` answers as a search at every offset does, on random bytes drawn from few values.
    #[test]
    fn find_answers_as_a_search_at_every_offset() {
        let naive = |haystack: &[u8], needle: &[u8]| match needle.is_empty() {
            true => Some(0),
            false => haystack.windows(needle.len()).position(|w| w == needle),
        };
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let bytes = |n: u64, seed: u64| -> Vec<u8> {
                (0..n)
                    .map(|i| {
                        b"\r\n-a"
                            .get(((seed >> (2 * i)) % 4) as usize)
                            .copied()
                            .unwrap_or(b'a')
                    })
                    .collect()
            };
            let (h, n) = (next(), next());
            let haystack = bytes(h % 24, next());
            let needle = bytes(n % 5, next());
            assert_eq!(
                find(&haystack, &needle),
                naive(&haystack, &needle),
                "{haystack:?} {needle:?}"
            );
        }
    }

    #[test]
    fn form_fields_gives_named_text_parts_and_skips_files() {
        let body = b"--XyZ\r\n\
            Content-Disposition: form-data; name=\"user\"\r\n\r\n\
            alice\r\n\
            --XyZ\r\n\
            content-disposition: form-data; name=\"note\"\r\nContent-Type: text/plain\r\n\r\n\
            two\r\nlines\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\n\r\n\
            \x00\xff\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"user\"\r\n\r\n\
            bob\r\n\
            --XyZ--\r\n";
        assert_eq!(
            form_fields(CT, body),
            Some(json!({"user": ["alice", "bob"], "note": "two\r\nlines"}))
        );
    }

    /// Regression (review): parts PHP reads otherwise than Go, as a field named `apikey`: a
    /// single-quoted name (PHP unquotes it) and `filename*` without `filename` (a file to Go).
    /// A boundary longer than RFC 2046's 70 characters is refused too (the search for it would
    /// cost the body's length times its own).
    #[test]
    fn form_fields_refuses_parts_php_reads_as_other_fields() {
        for head in [
            "Content-Disposition: form-data; name='apikey'",
            "Content-Disposition: form-data; name=\"apikey\"; filename*=UTF-8''k.txt",
        ] {
            let body = format!("--XyZ\r\n{head}\r\n\r\nk\r\n--XyZ--\r\n");
            assert_eq!(form_fields(CT, body.as_bytes()), None, "{head}");
        }
        let both = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"; filename*=UTF-8''a\r\n\r\nk\r\n--XyZ--\r\n";
        assert_eq!(form_fields(CT, both.as_bytes()), Some(json!({})));
        let long = "b".repeat(71);
        let body = format!(
            "--{long}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--{long}--"
        );
        let ct = |b: &str| format!("multipart/form-data; boundary={b}");
        assert_eq!(form_fields(&ct(&long), body.as_bytes()), None);
        let body = body.replace(&long, &long[1..]);
        assert_eq!(
            form_fields(&ct(&long[1..]), body.as_bytes()),
            Some(json!({"a": "1"}))
        );
    }

    /// Regression (review): what this reader took for the preamble, the epilogue or a part's
    /// value, Django or werkzeug read as more parts, while the auth service was shown none of
    /// them: Django splits at `--boundary` anywhere and reads a preamble or an epilogue holding
    /// a blank line as a part, werkzeug ends a part at a delimiter after a bare CR or LF and
    /// ends header lines there, Go and werkzeug fold a header line starting with a space.
    #[test]
    fn form_fields_refuses_parts_other_parsers_find_where_this_one_does_not() {
        let role = "Content-Disposition: form-data; name=\"role\"\r\n\r\nadmin";
        let user = "--XyZ\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice";
        let cases = [
            format!("{role}\r\n{user}\r\n--XyZ--"),
            format!("{user}\r\n--XyZ--\r\n{role}"),
            format!("{user}\r\n--XyZ--\r\n\r\n"),
            format!("{user}--XyZ\r\n{role}\r\n--XyZ--"),
            format!("{user}\n--XyZ\r\n{role}\r\n--XyZ--"),
            format!("{user}\r--XyZ\r\n{role}\r\n--XyZ--"),
            "--XyZ\r\nContent-Disposition: form-data; name=role\nX: y\r\n\r\nadmin\r\n--XyZ--"
                .into(),
            "--XyZ\r\nX: y\r\n Content-Disposition: form-data; name=role\r\n\r\nadmin\r\n--XyZ--"
                .into(),
        ];
        for body in cases {
            assert_eq!(form_fields(CT, body.as_bytes()), None, "{body:?}");
        }
        for end in ["", "\r\n"] {
            let body = format!("{user}\r\n--XyZ--{end}");
            assert_eq!(
                form_fields(CT, body.as_bytes()),
                Some(json!({"user": "alice"}))
            );
        }
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
            Some(json!({"role": ["admin", "user", "guest"]}))
        );
    }

    #[test]
    fn form_fields_quoted_boundary_empty_value_and_bad_utf8() {
        let ct = "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b\"";
        let body = b"--a b\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n\
            --a b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\xffok\r\n--a b--";
        assert_eq!(
            form_fields(ct, body),
            Some(json!({"e": "", "x": "\u{fffd}ok"}))
        );
    }

    /// Parts without a name (or without headers) are Rack 3's `<type>[]` field, and named by
    /// their `Content-ID` too (Rack 2); an empty `filename` is a field (Go reads it as a value,
    /// as a browser's empty file input sends it).
    #[test]
    fn form_fields_names_unnamed_parts_as_rack_and_shows_empty_file_names() {
        let body = b"--XyZ\r\nContent-Type: text/plain\r\n\r\nno name\r\n\
            --XyZ\r\n\r\nno headers\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"role\"; filename=\"\"\r\n\r\nadmin\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"ok\";\r\n\r\nyes\r\n--XyZ--";
        assert_eq!(
            form_fields(CT, body),
            Some(json!({"role": "admin", "ok": "yes", "text/plain[]": ["no name", "no headers"]}))
        );
        assert_eq!(form_fields(CT, b"--XyZ--"), Some(json!({})));
        let named = |head: &str| format!("--XyZ\r\n{head}\r\n\r\nv\r\n--XyZ--");
        let rack = [
            (
                "Content-Disposition: form-data\r\nContent-Type: apikey",
                json!({"apikey[]": "v"}),
            ),
            (
                "Content-Disposition: form-data; x=1\r\nContent-ID: apikey",
                json!({"apikey": "v", "text/plain[]": "v"}),
            ),
        ];
        for (head, want) in rack {
            assert_eq!(
                form_fields(CT, named(head).as_bytes()),
                Some(want),
                "{head}"
            );
        }
        // Where Rack 2 and Go name a part differently, the form is refused.
        for head in [
            "Content-Disposition: form-data; name =\"a\"",
            "Content-Disposition: form-data; name= \"a\"",
            "X-Content-Disposition: form-data; name=apikey\r\nContent-Disposition: form-data; name=a",
            "Content-Disposition: form-data; name=a; x=\"Content-ID: apikey\"",
        ] {
            assert_eq!(form_fields(CT, named(head).as_bytes()), None, "{head}");
        }
    }

    /// Regression (review): forms that parsers read differently were shown to the auth service
    /// as this reader saw them (often as no field at all), while the upstream acted on its own
    /// reading: Go accepts bare LF line endings and decodes quoted-printable parts and RFC 2231
    /// `name*`. None of them is a plain form, so none can be shown.
    #[test]
    fn form_fields_refuses_forms_parsers_read_differently() {
        let part = |head: &str| format!("--XyZ\r\n{head}\r\n\r\nadmin\r\n--XyZ--").into_bytes();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("multipart/form-data", part("Content-Disposition: form-data; name=role")),
            ("multipart/form-data; boundary=", b"--\r\n\r\nx\r\n----".to_vec()),
            ("multipart/form-data; boundary=\"XyZ", part("Content-Disposition: form-data")),
            (CT, b"".to_vec()),
            (CT, b"no delimiter at all".to_vec()),
            (CT, b"x--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--XyZ--".to_vec()),
            (CT, b"--XyZ\nContent-Disposition: form-data; name=\"role\"\n\nadmin\n--XyZ--".to_vec()),
            (CT, b"--XyZ\r\nContent-Disposition: form-data; name=\"cut\"\r\n\r\nnever closed".to_vec()),
            (CT, b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n--XyZ--".to_vec()),
            (CT, b"--XyZabc\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--XyZ--".to_vec()),
            (CT, part("Content-Disposition: form-data; name=\"role\"\r\nContent-Transfer-Encoding: quoted-printable")),
            (CT, part("Content-Disposition: form-data; name*=utf-8''role")),
            (CT, part("Content-Disposition: form-data; name*0=ro; name*1=le")),
            (CT, part("Content-Disposition: form-data; name=\"user\"; name=\"role\"")),
            (CT, part("Content-Disposition: form-data; name=\"a;b\"")),
            (CT, part("Content-Disposition: form-data; name=\"a\\\"b\"")),
            (CT, part("Content-Disposition: form-data; name")),
            (CT, part("Content-Disposition: form-data;\r\n name=\"role\"")),
            (CT, part("Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b")),
        ];
        for (ct, body) in cases {
            let shown = String::from_utf8_lossy(&body).into_owned();
            assert_eq!(form_fields(ct, &body), None, "{ct} {shown:?}");
        }
        let plain =
            part("Content-Disposition: form-data; name=role\r\nContent-Transfer-Encoding: 8BIT");
        assert_eq!(form_fields(CT, &plain), Some(json!({"role": "admin"})));
    }

    /// The closing delimiter may carry transport padding (RFC 2046; Go, werkzeug and Kong's
    /// reader skip it): how Kong's engine keeps a cut form's length when no part is left. An
    /// epilogue is still refused (Django reads one as a part).
    #[test]
    fn form_fields_takes_padding_after_the_closing_delimiter_but_no_epilogue() {
        let part = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--XyZ--";
        for end in ["", "\r\n", "   ", " \t \r\n"] {
            let body = format!("{part}{end}");
            assert_eq!(
                form_fields(CT, body.as_bytes()),
                Some(json!({"a": "b"})),
                "{end:?}"
            );
            assert_eq!(
                form_fields(CT, format!("--XyZ--{end}").as_bytes()),
                Some(json!({}))
            );
        }
        for end in ["\r\nx", " x", "  \r\n\r\n", "\r\n  ", "\n"] {
            let body = format!("{part}{end}");
            assert_eq!(form_fields(CT, body.as_bytes()), None, "{end:?}");
        }
        // Padding goes right after the closing `--`, whatever followed it.
        for (form, want) in [
            ("--XyZ--\r\n", "--XyZ--   \r\n"),
            ("--XyZ--", "--XyZ--   "),
            ("--XyZ-- \t\r\n", "--XyZ--    \t\r\n"),
        ] {
            let mut padded = form.as_bytes().to_vec();
            assert!(pad_closing_delimiter(CT, &mut padded, 3), "{form:?}");
            assert_eq!(String::from_utf8_lossy(&padded), want);
            assert!(form_fields(CT, &padded).is_some(), "{form:?}");
        }
        let mut one = format!("{part}\r\n").into_bytes();
        assert!(pad_closing_delimiter(CT, &mut one, 2));
        assert!(one.ends_with(b"b\r\n--XyZ--  \r\n"));
        for not_closed in ["x--XyZ", "--XyZ--\r\n\r\n", "--XyZ\r\n"] {
            let mut form = not_closed.as_bytes().to_vec();
            assert!(!pad_closing_delimiter(CT, &mut form, 2), "{not_closed:?}");
            assert_eq!(form, not_closed.as_bytes());
        }
    }

    /// Review: transport padding on a delimiter that opens a part (RFC 2046 allows it) is
    /// read unlike by upstream readers: PHP and busboy skip the part, Rack and formidable read
    /// it into the part before. Such a form is no plain form: never shown, never cut.
    #[test]
    fn form_fields_refuses_padding_on_a_delimiter_that_opens_a_part() {
        let part =
            |name: &str| format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n1\r\n");
        for pad in [" ", "\t", "  \t"] {
            let first = format!("--XyZ{pad}\r\n{}--XyZ--", part("a"));
            let later = format!("--XyZ\r\n{}--XyZ{pad}\r\n{}--XyZ--", part("a"), part("b"));
            for body in [first, later] {
                assert_eq!(form_fields(CT, body.as_bytes()), None, "{body:?}");
            }
        }
    }
}
