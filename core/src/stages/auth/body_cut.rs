//! Key fields cut out of a request body: key-auth's `hide_credentials` with `key_in_body` (the
//! key found), and a key rejected before the `anonymous` fallback (every key name). Only the
//! named fields go; every other byte reaches the upstream as the client sent it (Kong
//! re-encodes the whole body, which may reorder a form or JSON).

use crate::stages::reconcile::{self, Reading};
use crate::stages::{urlenc, Request};

/// The body without the fields named `names`, as key-auth reads a body for keys: in an
/// urlencoded or multipart form ([`reconcile::reading`]) every field some framework reads as a
/// name ([`urlenc::reads_as`]); otherwise, in a JSON object, every top-level member named so
/// once case-folded ([`urlenc::fold`], as Go matches members). `None` when no such field is
/// there (the body goes on untouched). Where the host keeps the client's length
/// ([`Request::keeps_body_length`]) the cut is [`padded`] back to the body's length.
pub fn without_keys(req: &Request, body: &[u8], names: &[String]) -> Option<Vec<u8>> {
    let content_type = req.header("content-type");
    let in_form = |key: &str| {
        let key = urlenc::KeyReadings::of(key);
        names.iter().any(|n| key.reads_as(n))
    };
    let reading = reconcile::reading(content_type, body);
    let cut = match reading {
        Reading::Form => form_without(body, in_form),
        Reading::Multipart => {
            reconcile::without_parts(content_type.unwrap_or_default(), body, in_form)
        }
        Reading::Json => json_without(body, |key| names.iter().any(|n| urlenc::fold_eq(key, n))),
    }?;
    Some(if req.keeps_body_length {
        padded(cut, body.len(), reading, content_type.unwrap_or_default())
    } else {
        cut
    })
}

/// `cut` grown back to `len` bytes with bytes every reader of its kind skips: `&` after a form
/// (empty pairs), spaces after a JSON value (whitespace), spaces after a multipart form's
/// closing `--` (transport padding: on a delimiter that opens a part some readers skip the
/// part). Where readers would refuse the padding, the cut stays short and the glue refuses the
/// request: a form of [`MAX_FORM_PIECES`] or more pairs, empty ones included (body-parser and
/// Django refuse 1000), or more than [`MAX_MULTIPART_PADDING`] bytes on a delimiter line
/// (Django refuses a line of about 1 KB). A cut only removes, so it is never longer than `len`.
fn padded(mut cut: Vec<u8>, len: usize, reading: Reading, content_type: &str) -> Vec<u8> {
    let missing = len.saturating_sub(cut.len());
    match reading {
        Reading::Form => {
            let pieces = cut.iter().filter(|b| **b == b'&').count() + 1 + missing;
            if pieces < MAX_FORM_PIECES {
                cut.resize(cut.len() + missing, b'&');
            }
        }
        Reading::Json => cut.resize(cut.len() + missing, b' '),
        Reading::Multipart => {
            if missing <= MAX_MULTIPART_PADDING {
                reconcile::pad_closing_delimiter(content_type, &mut cut, missing);
            }
        }
    }
    cut
}

/// Pairs a padded form may hold, empty ones included (body-parser's and Django's default is
/// 1000 fields).
const MAX_FORM_PIECES: usize = 1000;

/// Spaces a multipart form's closing delimiter line may be padded with.
const MAX_MULTIPART_PADDING: usize = 900;

/// An urlencoded form without the pairs whose decoded name `drop` picks; the other pairs (and
/// empty pieces) as they came.
fn form_without(body: &[u8], drop: impl Fn(&str) -> bool) -> Option<Vec<u8>> {
    let mut dropped = false;
    let mut kept: Vec<&[u8]> = Vec::new();
    for piece in body.split(|&b| b == b'&') {
        let name = piece.split(|&b| b == b'=').next().unwrap_or_default();
        if !name.is_empty() && drop(&reconcile::percent_decode(name)) {
            dropped = true;
        } else {
            kept.push(piece);
        }
    }
    dropped.then(|| kept.join(&b'&'))
}

/// A JSON object without the top-level members whose (decoded) name `drop` picks; the other
/// members' text as it came, joined by commas. `None` when the body is no JSON object or no
/// member is dropped.
fn json_without(body: &[u8], drop: impl Fn(&str) -> bool) -> Option<Vec<u8>> {
    let object = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    object.as_object()?;
    let scan = Members::scan(body)?;
    let mut dropped = false;
    let mut kept: Vec<&[u8]> = Vec::new();
    for (name, text) in &scan.members {
        if drop(name) {
            dropped = true;
        } else {
            kept.push(text);
        }
    }
    if !dropped {
        return None;
    }
    let mut out = body.get(..scan.open)?.to_vec();
    out.extend_from_slice(&kept.join(&b','));
    out.extend_from_slice(body.get(scan.close..)?);
    Some(out)
}

