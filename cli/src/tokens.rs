//! `sign` and `verify`: mint and check compact JWS tokens by hand.

use std::time::{SystemTime, UNIX_EPOCH};

use jwt_relay_core::jose::{jws, Algorithm, JwsHeader};
use serde_json::{Map, Value};

use crate::args::{CliError, Parsed, Spec};
use crate::{http, input};

/// `sign` options.
pub const SIGN: Spec = Spec {
    values: &["--key", "--claims", "--alg", "--kid", "--expires-in"],
    flags: &[],
};

/// `sign --help`.
pub const SIGN_HELP: &str = "\
Sign JSON claims into a compact JWS (a JWT).

Usage: jwt-relay sign --key FILE --claims JSON [--alg ALG] [--kid NAME] [--expires-in SECONDS]

Options:
  --key FILE             The signing key: a private JWK (or a JWKS with one key; an oct
                         JWK for HS*), or a PEM private key (PKCS#8, PKCS#1, SEC1). - reads
                         stdin.
  --claims JSON          The claims: a JSON object, or @FILE to read it from FILE.
  --alg ALG              The algorithm. Default: the JWK's \"alg\"; required for a PEM key
                         or a JWK without one, and must agree with the JWK's \"alg\".
  --kid NAME             The \"kid\" header. Default: the JWK's \"kid\", if any.
  --expires-in SECONDS   Set \"iat\" to now and \"exp\" to now + SECONDS.
  -h, --help             Show this help.

Prints the token (header {\"alg\", \"typ\": \"JWT\", \"kid\"}) and a newline.
";

/// `verify` options.
pub const VERIFY: Spec = Spec {
    values: &["--jwks", "--ca"],
    flags: &["--ignore-time"],
};

/// `verify --help`.
pub const VERIFY_HELP: &str = "\
Verify a compact JWS against a JWKS.

Usage: jwt-relay verify --jwks FILE|URL [--ca FILE] [--ignore-time] TOKEN|-

Options:
  --jwks FILE|URL   The keys: a JWKS file ({\"keys\": [...]}), a single JWK (for HS*, the
                    oct JWK), - for stdin, or an http:// or https:// URL, fetched with a
                    GET (10 s to answer, redirects not followed, anything but 200 is an
                    error). oct keys served at a URL are never used: a published key is
                    no secret.
  --ca FILE         For an https:// URL: trust the certificate authorities of this PEM
                    bundle instead of the built-in Mozilla roots (a private CA).
  --ignore-time     Do not check \"exp\" and \"nbf\".
  -h, --help        Show this help.

TOKEN is the compact JWS, or - to read it from stdin. The key is chosen as the filter
chooses it: the token's \"kid\" (when it has one) and \"alg\" must match the JWK, whose
\"alg\" (if any) must be the token's and whose \"use\" (if any) must be \"sig\". \"exp\" and
\"nbf\", when present, must be numbers and hold now (no leeway).

Prints {\"header\": ..., \"claims\": ...} of a valid token and exits 0; otherwise prints
why on stderr and exits 1 (a JWKS that cannot be fetched, an untrusted certificate too).
";

fn now() -> Result<u64, CliError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| CliError::invalid("the system clock is before 1970"))
}

fn claims_arg(arg: &str) -> Result<Map<String, Value>, CliError> {
    let (text, source) = match arg.strip_prefix('@') {
        Some(path) => (input::read_text(path)?, input::shown(path).to_owned()),
        None => (arg.to_owned(), "--claims".to_owned()),
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(claims)) => Ok(claims),
        Ok(_) => Err(CliError::invalid(format!("{source}: not a JSON object"))),
        Err(e) => Err(CliError::invalid(format!("{source}: not JSON: {e}"))),
    }
}

/// `sign`.
pub fn sign(args: &Parsed) -> Result<String, CliError> {
    let key_path = args.required("--key")?;
    let claims_text = args.required("--claims")?;
    let wanted = args.value("--alg").map(input::algorithm).transpose()?;
    let expires_in = args
        .value("--expires-in")
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                CliError::usage(format!("--expires-in: '{s}' is not a number of seconds"))
            })
        })
        .transpose()?;
    let mut claims = claims_arg(claims_text)?;
    let jwk = input::key_from_file(key_path)?;
    let source = input::shown(key_path);
    let alg = match (wanted, jwk.alg()) {
        (Some(a), None) => a,
        (Some(a), Some(named)) if named == a.name() => a,
        (Some(a), Some(named)) => {
            return Err(CliError::invalid(format!(
                "--alg {a} does not match the key's alg {named}"
            )))
        }
        (None, Some(named)) => named.parse::<Algorithm>().map_err(|_| {
            CliError::invalid(format!("{source}: alg {named} is not a signing algorithm"))
        })?,
        (None, None) => {
            return Err(CliError::usage(format!(
                "--alg is required: {source} does not name its algorithm"
            )))
        }
    };
    if jwk.key_use().is_some_and(|u| u != "sig") {
        return Err(CliError::invalid(format!(
            "{source}: the key is not for signatures (use is not \"sig\")"
        )));
    }
    let key = jwk.signing_key().ok_or_else(|| {
        CliError::invalid(format!(
            "{source}: a public key cannot sign: pass the private key"
        ))
    })?;
    key.check_alg(alg)
        .map_err(|_| CliError::invalid(format!("{source}: the key cannot sign {alg}")))?;
    if let Some(seconds) = expires_in {
        let iat = now()?;
        claims.insert("iat".into(), Value::from(iat));
        claims.insert("exp".into(), Value::from(iat.saturating_add(seconds)));
    }
    let mut header = JwsHeader::new(alg);
    if let Some(kid) = args.value("--kid").or(jwk.kid()) {
        header = header.with_kid(kid);
    }
    let token = jws::sign(&header, &claims, key)
        .map_err(|e| CliError::invalid(format!("signing failed: {e}")))?;
    Ok(format!("{token}\n"))
}

