//! Kong's own key-auth and basic-auth access specs, ported case by case:
//! `spec/03-plugins/09-key-auth/02-access_spec.lua` (cases K01–K47) and
//! `spec/03-plugins/10-basic-auth/03-access_spec.lua` (B01–B29), as Kong 3.10 has them. A case
//! id numbers an `it` of the spec in source order; an `it` inside a loop (content types, the
//! key-location combinations) keeps its call site's id. Every ported `it` is a function named
//! after its text, with the describe path and the exact `it` string in its doc comment
//! (`[#strategy]` stands for the describe's strategy tag); the cases that share a route
//! configuration run in one test against one gateway per host (Envoy, and Kong's engine when
//! `JWT_RELAY_NGX_BIN` is set).
//!
//! Expected answers are Kong 3.10's, except where a comment says `Different on purpose:` (a row
//! of the README's table). Kong's specs assert little of a success (mostly the status): these
//! ports also assert the consumer headers and what else the upstream received. Consumer names
//! are Kong's; keys, passwords and ids are our own.
//!
//! Cases not ported (basic-auth's gRPC cases, the credential TTL, the consumer-cache
//! invalidation) have a one-line `// Skipped:` comment where they would be; key-auth's gRPC
//! cases run on Envoy only (`// Ported on Envoy only:`). The two specs' logical AND / OR
//! blocks configure the same route and assert the same answers here, so one function ports
//! both files' case (K38–K45 with B21–B28).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use support::kong_spec::{
    anonymous, assert_401, assert_config_refused, consumer, consumer_headers, message, Lane,
};
use support::{hosts_for, Host, Recorded, Request};

// ------------------------------------------------------------------------------------------------
// Shared
// ------------------------------------------------------------------------------------------------

/// A consumer or credential id (Kong: a UUID), `block` telling the spec's setups apart.
fn uuid(block: u16, n: u16) -> String {
    format!("5eed{block:04x}-0000-4000-8000-{n:012}")
}