/// The top-level members of a JSON object's text (already known to parse): each one's decoded
/// name and its text from the name's opening quote to the value's end.
struct Members<'a> {
    /// Just past the `{`.
    open: usize,
    /// At the closing `}`.
    close: usize,
    members: Vec<(String, &'a [u8])>,
}

impl<'a> Members<'a> {
    fn scan(text: &'a [u8]) -> Option<Self> {
        let mut at = skip_blank(text, 0);
        if text.get(at) != Some(&b'{') {
            return None;
        }
        at += 1;
        let open = at;
        let mut members = Vec::new();
        loop {
            at = skip_blank(text, at);
            match text.get(at)? {
                b'}' => break,
                b',' => at = skip_blank(text, at + 1),
                _ => {}
            }
            let start = at;
            let name_end = skip_string(text, at)?;
            let name: String = serde_json::from_slice(text.get(start..name_end)?).ok()?;
            at = skip_blank(text, name_end);
            if text.get(at) != Some(&b':') {
                return None;
            }
            let end = skip_value(text, skip_blank(text, at + 1))?;
            members.push((name, text.get(start..end)?));
            at = end;
        }
        Some(Self {
            open,
            close: at,
            members,
        })
    }
}

/// The first byte at or after `at` that is no JSON whitespace.
fn skip_blank(text: &[u8], mut at: usize) -> usize {
    while matches!(text.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Just past the string starting at `at` (its opening quote).
fn skip_string(text: &[u8], at: usize) -> Option<usize> {
    if text.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    loop {
        match text.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Just past the value starting at `at`: a string, an object or array (brackets counted
/// outside strings), or a scalar up to the next delimiter.
fn skip_value(text: &[u8], at: usize) -> Option<usize> {
    match text.get(at)? {
        b'"' => skip_string(text, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match text.get(i)? {
                    b'"' => {
                        i = skip_string(text, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while !matches!(
                text.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(content_type: &str, body: &str, names: &[&str]) -> Option<String> {
        let req = Request::get("/", &[("content-type", content_type)]);
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let out = without_keys(&req, body.as_bytes(), &names)?;
        Some(String::from_utf8(out).unwrap())
    }

    const FORM: &str = "application/x-www-form-urlencoded";

    /// Regression (reviews, stops 51 and 52): Kong's engine sends the upstream the client's
    /// `Content-Length` after a call whatever body the filter wrote, so there a cut is padded
    /// back to the body's length with bytes its readers skip: the padded body reads as the
    /// cut does, to the call's reading (what the auth service and upstream frameworks see).
    #[test]
    fn where_the_host_keeps_the_length_a_cut_is_padded_to_read_as_the_cut() {
        let multipart = "multipart/form-data; boundary=B1";
        let key_part = "--B1\r\nContent-Disposition: form-data; name=\"apikey\"\r\n\r\nk\r\n";
        let foo_part = "--B1\r\nContent-Disposition: form-data; name=\"foo\"\r\n\r\nbar\r\n";
        let foo_cut = "--B1\r\nContent-Disposition: form-data; name=\"foo\"\r\n\r\nbar\r\n--B1--";
        // (type, body, the cut, its filler, where the filler goes: the end, or at an offset:
        // after a multipart form's closing `--`, before its CRLF).
        let cases = [
            (
                FORM,
                "apikey=k&a=1&b=%20x".to_string(),
                "a=1&b=%20x".to_string(),
                "&",
                None,
            ),
            (FORM, "apikey=k".to_string(), String::new(), "&", None),
            (
                "application/json",
                r#"{"apikey":"k","a":[1,{"b":2}]}"#.to_string(),
                r#"{"a":[1,{"b":2}]}"#.to_string(),
                " ",
                None,
            ),
            (
                "",
                r#"{ "a": 1, "apikey": "k" }"#.to_string(),
                r#"{"a": 1}"#.to_string(),
                " ",
                None,
            ),
            (
                multipart,
                format!("{key_part}{foo_part}--B1--"),
                foo_cut.to_string(),
                " ",
                None,
            ),
            (
                multipart,
                format!("{foo_part}{key_part}--B1--\r\n"),
                format!("{foo_cut}\r\n"),
                " ",
                Some(foo_cut.len()),
            ),
            // No part left: the padding goes after the closing delimiter's `--` all the same.
            (
                multipart,
                format!("{key_part}--B1--\r\n"),
                "--B1--\r\n".to_string(),
                " ",
                Some(6),
            ),
        ];
        let names = vec!["apikey".to_string()];
        for (content_type, body, cut, filler, at) in cases {
            let mut want = cut.clone();
            let at = at.unwrap_or(cut.len());
            want.insert_str(at, &filler.repeat(body.len() - cut.len()));
            let mut req = Request::get("/", &[("content-type", content_type)]);
            let plain = without_keys(&req, body.as_bytes(), &names).unwrap();
            assert_eq!(String::from_utf8_lossy(&plain), cut, "{body}");
            req.keeps_body_length = true;
            let padded = without_keys(&req, body.as_bytes(), &names).unwrap();
            assert_eq!(String::from_utf8_lossy(&padded), want, "{body}");
            assert_eq!(padded.len(), body.len(), "{body}");
            let ct = Some(content_type).filter(|c| !c.is_empty());
            let read = |b: &[u8]| (reconcile::reading(ct, b), reconcile::body_value(ct, b));
            assert_eq!(read(&padded), read(&plain), "{body}");
        }
        // Padding readers would refuse is not made: the cut stays short (the glue refuses it
        // on Kong): 1000 pairs and more in a form, more than 900 bytes on a delimiter line.
        let mut req = Request::get("/", &[("content-type", FORM)]);
        req.keeps_body_length = true;
        let long = format!("x=1&apikey={}", "k".repeat(995));
        let cut = without_keys(&req, long.as_bytes(), &names).unwrap();
        assert_eq!(cut, b"x=1");
        let fits = format!("x=1&apikey={}", "k".repeat(980));
        let cut = without_keys(&req, fits.as_bytes(), &names).unwrap();
        assert_eq!(
            (cut.len(), cut.iter().filter(|b| **b == b'&').count()),
            (fits.len(), 988)
        );
        let mut req = Request::get("/", &[("content-type", multipart)]);
        req.keeps_body_length = true;
        let key = "k".repeat(900);
        let long = format!(
            "--B1\r\nContent-Disposition: form-data; name=\"apikey\"\r\n\r\n{key}\r\n--B1--"
        );
        assert_eq!(
            without_keys(&req, long.as_bytes(), &names).unwrap(),
            b"--B1--\r\n"
        );
        let form = reconcile::body_value(Some(FORM), b"a=1&b=%20x&&&&&&&&&");
        assert_eq!(form, Some(serde_json::json!({"a": "1", "b": " x"})));
        // Nothing cut, nothing padded.
        let mut req = Request::get("/", &[("content-type", FORM)]);
        req.keeps_body_length = true;
        assert_eq!(without_keys(&req, b"a=1", &names), None);
    }

    #[test]
    fn a_form_loses_only_the_key_pairs_in_every_name_php_or_rack_reads() {
        let cases = [
            ("apikey=k&foo=bar", Some("foo=bar")),
            ("foo=bar&apikey=k", Some("foo=bar")),
            ("a=1&apikey=k&b=2", Some("a=1&b=2")),
            ("apikey=k", Some("")),
            ("api%6Bey=k&b=%20x+y", Some("b=%20x+y")),
            ("+apikey=k&[apikey]=k&apikey[]=k&c=3", Some("c=3")),
            ("apikey&d=4", Some("d=4")),
            ("a=1&&b=2&apikey=k", Some("a=1&&b=2")),
            ("apikeys=k&x_apikey=1", None),
            ("=apikey&foo=apikey", None),
            ("", None),
        ];
        for (body, want) in cases {
            assert_eq!(cut(FORM, body, &["apikey"]).as_deref(), want, "{body}");
        }
        let two = cut(FORM, "apikey=1&token=2&z=3", &["apikey", "token"]);
        assert_eq!(two.as_deref(), Some("z=3"));
        // The media type as Kong matches it: a prefix, any case, parameters after `;`.
        let typed = cut(
            "Application/X-WWW-Form-URLEncoded; charset=utf-8",
            "apikey=k&a=1",
            &["apikey"],
        );
        assert_eq!(typed.as_deref(), Some("a=1"));
    }

    #[test]
    fn a_multipart_form_loses_the_key_parts_and_keeps_every_other_byte() {
        let ct = "multipart/form-data; boundary=B1";
        let part = |name: &str, value: &str| {
            format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--B1")
        };
        let body = format!(
            "--B1\r\n{}\r\n{}\r\n{}\r\n{}--\r\n",
            part("apikey", "k"),
            part("foo", "bar"),
            part("apikey[]", "k"),
            part("baz", "a\r\nb"),
        );
        let want = format!(
            "--B1\r\n{}\r\n{}--\r\n",
            part("foo", "bar"),
            part("baz", "a\r\nb")
        );
        assert_eq!(cut(ct, &body, &["apikey"]).as_deref(), Some(want.as_str()));
        // Only the key part: a form with no part left, closed as the one empty form every
        // reader takes (Rack 3 refuses `--B1--` without its CRLF, or with padding).
        for end in ["", "\r\n", " \t", "  \r\n"] {
            let only = format!("--B1\r\n{}--{end}", part("apikey", "k"));
            assert_eq!(cut(ct, &only, &["apikey"]).as_deref(), Some("--B1--\r\n"));
        }
        // A file part of a key name goes too; a form with nothing named is untouched.
        let file = "--B1\r\nContent-Disposition: form-data; name=\"apikey\"; filename=\"k.txt\"\r\n\r\nk\r\n--B1--\r\n";
        assert_eq!(cut(ct, file, &["apikey"]).as_deref(), Some("--B1--\r\n"));
        assert_eq!(
            cut(
                ct,
                &format!("--B1\r\n{}--\r\n", part("foo", "bar")),
                &["apikey"]
            ),
            None
        );
        // A form the readers would not read alike is never rewritten (it is refused earlier).
        assert_eq!(cut(ct, &format!("pre\r\n{body}"), &["apikey"]), None);
    }

    /// Regression (review): names other frameworks read as the key name survived the cut:
    /// another case (ASP.NET, Spring), Spring's `!apikey` default, a part named by its
    /// `Content-ID` (Rack), Go's folding of the Kelvin sign in JSON, and bodies Rack reads as
    /// forms (no type, `multipart/mixed`).
    #[test]
    fn every_reading_of_a_key_name_is_cut() {
        for body in [
            "APIKEY=k&a=1",
            "ApiKey=k&a=1",
            "!apikey=k&a=1",
            "a=1&!APIKEY[]=k",
        ] {
            assert_eq!(
                cut(FORM, body, &["apikey"]).as_deref(),
                Some("a=1"),
                "{body}"
            );
        }
        let ct = "multipart/form-data; boundary=B1";
        let rest = "Content-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B1--\r\n";
        for head in [
            "Content-ID: apikey",
            "Content-Disposition: form-data; name=\"APIKEY\"",
        ] {
            let body = format!("--B1\r\n{head}\r\n\r\nk\r\n--B1\r\n{rest}");
            let want = format!("--B1\r\n{rest}");
            assert_eq!(cut(ct, &body, &["apikey"]), Some(want), "{head}");
        }
        let kelvin = "{\"api\u{212a}ey\":\"k\",\"a\":1}";
        assert_eq!(
            cut("application/json", kelvin, &["apikey"]).as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(cut("", "apikey=k&a=1", &["apikey"]).as_deref(), Some("a=1"));
        let mixed = "multipart/mixed; boundary=B1";
        let body = format!("--B1\r\nContent-ID: apikey\r\n\r\nk\r\n--B1\r\n{rest}");
        assert_eq!(
            cut(mixed, &body, &["apikey"]),
            Some(format!("--B1\r\n{rest}"))
        );
    }

    #[test]
    fn a_json_object_loses_the_key_members_in_any_case_and_any_type() {
        let cases = [
            (r#"{"apikey":"k","foo":"bar"}"#, Some(r#"{"foo":"bar"}"#)),
            (r#"{"foo":"bar", "apikey": "k"}"#, Some(r#"{"foo":"bar"}"#)),
            (
                r#" { "a" : [1, {"apikey": "x"}], "ApiKey" : "k" , "b": {"c": "}"} } "#,
                Some(r#" {"a" : [1, {"apikey": "x"}],"b": {"c": "}"}} "#),
            ),
            (
                r#"{"api\u006bey":"k","n":-1.5e3,"t":true,"z":null}"#,
                Some(r#"{"n":-1.5e3,"t":true,"z":null}"#),
            ),
            (r#"{"apikey":"k"}"#, Some("{}")),
            (
                r#"{"s":"a\"apikey\":","apikey":{"x":[]}}"#,
                Some(r#"{"s":"a\"apikey\":"}"#),
            ),
            (r#"{"foo":"apikey"}"#, None),
            (r#"[{"apikey":"k"}]"#, None),
            (r#"{"apikey":"k""#, None),
        ];
        for ct in ["application/json", "text/plain", ""] {
            for (body, want) in cases {
                assert_eq!(cut(ct, body, &["apikey"]).as_deref(), want, "{ct} {body}");
            }
        }
        // What is left parses to the object without the key.
        let left = cut(
            "application/json",
            r#"{"x": {"y": [1,2]}, "APIKEY":"k", "q": "\u00e9"}"#,
            &["apikey"],
        );
        let value: serde_json::Value = serde_json::from_str(&left.unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"x": {"y": [1, 2]}, "q": "\u{e9}"})
        );
    }
}
