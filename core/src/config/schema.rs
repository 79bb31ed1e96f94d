//! The Draft-4 JSON schema of the configuration, shipped as `config_schema` in
//! `filters/jwt_relay.meta.json` so Kong (3.5+) accepts `config` as an object and answers a
//! config the filter would refuse with 400.
//!
//! The schema is generated here from a hand-kept description of every section ([`ROOT`]), with
//! the defaults taken from the sections' `Default` impls (serialised, so a default is still
//! written once, in `config/`). The tests keep it from drifting:
//! - the committed meta.json equals what [`meta_json`] generates (`JWT_RELAY_BLESS=1 cargo test
//!   --lib config::schema` rewrites it);
//! - every section lists exactly the fields its serde struct has (the keys of its serialised
//!   default), and [`super::parse`] accepts every listed field and refuses an unlisted one;
//! - a field is `required` exactly when [`super::load`] answers `<path>: missing field` without it.
//!
//! Only this module (test builds) serialises the wire types.

use super::{
    BasicAuthCredentialSection, BasicAuthSection, ClaimToHeader, ConsumerSection, CustomJwtSection,
    JwksEndpointSection, JwksUriSection, JwtSecretSection, JwtSection, KeyAuthCredentialSection,
    KeyAuthSection, RawConfig, ReconcileSection, UpstreamJwtSection,
};
use crate::jose::Algorithm;
use serde_json::{json, Map, Value};

/// The JSON type of one field.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    OptStr,
    Bool,
    OptBool,
    /// Seconds from 0 to an hour (`jwt.leeway_seconds`, `stages::auth::jwt`).
    HourSeconds,
    /// Milliseconds from 1 to 2^32 − 1: one host call's timeout (`stages::auth::remote_jwks`).
    CallMillis,
    /// An integer the filter refuses at 0 (a size, a timeout, a cache lifetime).
    Positive,
    /// Seconds from 0 (off) to a day (reconcile's answer cache).
    DaySeconds,
    /// A non-empty array of strings.
    Names,
    /// A minted token's lifetime in whole seconds, 1 to a year (`stages::mint::lifetime`).
    Lifetime,
    /// A number of seconds (fractions allowed) up to a year, as Kong's `maximum_expiration`.
    YearSeconds,
    /// Milliseconds, a number from 0 (fractions allowed, as Kong's `number`).
    Millis,
    Strings,
    OptStrings,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// One of the JOSE algorithm names.
    Alg,
    OptAlg,
    /// Array of strings from this list, or `null` (none).
    OptListOf(&'static [&'static str]),
    /// A JSON object that is not ours (a JWK Set).
    AnyObject,
    /// A JWK object or its JSON text (or a PEM text).
    Key,
    /// Array of JWK objects.
    AnyObjects,
    /// A nested section, optional.
    Section(&'static Section),
    /// Array of a nested section.
    List(&'static Section),
}

/// One field: name as in the serde struct, type, one line of meaning.
struct Field(&'static str, Ty, &'static str);

/// One serde struct.
struct Section {
    /// What it is (the struct's doc line).
    doc: &'static str,
    fields: &'static [Field],
    /// Fields `load` refuses to go without.
    required: &'static [&'static str],
    /// Its `Default`, serialised: the field names and the defaults.
    defaults: fn() -> Value,
}

fn ser<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

const JWT_SECRET: Section = Section {
    doc: "A Kong jwt_secrets entry.",
    fields: &[
        Field(
            "id",
            Ty::OptStr,
            "Accepted so pasted Kong declarations load; not used.",
        ),
        Field(
            "key",
            Ty::Str,
            "The value of the key claim (iss by default) that selects this credential.",
        ),
        Field(
            "algorithm",
            Ty::OptAlg,
            "JWS algorithm; Kong's default is HS256.",
        ),
        Field("secret", Ty::OptStr, "HMAC secret (HS*)."),
        Field(
            "rsa_public_key",
            Ty::OptStr,
            "PEM public key for every asymmetric algorithm (RS*, PS*, ES*, EdDSA).",
        ),
        Field(
            "tags",
            Ty::OptStrings,
            "Accepted so pasted Kong declarations load; not used.",
        ),
    ],
    required: &["key"],
    defaults: || ser(JwtSecretSection::default()),
};

