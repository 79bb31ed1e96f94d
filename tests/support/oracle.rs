//! The independent JOSE implementation (Python jwcrypto, OpenSSL-backed) behind
//! tests/support/jose_oracle.py, run from the project virtualenv.

use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The project's Python: `$JWT_RELAY_PYTHON`, else `<repo>/.venv/bin/python`.
pub fn python() -> PathBuf {
    let path = std::env::var_os("JWT_RELAY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "no Python at {} (set JWT_RELAY_PYTHON, or run `make tools` / `make test`, which \
         install it with tests/requirements.txt)",
        path.display()
    );
    path
}

/// Runs oracle ops; one result per op, in order.
pub fn run(ops: Vec<Value>) -> Vec<Value> {
    run_script("jose_oracle.py", ops)
}

/// Runs a helper of tests/support with `{"ops": [...]}` on stdin; its `results`, one per op.
pub fn run_script(name: &str, ops: Vec<Value>) -> Vec<Value> {
    let script = super::repo().join("tests/support").join(name);
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let request = json!({ "ops": ops }).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{name} failed (are tests/requirements.txt installed? `make tools`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    reply["results"].as_array().unwrap().clone()
}

/// A fresh private JWK for `alg`.
pub fn keygen(alg: &str) -> Value {
    run(vec![json!({"op": "keygen", "alg": alg})])[0]["jwk"].clone()
}

/// The public JWK of a PEM public key or X.509 certificate, as jwcrypto reads it.
pub fn public_jwk(pem: &str) -> Value {
    let result = run(vec![json!({"op": "public_jwk", "pem": pem})]).remove(0);
    assert!(result.get("error").is_none(), "{result}");
    result["jwk"].clone()
}

/// Verifies `token` with `jwk` for `alg`: the claims when valid.
pub fn verify(jwk: &Value, alg: &str, token: &str) -> Option<Value> {
    let result = run(vec![
        json!({"op": "verify", "jwk": jwk, "alg": alg, "token": token}),
    ])
    .remove(0);
    (result["valid"] == true).then(|| result["claims"].clone())
}
