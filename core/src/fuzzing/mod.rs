//! Fuzz target bodies, one `pub fn <target>(data: &[u8])` each, shared by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/<target>.rs`, nightly) and the stable corpus replay
//! (`core/tests/fuzz_corpus.rs`, run by `make test`), so that an input that once crashed stays a
//! regression test. Not part of the filter's API.
//!
//! A target returns normally on every input. Where a target checks a property (a signature it
//! just made verifies, an identity header the client wrote never reaches the upstream), a
//! broken property panics on purpose: that is how libFuzzer reports a bug.
//!
//! The byte-oriented targets (`jws`, `jwk`, `pem`, `config`) read the input as the text or DER
//! the filter reads, so real tokens, keys and configurations are their seeds. The structured
//! ones (`reconcile`, `token`, `flow`) draw requests, bodies and call answers from the bytes
//! with [`arbitrary::Unstructured`] (`gen.rs`).

mod fixtures;
mod flow;
mod gen;

use crate::config::ReconcileSection;
use crate::jose::{self, jws as jws_mod, Algorithm, Jwk, JwkSet, OctKeyEncoding};
use crate::jose::{SigningKey, VerifyingKey};
use crate::stages::auth::token::{Found, TokenLocations};
use crate::stages::auth::{self, TokenCache};
use crate::stages::reconcile::{self, Outcome};
use crate::stages::{headers, urlenc, HeaderEdit, Pipeline};
use arbitrary::Unstructured;
use serde_json::{json, Value};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its fuzz target and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("jws", jws),
    ("jwk", jwk),
    ("pem", pem),
    ("config", config),
    ("reconcile", reconcile),
    ("token", token),
    ("flow", flow),
];

/// Compact JWS: parse, then verify with every fixture key (HS256, P-256, P-384, Ed25519, Ed448,
/// RSA-2048). A token that parses is re-signed with its own claims and must verify.
pub fn jws(data: &[u8]) {
    let Some(fixtures) = fixtures::get() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let Ok(token) = jws_mod::parse(&text) else {
        return;
    };
    let header = token.header();
    let _ = (header.kid(), header.typ(), header.json().len());
    let _ = (token.signing_input().len(), token.signature().len());
    for key in &fixtures.verifying {
        let verified = token.verify(key).is_ok();
        // A key verifies only an algorithm of its family.
        assert!(!verified || key.check_alg(header.alg()).is_ok());
    }
    let resigned = jws_mod::sign(
        &jose::JwsHeader::new(Algorithm::HS256),
        token.claims(),
        &fixtures.hs,
    );
    if let Ok(resigned) = resigned {
        let reparsed = jws_mod::parse(&resigned);
        let verified = reparsed.map(|t| t.verify(&fixtures.verifying_hs()).is_ok());
        // A claims object that parsed can be re-signed, unless it is too large to be a token.
        assert!(
            verified.unwrap_or(resigned.len() > jose::MAX_TOKEN_LEN),
            "re-signed claims do not verify"
        );
    }
}

/// JWK and JWKS documents: `Jwk::from_json` in both `oct` encodings, `JwkSet::parse` and
/// `parse_published`, then every export of each key; a public export parses back to the same
/// thumbprint.
pub fn jwk(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for encoding in [OctKeyEncoding::Base64Url, OctKeyEncoding::Verbatim] {
        if let Ok(key) = Jwk::from_json(&text, encoding) {
            exercise_jwk(&key);
        }
        if let Ok(set) = JwkSet::parse(&text, encoding) {
            exercise_set(&set);
        }
    }
    if let Ok(set) = JwkSet::parse_published(&text) {
        // A published set never yields an HMAC key.
        assert!(set
            .keys()
            .iter()
            .all(|k| k.verifying_key().family() != jose::Family::Hmac));
        exercise_set(&set);
    }
}

