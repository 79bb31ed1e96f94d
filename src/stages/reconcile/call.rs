//! The call to the auth service: jwt-reconcile's request, headers and JSON envelope.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::compile::Reconcile;
use crate::config::CallMethod;
use crate::stages::{CallSpec, Request};

/// `User-Agent` of the call, as the plugin's `jwt-reconcile/<version>` (our crate's version).
pub const USER_AGENT: &str = concat!("jwt-reconcile/", env!("CARGO_PKG_VERSION"));

/// Headers the call sets itself, never copied from the client.
const OWN_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    "x-forwarded-host",
    "x-forwarded-path",
    "x-forwarded-query",
];

/// Client headers `copy_headers` never copies, besides [`OWN_HEADERS`] and the names listed in
/// the client's `Connection` header:
/// - hop-by-hop headers (RFC 9110 7.6.1), which belong to the client's connection to us;
/// - `host` (the call has its own `:authority`) and `content-length` (the call has its own body);
/// - `content-encoding` and `expect`, which describe the client's body, not the call's;
/// - `accept-encoding`: the host hands over the answer as received, so a compressed answer
///   could not be read as JSON.
const NOT_COPIED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-encoding",
    "expect",
    "accept-encoding",
];

/// Builds the call for a request.
///
/// Headers, in order: `:method` (`method`), `:path`, `:authority`, `:scheme`; `content-type:
/// application/json`; `user-agent: jwt-reconcile/<version>`; `x-forwarded-host` (the request's
/// authority), `x-forwarded-path` (its path without the query), `x-forwarded-query` (the raw
/// query string, empty when there is none); then, with `copy_headers`, the client's headers in
/// order, except pseudo-headers, hop-by-hop headers and those the client's `Connection` header
/// names, `host`, `content-length`, `content-encoding`, `expect`, `accept-encoding` (the answer
/// must arrive uncompressed to be read), and the call's own headers above.
///
/// Body: always a JSON object, also for a GET (as the plugin sends it); `{}` when no
/// `forward_*` flag is on. See [`envelope`].
pub fn build_call(rec: &Reconcile, req: &Request, body: Option<&[u8]>) -> CallSpec {
    let method = match rec.method {
        CallMethod::Post => "POST",
        CallMethod::Get => "GET",
    };
    let mut headers: Vec<(String, String)> = [
        (":method", method),
        (":path", rec.call_path.as_str()),
        (":authority", rec.authority.as_str()),
        (":scheme", rec.scheme),
        ("content-type", "application/json"),
        ("user-agent", USER_AGENT),
        ("x-forwarded-host", req.authority.as_str()),
        ("x-forwarded-path", req.path_only()),
        ("x-forwarded-query", req.query()),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    if rec.copy_headers {
        headers.extend(
            copied_headers(req)
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.to_string())),
        );
    }
    CallSpec {
        upstream: rec.upstream.clone(),
        headers,
        body: envelope(rec, req, body).to_string().into_bytes(),
        timeout_ms: rec.timeout_ms,
    }
}

/// The client headers `copy_headers` puts on the call, in order: all but pseudo-headers,
/// [`NOT_COPIED`], those named in the client's `Connection` header, and the call's own headers.
pub(super) fn copied_headers(req: &Request) -> Vec<(&str, &str)> {
    let named_by_connection: Vec<String> = req
        .header_all("connection")
        .flat_map(|v| v.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect();
    req.headers
        .iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            !lower.starts_with(':')
                && !NOT_COPIED.contains(&lower.as_str())
                && !OWN_HEADERS.contains(&lower.as_str())
                && !named_by_connection.contains(&lower)
        })
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// The call body: a JSON object with, each only when its flag is on,
/// - `path` (`forward_path`): the request path without the query, raw;
/// - `query` (`forward_query`): the query as an object (see [`parse_form`]);
/// - `headers` (`forward_headers`): every client header, names lower-case; a repeated header
///   becomes an array of its values in order, as Kong's `get_headers()` gives it (one value
///   stays a string);
/// - `body` (`forward_body`): a JSON body (`application/json` or `*/*+json`) as JSON; a form
///   body (`application/x-www-form-urlencoded`) as an object like `query`; any other body, or
///   one that fails to parse, as a string, or as standard padded base64 when it is not UTF-8
///   (the service cannot tell the two apart); `null` when the glue passed no body.
pub fn envelope(rec: &Reconcile, req: &Request, body: Option<&[u8]>) -> Value {
    let mut out = Map::new();
    if rec.forward_path {
        out.insert("path".into(), Value::String(req.path_only().to_string()));
    }
    if rec.forward_query {
        out.insert("query".into(), parse_form(req.query().as_bytes()));
    }
    if rec.forward_headers {
        let mut headers = Map::new();
        for (name, value) in &req.headers {
            push_repeated(
                &mut headers,
                name.to_ascii_lowercase(),
                Value::String(value.clone()),
            );
        }
        out.insert("headers".into(), Value::Object(headers));
    }
    if rec.forward_body {
        let value = match body {
            None => Value::Null,
            Some(bytes) => body_value(req.header("content-type"), bytes),
        };
        out.insert("body".into(), value);
    }
    Value::Object(out)
}

