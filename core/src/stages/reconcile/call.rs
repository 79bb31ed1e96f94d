//! The call to the auth service: jwt-reconcile's request, headers and JSON envelope.

use serde::de::IgnoredAny;
use serde_json::map::Entry;
use serde_json::{Map, Value};

use super::compile::Reconcile;
use super::{multipart, php};
use crate::config::CallMethod;
use crate::stages::headers::{canonical, same_header};
use crate::stages::urlenc::reads_as;
use crate::stages::{CallSpec, Refusal, Request};

/// `User-Agent` of the call: the plugin's `"jwt-reconcile/" .. VERSION`, its handler's version
/// `1.0.0` (not this crate's), so an auth service that matches on it sees the same value.
pub const USER_AGENT: &str = "jwt-reconcile/1.0.0";

/// Headers the call sets itself, besides [`CHECKED_HEADERS`] and the `X-Forwarded-For` and
/// `X-Real-IP` of [`CLIENT_ADDRESS_HEADERS`]; none of them is ever copied from the client.
const OWN_HEADERS: [&str; 3] = ["content-type", "user-agent", "x-original-url"];

/// The headers the call's own stand for or its checks compare with the request
/// ([`ambiguous_header`], [`ambiguous_host`]): a client's copies arriving as trailers, after
/// the checks, are removed (`Flow::trailer_edits`).
pub const CHECKED_HEADERS: [&str; 9] = [
    "x-forwarded-host",
    "x-forwarded-path",
    "x-forwarded-method",
    "x-forwarded-query",
    "x-forwarded-uri",
    "x-original-uri",
    "x-original-method",
    "x-forwarded-proto",
    "forwarded",
];

/// Headers that name the client's address: the call carries its own `X-Forwarded-For` and
/// `X-Real-IP` and none of the client's, in any spelling, since services read them for the
/// client's network (Authelia and oauth2-proxy `X-Forwarded-For` and `X-Real-IP`, Rack 3 and
/// Spring `Forwarded`'s `for`, chi's `RealIP` `True-Client-IP`, Rails' `remote_ip`
/// `Client-IP`), and a client sets them at will.
const CLIENT_ADDRESS_HEADERS: [&str; 12] = [
    "x-forwarded-for",
    "x-real-ip",
    "client-ip",
    "forwarded",
    "x-forwarded",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-originating-ip",
    "x-envoy-external-address",
];