fn exercise_set(set: &JwkSet) {
    let _ = (set.skipped().len(), set.ignored_oct(), set.to_public_json());
    for key in set.keys() {
        exercise_jwk(key);
    }
    for alg in Algorithm::ALL {
        let _ = set.candidates(None, alg).count();
        let _ = set.candidates(Some("k1"), alg).count();
    }
}

fn exercise_jwk(key: &Jwk) {
    let _ = (
        key.kid(),
        key.alg(),
        key.algorithm(),
        key.key_use(),
        key.may_sign(),
    );
    for alg in Algorithm::ALL {
        let _ = key.allows(alg);
    }
    let thumbprint = key.thumbprint();
    if let Ok(public) = key.to_public_json() {
        let again = Jwk::from_json(
            &Value::Object(public).to_string(),
            OctKeyEncoding::default(),
        );
        let again = again.map(|k| k.thumbprint().ok());
        assert_eq!(
            again.ok().flatten(),
            thumbprint.ok(),
            "public JWK round trip"
        );
    }
    if let Ok(private) = key.to_private_json() {
        let again = Jwk::from_json(
            &Value::Object(private).to_string(),
            OctKeyEncoding::default(),
        );
        assert!(
            again.is_ok_and(|k| k.signing_key().is_some()),
            "private JWK round trip"
        );
    }
    if let Some(signing) = key.signing_key() {
        sign_and_verify(signing);
    }
}

/// PEM, DER and X.509: `parse_blocks`, certificate chains, and both key types from PEM and from
/// the raw bytes as DER (and from each PEM block's DER). A parsed key exports and parses back;
/// a parsed signing key signs, and its public key verifies the signature.
pub fn pem(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(blocks) = jose::pem::parse_blocks(&text) {
        for block in blocks.iter().take(4) {
            let _ = jose::pem::certificate_spki(&block.der);
            der_keys(&block.der);
        }
    }
    let _ = jose::pem::parse_single(&text);
    let _ = jose::pem::parse_certificate_chain(&text);
    if let Ok(key) = VerifyingKey::parse_pem(&text) {
        exercise_verifying(&key);
    }
    if let Ok(key) = SigningKey::parse_pem(&text) {
        exercise_signing(&key);
    }
    let _ = jose::pem::certificate_spki(data);
    der_keys(data);
}

fn der_keys(der: &[u8]) {
    if let Ok(key) = VerifyingKey::parse_der(der) {
        exercise_verifying(&key);
    }
    if let Ok(key) = SigningKey::parse_der(der) {
        exercise_signing(&key);
    }
}

fn exercise_verifying(key: &VerifyingKey) {
    let _ = (
        key.family(),
        key.ec_curve(),
        key.rsa_bits(),
        key.weakness(None),
    );
    if let Ok(spki) = key.to_spki_der() {
        let again = VerifyingKey::parse_der(&spki).and_then(|k| k.to_spki_der());
        assert_eq!(again.ok(), Some(spki), "SPKI round trip");
    }
    let _ = key.to_spki_pem();
    let _ = jose::jwk::thumbprint(key);
}

fn exercise_signing(key: &SigningKey) {
    exercise_verifying(&key.verifying_key());
    if let Ok(der) = key.to_pkcs8_der() {
        let again = SigningKey::parse_der(&der).map(|k| k.verifying_key().to_spki_der().ok());
        assert_eq!(
            again.ok().flatten(),
            key.verifying_key().to_spki_der().ok(),
            "PKCS#8 round trip"
        );
    }
    sign_and_verify(key);
}

/// Signs with the first algorithm the key serves; the signature must verify.
fn sign_and_verify(key: &SigningKey) {
    let Some(alg) = Algorithm::ALL
        .into_iter()
        .find(|alg| key.check_alg(*alg).is_ok())
    else {
        return;
    };
    if let Ok(signature) = key.sign(alg, b"fuzz.input") {
        let verified = key.verifying_key().verify(alg, b"fuzz.input", &signature);
        assert!(
            verified.is_ok(),
            "a {} signature does not verify",
            alg.name()
        );
    }
}

