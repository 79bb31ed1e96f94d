#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::test_support::hex;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const BOTH: [Rounds; 2] = [Rounds::Unrolled, Rounds::Scheduled];

fn digest(rounds: Rounds, pieces: &[&[u8]]) -> [u8; 32] {
    let mut h = Hasher::with_rounds(rounds);
    for piece in pieces {
        h.update(piece);
    }
    h.finalize()
}

/// Deterministic bytes (no RNG): a counter through SHA-256.
fn bytes(seed: u32, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u32;
    while out.len() < len {
        out.extend_from_slice(&Sha256::digest(
            [seed.to_be_bytes(), i.to_be_bytes()].concat(),
        ));
        i += 1;
    }
    out.truncate(len);
    out
}

#[test]
fn fips_180_examples() {
    let cases: [(&[u8], &str); 4] = [
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
        ),
    ];
    for rounds in BOTH {
        for (message, want) in cases {
            assert_eq!(
                hex(&digest(rounds, &[message])),
                want,
                "{rounds:?} {message:?}"
            );
        }
    }
}

#[test]
fn a_million_a_in_uneven_pieces() {
    let body = vec![b'a'; 1_000_000];
    for rounds in BOTH {
        let mut h = Hasher::with_rounds(rounds);
        for piece in body.chunks(4099) {
            h.update(piece);
        }
        assert_eq!(
            hex(&h.finalize()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
            "{rounds:?}"
        );
    }
}

/// Every length around the padding's edges (55/56 bytes, one and two blocks) and the block
/// boundaries, in one piece, as sha2 hashes it.
#[test]
fn every_length_up_to_five_blocks_agrees_with_sha2() {
    let body = bytes(1, 5 * BLOCK + 1);
    for len in 0..=body.len() {
        let want: [u8; 32] = Sha256::digest(&body[..len]).into();
        for rounds in BOTH {
            assert_eq!(
                digest(rounds, &[&body[..len]]),
                want,
                "{rounds:?}, {len} bytes"
            );
        }
    }
}

#[test]
fn the_scheduled_block_function_agrees_with_sha2_on_any_state() {
    for seed in 0..200 {
        let block: [u8; BLOCK] = bytes(seed, BLOCK).try_into().unwrap();
        let start: [u32; 8] = std::array::from_fn(|i| {
            u32::from_be_bytes(bytes(seed + 1000, 32)[4 * i..4 * i + 4].try_into().unwrap())
        });
        let (mut ours, mut theirs) = (start, start);
        scheduled(&mut ours, &block);
        compress256(&mut theirs, &[block]);
        assert_eq!(ours, theirs, "seed {seed}");
    }
}

#[test]
fn a_new_hasher_takes_the_threads_rounds() {
    assert_eq!(Hasher::new().rounds, Rounds::Unrolled, "the default");
    set_rounds(Rounds::Scheduled);
    assert_eq!(Hasher::new().rounds, Rounds::Scheduled);
    assert_eq!(
        super::digest(b"abc"),
        <[u8; 32]>::from(Sha256::digest(b"abc"))
    );
    set_rounds(Rounds::Unrolled);
    assert_eq!(Hasher::default().rounds, Rounds::Unrolled);
}

proptest! {
    /// Split anywhere, in any number of pieces (empty ones too), the digest is sha2's.
    #[test]
    fn pieces_never_change_the_digest(
        len in 0usize..700,
        cuts in prop::collection::vec(0usize..700, 0..8),
        seed in any::<u32>(),
    ) {
        let body = bytes(seed, len);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
        cuts.push(0);
        cuts.push(len);
        cuts.sort_unstable();
        let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &body[w[0]..w[1]]).collect();
        let want: [u8; 32] = Sha256::digest(&body).into();
        for rounds in BOTH {
            prop_assert_eq!(digest(rounds, &pieces), want);
        }
    }
}
