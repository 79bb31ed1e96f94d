//! x-custom-jwt: a token minted from whatever credential came in, signed with a private JWK.
//!
//! The credential is what an authentication stage verified (a JWT's claims, a basic-auth user,
//! an API key from `apikey_header`), or the mTLS subject DN (verified by the TLS layer), in the
//! plugin's precedence: Bearer, Basic, mTLS, API key. As in the plugin, a consumer is required
//! (the anonymous one counts), and the refusals carry the plugin's texts. Only with
//! `allow_unverified_credentials` does it fall back, as the plugin did, to credentials nobody
//! verified: a Bearer payload whose signature was not checked, a Basic user without a password
//! check, an API key header. That fallback lets any client choose its claims: insecure.

use super::dn;
use super::jti::new_jti;
use super::keys::{self, Signer};
use crate::config::{ConfigError, CustomJwtSection};
use crate::jose::{self, EncodedHeader, JwsHeader, OctKeyEncoding};
use crate::stages::auth::{bearer, Identity, Via, KONG_BASE64};
use crate::stages::urlenc::fold_eq;
use crate::stages::{Refusal, Request};
use base64::Engine as _;
use serde_json::{json, Map, Value};

const NO_METHOD: &str = "No suitable Authentication method is found: no Bearer token, \
    no Basic Auth, no mTLS, no Key Auth";
const CLIENT_ID_ISSUE: &str = "Issue with 'client_id' claim retrieval or Kong Consumer";
const NO_CONSUMER: &str = "Issue with 'client_id' claim retrieval or Kong Consumer. There is no \
    Kong consumer credential";
const BASIC_NOT_BASE64: &str = "Issue with 'client_id' claim retrieval or Kong Consumer. Unable \
    to decode correctly in base64 the 'Basic Auth'";

/// The compiled `custom_jwt` section.
#[derive(Debug, Clone)]
pub struct CustomJwt {
    apikey_header: String,
    clientid_claim: String,
    /// The header that carries the minted token upstream (lower-case).
    pub(crate) upstream_header: String,
    bearer_prefix: bool,
    downstream_header: Option<String>,
    expires_in: u64,
    iss: Option<String>,
    /// The tokens' JOSE header (`alg`, `typ`, `kid`, `jku`), the same for every token.
    jws_header: EncodedHeader,
    audience: Option<String>,
    verbose: bool,
    pub(crate) allow_unverified: bool,
    /// Claims of another stage's tokens, never copied ([`CustomJwt::reserve`]).
    reserved: Vec<String>,
    /// The signing key.
    pub signer: Signer,
}

/// The claims a minted token gets from the gateway, whatever the copied payload held.
const GATEWAY_CLAIMS: [&str; 7] = ["client_id", "iss", "iat", "exp", "aud", "jti", "act"];

/// Where the client identity came from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Bearer(Map<String, Value>),
    Basic(String),
    Dn(String),
    ApiKey(String),
}

/// Why no token is minted: the plugin's 401 (its `VerboseMessage`), or its 500.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Why {
    Unauthorized(String),
    Internal,
}

/// A minted token and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    /// Request header name and value for the upstream.
    pub upstream: (String, String),
    /// Response header echoing the token, when configured.
    pub downstream: Option<(String, String)>,
}

/// Compiles the section; the key must be a private JWK with an `alg`.
pub fn compile(section: &CustomJwtSection) -> Result<CustomJwt, ConfigError> {
    let jwk = section
        .private_jwk
        .as_ref()
        .ok_or_else(|| ConfigError::new("custom_jwt.private_jwk", "missing field"))?;
    let oct = if section.k_verbatim {
        OctKeyEncoding::Verbatim
    } else {
        OctKeyEncoding::Base64Url
    };
    let signer = keys::from_jwk(jwk.expose(), None, oct, "custom_jwt.private_jwk")?;
    let expires_in = super::lifetime(section.expires_in, "custom_jwt.expires_in")?;
    let mut header = JwsHeader::new(signer.alg);
    if let Some(kid) = &signer.kid {
        header = header.with_kid(kid.clone());
    }
    if let Some(jku) = &section.jku {
        header = header.with_jku(jku.clone());
    }
    let jws_header = EncodedHeader::new(&header)
        .map_err(|_| ConfigError::new("custom_jwt", "the token header cannot be encoded"))?;
    Ok(CustomJwt {
        apikey_header: section.apikey_header.to_ascii_lowercase(),
        clientid_claim: section.bearer_clientid_claim.clone(),
        upstream_header: section.upstream_custom_jwt_header.to_ascii_lowercase(),
        // The plugin compares the configured name exactly.
        bearer_prefix: section.upstream_custom_jwt_header == "Authorization",
        downstream_header: section
            .downstream_custom_jwt_header
            .as_ref()
            .map(|h| h.to_ascii_lowercase()),
        expires_in,
        iss: section.iss.clone(),
        jws_header,
        audience: section.audience.clone(),
        verbose: section.verbose,
        allow_unverified: section.allow_unverified_credentials,
        reserved: Vec::new(),
        signer,
    })
}

