//! Where Envoy and Kong (ngx_wasm_module) differ, in one place: property encodings, the
//! client-certificate property names, and how to tell that a request has a body. The state
//! machine in [`super::http`] asks here instead of testing the host itself.
//!
//! Other differences the glue handles elsewhere, each with its reason:
//! - dispatch target: `upstream` is an Envoy cluster or a Kong `host:port`; the config's default
//!   is the url's `host:port` (`stages::url`);
//! - `:authority` is the server's name on Kong: [`super::http::request_from`] reads `host`;
//! - a dispatch that fails on Kong 3.8 never calls back: the guard in [`super::http`];
//! - a call that times out, or fails after its status, is reported differently:
//!   [`name_call_failure`].

use jwt_relay_core::sha256::Rounds;
use jwt_relay_core::stages::reconcile::MAX_ANSWER_BYTES;
use jwt_relay_core::stages::{CallAnswer, HeaderEdit, HeaderEdits};

/// Where Envoy exposes the client certificate's subject DN.
const ENVOY_CLIENT_DN: [&[&str]; 1] = [&["connection", "subject_peer_certificate"]];
/// Where Kong (ngx_wasm_module) does; it does not implement the peer property. On Envoy
/// `subject_local_certificate` is the *server's* certificate: it must never be read there as the
/// client's identity.
const KONG_CLIENT_DN: [&[&str]; 2] = [
    &["connection", "subject_local_certificate"],
    &["ngx", "ssl_client_s_dn"],
];

/// The property that says the client presented a certificate the host accepted (Envoy: a
/// 1-byte boolean; Kong: `"true"`/`"false"`).
pub const MTLS: [&str; 2] = ["connection", "mtls"];

/// True where the host's own plugins may set `X-Consumer-*` before the filter (Kong's Lua auth
/// plugins); on Envoy nothing does, so a client's copies are always the client's.
pub fn host_sets_consumers(kong: bool) -> bool {
    kong
}

/// The property paths to try, in order, for the client certificate's subject DN.
pub fn client_dn_paths(kong: bool) -> &'static [&'static [&'static str]] {
    if kong {
        &KONG_CLIENT_DN
    } else {
        &ENVOY_CLIENT_DN
    }
}

/// The property holding the client's address: Envoy's `source.address` (`ip:port`, the
/// downstream remote address, which `xff_num_trusted_hops` may take from `X-Forwarded-For`),
/// nginx's `$remote_addr` on Kong's engine (the address alone, which Kong's `trusted_ips` and
/// `real_ip_header` may take from a header).
pub fn client_address_path(kong: bool) -> &'static [&'static str] {
    if kong {
        &["ngx", "remote_addr"]
    } else {
        &["source", "address"]
    }
}

/// The IP of a client address property, written as `IpAddr` writes it (an IPv4-mapped IPv6
/// address as the IPv4 address): from `ip:port` or
/// `[v6]:port` (Envoy) or an address alone (Kong). `None` for anything else (a Unix socket's
/// path): the call then carries no address rather than text that is none.
pub fn client_ip(text: &str) -> Option<String> {
    let ip = text
        .parse::<std::net::SocketAddr>()
        .map(|address| address.ip())
        .or_else(|_| text.parse::<std::net::IpAddr>())
        .ok()?;
    // `::ffff:10.0.0.5` (nginx listening with `ipv6only=off`) as `10.0.0.5`: a service's
    // network match and the answer cache see one client as one address.
    Some(ip.to_canonical().to_string())
}

