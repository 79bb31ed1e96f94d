//! Header names and values as an upstream reads them.
//!
//! Many upstreams (CGI and WSGI servers, frameworks that fold `_` into `-`) read `X_Consumer_ID`
//! as `X-Consumer-Id`, and PHP reads `X.Consumer.ID` as `HTTP_X_CONSUMER_ID` too (it turns `.`
//! and space into `_`; some CGI gateways turn every character but letters and digits into `_`).
//! A header the filter sets, strips or hides is therefore matched with every punctuation mark a
//! name may hold (`_`, `.`, `~`, `*`, …) as `-` and case ignored, so no spelling of it from the
//! client survives next to the filter's value.

use super::{HeaderEdit, HeaderEdits, Request};

/// The name as an upstream may read it: lower-case, punctuation as `-`.
pub fn canonical(name: &str) -> String {
    let fold_char = |c: char| match u8::try_from(c) {
        Ok(b) if c.is_ascii() => char::from(fold(b)),
        _ => c,
    };
    name.chars().map(fold_char).collect()
}

/// Kong's `typedefs.header_name`: letters, digits, `_` and `-` only; else Kong's words (a
/// control character shown escaped, never written to the log raw).
pub fn kong_header_name(name: &str) -> Result<(), String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !name.is_empty() && name.bytes().all(allowed) {
        return Ok(());
    }
    let shown: String = name
        .chars()
        .flat_map(|c| match c {
            ' '..='~' => vec![c],
            _ => c.escape_default().collect(),
        })
        .collect();
    Err(format!(
        "bad header name '{shown}', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
    ))
}

/// True when an upstream may read `a` and `b` as the same header.
pub fn same_header(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// A name byte as an upstream may read it: a letter in lower case, a token's punctuation
/// (RFC 9110 `tchar`) as `-`. Anything else (`:` of pseudo-headers, bytes no host lets through
/// in a name) is left as it is.
fn fold(b: u8) -> u8 {
    match b.to_ascii_lowercase() {
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' => b'-',
        other => other,
    }
}

/// CR, LF and NUL split or end headers; the other C0 controls (but HTAB) and DEL are invalid in
/// a field value (RFC 9110 5.5) and some hosts reject the whole request for them.
pub fn is_unsafe_value_char(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || c == '\u{7f}'
}

/// True when `value` can travel as a header value as it is.
pub fn is_safe_value(value: &str) -> bool {
    !value.chars().any(is_unsafe_value_char)
}

/// The edits with, before each one, the removal of every other spelling of its name that the
/// client sent (`x_consumer_id` before `x-consumer-id`). Pseudo-headers are left as they are.
pub fn covering_spellings(req: &Request, edits: HeaderEdits) -> HeaderEdits {
    let mut out = HeaderEdits(Vec::with_capacity(edits.0.len()));
    for edit in edits.0 {
        let (HeaderEdit::Set(name, _) | HeaderEdit::Remove(name)) = &edit;
        if !name.starts_with(':') {
            for (client, _) in &req.headers {
                let other = !client.eq_ignore_ascii_case(name);
                // Once is enough, whoever removed it before (an identity look-alike).
                let removed = || {
                    out.0
                        .iter()
                        .any(|e| matches!(e, HeaderEdit::Remove(r) if r == client))
                };
                if other && same_header(client, name) && !removed() {
                    out.remove(client.clone());
                }
            }
        }
        out.0.push(edit);
    }
    out
}

/// The edits without the removals that cannot change anything: of a name the client did not
/// send (in that exact spelling, as the host matches names) and no earlier edit set. Each edit
/// is a host call; a request that carries none of the headers the filter owns then costs only
/// the settings. Names are compared as the host compares them (case ignored, `_` and `-`
/// distinct: [`covering_spellings`] has already named every other spelling the client used).
/// Borrowed from `edits`: every request applies them, and copies are allocations.
pub fn without_idle_removals<'a>(
    client: &[(String, String)],
    edits: &'a HeaderEdits,
) -> Vec<&'a HeaderEdit> {
    let mut out = Vec::with_capacity(edits.0.len());
    for (i, edit) in edits.0.iter().enumerate() {
        if let HeaderEdit::Remove(name) = edit {
            let sent = client.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
            let set_before = edits
                .0
                .iter()
                .take(i)
                .any(|e| matches!(e, HeaderEdit::Set(n, _) if n.eq_ignore_ascii_case(name)));
            if !sent && !set_before {
                continue;
            }
        }
        out.push(edit);
    }
    out
}