const KEYAUTH_CREDENTIAL: Section = Section {
    doc: "A Kong keyauth_credentials entry.",
    fields: &[
        Field(
            "id",
            Ty::OptStr,
            "X-Credential-Identifier; without it none is sent (Kong's would be random).",
        ),
        Field("key", Ty::Str, "The API key."),
        Field(
            "tags",
            Ty::OptStrings,
            "Accepted so pasted Kong declarations load; not used.",
        ),
    ],
    required: &["key"],
    defaults: || ser(KeyAuthCredentialSection::default()),
};

const BASICAUTH_CREDENTIAL: Section = Section {
    doc: "A Kong basicauth_credentials entry.",
    fields: &[
        Field(
            "id",
            Ty::OptStr,
            "Accepted so pasted Kong declarations load; not used.",
        ),
        Field("username", Ty::Str, "Basic-auth user name."),
        Field(
            "password",
            Ty::Str,
            "Basic-auth password (held only as a hash after load).",
        ),
        Field(
            "tags",
            Ty::OptStrings,
            "Accepted so pasted Kong declarations load; not used.",
        ),
    ],
    required: &["username", "password"],
    defaults: || ser(BasicAuthCredentialSection::default()),
};

const CONSUMER: Section = Section {
    doc: "One consumer with its credentials, as in Kong's declarative kong.yml; id or username identifies it.",
    fields: &[
        Field("id", Ty::OptStr, "Kong consumer id (X-Consumer-ID); without it, the id Kong derives from username."),
        Field("username", Ty::OptStr, "Kong consumer username (X-Consumer-Username)."),
        Field("custom_id", Ty::OptStr, "Kong consumer custom_id (X-Consumer-Custom-ID)."),
        Field("tags", Ty::OptStrings, "Accepted so pasted Kong declarations load; not used."),
        Field("jwt_secrets", Ty::List(&JWT_SECRET), "Credentials of Kong's jwt plugin."),
        Field("keyauth_credentials", Ty::List(&KEYAUTH_CREDENTIAL), "Credentials of Kong's key-auth plugin."),
        Field("basicauth_credentials", Ty::List(&BASICAUTH_CREDENTIAL), "Credentials of Kong's basic-auth plugin."),
    ],
    required: &[],
    defaults: || ser(ConsumerSection::default()),
};

const JWKS_URI: Section = Section {
    doc: "Where to fetch a JWKS from.",
    fields: &[
        Field("url", Ty::Str, "The JWKS URL (required)."),
        Field("upstream", Ty::OptStr, "Dispatch target: an Envoy cluster name, or host:port on Kong. Default: the url's host:port."),
        Field("timeout_ms", Ty::CallMillis, "Timeout of one fetch, in milliseconds."),
        Field("cache_seconds", Ty::Positive, "How long a fetched set is used before a background refresh, in seconds."),
    ],
    required: &["url"],
    defaults: || ser(JwksUriSection::default()),
};

const CLAIM_TO_HEADER: Section = Section {
    doc: "One claim copied to a request header.",
    fields: &[
        Field("claim", Ty::Str, "Dotted claim path (a.b)."),
        Field("header", Ty::Str, "Header name."),
    ],
    required: &["claim", "header"],
    defaults: || ser(ClaimToHeader::default()),
};

