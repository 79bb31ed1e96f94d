//! What the largest inputs a request can carry cost the pure request path (`Flow::start`, and
//! the body's end where a stage reads it): a 60 KB query (Envoy's default header limit) of
//! many short arguments in the spellings the readers work hardest on, a form body of the
//! most fields a stage reads (`MAX_FORM_FIELDS`) and of many more, a multipart form of the most
//! parts (`MAX_MULTIPART_PARTS`) and a JSON object near the most values (`MAX_BODY_VALUES`). Milliseconds per request,
//! the best of five, natively or inside wasm (the wasm32-wasip1 build under
//! bench/wasi_run.mjs). `cargo run --release -p jwt-relay-core --example input_cost`; set
//! `INPUT_COST_CASE` to one case's label to run it alone (for a profiler).

use jwt_relay_core::stages::flow::Flow;
use jwt_relay_core::stages::reconcile::{MAX_FORM_FIELDS, MAX_MULTIPART_PARTS};
use jwt_relay_core::stages::{Pipeline, Request, Shared};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::Instant;

/// Envoy's default `max_request_headers_kb` is 60: the request line fits in it.
const QUERY_BYTES: usize = 60_000;

fn request(method: &str, path: String) -> Request {
    Request {
        method: method.into(),
        path,
        authority: "api.example.com".into(),
        scheme: "http".into(),
        headers: vec![("user-agent".into(), "bench".into())],
        now: 1_700_000_000,
        ..Request::default()
    }
}

/// `/p?` and `unit` repeated up to [`QUERY_BYTES`].
fn query_of(unit: &str) -> String {
    let mut path = String::from("/p?");
    while path.len() + unit.len() <= QUERY_BYTES {
        path.push_str(unit);
    }
    path
}

/// A query of distinct names `k0&k1&…` up to [`QUERY_BYTES`].
fn distinct_query() -> String {
    let mut path = String::from("/p?");
    let mut i = 0;
    while path.len() + 8 <= QUERY_BYTES {
        path.push_str(&format!("k{i}&"));
        i += 1;
    }
    path
}

/// A urlencoded form: the key, then `fields - 1` distinct names.
fn form_of(fields: usize) -> String {
    let mut body = String::from("apikey=secret-key");
    for i in 1..fields {
        body.push_str(&format!("&k{i}=1"));
    }
    body
}

fn load(config: Value) -> Result<Pipeline, String> {
    Pipeline::load(config.to_string().as_bytes()).map_err(|e| e.to_string())
}

fn selected(label: &str) -> bool {
    std::env::var("INPUT_COST_CASE").map_or(true, |only| only == label)
}

/// Best of five runs of `one` (one request each), in ms.
fn best_of_five(mut one: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            one();
            started.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::MAX, f64::min)
}

fn query_case(label: &str, pipeline: &Pipeline, path: &str) {
    if !selected(label) {
        return;
    }
    let mut shared = Shared::default();
    let ms = best_of_five(|| {
        let started = Flow::start(pipeline, &mut shared, request("GET", path.to_string()));
        black_box(started);
    });
    println!("{label:34} {:>7} B {ms:9.3} ms", path.len());
}

/// A `multipart/form-data` form (boundary `B`): the key's part, then `parts - 1` parts of
/// distinct names, each with `params` parameters in its `Content-Disposition`.
fn multipart_of(parts: usize, params: usize) -> String {
    let extra: String = (2..params).map(|i| format!("; a{i}=1")).collect();
    let mut body = String::from("--B\r\nContent-Disposition: form-data; name=\"apikey\"");
    body.push_str(&format!("{extra}\r\n\r\nsecret-key\r\n"));
    for i in 1..parts {
        let head = format!("Content-Disposition: form-data; name=\"k{i}\"{extra}");
        body.push_str(&format!("--B\r\n{head}\r\n\r\n1\r\n"));
    }
    body.push_str("--B--\r\n");
    body
}

/// A JSON object: the key, then `members - 1` distinct names (two values each, name and
/// value, so 49,999 members are just under `MAX_BODY_VALUES`).
fn json_of(members: usize) -> String {
    let mut body = String::from("{\"apikey\":\"secret-key\"");
    for i in 1..members {
        body.push_str(&format!(",\"k{i}\":1"));
    }
    body.push('}');
    body
}

fn body_case(label: &str, pipeline: &Pipeline, body: &str) {
    typed_body_case(label, pipeline, "application/x-www-form-urlencoded", body);
}

fn typed_body_case(label: &str, pipeline: &Pipeline, content_type: &str, body: &str) {
    if !selected(label) {
        return;
    }
    let mut shared = Shared::default();
    let ms = best_of_five(|| {
        let mut req = request("POST", "/p".into());
        req.headers
            .push(("content-type".into(), content_type.into()));
        req.headers
            .push(("content-length".into(), body.len().to_string()));
        let (mut flow, _) = Flow::start(pipeline, &mut shared, req);
        if flow.on_body_chunk(body.as_bytes(), u64::MAX).is_ok() {
            black_box(flow.on_body_end(pipeline, &mut shared));
        }
    });
    println!("{label:34} {:>7} B {ms:9.3} ms", body.len());
}

fn run() -> Result<(), String> {
    let secret = "0123456789abcdef0123456789abcdef";
    let jwt = load(json!({"jwt": {},
        "consumers": [{"username": "u", "jwt_secrets": [{"key": "k", "secret": secret}]}]}))?;
    let names = json!(["apikey", "x-api-key", "key"]);
    let consumers = json!([{"username": "u", "keyauth_credentials": [{"key": "secret-key"}]}]);
    let key_auth = load(json!({"consumers": consumers,
        "key_auth": {"key_names": names, "hide_credentials": true}}))?;
    let key_in_body = load(json!({"consumers": consumers,
        "key_auth": {"key_names": names, "hide_credentials": true, "key_in_body": true}}))?;
    let reconcile = load(json!({"reconcile": {"url": "http://127.0.0.1:9000/auth"}}))?;
    for (spelling, unit) in [
        ("a=1", "a=1&"),
        ("!a", "!a&"),
        ("a.b", "a.b&"),
        ("a;b", "a;b&"),
    ] {
        let path = query_of(unit);
        query_case(&format!("jwt, query of {spelling}"), &jwt, &path);
        let keyed = format!("{path}&apikey=secret-key");
        query_case(&format!("key-auth, query of {spelling}"), &key_auth, &keyed);
    }
    query_case(
        "reconcile, query of distinct names",
        &reconcile,
        &distinct_query(),
    );
    body_case(
        "key_in_body, form at the field limit",
        &key_in_body,
        &form_of(MAX_FORM_FIELDS),
    );
    body_case(
        "key_in_body, form of 99,000 fields",
        &key_in_body,
        &form_of(99_000),
    );
    typed_body_case(
        "key_in_body, JSON near the value limit",
        &key_in_body,
        "application/json",
        &json_of(49_000),
    );
    let multipart = "multipart/form-data; boundary=B";
    typed_body_case(
        "key_in_body, multipart at the limit",
        &key_in_body,
        multipart,
        &multipart_of(MAX_MULTIPART_PARTS, 5),
    );
    typed_body_case(
        "key_in_body, part of 20,000 parameters",
        &key_in_body,
        multipart,
        &multipart_of(1, 20_000),
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("input_cost: {e}");
        std::process::exit(1);
    }
}