/// Reads a string property in either host's encoding: raw bytes (Envoy) or text (Kong), maybe
/// NUL-terminated; empty means absent.
pub fn decode_text(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches('\0').trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Reads a boolean property: Envoy sends one byte (0 or 1), Kong the text `true`/`false`.
/// Anything else is not a boolean (`None`), which callers treat as false.
pub fn decode_flag(bytes: &[u8]) -> Option<bool> {
    match bytes {
        [0] => Some(false),
        [1] => Some(true),
        _ => match decode_text(bytes)?.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
    }
}

/// Whether a call made after the body was rewritten to another length sends the upstream
/// the client's `Content-Length`. Kong's engine (seen on 3.8 to 3.10) keeps the length the
/// request had when its headers were handed to the filter and puts it back each time the
/// content phase resumes, as it does after a call the body step waited on: the shorter body
/// (a key cut out of it) then went upstream with the longer length, and an upstream reusing the
/// connection read the start of the next request as this body's rest, so a request hidden in
/// a second body was read as a request of its own. A later filter's call in the same chain
/// does the same (seen on the 3.8 and 3.9/3.10 engines; the 3.4 and 3.7 engines kept the
/// filter's length there). On Kong a cut body is therefore padded back to the client's length
/// (`Request::keeps_body_length`); a cut that was not is refused before the filter's own call.
pub fn call_restores_the_clients_length(kong: bool) -> bool {
    kong
}

/// Whether the body size a body step is told may be less than the body: Kong's engine tells
/// every filter of a chain the client's size, also after a filter before it lengthened the
/// body. The filter asks for one byte more, and refuses a body longer than it was told.
pub fn body_size_may_be_stale(kong: bool) -> bool {
    kong
}

/// Whether a response header must be replaced twice. Kong's engine replaces a header the
/// upstream sent once, in any letter case, but one sent twice loses every copy and gets no value
/// at all; a second replace then adds it. Envoy replaces them all. A removal first would also
/// do, but removing an absent `Cache-Control` or `Link` (headers nginx chains) makes
/// ngx_wasm_module link an unset pointer, and the worker dies (SIGSEGV) with every request on
/// it; and whether one is present cannot be told past the engine's 100-pair cut, where its
/// lookup by name finds entries another filter removed (review helper-117).
pub fn replace_drops_repeated_response_headers(kong: bool) -> bool {
    kong
}

/// Whether a local reply sent from a call's answer must go without its body. Kong's engine
/// (every ngx_wasm_module release) hands the chain link of a call's request body back to a free
/// list once the call is sent and, after the answer's callback, clears the buffer of that same
/// link. An answer with a body takes the link first; after an answer without one (a bare 401,
/// a 204, an empty 200) the filter's reply takes it, its body is cleared under it, and nginx
/// closes the client's connection with no answer (`[alert] zero size buf in writer`). A reply
/// without a body takes no link: the client gets its status and headers. A call without a body
/// (a JWKS fetch) leaves no such link.
pub fn reply_without_body_after_empty_answer(
    kong: bool,
    call_sent_body: bool,
    answer_body_size: usize,
) -> bool {
    kong && call_sent_body && answer_body_size == 0
}

/// Whether a body follows the headers. Envoy's `end_of_stream` says so exactly (and it hides
/// `transfer-encoding` from filters); Kong's says nothing (false on headers from Kong 3.6,
/// always true before: ngx_wasm_module 0.1 passes its EOF constant), and Kong calls
/// `on_http_request_body` only for a non-empty body, so there only `content-length` /
/// `transfer-encoding` tell: a request without either has no body, and waiting for one would
/// hang it. The length is read as a number, as nginx reads it: `Content-Length: 00` has no
/// body, and taking it for one would leave the decision to a body step that never comes.
/// (HTTP/2 on Kong needs neither header for a body: the glue refuses a body that comes after
/// a decision made without it.)
pub fn has_body(
    content_length: Option<&str>,
    transfer_encoding: Option<&str>,
    end_of_stream: bool,
    kong: impl FnOnce() -> bool,
) -> bool {
    let kong = kong();
    if end_of_stream && !kong {
        return false;
    }
    match content_length {
        // A length that is not a number: the host would have refused the request; if not,
        // a body is assumed, so the flow waits for it rather than decide without it.
        Some(length) => content_length_value(length) != Some(0),
        None => transfer_encoding.is_some() || !kong,
    }
}

/// Whether the request opens a tunnel and announces no body: an HTTP/1.1 `Upgrade`
/// (WebSocket) or a `CONNECT` (HTTP/2's extended CONNECT for WebSocket too), with neither
/// `transfer-encoding` nor a `content-length` other than 0 (a client's `Content-Length: 0`
/// on a handshake announces no body: review helper-113, its first frame was refused as a body
/// that should not be). Envoy says such a request does not end with its headers (the tunnel
/// follows), where a filter waiting for its body would wait forever. Asked on Envoy only, whose
/// codecs refuse `upgrade` on an HTTP/2 request and `CONNECT` unless a route allows it.
pub fn tunnel(req: &jwt_relay_core::stages::Request) -> bool {
    opens_tunnel(req) && !framed_body(req)
}

/// An upgrade (WebSocket) or a `CONNECT` that also announces a body: Envoy passes what follows
/// its headers as the tunnel, so a body step never sees that body end (review helper-116: a
/// stage reading the body held it until the stream's idle timeout). Refused on Envoy.
pub fn tunnel_with_body(req: &jwt_relay_core::stages::Request) -> bool {
    opens_tunnel(req) && framed_body(req)
}

fn opens_tunnel(req: &jwt_relay_core::stages::Request) -> bool {
    req.header("upgrade").is_some() || req.method.eq_ignore_ascii_case("CONNECT")
}

/// A `transfer-encoding`, or a `content-length` other than 0.
fn framed_body(req: &jwt_relay_core::stages::Request) -> bool {
    let sized = req
        .header("content-length")
        .is_some_and(|length| content_length_value(length) != Some(0));
    sized || req.header("transfer-encoding").is_some()
}

/// The value of a `Content-Length` header: ASCII digits only (surrounding whitespace
/// allowed), as nginx and Envoy parse it; `None` for anything else.
pub fn content_length_value(header: &str) -> Option<u64> {
    let digits = header.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Kong's upstream URI with the query of `new_path` (the flow's `:path` after an edit such as
/// `hide_credentials`): the path part of `current` is kept byte for byte. `None` when the result
/// would hold a space or a control character (it is sent as the request line).
pub fn upstream_uri_with_query(current: &str, new_path: &str) -> Option<String> {
    let path = current.split_once('?').map_or(current, |(p, _)| p);
    let uri = match new_path.split_once('?') {
        Some((_, query)) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_string(),
    };
    let safe = uri.bytes().all(|b| b > b' ' && b != 0x7f);
    safe.then_some(uri)
}

/// The SHA-256 block function on this host (bodies, signing inputs, HS256). Kong's engine
/// compiles with wasmtime's Cranelift, which (wasmtime 19 to 28) spills the sha2 crate's
/// unrolled rounds: 45–50 MB/s against 135–185 MB/s for the scheduled ones. V8 (Envoy) runs the
/// unrolled ones fastest (300 against 225 MB/s). Figures: docs/performance.md, "Body hashing".
pub fn sha256_rounds(kong: bool) -> Rounds {
    if kong {
        Rounds::Scheduled
    } else {
        Rounds::Unrolled
    }
}

/// What the host says about the route's upstream service: its name for `upstream_jwt`'s `aud`
/// (kong-upstream-jwt sends the Kong service's name), its URL for `custom_jwt`'s. Envoy: the
/// route's cluster (`xds.cluster_name`). Kong: the matched service entity, which Kong exposes to
/// filters as JSON in `kong.router.service`; absent on a bare ngx_wasm_module (no Kong) and for
/// a route without a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    /// Its name (Envoy: the cluster; Kong: the service entity's `name`).
    pub name: Option<String>,
    /// Its URL, `protocol://host[:port]path`, the port left out when it is 80 or 443 (as
    /// x-custom-jwt writes `aud`). Kong only: Envoy has no such URL.
    pub url: Option<String>,
}

/// [`Service`] from the host's properties (one read on each host).
pub fn service(kong: bool, read: impl Fn(&[&str]) -> Option<String>) -> Service {
    if !kong {
        return Service {
            name: read(&["xds", "cluster_name"]),
            url: None,
        };
    }
    let Some(entity) = read(&["kong", "router", "service"])
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
    else {
        return Service::default();
    };
    let text = |field: &str| entity.get(field).and_then(|v| v.as_str());
    let url = match (text("protocol"), text("host")) {
        (Some(protocol), Some(host)) => {
            let port = match entity.get("port").and_then(|p| p.as_u64()) {
                None | Some(80) | Some(443) => String::new(),
                Some(port) => format!(":{port}"),
            };
            Some(format!(
                "{protocol}://{host}{port}{}",
                text("path").unwrap_or("")
            ))
        }
        _ => None,
    };
    Service {
        name: text("name").map(str::to_string),
        url,
    }
}

/// Request-header edits as Kong's engine can carry them out. ngx_wasm_module "removes" a request
/// header by zeroing its hash, and nginx's proxy module still sends it; setting a header the
/// client sent once replaces it in place, but of two copies only the first is replaced (the
/// second is sent as the client wrote it). So, on this engine:
/// - a removal followed by a setting of the same name is left to the setting (in place);
/// - any other removal of a header the client sent (or an earlier edit set) becomes a setting to
///   the empty value, in place: the upstream gets `name: ` and never the client's value;
/// - a removal of a header nobody sent is dropped (a setting would add it);
/// - a header the edits touch that the client sent more than once cannot be stripped at all:
///   `Err`, and the request is refused;
/// - nor can one whose name holds a byte other than a letter, digit, `-` or `_`: nginx's
///   HTTP/1 parser leaves such bytes out of the header's hash (`ignore_invalid_headers off`
///   keeps the header), the engine finds a header to set by a hash of every byte, so the
///   setting adds a header and the client's `X.Consumer.ID: forged` is sent beside it
///   (review helper-100). `Err`, and the request is refused.
///
/// `client` holds the request's header names as the client sent them.
pub fn ngx_request_edits(
    client: &[String],
    edits: &HeaderEdits,
) -> Result<HeaderEdits, Unstrippable> {
    let sent = |name: &str| {
        client
            .iter()
            .filter(|c| c.eq_ignore_ascii_case(name))
            .count()
    };
    let mut out = HeaderEdits::default();
    for (i, edit) in edits.0.iter().enumerate() {
        let (HeaderEdit::Set(name, _) | HeaderEdit::Remove(name)) = edit;
        if name.starts_with(':') {
            out.0.push(edit.clone());
            continue;
        }
        match sent(name) {
            0 => {}
            1 if ngx_hashes_whole(name) && !set_otherwise(edits, name) => {}
            1 => return Err(Unstrippable::Unmatched(name.clone())),
            _ => return Err(Unstrippable::Repeated(name.clone())),
        }
        let later = edits.0.get(i + 1..).unwrap_or_default();
        let earlier = edits.0.get(..i).unwrap_or_default();
        let named = |e: &HeaderEdit| match e {
            HeaderEdit::Set(n, _) => n.eq_ignore_ascii_case(name),
            HeaderEdit::Remove(_) => false,
        };
        match edit {
            HeaderEdit::Set(..) => out.0.push(edit.clone()),
            HeaderEdit::Remove(_) if later.iter().any(named) => {}
            HeaderEdit::Remove(_) if sent(name) == 1 || earlier.iter().any(named) => {
                out.set(name.clone(), String::new());
            }
            HeaderEdit::Remove(_) => {}
        }
    }
    Ok(out)
}

/// True when the edits set another spelling of `name` (`X-Anonymous-Consumer` for the client's
/// `X_Anonymous_Consumer`): the client's copy, blanked in place, would go upstream beside the
/// filter's value, and an upstream that folds `_` into `-` joins the two (gunicorn before 22
/// reads `,true`), so the marker no longer reads as set. Review helper-103.
fn set_otherwise(edits: &HeaderEdits, name: &str) -> bool {
    edits.0.iter().any(|e| {
        matches!(e, HeaderEdit::Set(n, _)
            if !n.eq_ignore_ascii_case(name) && jwt_relay_core::stages::headers::same_header(n, name))
    })
}

/// A header the client sent that Kong's engine cannot strip ([`ngx_request_edits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unstrippable {
    /// Sent more than once: only the first copy would be replaced.
    Repeated(String),
    /// A name nginx hashes otherwise than the engine (a setting would add a header beside it),
    /// or another spelling of a header the filter sets (a blank would stay beside its value).
    Unmatched(String),
}

