//! Structured inputs from fuzzer bytes: requests, tokens, bodies and call answers, drawn mostly
//! from small vocabularies (the names the fixed configurations use) so that random bytes reach
//! deep states, with free text mixed in.

use super::fixtures::{Fixtures, T0};
use crate::jose::{b64, jws, Algorithm, JwsHeader};
use crate::stages::{CallAnswer, Request};
use arbitrary::{Result, Unstructured};
use serde_json::{json, Map, Value};

/// Free text: a length byte, then that many bytes (fewer at the end of the input), lossily UTF-8.
pub fn text(u: &mut Unstructured, max: usize) -> Result<String> {
    let want = usize::from(u.arbitrary::<u8>()?).min(max).min(u.len());
    Ok(String::from_utf8_lossy(u.bytes(want)?).into_owned())
}

/// Free bytes, as [`text`].
pub fn bytes(u: &mut Unstructured, max: usize) -> Result<Vec<u8>> {
    let want = usize::from(u.arbitrary::<u16>()?).min(max).min(u.len());
    Ok(u.bytes(want)?.to_vec())
}

/// One of `choices`, or (for the last choice index) free text.
pub fn word(u: &mut Unstructured, choices: &[&str]) -> Result<String> {
    let index = u.choose_index(choices.len().saturating_add(1))?;
    match choices.get(index) {
        Some(choice) => Ok((*choice).to_owned()),
        None => text(u, 64),
    }
}

/// A small JSON value.
pub fn json_value(u: &mut Unstructured, depth: u8) -> Result<Value> {
    let kinds = if depth == 0 { 4 } else { 6 };
    Ok(match u.choose_index(kinds)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => Value::String(word(u, &["", "admin", "a\nb", "x\u{0}y", "é", "c-1"])?),
        4 => {
            let n = u.int_in_range(0..=3)?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(json_value(u, depth.saturating_sub(1))?);
            }
            Value::Array(items)
        }
        _ => Value::Object(json_object(u, depth.saturating_sub(1))?),
    })
}

/// A small JSON object with keys from a vocabulary of the names the stages read.
pub fn json_object(u: &mut Unstructured, depth: u8) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    let n = u.int_in_range(0..=6)?;
    for _ in 0..n {
        let key = word(
            u,
            &[
                "role",
                "userId",
                "tenant",
                "user_id",
                "Host",
                "content-length",
                ":path",
                "a",
                "b",
                "sub",
                "iss",
                "exp",
                "nbf",
                "aud",
                "clientId",
                "act",
                "client_id",
                "",
            ],
        )?;
        map.insert(key, json_value(u, depth)?);
    }
    Ok(map)
}

/// A token: signed with a fixture key over fuzzed claims (so verification passes and the later
/// stages run), a fixed malformed one, or free text.
pub fn token(u: &mut Unstructured, fixtures: &Fixtures, now: u64) -> Result<String> {
    match u.choose_index(4)? {
        0 | 1 => {
            let mut claims = json_object(u, 2)?;
            let iss = word(u, &["fuzz-iss", "es-iss", "nobody"])?;
            claims.insert("iss".into(), Value::String(iss));
            let offset: i16 = u.arbitrary()?;
            let exp = i64::try_from(now).unwrap_or(i64::MAX) + i64::from(offset);
            if u.arbitrary()? {
                claims.insert("exp".into(), json!(exp));
            }
            if u.arbitrary()? {
                claims.insert("aud".into(), json!(word(u, &["api"])?));
            }
            let es = u.arbitrary::<bool>()?;
            let (key, header) = if es {
                let mut header = JwsHeader::new(Algorithm::ES256);
                if u.arbitrary()? {
                    header = header.with_kid(word(u, &["k1", "k2"])?);
                }
                (&fixtures.es, header)
            } else {
                (&fixtures.hs, JwsHeader::new(Algorithm::HS256))
            };
            Ok(jws::sign(&header, &claims, key).unwrap_or_default())
        }
        2 => Ok(word(
            u,
            &[
                "a.b.c",
                "eyJhbGciOiJub25lIn0.e30.",
                "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
                "",
            ],
        )?),
        _ => text(u, 200),
    }
}

/// A header value: a credential in one of its forms, a content type, or text.
fn header_value(u: &mut Unstructured, fixtures: &Fixtures, now: u64) -> Result<String> {
    Ok(match u.choose_index(8)? {
        0 => format!("Bearer {}", token(u, fixtures, now)?),
        1 => token(u, fixtures, now)?,
        2 => format!(
            "{}={}; session={}",
            word(u, &["jwt", "session"])?,
            token(u, fixtures, now)?,
            text(u, 16)?
        ),
        3 => {
            let user = word(u, &["fuzz-user"])?;
            let password = word(u, &["fuzz-pass"])?;
            format!("Basic {}", b64_standard(&format!("{user}:{password}")))
        }
        4 => word(u, &["fuzz-api-key", "other-key"])?,
        5 => word(
            u,
            &[
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=b",
                "text/plain",
                "APPLICATION/JSON; charset=utf-8",
            ],
        )?,
        _ => text(u, 64)?,
    })
}

