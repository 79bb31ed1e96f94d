//! The `jwt-relay` command-line tool, run as a subprocess: every command, help, exit codes and
//! stderr messages; keys and tokens checked against jwcrypto; `check` against the filter's own
//! messages and every filter config shipped in the repo; docs/cli.md examples run verbatim.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../tests/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{oracle, Reply, Server};

const BIN: &str = env!("CARGO_BIN_EXE_jwt-relay");

use support::repo;

/// What one run of the tool gave.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Exit 0 with nothing on stderr; the stdout.
    fn ok(self) -> String {
        assert_eq!(self.code, 0, "{self:?}");
        assert_eq!(self.stderr, "", "{self:?}");
        self.stdout
    }

    /// Exit `code` with nothing on stdout; the stderr.
    fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
        self.stderr
    }

    fn json(self) -> Value {
        serde_json::from_str(&self.ok()).unwrap()
    }
}

fn run_with(dir: &Path, args: &[&str], stdin: &str) -> Out {
    let mut command = Command::new(BIN);
    // The tool honours proxy variables (as curl does); the tests' servers are on loopback.
    for proxy in ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"] {
        command
            .env_remove(proxy)
            .env_remove(proxy.to_ascii_lowercase());
    }
    let mut child = command
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs the tool in the repo root (fixture paths are relative to it).
fn cli(args: &[&str]) -> Out {
    run_with(&repo(), args, "")
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("jwt-relay-cli-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn run(&self, args: &[&str]) -> Out {
        run_with(&self.0, args, "")
    }

    fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        run_with(&self.0, args, stdin)
    }

    /// `keygen --alg ALG --kid KID --out DIR`, which must succeed; the paths it lists.
    fn keygen(&self, alg: &str, kid: &str, out: &str) -> String {
        self.run(&["keygen", "--alg", alg, "--kid", kid, "--out", out])
            .ok()
    }

    /// `sign --key KEY --claims CLAIMS`, which must succeed; the token.
    fn sign(&self, key: &str, claims: &str) -> String {
        let token = self.run(&["sign", "--key", key, "--claims", claims]).ok();
        token.strip_suffix('\n').unwrap().to_owned()
    }

    /// `verify --jwks JWKS TOKEN`.
    fn verify(&self, jwks: &str, token: &str) -> Out {
        self.run(&["verify", "--jwks", jwks, token])
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.0.join(name), text).unwrap();
        name.to_owned()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }

    fn json(&self, name: &str) -> Value {
        serde_json::from_str(&self.read(name)).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const COMMANDS: [&str; 6] = [
    "keygen",
    "jwk-to-pem",
    "pem-to-jwk",
    "sign",
    "verify",
    "check",
];

/// The four algorithms the issue names, then the other nine.
const MAIN_ALGS: [&str; 4] = ["RS256", "ES256", "EdDSA", "HS256"];
const OTHER_ALGS: [&str; 9] = [
    "RS384", "RS512", "PS256", "PS384", "PS512", "ES384", "ES512", "HS384", "HS512",
];

fn public_members_only(jwk: &Value) -> Value {
    let mut public = jwk.clone();
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        public.as_object_mut().unwrap().remove(private);
    }
    public
}

fn thumbprint(jwk: &Value) -> String {
    let result = oracle::run(vec![json!({"op": "thumbprint", "jwk": jwk})]).remove(0);
    result["thumbprint"].as_str().unwrap().to_owned()
}

// ---- help, usage, exit codes ----

#[test]
fn help_top_level_lists_every_command() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let text = cli(args).ok();
        assert!(text.starts_with("jwt-relay: "), "{text}");
        assert!(text.contains("Usage: jwt-relay <command> [options]"));
        assert!(text
            .contains("Exit codes: 0 ok, 1 invalid input or verification failure, 2 usage error."));
        for command in COMMANDS {
            assert!(text.contains(&format!("\n  {command} ")), "{command}");
        }
    }
}

#[test]
fn help_each_command_has_usage_and_options() {
    for command in COMMANDS {
        let text = cli(&[command, "--help"]).ok();
        assert!(
            text.contains(&format!("Usage: jwt-relay {command} ")),
            "{text}"
        );
        assert!(text.contains("-h, --help"), "{command}");
        assert_eq!(cli(&["help", command]).ok(), text, "{command}");
        assert_eq!(cli(&[command, "--bogus", "-h"]).ok(), text, "{command}");
    }
}

#[test]
fn help_verify_tells_of_https_urls_and_ca() {
    let text = cli(&["verify", "--help"]).ok();
    assert!(text.contains("http:// or https:// URL"), "{text}");
    assert!(text.contains("--ca FILE"), "{text}");
    assert!(!text.contains("not supported"), "{text}");
}

