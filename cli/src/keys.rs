//! `keygen`, `jwk-to-pem` and `pem-to-jwk`: the key material x-custom-jwt's README sent people
//! to a website and a node script for.

use std::path::Path;

use jwt_relay_core::jose::{Algorithm, Family, Jwk, JwkSet, SigningKey};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::args::{CliError, Parsed, Spec};
use crate::input;

/// `keygen` options.
pub const KEYGEN: Spec = Spec {
    values: &["--alg", "--kid", "--out"],
    flags: &[],
};

/// `keygen --help`.
pub const KEYGEN_HELP: &str = "\
Generate a signing key: a private JWK, its public JWKS, and PEM forms.

Usage: jwt-relay keygen --alg ALG --kid NAME [--out DIR]

Options:
  --alg ALG    RS256, ES256, EdDSA or HS256 (also RS384, RS512, PS256, PS384, PS512,
               ES384, ES512, HS384, HS512). RSA keys are 2048 bits; HS* secrets are as
               long as the hash (32, 48 or 64 random bytes).
  --kid NAME   The key id: the JWK's \"kid\", and the \"kid\" header of tokens it signs.
  --out DIR    Write files into DIR (created if missing) instead of printing JSON:
                 private.jwk.json  the private JWK (mode 0600)
                 jwks.json         the public JWKS
                 private.pem       PKCS#8 private key (mode 0600)
                 public.pem        SPKI public key
               Existing files are never overwritten. Prints the paths written.
  -h, --help   Show this help.

Without --out, prints one JSON document with the members alg, kid, private_jwk,
public_jwks, private_pem and public_pem. The JWKs carry \"alg\" and \"use\": \"sig\".

