//! HTTP/2 requests (h2c, prior knowledge) with full control over the frames: HEADERS, DATA
//! frames (empty ones too) and trailers, sent by tests/support/h2_client.py (Python `h2`).

use super::http::Response;
use super::oracle::run_script;
use base64::Engine as _;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// One HTTP/2 request: its HEADERS, then DATA frames, then trailers (if any).
#[derive(Debug, Clone)]
pub struct H2Request {
    pub headers: Vec<(String, String)>,
    pub data: Vec<String>,
    pub trailers: Option<Vec<(String, String)>>,
    /// A file whose creation lets the client send what follows the HEADERS.
    pub gate: Option<String>,
}

impl H2Request {
    /// A request with the pseudo-headers (`:authority` is the listener's address).
    pub fn new(method: &str, path: &str, authority: SocketAddr) -> Self {
        let headers = [
            (":method", method.to_string()),
            (":scheme", "http".to_string()),
            (":authority", authority.to_string()),
            (":path", path.to_string()),
        ];
        Self {
            headers: headers.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            data: Vec::new(),
            trailers: None,
            gate: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Appends one DATA frame (may be empty).
    pub fn data(mut self, frame: &str) -> Self {
        self.data.push(frame.into());
        self
    }

    /// Ends the stream with a trailers HEADERS frame.
    pub fn trailers(mut self, trailers: &[(&str, &str)]) -> Self {
        let list = trailers.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        self.trailers = Some(list.collect());
        self
    }

    /// Sends the DATA frames and trailers only once the file `path` exists (the test creates
    /// it when what it waits for happened, such as the upstream receiving the headers).
    pub fn gate(mut self, path: &str) -> Self {
        self.gate = Some(path.into());
        self
    }

    fn op(&self, addr: SocketAddr) -> Value {
        json!({
            "addr": addr.to_string(),
            "headers": self.headers,
            "data": self.data,
            "trailers": self.trailers,
            "gate": self.gate,
        })
    }
}

/// Sends each request on its own connection; one response per request, in order. Panics when a
/// stream ends without a complete response (a reset is never what these tests expect).
pub fn send_all(addr: SocketAddr, requests: &[H2Request]) -> Vec<Response> {
    let ops = requests.iter().map(|r| r.op(addr)).collect();
    run_script("h2_client.py", ops)
        .into_iter()
        .map(|result| response(&result))
        .collect()
}

/// Sends one request.
pub fn send(addr: SocketAddr, request: &H2Request) -> Response {
    send_all(addr, std::slice::from_ref(request)).remove(0)
}

fn response(result: &Value) -> Response {
    assert_eq!(result["reset"], false, "the stream was reset: {result}");
    let status = result["status"].as_u64().expect("a :status") as u16;
    let headers = result["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(result["body_b64"].as_str().unwrap())
        .unwrap();
    Response {
        status,
        headers,
        body,
    }
}