/// Client headers `copy_headers` never copies, besides the call's own:
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
/// application/json`; `user-agent: jwt-reconcile/1.0.0`; `x-forwarded-host` (the request's host
/// as Kong's `get_host()` gives it, see [`forwarded_host`]), `x-forwarded-path` (its path
/// without the query), `x-forwarded-method` (its method: the plugin sent none, so the service
/// could not tell `GET /x` from `DELETE /x`; Traefik's ForwardAuth sends the same header),
/// `x-forwarded-uri` and `x-original-uri` (the request target, path and query),
/// `x-original-method` (the method), `x-forwarded-proto` (see [`forwarded_proto`]) and
/// `x-original-url` (that scheme, `://`, the `Host` and the target): the headers Traefik's
/// ForwardAuth and nginx's `auth_request` (as ingress-nginx sets them) give a forward-auth
/// service, which would otherwise read a client's copy as the target, method or URL it judges;
/// `x-forwarded-for` and `x-real-ip`, both the client's address as the host determined it
/// ([`Request::client_ip`]; neither when the host gave none), never the client's copies, as
/// Traefik's ForwardAuth sends them by default (services such as Authelia and oauth2-proxy
/// match networks on them: a client's `X-Forwarded-For: 10.0.0.5` would pass for an internal
/// one); `x-forwarded-query`
/// (the raw query string; no such header when the query is empty, as the plugin sent none);
/// then, with `copy_headers`, the client's headers in
/// order, except pseudo-headers, hop-by-hop headers, `host`, `content-length`,
/// `content-encoding`, `expect`, `accept-encoding` (the answer
/// must arrive uncompressed to be read), and the call's own headers above.
///
/// Body: always a JSON object, also for a GET (as the plugin sends it); `{}` when no
/// `forward_*` flag is on. See [`envelope`].
pub fn build_call(rec: &Reconcile, req: &Request, body: Option<&[u8]>) -> CallSpec {
    let method = match rec.method {
        CallMethod::Post => "POST",
        CallMethod::Get => "GET",
    };
    let host = forwarded_host(&req.authority);
    let proto = forwarded_proto(req);
    let url = format!("{proto}://{}{}", req.authority, req.path);
    let mut headers: Vec<(String, String)> = [
        (":method", method),
        (":path", rec.call_path.as_str()),
        (":authority", rec.authority.as_str()),
        (":scheme", rec.scheme),
        ("content-type", "application/json"),
        ("user-agent", USER_AGENT),
        ("x-forwarded-host", host.as_str()),
        ("x-forwarded-path", req.path_only()),
        ("x-forwarded-method", req.method.as_str()),
        ("x-forwarded-uri", req.path.as_str()),
        ("x-original-uri", req.path.as_str()),
        ("x-original-method", req.method.as_str()),
        ("x-forwarded-proto", proto),
        ("x-original-url", url.as_str()),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    if let Some(ip) = &req.client_ip {
        headers.push(("x-forwarded-for".into(), ip.clone()));
        headers.push(("x-real-ip".into(), ip.clone()));
    }
    if !req.query().is_empty() {
        headers.push(("x-forwarded-query".into(), req.query().to_string()));
    }
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

/// `X-Forwarded-Proto` for the call: where the host sets the upstream's itself (Kong:
/// [`Request::host_forwarded_proto`]), that one when it is `http` or `https`, else the
/// request's scheme; elsewhere the client's when every copy says
/// `http`, or every copy `https` (a front proxy that ended TLS says so), else the request's
/// scheme. Forward-auth services build the URL they judge from it (Authelia: proto, `://`,
/// host, then `X-Forwarded-Uri`), so a free value (`https://api.example.com/public?`) would
/// name another target; the upstream takes no route from it, so on Envoy the client's copy
/// goes on there.
pub(super) fn forwarded_proto(req: &Request) -> &str {
    let known = |value: &str| {
        ["http", "https"]
            .into_iter()
            .find(|known| value.eq_ignore_ascii_case(known))
    };
    let scheme = if req.scheme.is_empty() {
        "http"
    } else {
        req.scheme.as_str()
    };
    if let Some(set) = &req.host_forwarded_proto {
        // What the host sends the upstream; one the call cannot carry (a list, nothing) gives
        // the request's scheme, never the client's header.
        return known(set).unwrap_or(scheme);
    }
    let mut said = req
        .headers
        .iter()
        .filter(|(name, _)| same_header(name, "x-forwarded-proto"))
        .map(|(_, value)| value.trim_matches([' ', '\t']));
    let Some(first) = said.next() else {
        return scheme;
    };
    match known(first) {
        Some(known) if said.all(|other| other.eq_ignore_ascii_case(known)) => known,
        _ => scheme,
    }
}

/// The request's host as Kong's `kong.request.get_host()` (nginx's `$host`) gives it: the
/// `Host` / `:authority` value lower-cased, without its port and without one trailing dot; an
/// IPv6 literal keeps its brackets (`[::1]:8080` gives `[::1]`).
pub fn forwarded_host(authority: &str) -> String {
    let host = if authority.starts_with('[') {
        authority
            .find(']')
            .and_then(|end| authority.get(..=end))
            .unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// A client header the auth service would be shown otherwise than upstreams read it, if any:
/// - a copy (in any spelling) of one of the call's own forwarded headers other than the value
///   the call gives it: the call's own hides it, while upstreams read it: an `X-Forwarded-Host`
///   other than `Host` (Rails' `request.host`, Express with `trust proxy`, Django with
///   `USE_X_FORWARDED_HOST` take it as the host), an `X-Forwarded-Path` other than the path
///   without query or an `X-Forwarded-Query` other than the raw query (frameworks behind a
///   prefix-stripping proxy read them as the path), an `X-Forwarded-Method` other than the
///   method (an upstream behind Traefik may trust it), an `X-Forwarded-Uri` or `X-Original-URI`
///   other than the request target or an `X-Original-Method` other than the method
///   (forward-auth services read them as what they judge: an upstream that is itself such a
///   gateway would judge the client's); an equal one (a front proxy's) is fine;
/// - a name sent in two spellings (`X-Tenant`, `X_Tenant`): the service is shown two headers,
///   while Puma before 6.4.3 reads `X_Tenant`'s value as `X-Tenant` and gunicorn before 22
///   joins them; the cache key, sorted by name, would not even tell their order apart.
///
/// Names are compared as the glue gives them, lower-case. The first such header in request order
/// is named; one pass over the names (sorted by `Map`), not a comparison of every pair: Kong's
/// engine lets thousands of headers through.
pub fn ambiguous_header(req: &Request) -> Option<&String> {
    let own = [
        ("x-forwarded-host", req.authority.as_str()),
        ("x-forwarded-path", req.path_only()),
        ("x-forwarded-query", req.query()),
        ("x-forwarded-method", req.method.as_str()),
        ("x-forwarded-uri", req.path.as_str()),
        ("x-original-uri", req.path.as_str()),
        ("x-original-method", req.method.as_str()),
    ];
    // Each name as upstreams read it, to its first spelling, or `Null` once sent in two.
    let mut spellings = Map::new();
    for (name, _) in &req.headers {
        match spellings.get_mut(&canonical(name)) {
            None => {
                spellings.insert(canonical(name), Value::String(name.clone()));
            }
            Some(first) if first.as_str().is_some_and(|f| f != name) => *first = Value::Null,
            Some(_) => {}
        }
    }
    let two_spellings = |a: &String| spellings.get(&canonical(a)).is_some_and(Value::is_null);
    req.headers
        .iter()
        .find(|(a, value)| {
            own.iter().any(|(n, v)| same_header(a, n) && value != v) || two_spellings(a)
        })
        .map(|(a, _)| a)
}

/// True when the request target holds a raw `#` (a fragment, which no client sends): Kong's
/// engine passes it to the filter and the upstream (Envoy answers 400 itself), where gunicorn
/// and Express end the path at it, while the call shows the service the whole target
/// (`/admin#/../public`, `/public` to a service that normalises, `/admin` to the upstream).
pub fn raw_fragment(req: &Request) -> bool {
    req.path.contains('#')
}

/// True when the host took another host name for the request than its `Host` header names
/// ([`Request::target_host`]: `GET http://victim.example/ HTTP/1.1` with `Host:
/// attacker.example` on Kong): the call would show the service the header's host, while Kong
/// tells the upstream the target's (`X-Forwarded-Host`), and the answer's cache entry would
/// serve the other host. Also when `Host` names a list: two `Host` headers, which Envoy joins
/// with a comma (review), or one holding a comma, which no host name has: the service and the
/// upstream's framework may each take another of them (the first, the last). Also when an
/// RFC 7239 `Forwarded` header names another host (`Forwarded: host=victim.example`): Rack 3's
/// `Rack::Request#host` (Sinatra, Roda, Hanami; Rails reads `X-Forwarded-Host` only) and
/// Spring's `ForwardedHeaderFilter` take it for the request's host ahead of
/// `X-Forwarded-Host`, while the call shows the service the request's (see
/// [`forwarded_elsewhere`]).
pub fn ambiguous_host(req: &Request) -> bool {
    let mut hosts = req
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("host"));
    let first = hosts.next().map(|(_, value)| value.as_str());
    let listed = |value: &str| value.contains(',');
    // On Envoy `Host` arrives as `:authority` (two of them joined).
    if hosts.next().is_some() || first.is_some_and(listed) || listed(&req.authority) {
        return true;
    }
    if !plain_authority(&req.authority) || forwarded_elsewhere(req) {
        return true;
    }
    let named = first.map(forwarded_host);
    matches!((&req.target_host, named), (Some(target), Some(named)) if !target.eq_ignore_ascii_case(&named))
}

/// True when the request's host (`Host`, or `:authority`) is a host name (letters, digits,
/// `-`, `.`, `_`, `~`) or a bracketed IP literal (hex digits, `:` and `.` inside), with at
/// most a port of digits. The call builds `X-Original-URL` and `X-Forwarded-Host` from it, and
/// nginx lets any byte but `/` and controls through: `api.example.com#` or `?` would end the
/// URL's path (`https://h#/admin` names no path), `api.example.com@public.example.com` name
/// another host, and `victim.example:evil.example` is one host to Rack (its port must be
/// digits) and another to the call. (No host at all is left to the hosts, which refuse it:
/// nginx answers 400, Envoy requires `Host` or `:authority`.)
fn plain_authority(authority: &str) -> bool {
    if authority.is_empty() {
        return true;
    }
    let (host, port) = split_port(authority);
    let name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    let literal = |h: &str| {
        h.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|inner| {
                !inner.is_empty()
                    && inner
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
            })
    };
    !host.is_empty()
        && (host.bytes().all(name) || literal(host))
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// True when a `Forwarded` header names a host other than the request's `Host`, or holds a
/// control character (nginx lets `\v` and `\f` through, which Rack strips as blanks around
/// `host`): see [`hosts_named`] for where a host is looked for and [`same_host`] for the
/// comparison.
fn forwarded_elsewhere(req: &Request) -> bool {
    req.headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("forwarded"))
        .any(|(_, value)| {
            value.bytes().any(|b| b.is_ascii_control() && b != b'\t')
                || hosts_named(value).any(|host| !same_host(host, &req.authority))
        })
}

/// Two authorities name the same host: host parts equal without regard to case (and one
/// trailing dot), ports of digits only (`victim.example:evil.example` is one host to Rack),
/// equal when both give one (nginx's `$host`, which front proxies write into `Forwarded`, has
/// none).
fn same_host(a: &str, b: &str) -> bool {
    let (host_a, port_a) = split_port(a);
    let (host_b, port_b) = split_port(b);
    let bare = |h: &str| h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
    let digits = |port: Option<&str>| port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()));
    !host_a.is_empty()
        && digits(port_a)
        && digits(port_b)
        && bare(host_a) == bare(host_b)
        && (port_a.is_none() || port_b.is_none() || port_a == port_b)
}

