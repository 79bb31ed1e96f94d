//! Every capability on every host this machine has: Envoy always, and Kong's engine (nginx +
//! ngx_wasm_module, proxying as Kong does) when `JWT_RELAY_NGX_BIN` is set. The same requests,
//! the same answers; where the hosts differ by design, the test says so in one line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use support::h2::{self, H2Request};
use support::tokens::{claims_of, fixture, sha256_hex, sign_hmac};
use support::{hosts, Gateway, Host, Recorded, Reply, Request, Server, Setup};

const SECRET: &str = "hosts-suite-hmac-secret-of-32-bytes!";

fn consumers() -> Value {
    json!([{"id": "c-1", "username": "alice", "custom_id": "cust-1",
            "keyauth_credentials": [{"id": "ka-1", "key": "alice-key"}],
            "basicauth_credentials": [{"username": "alice", "password": "pw"}],
            "jwt_secrets": [{"key": "idp", "secret": SECRET}]}])
}

/// Runs `test` once per host, each with a fresh upstream and gateway.
fn each_host(config: Value, test: impl Fn(Host, &Gateway, &Server)) {
    for host in hosts() {
        let upstream = Server::ok();
        let gw = Gateway::start(host, Setup::new(config.to_string(), upstream.addr()));
        test(host, &gw, &upstream);
    }
}

/// A gateway on `host` whose reconcile stage calls `auth` (`auth.internal`), the rest of the
/// configuration (and any other reconcile options) from `config`; its upstream beside it.
fn behind_auth(host: Host, mut config: Value, auth: &Server) -> (Server, Gateway) {
    let call = json!({"url": "http://auth.internal:8080", "upstream": "auth"});
    let section = config["reconcile"].as_object().cloned().unwrap_or_default();
    let mut reconcile = call.as_object().cloned().unwrap();
    reconcile.extend(section);
    config["reconcile"] = Value::Object(reconcile);
    let upstream = Server::ok();
    let setup = Setup::new(config.to_string(), upstream.addr()).cluster("auth", auth.addr());
    (upstream, Gateway::start(host, setup))
}

/// The values an upstream received for a header, in every `_`/`-` spelling.
fn all_spellings<'a>(rec: &'a Recorded, name: &str) -> Vec<&'a str> {
    rec.headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().replace('_', "-") == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A hidden credential never reaches the upstream. Different by design: Kong's engine cannot
/// remove a request header, so the filter overwrites it in place with an empty value.
fn assert_hidden(host: Host, seen: &Recorded, name: &str) {
    let values = all_spellings(seen, name);
    match host {
        Host::Envoy => assert!(values.is_empty(), "{host:?}: {seen:?}"),
        Host::Ngx => assert_eq!(values, [""], "{host:?}: {seen:?}"),
    }
}

#[test]
fn hosts_empty_config_passes_requests_through() {
    each_host(json!({}), |host, gw, upstream| {
        let resp = gw.send(&Request::post("/p?q=1", "body"));
        assert_eq!(resp.status, 200, "{host:?}");
        let seen = upstream.single();
        assert_eq!(
            (seen.path.as_str(), seen.body.as_slice()),
            ("/p?q=1", &b"body"[..])
        );
    });
}

#[test]
fn hosts_jwt_verifies_and_replaces_forged_identity() {
    each_host(
        json!({"consumers": consumers(), "jwt": {}}),
        |host, gw, upstream| {
            let token = sign_hmac("HS256", SECRET.as_bytes(), &json!({"iss": "idp"}));
            let resp = gw.send(
                &Request::get("/r")
                    .header("authorization", &format!("Bearer {token}"))
                    .header("x-consumer-username", "mallory")
                    .header("x-consumer-id", "forged"),
            );
            assert_eq!(resp.status, 200, "{host:?}");
            let seen = upstream.single();
            assert_eq!(
                all_spellings(&seen, "x-consumer-username"),
                ["alice"],
                "{host:?}"
            );
            assert_eq!(all_spellings(&seen, "x-consumer-id"), ["c-1"], "{host:?}");
            let resp = gw.send(&Request::get("/r").header("authorization", "Bearer nope"));
            assert_eq!(resp.status, 401, "{host:?}");
            assert_eq!(resp.json(), json!({"message": "Bad token; invalid JSON"}));
        },
    );
}

#[test]
fn hosts_key_auth_hides_the_key_in_header_and_query() {
    let config = json!({"consumers": consumers(), "key_auth": {"hide_credentials": true}});
    each_host(config, |host, gw, upstream| {
        let resp = gw.send(
            &Request::get("/h")
                .header("apikey", "alice-key")
                .header("x-consumer-username", "mallory"),
        );
        assert_eq!(resp.status, 200, "{host:?}");
        let resp = gw.send(&Request::get("/q?a=1&apikey=alice-key&b=2"));
        assert_eq!(resp.status, 200, "{host:?}");
        let seen = upstream.wait_for(2);
        assert_hidden(host, &seen[0], "apikey");
        assert_eq!(
            all_spellings(&seen[0], "x-consumer-username"),
            ["alice"],
            "{host:?}"
        );
        assert_eq!(seen[1].path, "/q?a=1&b=2", "{host:?}");
    });
}