const JWT: Section = Section {
    doc: "Kong's jwt plugin (same names, same defaults), plus fields of our own.",
    fields: &[
        Field(
            "uri_param_names",
            Ty::Strings,
            "Query parameters searched for a token.",
        ),
        Field("cookie_names", Ty::Strings, "Cookies searched for a token."),
        Field(
            "header_names",
            Ty::Strings,
            "Headers searched for a token, as Bearer <token>.",
        ),
        Field(
            "claims_to_verify",
            Ty::OptListOf(&["exp", "nbf"]),
            "Registered claims that must be present and valid.",
        ),
        Field(
            "key_claim_name",
            Ty::Str,
            "Claim (then header field) whose value selects the credential.",
        ),
        Field(
            "secret_is_base64",
            Ty::Bool,
            "HMAC secrets are base64 encoded.",
        ),
        Field(
            "anonymous",
            Ty::OptStr,
            "Consumer id or username used when authentication fails.",
        ),
        Field(
            "run_on_preflight",
            Ty::Bool,
            "Authenticate CORS preflight requests too.",
        ),
        Field(
            "maximum_expiration",
            Ty::YearSeconds,
            "Largest allowed exp - now, in seconds (0 to 31536000); 0 disables.",
        ),
        Field(
            "realm",
            Ty::OptStr,
            "realm of the WWW-Authenticate challenge.",
        ),
        Field(
            "jwks",
            Ty::AnyObject,
            "Ours: an inline JWKS ({\"keys\": [...]}).",
        ),
        Field("jwks_uri", Ty::Section(&JWKS_URI), "Ours: a remote JWKS."),
        Field(
            "leeway_seconds",
            Ty::HourSeconds,
            "Ours: clock skew tolerated on exp/nbf, in seconds.",
        ),
        Field(
            "issuers",
            Ty::Strings,
            "Ours: allowed iss values (empty: any).",
        ),
        Field(
            "audiences",
            Ty::Strings,
            "Ours: allowed aud values (empty: any).",
        ),
        Field(
            "claims_to_headers",
            Ty::List(&CLAIM_TO_HEADER),
            "Ours: claims copied to upstream request headers.",
        ),
    ],
    required: &[],
    defaults: || ser(JwtSection::default()),
};

const KEY_AUTH: Section = Section {
    doc: "Kong's key-auth plugin.",
    fields: &[
        Field(
            "key_names",
            Ty::Names,
            "Header or query parameter names that carry the key.",
        ),
        Field(
            "hide_credentials",
            Ty::Bool,
            "Remove the key from the request before proxying.",
        ),
        Field(
            "anonymous",
            Ty::OptStr,
            "Consumer id or username used when authentication fails.",
        ),
        Field("key_in_header", Ty::Bool, "Look for the key in headers."),
        Field(
            "key_in_query",
            Ty::Bool,
            "Look for the key in the query string.",
        ),
        Field(
            "key_in_body",
            Ty::Bool,
            "Look for the key in a form or JSON body too.",
        ),
        Field(
            "max_body_bytes",
            Ty::Positive,
            "Ours: with key_in_body, the largest body read for a key (more is 413).",
        ),
        Field(
            "run_on_preflight",
            Ty::Bool,
            "Authenticate CORS preflight (OPTIONS) requests too.",
        ),
        Field(
            "realm",
            Ty::OptStr,
            "realm of the WWW-Authenticate: Key challenge (none: plain Key).",
        ),
    ],
    required: &[],
    defaults: || ser(KeyAuthSection::default()),
};

const BASIC_AUTH: Section = Section {
    doc: "Kong's basic-auth plugin.",
    fields: &[
        Field(
            "hide_credentials",
            Ty::Bool,
            "Remove the Authorization header before proxying.",
        ),
        Field("realm", Ty::Str, "realm of the WWW-Authenticate challenge."),
        Field(
            "anonymous",
            Ty::OptStr,
            "Consumer id or username used when authentication fails.",
        ),
    ],
    required: &[],
    defaults: || ser(BasicAuthSection::default()),
};