/// An authority's host and port (`[v6]:443` keeps its brackets in the host).
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let split_at = if authority.starts_with('[') {
        authority.find("]:").map(|end| end + 1)
    } else {
        authority.rfind(':')
    };
    match split_at {
        Some(at) => (
            authority.get(..at).unwrap_or(authority),
            authority.get(at + 1..),
        ),
        None => (authority, None),
    }
}

/// Every value a reader of `Forwarded` might take for the host: whatever follows `host` (in
/// any case, anywhere: Spring's reading is a regular expression not anchored to a parameter's
/// start, so `ghost=` and a quoted `for="host=…"` count, and Rack 3.1's reads a name right
/// after a closing quote) and `=`, blanks allowed around it. A quoted value runs to the next
/// `"`, any other to `;`, `,` or `"` (blanks inside it stay, as Spring and Rack read them),
/// less blanks at its end. A value holding a backslash (a quoted pair) cannot equal a host
/// name, so it is refused with the rest.
fn hosts_named(value: &str) -> impl Iterator<Item = &str> {
    let bytes = value.as_bytes();
    let blank = |b: &u8| matches!(b, b' ' | b'\t');
    (0..bytes.len()).filter_map(move |at| {
        let name = bytes.get(at..at + 4)?;
        if !name.eq_ignore_ascii_case(b"host") {
            return None;
        }
        let mut i = at + 4;
        while bytes.get(i).is_some_and(blank) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while bytes.get(i).is_some_and(blank) {
            i += 1;
        }
        let quoted = bytes.get(i) == Some(&b'"');
        let start = if quoted { i + 1 } else { i };
        let end = (start..bytes.len())
            .find(|&k| {
                bytes
                    .get(k)
                    .is_some_and(|b| *b == b'"' || (!quoted && matches!(b, b';' | b',')))
            })
            .unwrap_or(bytes.len());
        value.get(start..end).map(|v| {
            if quoted {
                v
            } else {
                v.trim_end_matches([' ', '\t'])
            }
        })
    })
}

/// True when the path is one that readers resolve to another: a `.` or `..` segment (also
/// written `%2e`, followed by `;` parameters as Tomcat and Jetty strip them, or between
/// separators written `%2F`, `%5C` or `\`, which nginx, IIS and Istio's slash merging take for
/// `/`), an empty segment (`//`), an escaped unreserved character (`%61dmin`), a double escape
/// (`%252e`, for readers that decode twice) or an overlong UTF-8 lead byte (`%C0`, `%C1`).
/// Kong's router sends the upstream `normalize(path)` (`kong/tools/uri.lua`: unreserved
/// escapes decoded, dot segments removed, slashes merged) and upstream frameworks resolve the
/// same, while the call shows the service the path as sent: `/public/../admin` would be judged
/// under `/public` and reach `/admin`. No client that follows RFC 3986 sends such a path.
pub fn ambiguous_path(req: &Request) -> bool {
    let path = req.path_only();
    let unreserved = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
    let bytes = path.as_bytes();
    let suspect_escape = (0..bytes.len()).any(|i| match escaped_byte(bytes, i) {
        // `%25` followed by two hex digits: a second decoding makes an escape of it.
        Some(0x25) => bytes
            .get(i + 3..i + 5)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
        Some(byte) => unreserved(byte) || matches!(byte, 0xC0 | 0xC1),
        None => false,
    });
    let separated = ["%2F", "%2f", "%5C", "%5c", "\\"]
        .iter()
        .fold(path.to_string(), |p, sep| p.replace(sep, "/"));
    let dot_segment = separated.split('/').any(|segment| {
        let name = segment.split(';').next().unwrap_or(segment);
        matches!(name, "." | "..")
    });
    separated.contains("//") || suspect_escape || dot_segment
}

/// The headers frameworks take for the method: Rails, Laravel, Express's method-override and
/// ASP.NET read them on a `POST`.
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// True when the request names another method than its own where frameworks take it for the
/// method: a method override header ([`METHOD_OVERRIDE_HEADERS`], in any spelling), or a
/// `_method` query parameter (in any spelling they file under it: [`reads_as`]; Laravel and
/// Symfony act on a `POST /items/7?_method=DELETE` as on a `DELETE`), while the call shows the
/// service `X-Forwarded-Method: POST`.
pub fn method_override(req: &Request) -> bool {
    let header = req.headers.iter().any(|(name, value)| {
        METHOD_OVERRIDE_HEADERS.iter().any(|h| same_header(name, h)) && other_method(req, value)
    });
    header || names_other_method(req, &parse_form(req.query().as_bytes()), reads_as)
}

/// True when the body the call carries (`forward_body`) names another method than the
/// request's where frameworks take it for the method, as [`method_override`] for the query: a
/// `_method` field of a form (urlencoded or multipart, in any spelling they file under it;
/// Rails and Laravel read it on a `POST`) or member of a JSON object (Laravel reads a JSON
/// body's fields as the form's), while the call shows the service `X-Forwarded-Method: POST`.
pub fn body_method_override(req: &Request, bytes: &[u8]) -> bool {
    let content_type = req.header("content-type");
    let fields = match reading(content_type, bytes) {
        Reading::Form => parse_form(bytes),
        Reading::Multipart => content_type
            .and_then(|ct| multipart::form_fields(ct, bytes))
            .unwrap_or(Value::Null),
        Reading::Json => {
            let json = serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null);
            return names_other_method(req, &json, |key, name| key == name);
        }
    };
    names_other_method(req, &fields, reads_as)
}

/// True when `fields` (an object) holds a `_method` (as `reads` matches names) whose value is
/// not the request's method.
fn names_other_method(req: &Request, fields: &Value, reads: fn(&str, &str) -> bool) -> bool {
    let Value::Object(fields) = fields else {
        return false;
    };
    fields.iter().any(|(key, value)| {
        reads(key, "_method") && value.as_str().is_none_or(|v| other_method(req, v))
    })
}

/// True when `value` is not the request's method. Only the blanks HTTP trims: `\u{a0}POST` is
/// no `POST` to the frameworks.
fn other_method(req: &Request, value: &str) -> bool {
    !value
        .trim_matches([' ', '\t'])
        .eq_ignore_ascii_case(&req.method)
}

/// The headers servers and frameworks have taken for the request's URL in place of its own:
/// IIS's URL Rewrite module sets `X-Original-URL`, and Symfony, Zend and Laminas read both
/// (until 2018), as apps of their lineage and request filters written after them still do.
/// A client's copies are removed (`strip_client_headers`).
pub(super) const URL_OVERRIDE_HEADERS: [&str; 2] = ["x-original-url", "x-rewrite-url"];