impl Request {
    /// The request as the upstream will receive it once `edits` apply: a removal or a setting
    /// takes away every spelling of the name, `:path` replaces the path.
    pub fn edited(&self, edits: &HeaderEdits) -> Request {
        let mut view = self.clone();
        for edit in &edits.0 {
            match edit {
                HeaderEdit::Set(name, value) if name == ":path" => view.path = value.clone(),
                HeaderEdit::Set(name, _) | HeaderEdit::Remove(name) if name.starts_with(':') => {}
                HeaderEdit::Set(name, value) => {
                    view.headers.retain(|(n, _)| !same_header(n, name));
                    view.headers
                        .push((name.to_ascii_lowercase(), value.clone()));
                }
                HeaderEdit::Remove(name) => view.headers.retain(|(n, _)| !same_header(n, name)),
            }
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        Request::get("/p?apikey=k&a=1", headers)
    }

    #[test]
    fn without_idle_removals_keeps_what_can_change_the_request() {
        let client = req(&[
            ("X-Consumer-ID", "forged"),
            ("x_consumer_username", "forged"),
        ])
        .headers;
        let mut edits = HeaderEdits::default();
        edits.remove("x-consumer-id"); // sent (case differs): kept
        edits.remove("x_consumer_username"); // sent in this spelling: kept
        edits.remove("x-consumer-username"); // not sent in this spelling: dropped
        edits.remove("x-anonymous-consumer"); // not sent: dropped
        edits.set("x-auth-role", "a");
        edits.remove("X-Auth-Role"); // set before: kept
        edits.set("x-consumer-id", "alice");
        let kept = HeaderEdits(
            without_idle_removals(&client, &edits)
                .into_iter()
                .cloned()
                .collect(),
        );
        let mut want = HeaderEdits::default();
        want.remove("x-consumer-id");
        want.remove("x_consumer_username");
        want.set("x-auth-role", "a");
        want.remove("X-Auth-Role");
        want.set("x-consumer-id", "alice");
        assert_eq!(kept, want);
        // Whatever is dropped, the upstream sees the same request.
        let r = req(&[
            ("X-Consumer-ID", "forged"),
            ("x_consumer_username", "forged"),
        ]);
        assert_eq!(r.edited(&kept).headers, r.edited(&edits).headers);
    }

    #[test]
    fn same_header_folds_case_and_punctuation() {
        assert!(same_header("X_Consumer_ID", "x-consumer-id"));
        assert!(same_header("x-consumer-id", "x-consumer-id"));
        assert!(!same_header("x-consumer-idx", "x-consumer-id"));
        assert!(!same_header("xaconsumer-id", "x-consumer-id"));
        assert!(!same_header("x:consumer-id", "x-consumer-id"));
        assert!(!same_header("x consumer-id", "x-consumer-id"));
        // PHP reads `X.Consumer.ID` as `HTTP_X_CONSUMER_ID`; Envoy lets every tchar through.
        for mark in "!#$%&'*+.^_`|~".chars() {
            let name = format!("X{mark}Consumer{mark}ID");
            assert!(same_header(&name, "x-consumer-id"), "{name}");
            assert_eq!(canonical(&name), "x-consumer-id", "{name}");
        }
        assert_eq!(canonical("X_Anonymous_Consumer"), "x-anonymous-consumer");
        assert_eq!(canonical(":Authority"), ":authority");
        assert_eq!(canonical("X-Ünï"), "x-Ünï");
    }

    #[test]
    fn covering_spellings_removes_every_client_spelling_once() {
        let r = req(&[
            ("x_consumer_id", "forged"),
            ("x-consumer-id", "forged"),
            ("x_consumer_ID", "forged"),
            ("x-other", "ok"),
        ]);
        let mut edits = HeaderEdits::default();
        edits.remove("x-consumer-id");
        edits.set("x-consumer-id", "c-1");
        edits.set(":path", "/p");
        let out = covering_spellings(&r, edits);
        assert_eq!(
            out.0,
            [
                HeaderEdit::Remove("x_consumer_id".into()),
                HeaderEdit::Remove("x_consumer_ID".into()),
                HeaderEdit::Remove("x-consumer-id".into()),
                HeaderEdit::Set("x-consumer-id".into(), "c-1".into()),
                HeaderEdit::Set(":path".into(), "/p".into()),
            ]
        );
    }

    #[test]
    fn edited_view_is_what_the_upstream_receives() {
        let r = req(&[
            ("x_consumer_username", "root"),
            ("x-consumer-username", "root"),
            ("apikey", "k"),
            ("accept", "*/*"),
        ]);
        let mut edits = HeaderEdits::default();
        edits.remove("x-consumer-username");
        edits.remove("apikey");
        edits.set("x-consumer-username", "alice");
        edits.set(":path", "/p?a=1");
        let view = r.edited(&edits);
        assert_eq!(view.path, "/p?a=1");
        assert_eq!(
            view.headers,
            [
                ("accept".to_string(), "*/*".to_string()),
                ("x-consumer-username".to_string(), "alice".to_string()),
            ]
        );
    }

    #[test]
    fn unsafe_values_are_controls_but_tab() {
        assert!(is_safe_value("a\tb c"));
        for bad in ["a\r\nb", "a\nb", "a\0b", "a\u{1}b", "a\u{7f}b"] {
            assert!(!is_safe_value(bad), "{bad:?}");
        }
    }
}
