//! The filter's own answers to gRPC clients, as Kong gives them (`kong.response.exit`): a
//! request whose `Content-Type` starts with `application/grpc` (over HTTP/2, on Kong) is
//! answered with `grpc-status` and `grpc-message` instead of a JSON body. gRPC clients read the
//! status from those fields; a JSON body means nothing to them.

use super::LocalResponse;
use serde_json::Value;

/// The `Content-Type` [`LocalResponse::json`] gives a reply: Kong's for a table body. A reply
/// with any other one set it itself (x-custom-jwt does), and Kong then sends it as it is.
pub const JSON_TYPE: &str = "application/json; charset=utf-8";

/// True for a gRPC request's `Content-Type` as Kong tells it: any type starting with
/// `application/grpc` (gRPC-Web's too; Kong also asks for HTTP/2).
pub fn is_grpc_to_kong(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| t.starts_with("application/grpc"))
}

/// True for a gRPC request's `Content-Type` as Envoy tells it when it answers locally:
/// `application/grpc` or `application/grpc+…` (not gRPC-Web's).
pub fn is_grpc_to_envoy(content_type: Option<&str>) -> bool {
    let rest = content_type.and_then(|t| t.strip_prefix("application/grpc"));
    rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('+'))
}

/// Who turns a reply into gRPC's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// Envoy: its local reply to a gRPC request is always gRPC's trailers-only answer (`:status`
    /// 200, `content-type: application/grpc`, `grpc-status` from the HTTP status, the body as
    /// `grpc-message`); the filter only hands it the message, and no `Content-Type` of its own,
    /// which Envoy would add beside `application/grpc`.
    Envoy,
    /// Kong's engine sends the reply as given: the filter writes Kong's fields itself.
    Filter,
}

/// `reply` as a gRPC client is answered (see [`Converter`]). Kong's: the HTTP status kept,
/// `grpc-status` mapped from it, `grpc-message` the body's `message` (else the status's name),
/// and no body (the host sends its `content-length: 0`).
pub fn reply(reply: &LocalResponse, converter: Converter) -> LocalResponse {
    let own_type = content_type(reply).is_some_and(|t| t != JSON_TYPE);
    let message = message_of(&reply.body);
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("content-type"))
        .cloned()
        .collect();
    match converter {
        Converter::Envoy => LocalResponse {
            status: reply.status,
            headers,
            body: message.map_or_else(|| reply.body.clone(), String::into_bytes),
        },
        Converter::Filter if own_type => reply.clone(),
        Converter::Filter => {
            let code = status_for(reply.status);
            let text = message.unwrap_or_else(|| name_of(code).to_string());
            headers.push(("grpc-status".into(), code.to_string()));
            headers.push(("grpc-message".into(), percent_encoded(&text)));
            LocalResponse {
                status: reply.status,
                headers,
                body: Vec::new(),
            }
        }
    }
}