/// True when a header or the target holds U+FFFD: the glue reads the host's bytes as UTF-8 with
/// every invalid sequence replaced by it, so the call would show the service other bytes than
/// the upstream gets (`caf\xE9` as `caf\u{FFFD}`), and requests that differ only there would
/// share a cached answer. (A client that sends U+FFFD itself is refused alike.)
pub fn replaced_text(req: &Request) -> bool {
    let replaced = |s: &String| s.contains('\u{FFFD}');
    replaced(&req.path)
        || replaced(&req.authority)
        || req.headers.iter().any(|(n, v)| replaced(n) || replaced(v))
}

/// Why, with `forward_query`, the call would show the query otherwise than an upstream reads
/// it, if it would: a raw `;` (`a=1;b=2` is one pair to Kong's `get_query()`, two to Rack 2,
/// Python before 3.9.2 and Go before 1.17); two keys PHP reads as one
/// ([`php::renamed_alike`]).
pub fn ambiguous_query(rec: &Reconcile, req: &Request) -> Option<Refusal> {
    if !rec.forward_query {
        return None;
    }
    if req.query().contains(';') {
        return Some(Refusal::SemicolonSeparator);
    }
    php::renamed_alike(&parse_form(req.query().as_bytes())).then_some(Refusal::AmbiguousParameter)
}

/// The client headers `copy_headers` puts on the call, in order, values [`trimmed`]: all but
/// pseudo-headers, [`NOT_COPIED`], the call's own headers ([`OWN_HEADERS`],
/// [`CHECKED_HEADERS`]) and [`CLIENT_ADDRESS_HEADERS`]. Headers the client's `Connection` header names are
/// copied too: the hosts forward them to the upstream (nginx, as Kong, sends every client header
/// but `Connection` itself; Envoy drops `Connection` before filters see it), so the auth
/// service must see them, or a client could hide a header from it that the upstream acts on.
pub(super) fn copied_headers(req: &Request) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for (name, value) in &req.headers {
        let lower = name.to_ascii_lowercase();
        // The call's own in any spelling: gunicorn before 22 and other WSGI servers read
        // `X_Real_IP` as `X-Real-IP`.
        let own = OWN_HEADERS
            .iter()
            .chain(&CHECKED_HEADERS)
            .chain(&CLIENT_ADDRESS_HEADERS)
            .any(|o| same_header(name, o));
        if !lower.starts_with(':') && !NOT_COPIED.contains(&lower.as_str()) && !own {
            out.push((name.as_str(), trimmed(value)));
        }
    }
    out
}

/// A header value without SP and HTAB at either end: Kong's engine keeps a tab there (nginx
/// trims only spaces), while upstreams read the value without them (RFC 9110 5.5), and so must
/// the auth service (Python's `http.server` keeps a trailing one).
fn trimmed(value: &str) -> &str {
    value.trim_matches(|c| c == ' ' || c == '\t')
}

/// The call body: a JSON object with, each only when its flag is on,
/// - `path` (`forward_path`): the request path without the query, raw;
/// - `query` (`forward_query`): the query as an object (see [`parse_form`]);
/// - `headers` (`forward_headers`): every client header, names lower-case, values
///   [`trimmed`]; a repeated header becomes an array of its values in order, as Kong's
///   `get_headers()` gives it (one value stays a string). `host` is among them, the raw `Host` as the client sent it (port kept):
///   where the host gives it only as `:authority` (Envoy), from there;
/// - `body` (`forward_body`): what Kong's `kong.request.get_body()` gives, see [`body_value`];
///   the key is left out when it gives nothing (no `Content-Type`, an unsupported one, JSON that
///   is not an object or array), never `""` or `null`.
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
        let has_host = req
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"));
        if !has_host && !req.authority.is_empty() {
            headers.insert("host".into(), Value::String(req.authority.clone()));
        }
        for (name, value) in &req.headers {
            push_repeated(
                &mut headers,
                name.to_ascii_lowercase(),
                Value::String(trimmed(value).to_string()),
            );
        }
        out.insert("headers".into(), Value::Object(headers));
    }
    if rec.forward_body {
        if let Some(value) = body.and_then(|bytes| body_value(req.header("content-type"), bytes)) {
            out.insert("body".into(), value);
        }
    }
    Value::Object(out)
}

/// The request body as the auth service is shown it: what Kong's `kong.request.get_body()`
/// reads, and a JSON body under any other type. By the media type of `Content-Type` (the part
/// before `;`, compared case-insensitively as a prefix, as Kong does):
/// - `application/x-www-form-urlencoded`: an object as [`parse_form`] makes it (`{}` for an
///   empty form);
/// - `multipart/form-data`: an object of the parts that are not files (see
///   [`multipart::form_fields`]);
/// - any other type, or none: the JSON value when the body is JSON (`None` for `null`, an
///   empty, invalid or non-UTF-8 body). Kong reads JSON only under `application/json` and only
///   objects and arrays, but Go's `json.NewDecoder` reads a body whatever its type, FastAPI
///   one without `Content-Type`, Spring's `@RequestBody String` a scalar: the service must
///   see what they act on.
pub fn body_value(content_type: Option<&str>, bytes: &[u8]) -> Option<Value> {
    match reading(content_type, bytes) {
        Reading::Form => Some(parse_form(bytes)),
        Reading::Multipart => {
            // An unreadable form was refused before the call (an empty one gets here): `{}`.
            let fields = content_type.and_then(|ct| multipart::form_fields(ct, bytes));
            Some(fields.unwrap_or_else(|| Map::new().into()))
        }
        Reading::Json => serde_json::from_slice::<Value>(bytes)
            .ok()
            .filter(|value| !value.is_null()),
    }
}

/// How upstreams read a body, by its `Content-Type` ([`body_value`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// `application/x-www-form-urlencoded` pairs.
    Form,
    /// `multipart/form-data` parts.
    Multipart,
    /// JSON, whatever the type says.
    Json,
}

/// The [`Reading`] of a body: urlencoded by its media type (a prefix, as Kong matches it);
/// `multipart/form-data`, and `multipart/mixed` or `multipart/related` holding no JSON, when
/// their parts parse (Rack parses both as forms); with no media type, a form when the body is neither blank nor JSON
/// (Rack reads an untyped POST as a form); JSON for anything else.
pub fn reading(content_type: Option<&str>, bytes: &[u8]) -> Reading {
    let media_type = content_type.map(media_type).unwrap_or_default();
    let no_json = || {
        let blank = bytes.iter().all(u8::is_ascii_whitespace);
        !blank && serde_json::from_slice::<IgnoredAny>(bytes).is_err() && !json_like(bytes)
    };
    // Read as parts only when they parse: other clients of these types (MTOM, batches) send
    // preambles and encoded parts, which Django never reads there.
    let rack_multipart = || {
        ["multipart/mixed", "multipart/related"]
            .iter()
            .any(|m| media_type.starts_with(m))
            && content_type.is_some_and(|ct| multipart::form_fields(ct, bytes).is_some())
    };
    if media_type.starts_with("application/x-www-form-urlencoded") {
        Reading::Form
    } else if media_type.starts_with("multipart/form-data") || rack_multipart() && no_json() {
        Reading::Multipart
    } else if media_type.is_empty() && no_json() {
        Reading::Form
    } else {
        Reading::Json
    }
}