/// `Authorization: Basic` (or `Proxy-Authorization`) of this text, standard base64.
fn basic_of(text: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

fn basic(user: &str, password: &str) -> String {
    basic_of(&format!("{user}:{password}"))
}

/// A header the filter hid (`hide_credentials`), as the upstream got it.
fn assert_hidden(lane: &Lane, rec: &Recorded, name: &str) {
    match lane.host {
        Host::Envoy => assert_eq!(rec.header_all(name), Vec::<&str>::new(), "{name}"),
        // Different on purpose (README, Kong's-engine row): the engine cannot remove a request
        // header, so the filter blanks it in place; the client's value never reaches upstream.
        Host::Ngx => assert_eq!(rec.header_all(name), [""], "{name}"),
    }
}

/// Different on purpose: key-auth/basic-auth error bodies are compact `{"message":...}` without
/// Kong's `request_id` (README); Kong asserts the message, the status and the challenge.
fn assert_denied(lane: &Lane, req: &Request, text: &str, challenge: &str) {
    let resp = lane.refuse(req);
    assert_401(lane, &resp, message(text), challenge);
}

const KEY: &str = "Key";

/// A request without credentials on a route whose `anonymous` names a consumer by username:
/// proxied as that consumer.
fn assert_anonymous_fallback(config: &str, want: Vec<(String, String)>) {
    for host in hosts_for(config) {
        let lane = Lane::start(host, config);
        let rec = lane.pass(&Request::get("/request"));
        assert_eq!(consumer_headers(&rec), want, "{host:?}");
    }
}

/// `anonymous` naming no consumer (Kong 3.10: 500 `{"message":"anonymous consumer <uuid> is
/// configured but doesn't exist"}` on every request).
fn assert_missing_anonymous_refused(section: &str, config: fn(Value) -> String) {
    let missing = "3b0c6a1e-9d57-4f28-8e41-7c2d5f90ab13";
    // Different on purpose: an anonymous consumer that does not exist refuses the configuration at load (Kong: 500 per request).
    assert_config_refused(
        &config(json!({ "anonymous": missing })),
        &format!(
            "jwt-relay: configuration rejected: {section}.anonymous: no consumer has id or username \"{missing}\""
        ),
    );
}

// ================================================================================================
// 09-key-auth/02-access_spec.lua, block 1: consumers "no-body" and "bob" (key-auth key),
// routes key-auth1 … key-auth10
// ================================================================================================

/// Bob's key (Kong's fixture is another literal) and its credential id (`kong_cred.id`).
const BOB_KEY: &str = "bk-4c81e07f2d9a";
const BOB_CRED: u16 = 0x0c;

/// Block 1 in insertion order: "no-body" (1, the anonymous consumer), "bob" (2, `BOB_KEY`);
/// Kong's blueprint gives each the custom_id `consumer-id-<n>`.
fn k_config(key_auth: Value) -> String {
    json!({
        "consumers": [
            {"id": uuid(1, 1), "username": "no-body", "custom_id": "consumer-id-1"},
            {"id": uuid(1, 2), "username": "bob", "custom_id": "consumer-id-2",
             "keyauth_credentials": [{"id": uuid(1, BOB_CRED), "key": BOB_KEY}]},
        ],
        "key_auth": key_auth,
    })
    .to_string()
}

/// Bob authenticated with his key.
fn k_bob() -> Vec<(String, String)> {
    consumer(&uuid(1, 2), "consumer-id-2", "bob", &uuid(1, BOB_CRED))
}

/// "no-body" as the anonymous consumer.
fn k_no_body() -> Vec<(String, String)> {
    anonymous(&uuid(1, 1), "consumer-id-1", "no-body")
}

/// Route `key-auth1.test`: key-auth with its defaults.
#[test]
fn route_key_auth1_defaults() {
    let config = k_config(json!({}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        k02_returns_unauthorized_on_options_requests_if_run_on_preflight_is_true(&lane);
        k03_returns_unauthorized_on_missing_credentials(&lane);
        k04_returns_unauthorized_on_empty_key_header(&lane);
        k05_returns_unauthorized_on_empty_key_header_with_no_realm(&lane);
        k07_returns_unauthorized_on_empty_key_querystring(&lane);
        k08_returns_www_authenticate_header_on_missing_credentials(&lane);
        k09_authenticates_valid_credentials(&lane);
        k10_returns_401_unauthorized_on_invalid_key(&lane);
        k11_handles_duplicated_key_in_querystring(&lane);
        k20_authenticates_valid_credentials(&lane);
        k21_returns_401_unauthorized_on_invalid_key(&lane);
        k26_sends_consumer_headers_to_upstream(&lane);
        for content_type in CONTENT_TYPES {
            k27_false_sends_key_to_upstream(&lane, Location::UriArgs, content_type);
            k27_false_sends_key_to_upstream(&lane, Location::Headers, content_type);
        }
        k31_does_not_remove_apikey_and_preserves_order_of_query_parameters(&lane);
    }
}

/// Plugin: key-auth (access) [#strategy] › Unauthorized ›
/// "returns Unauthorized on OPTIONS requests if run_on_preflight is true"
fn k02_returns_unauthorized_on_options_requests_if_run_on_preflight_is_true(lane: &Lane) {
    let req = Request::new("OPTIONS", "/status/200");
    assert_denied(lane, &req, "No API key found in request", KEY);
}

/// Plugin: key-auth (access) [#strategy] › Unauthorized ›
/// "returns Unauthorized on missing credentials"
fn k03_returns_unauthorized_on_missing_credentials(lane: &Lane) {
    let req = Request::get("/status/200");
    assert_denied(lane, &req, "No API key found in request", KEY);
}

/// Plugin: key-auth (access) [#strategy] › Unauthorized ›
/// "returns Unauthorized on empty key header"
fn k04_returns_unauthorized_on_empty_key_header(lane: &Lane) {
    let req = Request::get("/status/200").header("apikey", "");
    assert_denied(lane, &req, "No API key found in request", KEY);
}

/// Plugin: key-auth (access) [#strategy] › Unauthorized › when realm is not configured ›
/// "returns Unauthorized on empty key header with no realm"
fn k05_returns_unauthorized_on_empty_key_header_with_no_realm(lane: &Lane) {
    // An empty key in the header is no key: the query is not read in its place.
    let req = Request::get(&format!("/status/200?apikey={BOB_KEY}")).header("apikey", "");
    assert_denied(lane, &req, "No API key found in request", "Key");
}

/// Plugin: key-auth (access) [#strategy] › Unauthorized ›
/// "returns Unauthorized on empty key querystring"
fn k07_returns_unauthorized_on_empty_key_querystring(lane: &Lane) {
    for path in ["/status/200?apikey", "/status/200?apikey="] {
        assert_denied(
            lane,
            &Request::get(path),
            "No API key found in request",
            KEY,
        );
    }
}

/// Plugin: key-auth (access) [#strategy] › Unauthorized ›
/// "returns WWW-Authenticate header on missing credentials"
fn k08_returns_www_authenticate_header_on_missing_credentials(lane: &Lane) {
    let resp = lane.refuse(&Request::get("/status/200"));
    assert_eq!(
        resp.header_all("www-authenticate"),
        [KEY],
        "{:?}",
        lane.host
    );
}

/// Plugin: key-auth (access) [#strategy] › key in querystring › "authenticates valid credentials"
fn k09_authenticates_valid_credentials(lane: &Lane) {
    let path = format!("/request?apikey={BOB_KEY}");
    let rec = lane.pass(&Request::get(&path));
    assert_eq!(consumer_headers(&rec), k_bob(), "{:?}", lane.host);
    assert_eq!(rec.path, path, "{:?}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › key in querystring ›
/// "returns 401 Unauthorized on invalid key"
fn k10_returns_401_unauthorized_on_invalid_key(lane: &Lane) {
    let req = Request::get("/status/200?apikey=123");
    assert_denied(lane, &req, "Unauthorized", KEY);
}

/// Plugin: key-auth (access) [#strategy] › key in querystring ›
/// "handles duplicated key in querystring"
fn k11_handles_duplicated_key_in_querystring(lane: &Lane) {
    let req = Request::get(&format!("/status/200?apikey={BOB_KEY}&apikey={BOB_KEY}"));
    assert_denied(lane, &req, "Duplicate API key found", KEY);
}

/// The three body types of Kong's "key in request body" block: the request body holding
/// `fields`, with its `Content-Type` (the multipart boundary ours).
fn body_of(content_type: &str, fields: &[(&str, &str)]) -> (String, String) {
    match content_type {
        "application/json" => {
            let object: serde_json::Map<String, Value> = fields
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            (content_type.into(), Value::Object(object).to_string())
        }
        "multipart/form-data" => {
            let mut body = String::new();
            for (k, v) in fields {
                body += &format!(
                    "--kb0a1\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                );
            }
            body += "--kb0a1--\r\n";
            (format!("{content_type}; boundary=kb0a1"), body)
        }
        _ => {
            let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (content_type.into(), pairs.join("&"))
        }
    }
}

const BODY_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "application/json",
    "multipart/form-data",
];

fn post_with(path: &str, content_type: &str, fields: &[(&str, &str)]) -> Request {
    let (content_type, body) = body_of(content_type, fields);
    Request::post(path, body).header("Content-Type", &content_type)
}

/// Route `key-auth5.test`: `key_in_body = true`. K12–K19, and K27's "false sends key to
/// upstream" for `post_data.params`, for each body type Kong's block runs.
#[test]
fn route_key_auth5_key_in_body() {
    let config = k_config(json!({"key_in_body": true}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        for content_type in BODY_TYPES {
            k12_authenticates_valid_credentials(&lane, content_type);
            k13_authenticates_valid_credentials_in_query(&lane, content_type);
            k14_authenticates_valid_credentials_in_header(&lane, content_type);
            k15_returns_401_unauthorized_on_invalid_key(&lane, content_type);
            k27_false_sends_key_to_upstream_in_post_data(&lane, content_type);
        }
        k16_handles_duplicated_key_json(&lane);
        k17_handles_duplicated_key_form(&lane);
        k18_k19_does_not_identify_apikey_brackets_as_api_keys(&lane);
    }
}

/// Plugin: key-auth (access) [#strategy] › key in request body › <type> ›
/// "authenticates valid credentials"
fn k12_authenticates_valid_credentials(lane: &Lane, content_type: &str) {
    let rec = lane.pass(&post_with("/request", content_type, &[("apikey", BOB_KEY)]));
    assert_eq!(
        consumer_headers(&rec),
        k_bob(),
        "{:?} {content_type}",
        lane.host
    );
}

/// … › "authenticates valid credentials in query"
fn k13_authenticates_valid_credentials_in_query(lane: &Lane, content_type: &str) {
    let path = format!("/request?apikey={BOB_KEY}");
    let rec = lane.pass(&post_with(&path, content_type, &[("non_apikey", BOB_KEY)]));
    assert_eq!(
        consumer_headers(&rec),
        k_bob(),
        "{:?} {content_type}",
        lane.host
    );
}

/// … › "authenticates valid credentials in header"
fn k14_authenticates_valid_credentials_in_header(lane: &Lane, content_type: &str) {
    let path = format!("/request?apikey={BOB_KEY}");
    let req = post_with(&path, content_type, &[("non_apikey", BOB_KEY)]).header("apikey", BOB_KEY);
    let rec = lane.pass(&req);
    assert_eq!(
        consumer_headers(&rec),
        k_bob(),
        "{:?} {content_type}",
        lane.host
    );
}

/// … › "returns 401 Unauthorized on invalid key"
fn k15_returns_401_unauthorized_on_invalid_key(lane: &Lane, content_type: &str) {
    let req = post_with("/status/200", content_type, &[("apikey", "123")]);
    assert_denied(lane, &req, "Unauthorized", KEY);
}

/// … › application/json › "handles duplicated key"
fn k16_handles_duplicated_key_json(lane: &Lane) {
    let body = json!({"apikey": [BOB_KEY, BOB_KEY]}).to_string();
    let req = Request::post("/status/200", body).header("Content-Type", "application/json");
    assert_denied(lane, &req, "Duplicate API key found", KEY);
}

/// … › application/x-www-form-urlencoded › "handles duplicated key"
fn k17_handles_duplicated_key_form(lane: &Lane) {
    let body = format!("apikey={BOB_KEY}&apikey={BOB_KEY}");
    let req = Request::post("/status/200", body)
        .header("Content-Type", "application/x-www-form-urlencoded");
    assert_denied(lane, &req, "Duplicate API key found", KEY);
}

/// … › application/x-www-form-urlencoded › "does not identify apikey[] as api keys" and
/// "does not identify apikey[1] as api keys"
fn k18_k19_does_not_identify_apikey_brackets_as_api_keys(lane: &Lane) {
    for name in ["apikey[]", "apikey[1]"] {
        let body = format!("{name}={BOB_KEY}&{name}={BOB_KEY}");
        let req = Request::post("/status/200", body)
            .header("Content-Type", "application/x-www-form-urlencoded");
        assert_denied(lane, &req, "No API key found in request", KEY);
    }
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials › post_data.params ›
/// "(<type>) false sends key to upstream": the body goes on as it came.
fn k27_false_sends_key_to_upstream_in_post_data(lane: &Lane, content_type: &str) {
    let req = post_with("/request", content_type, &[("apikey", BOB_KEY)]);
    let rec = lane.pass(&req);
    assert_eq!(rec.body, req.body, "{:?} {content_type}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › key in headers › "authenticates valid credentials"
fn k20_authenticates_valid_credentials(lane: &Lane) {
    let rec = lane.pass(&Request::get("/request").header("apikey", BOB_KEY));
    assert_eq!(consumer_headers(&rec), k_bob(), "{:?}", lane.host);
    assert_eq!(rec.header_all("apikey"), [BOB_KEY], "{:?}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › key in headers ›
/// "returns 401 Unauthorized on invalid key"
fn k21_returns_401_unauthorized_on_invalid_key(lane: &Lane) {
    let req = Request::get("/status/200").header("apikey", "123");
    assert_denied(lane, &req, "Unauthorized", KEY);
}

// Ported on Envoy only: K22 key in gRPC headers › "rejects call without credentials": `authenticate.rs` `grpc_clients_are_refused_with_grpc_status` (HTTP/2 with gRPC's type; the engine built here has no HTTP/2).
// Ported on Envoy only: K23 key in gRPC headers › "accepts authorized calls": the same test (the upstream records the call; it is no gRPC server).

/// Plugin: key-auth (access) [#strategy] › Consumer headers › "sends Consumer headers to upstream"
fn k26_sends_consumer_headers_to_upstream(lane: &Lane) {
    let rec = lane.pass(&Request::get(&format!("/request?apikey={BOB_KEY}")));
    assert_eq!(consumer_headers(&rec), k_bob(), "{:?}", lane.host);
}

/// The content types `config.hide_credentials` loops over; only its `post_data.params` cases
/// (skipped) send one.
const CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "application/json",
    "multipart/form-data",
];

/// Where `config.hide_credentials` sends the key: `uri_args` or `headers`.
#[derive(Clone, Copy, Debug)]
enum Location {
    UriArgs,
    Headers,
}

fn key_at(location: Location) -> Request {
    match location {
        Location::UriArgs => Request::get(&format!("/request?apikey={BOB_KEY}")),
        Location::Headers => Request::get("/request").header("apikey", BOB_KEY),
    }
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials › uri_args | headers ›
/// "(" .. content_type .. ") false sends key to upstream" (for each of the three content types:
/// "(application/x-www-form-urlencoded) false sends key to upstream", …)
fn k27_false_sends_key_to_upstream(lane: &Lane, location: Location, content_type: &str) {
    let rec = lane.pass(&key_at(location));
    let what = format!("{:?} {location:?} ({content_type})", lane.host);
    match location {
        Location::UriArgs => assert_eq!(rec.path, format!("/request?apikey={BOB_KEY}"), "{what}"),
        Location::Headers => assert_eq!(rec.header_all("apikey"), [BOB_KEY], "{what}"),
    }
    assert_eq!(consumer_headers(&rec), k_bob(), "{what}");
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials › uri_args | headers ›
/// "(" .. content_type .. ") true doesn't send key to upstream" (for each content type)
fn k28_true_doesnt_send_key_to_upstream(lane: &Lane, location: Location, content_type: &str) {
    let rec = lane.pass(&key_at(location));
    let what = format!("{:?} {location:?} ({content_type})", lane.host);
    match location {
        Location::UriArgs => {
            assert_eq!(rec.path, "/request", "{what}");
            assert_eq!(rec.header_all("apikey"), Vec::<&str>::new(), "{what}");
        }
        Location::Headers => {
            assert_eq!(rec.path, "/request", "{what}");
            assert_hidden(lane, &rec, "apikey");
        }
    }
    assert_eq!(consumer_headers(&rec), k_bob(), "{what}");
}

// K27 (false, route key-auth5): in route_key_auth5_key_in_body.
/// Route `key-auth6.test`: `key_in_body = true`, `hide_credentials = true`. K28–K30.
#[test]
fn route_key_auth6_key_in_body_hide_credentials() {
    let config = k_config(json!({"key_in_body": true, "hide_credentials": true}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        for content_type in BODY_TYPES {
            k28_true_doesnt_send_key_to_upstream_in_post_data(&lane, content_type);
            k29_true_preserves_body_mime_type(&lane, content_type);
        }
        k30_fails_with_key_in_body_and_unsupported_content_type(&lane);
    }
}

/// The body the upstream got, and its `Content-Length`: the client's (`sent`) without the key's
/// field (Kong re-encodes the whole body; the filter cuts the field out and keeps the rest as
/// sent). On Kong's engine the cut is padded back to the client's length with bytes its
/// readers skip (docs/kong.md): empty pairs after a form, spaces after JSON, transport padding
/// after a multipart form's closing `--`.
fn assert_body_without_key(
    lane: &Lane,
    rec: &Recorded,
    content_type: &str,
    sent: &[(&str, &str)],
    left: &[(&str, &str)],
) {
    let mut want = body_of(content_type, left).1;
    let host = lane.host;
    if host == Host::Ngx {
        let missing = body_of(content_type, sent).1.len() - want.len();
        let (filler, at) = match content_type {
            "application/json" => (" ", want.len()),
            // After the closing delimiter's `--`, before its CRLF.
            "multipart/form-data" => (" ", want.len() - 2),
            _ => ("&", want.len()),
        };
        want.insert_str(at, &filler.repeat(missing));
    }
    assert_eq!(rec.body, want.as_bytes(), "{host:?} {content_type}");
    let length = want.len().to_string();
    assert_eq!(
        rec.header_all("content-length"),
        [length.as_str()],
        "{host:?} {content_type}"
    );
    assert_eq!(consumer_headers(rec), k_bob(), "{host:?} {content_type}");
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials › post_data.params ›
/// "(<content type>) true doesn't send key to upstream"
fn k28_true_doesnt_send_key_to_upstream_in_post_data(lane: &Lane, content_type: &str) {
    let sent = [("apikey", BOB_KEY)];
    let rec = lane.pass(&post_with("/request", content_type, &sent));
    assert_body_without_key(lane, &rec, content_type, &sent, &[]);
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials ›
/// "(<content type>) true preserves body MIME type"
fn k29_true_preserves_body_mime_type(lane: &Lane, content_type: &str) {
    let fields = [("apikey", BOB_KEY), ("foo", "bar")];
    let rec = lane.pass(&post_with("/request", content_type, &fields));
    assert_body_without_key(lane, &rec, content_type, &fields, &[("foo", "bar")]);
    let sent_type = body_of(content_type, &fields).0;
    assert_eq!(rec.header("content-type"), Some(sent_type.as_str()));
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials ›
/// "fails with 'key_in_body' and unsupported content type"
fn k30_fails_with_key_in_body_and_unsupported_content_type(lane: &Lane) {
    let req = Request::post("/status/200", "foobar").header("Content-Type", "text/plain");
    assert_denied(lane, &req, "No API key found in request", KEY);
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials ›
/// "does not remove apikey and preserves order of query parameters"
fn k31_does_not_remove_apikey_and_preserves_order_of_query_parameters(lane: &Lane) {
    let path = format!("/request?c=value1&b=value2&apikey={BOB_KEY}&a=value3");
    let rec = lane.pass(&Request::get(&path));
    assert_eq!(rec.path, path, "{:?}", lane.host);
}

/// Route `key-auth2.test`: `hide_credentials = true`, `realm = "test-realm"`.
#[test]
fn route_key_auth2_hide_credentials_and_realm() {
    let config = k_config(json!({"hide_credentials": true, "realm": "test-realm"}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        k06_returns_unauthorized_on_empty_key_header_with_conifgured_realm(&lane);
        for content_type in CONTENT_TYPES {
            k28_true_doesnt_send_key_to_upstream(&lane, Location::UriArgs, content_type);
            k28_true_doesnt_send_key_to_upstream(&lane, Location::Headers, content_type);
        }
        k32_removes_apikey_and_preserves_order_of_query_parameters(&lane);
        k33_removes_apikey_in_encoded_query_and_preserves_order_of_query_parameters(&lane);
    }
}

/// Plugin: key-auth (access) [#strategy] › Unauthorized › when realm is configured ›
/// "returns Unauthorized on empty key header with conifgured realm"
fn k06_returns_unauthorized_on_empty_key_header_with_conifgured_realm(lane: &Lane) {
    let req = Request::get("/status/200").header("apikey", "");
    assert_denied(
        lane,
        &req,
        "No API key found in request",
        "Key realm=\"test-realm\"",
    );
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials ›
/// "removes apikey and preserves order of query parameters"
fn k32_removes_apikey_and_preserves_order_of_query_parameters(lane: &Lane) {
    let path = format!("/request?c=value1&b=value2&apikey={BOB_KEY}&a=value3");
    let rec = lane.pass(&Request::get(&path));
    assert_eq!(
        rec.path, "/request?c=value1&b=value2&a=value3",
        "{:?}",
        lane.host
    );
    assert_eq!(consumer_headers(&rec), k_bob(), "{:?}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › config.hide_credentials ›
/// "removes apikey in encoded query and preserves order of query parameters"
fn k33_removes_apikey_in_encoded_query_and_preserves_order_of_query_parameters(lane: &Lane) {
    // `api%6B%65%79` is `apikey`: removed like it.
    let path = format!("/request?c=valu%651&b=value2&api%6B%65%79={BOB_KEY}&a=valu%653");
    let rec = lane.pass(&Request::get(&path));
    // Different on purpose: the other parameters reach the upstream as the client wrote them;
    // Kong re-encodes the whole query and sends `/request?c=value1&b=value2&a=value3`.
    assert_eq!(
        rec.path, "/request?c=valu%651&b=value2&a=valu%653",
        "{:?}",
        lane.host
    );
    assert_eq!(consumer_headers(&rec), k_bob(), "{:?}", lane.host);
}

/// Route `key-auth3.test`: `anonymous = <id of "no-body">`.
#[test]
fn route_key_auth3_anonymous_by_id() {
    let config = k_config(json!({"anonymous": uuid(1, 1)}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        k34_works_with_right_credentials_and_anonymous(&lane);
        k35_works_with_wrong_credentials_and_anonymous(&lane);
    }
}

/// Plugin: key-auth (access) [#strategy] › config.anonymous ›
/// "works with right credentials and anonymous"
fn k34_works_with_right_credentials_and_anonymous(lane: &Lane) {
    let rec = lane.pass(&Request::get(&format!("/request?apikey={BOB_KEY}")));
    assert_eq!(consumer_headers(&rec), k_bob(), "{:?}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › config.anonymous ›
/// "works with wrong credentials and anonymous"
fn k35_works_with_wrong_credentials_and_anonymous(lane: &Lane) {
    for req in [
        Request::get("/request"),
        Request::get("/request?apikey=123"),
        Request::get("/request")
            .header("apikey", BOB_KEY)
            .header("apikey", BOB_KEY),
    ] {
        let rec = lane.pass(&req);
        assert_eq!(consumer_headers(&rec), k_no_body(), "{:?}", lane.host);
    }
}

/// Route `key-auth10.test`: `anonymous = "no-body"` (a username).
/// Plugin: key-auth (access) [#strategy] › config.anonymous ›
/// "works with wrong credentials and username as anonymous"
#[test]
fn k36_works_with_wrong_credentials_and_username_as_anonymous() {
    assert_anonymous_fallback(&k_config(json!({"anonymous": "no-body"})), k_no_body());
}

/// Route `key-auth4.test`: `anonymous = <a random uuid, no such consumer>`.
/// Plugin: key-auth (access) [#strategy] › config.anonymous ›
/// "errors when anonymous user doesn't exist"
#[test]
fn k37_errors_when_anonymous_user_doesnt_exist() {
    assert_missing_anonymous_refused("key_auth", k_config);
}

/// Plugin: key-auth (API) › /plugins for route › "fails with invalid key_names" and
/// "succeeds with valid key_names": Kong's `typedefs.header_name`, the same words.
#[test]
fn key_names_outside_kongs_header_name_characters_are_refused_at_load() {
    assert_config_refused(
        &k_config(json!({"key_names": ["hello\\world"]})),
        "jwt-relay: configuration rejected: key_auth.key_names[0]: bad header name \
         'hello\\world', allowed characters are A-Z, a-z, 0-9, '_', and '-'",
    );
    assert_config_refused(
        &k_config(json!({"key_names": ["apikey", "x key"]})),
        "key_auth.key_names[1]: bad header name 'x key'",
    );
    let config = k_config(json!({"key_names": ["hello-world", "Api_Key2"]}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        let rec = lane.pass(&Request::get("/status/200").header("hello-world", BOB_KEY));
        assert_eq!(rec.header("x-consumer-username"), Some("bob"), "{host:?}");
    }
}

/// Route `key-auth7.test`: `run_on_preflight = false`.
/// Plugin: key-auth (access) [#strategy] › Unauthorized ›
/// "returns 200 on OPTIONS requests if run_on_preflight is false"
#[test]
fn k01_returns_200_on_options_requests_if_run_on_preflight_is_false() {
    let config = k_config(json!({"run_on_preflight": false}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        let rec = lane.pass(&Request::new("OPTIONS", "/status/200"));
        assert_eq!(rec.method, "OPTIONS", "{host:?}");
        assert_eq!(consumer_headers(&rec), vec![], "{host:?}");
        // Only the preflight is let through.
        assert_denied(
            &lane,
            &Request::get("/status/200"),
            "No API key found in request",
            KEY,
        );
    }
}

/// Route `key-auth8.test`: `key_names = { "api_key" }`.
#[test]
fn route_key_auth8_key_name_with_underscore() {
    let config = k_config(json!({"key_names": ["api_key"]}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        k24_authenticates_valid_credentials(&lane);
        k25_returns_401_unauthorized_on_invalid_key(&lane);
    }
}

/// Plugin: key-auth (access) [#strategy] › underscores or hyphens in key headers ›
/// "authenticates valid credentials"
fn k24_authenticates_valid_credentials(lane: &Lane) {
    for header in ["api_key", "api-key"] {
        let rec = lane.pass(&Request::get("/request").header(header, BOB_KEY));
        assert_eq!(consumer_headers(&rec), k_bob(), "{:?} {header}", lane.host);
        assert_eq!(
            rec.header_all(header),
            [BOB_KEY],
            "{:?} {header}",
            lane.host
        );
    }
}

/// Plugin: key-auth (access) [#strategy] › underscores or hyphens in key headers ›
/// "returns 401 Unauthorized on invalid key"
fn k25_returns_401_unauthorized_on_invalid_key(lane: &Lane) {
    for header in ["api_key", "api-key"] {
        let req = Request::get("/status/200").header(header, "123");
        assert_denied(lane, &req, "Unauthorized", KEY);
    }
}

// ================================================================================================
// Both specs' block 2: key-auth and basic-auth on one route (logical AND / logical OR)
// ================================================================================================

/// Mickey's key-auth key and Aladdin's basic-auth password (ours).
const MICKEY_KEY: &str = "mk-93b2f1d07c4e";
const ALADDIN_PASSWORD: &str = "r0pe-l4dder-7";
const MICKEY_CRED: u16 = 0x0c;

/// Consumers "Anonymous" (1), "Mickey" (2, key-auth), "Aladdin" (3, basic-auth user "Aladdin");
/// both plugins with `anonymous = <id of Anonymous>` when `anonymous`.
fn logical_config(anonymous: bool) -> String {
    let plugin = if anonymous {
        json!({"anonymous": uuid(2, 1)})
    } else {
        json!({})
    };
    json!({
        "consumers": [
            {"id": uuid(2, 1), "username": "Anonymous", "custom_id": "consumer-id-1"},
            {"id": uuid(2, 2), "username": "Mickey", "custom_id": "consumer-id-2",
             "keyauth_credentials": [{"id": uuid(2, MICKEY_CRED), "key": MICKEY_KEY}]},
            {"id": uuid(2, 3), "username": "Aladdin", "custom_id": "consumer-id-3",
             "basicauth_credentials": [{"username": "Aladdin", "password": ALADDIN_PASSWORD}]},
        ],
        "key_auth": plugin,
        "basic_auth": plugin,
    })
    .to_string()
}

fn mickey() -> Vec<(String, String)> {
    consumer(
        &uuid(2, 2),
        "consumer-id-2",
        "Mickey",
        &uuid(2, MICKEY_CRED),
    )
}

fn aladdin() -> Vec<(String, String)> {
    consumer(&uuid(2, 3), "consumer-id-3", "Aladdin", "Aladdin")
}

fn with_key() -> Request {
    Request::get("/request").header("apikey", MICKEY_KEY)
}

fn with_basic() -> Request {
    Request::get("/request").header("Authorization", &basic("Aladdin", ALADDIN_PASSWORD))
}

fn with_both() -> Request {
    with_key().header("Authorization", &basic("Aladdin", ALADDIN_PASSWORD))
}

/// Route `logical-and.test`: key-auth and basic-auth, neither with `anonymous`.
#[test]
fn route_logical_and_key_auth_and_basic_auth() {
    let config = logical_config(false);
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        k38_b21_logical_and_passes_with_all_credentials_provided(&lane);
        k39_b22_logical_and_fails_401_with_only_the_first_credential_provided(&lane);
        k40_b23_logical_and_fails_401_with_only_the_second_credential_provided(&lane);
        k41_b24_logical_and_fails_401_with_no_credential_provided(&lane);
    }
}

/// Plugin: key-auth (access) [#strategy] › multiple auth without anonymous, logical AND ›
/// "passes with all credentials provided";
/// Plugin: basic-auth (access) [#strategy] › multiple auth without anonymous, logical AND ›
/// "passes with all credentials provided"
fn k38_b21_logical_and_passes_with_all_credentials_provided(lane: &Lane) {
    let rec = lane.pass(&with_both());
    // Kong accepts Mickey or Aladdin: basic-auth (priority 1100) runs after key-auth (1250) and
    // sets its consumer last.
    assert_eq!(consumer_headers(&rec), aladdin(), "{:?}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › multiple auth without anonymous, logical AND ›
/// "fails 401, with only the first credential provided";
/// Plugin: basic-auth (access) [#strategy] › multiple auth without anonymous, logical AND ›
/// "fails 401, with only the first credential provided"
fn k39_b22_logical_and_fails_401_with_only_the_first_credential_provided(lane: &Lane) {
    assert_denied(lane, &with_key(), "Unauthorized", "Basic realm=\"service\"");
}

/// Plugin: key-auth (access) [#strategy] › multiple auth without anonymous, logical AND ›
/// "fails 401, with only the second credential provided";
/// Plugin: basic-auth (access) [#strategy] › multiple auth without anonymous, logical AND ›
/// "fails 401, with only the second credential provided"
fn k40_b23_logical_and_fails_401_with_only_the_second_credential_provided(lane: &Lane) {
    assert_denied(lane, &with_basic(), "No API key found in request", KEY);
}

/// Plugin: key-auth (access) [#strategy] › multiple auth without anonymous, logical AND ›
/// "fails 401, with no credential provided";
/// Plugin: basic-auth (access) [#strategy] › multiple auth without anonymous, logical AND ›
/// "fails 401, with no credential provided"
fn k41_b24_logical_and_fails_401_with_no_credential_provided(lane: &Lane) {
    let req = Request::get("/request");
    assert_denied(lane, &req, "No API key found in request", KEY);
}

/// Route `logical-or.test`: key-auth and basic-auth, both with `anonymous = <id of Anonymous>`.
#[test]
fn route_logical_or_key_auth_and_basic_auth() {
    let config = logical_config(true);
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        k42_b25_logical_or_passes_with_all_credentials_provided(&lane);
        k43_b26_logical_or_passes_with_only_the_first_credential_provided(&lane);
        k44_b27_logical_or_passes_with_only_the_second_credential_provided(&lane);
        k45_b28_logical_or_passes_with_no_credential_provided(&lane);
    }
}

/// Plugin: key-auth (access) [#strategy] › multiple auth with anonymous, logical OR ›
/// "passes with all credentials provided";
/// Plugin: basic-auth (access) [#strategy] › multiple auth with anonymous, logical OR ›
/// "passes with all credentials provided"
fn k42_b25_logical_or_passes_with_all_credentials_provided(lane: &Lane) {
    let rec = lane.pass(&with_both());
    // key-auth authenticates Mickey; basic-auth sees a credential and stays out.
    assert_eq!(consumer_headers(&rec), mickey(), "{:?}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › multiple auth with anonymous, logical OR ›
/// "passes with only the first credential provided";
/// Plugin: basic-auth (access) [#strategy] › multiple auth with anonymous, logical OR ›
/// "passes with only the first credential provided"
fn k43_b26_logical_or_passes_with_only_the_first_credential_provided(lane: &Lane) {
    let rec = lane.pass(&with_key());
    assert_eq!(consumer_headers(&rec), mickey(), "{:?}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › multiple auth with anonymous, logical OR ›
/// "passes with only the second credential provided";
/// Plugin: basic-auth (access) [#strategy] › multiple auth with anonymous, logical OR ›
/// "passes with only the second credential provided"
fn k44_b27_logical_or_passes_with_only_the_second_credential_provided(lane: &Lane) {
    // key-auth falls back to Anonymous (no credential), so basic-auth still runs and sets
    // Aladdin, clearing `X-Anonymous-Consumer`.
    let rec = lane.pass(&with_basic());
    assert_eq!(consumer_headers(&rec), aladdin(), "{:?}", lane.host);
}

/// Plugin: key-auth (access) [#strategy] › multiple auth with anonymous, logical OR ›
/// "passes with no credential provided";
/// Plugin: basic-auth (access) [#strategy] › multiple auth with anonymous, logical OR ›
/// "passes with no credential provided"
fn k45_b28_logical_or_passes_with_no_credential_provided(lane: &Lane) {
    let rec = lane.pass(&Request::get("/request"));
    assert_eq!(
        consumer_headers(&rec),
        anonymous(&uuid(2, 1), "consumer-id-1", "Anonymous"),
        "{:?}",
        lane.host
    );
}

// Skipped: K46 auto-expiring keys › "authenticate for up to ttl": a credential TTL is a property of Kong's database rows; the filter's credentials are configuration (a `ttl` field is refused as unknown).

// ================================================================================================
// 09-key-auth/02-access_spec.lua, block 3: key_in_header × key_in_query × key_in_body
// ================================================================================================

/// Bob's key in block 3 (Kong's "right"), and a key no consumer has ("wrong").
const RIGHT: &str = "rk-5e0a7b13c9f2";
const WRONG: &str = "wk-0000deadbeef";

/// Block 3's routes in Kong's order: the path names `key_in_header`, `key_in_query`,
/// `key_in_body` (`t`/`f`).
const ROUTES: [&str; 7] = ["ttt", "ttf", "tff", "fff", "fft", "tft", "ftf"];

/// Kong's table, one row per input: the key in the header, the query and the body (`r` right,
/// `w` wrong, `n` none), then the status on each of [`ROUTES`] (`2` for 200, `4` for 401).
/// Combination `#i` of Kong is row `(i - 1) / 7`, route `(i - 1) % 7`.
const COMBINATIONS: [(&str, &str); 24] = [
    ("rrr", "2224222"),
    ("rrw", "2224422"),
    ("rww", "2224424"),
    ("www", "4444444"),
    ("wwr", "4444244"),
    ("rwr", "2224224"),
    ("wrw", "4444442"),
    ("nnn", "4444444"),
    ("nnw", "4444444"),
    ("nww", "4444444"),
    ("wwn", "4444444"),
    ("nwn", "4444444"),
    ("wnw", "4444444"),
    ("rrn", "2224422"),
    ("rnn", "2224424"),
    ("nnr", "2444224"),
    ("rnr", "2224224"),
    ("nrn", "2244442"),
    ("nrw", "2244442"),
    ("rwn", "2224424"),
    ("rnw", "2224424"),
    ("nwr", "4444224"),
    ("wrn", "4444442"),
    ("wnr", "4444244"),
];

fn key_of(code: u8) -> Option<&'static str> {
    match code {
        b'r' => Some(RIGHT),
        b'w' => Some(WRONG),
        _ => None,
    }
}

/// Route `/<route>` of block 3: key-auth with the three flags its path names.
#[test]
fn k47_combination_works() {
    for (column, route) in ROUTES.iter().enumerate() {
        let flags = [0, 1, 2].map(|i| route.as_bytes()[i] == b't');
        let config = json!({
            "consumers": [{"id": uuid(3, 1), "username": "bob", "custom_id": "consumer-id-1",
                           "keyauth_credentials": [{"id": uuid(3, BOB_CRED), "key": RIGHT}]}],
            "key_auth": {"key_in_header": flags[0], "key_in_query": flags[1], "key_in_body": flags[2]},
        })
        .to_string();
        for host in hosts_for(&config) {
            let lane = Lane::start(host, &config);
            for (row, (input, statuses)) in COMBINATIONS.iter().enumerate() {
                let i = row * ROUTES.len() + column + 1;
                let ok = statuses.as_bytes()[column] == b'2';
                combination_works(&lane, i, input, route, flags, ok);
            }
        }
    }
}

/// Plugin: key-auth (access) [#strategy] ›
/// "combination #" .. i .. " (" .. input .. " => " .. route .. ") works"
/// (e.g. "combination #2 (rrr => ttf) works"): a POST with the key in the `apikey` header, the
/// query and an urlencoded body as `input` says.
fn combination_works(lane: &Lane, i: usize, input: &str, route: &str, on: [bool; 3], ok: bool) {
    let keys = [0, 1, 2].map(|n| key_of(input.as_bytes()[n]));
    let [header, query, body] = keys;
    let path = match query {
        Some(key) => format!("/{route}?apikey={key}"),
        None => format!("/{route}"),
    };
    let form = body.map(|key| format!("apikey={key}")).unwrap_or_default();
    let mut req =
        Request::post(&path, form).header("Content-Type", "application/x-www-form-urlencoded");
    if let Some(key) = header {
        req = req.header("apikey", key);
    }
    let case = format!("{:?} combination #{i} ({input} => {route})", lane.host);
    // The first place searched that holds a key (Kong's order: header, query, body).
    let found = (0..3).find_map(|n| keys[n].filter(|_| on[n]).map(|key| (n, key)));
    // Different on purpose: with key_in_body, a body key other than the one read from the header or the query is a second key (Kong: the first counts, the body goes upstream with the other); 401 `Duplicate API key found`.
    let second =
        matches!(found, Some((from, key)) if on[2] && from < 2 && body.is_some_and(|b| b != key));
    if ok && !second {
        let rec = lane.pass(&req);
        let bob = consumer(&uuid(3, 1), "consumer-id-1", "bob", &uuid(3, BOB_CRED));
        assert_eq!(consumer_headers(&rec), bob, "{case}");
        return;
    }
    // Kong asserts the 401 and `Key`; the message is the first searched key's verdict.
    let text = match found {
        _ if second => "Duplicate API key found",
        Some(_) => "Unauthorized",
        None => "No API key found in request",
    };
    let resp = lane.refuse(&req);
    assert_eq!(resp.status, 401, "{case}: {}", resp.text());
    assert_eq!(resp.json(), message(text), "{case}");
    assert_eq!(resp.header("www-authenticate"), Some(KEY), "{case}");
}

// ================================================================================================
// 10-basic-auth/03-access_spec.lua, block 1: consumers "bob" (three basic-auth users) and
// "no-body", routes basic-auth1 … basic-auth5
// ================================================================================================

/// Bob's three basic-auth credentials (Kong's "bob", "user123", "user321"; the last password
/// has a `:` in it, as Kong's): user names and passwords ours.
const BOB_USERS: [(&str, &str); 3] = [
    ("bob", "h0rse-b4ttery"),
    ("bob-two", "st4ple-9c1e"),
    ("bob-three", "c0lon:in:it"),
];

fn b_config(basic_auth: Value) -> String {
    let users: Vec<Value> = BOB_USERS
        .iter()
        .map(|(u, p)| json!({"username": u, "password": p}))
        .collect();
    json!({
        "consumers": [
            {"id": uuid(4, 1), "username": "bob", "custom_id": "consumer-id-1",
             "basicauth_credentials": users},
            {"id": uuid(4, 2), "username": "no-body", "custom_id": "consumer-id-2"},
        ],
        "basic_auth": basic_auth,
    })
    .to_string()
}

/// Bob authenticated as basic-auth user `user`.
fn b_bob(user: &str) -> Vec<(String, String)> {
    consumer(&uuid(4, 1), "consumer-id-1", "bob", user)
}

fn b_no_body() -> Vec<(String, String)> {
    anonymous(&uuid(4, 2), "consumer-id-2", "no-body")
}

/// `Authorization: Basic` of Bob's credential `n` (0, 1, 2).
fn bob_basic(n: usize) -> String {
    let (user, password) = BOB_USERS[n];
    basic(user, password)
}

const TEST_REALM: &str = "Basic realm=\"test-realm\"";

/// Route `basic-auth1.test`: `realm = "test-realm"`.
#[test]
fn route_basic_auth1_realm() {
    let config = b_config(json!({"realm": "test-realm"}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        b01_returns_unauthorized_on_missing_credentials(&lane);
        b03_returns_401_unauthorized_on_invalid_credentials_in_authorization(&lane);
        b04_returns_401_unauthorized_on_invalid_credentials_in_proxy_authorization(&lane);
        b05_returns_401_unauthorized_on_password_only(&lane);
        b06_returns_401_unauthorized_on_username_only(&lane);
        b09_authenticates_valid_credentials_in_authorization(&lane);
        b10_authenticates_valid_credentials_in_authorization(&lane);
        b11_authenticates_with_a_password_containing_colon(&lane);
        b12_returns_401_for_valid_base64_encoding(&lane);
        b13_authenticates_valid_credentials_in_proxy_authorization(&lane);
        b14_sends_consumer_headers_to_upstream(&lane);
        b15_false_sends_key_to_upstream(&lane);
    }
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized › when realm is configured ›
/// "returns Unauthorized on missing credentials"
fn b01_returns_unauthorized_on_missing_credentials(lane: &Lane) {
    assert_denied(
        lane,
        &Request::get("/status/200"),
        "Unauthorized",
        TEST_REALM,
    );
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized ›
/// "returns 401 Unauthorized on invalid credentials in Authorization"
fn b03_returns_401_unauthorized_on_invalid_credentials_in_authorization(lane: &Lane) {
    let req = Request::get("/status/200").header("Authorization", "foobar");
    assert_denied(lane, &req, "Unauthorized", TEST_REALM);
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized ›
/// "returns 401 Unauthorized on invalid credentials in Proxy-Authorization"
fn b04_returns_401_unauthorized_on_invalid_credentials_in_proxy_authorization(lane: &Lane) {
    let req = Request::get("/status/200").header("Proxy-Authorization", "foobar");
    assert_denied(lane, &req, "Unauthorized", TEST_REALM);
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized ›
/// "returns 401 Unauthorized on password only"
fn b05_returns_401_unauthorized_on_password_only(lane: &Lane) {
    // The base64 of a password alone: no `:`.
    let req = Request::get("/status/200").header("Authorization", &basic_of(BOB_USERS[0].1));
    assert_denied(lane, &req, "Unauthorized", TEST_REALM);
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized ›
/// "returns 401 Unauthorized on username only"
fn b06_returns_401_unauthorized_on_username_only(lane: &Lane) {
    let req = Request::get("/status/200").header("Authorization", &basic_of(BOB_USERS[0].0));
    assert_denied(lane, &req, "Unauthorized", TEST_REALM);
}

// Skipped: B07 Unauthorized › "rejects gRPC call without credentials": the answer is every stage's, tested with key-auth on Envoy (K22 above).
// Skipped: B08 Unauthorized › "accepts authorized gRPC calls": as K23, with key-auth on Envoy.

/// Plugin: basic-auth (access) [#strategy] › Unauthorized ›
/// "authenticates valid credentials in Authorization" (the first, user "bob")
fn b09_authenticates_valid_credentials_in_authorization(lane: &Lane) {
    let rec = lane.pass(&Request::get("/status/200").header("Authorization", &bob_basic(0)));
    assert_eq!(consumer_headers(&rec), b_bob("bob"), "{:?}", lane.host);
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized ›
/// "authenticates valid credentials in Authorization" (the second, Kong's user "user123")
fn b10_authenticates_valid_credentials_in_authorization(lane: &Lane) {
    let rec = lane.pass(&Request::get("/request").header("Authorization", &bob_basic(1)));
    assert_eq!(consumer_headers(&rec), b_bob("bob-two"), "{:?}", lane.host);
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized ›
/// "authenticates with a password containing ':'"
fn b11_authenticates_with_a_password_containing_colon(lane: &Lane) {
    let rec = lane.pass(&Request::get("/request").header("Authorization", &bob_basic(2)));
    assert_eq!(
        consumer_headers(&rec),
        b_bob("bob-three"),
        "{:?}",
        lane.host
    );
    // The password is everything after the first `:`: a prefix of it is no password.
    let (user, password) = BOB_USERS[2];
    let (prefix, _) = password.split_once(':').unwrap();
    let req = Request::get("/request").header("Authorization", &basic(user, prefix));
    assert_denied(lane, &req, "Unauthorized", TEST_REALM);
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized › "returns 401 for valid Base64 encoding"
/// (a valid credential's base64 with one more character in front: it decodes, to other bytes)
fn b12_returns_401_for_valid_base64_encoding(lane: &Lane) {
    let encoded = bob_basic(1).replacen("Basic ", "Basic a", 1);
    let req = Request::get("/status/200").header("Authorization", &encoded);
    assert_denied(lane, &req, "Unauthorized", TEST_REALM);
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized ›
/// "authenticates valid credentials in Proxy-Authorization"
fn b13_authenticates_valid_credentials_in_proxy_authorization(lane: &Lane) {
    let req = Request::get("/status/200").header("Proxy-Authorization", &bob_basic(0));
    let rec = lane.pass(&req);
    assert_eq!(consumer_headers(&rec), b_bob("bob"), "{:?}", lane.host);
    assert_eq!(
        rec.header_all("proxy-authorization"),
        [bob_basic(0).as_str()],
        "{:?}",
        lane.host
    );
}

/// Plugin: basic-auth (access) [#strategy] › Consumer headers › "sends Consumer headers to upstream"
fn b14_sends_consumer_headers_to_upstream(lane: &Lane) {
    let rec = lane.pass(&Request::get("/request").header("Authorization", &bob_basic(0)));
    assert_eq!(consumer_headers(&rec), b_bob("bob"), "{:?}", lane.host);
}

/// Plugin: basic-auth (access) [#strategy] › config.hide_credentials › "false sends key to upstream"
fn b15_false_sends_key_to_upstream(lane: &Lane) {
    let rec = lane.pass(&Request::get("/request").header("Authorization", &bob_basic(0)));
    let sent = bob_basic(0);
    assert_eq!(
        rec.header_all("authorization"),
        [sent.as_str()],
        "{:?}",
        lane.host
    );
}

/// Route `basic-auth2.test`: `hide_credentials = true` (realm default).
#[test]
fn route_basic_auth2_hide_credentials() {
    let config = b_config(json!({"hide_credentials": true}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        b02_returns_unauthorized_on_missing_credentials(&lane);
        b16_true_doesnt_send_key_to_upstream(&lane);
    }
}

/// Plugin: basic-auth (access) [#strategy] › Unauthorized › when realm is default ›
/// "returns Unauthorized on missing credentials"
fn b02_returns_unauthorized_on_missing_credentials(lane: &Lane) {
    let req = Request::get("/status/200");
    assert_denied(lane, &req, "Unauthorized", "Basic realm=\"service\"");
}

/// Plugin: basic-auth (access) [#strategy] › config.hide_credentials ›
/// "true doesn't send key to upstream"
fn b16_true_doesnt_send_key_to_upstream(lane: &Lane) {
    let rec = lane.pass(&Request::get("/request").header("Authorization", &bob_basic(0)));
    assert_hidden(lane, &rec, "authorization");
    assert_eq!(consumer_headers(&rec), b_bob("bob"), "{:?}", lane.host);
}

/// Route `basic-auth3.test`: `anonymous = <id of "no-body">`.
#[test]
fn route_basic_auth3_anonymous_by_id() {
    let config = b_config(json!({"anonymous": uuid(4, 2)}));
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        b17_works_with_right_credentials_and_anonymous(&lane);
        b18_works_with_wrong_credentials_and_anonymous(&lane);
    }
}

/// Plugin: basic-auth (access) [#strategy] › config.anonymous ›
/// "works with right credentials and anonymous"
fn b17_works_with_right_credentials_and_anonymous(lane: &Lane) {
    let rec = lane.pass(&Request::get("/request").header("Authorization", &bob_basic(1)));
    assert_eq!(consumer_headers(&rec), b_bob("bob-two"), "{:?}", lane.host);
}

/// Plugin: basic-auth (access) [#strategy] › config.anonymous ›
/// "works with wrong credentials and anonymous"
fn b18_works_with_wrong_credentials_and_anonymous(lane: &Lane) {
    let wrong = basic(BOB_USERS[0].0, BOB_USERS[1].1);
    for req in [
        Request::get("/request"),
        Request::get("/request").header("Authorization", &wrong),
    ] {
        let rec = lane.pass(&req);
        assert_eq!(consumer_headers(&rec), b_no_body(), "{:?}", lane.host);
    }
}

/// Route `basic-auth5.test`: `anonymous = "no-body"` (a username).
/// Plugin: basic-auth (access) [#strategy] › config.anonymous ›
/// "works with wrong credentials and username in anonymous"
#[test]
fn b19_works_with_wrong_credentials_and_username_in_anonymous() {
    assert_anonymous_fallback(&b_config(json!({"anonymous": "no-body"})), b_no_body());
}

/// Route `basic-auth4.test`: `anonymous = <a random uuid, no such consumer>`.
/// Plugin: basic-auth (access) [#strategy] › config.anonymous ›
/// "errors when anonymous user doesn't exist"
#[test]
fn b20_errors_when_anonymous_user_doesnt_exist() {
    assert_missing_anonymous_refused("basic_auth", b_config);
}

// B21–B28 (block 2, logical AND / OR): with K38–K45 above.

/// `spec/03-plugins/10-basic-auth/05-declarative_spec.lua` › access › "Accepts valid credentials
/// (introduced with a hashed password)": a credential loaded with `_transform = false` holds
/// Kong's stored hash, SHA-1 of the password then the consumer id (as `kong config db_export`
/// writes it). The hash below is Python's `hashlib.sha1`, not the filter's.
#[test]
fn b30_accepts_valid_credentials_introduced_with_a_hashed_password() {
    let id = "5eed0005-0000-4000-8000-000000000001";
    let hashed = |password: &str| {
        json!({
            "_transform": false,
            "consumers": [{"id": id, "username": "bond", "custom_id": "007", "basicauth_credentials": [
                {"username": "bond", "password": password}]}],
            "basic_auth": {},
        })
        .to_string()
    };
    let config = hashed("c74e50f8561225e14d248d7bfa7fa04be8b625c0");
    for host in hosts_for(&config) {
        let lane = Lane::start(host, &config);
        let req =
            Request::get("/status/200").header("Authorization", &basic("bond", "MI6-r3dact3d"));
        let rec = lane.pass(&req);
        assert_eq!(
            consumer_headers(&rec),
            consumer(id, "007", "bond", "bond"),
            "{host:?}"
        );
        // The hash itself is no password, nor is a wrong one.
        for password in ["c74e50f8561225e14d248d7bfa7fa04be8b625c0", "MI6"] {
            let req = Request::get("/status/200").header("Authorization", &basic("bond", password));
            assert_denied(&lane, &req, "Unauthorized", "Basic realm=\"service\"");
        }
    }
    // Under `_transform: false` a password that is not Kong's lowercase hex hash is refused.
    assert_config_refused(
        &hashed("MI6-r3dact3d"),
        "consumers[0].basicauth_credentials[0].password: must be Kong's stored hash",
    );
    assert_config_refused(
        &hashed("C74E50F8561225E14D248D7BFA7FA04BE8B625C0"),
        "consumers[0].basicauth_credentials[0].password: must be Kong's stored hash",
    );
}

// Skipped: B29 Plugin: basic-auth (access) [#strategy] › "consumer cache consistency": it deletes the anonymous consumer through the Admin API and expects the cached one gone; the filter has neither (its first request is B19's).