#[test]
fn version_flag_prints_package_version() {
    assert_eq!(
        cli(&["--version"]).ok(),
        format!("jwt-relay {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_no_command_exits_2() {
    assert_eq!(
        cli(&[]).fails(2),
        "jwt-relay: missing command\nTry 'jwt-relay --help'.\n"
    );
}

#[test]
fn usage_unknown_command_exits_2() {
    assert_eq!(
        cli(&["frobnicate"]).fails(2),
        "jwt-relay: unknown command 'frobnicate'\nTry 'jwt-relay --help'.\n"
    );
    assert_eq!(cli(&["help", "frobnicate"]).code, 2);
}

#[test]
fn usage_mistakes_exit_2_and_point_at_command_help() {
    for (args, message) in [
        (&["keygen", "--kid", "k"][..], "missing --alg"),
        (&["keygen", "--alg", "RS256"], "missing --kid"),
        (
            &["keygen", "--alg", "RS256", "--kid"],
            "--kid needs a value",
        ),
        (
            &["keygen", "--alg", "RS256", "--kid", ""],
            "--kid must not be empty",
        ),
        (&["sign", "--claims", "{}"], "missing --key"),
        (
            &[
                "sign",
                "--key",
                "k.json",
                "--claims",
                "{}",
                "--expires-in",
                "soon",
            ],
            "--expires-in: 'soon' is not a number of seconds",
        ),
        (&["verify", "--jwks", "x.json"], "missing TOKEN"),
        (
            &["verify", "--jwks", "-", "-"],
            "--jwks and TOKEN cannot both be read from stdin",
        ),
        (&["check"], "missing CONFIG"),
        (
            &["check", "a.json", "b.json"],
            "unexpected argument 'b.json'",
        ),
        (
            &["jwk-to-pem", "--alg", "RS256", "k.json"],
            "unknown option '--alg'",
        ),
        (
            &["pem-to-jwk", "--public=yes", "k.pem"],
            "--public takes no value",
        ),
    ] {
        let command = args[0];
        assert_eq!(
            cli(args).fails(2),
            format!("jwt-relay: {message}\nTry 'jwt-relay {command} --help'.\n"),
            "{args:?}"
        );
    }
}

#[test]
fn usage_unknown_algorithm_lists_the_known_ones() {
    let stderr = cli(&["keygen", "--alg", "none", "--kid", "k"]).fails(2);
    assert!(
        stderr
            .starts_with("jwt-relay: unknown algorithm 'none' (one of HS256, HS384, HS512, RS256,"),
        "{stderr}"
    );
}

#[test]
fn input_missing_file_exits_1() {
    let stderr = cli(&["check", "no/such/config.json"]).fails(1);
    assert!(
        stderr.starts_with("jwt-relay: cannot read no/such/config.json: "),
        "{stderr}"
    );
}

// ---- keygen ----

#[test]
fn keygen_asymmetric_prints_every_form() {
    for alg in ["RS256", "ES256", "EdDSA"] {
        let doc = cli(&["keygen", "--alg", alg, "--kid", "k-1"]).json();
        let members: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            members,
            [
                "alg",
                "kid",
                "private_jwk",
                "private_pem",
                "public_jwks",
                "public_pem"
            ]
        );
        assert_eq!(
            (doc["alg"].as_str(), doc["kid"].as_str()),
            (Some(alg), Some("k-1"))
        );
        let private = &doc["private_jwk"];
        assert_eq!(private["kid"], "k-1");
        assert_eq!(private["alg"], alg);
        assert_eq!(private["use"], "sig");
        assert!(private["d"].is_string(), "{alg}");
        let keys = doc["public_jwks"]["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0], public_members_only(private), "{alg}");
        let private_pem = doc["private_pem"].as_str().unwrap();
        assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(private_pem.ends_with("-----END PRIVATE KEY-----\n"));
        let public_pem = doc["public_pem"].as_str().unwrap();
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(thumbprint(private), thumbprint(&keys[0]));
    }
}

#[test]
fn keygen_hs256_prints_only_the_secret_jwk() {
    let doc = cli(&["keygen", "--alg", "HS256", "--kid", "shared"]).json();
    let members: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(members, ["alg", "kid", "private_jwk"]);
    let jwk = &doc["private_jwk"];
    assert_eq!(jwk["kty"], "oct");
    let k = jwk["k"].as_str().unwrap();
    assert_eq!(k.len(), 43, "32 bytes, unpadded base64url");
}

#[test]
fn keygen_two_runs_give_different_keys() {
    let a = cli(&["keygen", "--alg", "EdDSA", "--kid", "k"]).json();
    let b = cli(&["keygen", "--alg", "EdDSA", "--kid", "k"]).json();
    assert_ne!(a["private_jwk"]["d"], b["private_jwk"]["d"]);
}

#[test]
fn keygen_out_writes_files_and_refuses_to_overwrite() {
    let dir = Scratch::new();
    let listed = dir.keygen("ES256", "k", "keys/new");
    assert_eq!(
        listed,
        "keys/new/private.jwk.json\nkeys/new/jwks.json\nkeys/new/private.pem\nkeys/new/public.pem\n"
    );
    let private = dir.json("keys/new/private.jwk.json");
    assert_eq!(
        dir.json("keys/new/jwks.json")["keys"][0],
        public_members_only(&private)
    );
    assert!(dir
        .read("keys/new/private.pem")
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(dir
        .read("keys/new/public.pem")
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |name: &str| {
            std::fs::metadata(dir.0.join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("keys/new/private.jwk.json"), 0o600);
        assert_eq!(mode("keys/new/private.pem"), 0o600);
    }
    let again = dir.run(&[
        "keygen", "--alg", "ES256", "--kid", "k", "--out", "keys/new",
    ]);
    assert_eq!(
        again.fails(1),
        "jwt-relay: keys/new/private.jwk.json exists: not overwriting key material\n"
    );
    assert_eq!(dir.json("keys/new/private.jwk.json"), private);
}

#[test]
fn keygen_out_hs256_writes_only_the_jwk() {
    let dir = Scratch::new();
    let listed = dir.keygen("HS256", "s", "hs");
    assert_eq!(listed, "hs/private.jwk.json\n");
    assert!(!dir.0.join("hs/jwks.json").exists());
}

// ---- keygen -> sign -> verify ----

/// A directory with a key made by `keygen --out k` and a token its private JWK signed.
fn signed_with(alg: &str, kid: &str, claims: &Value) -> (Scratch, String) {
    let dir = Scratch::new();
    dir.keygen(alg, kid, "k");
    let token = dir.sign("k/private.jwk.json", &claims.to_string());
    (dir, token)
}

/// keygen into a directory, sign with the private JWK, verify with the public JWKS (for HS*,
/// the secret JWK).
fn round_trip(alg: &str) {
    let claims = json!({"sub": "alice", "iss": "jwt-relay-test", "n": 7});
    let (dir, token) = signed_with(alg, "rt", &claims);
    let jwks = if alg.starts_with("HS") {
        "k/private.jwk.json"
    } else {
        "k/jwks.json"
    };
    let verified = dir.verify(jwks, &token).json();
    assert_eq!(verified["claims"], claims, "{alg}");
    assert_eq!(
        verified["header"],
        json!({"alg": alg, "kid": "rt", "typ": "JWT"}),
        "{alg}"
    );
}

#[test]
fn round_trip_issue_algorithms_verify() {
    for alg in MAIN_ALGS {
        round_trip(alg);
    }
}

#[test]
fn round_trip_other_algorithms_verify() {
    for alg in OTHER_ALGS {
        round_trip(alg);
    }
}

// ---- sign ----

#[test]
fn sign_pem_key_needs_alg() {
    let stderr = cli(&[
        "sign",
        "--key",
        "tests/fixtures/jose/ec_p256_pkcs8.pem",
        "--claims",
        "{}",
    ])
    .fails(2);
    assert_eq!(
        stderr,
        "jwt-relay: --alg is required: tests/fixtures/jose/ec_p256_pkcs8.pem does not name its algorithm\nTry 'jwt-relay sign --help'.\n"
    );
}

#[test]
fn sign_pem_key_with_alg_verifies_with_converted_public_jwk() {
    let dir = Scratch::new();
    let fixture = repo().join("tests/fixtures/jose/rsa2048_pkcs1.pem");
    let fixture = fixture.to_str().unwrap();
    let token = dir
        .run(&[
            "sign",
            "--key",
            fixture,
            "--alg",
            "PS256",
            "--kid",
            "pem",
            "--claims",
            r#"{"a":1}"#,
        ])
        .ok();
    let public = dir
        .run(&[
            "pem-to-jwk",
            "--alg",
            "PS256",
            "--kid",
            "pem",
            "--public",
            fixture,
        ])
        .ok();
    dir.write(
        "jwks.json",
        &json!({"keys": [serde_json::from_str::<Value>(&public).unwrap()]}).to_string(),
    );
    let verified = dir.verify("jwks.json", token.trim()).json();
    assert_eq!(verified["claims"], json!({"a": 1}));
    assert_eq!(verified["header"]["kid"], "pem");
}

#[test]
fn sign_alg_disagreeing_with_jwk_exits_1() {
    let dir = Scratch::new();
    dir.keygen("ES256", "k", "k");
    let out = dir.run(&[
        "sign",
        "--key",
        "k/private.jwk.json",
        "--alg",
        "ES384",
        "--claims",
        "{}",
    ]);
    assert_eq!(
        out.fails(1),
        "jwt-relay: --alg ES384 does not match the key's alg ES256\n"
    );
}

#[test]
fn sign_key_unable_to_sign_alg_exits_1() {
    let out = cli(&[
        "sign",
        "--key",
        "tests/fixtures/jose/ec_p256_pkcs8.pem",
        "--alg",
        "RS256",
        "--claims",
        "{}",
    ]);
    assert_eq!(
        out.fails(1),
        "jwt-relay: tests/fixtures/jose/ec_p256_pkcs8.pem: the key cannot sign RS256\n"
    );
}

#[test]
fn sign_public_key_exits_1() {
    let dir = Scratch::new();
    dir.keygen("EdDSA", "k", "k");
    assert_eq!(
        dir.run(&["sign", "--key", "k/jwks.json", "--claims", "{}"])
            .fails(1),
        "jwt-relay: k/jwks.json: a public key cannot sign: pass the private key\n"
    );
    assert_eq!(
        dir.run(&[
            "sign",
            "--key",
            "k/public.pem",
            "--alg",
            "EdDSA",
            "--claims",
            "{}"
        ])
        .fails(1),
        "jwt-relay: k/public.pem: a public key cannot sign: pass the private key\n"
    );
}

#[test]
fn sign_claims_not_an_object_exits_1() {
    let key = "tests/fixtures/jose/ed25519_pkcs8.pem";
    assert_eq!(
        cli(&["sign", "--key", key, "--alg", "EdDSA", "--claims", "[1, 2]"]).fails(1),
        "jwt-relay: --claims: not a JSON object\n"
    );
    let stderr = cli(&["sign", "--key", key, "--alg", "EdDSA", "--claims", "{"]).fails(1);
    assert!(
        stderr.starts_with("jwt-relay: --claims: not JSON: "),
        "{stderr}"
    );
}

#[test]
fn sign_claims_from_file_and_key_from_stdin_accepted() {
    let dir = Scratch::new();
    dir.write("claims.json", r#"{"sub": "from-file"}"#);
    let pem = std::fs::read_to_string(repo().join("tests/fixtures/jose/ec_p384_sec1.pem")).unwrap();
    let token = dir
        .run_stdin(
            &[
                "sign",
                "--key",
                "-",
                "--alg",
                "ES384",
                "--claims",
                "@claims.json",
            ],
            &pem,
        )
        .ok();
    let public = cli(&["pem-to-jwk", "tests/fixtures/jose/ec_p384_public_spki.pem"]).ok();
    dir.write("public.jwk.json", &public);
    let verified = dir.verify("public.jwk.json", token.trim()).json();
    assert_eq!(verified["claims"], json!({"sub": "from-file"}));
    assert!(verified["header"].get("kid").is_none());
}

#[test]
fn sign_expires_in_sets_iat_and_exp() {
    let dir = Scratch::new();
    dir.keygen("HS256", "k", "k");
    let token = dir
        .run(&[
            "sign",
            "--key",
            "k/private.jwk.json",
            "--claims",
            r#"{"exp": 1}"#,
            "--expires-in",
            "120",
        ])
        .ok();
    let claims = dir.verify("k/private.jwk.json", token.trim()).json()["claims"].clone();
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 120);
    assert!(iat.abs_diff(support::tokens::now()) < 60);
}

// ---- verify ----

/// A directory with an ES256 key (kid `k1`) under k/ and a token signed by it.
fn signed(claims: &Value) -> (Scratch, String) {
    signed_with("ES256", "k1", claims)
}

#[test]
fn verify_tampered_token_exits_1() {
    let (dir, token) = signed(&json!({"sub": "alice"}));
    let (head, _) = token.rsplit_once('.').unwrap();
    let other = dir.sign("k/private.jwk.json", r#"{"sub":"mallory"}"#);
    let (_, other_sig) = other.rsplit_once('.').unwrap();
    let forged = format!("{head}.{other_sig}");
    assert_eq!(
        dir.verify("k/jwks.json", &forged).fails(1),
        "jwt-relay: signature verification failed\n"
    );
}

#[test]
fn verify_no_key_for_kid_and_alg_exits_1() {
    let (dir, token) = signed(&json!({}));
    // Another kid of the right family; the right kid of another family.
    dir.keygen("ES256", "k2", "other");
    dir.keygen("RS256", "k1", "rsa");
    for jwks in ["other/jwks.json", "rsa/jwks.json"] {
        assert_eq!(
            dir.verify(jwks, &token).fails(1),
            format!("jwt-relay: no key in {jwks} for kid \"k1\" and alg ES256\n")
        );
    }
}

#[test]
fn verify_skipped_jwks_keys_are_reported() {
    let (dir, token) = signed(&json!({}));
    dir.write(
        "odd.json",
        r#"{"keys": [{"kty": "OKP", "crv": "X448", "x": "AA", "kid": "k1"}]}"#,
    );
    assert_eq!(
        dir.verify("odd.json", &token).fails(1),
        "jwt-relay: no key in odd.json for kid \"k1\" and alg ES256; skipped key 0 (kid \"k1\"): unsupported key: OKP curve other than Ed25519 and Ed448\n"
    );
}

#[test]
fn verify_expired_token_exits_1_unless_ignored() {
    let (dir, token) = signed(&json!({"sub": "a", "exp": 1_000_000_000}));
    assert_eq!(
        dir.verify("k/jwks.json", &token).fails(1),
        "jwt-relay: token expired\n"
    );
    let verified = dir
        .run(&["verify", "--jwks", "k/jwks.json", "--ignore-time", &token])
        .json();
    assert_eq!(verified["claims"]["exp"], 1_000_000_000);
}

#[test]
fn verify_not_yet_valid_token_exits_1() {
    let (dir, token) = signed(&json!({"nbf": 4_102_444_800_u64}));
    assert_eq!(
        dir.verify("k/jwks.json", &token).fails(1),
        "jwt-relay: token not valid yet (nbf)\n"
    );
}

#[test]
fn verify_token_from_stdin_accepted() {
    let (dir, token) = signed(&json!({"sub": "stdin"}));
    let verified = dir
        .run_stdin(
            &["verify", "--jwks", "k/jwks.json", "-"],
            &format!("{token}\n"),
        )
        .json();
    assert_eq!(verified["claims"]["sub"], "stdin");
}

#[test]
fn verify_malformed_token_gives_kong_reason() {
    let (dir, token) = signed(&json!({}));
    assert_eq!(
        dir.verify("k/jwks.json", "not-a-token").fails(1),
        "jwt-relay: invalid token: invalid JSON\n"
    );
    let (_, rest) = token.split_once('.').unwrap();
    let none_header = "eyJhbGciOiJub25lIn0"; // {"alg":"none"}
    assert_eq!(
        dir.verify("k/jwks.json", &format!("{none_header}.{rest}"))
            .fails(1),
        "jwt-relay: invalid token: invalid alg\n"
    );
}

#[test]
fn verify_http_jwks_url_fetched() {
    let (dir, token) = signed(&json!({"sub": "remote"}));
    let jwks = dir.json("k/jwks.json");
    let server = Server::start(move |_| Reply::json(200, &jwks));
    let url = format!("http://{}/.well-known/jwks.json?x=1", server.addr());
    let verified = dir.verify(&url, &token).json();
    assert_eq!(verified["claims"]["sub"], "remote");
    let request = server.single();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/.well-known/jwks.json?x=1");
    assert_eq!(
        request.header("host"),
        Some(server.addr().to_string().as_str())
    );
}

#[test]
fn verify_crit_b64_or_duplicate_member_token_exits_1() {
    use jwt_relay_core::jose::{b64, Algorithm, Jwk, OctKeyEncoding};
    let (dir, _) = signed(&json!({}));
    let private = dir.read("k/private.jwk.json");
    let jwk = Jwk::from_json(&private, OctKeyEncoding::Base64Url).unwrap();
    let key = jwk.signing_key().unwrap();
    // Validly signed by the key the JWKS publishes: only the JSON is at fault.
    let sign = |header: &str, claims: &str| {
        let input = format!("{}.{}", b64::encode(header), b64::encode(claims));
        let sig = key.sign(Algorithm::ES256, input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(sig))
    };
    let cases = [
        (
            r#"{"alg":"ES256","kid":"k1","crit":["x"],"x":1}"#,
            "{}",
            "unsupported crit",
        ),
        (
            r#"{"alg":"ES256","kid":"k1","crit":[]}"#,
            "{}",
            "unsupported crit",
        ),
        (
            r#"{"alg":"ES256","kid":"k1","b64":false}"#,
            "{}",
            "unsupported b64",
        ),
        (
            r#"{"alg":"none","alg":"ES256","kid":"k1"}"#,
            "{}",
            "invalid JSON",
        ),
        (
            r#"{"alg":"ES256","kid":"k1"}"#,
            r#"{"sub":"a","sub":"b"}"#,
            "invalid JSON",
        ),
    ];
    for (header, claims, reason) in cases {
        assert_eq!(
            dir.verify("k/jwks.json", &sign(header, claims)).fails(1),
            format!("jwt-relay: invalid token: {reason}\n"),
            "{header} {claims}"
        );
    }
    dir.verify("k/jwks.json", &sign(r#"{"alg":"ES256","kid":"k1"}"#, "{}"))
        .json();
}

#[test]
fn verify_http_jwks_oct_keys_are_never_used() {
    let dir = Scratch::new();
    dir.keygen("HS256", "h1", "hs");
    let token = dir.sign("hs/private.jwk.json", r#"{"sub":"svc"}"#);
    let jwk = dir.json("hs/private.jwk.json");
    let served = json!({"keys": [jwk.clone()]});
    let server = Server::start(move |r| match r.path.as_str() {
        "/jwks" => Reply::json(200, &served),
        _ => Reply::json(200, &jwk),
    });
    for path in ["/jwks", "/one.jwk"] {
        let url = format!("http://{}{path}", server.addr());
        assert_eq!(
            dir.verify(&url, &token).fails(1),
            format!("jwt-relay: no key in {url} for kid \"h1\" and alg HS256; 1 oct keys ignored: a published JWKS holds no secret\n")
        );
    }
    // The same key from a file is the user's own secret: it verifies.
    dir.verify("hs/private.jwk.json", &token).json();
}

#[test]
fn verify_http_error_status_exits_1() {
    let (dir, token) = signed(&json!({}));
    let server = Server::start(|_| Reply::status(404, "no"));
    let url = format!("http://{}/jwks", server.addr());
    assert_eq!(
        dir.verify(&url, &token).fails(1),
        format!("jwt-relay: GET {url}: HTTP 404\n")
    );
}

#[test]
fn verify_http_redirect_not_followed_exits_1() {
    let (dir, token) = signed(&json!({}));
    let jwks = dir.json("k/jwks.json");
    let server = Server::start(move |r| match r.path.as_str() {
        "/moved" => Reply::Respond {
            status: 302,
            headers: vec![("location".into(), "/jwks".into())],
            body: Vec::new(),
        },
        _ => Reply::json(200, &jwks),
    });
    let url = format!("http://{}/moved", server.addr());
    assert_eq!(
        dir.verify(&url, &token).fails(1),
        format!("jwt-relay: GET {url}: HTTP 302 (redirects are not followed)\n")
    );
    assert_eq!(server.single().path, "/moved");
}

#[test]
fn verify_http_oversized_jwks_exits_1() {
    let (dir, token) = signed(&json!({}));
    // Past MAX_JWKS_LEN and the slack: the fetch stops at the bound.
    let huge = format!(r#"{{"keys": [], "pad": "{}"}}"#, "x".repeat(1024 * 1024));
    let server = Server::start(move |_| Reply::ok(&huge));
    let url = format!("http://{}/jwks", server.addr());
    let stderr = dir.verify(&url, &token).fails(1);
    assert!(
        stderr.starts_with(&format!(
            "jwt-relay: GET {url}: the response body is larger than "
        )),
        "{stderr}"
    );
}

#[test]
fn verify_other_url_schemes_refused() {
    let (dir, token) = signed(&json!({}));
    assert_eq!(
        dir.verify("ftp://idp.example/jwks", &token).fails(1),
        "jwt-relay: ftp://idp.example/jwks: only http:// and https:// URLs are supported\n"
    );
}

/// An HTTPS server on loopback (Python's `ssl`, the oracle's interpreter) with the test
/// certificate for 127.0.0.1, issued by tests/fixtures/jose/mtls_ca.pem; it answers every GET
/// with 200 and `body`. Killed on drop; it exits by itself after two minutes anyway.
struct TlsServer {
    child: std::process::Child,
    port: u16,
}

const TLS_SERVER_PY: &str = r#"
import http.server, os, ssl, sys, threading
cert, key, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
threading.Timer(120, lambda: os._exit(0)).start()
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl TlsServer {
    fn start(body: &str) -> Self {
        use std::io::BufRead as _;
        let fixtures = repo().join("tests/fixtures/jose");
        let mut child = Command::new(oracle::python())
            .arg("-c")
            .arg(TLS_SERVER_PY)
            .arg(fixtures.join("mtls_server_cert.pem"))
            .arg(fixtures.join("mtls_server_key.pem"))
            .arg(body)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the TLS server did not start: {line:?}")
        });
        Self { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn verify_https_jwks_url_with_ca_fetched() {
    let (dir, token) = signed(&json!({"sub": "over-tls"}));
    let server = TlsServer::start(&dir.read("k/jwks.json"));
    let ca = repo().join("tests/fixtures/jose/mtls_ca.pem");
    let url = server.url("/.well-known/jwks.json");
    let verified = dir
        .run(&[
            "verify",
            "--jwks",
            &url,
            "--ca",
            ca.to_str().unwrap(),
            &token,
        ])
        .json();
    assert_eq!(verified["claims"]["sub"], "over-tls");
    // The CA bundle from stdin, the token as an argument.
    let pem = std::fs::read_to_string(&ca).unwrap();
    let verified = dir
        .run_stdin(&["verify", "--jwks", &url, "--ca", "-", &token], &pem)
        .json();
    assert_eq!(verified["claims"]["sub"], "over-tls");
}

#[test]
fn verify_https_untrusted_certificate_exits_1() {
    let (dir, token) = signed(&json!({}));
    let server = TlsServer::start(&dir.read("k/jwks.json"));
    let url = server.url("/jwks");
    // The test CA is not among the built-in roots.
    let stderr = dir.verify(&url, &token).fails(1);
    assert!(
        stderr.starts_with(&format!("jwt-relay: GET {url}: TLS certificate refused: ")),
        "{stderr}"
    );
    assert!(stderr.contains("--ca FILE"), "{stderr}");
    // Another CA does not vouch for it either.
    let other_ca = repo().join("tests/fixtures/jose/mtls_client_cert.pem");
    let stderr = dir
        .run(&[
            "verify",
            "--jwks",
            &url,
            "--ca",
            other_ca.to_str().unwrap(),
            &token,
        ])
        .fails(1);
    assert!(stderr.contains("TLS certificate refused"), "{stderr}");
    // The right CA, the wrong name: the certificate is for 127.0.0.1 only.
    let ca = repo().join("tests/fixtures/jose/mtls_ca.pem");
    let by_name = url.replace("127.0.0.1", "localhost");
    let stderr = dir
        .run(&[
            "verify",
            "--jwks",
            &by_name,
            "--ca",
            ca.to_str().unwrap(),
            &token,
        ])
        .fails(1);
    assert!(
        stderr.starts_with(&format!(
            "jwt-relay: GET {by_name}: TLS certificate refused: "
        )),
        "{stderr}"
    );
    assert!(stderr.contains("localhost"), "{stderr}");
}

#[test]
fn verify_ca_needs_an_https_url() {
    let (dir, token) = signed(&json!({}));
    let ca = repo().join("tests/fixtures/jose/mtls_ca.pem");
    let ca = ca.to_str().unwrap();
    for jwks in ["k/jwks.json", "http://127.0.0.1:9/jwks"] {
        assert_eq!(
            dir.run(&["verify", "--jwks", jwks, "--ca", ca, &token])
                .fails(2),
            "jwt-relay: --ca needs an https:// --jwks URL\nTry 'jwt-relay verify --help'.\n",
            "{jwks}"
        );
    }
    assert_eq!(
        dir.run(&[
            "verify",
            "--jwks",
            "https://127.0.0.1:9/jwks",
            "--ca",
            "k/jwks.json",
            &token
        ])
        .fails(1),
        "jwt-relay: k/jwks.json: no CERTIFICATE in the PEM bundle\n"
    );
}

// ---- against jwcrypto ----

#[test]
fn interop_cli_signed_tokens_verify_in_jwcrypto() {
    for alg in MAIN_ALGS.iter().chain(&["PS256", "ES512"]) {
        let claims = json!({"sub": "alice", "alg": *alg});
        let (dir, token) = signed_with(alg, "x", &claims);
        let jwk = if alg.starts_with("HS") {
            dir.json("k/private.jwk.json")
        } else {
            dir.json("k/jwks.json")["keys"][0].clone()
        };
        assert_eq!(oracle::verify(&jwk, alg, &token), Some(claims), "{alg}");
    }
}

#[test]
fn interop_jwcrypto_signed_tokens_verify_with_cli() {
    for alg in MAIN_ALGS.iter().chain(&["PS384", "ES384"]) {
        let dir = Scratch::new();
        let mut jwk = oracle::keygen(alg);
        jwk["kid"] = json!("jc");
        let claims = json!({"sub": "from-jwcrypto"});
        let signed = oracle::run(vec![
            json!({"op": "sign", "jwk": jwk, "alg": alg, "claims": claims}),
        ]);
        let token = signed[0]["token"].as_str().unwrap();
        let keys = if alg.starts_with("HS") {
            jwk.clone()
        } else {
            public_members_only(&jwk)
        };
        dir.write("jwks.json", &json!({"keys": [keys]}).to_string());
        let verified = dir.verify("jwks.json", token).json();
        assert_eq!(verified["claims"], claims, "{alg}");
        assert_eq!(verified["header"]["alg"], *alg);
    }
}

#[test]
fn interop_jwcrypto_signs_with_cli_generated_private_jwk() {
    // jwcrypto (via `cryptography`) checks the RSA CRT members, so this proves them.
    for alg in ["RS256", "ES256", "EdDSA"] {
        let dir = Scratch::new();
        dir.keygen(alg, "x", "k");
        let jwk = dir.json("k/private.jwk.json");
        let claims = json!({"sub": "cross"});
        let signed = oracle::run(vec![
            json!({"op": "sign", "jwk": jwk, "alg": alg, "claims": claims}),
        ]);
        let token = signed[0]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{alg}: {signed:?}"));
        let verified = dir.verify("k/jwks.json", token).json();
        assert_eq!(verified["claims"], claims, "{alg}");
    }
}

// ---- conversions ----

#[test]
fn convert_jwk_to_pem_to_jwk_keeps_the_key() {
    for alg in ["RS256", "ES256", "ES384", "ES512", "EdDSA"] {
        let dir = Scratch::new();
        dir.keygen(alg, "c", "k");
        let private = dir.json("k/private.jwk.json");

        let pem = dir.run(&["jwk-to-pem", "k/private.jwk.json"]).ok();
        assert_eq!(pem, dir.read("k/private.pem"), "{alg}");
        dir.write("again.pem", &pem);
        let back = dir
            .run(&["pem-to-jwk", "--alg", alg, "--kid", "c", "again.pem"])
            .json();
        let mut expected = private.clone();
        expected.as_object_mut().unwrap().remove("use");
        assert_eq!(back, expected, "{alg}");

        let public_pem = dir
            .run(&["jwk-to-pem", "--public", "k/private.jwk.json"])
            .ok();
        assert_eq!(public_pem, dir.read("k/public.pem"), "{alg}");
        assert_eq!(
            dir.run(&["jwk-to-pem", "k/jwks.json"]).ok(),
            public_pem,
            "{alg}"
        );
        let public = dir.run(&["pem-to-jwk", "k/public.pem"]).json();
        assert_eq!(thumbprint(&public), thumbprint(&private), "{alg}");
        let public_of_private = dir.run(&["pem-to-jwk", "--public", "k/private.pem"]).json();
        assert_eq!(public_of_private, public, "{alg}");
    }
}

#[test]
fn convert_fixture_pem_formats_to_jwk() {
    for (name, kty, private) in [
        ("rsa2048_pkcs1.pem", "RSA", true),
        ("rsa2048_public_pkcs1.pem", "RSA", false),
        ("rsa2048_cert.pem", "RSA", false),
        ("ec_p256_sec1.pem", "EC", true),
        ("ec_p521_public_spki.pem", "EC", false),
        ("ed25519_pkcs8.pem", "OKP", true),
    ] {
        let jwk = cli(&["pem-to-jwk", &format!("tests/fixtures/jose/{name}")]).json();
        assert_eq!(jwk["kty"], kty, "{name}");
        assert_eq!(jwk.get("d").is_some(), private, "{name}");
    }
}

#[test]
fn convert_pem_from_stdin_to_jwk() {
    let pem = std::fs::read_to_string(repo().join("tests/fixtures/jose/ed25519_public_spki.pem"))
        .unwrap();
    let jwk = run_with(&repo(), &["pem-to-jwk", "--kid", "s", "-"], &pem).json();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["kid"].as_str()),
        (Some("OKP"), Some("s"))
    );
}

#[test]
fn convert_alg_unsuited_to_key_exits_1() {
    assert_eq!(
        cli(&[
            "pem-to-jwk",
            "--alg",
            "ES384",
            "tests/fixtures/jose/ec_p256_sec1.pem"
        ])
        .fails(1),
        "jwt-relay: tests/fixtures/jose/ec_p256_sec1.pem: the key cannot be used with ES384\n"
    );
}

#[test]
fn convert_oct_jwk_to_pem_exits_1() {
    let dir = Scratch::new();
    dir.keygen("HS256", "s", "k");
    assert_eq!(
        dir.run(&["jwk-to-pem", "k/private.jwk.json"]).fails(1),
        "jwt-relay: k/private.jwk.json: unsupported key: an HMAC secret has no PEM form\n"
    );
}

#[test]
fn convert_wrong_input_kind_exits_1() {
    assert_eq!(
        cli(&["jwk-to-pem", "tests/fixtures/jose/ec_p256_sec1.pem"]).fails(1),
        "jwt-relay: tests/fixtures/jose/ec_p256_sec1.pem: not a JWK (JSON object)\n"
    );
    let dir = Scratch::new();
    dir.write("k.json", r#"{"kty": "EC"}"#);
    assert_eq!(
        dir.run(&["pem-to-jwk", "k.json"]).fails(1),
        "jwt-relay: k.json: invalid key: no PEM block found\n"
    );
    assert_eq!(
        dir.run(&["jwk-to-pem", "k.json"]).fails(1),
        "jwt-relay: k.json: invalid JWK: a required key member is missing\n"
    );
}

#[test]
fn convert_jwks_with_several_keys_exits_1() {
    let dir = Scratch::new();
    dir.keygen("ES256", "a", "a");
    let key = dir.json("a/jwks.json")["keys"][0].clone();
    dir.write("two.json", &json!({"keys": [key.clone(), key]}).to_string());
    assert_eq!(
        dir.run(&["jwk-to-pem", "two.json"]).fails(1),
        "jwt-relay: two.json: the JWKS holds 2 keys: pass a single JWK\n"
    );
}

// ---- check ----

/// The log line the filter writes when `on_configure` refuses a config.
fn filter_log_line(message: &str) -> String {
    format!("jwt-relay: configuration rejected: {message}\n")
}

#[test]
fn check_bad_configs_give_the_filter_messages() {
    for (config, message) in [
        (
            r#"{"reconcile": {"url": "http://a", "methd": "GET"}}"#,
            "reconcile.methd: unknown field",
        ),
        (
            r#"{"jwt": {"claims_to_verify": ["iat"]}}"#,
            "jwt.claims_to_verify[0]: unknown variant `iat`, expected `exp` or `nbf`",
        ),
        (
            r#"{"custom_jwt": {}}"#,
            "custom_jwt.private_jwk: missing field",
        ),
        ("[]", ".: must be a JSON object"),
    ] {
        let dir = Scratch::new();
        dir.write("config.json", config);
        assert_eq!(
            dir.run(&["check", "config.json"]).fails(1),
            filter_log_line(message)
        );
        let expected = jwt_relay_core::stages::Pipeline::load(config.as_bytes())
            .unwrap_err()
            .to_string();
        assert_eq!(expected, message, "the library agrees");
    }
}

#[test]
fn check_message_format_is_the_filter_log_line() {
    // Guards drift: the filter's on_configure logs exactly this format.
    let root = std::fs::read_to_string(repo().join("src/filter/root.rs")).unwrap();
    assert!(root.contains(r#""jwt-relay: configuration rejected: {why}""#));
}

#[test]
fn check_config_from_stdin_accepted() {
    assert_eq!(run_with(&repo(), &["check", "-"], "{}").ok(), "ok\n");
    assert_eq!(
        run_with(&repo(), &["check", "-"], r#"{"jwtt": {}}"#).fails(1),
        filter_log_line("jwtt: unknown field")
    );
}

#[test]
fn check_config_with_keys_from_keygen_ok() {
    let dir = Scratch::new();
    dir.keygen("ES256", "gw", "es");
    dir.keygen("RS256", "up", "rsa");
    let config = json!({
        "consumers": [{"id": "c-1", "username": "alice", "keyauth_credentials": [{"key": "alice-key"}]}],
        "key_auth": {},
        "jwt": {"jwks": dir.json("rsa/jwks.json")},
        "custom_jwt": {"private_jwk": dir.json("es/private.jwk.json"), "iss": "gateway"},
        "upstream_jwt": {"private_key": dir.read("rsa/private.pem"), "key_id": "up", "x5c": false},
        "jwks_endpoint": {},
    });
    dir.write("config.json", &config.to_string());
    assert_eq!(dir.run(&["check", "config.json"]).ok(), "ok\n");
    // A public JWK cannot mint: the filter's compile step says so.
    let mut bad = config.clone();
    bad["custom_jwt"]["private_jwk"] = dir.json("es/jwks.json")["keys"][0].clone();
    dir.write("bad.json", &bad.to_string());
    assert_eq!(
        dir.run(&["check", "bad.json"]).fails(1),
        filter_log_line("custom_jwt.private_jwk: is a public key: a private JWK is needed to sign")
    );
}

/// Filter configs embedded in the repo's YAML (Envoy `configuration` as a
/// `google.protobuf.StringValue` block scalar): (file, line, JSON text).
fn shipped_string_value_configs() -> Vec<(String, usize, String)> {
    fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                yaml_files(&path, out);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in ["envoy", "kong"] {
        yaml_files(&repo().join(dir), &mut files);
    }
    let mut configs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains("type.googleapis.com/google.protobuf.StringValue") {
                continue;
            }
            let value = lines[i + 1];
            let indent = value.len() - value.trim_start().len();
            assert!(
                matches!(
                    value.split(" #").next().unwrap_or_default().trim(),
                    "value: |" | "value: |-"
                ),
                "{}:{}: only block-scalar StringValue configs are understood here",
                file.display(),
                i + 2
            );
            let body: Vec<&str> = lines[i + 2..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .map(|l| l.trim())
                .collect();
            let name = file.strip_prefix(repo()).unwrap().display().to_string();
            configs.push((name, i + 2, body.join("\n")));
        }
    }
    configs
}

#[test]
fn check_every_shipped_envoy_config_ok() {
    let configs = shipped_string_value_configs();
    assert!(
        configs
            .iter()
            .any(|(file, _, _)| file == "envoy/envoy.yaml"),
        "{configs:?}"
    );
    for (file, line, config) in configs {
        let out = run_with(&repo(), &["check", "-"], &config);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "ok\n", ""),
            "{file}:{line}"
        );
    }
}

// ---- docs/cli.md ----

/// The doc's ```sh blocks, each with the ```text block right after it (its expected combined
/// stdout and stderr), if any.
fn doc_examples(doc: &str) -> Vec<(usize, String, Option<String>)> {
    let mut examples: Vec<(usize, String, Option<String>)> = Vec::new();
    let mut lines = doc.lines().enumerate().peekable();
    let mut last_was_sh = false;
    while let Some((n, line)) = lines.next() {
        let fence = match line.strip_prefix("```") {
            Some(f) => f.trim(),
            None => {
                if !line.trim().is_empty() {
                    last_was_sh = false;
                }
                continue;
            }
        };
        let body: Vec<&str> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let body = body.join("\n") + "\n";
        match fence {
            "sh" => {
                examples.push((n + 1, body, None));
                last_was_sh = true;
                continue;
            }
            "text" if last_was_sh => {
                examples.last_mut().unwrap().2 = Some(body);
            }
            _ => {}
        }
        last_was_sh = false;
    }
    examples
}

#[test]
fn docs_cli_md_examples_run_verbatim() {
    let doc = std::fs::read_to_string(repo().join("docs/cli.md")).unwrap();
    let examples = doc_examples(&doc);
    assert!(
        examples.len() >= 8,
        "docs/cli.md has {} sh examples",
        examples.len()
    );
    assert!(examples.iter().filter(|e| e.2.is_some()).count() >= 5);
    let dir = Scratch::new();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (line, script, expected) in examples {
        let out = Command::new("bash")
            .current_dir(&dir.0)
            .env("PATH", &path)
            .args(["-euo", "pipefail", "-c", &format!("exec 2>&1\n{script}")])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "docs/cli.md:{line} failed:\n{script}\n{text}"
        );
        if let Some(expected) = expected {
            assert_eq!(text, expected, "docs/cli.md:{line}:\n{script}");
        }
    }
}
