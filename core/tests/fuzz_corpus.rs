//! Replays every fuzz target's committed corpus (`fuzz/corpus/<target>/`) and any crash it left
//! (`fuzz/artifacts/<target>/`) through the target's body, on the stable toolchain without
//! cargo-fuzz: an input that once crashed a target stays a regression test in `make test`.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jwt_relay_core::fuzzing::TARGETS;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, body) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no fuzz target {target}"));
    let corpus = inputs(&fuzz_dir().join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} has no seed");
    let artifacts = inputs(&fuzz_dir().join("artifacts").join(target));
    for path in corpus.iter().chain(&artifacts) {
        let data = std::fs::read(path).unwrap();
        // Named on stderr, so a failing replay says which input broke.
        eprintln!("{target}: {}", path.display());
        body(&data);
    }
}

#[test]
fn every_target_has_a_fuzz_target_and_a_bin() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for (target, _) in TARGETS {
        let file = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        let source = std::fs::read_to_string(&file).unwrap();
        assert!(
            source.contains(&format!("jwt_relay_core::fuzzing::{target}(data)")),
            "{} does not call fuzzing::{target}",
            file.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target}"
        );
    }
}

#[test]
fn corpus_jws() {
    replay("jws");
}

#[test]
fn corpus_jwk() {
    replay("jwk");
}

#[test]
fn corpus_pem() {
    replay("pem");
}

#[test]
fn corpus_config() {
    replay("config");
}

#[test]
fn corpus_reconcile() {
    replay("reconcile");
}

#[test]
fn corpus_token() {
    replay("token");
}

#[test]
fn corpus_flow() {
    replay("flow");
}