/// Why a body cannot be shown to the auth service as an upstream may read it, if it cannot
/// (by [`body_value`]'s reading of `Content-Type`): a `multipart/form-data` body that is not a
/// plain form ([`multipart::form_fields`]); a urlencoded form that is JSON to a lenient reader
/// ([`json_like`]: a handler decoding JSON whatever the type reads it as JSON) or has a raw `;` (Rack 2 splits
/// pairs on it, the call does not); a form (urlencoded or multipart) with two field names PHP
/// reads as one ([`php::renamed_alike`]); JSON, under any type, naming a member twice in some
/// object (`serde_json`, and so the call, keeps the last value, other parsers the first) or
/// holding an integer beyond 64 bits (shown rounded, read exactly by Python); a body that is no
/// JSON `serde_json` reads, when it is not blank and typed as JSON or JSON to a lenient reader
/// ([`json_like`]: the call would carry no `body`, while a lenient upstream may read a
/// byte-order-marked or `NaN` document, or the first value of `{...}x`); and, for any
/// body, a second `Content-Type` header or, for a form or JSON, a charset other than UTF-8.
pub fn unshowable_body(req: &Request, bytes: &[u8]) -> Option<Refusal> {
    let content_type = req.header("content-type");
    let media_type = content_type.map(media_type).unwrap_or_default();
    // First, before any reading below builds values from it.
    let parts = media_type.starts_with("multipart/");
    let boundary = content_type.filter(|_| parts).and_then(multipart::boundary);
    let shape =
        if media_type.is_empty() || media_type.starts_with("application/x-www-form-urlencoded") {
            super::budget::Shape::Form
        } else if parts {
            super::budget::Shape::Multipart(boundary.as_deref().map(str::as_bytes))
        } else {
            super::budget::Shape::Other
        };
    if let Some(max) = super::budget::over_budget(shape, bytes) {
        return Some(Refusal::ComplexBody { max });
    }
    let how = reading(content_type, bytes);
    let form = how == Reading::Form;
    let json = is_json(&media_type);
    // A second Content-Type reaches the upstream, where gunicorn keeps the last; Tomcat decodes
    // a form by its charset: the service would be shown the body read another way.
    let read = form || json || media_type.starts_with("multipart/");
    let mut types = 0;
    for (name, _) in &req.headers {
        types += usize::from(name.eq_ignore_ascii_case("content-type"));
    }
    if types > 1 || read && !content_type.is_none_or(utf8_charset) {
        return Some(Refusal::EncodedBody);
    }
    if how == Reading::Multipart {
        let Some(fields) = content_type.and_then(|ct| multipart::form_fields(ct, bytes)) else {
            return Some(Refusal::InvalidFormBody);
        };
        return php::renamed_alike(&fields).then_some(Refusal::AmbiguousParameter);
    }
    let untyped = media_type.is_empty();
    // Untyped JSON holding `=`: Rack reads an untyped POST as a form whatever it holds
    // (`["&role=admin&x="]` is `role=admin` there), the call shows the JSON.
    if untyped && !form && bytes.contains(&b'=') && !bytes.iter().all(u8::is_ascii_whitespace) {
        return Some(Refusal::AmbiguousBody);
    }
    // PHP and Rack split only typed forms (an untyped binary upload may hold any `;`).
    if form && !untyped {
        // JSON labelled a form: shown as form keys, read as JSON by a handler that decodes
        // JSON whatever the type (Go's `json.NewDecoder`).
        if json_like(bytes) {
            return Some(Refusal::EncodedBody);
        }
        if bytes.contains(&b';') {
            return Some(Refusal::SemicolonSeparator);
        }
        return php::renamed_alike(&parse_form(bytes)).then_some(Refusal::AmbiguousParameter);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match crate::jose::json::from_slice_exact(bytes) {
        Ok(_) => None,
        // A `Value`, not `IgnoredAny`: only the former stops at 128 levels, as the call's
        // reading does (the value budget above bounds what it builds).
        Err(_) if serde_json::from_slice::<Value>(bytes).is_ok() => Some(Refusal::AmbiguousBody),
        Err(_) if json || json_like(bytes) => Some(Refusal::InvalidJsonBody),
        Err(_) => None,
    }
}

/// True when a lenient reader finds a JSON object or array in the body: after blanks and a
/// UTF-8 byte-order mark (Python's `json.loads` takes the mark), an object or array that is
/// complete once bytes that are not UTF-8 are replaced (Go's decoder does so, and reads the
/// first value of `{...}x` and stops), or one that holds `NaN` or `Infinity` (Python takes
/// them), or one nested deeper than `serde_json` reads (128 levels; Go reads 10,000). Text that
/// merely begins with a bracket (`[INFO] started`) is none.
fn json_like(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start();
    if !text.starts_with(['{', '[']) {
        return false;
    }
    // Checked, never built: the text may be far past the value budget, which reads the raw
    // bytes (review: a byte-order mark got 1,000,000 objects parsed into 426 MB).
    let mut values =
        serde_json::Deserializer::from_slice(text.as_bytes()).into_iter::<IgnoredAny>();
    matches!(values.next(), Some(Ok(_)))
        || text.contains("NaN")
        || text.contains("Infinity")
        || nesting(text.as_bytes()) >= 128
}

/// The deepest nesting of brackets outside strings (a bound on what a JSON reader recurses).
fn nesting(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'{' | b'[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// True when a `Content-Type` names no `charset`, or names it once as `charset=utf-8` (any
/// case; a quoted or spaced one is refused too): Tomcat decodes a form by it, UTF-16 and EBCDIC
/// included.
fn utf8_charset(content_type: &str) -> bool {
    let bytes = content_type.as_bytes();
    let mut seen = false;
    for (at, word) in bytes.windows(7).enumerate() {
        if word.eq_ignore_ascii_case(b"charset") {
            let value = bytes.get(at + 7..at + 13).unwrap_or_default();
            if seen || !value.eq_ignore_ascii_case(b"=utf-8") {
                return false;
            }
            seen = true;
        }
    }
    true
}

/// The media type of a `Content-Type` value: before any `;`, trimmed, lower-case.
fn media_type(content_type: &str) -> String {
    let media_type = content_type.split(';').next().unwrap_or_default();
    media_type.trim().to_ascii_lowercase()
}

/// True for a JSON media type: `application/json` as a prefix (as Kong reads it), `text/json`
/// (ASP.NET reads it as JSON), or a structured `application/<type>+json`.
fn is_json(media_type: &str) -> bool {
    media_type.starts_with("application/json")
        || media_type.starts_with("text/json")
        || media_type.starts_with("application/") && media_type.ends_with("+json")
}

/// True when the request's body is under a `Content-Encoding` other than `identity`: the call
/// cannot show it to the auth service ([`body_value`] reads no JSON or form in it), while the
/// upstream may decode it.
pub fn encoded_body(req: &Request) -> bool {
    req.header_all("content-encoding").any(|value| {
        let value = value.trim();
        !value.is_empty() && !value.eq_ignore_ascii_case("identity")
    })
}

/// Parses `a=1&b=x+y&a=2&flag` as nginx's `ngx.decode_args` (Kong's `get_query()`) does:
/// `{"a": ["1", "2"], "b": "x y", "flag": true}`. Pairs split on `&` (empty pieces skipped),
/// key and value on the first `=`; `%XX` is decoded and `+` is a space (a malformed `%` stays
/// as it is, bytes that are not UTF-8 become U+FFFD); a key without `=` is `true`; a repeated
/// key becomes an array in order; an empty key (`=v`) is dropped, as nginx drops it.
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
        if key.is_empty() {
            continue;
        }
        push_repeated(&mut out, percent_decode(key), value);
    }
    Value::Object(out)
}