/// True when nginx's HTTP/1 parser hashes every byte of `name` (with `underscores_in_headers
/// on`, as Kong sets it): letters, digits, `-` and `_`.
fn ngx_hashes_whole(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How many request header pairs Kong's engine hands a filter, pseudo-headers included
/// (ngx_wasm_module's `NGX_HTTP_WASM_MAX_REQ_HEADERS`, in every version Kong shipped): it cuts
/// the list there with a warning in its log, and the filter is told nothing. A header past the
/// cut is one the filter can neither judge nor strip (a forged `X-Consumer-Username`, a second
/// token), so a list this long is refused: a full one and a cut one look alike.
pub const NGX_MAX_HEADER_PAIRS: usize = 100;

/// True when Kong's engine may have cut the request's header list of `pairs` pairs.
pub fn ngx_headers_maybe_cut(pairs: usize) -> bool {
    pairs >= NGX_MAX_HEADER_PAIRS
}

/// True for an HTTP/0.9 request on Kong's engine (`request.protocol` is nginx's
/// `$server_protocol`, empty for a request line without a version). nginx sets up no request
/// header list for it, and the engine's first header write into that list kills the worker
/// (SIGSEGV in `ngx_list_push`: review helper-113), so such a request is refused before any.
pub fn ngx_http09(protocol: Option<&str>) -> bool {
    matches!(protocol, None | Some("" | "HTTP/0.9"))
}

/// True when an answer's body is shorter than its `content-length` says, and not because the
/// filter read no more than [`MAX_ANSWER_BYTES`] of it (a larger answer is refused as such).
fn body_cut_short(answer: &CallAnswer) -> bool {
    let length = answer
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| content_length_value(v));
    let read = answer.body.len();
    length.is_some_and(|length| read <= MAX_ANSWER_BYTES && (read as u64) < length)
}