#[test]
fn hosts_hidden_query_key_keeps_the_path_as_the_client_escaped_it() {
    // Kong's engine hands filters nginx's decoded URI as `:path`: were it written back as the
    // upstream URI, the escaped CR LF would become a header of the filter's request line.
    let config = json!({"consumers": consumers(), "key_auth": {"hide_credentials": true}});
    each_host(config, |host, gw, upstream| {
        let path = "/q%0D%0AX-Injected:%20yes%20x?a=1&apikey=alice-key";
        let resp = gw.send(&Request::get(path));
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let seen = upstream.single();
        assert_eq!(seen.path, "/q%0D%0AX-Injected:%20yes%20x?a=1", "{host:?}");
        assert_eq!(seen.header("x-injected"), None, "{host:?}");
        assert_eq!(
            all_spellings(&seen, "x-consumer-username"),
            ["alice"],
            "{host:?}"
        );
    });
}

/// An owned header under a name nginx hashes otherwise than the engine (`X.Consumer.ID`, kept
/// by `ignore_invalid_headers off`): Kong's engine cannot blank it in place, its setting would
/// add a header beside the client's, so the request is refused, 400, and nothing reaches the
/// upstream (review helper-100: the forged value went upstream). Envoy removes it.
#[test]
fn hosts_owned_header_the_engine_cannot_blank() {
    let config = json!({"consumers": consumers(), "key_auth": {}});
    for host in hosts() {
        let upstream = Server::ok();
        let setup = Setup::new(config.to_string(), upstream.addr()).invalid_headers_kept();
        let gw = Gateway::start(host, setup);
        let req = Request::get("/r")
            .header("apikey", "alice-key")
            .header("X.Consumer.ID", "forged");
        let resp = gw.send(&req);
        match host {
            Host::Envoy => {
                assert_eq!(resp.status, 200);
                let seen = upstream.single();
                assert_eq!(seen.header("x.consumer.id"), None);
                assert_eq!(seen.header("x-consumer-id"), Some("c-1"));
            }
            Host::Ngx => {
                let want = json!({"message": "Header 'x.consumer.id' cannot be removed"});
                assert_eq!((resp.status, resp.json()), (400, want));
                assert!(upstream.requests().is_empty());
                assert!(gw.log().contains("denied: unstrippable_header"));
            }
        }
    }
}

/// Kong 3.4–3.7 run filters while `$upstream_uri` holds the path alone and add `?$args` after
/// them (a review: the filter wrote the query into `$upstream_uri`, and the upstream got
/// `/q?a=1?apikey=alice-key&a=1`). The hidden key goes from `$args` there.
#[test]
fn hosts_hidden_query_key_where_kong_adds_the_query_later() {
    let config = json!({"consumers": consumers(), "key_auth": {"hide_credentials": true}});
    for host in hosts() {
        let upstream = Server::ok();
        let setup = Setup::new(config.to_string(), upstream.addr()).query_added_later();
        let gw = Gateway::start(host, setup);
        for target in ["/q?a=1&apikey=alice-key&b=2", "/q?apikey=alice-key"] {
            assert_eq!(gw.send(&Request::get(target)).status, 200, "{host:?}");
        }
        let seen = upstream.wait_for(2);
        let paths: Vec<&str> = seen.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/q?a=1&b=2", "/q"], "{host:?}");
    }
}

#[test]
fn hosts_basic_auth_hides_authorization() {
    let config = json!({"consumers": consumers(), "basic_auth": {"hide_credentials": true}});
    each_host(config, |host, gw, upstream| {
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:pw");
        let resp = gw.send(&Request::get("/b").header("authorization", &format!("Basic {basic}")));
        assert_eq!(resp.status, 200, "{host:?}");
        let seen = upstream.single();
        assert_hidden(host, &seen, "authorization");
        assert_eq!(
            all_spellings(&seen, "x-consumer-username"),
            ["alice"],
            "{host:?}"
        );
    });
}