/// Inserts `value` under `key`, turning a repeated key into an array of its values.
pub(super) fn push_repeated(map: &mut Map<String, Value>, key: String, value: Value) {
    // One search of the map per field: a form of many names is read in n log n of them.
    match map.entry(key) {
        Entry::Vacant(entry) => {
            entry.insert(value);
        }
        Entry::Occupied(mut entry) => match entry.get_mut() {
            Value::Array(values) => values.push(value),
            existing => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        },
    }
}

/// One urlencoded component as nginx decodes it ([`parse_form`]'s names and values).
pub fn percent_decode(bytes: &[u8]) -> String {
    // Most components have nothing to decode: one copy.
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        };
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (b, escaped_byte(bytes, i)) {
            (_, Some(decoded)) => {
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
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The byte a `%XX` escape at `at` stands for, if one is there.
fn escaped_byte(bytes: &[u8], at: usize) -> Option<u8> {
    let digits = bytes.get(at + 1..at + 3)?;
    (bytes.get(at) == Some(&b'%') && digits.iter().all(u8::is_ascii_hexdigit))
        .then(|| std::str::from_utf8(digits).ok())
        .flatten()
        .and_then(|h| u8::from_str_radix(h, 16).ok())
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
            call.headers[..15],
            [
                (":method", "POST"),
                (":path", "/api/v1/auth/reconcile"),
                (":authority", "auth.example:8443"),
                (":scheme", "https"),
                ("content-type", "application/json"),
                ("user-agent", "jwt-reconcile/1.0.0"),
                ("x-forwarded-host", "api.example.com"),
                ("x-forwarded-path", "/orders/7"),
                ("x-forwarded-method", "GET"),
                ("x-forwarded-uri", "/orders/7?a=1&b=x+y&a=2&flag"),
                ("x-original-uri", "/orders/7?a=1&b=x+y&a=2&flag"),
                ("x-original-method", "GET"),
                ("x-forwarded-proto", "https"),
                (
                    "x-original-url",
                    "https://api.example.com/orders/7?a=1&b=x+y&a=2&flag",
                ),
                ("x-forwarded-query", "a=1&b=x+y&a=2&flag"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        assert_eq!(call.body, b"{}");
    }

    /// A forward-auth service builds the URL it judges from `X-Forwarded-Proto` (review: a
    /// client's `https://api.example.com/public?` named `/public` for a request to `/admin`):
    /// only `http` or `https`, said alike by every copy, is taken from the client.
    #[test]
    fn build_call_forwarded_proto_is_a_scheme_never_a_free_value() {
        let shown = |scheme: &str, sent: &[(&str, &str)]| {
            let mut req = request();
            req.scheme = scheme.into();
            req.headers = sent
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            let call = build_call(&config(""), &req, None);
            let proto = value(&call, "x-forwarded-proto").join(",");
            let url = value(&call, "x-original-url").join(",");
            assert_eq!(
                url,
                format!("{proto}://api.example.com/orders/7?a=1&b=x+y&a=2&flag")
            );
            proto
        };
        assert_eq!(shown("http", &[]), "http");
        // Kong's own, which it sends the upstream: whatever the client said.
        let kong = |set: &str, sent: &[(&str, &str)]| {
            let mut req = request();
            req.scheme = "http".into();
            req.host_forwarded_proto = Some(set.into());
            req.headers = sent
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            value(&build_call(&config(""), &req, None), "x-forwarded-proto").join(",")
        };
        assert_eq!(kong("http", &[("x-forwarded-proto", "https")]), "http");
        assert_eq!(kong("HTTPS", &[]), "https");
        assert_eq!(
            kong("https, http", &[("x-forwarded-proto", "http")]),
            "http"
        );
        assert_eq!(shown("", &[]), "http");
        assert_eq!(shown("http", &[("x-forwarded-proto", "https")]), "https");
        assert_eq!(shown("https", &[("X_Forwarded_Proto", " HTTP\t")]), "http");
        for sent in [
            &[("x-forwarded-proto", "https://api.example.com/public?")][..],
            &[("x-forwarded-proto", "https, http")],
            &[
                ("x-forwarded-proto", "https"),
                ("x_forwarded_proto", "http"),
            ],
            &[("x-forwarded-proto", "ftp")],
            &[("x-forwarded-proto", "")],
        ] {
            assert_eq!(shown("http", sent), "http", "{sent:?}");
        }
    }

    /// The client's address as the host determined it, never the client's copies: a forged
    /// `X-Forwarded-For: 10.0.0.5` would pass for an internal network with services that
    /// match on it.
    #[test]
    fn build_call_carries_the_hosts_client_address_never_the_clients() {
        let mut req = request();
        req.headers
            .push(("x-forwarded-for".into(), "10.0.0.5".into()));
        req.headers.push(("X_Real_IP".into(), "10.0.0.5".into()));
        for name in [
            "Forwarded",
            "true-client-ip",
            "CF_Connecting_IP",
            "x-envoy-external-address",
        ] {
            req.headers.push((name.into(), "for=10.0.0.5".into()));
        }
        req.client_ip = Some("203.0.113.7".into());
        let call = build_call(&config(""), &req, None);
        let shown: Vec<String> = call
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        for name in [
            "forwarded",
            "true-client-ip",
            "cf_connecting_ip",
            "x-envoy-external-address",
            "x_real_ip",
        ] {
            assert!(!shown.contains(&name.to_string()), "{name}");
        }
        assert_eq!(value(&call, "x-forwarded-for"), ["203.0.113.7"]);
        assert_eq!(value(&call, "x-real-ip"), ["203.0.113.7"]);
        assert_eq!(value(&call, "x_real_ip"), Vec::<&str>::new());
        req.client_ip = None;
        let call = build_call(&config(""), &req, None);
        assert!(value(&call, "x-forwarded-for").is_empty());
        assert!(value(&call, "x-real-ip").is_empty());
    }

    #[test]
    fn build_call_user_agent_is_the_plugin_version_not_ours() {
        assert_eq!(USER_AGENT, "jwt-reconcile/1.0.0");
        let call = build_call(&config(""), &request(), None);
        assert_eq!(value(&call, "user-agent"), ["jwt-reconcile/1.0.0"]);
    }

    #[test]
    fn build_call_forwarded_host_is_lower_case_without_port() {
        let mut req = request();
        req.authority = "API.Example.COM:8443".into();
        let call = build_call(&config(""), &req, None);
        assert_eq!(value(&call, "x-forwarded-host"), ["api.example.com"]);
    }

    #[test]
    fn forwarded_host_as_nginx_host() {
        for (authority, host) in [
            ("api.example.com", "api.example.com"),
            ("API.Example.com:8080", "api.example.com"),
            ("Example.COM.", "example.com"),
            ("example.com.:80", "example.com"),
            ("[::1]:8080", "[::1]"),
            ("[FE80::1]", "[fe80::1]"),
            ("127.0.0.1:10000", "127.0.0.1"),
            ("", ""),
        ] {
            assert_eq!(forwarded_host(authority), host, "{authority}");
        }
    }

    #[test]
    fn build_call_copy_headers_skips_hop_by_hop_and_own() {
        let call = build_call(&config(""), &request(), None);
        assert_eq!(
            names(&call)[15..],
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
        assert_eq!(value(&call, "user-agent"), ["jwt-reconcile/1.0.0"]);
    }

    /// Regression (review): nginx (Kong) forwards a header the client's `Connection` names, so
    /// the auth service is told it too; `Connection` itself stays off the call.
    #[test]
    fn build_call_copy_headers_copies_connection_named_headers() {
        let mut req = request();
        req.headers
            .push(("connection".into(), "X-Custom, , keep-alive".into()));
        let call = build_call(&config(""), &req, None);
        assert_eq!(value(&call, "x-custom"), ["c"]);
        assert_eq!(value(&call, "authorization"), ["Bearer abc"]);
        assert!(value(&call, "connection").is_empty());
    }

    #[test]
    fn build_call_connection_cannot_hide_what_the_filter_set() {
        let raw = crate::config::parse(
            br#"{"consumers": [{"id": "anon-id", "username": "anon"}],
                "key_auth": {"anonymous": "anon"}, "reconcile": {"url": "http://a"}}"#,
        )
        .unwrap();
        let rec = super::super::compile_in(&raw).unwrap().unwrap();
        let mut req = request();
        req.headers.extend([
            (
                "connection".into(),
                "keep-alive, X-Anonymous-Consumer, X-Custom".into(),
            ),
            ("x-anonymous-consumer".into(), "true".into()),
            ("x-custom".into(), "c".into()),
        ]);
        let call = build_call(&rec, &req, None);
        assert_eq!(value(&call, "x-anonymous-consumer"), ["true"]);
        assert_eq!(value(&call, "x-custom"), ["c", "c"]);
    }

    #[test]
    fn build_call_copy_headers_off_sends_only_own_headers() {
        let call = build_call(&config(r#", "copy_headers": false"#), &request(), None);
        assert_eq!(call.headers.len(), 15);
    }

    #[test]
    fn build_call_get_carries_same_body() {
        let rec = config(r#", "method": "GET", "forward_path": true"#);
        let call = build_call(&rec, &request(), None);
        assert_eq!(value(&call, ":method"), ["GET"]);
        assert_eq!(body_of(&call), json!({"path": "/orders/7"}));
    }

    #[test]
    fn build_call_without_query_sends_no_forwarded_query() {
        for path in ["/plain", "/plain?"] {
            let mut req = request();
            req.path = path.into();
            let call = build_call(&config(r#", "forward_query": true"#), &req, None);
            assert!(value(&call, "x-forwarded-query").is_empty(), "{path}");
            assert_eq!(
                call.headers.len(),
                14 + 6,
                "{path}: own headers, then copied"
            );
            assert_eq!(body_of(&call), json!({"query": {}}), "{path}");
        }
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
    fn envelope_headers_include_host_from_authority() {
        let rec = config(r#", "forward_headers": true"#);
        let mut req = request();
        req.headers.retain(|(n, _)| n != "host");
        req.authority = "API.example.com:8443".into();
        let got = envelope(&rec, &req, None);
        assert_eq!(got["headers"]["host"], "API.example.com:8443");
        assert_eq!(got["headers"]["x-multi"], json!(["1", "2"]));
        // A Host header (Kong's engine) is taken as it is, once.
        req.headers
            .push(("Host".into(), "Client.example:80".into()));
        let got = envelope(&rec, &req, None);
        assert_eq!(got["headers"]["host"], "Client.example:80");
        // No authority at all: no invented host.
        req.headers.retain(|(n, _)| n != "Host");
        req.authority.clear();
        assert!(envelope(&rec, &req, None)["headers"].get("host").is_none());
    }

    /// Regression (review): Kong's engine keeps a leading or trailing tab in a header value
    /// (nginx trims only spaces), so `X-Role:\tadmin\t` was shown in `headers` as `"\tadmin\t"`
    /// while every upstream reads `admin`. Values are shown, and copied, without SP and HTAB at
    /// either end; inside they stay.
    #[test]
    fn envelope_and_copied_headers_trim_sp_and_htab() {
        let rec = config(r#", "forward_headers": true"#);
        let mut req = request();
        req.headers.extend([
            ("x-role".into(), "\tadmin\t".into()),
            ("x-multi".into(), " \t3 \t".into()),
            ("x-inner".into(), "a \t b".into()),
            ("x-blank".into(), "\t".into()),
        ]);
        let got = envelope(&rec, &req, None);
        assert_eq!(got["headers"]["x-role"], "admin");
        assert_eq!(got["headers"]["x-multi"], json!(["1", "2", "3"]));
        assert_eq!(got["headers"]["x-inner"], "a \t b");
        assert_eq!(got["headers"]["x-blank"], "");
        let call = build_call(&rec, &req, None);
        assert_eq!(value(&call, "x-role"), ["admin"]);
        assert_eq!(value(&call, "x-blank"), [""]);
    }

    /// `ambiguous_header` names what the rule over every pair names (the first header in order
    /// with another spelling), in one pass: also over 20,000 headers.
    #[test]
    fn ambiguous_header_matches_the_pairwise_rule() {
        let pairwise = |req: &Request| -> Option<String> {
            let two = |a: &String| req.headers.iter().any(|(b, _)| a != b && same_header(a, b));
            req.headers
                .iter()
                .find(|(a, _)| two(a))
                .map(|(a, _)| a.clone())
        };
        let names = ["x-a", "x_a", "X-A", "x-b", "x_b", "x-c", "x-a-b", "x_a-b"];
        for mask in 0u32..(1 << names.len()) {
            for rotate in 0..names.len() {
                let mut req = request();
                req.headers.clear();
                for i in 0..names.len() {
                    let at = (i + rotate) % names.len();
                    if mask & (1 << at) != 0 {
                        req.headers.push((names[at].into(), "v".into()));
                        req.headers.push((names[at].into(), "w".into()));
                    }
                }
                assert_eq!(
                    ambiguous_header(&req).cloned(),
                    pairwise(&req),
                    "{:?}",
                    req.headers
                );
            }
        }
        let mut req = request();
        req.headers = (0..20_000)
            .map(|i| (format!("x-{i}"), "v".into()))
            .collect();
        assert_eq!(ambiguous_header(&req), None);
        req.headers.push(("x_19999".into(), "v".into()));
        assert_eq!(ambiguous_header(&req).map(String::as_str), Some("x-19999"));
    }

    /// The `body` key as Kong's `get_body()` gives it: `None` means the key is left out.
    /// Regression (review of the untyped and `multipart/mixed|related` readings): untyped JSON
    /// holding `=` is a form to Rack too (refused); an untyped binary upload may hold `;` (PHP and
    /// Rack split only typed forms); `multipart/related` that is no plain form (MTOM's preamble,
    /// base64 parts) is not read as parts, and not refused.
    #[test]
    fn unshowable_body_reads_untyped_and_related_bodies_as_rack_does() {
        let req = |headers: &[(&str, &str)]| Request::get("/p", headers);
        let untyped = req(&[]);
        assert_eq!(
            unshowable_body(&untyped, br#"["&apikey=forged&b="]"#),
            Some(Refusal::AmbiguousBody)
        );
        assert_eq!(unshowable_body(&untyped, br#"{"a": [1, 2]}"#), None);
        assert_eq!(
            unshowable_body(&untyped, b"\x89PNG\r\n\x1a\n\x00;\x01\xff"),
            None
        );
        assert_eq!(unshowable_body(&untyped, b"a=1;b=2"), None);
        let related = req(&[("content-type", "multipart/related; boundary=B")]);
        let preamble = b"\r\n--B\r\nContent-Type: application/xop+xml\r\n\r\n<a/>\r\n--B--\r\n";
        let base64 = b"--B\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0=\r\n--B--\r\n";
        for body in [&preamble[..], &base64[..]] {
            assert_eq!(unshowable_body(&related, body), None);
            assert_eq!(
                reading(Some("multipart/related; boundary=B"), body),
                Reading::Json
            );
        }
        let plain = b"--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--B--";
        assert_eq!(
            reading(Some("multipart/mixed; boundary=B"), plain),
            Reading::Multipart
        );
    }

    fn body_key(ct: Option<&str>, body: &[u8]) -> Option<Value> {
        let rec = config(r#", "forward_body": true"#);
        let mut req = request();
        req.headers.retain(|(n, _)| n != "content-type");
        if let Some(ct) = ct {
            req.headers.push(("Content-Type".into(), ct.into()));
        }
        let got = envelope(&rec, &req, Some(body));
        let object = got.as_object().unwrap();
        assert!(object.keys().all(|k| k == "body"), "{got}");
        object.get("body").cloned()
    }

    #[test]
    fn envelope_body_json_is_any_value_but_null() {
        assert_eq!(
            body_key(Some("application/json"), b"[1,2]"),
            Some(json!([1, 2]))
        );
        assert_eq!(
            body_key(
                Some("Application/JSON; charset=utf-8"),
                br#"{"a": {"b": []}}"#
            ),
            Some(json!({"a": {"b": []}}))
        );
        assert_eq!(body_key(Some("application/json"), b"[]"), Some(json!([])));
        // Structured JSON types are JSON to the upstreams that read them (Flask, Spring).
        assert_eq!(
            body_key(Some("Application/Vnd.Api+JSON"), br#"{"role": "admin"}"#),
            Some(json!({"role": "admin"}))
        );
        // A scalar is what Spring's `@RequestBody String` or Go's decoder reads.
        for (scalar, want) in [
            (&b"1"[..], json!(1)),
            (b"\"s\"", json!("s")),
            (b" true ", json!(true)),
        ] {
            assert_eq!(body_key(Some("application/json"), scalar), Some(want));
        }
        for bad in [&b"{bad"[..], b"", b"  ", b"null", b"{} x", b"[\"\xff\"]"] {
            assert_eq!(body_key(Some("application/json"), bad), None, "{bad:?}");
        }
    }

    #[test]
    fn envelope_body_form_is_an_object_also_when_empty() {
        assert_eq!(
            body_key(
                Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
                b"u=a%20b&u=c&t"
            ),
            Some(json!({"u": ["a b", "c"], "t": true}))
        );
        assert_eq!(
            body_key(Some("application/x-www-form-urlencoded"), b""),
            Some(json!({}))
        );
    }

    #[test]
    fn envelope_body_multipart_gives_text_fields() {
        let body = b"--b1\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
            --b1\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nbin\r\n--b1--";
        assert_eq!(
            body_key(Some("multipart/form-data; boundary=b1"), body),
            Some(json!({"a": "1"}))
        );
        assert_eq!(body_key(Some("multipart/form-data"), b""), Some(json!({})));
    }

    /// Regression (review): a JSON body under another type, or none, was shown as no body,
    /// while Go's `json.NewDecoder` reads it whatever the type and FastAPI without a type.
    #[test]
    fn envelope_body_json_under_any_other_type_or_none() {
        for ct in [
            None,
            Some("text/plain"),
            Some("text/plain; charset=utf-16"),
            Some("application/octet-stream"),
            Some("application/xml"),
            Some("multipart/mixed; boundary=b"),
            Some(""),
        ] {
            let got = body_key(ct, br#"{"role": "admin"}"#);
            assert_eq!(got, Some(json!({"role": "admin"})), "{ct:?}");
            assert_eq!(body_key(ct, b"[1]"), Some(json!([1])), "{ct:?}");
        }
    }

    #[test]
    fn envelope_body_left_out_when_no_reading_finds_one() {
        assert_eq!(body_key(None, b""), None, "a GET without body");
        for body in [&b"role=admin"[..], b"null", b"<a/>", &[0xff, 0x00]] {
            assert_eq!(body_key(Some("text/plain"), body), None, "{body:?}");
        }
        assert_eq!(body_key(None, b"null"), None);
        // Without a type, a body that is no JSON is a form: Rack reads an untyped POST so.
        assert_eq!(
            body_key(None, b"role=admin"),
            Some(json!({"role": "admin"}))
        );
        assert_eq!(body_key(Some(""), b"<a/>"), Some(json!({"<a/>": true})));
        let rec = config(r#", "forward_body": true"#);
        assert_eq!(envelope(&rec, &request(), None), json!({}));
    }

    #[test]
    fn parse_form_decodes_and_groups() {
        assert_eq!(
            parse_form(b"a=1&&b=x+y%2Bz&a=2&a=3&flag&flag=v&=e&%zz=%4&k=%E2%9C%93&bad=%ff"),
            json!({
                "a": ["1", "2", "3"],
                "b": "x y+z",
                "flag": [true, "v"],

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
