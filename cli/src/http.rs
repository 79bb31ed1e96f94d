//! A plain HTTP/1.1 GET for `verify --jwks http://...`: std only, no TLS, no redirects,
//! bounded in size and time.

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use jwt_relay_core::jose::jwk::MAX_JWKS_LEN;

use crate::args::CliError;

/// Connect, read and write timeout.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on the whole response (status line, headers, body), in bytes.
const MAX_RESPONSE: u64 = MAX_JWKS_LEN as u64 + 64 * 1024;

/// Where a GET goes.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// `host[:port]` as written, for the `Host` header.
    authority: String,
    /// Host without brackets, for connecting.
    host: String,
    port: u16,
    /// Path and query, at least `/`.
    path: String,
}

fn parse_url(url: &str) -> Result<Target, CliError> {
    let bad = |why: &str| CliError::invalid(format!("{url}: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not a URL"))?;
    if scheme.eq_ignore_ascii_case("https") {
        return Err(bad(
            "https:// is not supported (this tool has no TLS): fetch the JWKS with curl and pass the file",
        ));
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(bad("only http:// URLs are supported"));
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("needs a host (and no user info)"));
    }
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("the path must be ASCII without spaces"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse::<u16>().map_err(|_| bad("invalid port"))?),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let path = match path {
        "" => "/".to_owned(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_owned(),
    };
    Ok(Target {
        authority: authority.to_owned(),
        host: host.to_owned(),
        port,
        path,
    })
}

/// GETs `url` and returns the body of a 200 answer as text.
pub fn get(url: &str) -> Result<String, CliError> {
    let target = parse_url(url)?;
    let failed = |why: String| CliError::invalid(format!("GET {url}: {why}"));
    let addrs = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| failed(format!("cannot resolve {}: {e}", target.host)))?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = stream.ok_or_else(|| match last {
        Some(e) => failed(format!("cannot connect: {e}")),
        None => failed("no address".into()),
    })?;
    let io = |e: std::io::Error| failed(e.to_string());
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: jwt-relay/{}\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let body = read_response(&mut BufReader::new(stream.take(MAX_RESPONSE))).map_err(failed)?;
    String::from_utf8(body).map_err(|_| failed("the body is not UTF-8".into()))
}

fn line(reader: &mut impl BufRead) -> Result<String, String> {
    let mut text = String::new();
    let n = reader.read_line(&mut text).map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("connection closed early".into());
    }
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads one response; the body of a 200, else why not. Framing: chunked, `content-length`,
/// or until the server closes (the request asked it to).
fn read_response(reader: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let status_line = line(reader)?;
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| "not an HTTP/1.x response".to_owned())?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let header = line(reader)?;
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<u64>().map_err(|_| "bad content-length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
        }
    }
    if status != 200 {
        let note = if (300..400).contains(&status) {
            " (redirects are not followed)"
        } else {
            ""
        };
        return Err(format!("HTTP {status}{note}"));
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = line(reader)?;
            let size_hex = size_line.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(size_hex, 16).map_err(|_| "bad chunk size")?;
            if size == 0 {
                break;
            }
            read_exact(reader, size, &mut body)?;
            line(reader)?;
        }
    } else if let Some(len) = length {
        read_exact(reader, len, &mut body)?;
    } else {
        reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
    }
    Ok(body)
}

fn read_exact(reader: &mut impl Read, len: u64, into: &mut Vec<u8>) -> Result<(), String> {
    let got = reader
        .take(len)
        .read_to_end(into)
        .map_err(|e| e.to_string())?;
    if (got as u64) < len {
        return Err("response truncated (or larger than the limit)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_url_host_port_and_path_split() {
        let t = parse_url("http://127.0.0.1:8080/.well-known/jwks.json?v=1").unwrap();
        assert_eq!(
            t,
            Target {
                authority: "127.0.0.1:8080".into(),
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/.well-known/jwks.json?v=1".into(),
            }
        );
        let t = parse_url("HTTP://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("::1", 80, "/"));
        assert_eq!(parse_url("http://idp?x").unwrap().path, "/?x");
    }

    #[test]
    fn parse_url_https_refused_with_advice() {
        let e = parse_url("https://idp/jwks").unwrap_err().to_string();
        assert!(e.contains("https:// is not supported"), "{e}");
        assert!(e.contains("curl"), "{e}");
    }

    #[test]
    fn parse_url_bad_forms_refused() {
        for url in [
            "ftp://x/",
            "http:///x",
            "http://u@h/",
            "http://h:99999/",
            "http://h/a b",
        ] {
            assert!(parse_url(url).is_err(), "{url}");
        }
    }

    fn response(text: &str) -> Result<Vec<u8>, String> {
        read_response(&mut text.as_bytes())
    }

    #[test]
    fn read_response_framings_give_the_body() {
        assert_eq!(
            response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").unwrap(),
            b"ok"
        );
        assert_eq!(
            response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nab\r\n1\r\nc\r\n0\r\n\r\n")
                .unwrap(),
            b"abc"
        );
        assert_eq!(response("HTTP/1.0 200 OK\r\n\r\nall").unwrap(), b"all");
    }

    #[test]
    fn read_response_errors_are_described() {
        assert_eq!(
            response("HTTP/1.1 404 Not Found\r\n\r\n").unwrap_err(),
            "HTTP 404"
        );
        assert_eq!(
            response("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n").unwrap_err(),
            "HTTP 302 (redirects are not followed)"
        );
        assert!(response("SSH-2.0\r\n").is_err());
        assert!(response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
    }
}
