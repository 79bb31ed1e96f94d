//! No secret ever leaves the filter: with a configuration holding every kind of secret (HMAC
//! secrets, API keys, basic-auth passwords, an RSA private key in PEM, a private JWK), requests
//! of every kind (good and bad tokens, keys and passwords, forged tokens, odd headers, a failing
//! auth service) go through each host; then every line the host logged (wasm at debug level) and
//! every answer the filter gave itself is searched for every secret, in its text, base64 and
//! base64url forms, every line of the private key's PEM, every private JWK member and every
//! token presented. None may appear.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use support::tokens::{fixture, now, sign_hmac, sign_pem};
use support::{hosts, oracle, Gateway, Host, Request, Server, Setup};

const HS_SECRET: &str = "leak-test-hs-secret-7f3a9c";
const HS384_SECRET: &str = "leak-test-hs384-secret-4b1d0e";
const API_KEY: &str = "leak-test-api-key-91c2e4";
const PASSWORD: &str = "leak-test-password-5d0e1b";

/// Every form a secret could take in a log line or an answer.
fn forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    vec![
        secret.to_string(),
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ]
}

/// The needles found in `haystack`.
fn leaks<'a>(haystack: &str, needles: &'a [String]) -> Vec<&'a str> {
    needles
        .iter()
        .filter(|n| haystack.contains(n.as_str()))
        .map(String::as_str)
        .collect()
}

/// The search itself can fail: a planted needle is found, in any of its forms.
#[test]
fn search_finds_a_planted_secret_in_every_form() {
    let needles = forms(PASSWORD);
    for planted in &needles {
        let log = format!("[info] wasm log: something {planted} else\n");
        assert!(
            leaks(&log, &needles).contains(&planted.as_str()),
            "{planted}"
        );
    }
    assert!(leaks("[info] nothing here", &needles).is_empty());
}

struct Secrets {
    needles: Vec<String>,
    private_jwk: Value,
    private_pem: String,
}

fn secrets() -> Secrets {
    let private_pem = fixture("rsa2048_pkcs8.pem");
    let mut private_jwk = oracle::keygen("RS256");
    private_jwk["kid"] = json!("leak-test");
    private_jwk["alg"] = json!("RS256");
    let mut needles: Vec<String> = [HS_SECRET, HS384_SECRET, API_KEY, PASSWORD]
        .iter()
        .flat_map(|s| forms(s))
        .collect();
    needles.extend(
        private_pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string),
    );
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        let value = private_jwk[member].as_str().unwrap().to_string();
        // A long member is also searched by its leading 32 characters (a truncated log).
        needles.push(value.chars().take(32).collect());
        needles.push(value);
    }
    Secrets {
        needles,
        private_jwk,
        private_pem,
    }
}

/// The configuration; with `key_from_env`, upstream_jwt's key comes from `KONG_SSL_CERT_KEY` (an
/// nginx directive's argument is at most 4 KiB: the inline keys together are more; Kong itself
/// passes a filter's configuration without that limit).
fn config(secrets: &Secrets, auth: &str, key_from_env: bool) -> Value {
    let upstream_jwt = if key_from_env {
        json!({"private_key_env": "KONG_SSL_CERT_KEY", "algorithm": "RS256", "x5c": false})
    } else {
        json!({"private_key": secrets.private_pem, "algorithm": "RS256", "x5c": false})
    };
    json!({
        "consumers": [
            {"id": "anon", "username": "anonymous"},
            {"id": "c-1", "username": "alice",
             "keyauth_credentials": [{"key": API_KEY}],
             "basicauth_credentials": [{"username": "alice", "password": PASSWORD}],
             "jwt_secrets": [{"key": "idp", "secret": HS_SECRET},
                             {"key": "idp384", "algorithm": "HS384", "secret": HS384_SECRET},
                             {"key": "rs", "algorithm": "RS256",
                              "rsa_public_key": support::tokens::public_pem("RS256")}]}],
        "jwt": {"anonymous": "anon", "claims_to_verify": ["exp"]},
        "key_auth": {"anonymous": "anon"},
        "basic_auth": {"anonymous": "anon"},
        "custom_jwt": {"private_jwk": secrets.private_jwk},
        "reconcile": {"url": format!("http://{auth}/check"), "upstream": "auth"},
        "upstream_jwt": upstream_jwt
    })
}