/// The `:dispatch_status` Kong 3.9 (ngx_wasm_module) gives a call that timed out.
pub const DISPATCH_TIMEOUT: (&str, &str) = (":dispatch_status", "timeout");

/// Names a timed-out call the Kong way. Envoy answers a call that times out before the
/// service's headers with its router's 504 (`upstream request timeout`), but one that times out
/// after them (the service sent its headers and trickles the body) with a bare reset: no
/// headers, no status, exactly like a refused or reset connection. A status-less answer that
/// came once the call's timeout had passed is that timeout. The host starts its timer from the
/// event loop's cached time, a little before the filter reads the clock, so the timer may fire
/// slightly short of the measured timeout: up to a tenth of it (at most 100 ms) is allowed.
/// A reset that close to the deadline is reported as a timeout: both fail closed, only the
/// status differs.
///
/// Kong's engine restarts its read timer at every read, so a service trickling its answer a
/// byte at a time held the request for as long as it liked, and its allow was taken (review
/// helper-112). An allow (200) that comes after the timeout, past a tenth of it (100 ms to 1 s)
/// for the callback's own delay, is that timeout, as Envoy would have made it. A late denial
/// stays a denial, so `failure_mode_allow` never turns it into an allow.
///
/// Kong's engine also calls back with what it had read of an answer that then failed (a close
/// after the status line, a stall in the body, a malformed chunk), its `:status` included,
/// beside a `:dispatch_status` other than `ok`: the failure decides, never the status (review
/// helper-117: a `200` status line and a stall went upstream as the service's allow, and was
/// cached as one). A close inside the body it reports `ok`, handing over what came: a body
/// shorter than its `content-length` is that broken connection. (A close inside the header
/// section it also reports `ok`, as an answer without a body: a `200` status line alone then
/// allows when `inject_body_response_into_header` is off, as the service's word.)
pub fn name_call_failure(answer: &mut CallAnswer, elapsed_ms: u64, timeout_ms: u32) {
    let dispatch = answer
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(DISPATCH_TIMEOUT.0))
        .map(|(_, v)| v.clone());
    // Only an allow (or no status) is judged by how its answer ended: any other status is a
    // denial whatever its body did after it, so `failure_mode_allow` never turns one into an
    // allow (review helper-118: a 304 with a `Content-Length` and no body went through).
    let allow = answer.status == Some(200);
    let failure = dispatch
        .clone()
        .filter(|v| v.as_str() != "ok" && (allow || answer.status.is_none()))
        .or_else(|| (allow && body_cut_short(answer)).then(|| "broken connection".to_string()));
    if let Some(failure) = failure {
        answer.status = None;
        answer.body.clear();
        answer.headers = vec![(DISPATCH_TIMEOUT.0.to_string(), failure)];
        return;
    }
    let named = dispatch.is_some();
    if timeout_ms == 0 {
        return;
    }
    let timeout = u64::from(timeout_ms);
    let timed_out = match answer.status {
        None => !named && elapsed_ms.saturating_add((timeout / 10).min(100)) >= timeout,
        Some(200) => elapsed_ms > timeout.saturating_add((timeout / 10).clamp(100, 1000)),
        Some(_) => false,
    };
    if timed_out {
        answer.status = None;
        answer.body.clear();
        answer.headers.clear();
        let (name, value) = DISPATCH_TIMEOUT;
        answer.headers.push((name.to_string(), value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http09_is_a_request_line_without_a_version() {
        for (protocol, old) in [
            (None, true),
            (Some(""), true),
            (Some("HTTP/0.9"), true),
            (Some("HTTP/1.0"), false),
            (Some("HTTP/1.1"), false),
            (Some("HTTP/2.0"), false),
        ] {
            assert_eq!(ngx_http09(protocol), old, "{protocol:?}");
        }
    }

    #[test]
    fn decode_text_accepts_raw_and_nul_terminated() {
        assert_eq!(decode_text(b"CN=a,O=b").as_deref(), Some("CN=a,O=b"));
        assert_eq!(decode_text(b"CN=a\0").as_deref(), Some("CN=a"));
        assert_eq!(decode_text(b""), None);
        assert_eq!(decode_text(b"\0"), None);
    }

    #[test]
    fn decode_flag_envoy_byte_and_kong_text_agree() {
        assert_eq!(decode_flag(&[1]), Some(true));
        assert_eq!(decode_flag(&[0]), Some(false));
        assert_eq!(decode_flag(b"true"), Some(true));
        assert_eq!(decode_flag(b"false"), Some(false));
        assert_eq!(decode_flag(b"true\0"), Some(true));
        assert_eq!(decode_flag(b"yes"), None);
        assert_eq!(decode_flag(b""), None);
        assert_eq!(decode_flag(&[2]), None);
    }

    #[test]
    fn client_ip_reads_either_hosts_address_and_nothing_else() {
        assert_eq!(client_address_path(false), ["source", "address"]);
        assert_eq!(client_address_path(true), ["ngx", "remote_addr"]);
        for (text, ip) in [
            ("203.0.113.7:51234", Some("203.0.113.7")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[::ffff:10.0.0.1]:80", Some("10.0.0.1")),
            ("::ffff:203.0.113.7", Some("203.0.113.7")),
            ("203.0.113.7", Some("203.0.113.7")),
            ("2001:DB8:0::1", Some("2001:db8::1")),
            ("/run/envoy.sock", None),
            ("10.0.0.5, 203.0.113.7", None),
            ("10.0.0.5\r\nX-Injected: 1", None),
            ("", None),
        ] {
            assert_eq!(client_ip(text).as_deref(), ip, "{text}");
        }
    }

    #[test]
    fn client_dn_paths_kong_never_reads_envoy_server_cert() {
        assert_eq!(
            client_dn_paths(false),
            [&["connection", "subject_peer_certificate"][..]]
        );
        assert_eq!(
            client_dn_paths(true),
            [
                &["connection", "subject_local_certificate"][..],
                &["ngx", "ssl_client_s_dn"][..]
            ]
        );
    }

    #[test]
    fn has_body_follows_envoy_eof_and_kong_headers() {
        assert!(!has_body(None, None, true, || false));
        assert!(
            has_body(None, None, false, || false),
            "Envoy: a chunked body hides its header"
        );
        assert!(
            !has_body(None, None, false, || true),
            "Kong: eof is always false on headers"
        );
        assert!(has_body(None, Some("chunked"), false, || true));
        assert!(!has_body(Some("0"), None, false, || false));
        assert!(!has_body(Some(" 0 "), None, false, || true));
        assert!(has_body(Some("3"), None, false, || true));
        // Kong 3.4/3.5's engine says end of stream on every request's headers: the length
        // and the chunked coding still tell (seen: each POST was refused 411 before).
        assert!(has_body(Some("3"), None, true, || true));
        assert!(has_body(None, Some("chunked"), true, || true));
        assert!(!has_body(None, None, true, || true));
        // nginx reads `00` as 0 and never calls the body step: no body, decided now.
        assert!(!has_body(Some("00"), None, false, || true));
        assert!(!has_body(Some("000"), None, false, || false));
        // Not a number: a body is assumed (the flow waits rather than decide without it).
        assert!(has_body(Some("+0"), None, false, || true));
        assert!(has_body(Some(""), None, false, || true));
    }

    #[test]
    fn upstream_uri_keeps_kongs_path_and_takes_the_new_query() {
        // The engine's `:path` is nginx's decoded URI: only its query is taken.
        assert_eq!(
            upstream_uri_with_query("/svc/a%20b?apikey=k&x=1", "/api/a b?x=1").as_deref(),
            Some("/svc/a%20b?x=1")
        );
        assert_eq!(
            upstream_uri_with_query("/svc?apikey=k", "/api").as_deref(),
            Some("/svc")
        );
        assert_eq!(
            upstream_uri_with_query("/svc", "/api?").as_deref(),
            Some("/svc")
        );
        // A decoded CR LF in the path never reaches the request line.
        let injected = "/x HTTP/1.1\r\nX-Consumer-Username: admin\r\nX: ?a=1";
        assert_eq!(
            upstream_uri_with_query("/x%20HTTP%2F1.1%0D%0A?apikey=k&a=1", injected).as_deref(),
            Some("/x%20HTTP%2F1.1%0D%0A?a=1")
        );
        for bad in ["/p?a=1\r\nX: y", "/p?a=1 b", "/p?a=\u{7f}"] {
            assert_eq!(upstream_uri_with_query("/p?apikey=k", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_length_value_reads_digits_only() {
        assert_eq!(content_length_value("0"), Some(0));
        assert_eq!(content_length_value(" 0042 "), Some(42));
        assert_eq!(content_length_value("00"), Some(0));
        for bad in [
            "",
            " ",
            "+1",
            "-0",
            "1,1",
            "0x10",
            "1 2",
            "99999999999999999999999",
        ] {
            assert_eq!(content_length_value(bad), None, "{bad:?}");
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ngx_request_edits_replace_in_place_and_blank_what_they_cannot_remove() {
        let mut edits = HeaderEdits::default();
        edits.remove("x-consumer-username");
        edits.remove("x-anonymous-consumer");
        edits.remove("apikey");
        edits.remove("x-consumer-id");
        edits.set("x-consumer-username", "alice");
        edits.set(":path", "/p");
        let client = names(&["Host", "X-Consumer-Username", "apikey", "X-Consumer-ID"]);
        let out = ngx_request_edits(&client, &edits).unwrap();
        assert_eq!(
            out.0,
            [
                HeaderEdit::Set("apikey".into(), String::new()),
                HeaderEdit::Set("x-consumer-id".into(), String::new()),
                HeaderEdit::Set("x-consumer-username".into(), "alice".into()),
                HeaderEdit::Set(":path".into(), "/p".into()),
            ]
        );
    }

    #[test]
    fn ngx_request_edits_refuse_a_touched_header_sent_twice() {
        let mut edits = HeaderEdits::default();
        edits.remove("x-consumer-username");
        let client = names(&[
            "x-consumer-username",
            "X-Consumer-Username",
            "accept",
            "accept",
        ]);
        assert_eq!(
            ngx_request_edits(&client, &edits),
            Err(Unstrippable::Repeated("x-consumer-username".to_string()))
        );
        let untouched = names(&["accept", "accept"]);
        assert!(ngx_request_edits(&untouched, &edits).unwrap().0.is_empty());
    }

    /// Review (helper-103): `X_Anonymous_Consumer: x` on an anonymous fallback was blanked in
    /// place beside the filter's `x-anonymous-consumer: true`, which gunicorn before 22 joins
    /// into `,true`. Refused; a spelling the filter only removes is still blanked.
    #[test]
    fn ngx_request_edits_refuse_another_spelling_of_a_header_they_set() {
        let mut edits = HeaderEdits::default();
        edits.remove("X_Anonymous_Consumer");
        edits.remove("x-anonymous-consumer");
        edits.set("x-anonymous-consumer", "true");
        let client = names(&["X_Anonymous_Consumer", "accept"]);
        assert_eq!(
            ngx_request_edits(&client, &edits),
            Err(Unstrippable::Unmatched("X_Anonymous_Consumer".to_string()))
        );
        let mut only_removed = HeaderEdits::default();
        only_removed.remove("X_Anonymous_Consumer");
        only_removed.remove("x-anonymous-consumer");
        only_removed.set("x-consumer-id", "c-1");
        assert_eq!(
            ngx_request_edits(&client, &only_removed).unwrap().0,
            [
                HeaderEdit::Set("X_Anonymous_Consumer".into(), String::new()),
                HeaderEdit::Set("x-consumer-id".into(), "c-1".into()),
            ]
        );
        let same_spelling = names(&["X-Anonymous-Consumer"]);
        assert_eq!(
            ngx_request_edits(&same_spelling, &edits).unwrap().0,
            [HeaderEdit::Set(
                "x-anonymous-consumer".into(),
                "true".into()
            )]
        );
    }

    /// Review (helper-100): with `ignore_invalid_headers off`, nginx keeps `X.Consumer.ID` with
    /// a hash of `xconsumerid`; the engine's setting of `x.consumer.id` hashes every byte, finds
    /// nothing and adds a header, so the client's value went upstream. Refused; a name of
    /// letters, digits, `-` and `_` is set in place.
    #[test]
    fn ngx_request_edits_refuse_a_touched_name_nginx_hashes_otherwise() {
        for name in [
            "X.Consumer.ID",
            "x consumer id",
            "x~consumer~id",
            "x-consumer-id.",
        ] {
            let mut edits = HeaderEdits::default();
            edits.remove(name);
            let client = names(&[name, "accept"]);
            assert_eq!(
                ngx_request_edits(&client, &edits),
                Err(Unstrippable::Unmatched(name.to_string())),
                "{name}"
            );
            let untouched = names(&["accept"]);
            assert!(ngx_request_edits(&untouched, &edits).unwrap().0.is_empty());
        }
        let mut edits = HeaderEdits::default();
        edits.remove("X_Consumer_ID");
        let out = ngx_request_edits(&names(&["X_Consumer_ID"]), &edits).unwrap();
        assert_eq!(
            out.0,
            [HeaderEdit::Set("X_Consumer_ID".into(), String::new())]
        );
    }

    fn service_name_of(kong: bool, read: impl Fn(&[&str]) -> Option<String>) -> Option<String> {
        service(kong, read).name
    }

    #[test]
    fn service_name_per_host() {
        let props = |path: &[&str]| match path.join(".").as_str() {
            "xds.cluster_name" => Some("orders".to_string()),
            "kong.router.service" => Some(r#"{"id":"9f","name":"orders-svc","host":"o"}"#.into()),
            _ => None,
        };
        assert_eq!(service_name_of(false, props).as_deref(), Some("orders"));
        assert_eq!(service_name_of(true, props).as_deref(), Some("orders-svc"));
        let unnamed = |_: &[&str]| Some(r#"{"id":"9f","name":null}"#.to_string());
        assert_eq!(service_name_of(true, unnamed), None);
        assert_eq!(
            service_name_of(true, |_: &[&str]| Some("not json".into())),
            None
        );
        assert_eq!(service_name_of(true, |_: &[&str]| None), None);
    }

    #[test]
    fn service_url_as_x_custom_jwt_writes_aud() {
        let kong = |entity: &'static str| move |_: &[&str]| Some(entity.to_string());
        let url = |entity| service(true, kong(entity)).url;
        assert_eq!(
            url(r#"{"protocol":"http","host":"httpbin.apim.eu","port":80,"path":"/anything"}"#)
                .as_deref(),
            Some("http://httpbin.apim.eu/anything")
        );
        assert_eq!(
            url(r#"{"protocol":"https","host":"api.internal","port":8443,"path":null}"#).as_deref(),
            Some("https://api.internal:8443")
        );
        assert_eq!(
            url(r#"{"protocol":"https","host":"h","port":443}"#).as_deref(),
            Some("https://h")
        );
        assert_eq!(url(r#"{"name":"no-host"}"#), None);
        let envoy = |_: &[&str]| Some("orders".to_string());
        assert_eq!(
            service(false, envoy),
            Service {
                name: Some("orders".into()),
                url: None
            }
        );
    }

    fn named(status: Option<u16>, headers: &[(&str, &str)], elapsed: u64, timeout: u32) -> bool {
        let mut answer = CallAnswer {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        };
        name_call_failure(&mut answer, elapsed, timeout);
        answer
            .headers
            .iter()
            .any(|(k, v)| (k.as_str(), v.as_str()) == DISPATCH_TIMEOUT)
    }

    #[test]
    fn name_call_failure_only_a_status_less_answer_at_the_deadline() {
        assert!(named(None, &[], 5000, 5000));
        assert!(named(None, &[], 4900, 5000), "100 ms slack");
        assert!(!named(None, &[], 4899, 5000));
        assert!(named(None, &[], 450, 500), "a tenth of a short timeout");
        assert!(!named(None, &[], 449, 500));
        assert!(
            !named(None, &[], 10, 500),
            "an early reset is a transport failure"
        );
        assert!(
            !named(Some(504), &[], 5000, 5000),
            "Envoy's own 504 speaks for itself"
        );
        assert!(!named(None, &[], 5000, 0));
        assert!(
            !named(
                None,
                &[(":dispatch_status", "broken connection")],
                5000,
                5000
            ),
            "Kong's own report stays"
        );
    }

    /// Kong's engine hands over what it read of an answer that then failed, `:status` and all
    /// (review helper-117): the failure decides; `ok` leaves the answer as it is.
    #[test]
    fn a_failed_call_with_a_status_is_a_failure() {
        for failure in ["timeout", "broken connection", "reader failure"] {
            let mut answer = CallAnswer {
                status: Some(200),
                headers: vec![
                    (":dispatch_status".into(), failure.into()),
                    ("cache-control".into(), "max-age=60".into()),
                ],
                body: b"{\"userId\":\"u-1\"}".to_vec(),
            };
            name_call_failure(&mut answer, 10, 5000);
            let expected = vec![(":dispatch_status".to_string(), failure.to_string())];
            assert_eq!(
                (answer.status, answer.headers, answer.body),
                (None, expected, vec![])
            );
        }
        let ok = CallAnswer {
            status: Some(200),
            headers: vec![(":dispatch_status".into(), "ok".into())],
            body: b"{}".to_vec(),
        };
        let mut answer = ok.clone();
        name_call_failure(&mut answer, 10, 5000);
        assert_eq!(answer, ok);
        // A denial stays one however its answer ended (review helper-118).
        for (status, dispatch) in [
            (304, "ok"),
            (401, "ok"),
            (401, "timeout"),
            (403, "broken connection"),
        ] {
            let denial = CallAnswer {
                status: Some(status),
                headers: vec![
                    (":dispatch_status".into(), dispatch.into()),
                    ("content-length".into(), "20".into()),
                ],
                body: vec![],
            };
            let mut answer = denial.clone();
            name_call_failure(&mut answer, 10, 5000);
            assert_eq!(answer, denial, "{status} {dispatch}");
        }
        // A close inside the body, reported `ok` with what came.
        for (length, failed) in [
            ("100", true),
            ("17", true),
            ("16", false),
            (" 16 ", false),
            ("x", false),
        ] {
            let mut answer = CallAnswer {
                status: Some(200),
                headers: vec![
                    (":dispatch_status".into(), "ok".into()),
                    ("content-length".into(), length.into()),
                ],
                body: b"{\"userId\":\"u-1\"}".to_vec(),
            };
            name_call_failure(&mut answer, 10, 5000);
            assert_eq!(answer.status.is_none(), failed, "{length}");
        }
    }
}
