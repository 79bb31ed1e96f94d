//! Where Envoy and Kong (ngx_wasm_module) differ, in one place: property encodings, the
//! client-certificate property names, and how to tell that a request has a body. The state
//! machine in [`super::http`] asks here instead of testing the host itself.
//!
//! Other differences the glue handles elsewhere, each with its reason:
//! - dispatch target: `upstream` is an Envoy cluster or a Kong `host:port`; the config's default
//!   is the url's `host:port` (`stages::url`);
//! - `:authority` is the server's name on Kong: [`super::http::request_from`] reads `host`;
//! - a dispatch that fails on Kong 3.8 never calls back: the guard in [`super::http`].

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

/// The property paths to try, in order, for the client certificate's subject DN.
pub fn client_dn_paths(kong: bool) -> &'static [&'static [&'static str]] {
    if kong {
        &KONG_CLIENT_DN
    } else {
        &ENVOY_CLIENT_DN
    }
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

/// Whether a body follows the headers. Envoy's `end_of_stream` says so exactly (and it hides
/// `transfer-encoding` from filters); Kong's is always false on headers, and Kong calls
/// `on_http_request_body` only for a non-empty body, so there only `content-length` /
/// `transfer-encoding` tell: a request without either has no body, and waiting for one would
/// hang it.
pub fn has_body(
    content_length: Option<&str>,
    transfer_encoding: Option<&str>,
    end_of_stream: bool,
    kong: impl FnOnce() -> bool,
) -> bool {
    if end_of_stream {
        return false;
    }
    match content_length.map(str::trim) {
        Some(length) => length != "0",
        None => transfer_encoding.is_some() || !kong(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
