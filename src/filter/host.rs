//! The host behind a small trait, so the HTTP state machine tests natively with a double.
//! [`ProxyWasmHost`] is the one implementation that talks to a real host, through [`super::abi`].

use super::abi::{self, ids};
use crate::stages::{HeaderEdit, LocalResponse};

/// Log levels of the Proxy-Wasm ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Debug detail.
    Debug = 1,
    /// Normal events.
    Info = 2,
    /// Something refused or degraded.
    Warn = 3,
    /// Configuration refused, host failure.
    Error = 4,
}

/// A host call that returned a status other than Ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError {
    /// What was attempted.
    pub call: &'static str,
    /// The Proxy-Wasm status code.
    pub status: u32,
}

/// What the HTTP state machine needs from the host.
pub trait Host {
    /// Request headers in order, names as the host gives them (lower-case), values lossily UTF-8.
    fn request_headers(&self) -> Result<Vec<(String, String)>, HostError>;
    /// Applies one header edit to the held request.
    fn edit_request_header(&mut self, edit: &HeaderEdit) -> Result<(), HostError>;
    /// Answers the request locally.
    fn send_response(&mut self, response: &LocalResponse) -> Result<(), HostError>;
    /// Resumes a paused request.
    fn continue_request(&mut self) -> Result<(), HostError>;
    /// Writes a log line. Callers never pass tokens, secrets or keys.
    fn log(&self, level: Level, message: &str);
    /// Host time in seconds since the epoch.
    fn now(&self) -> Result<u64, HostError>;
}

/// The real host, reached through the raw ABI.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProxyWasmHost;

fn fail(call: &'static str) -> impl Fn(u32) -> HostError {
    move |status| HostError { call, status }
}

impl Host for ProxyWasmHost {
    fn request_headers(&self) -> Result<Vec<(String, String)>, HostError> {
        let pairs = abi::header_pairs(ids::REQUEST_HEADERS).map_err(fail("get request headers"))?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect())
    }

    fn edit_request_header(&mut self, edit: &HeaderEdit) -> Result<(), HostError> {
        match edit {
            HeaderEdit::Set(name, value) => abi::replace_header(ids::REQUEST_HEADERS, name, value)
                .map_err(fail("set request header")),
            HeaderEdit::Remove(name) => abi::remove_header(ids::REQUEST_HEADERS, name)
                .map_err(fail("remove request header")),
        }
    }

    fn send_response(&mut self, response: &LocalResponse) -> Result<(), HostError> {
        let headers: Vec<(&str, &str)> = response
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        abi::send_response(u32::from(response.status), &headers, &response.body)
            .map_err(fail("send local response"))
    }

    fn continue_request(&mut self) -> Result<(), HostError> {
        abi::continue_request().map_err(fail("continue request"))
    }

    fn log(&self, level: Level, message: &str) {
        abi::log(level as u32, message);
    }

    fn now(&self) -> Result<u64, HostError> {
        abi::now_nanos()
            .map(|n| n / 1_000_000_000)
            .map_err(fail("get current time"))
    }
}
