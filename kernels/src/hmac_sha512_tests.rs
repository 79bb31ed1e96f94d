#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::test_support::{counted_bytes as bytes, hex, hex_decode};
use hmac::{Hmac, KeyInit, Mac};

fn crate_tag(width: Width, key: &[u8], msg: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut mac = <M as KeyInit>::new_from_slice(key).unwrap();
        mac.update(msg);
        mac.finalize().into_bytes().to_vec()
    }
    match width {
        Width::Sha384 => run::<Hmac<sha2::Sha384>>(key, msg),
        Width::Sha512 => run::<Hmac<sha2::Sha512>>(key, msg),
    }
}

/// RFC 4231's cases 1 to 4, 6 and 7 (the tags computed with Python's `hmac` module).
#[test]
fn rfc_4231_cases() {
    let long_key = [0xaau8; 131];
    let key4: Vec<u8> = (1..=25).collect();
    let cases: [(&[u8], &[u8], &str, &str); 6] = [
        (&[0x0b; 20], b"Hi There",
         "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
         "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
        (b"Jefe", b"what do ya want for nothing?",
         "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        (&[0xaa; 20], &[0xdd; 50],
         "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
         "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"),
        (&key4, &[0xcd; 50],
         "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
         "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"),
        (&long_key, b"Test Using Larger Than Block-Size Key - Hash Key First",
         "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
         "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
        (&long_key, b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
         "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
         "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"),
    ];
    for (key, msg, want384, want512) in cases {
        for (width, want) in [(Width::Sha384, want384), (Width::Sha512, want512)] {
            let key = HmacKey512::new(width, key);
            assert_eq!(hex(&key.tag(msg)), want, "{width:?}");
            assert!(key.verify(msg, &hex_decode(want)), "{width:?}");
        }
    }
}

/// Keys on both sides of the block size (empty, 127, 128, 129, long) and messages of every
/// length around the padding's edges (111 and 112 bytes past a block: the 16-byte length then
/// needs a second block) give the hmac crate's tags.
#[test]
fn agrees_with_the_hmac_crate() {
    for width in [Width::Sha384, Width::Sha512] {
        for key_len in [0usize, 1, 20, 48, 64, 127, 128, 129, 200, 300] {
            let key_bytes = bytes(key_len as u8, key_len);
            let key = HmacKey512::new(width, &key_bytes);
            for msg_len in (0..400).chain([1000, 4097]) {
                let msg = bytes(3, msg_len);
                assert_eq!(
                    key.tag(&msg),
                    crate_tag(width, &key_bytes, &msg),
                    "{width:?}, key {key_len}, message {msg_len}"
                );
            }
        }
    }
}

#[test]
fn verify_refuses_other_truncated_and_extended_tags() {
    for width in [Width::Sha384, Width::Sha512] {
        let key = HmacKey512::new(width, b"a secret of some length");
        let msg = b"header.payload";
        let tag = key.tag(msg);
        assert_eq!(tag.len(), width.tag_len());
        assert!(key.verify(msg, &tag));
        assert!(!key.verify(b"header.payloae", &tag));
        assert!(!key.verify(msg, &tag[..tag.len() - 1]));
        assert!(!key.verify(msg, &[]));
        let mut longer = tag.clone();
        longer.push(0);
        assert!(!key.verify(msg, &longer));
        for i in 0..tag.len() {
            let mut flipped = tag.clone();
            flipped[i] ^= 1;
            assert!(!key.verify(msg, &flipped), "byte {i}");
        }
        let other = HmacKey512::new(width, b"a secret of some lengti");
        assert!(!other.verify(msg, &tag));
    }
}

#[test]
fn the_two_widths_differ_and_debug_shows_no_state() {
    let a = HmacKey512::new(Width::Sha384, b"k");
    let b = HmacKey512::new(Width::Sha512, b"k");
    assert_ne!(a.tag(b"m")[..], b.tag(b"m")[..48]);
    assert_eq!(format!("{a:?}"), "HmacKey512(Sha384, ..)");
}

#[test]
fn a_key_set_anew_in_place_tags_as_a_new_one() {
    for width in [Width::Sha384, Width::Sha512] {
        let mut key = HmacKey512::new(width, b"first");
        key.set(&[7u8; 200]);
        assert_eq!(key.tag(b"m"), HmacKey512::new(width, &[7u8; 200]).tag(b"m"));
        let mut unkeyed = HmacKey512::unkeyed(width);
        unkeyed.set(b"k");
        assert_eq!(unkeyed.tag(b"m"), crate_tag(width, b"k", b"m"));
    }
}