An HS* key is a shared secret (kty \"oct\", k = base64url of the secret): it has no public
JWKS and no PEM form; the private JWK is what both the signer and the verifier use.

The output holds private key material: keep it out of logs and version control.
";

/// `jwk-to-pem` options.
pub const JWK_TO_PEM: Spec = Spec {
    values: &[],
    flags: &["--public"],
};

/// `jwk-to-pem --help`.
pub const JWK_TO_PEM_HELP: &str = "\
Convert a JWK to PEM.

Usage: jwt-relay jwk-to-pem [--public] FILE|-

FILE (or stdin for -) holds one JWK, or a JWKS with exactly one key. A private JWK (RSA,
EC P-256/384/521, OKP Ed25519) becomes a PKCS#8 \"PRIVATE KEY\"; a public JWK becomes an
SPKI \"PUBLIC KEY\". An oct (HMAC) key has no PEM form.

Options:
  --public     From a private JWK, print the public key instead.
  -h, --help   Show this help.
";

/// `pem-to-jwk` options.
pub const PEM_TO_JWK: Spec = Spec {
    values: &["--alg", "--kid"],
    flags: &["--public"],
};

/// `pem-to-jwk --help`.
pub const PEM_TO_JWK_HELP: &str = "\
Convert a PEM key to a JWK.

Usage: jwt-relay pem-to-jwk [--alg ALG] [--kid NAME] [--public] FILE|-

FILE (or stdin for -) holds one PEM key. A private key (PKCS#8 \"PRIVATE KEY\", PKCS#1
\"RSA PRIVATE KEY\", SEC1 \"EC PRIVATE KEY\") becomes a private JWK; a public key (SPKI
\"PUBLIC KEY\", PKCS#1 \"RSA PUBLIC KEY\") or a certificate becomes a public JWK.
Encrypted keys are not supported (decrypt with openssl first).

Options:
  --alg ALG    Set \"alg\" (it must suit the key).
  --kid NAME   Set \"kid\".
  --public     From a private key, print the public JWK instead.
  -h, --help   Show this help.
";

/// One form of a generated key: its member in the JSON document, its file with `--out`.
struct Part {
    member: &'static str,
    file: &'static str,
    secret: bool,
    text: Text,
}

/// A part's content.
enum Text {
    Json(Value),
    Pem(Zeroizing<String>),
}

fn jose(context: &str) -> impl Fn(jwt_relay_core::jose::JoseError) -> CliError + '_ {
    move |e| CliError::invalid(format!("{context}: {e}"))
}

/// The key in every form it has: HS* keys only as a private JWK.
fn generate(alg: Algorithm, kid: &str) -> Result<Vec<Part>, CliError> {
    let failed = jose("key generation");
    let key = SigningKey::generate(alg).map_err(&failed)?;
    let jwk = Jwk::from_keys(key.verifying_key(), Some(key.clone()))
        .with_kid(kid)
        .with_alg(alg)
        .map_err(&failed)?
        .with_use("sig");
    let mut parts = vec![Part {
        member: "private_jwk",
        file: "private.jwk.json",
        secret: true,
        text: Text::Json(Value::Object(jwk.to_private_json().map_err(&failed)?)),
    }];
    if alg.family() != Family::Hmac {
        parts.push(Part {
            member: "public_jwks",
            file: "jwks.json",
            secret: false,
            text: Text::Json(JwkSet::from_keys(vec![jwk]).to_public_json()),
        });
        parts.push(Part {
            member: "private_pem",
            file: "private.pem",
            secret: true,
            text: Text::Pem(key.to_pkcs8_pem().map_err(&failed)?),
        });
        parts.push(Part {
            member: "public_pem",
            file: "public.pem",
            secret: false,
            text: Text::Pem(Zeroizing::new(
                key.verifying_key().to_spki_pem().map_err(&failed)?,
            )),
        });
    }
    Ok(parts)
}

/// `keygen`.
pub fn keygen(args: &Parsed) -> Result<String, CliError> {
    let alg = input::algorithm(args.required("--alg")?)?;
    let kid = args.required("--kid")?;
    if kid.is_empty() {
        return Err(CliError::usage("--kid must not be empty"));
    }
    let parts = generate(alg, kid)?;
    if let Some(dir) = args.value("--out") {
        return write_files(Path::new(dir), parts);
    }
    let mut doc = Map::new();
    doc.insert("alg".into(), Value::from(alg.name()));
    doc.insert("kid".into(), Value::from(kid));
    for part in parts {
        let value = match part.text {
            Text::Json(v) => v,
            Text::Pem(p) => Value::from(p.as_str()),
        };
        doc.insert(part.member.into(), value);
    }
    input::pretty(&Value::Object(doc))
}

fn write_files(dir: &Path, parts: Vec<Part>) -> Result<String, CliError> {
    // Check every target first, so a refusal leaves nothing half-written.
    if let Some(path) = parts
        .iter()
        .map(|p| dir.join(p.file))
        .find(|path| path.exists())
    {
        return Err(CliError::invalid(format!(
            "{} exists: not overwriting key material",
            path.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::invalid(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = String::new();
    for part in parts {
        let path = dir.join(part.file);
        let text = match part.text {
            Text::Json(v) => Zeroizing::new(input::pretty(&v)?),
            Text::Pem(p) => p,
        };
        write_new(&path, &text, part.secret)
            .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", path.display())))?;
        written.push_str(&path.display().to_string());
        written.push('\n');
    }
    Ok(written)
}

/// Creates `path` (failing if it exists) and writes `text`; secret files are owner-only.
fn write_new(path: &Path, text: &str, secret: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    options.open(path)?.write_all(text.as_bytes())
}

/// `jwk-to-pem`.
pub fn jwk_to_pem(args: &Parsed) -> Result<String, CliError> {
    let path = args.single("FILE")?;
    let text = input::read_text(path)?;
    let source = input::shown(path);
    if !input::is_json(&text) {
        return Err(CliError::invalid(format!(
            "{source}: not a JWK (JSON object)"
        )));
    }
    let jwk = input::key_from_json(&text, source)?;
    match jwk.signing_key().filter(|_| !args.flag("--public")) {
        Some(key) => key
            .to_pkcs8_pem()
            .map(|p| p.to_string())
            .map_err(jose(source)),
        None => jwk.verifying_key().to_spki_pem().map_err(jose(source)),
    }
}

/// `pem-to-jwk`.
pub fn pem_to_jwk(args: &Parsed) -> Result<String, CliError> {
    let path = args.single("FILE")?;
    let alg = args.value("--alg").map(input::algorithm).transpose()?;
    let text = Zeroizing::new(input::read_text(path)?);
    let source = input::shown(path);
    let mut jwk = input::key_from_pem(&text, source)?;
    if let Some(kid) = args.value("--kid") {
        jwk = jwk.with_kid(kid);
    }
    if let Some(alg) = alg {
        jwk = jwk.with_alg(alg).map_err(|_| {
            CliError::invalid(format!("{source}: the key cannot be used with {alg}"))
        })?;
    }
    let out = match jwk.signing_key().filter(|_| !args.flag("--public")) {
        Some(_) => jwk.to_private_json(),
        None => jwk.to_public_json(),
    }
    .map_err(jose(source))?;
    input::pretty(&Value::Object(out))
}