fn b64_standard(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Header names: those the configurations read, set or strip, in several spellings.
const HEADER_NAMES: &[&str] = &[
    "authorization",
    "Authorization",
    "x-token",
    "cookie",
    "apikey",
    "x-api-key",
    "content-type",
    "proxy-authorization",
    "x-consumer-id",
    "X_Consumer_ID",
    "x-anonymous-consumer",
    "x-credential-identifier",
    "x-sub",
    "x_nested",
    "x-role",
    "user-id",
    "User_Id",
    "tenant",
    "x-auth-role",
    "X_Auth_Role",
    "x-custom-jwt",
    "jwt",
    "host",
    "content-length",
    "connection",
    "x-request-id",
    "traceparent",
    "x-minted",
];

/// A request: method, path with a query, headers, clock and the host's facts.
pub fn request(u: &mut Unstructured, fixtures: &Fixtures) -> Result<Request> {
    let now = T0 + u64::from(u.arbitrary::<u8>()?);
    let method = word(u, &["GET", "POST", "OPTIONS", "PUT"])?;
    let mut path = word(
        u,
        &[
            "/",
            "/orders",
            "/.well-known/jwks.json",
            "/jwks",
            "/a b/%2e",
        ],
    )?;
    let pairs = u.int_in_range(0..=3)?;
    for i in 0..pairs {
        path.push(if i == 0 { '?' } else { '&' });
        path.push_str(&word(u, &["jwt", "token", "apikey", "x"])?);
        if u.arbitrary()? {
            path.push('=');
            let value = if u.arbitrary()? {
                token(u, fixtures, now)?
            } else {
                word(u, &["fuzz-api-key", "%41%zz", "a+b"])?
            };
            path.push_str(&value);
        }
    }
    let mut headers = Vec::new();
    let n = u.int_in_range(0..=10)?;
    for _ in 0..n {
        let name = word(u, HEADER_NAMES)?.to_ascii_lowercase();
        headers.push((name, header_value(u, fixtures, now)?));
    }
    let client_dn = if u.arbitrary()? {
        Some(word(
            u,
            &[
                "CN=kong,OU=Konnect,O=Kong Inc.\\, x,ST=California,C=US",
                "1.2.840.113549.1.9.1=#16,CN=a\\+b",
            ],
        )?)
    } else {
        None
    };
    Ok(Request {
        method,
        path,
        authority: word(u, &["api.example.com", "API.example.com:8443", "[::1]:80"])?,
        scheme: word(u, &["https", "http"])?,
        headers,
        now,
        client_dn,
        service: if u.arbitrary()? {
            Some(word(u, &["backend"])?)
        } else {
            None
        },
        service_url: if u.arbitrary()? {
            Some(word(u, &["http://backend:80/v1", "https://b:443"])?)
        } else {
            None
        },
        host_sets_consumers: u.arbitrary()?,
        removes_repeated_headers: u.arbitrary()?,
        keeps_body_length: u.arbitrary()?,
        target_host: if u.arbitrary()? {
            Some(word(u, &["api.example.com", "victim.example"])?)
        } else {
            None
        },
        client_ip: if u.arbitrary()? {
            Some(word(u, &["203.0.113.7", "2001:db8::1"])?)
        } else {
            None
        },
        host_forwarded_proto: if u.arbitrary()? {
            Some(word(u, &["http", "https", "HTTPS, http"])?)
        } else {
            None
        },
    })
}

/// A request body in a form the stages parse.
pub fn body(u: &mut Unstructured) -> Result<Vec<u8>> {
    Ok(match u.choose_index(6)? {
        5 => word(u, BODY_KEYS)?.into_bytes(),
        0 => Value::Object(json_object(u, 2)?).to_string().into_bytes(),
        1 => b"a=1&b=%41&b=2&c&=x&apikey=fuzz-api-key".to_vec(),
        2 => b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\ndata\r\n--b--\r\n".to_vec(),
        3 => Vec::new(),
        _ => bytes(u, 4096)?,
    })
}

/// Bodies holding keys (`apikey`, `x_api_key`) in the readings key-auth's `key_in_body` knows.
const BODY_KEYS: &[&str] = &[
    "apikey=fuzz-body-key&n=1",
    "n=1&x_api_key=fuzz-body-key&apikey=wrong",
    "+apikey=fuzz-body-key&apikey%5B%5D=x",
    r#"{"X_API_KEY": "fuzz-body-key", "n": [1, {"apikey": "x"}]}"#,
    r#"{"apikey": 12345, "ApiKey": "wrong"}"#,
    "APIKEY=fuzz-body-key&!x_api_key=w",
    "--b\r\nContent-Disposition: form-data; name=\"apikey\"\r\n\r\nfuzz-body-key\r\n--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--b--\r\n",
];

/// The answer to a call: a status or none, a few headers, a body the stages act on.
pub fn call_answer(u: &mut Unstructured, fixtures: &Fixtures) -> Result<CallAnswer> {
    let status = match u.choose_index(11)? {
        0 => None,
        1 | 2 => Some(200),
        3 => Some(401),
        4 => Some(403),
        5 => Some(404),
        6 => Some(500),
        7 => Some(502),
        8 => Some(503),
        9 => Some(504),
        _ => Some(u.arbitrary()?),
    };
    let mut headers = Vec::new();
    if u.arbitrary()? {
        headers.push((
            ":dispatch_status".to_owned(),
            word(u, &["timeout", "broken connection"])?,
        ));
    }
    let body = match u.choose_index(6)? {
        0 => fixtures.jwks.clone().into_bytes(),
        1 => Value::Object(json_object(u, 2)?).to_string().into_bytes(),
        2 => word(
            u,
            &[
                "upstream request timeout",
                "upstream max stream duration reached",
                "no healthy upstream",
                "upstream connect error or disconnect/reset before headers. reset reason: x",
                "{\"keys\": [{\"kty\": \"oct\", \"k\": \"AAAA\"}]}",
                "[1]",
            ],
        )?
        .into_bytes(),
        3 => b64::encode(bytes(u, 64)?).into_bytes(),
        _ => bytes(u, 2048)?,
    };
    Ok(CallAnswer {
        status,
        headers,
        body,
    })
}