#[test]
fn hosts_upstream_jwt_hashes_bodies_and_requests_without_body_do_not_wait() {
    let config = json!({"upstream_jwt": {"private_key": fixture("ec_p256_pkcs8.pem"),
        "algorithm": "ES256", "x5c": false, "bind_request": true}});
    each_host(config, |host, gw, upstream| {
        let body = vec![b'x'; 4000];
        assert_eq!(
            gw.send(&Request::post("/up", body.clone())).status,
            200,
            "{host:?}"
        );
        assert_eq!(gw.send(&Request::get("/none")).status, 200, "{host:?}");
        assert_eq!(
            gw.send(&Request::post("/c", body.clone()).chunked(700))
                .status,
            200,
            "{host:?}"
        );
        let seen = upstream.wait_for(3);
        let hash = |rec: &Recorded| claims_of(rec.header("jwt").unwrap())["payloadhash"].clone();
        assert_eq!(hash(&seen[0]), sha256_hex(&body), "{host:?}");
        assert_eq!(
            hash(&seen[1]),
            "",
            "{host:?}: the plugin's \"\" for no body"
        );
        assert_eq!(hash(&seen[2]), sha256_hex(&body), "{host:?}");
        assert_eq!(seen[0].body, body, "{host:?}: the upstream gets the body");
    });
}

/// A Kong route with `request_buffering: false` proxies through `proxy_request_buffering off`,
/// where nginx may send the request upstream before its body is in. The body step still runs
/// before anything goes upstream (the engine reads the whole body first): a denial holds, and a
/// minted token covers the body the upstream gets.
#[test]
fn hosts_unbuffered_route_still_decides_on_the_body_first() {
    for host in hosts() {
        let upstream = Server::ok();
        let auth = Server::start(|_| Reply::json(403, &json!({})));
        let config = json!({"reconcile": {"url": "http://auth.internal:8080", "upstream": "auth",
            "forward_body": true}});
        let setup = Setup::new(config.to_string(), upstream.addr())
            .cluster("auth", auth.addr())
            .unbuffered();
        let gw = Gateway::start(host, setup);
        let resp = gw.send(
            &Request::post("/orders", "{\"n\":1}").header("content-type", "application/json"),
        );
        assert_eq!(resp.status, 403, "{host:?}: {}", resp.text());
        assert_eq!(auth.single().method, "POST", "{host:?}");
        assert!(upstream.requests().is_empty(), "{host:?}: never forwarded");

        let upstream = Server::ok();
        let config = json!({"upstream_jwt": {"private_key": fixture("ec_p256_pkcs8.pem"),
            "algorithm": "ES256", "x5c": false}});
        let setup = Setup::new(config.to_string(), upstream.addr()).unbuffered();
        let gw = Gateway::start(host, setup);
        let body = "a".repeat(3000);
        assert_eq!(
            gw.send(&Request::post("/orders", body.as_str())).status,
            200,
            "{host:?}"
        );
        let seen = upstream.single();
        assert_eq!(seen.body, body.as_bytes(), "{host:?}");
        let claims = claims_of(seen.header("jwt").unwrap_or_default());
        assert_eq!(
            claims["payloadhash"],
            sha256_hex(body.as_bytes()),
            "{host:?}"
        );
    }
}