fn content_type(reply: &LocalResponse) -> Option<&str> {
    let mut types = reply.headers.iter();
    let found = types.find(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    found.map(|(_, value)| value.as_str())
}

/// The body's `message`, when it is a JSON object whose `message` is a string.
fn message_of(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(mut members) => match members.remove("message")? {
            Value::String(text) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// Kong's mapping of an HTTP status to a gRPC one: its table, else by the status's class.
pub fn status_for(http: u16) -> u8 {
    const KONG: [(u16, u8); 12] = [
        (200, 0),
        (400, 3),
        (401, 16),
        (403, 7),
        (404, 5),
        (409, 6),
        (429, 8),
        (499, 1),
        (500, 13),
        (501, 12),
        (503, 14),
        (504, 4),
    ];
    if let Some((_, code)) = KONG.iter().find(|(status, _)| *status == http) {
        return *code;
    }
    match http {
        500..=599 => 13,
        400..=499 => 3,
        200..=299 => 0,
        _ => 2,
    }
}

/// The name of a gRPC status, Kong's `grpc-message` when the body has no `message`.
fn name_of(code: u8) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    NAMES.get(usize::from(code)).copied().unwrap_or("Unknown")
}

/// `grpc-message` as the gRPC protocol carries it: bytes outside printable ASCII, and `%`,
/// percent-encoded. A message from an auth service can hold anything, CR and LF included:
/// never raw into a header.
fn percent_encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b' '..=b'~' if byte != b'%' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn denial() -> LocalResponse {
        let mut r = LocalResponse::json(401, &json!({"message": "Unauthorized"}));
        r.headers.push(("www-authenticate".into(), "Key".into()));
        r
    }

    fn header<'a>(r: &'a LocalResponse, name: &str) -> Vec<&'a str> {
        let named = r.headers.iter().filter(|(n, _)| n == name);
        named.map(|(_, v)| v.as_str()).collect()
    }

    #[test]
    fn grpc_requests_by_content_type() {
        for t in ["application/grpc", "application/grpc+proto"] {
            assert!(is_grpc_to_kong(Some(t)) && is_grpc_to_envoy(Some(t)), "{t}");
        }
        for t in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpcx",
        ] {
            assert!(
                is_grpc_to_kong(Some(t)) && !is_grpc_to_envoy(Some(t)),
                "{t}"
            );
        }
        for t in [None, Some("application/json"), Some("Application/grpc")] {
            assert!(!is_grpc_to_kong(t) && !is_grpc_to_envoy(t), "{t:?}");
        }
    }

    #[test]
    fn kong_form_written_by_the_filter() {
        let r = reply(&denial(), Converter::Filter);
        assert_eq!(r.status, 401);
        assert!(r.body.is_empty());
        assert_eq!(
            r.headers,
            [
                ("www-authenticate".to_string(), "Key".to_string()),
                ("grpc-status".into(), "16".into()),
                ("grpc-message".into(), "Unauthorized".into()),
            ]
        );
    }

    #[test]
    fn envoy_gets_the_message_and_no_content_type() {
        let r = reply(&denial(), Converter::Envoy);
        assert_eq!((r.status, r.body.as_slice()), (401, &b"Unauthorized"[..]));
        assert_eq!(header(&r, "content-type"), Vec::<&str>::new());
        assert_eq!(header(&r, "grpc-status"), Vec::<&str>::new());
        assert_eq!(header(&r, "www-authenticate"), ["Key"]);
    }

    /// A reply with a `Content-Type` of its own goes as it is on Kong (x-custom-jwt's JSON).
    #[test]
    fn own_content_type_kept_by_kong() {
        let mut own = LocalResponse::json(401, &json!({"ErrorMessage": "Unauthorized"}));
        own.headers = vec![("content-type".into(), "application/json".into())];
        assert_eq!(reply(&own, Converter::Filter), own);
        let envoy = reply(&own, Converter::Envoy);
        assert_eq!(envoy.body, own.body);
        assert!(envoy.headers.is_empty());
    }

    #[test]
    fn message_missing_or_not_text_gives_the_status_name() {
        for body in [
            json!({"ErrorMessage": "x"}),
            json!({"message": 7}),
            json!([1]),
        ] {
            let r = reply(&LocalResponse::json(403, &body), Converter::Filter);
            assert_eq!(header(&r, "grpc-status"), ["7"]);
            assert_eq!(header(&r, "grpc-message"), ["PermissionDenied"], "{body}");
        }
    }

    #[test]
    fn kong_status_mapping() {
        let cases = [
            (200, 0),
            (204, 0),
            (400, 3),
            (401, 16),
            (403, 7),
            (404, 5),
            (409, 6),
            (411, 3),
            (413, 3),
            (429, 8),
            (499, 1),
            (500, 13),
            (501, 12),
            (502, 13),
            (503, 14),
            (504, 4),
            (302, 2),
        ];
        for (http, grpc) in cases {
            assert_eq!(status_for(http), grpc, "{http}");
        }
        assert_eq!((name_of(16), name_of(17)), ("Unauthenticated", "Unknown"));
    }

    /// An auth service's message with CR, LF, `%` or UTF-8 never goes raw into the header.
    #[test]
    fn message_percent_encoded() {
        let body = json!({"message": "no\r\nx-admin: 1 100% é"});
        let r = reply(&LocalResponse::json(403, &body), Converter::Filter);
        let want = "no%0D%0Ax-admin: 1 100%25 %C3%A9";
        assert_eq!(header(&r, "grpc-message"), [want]);
    }
}