const RECONCILE: Section = Section {
    doc: "jwt-reconcile's fields (same names, same defaults), plus fields of our own.",
    fields: &[
        Field("url", Ty::OptStr, "Auth service base URL (required)."),
        Field("path", Ty::Str, "Path of the call: replaces the url's path (the url's query is kept)."),
        Field("method", Ty::OneOf(&["POST", "GET"]), "Call method."),
        Field("connect_timeout", Ty::Millis, "Milliseconds; proxy-wasm has one timeout per call."),
        Field("send_timeout", Ty::Millis, "Milliseconds; see connect_timeout."),
        Field("read_timeout", Ty::Millis, "Milliseconds; see connect_timeout."),
        Field("copy_headers", Ty::OptBool, "Copy the client's headers onto the call (null: no, as the plugin reads Kong's export)."),
        Field("forward_path", Ty::Bool, "Put path in the call body."),
        Field("forward_query", Ty::Bool, "Put query in the call body."),
        Field("forward_headers", Ty::Bool, "Put headers in the call body."),
        Field("forward_body", Ty::Bool, "Put body in the call body."),
        Field("inject_body_response_into_header", Ty::Bool, "Inject the answer's keys as request headers."),
        Field("injected_header_prefix", Ty::OptStr, "Prefix of injected header names (null or empty: none)."),
        Field("streamdown_injected_headers", Ty::Bool, "Also set the injected headers on the client response."),
        Field("message_401", Ty::Str, "Message of the 401 answer."),
        Field("message_403", Ty::Str, "Message of the 403 answer."),
        Field("message_404", Ty::Str, "Message of the 404 answer."),
        Field("upstream", Ty::OptStr, "Ours: dispatch target (Envoy cluster, or host:port on Kong); default the url's host:port."),
        Field("failure_mode_allow", Ty::Bool, "Ours: let the request through when the auth service cannot answer."),
        Field("allowed_headers", Ty::OptStrings, "Ours: only these answer keys may be injected."),
        Field("strip_prefixed_headers", Ty::Bool, "Ours: remove every client header under injected_header_prefix."),
        Field("cache_seconds", Ty::DaySeconds, "Ours: seconds an answer is cached, at most a day; 0 disables."),
        Field("max_body_bytes", Ty::Positive, "Ours: largest request body read for forward_body."),
    ],
    required: &["url"],
    defaults: || ser(ReconcileSection::default()),
};

const CUSTOM_JWT: Section = Section {
    doc: "x-custom-jwt's fields (same names, same defaults), plus fields of our own.",
    fields: &[
        Field("apikey_header", Ty::Str, "Header carrying an API key."),
        Field("bearer_clientid_claim", Ty::Str, "Claim of a Bearer token that names the client."),
        Field("upstream_custom_jwt_header", Ty::Str, "Header that carries the minted token upstream (Authorization adds Bearer)."),
        Field("downstream_custom_jwt_header", Ty::OptStr, "Header that echoes the minted token on the response."),
        Field("expires_in", Ty::Lifetime, "Token lifetime in seconds."),
        Field("iss", Ty::OptStr, "iss claim (null: none)."),
        Field("jku", Ty::OptStr, "jku header (null: none)."),
        Field("audience", Ty::OptStr, "Ours: aud where the host has no service URL (Envoy); Kong uses the route's service."),
        Field("private_jwk", Ty::Key, "Signing key: a private JWK object or its JSON text."),
        Field("verbose", Ty::Bool, "Add VerboseMessage to error answers."),
        Field("allow_unverified_credentials", Ty::Bool, "Ours: without a verifying stage, take the credential from the request unverified (insecure)."),
        Field("k_verbatim", Ty::Bool, "Ours: use an oct key's k text verbatim as the secret, as x-custom-jwt does; false base64url-decodes it (RFC 7518)."),
    ],
    required: &["private_jwk"],
    defaults: || ser(CustomJwtSection::default()),
};