/// `verify`.
pub fn verify(args: &Parsed) -> Result<String, CliError> {
    let jwks_arg = args.required("--jwks")?;
    let token_arg = args.single("TOKEN")?;
    if jwks_arg == "-" && token_arg == "-" {
        return Err(CliError::usage(
            "--jwks and TOKEN cannot both be read from stdin",
        ));
    }
    let is_url = jwks_arg.contains("://");
    let ca_arg = args.value("--ca");
    if let Some(ca) = ca_arg {
        let https = is_url && http::check_url(jwks_arg)?.1 == http::Scheme::Https;
        if !https {
            return Err(CliError::usage("--ca needs an https:// --jwks URL"));
        }
        if ca == "-" && token_arg == "-" {
            return Err(CliError::usage(
                "--ca and TOKEN cannot both be read from stdin",
            ));
        }
    }
    let token = if token_arg == "-" {
        input::read_text("-")?.trim().to_owned()
    } else {
        token_arg.to_owned()
    };
    let source = input::shown(jwks_arg);
    let set = if is_url {
        let ca = ca_arg.map(http::load_ca).transpose()?;
        input::published_key_set(&http::get(jwks_arg, ca)?, source)?
    } else {
        input::key_set(&input::read_text(jwks_arg)?, source)?
    };

    let parsed =
        jws::parse(&token).map_err(|e| CliError::invalid(format!("invalid token: {e}")))?;
    let alg = parsed.header().alg();
    let kid = parsed.header().kid();
    let mut candidates = set.candidates(kid, alg).peekable();
    if candidates.peek().is_none() {
        let which = match kid {
            Some(k) => format!("kid {k:?} and alg {alg}"),
            None => format!("alg {alg}"),
        };
        return Err(CliError::invalid(format!(
            "no key in {source} for {which}{}",
            input::skipped_note(&set)
        )));
    }
    if !candidates.any(|jwk| parsed.verify(jwk.verifying_key()).is_ok()) {
        return Err(CliError::invalid("signature verification failed"));
    }
    if !args.flag("--ignore-time") {
        check_time(parsed.claims(), now()?)?;
    }
    let mut out = Map::new();
    out.insert(
        "header".into(),
        Value::Object(parsed.header().json().clone()),
    );
    out.insert("claims".into(), Value::Object(parsed.claims().clone()));
    input::pretty(&Value::Object(out))
}

/// `exp` and `nbf`, when present, must be numbers and hold at `now` (as the filter checks them
/// with no leeway: expired at `exp <= now`).
fn check_time(claims: &Map<String, Value>, now: u64) -> Result<(), CliError> {
    let now = now as f64;
    let number = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| CliError::invalid(format!("{name} must be a number"))),
    };
    if number("exp")?.is_some_and(|exp| exp <= now) {
        return Err(CliError::invalid("token expired"));
    }
    if number("nbf")?.is_some_and(|nbf| nbf > now) {
        return Err(CliError::invalid("token not valid yet (nbf)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn check_time_boundaries_match_the_filter() {
        assert!(check_time(&claims(json!({"exp": 100})), 99).is_ok());
        assert_eq!(
            check_time(&claims(json!({"exp": 100})), 100).unwrap_err(),
            CliError::invalid("token expired")
        );
        assert!(check_time(&claims(json!({"nbf": 100})), 100).is_ok());
        assert!(check_time(&claims(json!({"nbf": 101})), 100).is_err());
        assert!(check_time(&claims(json!({})), 100).is_ok());
    }

    #[test]
    fn check_time_non_numeric_exp_rejected() {
        assert_eq!(
            check_time(&claims(json!({"exp": "soon"})), 1).unwrap_err(),
            CliError::invalid("exp must be a number")
        );
    }

    #[test]
    fn claims_arg_non_object_rejected() {
        assert!(claims_arg("[1]").is_err());
        assert!(claims_arg("{").is_err());
        assert_eq!(claims_arg(r#"{"a":1}"#).unwrap()["a"], 1);
    }
}