impl CustomJwt {
    /// Whether `audience` is configured (else `aud` needs the host's service or cluster).
    pub fn has_audience(&self) -> bool {
        self.audience.is_some()
    }

    /// Mints the token for this request, or the plugin's 401 (500 for an `act` claim that is
    /// not an object, where the plugin fails).
    pub fn mint(&self, req: &Request, identity: Option<&Identity>) -> Result<Minted, Refusal> {
        let claims = self
            .payload(req, identity)
            .map_err(|why| self.refuse(why))?;
        let token =
            jose::jws::sign_encoded(&self.jws_header, &claims, &self.signer.key).map_err(|_| {
                self.refuse(Why::Unauthorized("Unknown JWT signature error".to_string()))
            })?;
        // Upstream and downstream carry the same value, as in the plugin.
        let value = if self.bearer_prefix {
            format!("Bearer {token}")
        } else {
            token
        };
        Ok(Minted {
            downstream: self.downstream_header.clone().map(|h| (h, value.clone())),
            upstream: (self.upstream_header.clone(), value),
        })
    }

    /// The claims, in the plugin's order of checks: a credential, the client id, a consumer.
    fn payload(
        &self,
        req: &Request,
        identity: Option<&Identity>,
    ) -> Result<Map<String, Value>, Why> {
        let source = self
            .source(req, identity)
            .map_err(|why| Why::Unauthorized(why.to_string()))?;
        let (mut claims, client_id) = match source {
            Source::Bearer(payload) => {
                let id = match payload.get(&self.clientid_claim) {
                    None | Some(Value::Bool(false)) => {
                        return Err(Why::Unauthorized(format!(
                            "{CLIENT_ID_ISSUE}. Unable to get '{}' claim from the Bearer token",
                            self.clientid_claim
                        )))
                    }
                    Some(id) => id.clone(),
                };
                (self.copyable(payload), id)
            }
            Source::Basic(user) => (Map::new(), Value::from(user)),
            Source::Dn(dn) => (Map::new(), Value::from(dn::plugin_form(&dn))),
            Source::ApiKey(key) => (Map::new(), Value::from(key)),
        };
        let consumer = identity
            .and_then(|i| i.consumer.as_ref())
            .ok_or_else(|| Why::Unauthorized(NO_CONSUMER.into()))?;
        let actor = consumer.custom_id.clone().or_else(|| consumer.id.clone());
        claims.insert("client_id".into(), client_id);
        self.registered(&mut claims, req)?;
        act(&mut claims, actor)?;
        Ok(claims)
    }

    /// `upstream_jwt`'s claims, which this stage must not copy from a Bearer payload: the
    /// gateway signs both kinds of token and serves both keys, and a consumer chooses its own
    /// token's claims, so a copied `consumerid` or `payloadhash` (which a client may be handed,
    /// with `downstream_custom_jwt_header`) would read as the gateway's word on another
    /// consumer or body to an upstream that takes any key of the set (review).
    pub fn reserve(&mut self, claims: Vec<String>) {
        self.reserved = claims;
    }

    /// The Bearer payload as it may be copied: without the members that a reader ignoring case
    /// (Go's `encoding/json`, .NET's web defaults, Jackson) would take for a claim the gateway
    /// sets (`AUD`, `Iss`, `iſs`; the exact names are set over), and without [`Self::reserve`]'s.
    fn copyable(&self, payload: Map<String, Value>) -> Map<String, Value> {
        let shadows = |name: &str| {
            GATEWAY_CLAIMS
                .iter()
                .any(|claim| *claim != name && fold_eq(claim, name))
                || self.reserved.iter().any(|claim| fold_eq(claim, name))
        };
        payload
            .into_iter()
            .filter(|(name, _)| !shadows(name))
            .collect()
    }