const UPSTREAM_JWT: Section = Section {
    doc: "kong-upstream-jwt's fields plus inline keys of our own.",
    fields: &[
        Field("issuer", Ty::OptStr, "iss claim; when set, iat too."),
        Field("key_id", Ty::OptStr, "kid header."),
        Field("header", Ty::Str, "Header that carries the token upstream."),
        Field(
            "include_credential_type",
            Ty::Bool,
            "Prefix the token with Bearer.",
        ),
        Field(
            "private_key",
            Ty::Key,
            "Ours: signing key, inline PEM or a private JWK (or private_key_env).",
        ),
        Field(
            "private_key_env",
            Ty::OptStr,
            "Ours: environment variable holding the signing key (PEM, or standard base64 of DER), in place of private_key.",
        ),
        Field(
            "certificate",
            Ty::OptStr,
            "Ours: inline PEM certificate chain for x5c (or certificate_env).",
        ),
        Field(
            "certificate_env",
            Ty::OptStr,
            "Ours: environment variable holding the x5c certificate (PEM chain, or standard base64 of one DER certificate), in place of certificate.",
        ),
        Field("expires_in", Ty::Lifetime, "Ours: token lifetime in seconds."),
        Field("x5c", Ty::Bool, "Ours: add x5c and x5t#S256 headers."),
        Field("algorithm", Ty::Alg, "Ours: signing algorithm."),
        Field(
            "max_body_bytes",
            Ty::Positive,
            "Ours: largest request body hashed; larger gets 413.",
        ),
        Field(
            "bind_request",
            Ty::Bool,
            "Ours: add method, path and queryhash claims.",
        ),
        Field(
            "empty_body_payloadhash",
            Ty::OneOf(&["empty", "sha256"]),
            "Ours: payloadhash of an empty body: \"\" (the plugin's code) or the SHA-256 hex of the empty string.",
        ),
        Field(
            "x5c_format",
            Ty::OneOf(&["rfc7515", "plugin"]),
            "Ours: x5c as the whole chain in standard base64 with x5t#S256 (RFC 7515), or the leaf alone in base64url as kong-upstream-jwt sent it.",
        ),
    ],
    required: &[],
    defaults: || ser(UpstreamJwtSection::default()),
};

const JWKS_ENDPOINT: Section = Section {
    doc: "The filter serves its own public keys.",
    fields: &[
        Field("path", Ty::Str, "Request path answered with the JWKS."),
        Field(
            "previous_keys",
            Ty::AnyObjects,
            "Public JWKs still valid during a key rotation.",
        ),
    ],
    required: &[],
    defaults: || ser(JwksEndpointSection::default()),
};

const ROOT: Section = Section {
    doc: "jwt-relay filter configuration: every section is optional; {} passes requests through.",
    fields: &[
        Field(
            "_transform",
            Ty::OptBool,
            "Kong's declarative _transform: false means basicauth_credentials passwords are \
             Kong's stored SHA-1 hashes (kong config db_export).",
        ),
        Field(
            "consumers",
            Ty::List(&CONSUMER),
            "Consumers and their credentials, as in Kong's declarative kong.yml.",
        ),
        Field("jwt", Ty::Section(&JWT), "Kong jwt plugin."),
        Field("key_auth", Ty::Section(&KEY_AUTH), "Kong key-auth plugin."),
        Field(
            "basic_auth",
            Ty::Section(&BASIC_AUTH),
            "Kong basic-auth plugin.",
        ),
        Field(
            "reconcile",
            Ty::Section(&RECONCILE),
            "jwt-reconcile plugin.",
        ),
        Field(
            "custom_jwt",
            Ty::Section(&CUSTOM_JWT),
            "x-custom-jwt plugin.",
        ),
        Field(
            "upstream_jwt",
            Ty::Section(&UPSTREAM_JWT),
            "kong-upstream-jwt plugin.",
        ),
        Field(
            "jwks_endpoint",
            Ty::Section(&JWKS_ENDPOINT),
            "The filter's own JWKS endpoint.",
        ),
        Field(
            "metrics",
            Ty::OptBool,
            "Proxy-Wasm metrics: true on every host (Kong 3.8+), false on none; unset or null, \
             on Envoy only (Kong's engine before 3.8 traps on the metric calls).",
        ),
    ],
    required: &[],
    defaults: || ser(RawConfig::default()),
};