fn body_value(content_type: Option<&str>, bytes: &[u8]) -> Value {
    let media_type = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|mt| mt.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media_type == "application/json" || media_type.ends_with("+json") {
        if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
            return value;
        }
    } else if media_type == "application/x-www-form-urlencoded" {
        return parse_form(bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
    }
}

/// Parses `a=1&b=x+y&a=2&flag` as nginx's `ngx.decode_args` (Kong's `get_query()`) does:
/// `{"a": ["1", "2"], "b": "x y", "flag": true}`. Pairs split on `&` (empty pieces skipped),
/// key and value on the first `=`; `%XX` is decoded and `+` is a space (a malformed `%` stays
/// as it is, bytes that are not UTF-8 become U+FFFD); a key without `=` is `true`; a repeated
/// key becomes an array in order.
pub fn parse_form(raw: &[u8]) -> Value {
    let mut out = Map::new();
    for pair in raw.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (
                pair.get(..i).unwrap_or_default(),
                Value::String(percent_decode(pair.get(i + 1..).unwrap_or_default())),
            ),
            None => (pair, Value::Bool(true)),
        };
        push_repeated(&mut out, percent_decode(key), value);
    }
    Value::Object(out)
}

/// Inserts `value` under `key`, turning a repeated key into an array of its values.
fn push_repeated(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, value);
        }
        Some(Value::Array(values)) => values.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

