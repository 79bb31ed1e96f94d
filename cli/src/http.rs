//! The GET behind `verify --jwks URL`: `http://` or `https://`, with ureq and rustls (the
//! Mozilla roots of webpki-roots, or the PEM bundle of `--ca`), no redirects, bounded in size
//! and time.

use std::time::Duration;

use jwt_relay_core::jose::jwk::MAX_JWKS_LEN;
use ureq::tls::{parse_pem, Certificate, PemItem, RootCerts, TlsConfig};

use crate::args::CliError;
use crate::input;

/// The whole exchange (resolve, connect, TLS handshake, request, response) must end in this.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on the response body, in bytes: a JWKS the filter would take, and some slack.
const MAX_BODY: u64 = MAX_JWKS_LEN as u64 + 64 * 1024;

/// The URL's scheme, once checked.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Scheme {
    Http,
    Https,
}

/// Checks `url` before any connection: `http://` or `https://`, a host, no user info, a valid
/// port, an ASCII path. The URL without its fragment, and its scheme.
pub fn check_url(url: &str) -> Result<(&str, Scheme), CliError> {
    let bad = |why: &str| CliError::invalid(format!("{url}: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not a URL"))?;
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else {
        return Err(bad("only http:// and https:// URLs are supported"));
    };
    let without_fragment = url.split('#').next().unwrap_or_default();
    let rest = rest.split('#').next().unwrap_or_default();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("needs a host (and no user info)"));
    }
    if let Some((host, port)) = authority.rsplit_once(':') {
        if !port.contains(']') {
            if host.is_empty() {
                return Err(bad("needs a host (and no user info)"));
            }
            port.parse::<u16>().map_err(|_| bad("invalid port"))?;
        }
    }
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("the path must be ASCII without spaces"));
    }
    Ok((without_fragment, scheme))
}

/// The certificates of a PEM bundle (`--ca FILE`), to trust instead of the built-in roots.
pub fn load_ca(path: &str) -> Result<Vec<Certificate<'static>>, CliError> {
    let bytes = input::read_bytes(path)?;
    let source = input::shown(path);
    let mut certs = Vec::new();
    for item in parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(_) => {
                return Err(CliError::invalid(format!(
                    "{source}: not a PEM certificate bundle"
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(CliError::invalid(format!(
            "{source}: no CERTIFICATE in the PEM bundle"
        )));
    }
    Ok(certs)
}

/// GETs `url` and returns the body of a 200 answer as text. `ca`, when given, holds the only
/// certificate authorities an `https://` server may chain to; else the Mozilla roots.
pub fn get(url: &str, ca: Option<Vec<Certificate<'static>>>) -> Result<String, CliError> {
    let (target, _) = check_url(url)?;
    let failed = |why: String| CliError::invalid(format!("GET {url}: {why}"));
    let roots = match ca {
        Some(certs) => RootCerts::from(certs),
        None => RootCerts::WebPki,
    };
    let agent = ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .timeout_global(Some(TIMEOUT))
        // A 3xx is an answer like any other: the filter's jwks_uri does not follow one either.
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("jwt-relay/", env!("CARGO_PKG_VERSION")))
        .accept("application/json")
        .build()
        .new_agent();
    let response = agent.get(target).call().map_err(|e| failed(describe(&e)))?;
    let status = response.status().as_u16();
    if status != 200 {
        let note = if (300..400).contains(&status) {
            " (redirects are not followed)"
        } else {
            ""
        };
        return Err(failed(format!("HTTP {status}{note}")));
    }
    let body = response
        .into_body()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| failed(describe(&e)))?;
    String::from_utf8(body).map_err(|_| failed("the body is not UTF-8".into()))
}

/// What went wrong, for a person.
fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("no complete answer within {} s", TIMEOUT.as_secs()),
        ureq::Error::HostNotFound => "cannot resolve the host".into(),
        ureq::Error::BodyExceedsLimit(limit) => {
            format!("the response body is larger than {limit} bytes")
        }
        ureq::Error::Io(e) => {
            let text = e.to_string();
            // rustls refusing the server's certificate comes as InvalidData; the text is rustls'.
            if e.kind() != std::io::ErrorKind::InvalidData || !text.contains("certificate") {
                text
            } else if text.contains("UnknownIssuer") {
                format!(
                    "TLS certificate refused: {text} (a private CA? pass its PEM with --ca FILE)"
                )
            } else {
                format!("TLS certificate refused: {text}")
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_url_accepts_http_and_https() {
        assert_eq!(
            check_url("http://127.0.0.1:8080/.well-known/jwks.json?v=1").unwrap(),
            (
                "http://127.0.0.1:8080/.well-known/jwks.json?v=1",
                Scheme::Http
            )
        );
        assert_eq!(
            check_url("HTTPS://idp.example/jwks#frag").unwrap(),
            ("HTTPS://idp.example/jwks", Scheme::Https)
        );
        assert_eq!(check_url("http://[::1]:80/").unwrap().1, Scheme::Http);
        assert_eq!(check_url("https://idp?x").unwrap().1, Scheme::Https);
    }

    #[test]
    fn check_url_other_schemes_refused() {
        let e = check_url("ftp://idp/jwks").unwrap_err().to_string();
        assert_eq!(
            e,
            "ftp://idp/jwks: only http:// and https:// URLs are supported"
        );
    }

    #[test]
    fn check_url_bad_forms_refused() {
        for url in [
            "idp/jwks",
            "http:///x",
            "https://:443/x",
            "http://u@h/",
            "http://h:99999/",
            "https://h:x/",
            "http://h/a b",
        ] {
            assert!(check_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn load_ca_needs_a_certificate() {
        let dir = std::env::temp_dir().join(format!("jwt-relay-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let key = key.to_str().unwrap();
        assert_eq!(
            load_ca(key).unwrap_err().to_string(),
            format!("{key}: no CERTIFICATE in the PEM bundle")
        );
        let _ = std::fs::remove_dir_all(&dir);
        let ca = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/jose/mtls_ca.pem"
        );
        assert_eq!(load_ca(ca).unwrap().len(), 1);
    }
}