fn alg_names() -> Vec<&'static str> {
    Algorithm::ALL.iter().map(|a| a.name()).collect()
}

fn type_of(ty: Ty) -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    match ty {
        Ty::Str => json!({"type": "string"}),
        Ty::OptStr => json!({"type": ["string", "null"]}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::OptBool => json!({"type": ["boolean", "null"]}),
        Ty::HourSeconds => json!({"type": "integer", "minimum": 0, "maximum": 3_600}),
        Ty::CallMillis => json!({"type": "integer", "minimum": 1, "maximum": 4_294_967_295_u64}),
        Ty::Positive => json!({"type": "integer", "minimum": 1}),
        Ty::DaySeconds => json!({"type": "integer", "minimum": 0, "maximum": 86_400}),
        Ty::Names => json!({"type": "array", "items": {"type": "string"}, "minItems": 1}),
        Ty::Lifetime => json!({"type": "integer", "minimum": 1, "maximum": 31_536_000}),
        Ty::YearSeconds => json!({"type": "number", "minimum": 0, "maximum": 31_536_000}),
        Ty::Millis => json!({"type": "number", "minimum": 0}),
        Ty::Strings => strings,
        Ty::OptStrings => json!({"type": ["array", "null"], "items": {"type": "string"}}),
        Ty::OneOf(names) => json!({"type": "string", "enum": names}),
        Ty::Alg => json!({"type": "string", "enum": alg_names()}),
        Ty::OptAlg => {
            let mut names: Vec<Value> = alg_names().into_iter().map(Value::from).collect();
            names.push(Value::Null);
            json!({"type": ["string", "null"], "enum": names})
        }
        Ty::OptListOf(names) => {
            json!({"type": ["array", "null"], "items": {"type": "string", "enum": names}})
        }
        Ty::AnyObject => json!({"type": ["object", "null"]}),
        Ty::Key => json!({"type": ["object", "string", "null"]}),
        Ty::AnyObjects => json!({"type": "array", "items": {"type": "object"}}),
        Ty::Section(s) => {
            let mut v = object_schema(s);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("type".into(), json!(["object", "null"]));
            }
            v
        }
        Ty::List(s) => json!({"type": "array", "items": object_schema(s)}),
    }
}

fn object_schema(section: &Section) -> Value {
    let defaults = (section.defaults)();
    let mut props = Map::new();
    for Field(name, ty, doc) in section.fields {
        let mut prop = type_of(*ty);
        if let Some(obj) = prop.as_object_mut() {
            obj.insert("description".into(), Value::from(*doc));
            match defaults.get(*name) {
                // A section's default is "absent"; lists and scalars have real defaults.
                Some(d) if !d.is_null() && !matches!(ty, Ty::Section(_)) => {
                    obj.insert("default".into(), d.clone());
                }
                _ => {}
            }
        }
        props.insert((*name).to_string(), prop);
    }
    let mut schema = json!({
        "type": "object",
        "description": section.doc,
        "properties": props,
        "additionalProperties": false,
    });
    if !section.required.is_empty() {
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("required".into(), json!(section.required));
        }
    }
    schema
}

/// The whole Draft-4 schema of the configuration.
pub fn config_schema() -> Value {
    let mut schema = object_schema(&ROOT);
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$schema".into(),
            Value::from("http://json-schema.org/draft-04/schema#"),
        );
        obj.insert("title".into(), Value::from("jwt_relay"));
    }
    schema
}