    fn source(&self, req: &Request, identity: Option<&Identity>) -> Result<Source, &'static str> {
        let dn = req.client_dn.as_ref().map(|d| Source::Dn(d.clone()));
        match identity.map(|i| &i.via) {
            Some(Via::Jwt { claims }) => Ok(Source::Bearer(claims.as_ref().clone())),
            // Basic counts as the plugin reads it: from `Authorization` (not
            // `Proxy-Authorization`, not once basic-auth hid it); a password with a `:` splits
            // in three there, no `client_id` (a basic-auth user always has a consumer, which
            // the plugin checks first).
            Some(Via::Basic { username }) => match plugin_basic(req) {
                Some(Ok((user, two))) if user == *username => {
                    two.then_some(Source::Basic(user)).ok_or(CLIENT_ID_ISSUE)
                }
                _ => dn.ok_or(NO_METHOD),
            },
            // mTLS comes before an API key. The key counts only as the plugin reads it: from
            // `apikey_header` as Kong reads a header (`x_api_key` reads `X-Api-Key`), the
            // verified key alone there, and never once key-auth hid it from the upstream.
            Some(Via::ApiKey { key, header }) => dn
                .or_else(|| {
                    let key = key.as_ref().filter(|_| header.is_some())?;
                    let read = req.header_as_kong_reads(&self.apikey_header);
                    (read == [key.expose().as_str()]).then(|| Source::ApiKey(key.expose().clone()))
                })
                .ok_or(NO_METHOD),
            Some(Via::Anonymous) | None if self.allow_unverified => {
                self.unverified(req, dn, identity.is_some_and(|i| i.consumer.is_some()))
            }
            Some(Via::Anonymous) | None => dn.ok_or(NO_METHOD),
        }
    }

    /// x-custom-jwt's own precedence over credentials nobody verified (opt-in, insecure):
    /// Bearer, Basic, the client certificate (`dn`), the API key header.
    fn unverified(
        &self,
        req: &Request,
        dn: Option<Source>,
        consumer: bool,
    ) -> Result<Source, &'static str> {
        let auth = req.header("authorization");
        if let Some(token) = auth.and_then(bearer) {
            let jws = jose::jws::parse(&token).map_err(|_| {
                "Issue with 'client_id' claim retrieval or Kong Consumer. Unable to get the \
                 'Auth token' payload: Inconsistent JWT: unable to get the typical structure \
                 Header.Payload.Signature"
            })?;
            return Ok(Source::Bearer(jws.into_claims()));
        }
        if let Some(basic) = plugin_basic(req) {
            // Without `client_id` the plugin names a missing consumer first.
            return match basic? {
                (user, true) => Ok(Source::Basic(user)),
                _ if consumer => Err(CLIENT_ID_ISSUE),
                _ => Err(NO_CONSUMER),
            };
        }
        match (dn, req.header(&self.apikey_header)) {
            (Some(dn), _) => Ok(dn),
            (None, Some(key)) if !key.is_empty() => Ok(Source::ApiKey(key.to_string())),
            _ => Err(NO_METHOD),
        }
    }

    /// `iss`, `iat`, `exp`, `aud` and `jti`, over whatever the payload held. No `jti` without
    /// the host's randomness: the plugin's 500.
    fn registered(&self, claims: &mut Map<String, Value>, req: &Request) -> Result<(), Why> {
        match &self.iss {
            Some(iss) => claims.insert("iss".into(), Value::from(iss.clone())),
            None => claims.remove("iss"),
        };
        claims.insert("iat".into(), Value::from(req.now));
        claims.insert(
            "exp".into(),
            Value::from(req.now.saturating_add(self.expires_in)),
        );
        // Without a backend to name, the copied payload's `aud` (the caller's token's) goes
        // too: the gateway's token must not claim an audience it did not choose.
        match self.aud(req) {
            Some(aud) => claims.insert("aud".into(), Value::from(aud)),
            None => claims.remove("aud"),
        };
        let jti = new_jti().map_err(|_| Why::Internal)?;
        claims.insert("jti".into(), Value::from(jti));
        Ok(())
    }

    /// The backend: Kong's route service URL, else `audience`, else the route's upstream
    /// cluster (Envoy has no service URL), else none. Never the request's own URL: its host
    /// is the client's `Host`, and a client must not choose the audience of a token the
    /// gateway signs (with `downstream_custom_jwt_header` it is handed the token).
    fn aud(&self, req: &Request) -> Option<String> {
        req.service_url
            .clone()
            .or_else(|| self.audience.clone())
            .or_else(|| req.service.clone())
    }

    fn refuse(&self, why: Why) -> Refusal {
        match why {
            Why::Internal => Refusal::MintFailed,
            Why::Unauthorized(why) => Refusal::CustomJwt {
                verbose: self.verbose.then_some(why),
            },
        }
    }
}

