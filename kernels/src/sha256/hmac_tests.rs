#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::sha256::{set_rounds, Rounds};
use crate::test_support::{counted_bytes as bytes, hex, hex_decode};
use hmac::{Hmac, KeyInit, Mac};

const BOTH: [Rounds; 2] = [Rounds::Unrolled, Rounds::Scheduled];

fn crate_tag(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

#[test]
fn rfc_4231_cases() {
    let long_key = [0xaau8; 131];
    let key4: Vec<u8> = (1..=25).collect();
    let cases: [(&[u8], &[u8], &str); 6] = [
        (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (&[0xaa; 20], &[0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (&key4, &[0xcd; 50], "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (&long_key, b"Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (&long_key, b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.", "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ];
    for rounds in BOTH {
        set_rounds(rounds);
        for (key, msg, want) in cases {
            let key = HmacKey::new(key);
            assert_eq!(hex(&key.tag(msg)), want, "{rounds:?}");
            assert!(key.verify(msg, &hex_decode(want)));
        }
    }
}

/// Keys on both sides of the block size (empty, 63, 64, 65, long) and messages of every length
/// around the padding's edges give the hmac crate's tags.
#[test]
fn agrees_with_the_hmac_crate() {
    for rounds in BOTH {
        set_rounds(rounds);
        for key_len in [0usize, 1, 20, 32, 63, 64, 65, 100, 200] {
            let key_bytes = bytes(key_len as u8, key_len);
            let key = HmacKey::new(&key_bytes);
            for msg_len in (0..200).chain([1000, 4097]) {
                let msg = bytes(3, msg_len);
                assert_eq!(
                    key.tag(&msg),
                    crate_tag(&key_bytes, &msg),
                    "{rounds:?}, key {key_len}, message {msg_len}"
                );
            }
        }
    }
    set_rounds(Rounds::Unrolled);
}

#[test]
fn verify_refuses_other_truncated_and_extended_tags() {
    let key = HmacKey::new(b"a secret of some length");
    let msg = b"header.payload";
    let tag = key.tag(msg);
    assert!(key.verify(msg, &tag));
    assert!(!key.verify(b"header.payloae", &tag));
    for i in 0..32 {
        let mut bad = tag;
        bad[i] ^= 1;
        assert!(!key.verify(msg, &bad), "byte {i}");
    }
    assert!(!key.verify(msg, &tag[..31]));
    assert!(!key.verify(msg, &[]));
    assert!(!key.verify(msg, &[tag.as_slice(), &[0]].concat()));
    assert!(!HmacKey::new(b"another secret").verify(msg, &tag));
}

#[test]
fn debug_never_shows_the_key() {
    let shown = format!("{:?}", HmacKey::new(b"hunter2"));
    assert_eq!(shown, "HmacKey(..)");
}

#[test]
fn a_key_set_anew_in_place_tags_as_a_new_one() {
    let mut key = HmacKey::new(b"first");
    key.set(&[7u8; 100]);
    assert_eq!(key.tag(b"m"), crate_tag(&[7u8; 100], b"m"));
}