/// The text of `filters/jwt_relay.meta.json`.
pub fn meta_json() -> String {
    let meta = json!({ "config_schema": config_schema() });
    let mut text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    fn meta_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../filters/jwt_relay.meta.json")
    }

    #[test]
    fn meta_json_committed_equals_generated() {
        let generated = meta_json();
        if std::env::var_os("JWT_RELAY_BLESS").is_some() {
            std::fs::write(meta_path(), &generated).unwrap();
        }
        let committed = std::fs::read_to_string(meta_path()).unwrap_or_default();
        assert!(
            committed == generated,
            "filters/jwt_relay.meta.json is stale: run \
             `JWT_RELAY_BLESS=1 cargo test --lib config::schema` and commit the file"
        );
    }

    /// Every section reachable from the root, with the path `parse` reports for a field in it
    /// (`consumers[0].jwt_secrets[0]`).
    fn sections() -> Vec<(&'static Section, String)> {
        let mut out = vec![(&ROOT, String::new())];
        let mut i = 0;
        while let Some((section, path)) = out.get(i).cloned() {
            for Field(name, ty, _) in section.fields {
                match ty {
                    Ty::Section(s) => out.push((*s, join(&path, name))),
                    Ty::List(s) => out.push((*s, format!("{}[0]", join(&path, name)))),
                    _ => {}
                }
            }
            i += 1;
        }
        out
    }

    /// Wraps `v` at a dotted path such as `consumers[0].jwt_secrets[0]`.
    fn wrap_path(path: &str, v: Value) -> Value {
        if path.is_empty() {
            return v;
        }
        path.rsplit('.').fold(v, |inner, segment| {
            let (name, list) = match segment.strip_suffix("[0]") {
                Some(n) => (n, true),
                None => (segment, false),
            };
            let inner = if list { json!([inner]) } else { inner };
            json!({ name: inner })
        })
    }

    fn join(path: &str, name: &str) -> String {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    }

    #[test]
    fn schema_fields_match_serde_struct_fields() {
        for (section, path) in sections() {
            let listed: BTreeSet<&str> = section.fields.iter().map(|f| f.0).collect();
            let defaults = (section.defaults)();
            let serde: BTreeSet<&str> = defaults
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(listed, serde, "section {path:?}");
        }
    }

    #[test]
    fn parse_accepts_every_schema_field_and_refuses_others() {
        for (section, path) in sections() {
            for Field(name, _, _) in section.fields {
                let config = wrap_path(&path, json!({ *name: null }));
                if let Err(e) = crate::config::parse(config.to_string().as_bytes()) {
                    assert_ne!(e.problem, "unknown field", "{path}.{name} refused: {e}");
                }
            }
            let config = wrap_path(&path, json!({"zz_not_a_field": null}));
            let err = crate::config::parse(config.to_string().as_bytes()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{}: unknown field", join(&path, "zz_not_a_field"))
            );
        }
    }

    #[test]
    fn schema_defaults_equal_rust_defaults() {
        let schema = config_schema();
        let reconcile = &schema["properties"]["reconcile"]["properties"];
        assert_eq!(reconcile["path"]["default"], "/api/v1/auth/reconcile");
        assert_eq!(reconcile["method"]["default"], "POST");
        assert_eq!(
            reconcile["max_body_bytes"]["default"],
            crate::config::DEFAULT_MAX_BODY_BYTES
        );
        let jwt = &schema["properties"]["jwt"]["properties"];
        assert_eq!(jwt["uri_param_names"]["default"], json!(["jwt"]));
        assert_eq!(jwt["claims_to_verify"].get("default"), None);
        assert_eq!(jwt["anonymous"].get("default"), None);
        assert_eq!(
            schema["properties"]["upstream_jwt"]["properties"]["algorithm"]["default"],
            "RS256"
        );
    }

    #[test]
    fn schema_objects_all_refuse_additional_properties() {
        fn walk(v: &Value, path: &str, seen: &mut usize) {
            if let Some(obj) = v.as_object() {
                if obj.contains_key("properties") {
                    *seen += 1;
                    assert_eq!(obj["additionalProperties"], false, "{path}");
                }
                for (k, child) in obj {
                    walk(child, &format!("{path}/{k}"), seen);
                }
            }
        }
        let mut seen = 0;
        walk(&config_schema(), "", &mut seen);
        assert_eq!(seen, sections().len());
    }

    /// A whole config that loads, for each section with required fields.
    fn loadable(path: &str) -> Option<Value> {
        let pem = include_str!("../../../tests/fixtures/jose/rsa2048_pkcs8.pem");
        Some(match path {
            "consumers[0].jwt_secrets[0]" => {
                json!({"consumers": [{"id": "c", "jwt_secrets": [{"key": "k", "secret": "s"}]}]})
            }
            "consumers[0].keyauth_credentials[0]" => {
                json!({"consumers": [{"id": "c", "keyauth_credentials": [{"key": "k"}]}]})
            }
            "consumers[0].basicauth_credentials[0]" => json!({"basic_auth": {}, "consumers": [
                {"id": "c", "basicauth_credentials": [{"username": "u", "password": "p"}]}
            ]}),
            "jwt.claims_to_headers[0]" => json!({"jwt": {
                "jwks": {"keys": []},
                "claims_to_headers": [{"claim": "sub", "header": "x-sub"}]
            }}),
            "reconcile" => json!({"reconcile": {"url": "http://auth:8080"}}),
            "jwt.jwks_uri" => json!({"jwt": {"jwks_uri": {"url": "https://idp.example/keys"}}}),
            "custom_jwt" => json!({"custom_jwt": {"private_jwk": {
                "kty": "oct", "alg": "HS256",
                "k": "dGVzdC1vbmx5LWhtYWMta2V5LW9mLTMyLWJ5dGVzLi4u"
            }}}),
            "upstream_jwt" => json!({"upstream_jwt": {"private_key": pem, "x5c": false}}),
            _ => return None,
        })
    }

    fn section_at<'a>(config: &'a mut Value, path: &str) -> &'a mut Map<String, Value> {
        let mut at = config;
        for segment in path.split('.') {
            at = match segment.strip_suffix("[0]") {
                Some(name) => &mut at[name][0],
                None => &mut at[segment],
            };
        }
        at.as_object_mut().unwrap()
    }

    #[test]
    fn schema_required_fields_are_exactly_those_load_needs() {
        for (section, path) in sections() {
            let Some(base) = loadable(&path) else {
                assert!(
                    section.required.is_empty(),
                    "no loadable example for {path}"
                );
                continue;
            };
            crate::stages::Pipeline::load(base.to_string().as_bytes()).unwrap();
            for Field(name, _, _) in section.fields {
                let mut config = base.clone();
                section_at(&mut config, &path).remove(*name);
                let result = crate::stages::Pipeline::load(config.to_string().as_bytes());
                let missing = match result {
                    Err(e) => {
                        e.to_string() == format!("{path}.{name}: missing field")
                            || e.to_string() == format!("{path}: missing field `{name}`")
                    }
                    Ok(_) => false,
                };
                assert_eq!(
                    missing,
                    section.required.contains(name),
                    "{path}.{name}: required in schema vs load disagree"
                );
            }
        }
    }

    #[test]
    fn schema_enums_are_exactly_the_parser_variants() {
        for (section, path) in sections() {
            for Field(name, ty, _) in section.fields {
                let (values, wrap): (&[&str], fn(Value) -> Value) = match ty {
                    Ty::OneOf(v) => (v, |x| x),
                    Ty::OptListOf(v) => (v, |x| json!([x])),
                    _ => continue,
                };
                let doc = |x: &str| wrap_path(&path, json!({ *name: wrap(json!(x)) })).to_string();
                for value in values {
                    crate::config::parse(doc(value).as_bytes()).unwrap();
                }
                let err = crate::config::parse(doc("zz").as_bytes()).unwrap_err();
                assert!(err.problem.starts_with("unknown variant `zz`"), "{err}");
            }
        }
    }
}