/// x-custom-jwt's reading of `Authorization: Basic` (`Basic ` as written, decoded as nginx
/// does): the text before the first `:`, and whether the text splits in exactly two at `:`
/// (only then is it `client_id`); text that is not base64 is the plugin's 401.
fn plugin_basic(req: &Request) -> Option<Result<(String, bool), &'static str>> {
    let encoded = req.header("authorization")?.strip_prefix("Basic ")?;
    let Ok(bytes) = KONG_BASE64.decode(encoded.trim()) else {
        return Some(Err(BASIC_NOT_BASE64));
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut parts = text.split(':');
    let user = parts.next().unwrap_or_default().to_string();
    Some(Ok((user, parts.next().is_some() && parts.next().is_none())))
}

/// `act.client_id`: added to an incoming `act` object (its other members kept), or a new
/// `act` when there is none (or it is `false`). The plugin fails with a 500 on any other
/// `act` (a string, number, `null`, `true`, an array): so does the filter.
fn act(claims: &mut Map<String, Value>, actor: Option<String>) -> Result<(), Why> {
    let actor = Value::from(actor);
    match claims.get_mut("act") {
        Some(Value::Object(act)) => {
            // The verified actor alone speaks as `client_id`: no copied member a reader ignoring
            // case takes for it (`CLIENT_ID`, `clıent_id`) stays beside it (review).
            act.retain(|name, _| !fold_eq(name, "client_id"));
            act.insert("client_id".into(), actor);
        }
        None | Some(Value::Bool(false)) => {
            claims.insert("act".into(), json!({ "client_id": actor }));
        }
        Some(_) => return Err(Why::Internal),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::jose::VerifyingKey;
    use crate::stages::auth::Consumer;

    /// An HS256 key whose `k` text is the secret (the plugin's reading, the default).
    const JWK: &str = r#"{"kty":"oct","kid":"k1","alg":"HS256","k":"c2VjcmV0LWZvci10ZXN0cw"}"#;
    const NOW: u64 = 1_700_000_000;

    fn stage(extra: Value) -> CustomJwt {
        let mut section = json!({ "private_jwk": serde_json::from_str::<Value>(JWK).unwrap() });
        if let (Some(s), Value::Object(e)) = (section.as_object_mut(), extra) {
            s.extend(e);
        }
        compile(&serde_json::from_value(section).unwrap()).unwrap()
    }

    fn request() -> Request {
        Request {
            method: "GET".into(),
            path: "/orders/7?x=1".into(),
            authority: "api.example.com".into(),
            scheme: "https".into(),
            now: NOW,
            ..Request::default()
        }
    }

    fn consumer() -> Option<Consumer> {
        Some(Consumer {
            id: Some("c-uuid".into()),
            username: Some("alice".into()),
            custom_id: Some("alice-custom".into()),
        })
    }

    fn identity(via: Via) -> Identity {
        Identity {
            consumer: consumer(),
            credential: None,
            via,
        }
    }

    fn jwt(claims: Value) -> Identity {
        let Value::Object(claims) = claims else {
            panic!("claims must be an object")
        };
        identity(Via::Jwt {
            claims: std::sync::Arc::new(claims),
        })
    }

    fn api_key(key: &str, header: Option<&str>) -> Identity {
        identity(Via::ApiKey {
            key: Some(Secret::new(key.to_string())),
            header: header.map(str::to_string),
        })
    }

    /// The claims of the minted token, verified with the verbatim secret.
    fn claims(minted: &Minted) -> Value {
        let token = minted.upstream.1.trim_start_matches("Bearer ");
        let jws = jose::jws::parse(token).unwrap();
        jws.verify(&VerifyingKey::hmac(b"c2VjcmV0LWZvci10ZXN0cw").unwrap())
            .unwrap();
        Value::Object(jws.into_claims())
    }

    fn refused(refusal: &Refusal) -> (u16, Value) {
        let reply = refusal.reply();
        (reply.status, serde_json::from_slice(&reply.body).unwrap())
    }

    #[test]
    fn mint_bearer_copies_payload_and_sets_plugin_claims() {
        let id = jwt(json!({"clientId": "app-7", "sub": "u", "iss": "idp", "aud": "x"}));
        let minted = stage(json!({})).mint(&request(), Some(&id)).unwrap();
        let c = claims(&minted);
        assert_eq!(c["clientId"], "app-7");
        assert_eq!(c["client_id"], "app-7");
        assert_eq!(c["sub"], "u");
        assert_eq!(c["iss"], "https://kong-gateway:8443/x-custom-jwt");
        assert_eq!(c["iat"], NOW);
        assert_eq!(c["exp"], NOW + 1800);
        // No service, cluster or `audience`: no `aud`, not the incoming token's "x".
        assert_eq!(c.get("aud"), None);
        assert_eq!(c["act"], json!({"client_id": "alice-custom"}));
        assert_eq!(c["jti"].as_str().unwrap().len(), 36);
        let header = minted.upstream.1.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(&jose::b64::decode(header).unwrap()).unwrap();
        assert_eq!(
            header,
            json!({"alg": "HS256", "typ": "JWT", "kid": "k1",
                   "jku": "https://kong-gateway:8443/x-custom-jwt/jwks"})
        );
    }

    /// A copied member another reader takes for a claim the gateway sets goes (review: `AUD`,
    /// `Iss` and `iſs`, which Go's case folding reads as `iss`, survived beside or in place of
    /// the gateway's); so do `upstream_jwt`'s claims once that stage runs too.
    #[test]
    fn mint_drops_copied_names_that_read_as_the_gateways_claims() {
        let id = jwt(
            json!({"clientId": "app-7", "sub": "u", "AUD": "payments", "Iss": "idp",
            "i\u{17f}s": "idp", "JTI": "fixed", "Client_ID": "admin", "EXP": 1, "aCt": {},
            "consumerid": "admin-id", "ConsumerName": "admin", "payloadhash": "ab",
            "path": "/p", "method": "GET", "queryhash": "cd", "act": {"sub": "svc"}}),
        );
        let names = |custom: &CustomJwt| -> Vec<String> {
            let c = claims(&custom.mint(&request(), Some(&id)).unwrap());
            c.as_object().unwrap().keys().cloned().collect()
        };
        let gateway = ["act", "client_id", "exp", "iat", "iss", "jti"];
        let alone: Vec<&str> = [
            "clientId",
            "consumerid",
            "ConsumerName",
            "method",
            "path",
            "payloadhash",
            "queryhash",
            "sub",
        ]
        .into_iter()
        .chain(gateway)
        .collect();
        let mut want: Vec<String> = alone.iter().map(|n| n.to_string()).collect();
        want.sort();
        assert_eq!(names(&stage(json!({}))), want);
        // Beside upstream_jwt (with `bind_request`), its claims are never copied.
        let mut beside = stage(json!({}));
        beside.reserve(
            [
                "consumerid",
                "consumername",
                "payloadhash",
                "method",
                "path",
                "queryhash",
            ]
            .map(String::from)
            .to_vec(),
        );
        let mut want: Vec<String> = ["clientId", "sub"]
            .into_iter()
            .chain(gateway)
            .map(String::from)
            .collect();
        want.sort();
        assert_eq!(names(&beside), want);
    }

    #[test]
    fn mint_act_keeps_no_copied_spelling_of_client_id() {
        let id = jwt(
            json!({"clientId": "a", "act": {"sub": "svc", "CLIENT_ID": "admin-a",
            "client_\u{131}d": "admin-b", "cl\u{131}ent_id": "admin-c", "client_id": "old"}}),
        );
        let c = claims(&stage(json!({})).mint(&request(), Some(&id)).unwrap());
        assert_eq!(c["act"], json!({"sub": "svc", "client_id": "alice-custom"}));
    }

    #[test]
    fn mint_keeps_an_incoming_act_object_and_adds_client_id() {
        let id = jwt(json!({"clientId": "a", "act": {"sub": "svc", "client_id": "old"}}));
        let c = claims(&stage(json!({})).mint(&request(), Some(&id)).unwrap());
        assert_eq!(c["act"], json!({"sub": "svc", "client_id": "alice-custom"}));
        let id = jwt(json!({"clientId": "a", "act": false}));
        let c = claims(&stage(json!({})).mint(&request(), Some(&id)).unwrap());
        assert_eq!(c["act"], json!({"client_id": "alice-custom"}));
    }

    #[test]
    fn mint_act_that_is_not_an_object_is_the_plugins_500() {
        for act in [json!("x"), json!(1), Value::Null, json!(true), json!([1])] {
            let id = jwt(json!({"clientId": "a", "act": act}));
            let reply = stage(json!({})).mint(&request(), Some(&id)).unwrap_err();
            assert_eq!(
                refused(&reply),
                (500, json!({"message": "An unexpected error occurred"})),
                "{act}"
            );
        }
    }

    #[test]
    fn mint_act_falls_back_to_consumer_id_without_custom_id() {
        let mut id = jwt(json!({"clientId": "a"}));
        id.consumer = Some(Consumer {
            id: Some("c-uuid".into()),
            username: Some("alice".into()),
            custom_id: None,
        });
        let c = claims(&stage(json!({})).mint(&request(), Some(&id)).unwrap());
        assert_eq!(c["act"], json!({"client_id": "c-uuid"}));
    }

    #[test]
    fn mint_bearer_without_clientid_claim_is_401_with_plugin_text() {
        let custom = stage(json!({"verbose": true}));
        for payload in [json!({"sub": "u"}), json!({"clientId": false})] {
            let reply = custom.mint(&request(), Some(&jwt(payload))).unwrap_err();
            assert_eq!(
                refused(&reply),
                (
                    401,
                    json!({"ErrorMessage": crate::stages::refusal::CUSTOM_JWT_MESSAGE,
                           "VerboseMessage": "Issue with 'client_id' claim retrieval or Kong Consumer. Unable to get 'clientId' claim from the Bearer token"})
                )
            );
            assert_eq!(
                reply.reply().headers,
                [("content-type".to_string(), "application/json".to_string())]
            );
        }
        // `null` passes in the plugin (cjson.null is truthy): so it does here.
        let id = jwt(json!({"clientId": null}));
        assert_eq!(
            claims(&custom.mint(&request(), Some(&id)).unwrap())["client_id"],
            Value::Null
        );
    }

    #[test]
    fn mint_without_consumer_is_401_and_verbose_only_when_asked() {
        let mut id = jwt(json!({"clientId": "a"}));
        id.consumer = None;
        let quiet = stage(json!({})).mint(&request(), Some(&id)).unwrap_err();
        assert_eq!(
            refused(&quiet),
            (
                401,
                json!({"ErrorMessage": crate::stages::refusal::CUSTOM_JWT_MESSAGE})
            )
        );
        let loud = stage(json!({"verbose": true}))
            .mint(&request(), Some(&id))
            .unwrap_err();
        assert_eq!(
            refused(&loud).1["VerboseMessage"],
            "Issue with 'client_id' claim retrieval or Kong Consumer. There is no Kong consumer credential"
        );
    }

    #[test]
    fn mint_without_any_credential_is_no_suitable_method() {
        let custom = stage(json!({"verbose": true}));
        for id in [None, Some(identity(Via::Anonymous))] {
            let reply = custom.mint(&request(), id.as_ref()).unwrap_err();
            assert_eq!(refused(&reply).1["VerboseMessage"], NO_METHOD);
        }
    }

    #[test]
    fn mint_precedence_mtls_before_api_key_and_api_key_from_its_header_only() {
        let custom = stage(json!({"verbose": true}));
        let mut req = request();
        req.headers = vec![("apikey".into(), "k-123".into())];
        let c = claims(
            &custom
                .mint(&req, Some(&api_key("k-123", Some("apikey"))))
                .unwrap(),
        );
        assert_eq!(c["client_id"], "k-123");
        req.client_dn = Some("CN=kong,O=Kong Inc.,C=US".into());
        let c = claims(
            &custom
                .mint(&req, Some(&api_key("k-123", Some("apikey"))))
                .unwrap(),
        );
        assert_eq!(c["client_id"], "C=US, O=Kong Inc., CN=kong");
        req.client_dn = None;
        // From the query, from another header, or hidden: the plugin finds no API key.
        let mut other = request();
        other.headers = vec![("x-api-key".into(), "k-123".into())];
        for (id, req) in [
            (api_key("k-123", None), &req),
            (api_key("k-123", Some("x-api-key")), &other),
            (
                identity(Via::ApiKey {
                    key: None,
                    header: Some("apikey".into()),
                }),
                &req,
            ),
        ] {
            let reply = custom.mint(req, Some(&id)).unwrap_err();
            assert_eq!(refused(&reply).1["VerboseMessage"], NO_METHOD, "{id:?}");
        }
        // `apikey_header` is read as Kong reads a header: `x_api_key` reads `X-Api-Key`
        // (review: the names were compared as written, and such a key was no credential).
        let dashed = stage(json!({"apikey_header": "x_api_key"}));
        let c = claims(
            &dashed
                .mint(&other, Some(&api_key("k-123", Some("x-api-key"))))
                .unwrap(),
        );
        assert_eq!(c["client_id"], "k-123");
        // Not the other way round (Kong's header table retries `_` as `-`, never `-` as `_`),
        // nor a value other than the verified key.
        let mut underscored = request();
        underscored.headers = vec![("x_api_key".into(), "k-123".into())];
        let id = api_key("k-123", Some("x_api_key"));
        let plain = stage(json!({"apikey_header": "x-api-key"}));
        assert!(plain.mint(&underscored, Some(&id)).is_err());
        other.headers = vec![("x-api-key".into(), "k-other".into())];
        assert!(dashed
            .mint(&other, Some(&api_key("k-123", Some("x-api-key"))))
            .is_err());
    }

    #[test]
    fn mint_anonymous_consumer_with_client_certificate_uses_dn() {
        let mut req = request();
        req.client_dn = Some("emailAddress=a@b.c,CN=kong".into());
        let c = claims(
            &stage(json!({}))
                .mint(&req, Some(&identity(Via::Anonymous)))
                .unwrap(),
        );
        assert_eq!(c["client_id"], "CN=kong, emailAddress=a@b.c");
        let basic = identity(Via::Basic {
            username: "bob".into(),
        });
        req.headers = vec![("authorization".into(), basic_header("bob:pw"))];
        let c = claims(&stage(json!({})).mint(&req, Some(&basic)).unwrap());
        assert_eq!(c["client_id"], "bob", "Basic comes before mTLS");
    }

    fn basic_header(text: &str) -> String {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }

    fn verbose_message(custom: &CustomJwt, req: &Request, id: Option<&Identity>) -> Value {
        refused(&custom.mint(req, id).unwrap_err()).1["VerboseMessage"].clone()
    }

    #[test]
    fn mint_basic_only_as_the_plugin_reads_authorization() {
        let custom = stage(json!({"verbose": true}));
        let user = |name: &str| {
            identity(Via::Basic {
                username: name.into(),
            })
        };
        let mut req = request();
        // Verified in `Proxy-Authorization`, or hidden by basic-auth: no Basic for the plugin.
        assert_eq!(
            verbose_message(&custom, &req, Some(&user("bob"))),
            NO_METHOD
        );
        // `basic` in another case is no `Basic ` to the plugin's split.
        req.headers = vec![(
            "authorization".into(),
            basic_header("bob:pw").to_lowercase(),
        )];
        assert_eq!(
            verbose_message(&custom, &req, Some(&user("bob"))),
            NO_METHOD
        );
        // A password with a `:` splits in three: no client_id.
        req.headers = vec![("authorization".into(), basic_header("bob:p:w"))];
        assert_eq!(
            verbose_message(&custom, &req, Some(&user("bob"))),
            CLIENT_ID_ISSUE
        );
        // An empty password still splits in two (penlight's trailing empty piece).
        req.headers = vec![("authorization".into(), basic_header("bob:"))];
        let c = claims(&custom.mint(&req, Some(&user("bob"))).unwrap());
        assert_eq!(c["client_id"], "bob");
    }

    #[test]
    fn mint_downstream_carries_the_upstream_value() {
        let id = jwt(json!({"clientId": "a"}));
        let exact = stage(json!({"upstream_custom_jwt_header": "Authorization",
                                 "downstream_custom_jwt_header": "X-Token"}));
        let minted = exact.mint(&request(), Some(&id)).unwrap();
        assert!(minted.upstream.1.starts_with("Bearer "));
        assert_eq!(minted.upstream.0, "authorization");
        assert_eq!(
            minted.downstream,
            Some(("x-token".into(), minted.upstream.1.clone()))
        );
        // The plugin compares the name exactly: a lower-case name gets no prefix.
        let lower = stage(json!({"upstream_custom_jwt_header": "authorization",
                                 "downstream_custom_jwt_header": "X-Token"}));
        let minted = lower.mint(&request(), Some(&id)).unwrap();
        assert!(!minted.upstream.1.starts_with("Bearer "));
        assert_eq!(minted.downstream.unwrap().1, minted.upstream.1);
    }

    #[test]
    fn mint_aud_is_service_url_then_audience_then_cluster_never_the_clients_host() {
        let id = jwt(json!({"clientId": "a"}));
        let mut req = request();
        let aud = |custom: &CustomJwt, req: &Request| {
            claims(&custom.mint(req, Some(&id)).unwrap())
                .get("aud")
                .cloned()
        };
        // Neither service, cluster nor `audience`: no `aud`, whatever the client's Host says.
        let bare = stage(json!({}));
        req.authority = "payments.internal".into();
        assert_eq!(aud(&bare, &req), None);
        req.service = Some("orders-cluster".into());
        assert_eq!(aud(&bare, &req), Some(json!("orders-cluster")));
        let configured = stage(json!({"audience": "http://orders.internal/v1"}));
        assert_eq!(
            claims(&configured.mint(&req, Some(&id)).unwrap())["aud"],
            "http://orders.internal/v1"
        );
        req.service_url = Some("http://httpbin.apim.eu/anything".into());
        assert_eq!(
            claims(&configured.mint(&req, Some(&id)).unwrap())["aud"],
            "http://httpbin.apim.eu/anything"
        );
    }

    #[test]
    fn mint_iss_and_jku_null_leave_them_out() {
        let id = jwt(json!({"clientId": "a", "iss": "idp"}));
        let custom = stage(json!({"iss": null, "jku": null}));
        let minted = custom.mint(&request(), Some(&id)).unwrap();
        assert!(claims(&minted).get("iss").is_none());
        let header = minted.upstream.1.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(&jose::b64::decode(header).unwrap()).unwrap();
        assert!(header.get("jku").is_none());
    }

    #[test]
    fn mint_unverified_basic_messages_are_the_plugins() {
        let custom = stage(json!({"verbose": true, "allow_unverified_credentials": true}));
        let anonymous = identity(Via::Anonymous);
        let mut req = request();
        for (auth, want) in [
            ("Basic %%%".to_string(), BASIC_NOT_BASE64),
            (basic_header("no-colon"), CLIENT_ID_ISSUE),
            (basic_header("a:b:c"), CLIENT_ID_ISSUE),
        ] {
            req.headers = vec![("authorization".into(), auth)];
            assert_eq!(verbose_message(&custom, &req, Some(&anonymous)), want);
        }
        // Without a consumer the plugin names that first.
        req.headers = vec![("authorization".into(), basic_header("no-colon"))];
        assert_eq!(verbose_message(&custom, &req, None), NO_CONSUMER);
        req.headers = vec![("authorization".into(), basic_header("anyone:x"))];
        let c = claims(&custom.mint(&req, Some(&anonymous)).unwrap());
        assert_eq!(c["client_id"], "anyone");
        // Basic before the client certificate, the certificate before an API key.
        req.client_dn = Some("CN=kong".into());
        let c = claims(&custom.mint(&req, Some(&anonymous)).unwrap());
        assert_eq!(c["client_id"], "anyone");
        req.headers = vec![("apikey".into(), "k-1".into())];
        let c = claims(&custom.mint(&req, Some(&anonymous)).unwrap());
        assert_eq!(c["client_id"], "CN=kong");
    }
}
