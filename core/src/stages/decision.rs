//! The data a stage returns: go on with header edits, or answer the request locally.

/// One change to the upstream request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Replace every value of the header with this one.
    Set(String, String),
    /// Remove the header.
    Remove(String),
}

/// Header changes applied in order before the request goes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderEdits(pub Vec<HeaderEdit>);

impl HeaderEdits {
    /// Appends a `Set`.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push(HeaderEdit::Set(name.into(), value.into()));
    }

    /// Appends a `Remove`.
    pub fn remove(&mut self, name: impl Into<String>) {
        self.0.push(HeaderEdit::Remove(name.into()));
    }

    /// The path as these edits leave it: the last `:path` set, else `path`. A stage that edits
    /// the path starts from here, or it would put back what an earlier stage removed.
    pub fn path_or(&self, path: &str) -> String {
        let mut out = path;
        for edit in &self.0 {
            if let HeaderEdit::Set(name, value) = edit {
                if name == ":path" {
                    out = value;
                }
            }
        }
        out.to_string()
    }
}

/// A reply sent by the filter instead of proxying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers (besides the status).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl LocalResponse {
    /// A JSON reply: `Content-Type: application/json; charset=utf-8` and the serialised value.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), super::grpc::JSON_TYPE.into())],
            body: body.to_string().into_bytes(),
        }
    }
}

/// The longest call timeout: Envoy refuses a call of 2^31 ms or more (status 2, bad argument),
/// so a longer configured timeout waits this long instead (review helper-116: every call
/// failed, and with `failure_mode_allow` every request went through). About 24.8 days.
pub const MAX_CALL_TIMEOUT_MS: u32 = i32::MAX as u32;

/// An HTTP call the filter makes (Proxy-Wasm `dispatch_http_call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSpec {
    /// Dispatch target: an Envoy cluster name, or `host:port` on Kong.
    pub upstream: String,
    /// Headers including `:method`, `:path`, `:authority` and `:scheme`.
    pub headers: Vec<(String, String)>,
    /// Request body (may be empty).
    pub body: Vec<u8>,
    /// The one timeout Proxy-Wasm gives a call, in milliseconds; at most
    /// [`MAX_CALL_TIMEOUT_MS`].
    pub timeout_ms: u32,
}

/// The answer to a [`CallSpec`], as the host delivered it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallAnswer {
    /// HTTP status; `None` when the call failed without a response (reset, refused, timeout).
    pub status: Option<u16>,
    /// Response headers (the host's `:status` pseudo-header removed).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_response_json_sets_type_and_body() {
        let r = LocalResponse::json(401, &serde_json::json!({"message": "Unauthorized"}));
        assert_eq!(r.status, 401);
        assert_eq!(r.body, br#"{"message":"Unauthorized"}"#);
        assert_eq!(r.headers[0].1, "application/json; charset=utf-8");
    }
}