/// The requests, and the tokens among them (needles too).
fn requests() -> (Vec<Request>, Vec<String>) {
    let exp = now() + 600;
    let good = sign_hmac(
        "HS256",
        HS_SECRET.as_bytes(),
        &json!({"iss": "idp", "exp": exp}),
    );
    let wrong_key = sign_hmac(
        "HS256",
        b"not-the-secret",
        &json!({"iss": "idp", "exp": exp}),
    );
    let expired = sign_hmac(
        "HS256",
        HS_SECRET.as_bytes(),
        &json!({"iss": "idp", "exp": 1000}),
    );
    let rs = sign_pem("RS256", &json!({"iss": "rs", "exp": exp}), None);
    let mut forged_rs = rs.clone();
    forged_rs.push('A');
    let alg_none = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"iss":"idp"}"#)
    );
    let basic = |user: &str, pw: &str| {
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        format!("Basic {pair}")
    };
    let bearer = |t: &str| format!("Bearer {t}");
    let reqs = vec![
        Request::get("/ok").header("authorization", &bearer(&good)),
        Request::get("/ok").header("authorization", &bearer(&rs)),
        Request::get("/ok").header("authorization", &bearer(&wrong_key)),
        Request::get("/ok").header("authorization", &bearer(&expired)),
        Request::get("/ok").header("authorization", &bearer(&forged_rs)),
        Request::get("/ok").header("authorization", &bearer(&alg_none)),
        Request::get("/ok").header("authorization", "Bearer abc.def"),
        Request::get(&format!("/ok?jwt={good}&jwt={rs}")),
        Request::get("/ok")
            .header("authorization", &bearer(&good))
            .header("authorization", &bearer(&rs)),
        Request::get("/ok").header("apikey", API_KEY),
        Request::get("/ok").header("apikey", "leak-test-wrong-key"),
        Request::get(&format!("/ok?apikey={API_KEY}")),
        Request::get("/ok").header("authorization", &basic("alice", PASSWORD)),
        Request::get("/ok").header("authorization", &basic("alice", "wrong-password")),
        Request::get("/fail").header("apikey", API_KEY),
        Request::get("/garbage").header("authorization", &bearer(&good)),
        Request::post("/ok", vec![b'x'; 2048]).header("authorization", &basic("alice", PASSWORD)),
        Request::get("/ok")
            .header("x-consumer-id", "mallory")
            .header("x-custom-jwt", &good)
            .header("apikey", API_KEY),
    ];
    let tokens = [good, wrong_key, expired, rs, forged_rs, alg_none]
        .into_iter()
        .flat_map(|t| {
            let signature = t.rsplit('.').next().unwrap_or_default().to_string();
            [t, signature]
        })
        .filter(|n| n.len() >= 16)
        .collect();
    (reqs, tokens)
}

/// What of the host's log is searched. Envoy's: every line. nginx's: the filter's lines, without
/// the context nginx appends to every line logged during a request (`client: ..., request: "GET
/// /ok?apikey=..."`) and without nginx's own lines (`client sent duplicate header line: ...`):
/// nginx (and Kong's access log) records the request line and such headers whatever the filter
/// does, which is why credentials belong in headers, not query strings (SECURITY.md).
fn host_log_searched(host: Host, log: &str) -> String {
    if host == Host::Envoy {
        return log.to_string();
    }
    log.lines()
        .filter(|l| l.contains("[proxy-wasm]"))
        .map(|l| l.split(", client: ").next().unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The auth service: 500 for `/fail`, not JSON for `/garbage`, else an allow answer.
fn auth_service() -> Server {
    Server::start(|req| {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match body["path"].as_str().unwrap_or_default() {
            "/fail" => support::server::Reply::status(500, "auth down"),
            "/garbage" => support::server::Reply::status(200, "<html>"),
            _ => support::server::Reply::json(200, &json!({"role": "reader"})),
        }
    })
}

#[test]
fn no_secret_or_token_appears_in_any_log_line_or_local_answer() {
    let secrets = secrets();
    for host in hosts() {
        let upstream = Server::ok();
        let auth = auth_service();
        let from_env = host == Host::Ngx;
        let mut setup = Setup::new(
            config(&secrets, &auth.addr().to_string(), from_env).to_string(),
            upstream.addr(),
        )
        .cluster("auth", auth.addr());
        if from_env {
            setup = setup.env("KONG_SSL_CERT_KEY", &secrets.private_pem);
        }
        let gw = Gateway::start(host, setup);
        let (reqs, tokens) = requests();
        let mut needles = secrets.needles.clone();
        needles.extend(tokens);
        let mut answers = String::new();
        let mut local = 0;
        for req in &reqs {
            let resp = gw.send(req);
            // The upstream answers "ok"; anything else is the filter's (or the host's) own answer.
            if resp.text() != "ok" {
                local += 1;
                answers.push_str(&format!(
                    "{} {:?} {}\n",
                    resp.status,
                    resp.headers,
                    resp.text()
                ));
            }
        }
        let log = gw.log();
        assert!(
            local >= 8,
            "{host:?}: only {local} local answers:\n{answers}"
        );
        assert!(
            log.lines().count() > reqs.len(),
            "{host:?}: the filter logged too little to search:\n{log}"
        );
        assert!(needles.len() > 40, "{}", needles.len());
        assert_eq!(
            leaks(&answers, &needles),
            Vec::<&str>::new(),
            "{host:?}: {answers}"
        );
        let written = host_log_searched(host, &log);
        assert!(
            written.lines().count() >= local,
            "{host:?}: fewer filter lines than local answers:\n{written}"
        );
        assert_eq!(leaks(&written, &needles), Vec::<&str>::new(), "{host:?}");
        // Headers the filter writes for the upstream carry no secret (the client's own
        // `Authorization` goes on as Kong passes it, unless `hide_credentials`). The custom
        // token's claims are searched decoded: as in x-custom-jwt, its `client_id` is the API
        // key key-auth verified (README, `custom_jwt`), and nothing else in it may be a secret.
        for seen in upstream.requests() {
            let mut owned: Vec<String> = ["x-consumer-id", "x-consumer-username"]
                .iter()
                .filter_map(|h| seen.header(h).map(str::to_string))
                .collect();
            if let Some(token) = seen.header("x-custom-jwt") {
                let mut claims = support::tokens::claims_of(token);
                claims.as_object_mut().unwrap().remove("client_id");
                owned.push(claims.to_string());
                owned.push(token.split('.').next().unwrap().to_string());
            }
            assert_eq!(
                leaks(&owned.join("\n"), &secrets.needles),
                Vec::<&str>::new(),
                "{host:?}"
            );
        }
    }
}