/// Configuration: `Pipeline::load` (with `FUZZ_KEY` and `FUZZ_CERT` in the environment); a
/// configuration that loads warms up, then serves one request through the flow.
pub fn config(data: &[u8]) {
    let Ok(config) = Pipeline::load_with_env(data, &fixtures::fixed_env) else {
        return;
    };
    let _ = (config.warnings().len(), config.is_pass_through());
    config.warm_up();
    flow::serve_fixed(&config);
}

/// Reconcile: a section compiled from fuzzed options; for a fuzzed request and body the client
/// headers to strip, the call (envelope, cache key, body forms), and the answer's mapping.
/// Injected headers are safe header names and values, never a forbidden or unlisted name.
pub fn reconcile(data: &[u8]) {
    let Some(fixtures) = fixtures::get() else {
        return;
    };
    let _ = run_reconcile(&mut Unstructured::new(data), fixtures);
}

fn run_reconcile(u: &mut Unstructured, fixtures: &fixtures::Fixtures) -> arbitrary::Result<()> {
    let mut flags = [false; 11];
    for flag in &mut flags {
        *flag = u.arbitrary()?;
    }
    let [copy, path, query, hdrs, body_on, inject, stream, fail_open, strip, cache, allowed] =
        flags;
    let section = json!({
        "url": gen::word(u, &["http://auth:8080", "https://Auth.example.com:9443/base?x=1",
                              "http://[::1]", "http://a/b"])?,
        "path": gen::word(u, &["/api/v1/auth/reconcile", "", "/p?q=1"])?,
        "method": gen::word(u, &["POST", "GET"])?,
        "copy_headers": copy, "forward_path": path, "forward_query": query,
        "forward_headers": hdrs, "forward_body": body_on,
        "inject_body_response_into_header": inject,
        "injected_header_prefix": gen::word(u, &["", "X-Auth-", "x_", "-"])?,
        "streamdown_injected_headers": stream, "failure_mode_allow": fail_open,
        "allowed_headers": if allowed { json!(["user-id", "X-Role", "tenant"]) } else { Value::Null },
        "strip_prefixed_headers": strip,
        "cache_seconds": if cache { 30 } else { 0 },
        "message_401": gen::word(u, &["nope"])?,
    });
    let Ok(section) = serde_json::from_value::<ReconcileSection>(section) else {
        return Ok(());
    };
    let Ok(rec) = reconcile::compile(&section) else {
        return Ok(());
    };
    let req = gen::request(u, fixtures)?;
    let body = gen::body(u)?;
    let content_type = req.header("content-type");
    let _ = reconcile::body_value(content_type, &body);
    let _ = reconcile::parse_form(&body);
    let _ = reconcile::forwarded_host(&req.authority);
    let stripped = reconcile::strip_client_headers(&rec, &req);
    let view = req.edited(&stripped);
    let body = rec.needs_body().then_some(body.as_slice());
    let call = reconcile::build_call(&rec, &view, body);
    let _ = (call.headers.len(), reconcile::envelope(&rec, &view, body));
    let body_sha256 = body.map(crate::sha256::digest);
    let key = reconcile::cache_key(&rec, &view, body_sha256.as_ref());
    let answer = gen::call_answer(u, fixtures)?;
    match reconcile::on_answer(&rec, &answer) {
        Outcome::Inject(injection) => {
            let allowed: Option<[&str; 3]> = allowed.then_some(["user-id", "x-role", "tenant"]);
            for edit in &injection.request.0 {
                let (HeaderEdit::Set(name, value) | HeaderEdit::Remove(name @ value)) = edit;
                // An injection only sets headers.
                assert!(matches!(edit, HeaderEdit::Set(..)), "injection {edit:?}");
                let lower = name.to_ascii_lowercase();
                assert!(
                    !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                    "injected name {name:?}"
                );
                assert!(headers::is_safe_value(value), "injected value {value:?}");
                assert!(!reconcile::NEVER_INJECTED.contains(&lower.as_str()));
                assert!(!reconcile::is_override(&lower), "injected {name:?}");
                assert!(allowed.is_none_or(|a| a.contains(&lower.as_str())));
            }
            if let Some(mut cache) = rec.answer_cache() {
                cache.put(key, injection, req.now);
                let _ = cache.get(&key, req.now);
            }
        }
        Outcome::Deny(refusal) => {
            let _ = refusal.reply();
        }
        Outcome::Failed(failure) => match reconcile::on_failure(&rec, &failure) {
            Ok(edits) => assert!(rec.failure_mode_allow() && !edits.0.is_empty()),
            Err(refusal) => {
                let _ = (refusal.reply(), failure.detail.len());
            }
        },
    }
    Ok(())
}