fn percent_decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{rec, request};
    use super::*;
    use serde_json::json;

    fn config(extra: &str) -> Reconcile {
        rec(&format!(
            r#"{{"url": "https://auth.example:8443/v1/"{extra}}}"#
        ))
    }

    fn body_of(call: &CallSpec) -> Value {
        serde_json::from_slice(&call.body).unwrap()
    }

    fn names(call: &CallSpec) -> Vec<&str> {
        call.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn value<'a>(call: &'a CallSpec, name: &str) -> Vec<&'a str> {
        call.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn build_call_defaults_set_plugin_headers_and_empty_object() {
        let call = build_call(&config(""), &request(), None);
        assert_eq!(call.upstream, "auth.example:8443");
        assert_eq!(call.timeout_ms, 25_000);
        assert_eq!(
            call.headers[..9],
            [
                (":method", "POST"),
                (":path", "/v1/api/v1/auth/reconcile"),
                (":authority", "auth.example:8443"),
                (":scheme", "https"),
                ("content-type", "application/json"),
                ("user-agent", USER_AGENT),
                ("x-forwarded-host", "api.example.com"),
                ("x-forwarded-path", "/orders/7"),
                ("x-forwarded-query", "a=1&b=x+y&a=2&flag"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        assert!(USER_AGENT.starts_with("jwt-reconcile/0."));
        assert_eq!(call.body, b"{}");
    }

    #[test]
    fn build_call_copy_headers_skips_hop_by_hop_and_own() {
        let call = build_call(&config(""), &request(), None);
        assert_eq!(
            names(&call)[9..],
            [
                "authorization",
                "cookie",
                "x-custom",
                "x-multi",
                "x-multi",
                "x-request-id"
            ]
        );
        assert_eq!(value(&call, "x-multi"), ["1", "2"]);
        assert_eq!(value(&call, "content-type"), ["application/json"]);
        assert_eq!(value(&call, "user-agent"), [USER_AGENT]);
    }

    #[test]
    fn build_call_copy_headers_skips_connection_named_headers() {
        let mut req = request();
        req.headers
            .push(("connection".into(), "X-Custom, , keep-alive".into()));
        let call = build_call(&config(""), &req, None);
        assert!(value(&call, "x-custom").is_empty());
        assert_eq!(value(&call, "authorization"), ["Bearer abc"]);
    }

    #[test]
    fn build_call_copy_headers_off_sends_only_own_headers() {
        let call = build_call(&config(r#", "copy_headers": false"#), &request(), None);
        assert_eq!(call.headers.len(), 9);
    }

    #[test]
    fn build_call_get_carries_same_body() {
        let rec = config(r#", "method": "GET", "forward_path": true"#);
        let call = build_call(&rec, &request(), None);
        assert_eq!(value(&call, ":method"), ["GET"]);
        assert_eq!(body_of(&call), json!({"path": "/orders/7"}));
    }

    #[test]
    fn build_call_without_query_sends_empty_forwarded_query() {
        let mut req = request();
        req.path = "/plain".into();
        let call = build_call(&config(r#", "forward_query": true"#), &req, None);
        assert_eq!(value(&call, "x-forwarded-query"), [""]);
        assert_eq!(body_of(&call), json!({"query": {}}));
    }

    #[test]
    fn envelope_each_flag_adds_only_its_key() {
        let req = request();
        let body = Some(&br#"{"n": 1}"#[..]);
        let flags = [
            "forward_path",
            "forward_query",
            "forward_headers",
            "forward_body",
        ];
        let keys = ["path", "query", "headers", "body"];
        for mask in 0u8..16 {
            let extra: String = flags
                .iter()
                .enumerate()
                .map(|(i, f)| format!(r#", "{f}": {}"#, mask & (1 << i) != 0))
                .collect();
            let got = envelope(&config(&extra), &req, body);
            let got_keys: Vec<&str> = got
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut want: Vec<&str> = (0..4)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| keys[i])
                .collect();
            want.sort_unstable();
            assert_eq!(got_keys, want, "mask {mask:04b}");
        }
    }

    #[test]
    fn envelope_all_flags_give_plugin_shapes() {
        let rec = config(
            r#", "forward_path": true, "forward_query": true, "forward_headers": true, "forward_body": true"#,
        );
        let got = envelope(&rec, &request(), Some(br#"{"n": [1, "x"]}"#));
        assert_eq!(
            got,
            json!({
                "path": "/orders/7",
                "query": {"a": ["1", "2"], "b": "x y", "flag": true},
                "headers": {
                    "authorization": "Bearer abc",
                    "content-type": "application/json; charset=utf-8",
                    "cookie": "s=1",
                    "host": "api.example.com",
                    "x-custom": "c",
                    "x-multi": ["1", "2"],
                    "x-request-id": "r-1",
                    "connection": "keep-alive",
                    "content-length": "14",
                    "accept-encoding": "gzip",
                    "user-agent": "curl/8",
                },
                "body": {"n": [1, "x"]},
            })
        );
    }

    #[test]
    fn envelope_body_forms_follow_content_type() {
        let rec = config(r#", "forward_body": true"#);
        let with = |ct: Option<&str>, body: &[u8]| {
            let mut req = request();
            req.headers.retain(|(n, _)| n != "content-type");
            if let Some(ct) = ct {
                req.headers.push(("Content-Type".into(), ct.into()));
            }
            envelope(&rec, &req, Some(body))["body"].clone()
        };
        assert_eq!(with(Some("application/json"), b"[1,2]"), json!([1, 2]));
        assert_eq!(
            with(Some("application/vnd.api+json"), b"{\"a\":1}"),
            json!({"a": 1})
        );
        assert_eq!(with(Some("application/json"), b"{bad"), json!("{bad"));
        assert_eq!(with(Some("application/json"), b""), json!(""));
        assert_eq!(
            with(
                Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
                b"u=a%20b&u=c&t"
            ),
            json!({"u": ["a b", "c"], "t": true})
        );
        assert_eq!(with(Some("text/plain"), "héllo".as_bytes()), json!("héllo"));
        assert_eq!(with(None, b"raw"), json!("raw"));
        assert_eq!(
            with(Some("application/octet-stream"), &[0xff, 0x00, 0x80]),
            json!("/wCA")
        );
        assert_eq!(with(Some("application/json"), &[0xff]), json!("/w=="));
        assert_eq!(envelope(&rec, &request(), None), json!({"body": null}));
    }

    #[test]
    fn parse_form_decodes_and_groups() {
        assert_eq!(
            parse_form(b"a=1&&b=x+y%2Bz&a=2&a=3&flag&flag=v&=e&%zz=%4&k=%E2%9C%93&bad=%ff"),
            json!({
                "a": ["1", "2", "3"],
                "b": "x y+z",
                "flag": [true, "v"],
                "": "e",
                "%zz": "%4",
                "k": "✓",
                "bad": "\u{fffd}",
            })
        );
        assert_eq!(parse_form(b""), json!({}));
        assert_eq!(parse_form(b"a=b=c"), json!({"a": "b=c"}));
        assert_eq!(parse_form(b"%"), json!({"%": true}));
        assert_eq!(parse_form(b"x=%4"), json!({"x": "%4"}));
    }
}
