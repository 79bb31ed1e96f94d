//! A small HTTP/1.1 client with full control over what goes on the wire (header order,
//! duplicates, chunking), so tests can send what real clients and attackers send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body with `Transfer-Encoding: chunked` in chunks of this size.
    pub chunked: Option<usize>,
    /// Headers with arbitrary value bytes (sent after `headers`), e.g. obs-text or invalid UTF-8.
    pub raw_headers: Vec<(String, Vec<u8>)>,
}

impl Request {
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut r = Self::new("POST", path);
        r.body = body.into();
        r
    }

    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            chunked: None,
            raw_headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn raw_header(mut self, name: &str, value: &[u8]) -> Self {
        self.raw_headers.push((name.into(), value.to_vec()));
        self
    }

    pub fn chunked(mut self, size: usize) -> Self {
        self.chunked = Some(size.max(1));
        self
    }
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        header_all(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// First value of a header in a list (case-insensitive name).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every value of a header in a list (case-insensitive name).
pub fn header_all<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Sends one request on a fresh connection and reads the whole response.
pub fn send(addr: SocketAddr, req: &Request) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to Envoy");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(&encode(req, addr)).unwrap();
    read_response(&mut BufReader::new(stream), &req.method)
}

/// Like [`send`], but `None` when the connection fails or breaks (for readiness probes).
pub fn try_send(addr: SocketAddr, req: &Request) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(&encode(req, addr)).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    if raw.is_empty() {
        return None;
    }
    Some(read_response(&mut &raw[..], &req.method))
}

/// Like [`send`] (same patience), but `None` when the server closes the connection without
/// answering: for hosts known to drop a reply (see docs/kong.md).
pub fn send_or_closed(addr: SocketAddr, req: &Request) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).expect("connect to the proxy");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(&encode(req, addr)).unwrap();
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("an answer or a close within 60 s");
    if raw.is_empty() {
        return None;
    }
    Some(read_response(&mut &raw[..], &req.method))
}

fn encode(req: &Request, addr: SocketAddr) -> Vec<u8> {
    encode_as(req, addr, true)
}

/// The request's bytes without `connection: close`, for a connection that carries several.
pub fn encode_keep_alive(req: &Request, addr: SocketAddr) -> Vec<u8> {
    encode_as(req, addr, false)
}

fn encode_as(req: &Request, addr: SocketAddr, close: bool) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.path).into_bytes();
    let has = |n: &str| req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("host") {
        out.extend(format!("host: {addr}\r\n").bytes());
    }
    for (k, v) in &req.headers {
        out.extend(format!("{k}: {v}\r\n").bytes());
    }
    for (k, v) in &req.raw_headers {
        out.extend(format!("{k}: ").bytes());
        out.extend(v);
        out.extend(b"\r\n");
    }
    if close {
        out.extend(b"connection: close\r\n");
    }
    match req.chunked {
        Some(size) => {
            out.extend(b"transfer-encoding: chunked\r\n\r\n");
            for chunk in req.body.chunks(size) {
                out.extend(format!("{:x}\r\n", chunk.len()).bytes());
                out.extend(chunk);
                out.extend(b"\r\n");
            }
            out.extend(b"0\r\n\r\n");
        }
        None => {
            if !req.body.is_empty() || req.method == "POST" || req.method == "PUT" {
                out.extend(format!("content-length: {}\r\n", req.body.len()).bytes());
            }
            out.extend(b"\r\n");
            out.extend(&req.body);
        }
    }
    out
}

/// Reads one response (status line, headers, body by length, chunks, or to EOF).
pub fn read_response(r: &mut impl BufRead, method: &str) -> Response {
    let status_line = read_line(r);
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = read_headers(r);
    let body = if method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else {
        read_body(r, &headers, true)
    };
    Response {
        status,
        headers,
        body,
    }
}

/// Reads a CRLF-terminated line (without the CRLF).
pub fn read_line(r: &mut impl BufRead) -> String {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// Reads header lines up to the blank line.
pub fn read_headers(r: &mut impl BufRead) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(r);
        if line.is_empty() {
            return headers;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
}

/// Reads a message body framed by the headers; `to_eof` reads an unframed body until close.
pub fn read_body(r: &mut impl BufRead, headers: &[(String, String)], to_eof: bool) -> Vec<u8> {
    read_body_and_trailers(r, headers, to_eof).0
}

/// [`read_body`], with the trailers of a chunked body.
pub fn read_body_and_trailers(
    r: &mut impl BufRead,
    headers: &[(String, String)],
    to_eof: bool,
) -> (Vec<u8>, Vec<(String, String)>) {
    let mut body = Vec::new();
    if header(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let size_line = read_line(r);
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                return (body, read_headers(r));
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).unwrap();
            read_line(r);
        }
    } else if let Some(len) = header(headers, "content-length") {
        body.resize(len.parse().unwrap(), 0);
        r.read_exact(&mut body).unwrap();
    } else if to_eof {
        r.read_to_end(&mut body).unwrap();
    }
    (body, Vec::new())
}