/// Token extraction and the small parsers around it: Kong's token locations (query, cookies,
/// `Bearer` headers), Basic credentials, URL decoding, `dasherize`, the header-name matcher, the
/// mTLS DN rewrite, then the whole authentication stage over the fuzzed request.
pub fn token(data: &[u8]) {
    let Some(fixtures) = fixtures::get() else {
        return;
    };
    let _ = run_token(&mut Unstructured::new(data), fixtures);
}

fn run_token(u: &mut Unstructured, fixtures: &fixtures::Fixtures) -> arbitrary::Result<()> {
    let text = gen::text(u, 255)?;
    if let Some(token) = auth::bearer(&text) {
        assert!(!token.is_empty() && !token.starts_with(char::is_whitespace));
    }
    if let Some((user, _)) = auth::parse_basic(&text) {
        assert!(!user.is_empty() && !user.contains(':'));
    }
    let _ = urlenc::decoded(&text);
    let _ = urlenc::pairs(&text).count();
    let _ = crate::stages::mint::dn::plugin_form(&text);
    let dashed = reconcile::dasherize(&text);
    assert_eq!(dashed.is_empty(), text.is_empty(), "dasherize {text:?}");
    assert!(dashed
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let other = gen::text(u, 32)?;
    assert_eq!(
        headers::same_header(&text, &other),
        headers::canonical(&text) == headers::canonical(&other)
    );
    let names = [
        "jwt",
        "token",
        "session",
        "authorization",
        "x-token",
        "cookie",
    ];
    let mut locations = TokenLocations::default();
    for list in [
        &mut locations.uri_param_names,
        &mut locations.cookie_names,
        &mut locations.header_names,
    ] {
        for name in names {
            if u.arbitrary()? {
                list.push(name.to_owned());
            }
        }
    }
    let req = gen::request(u, fixtures)?;
    if let Found::One(token) = locations.find(&req) {
        assert!(!token.is_empty());
    }
    if let Some((_, config, _)) = fixtures.configs.first() {
        if let Some(authenticator) = &config.auth {
            let mut cache = TokenCache::default();
            let mut events = Vec::new();
            let body: Vec<u8> = u.arbitrary()?;
            for refetch in [true, false] {
                let body = Some(body.as_slice());
                let _ = authenticator.run(&req, body, &mut cache, None, refetch, &mut events);
            }
        }
    }
    Ok(())
}

/// The whole request path through [`crate::stages::flow::Flow`] on each fixture configuration:
/// up to three requests sharing one VM's state, with their bodies in chunks, the answers to
/// their calls (reconcile, JWKS re-fetches) and a background JWKS refresh. See `flow.rs` for
/// what it checks.
pub fn flow(data: &[u8]) {
    let Some(fixtures) = fixtures::get() else {
        return;
    };
    let _ = flow::run(&mut Unstructured::new(data), fixtures);
}

impl fixtures::Fixtures {
    fn verifying_hs(&self) -> VerifyingKey {
        self.hs.verifying_key()
    }
}