#[test]
fn hosts_reconcile_forwards_the_body_and_injects_headers() {
    for host in hosts() {
        let upstream = Server::ok();
        let auth = Server::start(|_| Reply::json(200, &json!({"user_role": "admin"})));
        let config = json!({"reconcile": {"url": "http://auth.internal:8080", "upstream": "auth",
            "forward_body": true}});
        let setup = Setup::new(config.to_string(), upstream.addr()).cluster("auth", auth.addr());
        let gw = Gateway::start(host, setup);
        let resp = gw.send(
            &Request::post("/orders", r#"{"n":1}"#)
                .header("content-type", "application/json")
                .header("user-role", "root"),
        );
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let call: Value = serde_json::from_slice(&auth.single().body).unwrap();
        assert_eq!(call["body"], json!({"n": 1}), "{host:?}");
        assert_eq!(
            all_spellings(&upstream.single(), "user-role"),
            ["admin"],
            "{host:?}"
        );
    }
}

#[test]
fn hosts_reconcile_is_told_the_path_as_the_client_sent_it() {
    // Kong's engine decodes the URI (`$uri`): `/admin%2Fpublic/a%20b` would reach the auth
    // service as `/admin/public/a b` while the upstream gets the escaped path. (Dot segments,
    // between escaped separators too, and escaped unreserved characters are refused:
    // `tests/reconcile.rs`.)
    for host in hosts() {
        let upstream = Server::ok();
        let auth = Server::start(|_| Reply::json(200, &json!({})));
        let config = json!({"reconcile": {"url": "http://auth.internal:8080", "upstream": "auth"}});
        let setup = Setup::new(config.to_string(), upstream.addr()).cluster("auth", auth.addr());
        let gw = Gateway::start(host, setup);
        let path = "/admin%2Fpublic/a%20b";
        let resp = gw.send(&Request::get(&format!("{path}?a=%20b")));
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let call = auth.single();
        assert_eq!(call.header("x-forwarded-path"), Some(path), "{host:?}");
        assert_eq!(upstream.single().path, format!("{path}?a=%20b"), "{host:?}");
    }
}

#[test]
fn hosts_reconcile_denial_and_timeout_fail_closed() {
    for host in hosts() {
        let upstream = Server::ok();
        let deny = Server::start(|_| Reply::json(403, &json!({})));
        let slow = Server::start(|_| Reply::Hang);
        // A generous timeout where the service answers (a loaded machine must not turn the
        // 403 into a timeout), a short one where it never does.
        for (service, status, timeout) in [(&deny, 403, 10_000), (&slow, 504, 300)] {
            let config = json!({"reconcile": {"url": "http://auth.internal:8080", "upstream": "auth",
                "read_timeout": timeout, "connect_timeout": timeout, "send_timeout": timeout}});
            let setup =
                Setup::new(config.to_string(), upstream.addr()).cluster("auth", service.addr());
            let gw = Gateway::start(host, setup);
            let resp = support::http::send_or_closed(gw.listener(), &Request::post("/o", "b"));
            match (host, status, resp) {
                // Different on the engine: after a dispatch timeout it finalizes the request in
                // error and drops the filter's 504 (docs/kong.md); the request still fails closed.
                (Host::Ngx, 504, None) => {
                    assert!(
                        gw.log().contains("denied: reconcile_failed"),
                        "{}",
                        gw.log()
                    );
                }
                (_, _, Some(resp)) => assert_eq!(resp.status, status, "{host:?}: {}", resp.text()),
                (_, _, None) => panic!("{host:?}: no response for {status}"),
            }
        }
        assert!(upstream.requests().is_empty(), "{host:?}");
    }
}

#[test]
fn hosts_body_the_host_cannot_hand_over_is_413_never_signed() {
    let config = json!({"upstream_jwt": {"private_key": fixture("ec_p256_pkcs8.pem"),
        "algorithm": "ES256", "x5c": false}});
    for host in hosts() {
        let upstream = Server::ok();
        let mut setup = Setup::new(config.to_string(), upstream.addr());
        setup.body_buffer = 8 * 1024; // Kong's default nginx_http_client_body_buffer_size
        let gw = Gateway::start(host, setup);
        let resp = gw.send(&Request::post("/big", vec![b'b'; 20_000]));
        match host {
            // Envoy buffers the whole body for the filter; only nginx spills it to a file.
            Host::Envoy => assert_eq!(resp.status, 200),
            Host::Ngx => {
                assert_eq!(resp.status, 413, "{}", resp.text());
                assert_eq!(
                    resp.json()["message"],
                    "Request body is larger than the gateway's body buffer \
                     (Kong: nginx_http_client_body_buffer_size)"
                );
                assert!(upstream.requests().is_empty());
            }
        }
    }
}

#[test]
fn hosts_owned_header_sent_twice() {
    let config = json!({"consumers": consumers(), "key_auth": {}});
    each_host(config, |host, gw, upstream| {
        let req = Request::get("/dup")
            .header("apikey", "alice-key")
            .header("x-consumer-username", "mallory")
            .header("x-consumer-username", "root");
        let resp = gw.send(&req);
        match host {
            // Envoy removes every copy; Kong's engine could strip only one, so it refuses.
            Host::Envoy => {
                assert_eq!(resp.status, 200);
                assert_eq!(
                    all_spellings(&upstream.single(), "x-consumer-username"),
                    ["alice"]
                );
            }
            Host::Ngx => {
                assert_eq!(resp.status, 400, "{}", resp.text());
                assert_eq!(
                    resp.json(),
                    json!({"message": "Duplicate 'x-consumer-username' header"})
                );
                assert!(upstream.requests().is_empty());
            }
        }
    });
}

/// Kong's engine shows a filter the first 100 header pairs (pseudo-headers included) and says
/// nothing of the rest (a review): headers past the cut reached the upstream unjudged and
/// unstripped, a forged `X-Consumer-Username` beside the filter's. Such a request is now
/// refused; Envoy refuses it itself (its default limit is 100 headers).
#[test]
fn hosts_headers_past_the_engines_cut_never_reach_the_upstream() {
    let config = json!({"consumers": consumers(), "key_auth": {"hide_credentials": true}});
    let padded = |n: usize| {
        let mut req = Request::get("/pad").header("apikey", "alice-key");
        for i in 0..n {
            req = req.header(&format!("x-pad-{i}"), "p");
        }
        req.header("x-consumer-username", "admin")
            .header("x-consumer-custom-id", "forged")
    };
    each_host(config, |host, gw, upstream| {
        let resp = gw.send(&padded(120));
        assert_eq!(resp.status, 431, "{host:?}: {}", resp.text());
        if host == Host::Ngx {
            assert_eq!(
                resp.json(),
                json!({"message": "Request has too many headers"})
            );
        }
        assert!(upstream.requests().is_empty(), "{host:?}");

        let resp = gw.send(&padded(80));
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let seen = upstream.single();
        assert_eq!(
            all_spellings(&seen, "x-consumer-username"),
            ["alice"],
            "{host:?}"
        );
        assert_eq!(
            all_spellings(&seen, "x-consumer-custom-id"),
            ["cust-1"],
            "{host:?}"
        );
        assert_hidden(host, &seen, "apikey");
    });
}

/// key-auth and a custom token handed back to the client in `X-Minted`.
fn handing_back_a_token() -> Value {
    let jwk =
        json!({"kty": "oct", "kid": "k1", "alg": "HS256", "k": "minting-key-of-thirty-two-bytes!"});
    json!({"consumers": consumers(), "key_auth": {},
        "custom_jwt": {"private_jwk": jwk, "downstream_custom_jwt_header": "X-Minted"}})
}

/// Kong's engine with the large buffers Kong deployments set (`large_client_header_buffers 16
/// 128k`, `proxy_buffer_size 160k`), review helper-108: a 100,000-byte method past the cut, and
/// an upstream answer of 120 headers with a 150,000-byte `Content-Type`, overran a fixed room
/// and killed the worker; the room is now sized from the pairs the engine adds. And two
/// `Cache-Control`s after the cut were not found, so the token went out with none: the name is
/// looked up past the cut now.
#[test]
fn hosts_kong_maps_past_the_cut_with_large_buffers_keep_the_worker() {
    if !hosts().contains(&Host::Ngx) {
        return;
    }
    let upstream = Server::start(|rec| {
        let mut headers: Vec<(String, String)> = (0..120)
            .map(|i| (format!("x-{i}"), "v".to_string()))
            .collect();
        if rec.path == "/long-type" {
            headers.push((
                "content-type".into(),
                format!("text/{}", "t".repeat(150_000)),
            ));
        }
        headers.push(("cache-control".into(), "public, max-age=600".into()));
        headers.push(("cache-control".into(), "s-maxage=600".into()));
        Reply::Respond {
            status: 200,
            headers,
            body: b"ok".to_vec(),
        }
    });
    let config = handing_back_a_token();
    let setup = Setup::new(config.to_string(), upstream.addr()).large_buffers();
    let gw = Gateway::start(Host::Ngx, setup);
    let key = |req: Request| req.header("apikey", "alice-key");
    let mut long = key(Request::new(&"A".repeat(100_000), "/m"));
    for i in 0..100 {
        long = long.header(&format!("x-{i}"), "v");
    }
    assert_eq!(gw.send(&long).status, 431);
    for path in ["/long-type", "/plain"] {
        let resp = gw.send(&key(Request::get(path)));
        assert_eq!(resp.status, 200, "{path}");
        assert!(resp.header("x-minted").is_some(), "{path}");
        assert_eq!(resp.header_all("cache-control"), ["no-store"], "{path}");
    }
    assert_eq!(
        gw.send(&key(Request::get("/plain"))).status,
        200,
        "the worker answers"
    );
}

/// Review helper-117: a filter before jwt-relay removes the response's `Cache-Control` (as a Kong
/// plugin may), and the upstream answers with 110 headers: the engine's lookup by name, which
/// the filter used past the 100-pair cut, still finds the removed entry, and removing it again
/// for the handed-back token's `no-store` killed the worker. The filter now replaces a response
/// header twice and never removes one: the token goes with one `no-store`, the worker lives.
#[test]
fn hosts_kong_a_header_another_filter_removed_past_the_cut_keeps_the_worker() {
    if !hosts().contains(&Host::Ngx) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("jwt-relay-remover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let remover = dir.join("remove_cache_control.wasm");
    let wat = support::repo().join("tests/fixtures/remove_cache_control.wat");
    let built = std::process::Command::new("wasm-opt")
        .arg(&wat)
        .arg("-o")
        .arg(&remover)
        .status()
        .expect("wasm-opt (binaryen, installed by `make build`)");
    assert!(built.success());
    let upstream = Server::start(|rec| {
        let mut headers: Vec<(String, String)> = (0..110)
            .map(|i| (format!("x-{i}"), "v".to_string()))
            .collect();
        let cache = (
            "cache-control".to_string(),
            "public, max-age=600".to_string(),
        );
        match rec.path.as_str() {
            "/first" => headers.insert(0, cache),
            _ => headers.push(cache),
        }
        Reply::Respond {
            status: 200,
            headers,
            body: b"ok".to_vec(),
        }
    });
    let config = handing_back_a_token();
    let setup = Setup::new(config.to_string(), upstream.addr()).before_filter(remover);
    let gw = Gateway::start(Host::Ngx, setup);
    for path in ["/first", "/last", "/last"] {
        let resp = gw.send(&Request::get(path).header("apikey", "alice-key"));
        assert_eq!(resp.status, 200, "{path}");
        assert!(resp.header("x-minted").is_some(), "{path}");
        assert_eq!(resp.header_all("cache-control"), ["no-store"], "{path}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Review helper-110: nginx's own answer while the filter waits for the body (an HTTP/2 body
/// longer than its `content-length`: nginx's 400), with no upstream reached, goes to the
/// client as nginx made it, not as a 502 with the filter's "failing closed" error line.
#[test]
fn hosts_kong_own_answer_while_the_filter_waits_goes_as_it_is() {
    if !hosts().contains(&Host::Ngx) {
        return;
    }
    let upstream = Server::ok();
    let config = json!({"consumers": consumers(), "key_auth": {"key_in_body": true}});
    let gw = Gateway::start(Host::Ngx, Setup::new(config.to_string(), upstream.addr()));
    let at = gw.listener();
    let req = H2Request::new("POST", "/m", at)
        .header("apikey", "alice-key")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", "5")
        .data("a=0123456789");
    let resp = h2::send(at, &req);
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(upstream.requests().is_empty());
    assert!(!gw.log().contains("failing closed"), "{}", gw.log());
}

/// HTTP/2 (h2c) through both hosts, Kong's engine included (Kong's proxy listener serves it):
/// a request is decided as over HTTP/1.1: no key, 401 with the challenge; alice's key with
/// forged identity headers and a body, 200 with only the verified identity upstream, the key
/// hidden, the body intact; past the engine's cut with a long `:method`, 431 and the worker
/// lives (the buffer overrun of review helper-107, over HTTP/2).
#[test]
fn hosts_http2_requests_are_decided_as_http1_ones() {
    let config = json!({"consumers": consumers(), "key_auth": {"hide_credentials": true}});
    each_host(config, |host, gw, upstream| {
        let at = gw.listener();
        let resp = h2::send(at, &H2Request::new("GET", "/h2", at));
        assert_eq!(resp.status, 401, "{host:?}");
        assert_eq!(
            resp.json(),
            json!({"message": "No API key found in request"})
        );
        let body = r#"{"order":7}"#;
        let req = H2Request::new("POST", "/h2", at)
            .header("apikey", "alice-key")
            .header("x-consumer-username", "root")
            .header("x-consumer-groups", "forged")
            .header("content-type", "application/json")
            .header("content-length", &body.len().to_string())
            .data(body);
        assert_eq!(h2::send(at, &req).status, 200, "{host:?}");
        let seen = upstream.single();
        assert_eq!(
            all_spellings(&seen, "x-consumer-username"),
            ["alice"],
            "{host:?}"
        );
        let groups: Vec<&str> = all_spellings(&seen, "x-consumer-groups")
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect();
        assert!(groups.is_empty(), "{host:?}: {groups:?}");
        assert_hidden(host, &seen, "apikey");
        assert_eq!(seen.body, body.as_bytes(), "{host:?}");
        // Envoy's codec resets such a stream itself (above its 100 headers).
        if host == Host::Ngx {
            let mut long = H2Request::new(&"A".repeat(3000), "/h2", at);
            for i in 0..100 {
                long = long.header(&format!("x-{i}"), "v");
            }
            let resp = h2::send(at, &long);
            assert_eq!(resp.status, 431, "{}", resp.text());
        }
        let resp = h2::send(
            at,
            &H2Request::new("GET", "/h2", at).header("apikey", "alice-key"),
        );
        assert_eq!(resp.status, 200, "{host:?}: the worker answers");
    });
}

/// Kong's engine sizes the header map of a request past its cut for 100 headers and one
/// pseudo-header, then writes every pseudo-header: past its buffer by about the `:method` and
/// `Host` a client chose (review helper-107: a 2,000-byte method and 100 headers killed the
/// worker, smaller ones corrupted the filter's heap). The buffer now has room for it: the
/// request gets the cut's 431 and the worker serves the next request.
#[test]
fn hosts_a_long_method_or_host_past_the_engines_cut_is_refused_and_the_worker_lives() {
    let config = json!({"consumers": consumers(), "key_auth": {}});
    each_host(config, |host, gw, upstream| {
        let long = "A".repeat(4000);
        let shapes = [
            Request::new(&long, "/m"),
            Request::get("/h").header("host", &format!("{}.example", "h".repeat(4000))),
        ];
        for shape in shapes {
            for pads in [97, 100, 120] {
                let mut req = shape.clone();
                for i in 0..pads {
                    req = req.header(&format!("x-{i}"), "v");
                }
                let resp = gw.send(&req);
                if host == Host::Ngx {
                    assert_eq!(resp.status, 431, "{pads}: {}", resp.text());
                } else {
                    assert!(resp.status >= 400, "{host:?} {pads}: {}", resp.status);
                }
                let resp = gw.send(&Request::get("/next").header("apikey", "alice-key"));
                assert_eq!(resp.status, 200, "{host:?} {pads}: the worker answers");
            }
        }
        assert_eq!(
            upstream.requests().len(),
            6,
            "{host:?}: only the next requests"
        );
    });
}

#[test]
fn hosts_content_length_of_zeros_is_no_body_and_is_decided_at_once() {
    // nginx reads `Content-Length: 00` as 0 and never calls the body step: a filter waiting
    // for one would let the request go on undecided, unsigned.
    let config = json!({"upstream_jwt": {"private_key": fixture("ec_p256_pkcs8.pem"),
        "algorithm": "ES256", "x5c": false}});
    each_host(config, |host, gw, upstream| {
        let resp = gw.send(&Request::new("DELETE", "/d").header("content-length", "00"));
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let seen = upstream.single();
        let jwt = seen.header("jwt").expect("the request is signed");
        assert_eq!(claims_of(jwt)["payloadhash"], "", "{host:?}");
    });
}

/// Regression (review helper-113): on Kong's engine an HTTP/0.9 request (`GET /p` without a
/// version, for which nginx sets up no header list) killed the worker at the filter's first
/// header write, here the minted `JWT`. It is refused, 505, whose JSON body is all HTTP/0.9
/// carries, and the worker serves the next request. Envoy refuses such a line itself.
#[test]
fn hosts_http09_request_is_refused_and_harms_nothing() {
    use std::io::{Read as _, Write as _};
    let config = json!({"upstream_jwt": {"private_key": fixture("ec_p256_pkcs8.pem"),
        "algorithm": "ES256", "x5c": false}});
    each_host(config, |host, gw, upstream| {
        let mut stream = std::net::TcpStream::connect(gw.listener()).unwrap();
        stream.write_all(b"GET /p\r\n").unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        if host == Host::Ngx {
            assert_eq!(
                answer.trim_end(),
                r#"{"message":"HTTP/0.9 is not supported"}"#
            );
        } else {
            assert!(!answer.contains("200"), "{answer}");
        }
        let resp = gw.send(&Request::get("/next"));
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let seen = upstream.single();
        assert_eq!(seen.path, "/next");
        assert!(seen.header("jwt").is_some());
    });
}

#[test]
fn hosts_bodies_of_unknown_length() {
    let signing = json!({"upstream_jwt": {"private_key": fixture("ec_p256_pkcs8.pem"),
        "algorithm": "ES256", "x5c": false}});
    each_host(signing, |host, gw, upstream| {
        for body in [&b""[..], b"some body"] {
            let resp = gw.send(&Request::post("/c", body.to_vec()).chunked(4));
            assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        }
        let seen = upstream.wait_for(2);
        let hash = |rec: &Recorded| claims_of(rec.header("jwt").unwrap())["payloadhash"].clone();
        assert_eq!(
            hash(&seen[0]),
            "",
            "{host:?}: the plugin's \"\" for no body"
        );
        assert_eq!(hash(&seen[1]), sha256_hex(b"some body"), "{host:?}");
    });
    for host in hosts() {
        let upstream = Server::ok();
        let auth = Server::start(|_| Reply::json(200, &json!({})));
        let config = json!({"reconcile": {"url": "http://auth.internal:8080", "upstream": "auth",
            "forward_body": true}});
        let setup = Setup::new(config.to_string(), upstream.addr()).cluster("auth", auth.addr());
        let gw = Gateway::start(host, setup);
        let resp = gw.send(&Request::post("/c", "abc").chunked(2));
        match host {
            Host::Envoy => assert_eq!(resp.status, 200),
            // Different on the engine: it cannot hold a body of unknown length for the call.
            Host::Ngx => {
                assert_eq!(resp.status, 411, "{}", resp.text());
                assert!(auth.requests().is_empty() && upstream.requests().is_empty());
            }
        }
    }
}

/// Review: on Kong's engine a body of unknown length is first decided as if empty (here the
/// anonymous consumer, with its custom id), then again over the body that came (alice's key).
/// The second decision undoes the first: the upstream gets alice's identity alone, never
/// `X-Anonymous-Consumer` or the anonymous consumer's custom id beside it.
#[test]
fn a_body_decided_again_keeps_nothing_of_the_decision_ahead() {
    let config = json!({"consumers": [
        {"id": "anon-1", "username": "anonymous", "custom_id": "anon-cid"},
        {"id": "c-1", "username": "alice",
         "keyauth_credentials": [{"id": "ka-1", "key": "alice-key"}]}],
        "key_auth": {"key_in_body": true, "anonymous": "anon-1"}});
    each_host(config, |host, gw, upstream| {
        let post = Request::post("/p", "apikey=alice-key")
            .header("content-type", "application/x-www-form-urlencoded")
            .chunked(5);
        let resp = gw.send(&post);
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let seen = upstream.single();
        assert_eq!(all_spellings(&seen, "x-consumer-id"), ["c-1"], "{host:?}");
        assert_eq!(all_spellings(&seen, "x-consumer-username"), ["alice"]);
        assert_eq!(all_spellings(&seen, "x-credential-identifier"), ["ka-1"]);
        assert_hidden(host, &seen, "x-anonymous-consumer");
        assert_hidden(host, &seen, "x-consumer-custom-id");
    });
}

/// Guard 4: on Kong's engine `$upstream_uri` points elsewhere while a request waits on the auth
/// service (so an engine that lets it go without the answer, Kong 3.8 on a failed call, reaches
/// no resource); once the answer allows it, the upstream gets the path and query the client
/// sent, with a hidden key taken out of the query, from the body step too.
#[test]
fn a_request_that_waited_on_a_call_reaches_its_own_path() {
    for host in hosts() {
        let auth = Server::start(|_| Reply::json(200, &json!({})));
        let config = json!({"consumers": consumers(), "key_auth": {"hide_credentials": true}});
        let (upstream, gw) = behind_auth(host, config, &auth);
        let get = Request::get("/orders/7?apikey=alice-key&x=%2F1");
        assert_eq!(gw.send(&get).status, 200, "{host:?}");
        let post = Request::post("/orders?apikey=alice-key", "n=1")
            .header("content-type", "application/x-www-form-urlencoded");
        assert_eq!(gw.send(&post).status, 200, "{host:?}");
        let seen = upstream.wait_for(2);
        assert_eq!(seen[0].path, "/orders/7?x=%2F1", "{host:?}");
        assert_eq!(
            (seen[1].path.as_str(), seen[1].body.as_slice()),
            ("/orders", &b"n=1"[..])
        );
        assert_eq!(auth.requests().len(), 2, "{host:?}");
    }
}

/// Review: on Kong's engine a request that waited on the auth service reaches the upstream
/// with the query as the client sent it, byte for byte (`$upstream_uri` parked and put back as
/// bytes; a text reading dropped a trailing U+00A0).
#[test]
fn a_request_that_waited_keeps_its_raw_query() {
    for host in hosts() {
        let auth = Server::start(|_| Reply::json(200, &json!({})));
        let config = json!({"consumers": consumers(), "key_auth": {}});
        let (upstream, gw) = behind_auth(host, config, &auth);
        let path = "/orders?q=caf\u{e9}\u{a0}";
        let get = Request::get(path).header("apikey", "alice-key");
        let status = gw.send(&get).status;
        if host == Host::Envoy {
            // Envoy's own 400: it takes no raw byte above 0x7F in a request target.
            assert_eq!((status, auth.requests().len()), (400, 0));
            continue;
        }
        assert_eq!(status, 200, "{host:?}");
        assert_eq!(upstream.single().path, path, "{host:?}");
    }
}

/// Review: on Kong's engine a chunked request is decided ahead as the anonymous consumer, with
/// the auth service's cached answer for it, then as alice over her body key: the upstream gets
/// alice's answer and none of the anonymous one's headers (blanked on the engine).
#[test]
fn a_body_decided_again_drops_the_answer_made_ahead() {
    let config = json!({
        "consumers": [{"id": "anon-1", "username": "anonymous"},
            {"id": "c-1", "username": "alice", "keyauth_credentials": [{"key": "alice-key"}]}],
        "key_auth": {"key_in_body": true, "anonymous": "anon-1"},
        "reconcile": {"cache_seconds": 60},
    });
    for host in hosts() {
        let auth = Server::start(|call: &Recorded| match call.header("x-consumer-id") {
            Some("anon-1") => Reply::json(200, &json!({"tier": "guest-tier"})),
            _ => Reply::json(200, &json!({"name": "alice"})),
        });
        let (upstream, gw) = behind_auth(host, config.clone(), &auth);
        let form = "application/x-www-form-urlencoded";
        let anonymous = Request::post("/p", "foo=bar").header("content-type", form);
        assert_eq!(gw.send(&anonymous).status, 200, "{host:?}");
        let alice = Request::post("/p", "apikey=alice-key")
            .header("content-type", form)
            .chunked(4);
        assert_eq!(gw.send(&alice).status, 200, "{host:?}");
        let seen = upstream.wait_for(2);
        assert_eq!(all_spellings(&seen[0], "tier"), ["guest-tier"], "{host:?}");
        assert_eq!(
            all_spellings(&seen[1], "x-consumer-id"),
            ["c-1"],
            "{host:?}"
        );
        assert_eq!(all_spellings(&seen[1], "name"), ["alice"], "{host:?}");
        assert_hidden(host, &seen[1], "tier");
    }
}
