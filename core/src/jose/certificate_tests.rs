//! The walk held to the `x509-cert` crate's decoder (the reference it replaced): every
//! certificate that decoder takes gives the same key here, and the structures it refuses for
//! tag, length or order are refused here too.

use spki::der::{self, Decode as _, Encode as _};

use super::subject_public_key_info;
use crate::jose::pem;

fn fixture_certificates() -> Vec<Vec<u8>> {
    let names = [
        "rsa2048_cert.pem",
        "ec_p256_chain.pem",
        "mtls_ca.pem",
        "mtls_server_cert.pem",
        "mtls_client_cert.pem",
    ];
    let dir = format!("{}/../tests/fixtures/jose", env!("CARGO_MANIFEST_DIR"));
    let certs: Vec<Vec<u8>> = names
        .iter()
        .flat_map(|name| {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            pem::parse_blocks(&text).unwrap()
        })
        .map(|block| block.der.to_vec())
        .collect();
    assert_eq!(certs.len(), 6);
    certs
}

/// The reference: the key as the `x509-cert` crate decodes and re-encodes it.
fn reference(cert: &[u8]) -> Option<Vec<u8>> {
    let decoded = x509_cert::Certificate::from_der(cert).ok()?;
    decoded
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()
}

/// A DER element (definite length, minimal form).
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// The elements inside a constructed element's contents.
fn children(contents: &[u8]) -> Vec<Vec<u8>> {
    let mut reader = der::SliceReader::new(contents).unwrap();
    let mut out = Vec::new();
    while !der::Reader::is_finished(&reader) {
        out.push(der::Reader::tlv_bytes(&mut reader).unwrap().to_vec());
    }
    out
}

fn contents_of(element: &[u8]) -> Vec<u8> {
    der::asn1::AnyRef::from_der(element)
        .unwrap()
        .value()
        .to_vec()
}

/// A fixture's three top-level parts and the fields of its to-be-signed part.
fn parts(cert: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let top = children(&contents_of(cert));
    let tbs = children(&contents_of(&top[0]));
    (top, tbs)
}

/// A certificate from to-be-signed fields and the fixture's algorithm and signature.
fn rebuild(top: &[Vec<u8>], tbs_fields: &[Vec<u8>]) -> Vec<u8> {
    let tbs = tlv(0x30, &tbs_fields.concat());
    tlv(0x30, &[tbs, top[1].clone(), top[2].clone()].concat())
}

/// The first fixture with extensions (the mTLS CA).
fn with_extensions() -> Vec<u8> {
    let found = fixture_certificates()
        .into_iter()
        .find(|cert| parts(cert).1.len() == 8);
    found.unwrap()
}

#[test]
fn fixtures_give_the_reference_key() {
    for cert in fixture_certificates() {
        let expected = reference(&cert).unwrap();
        assert_eq!(subject_public_key_info(&cert), Some(expected.as_slice()));
    }
}

#[test]
fn versions_and_optional_fields_are_taken_where_the_reference_takes_them() {
    let (top, tbs) = parts(&with_extensions());
    // The fixture is v3: [0] version, serial, signature, issuer, validity, subject, key, [3].
    assert_eq!(tbs.len(), 8);
    assert_eq!(tbs[0][0], 0xa0);
    assert_eq!(tbs[7][0], 0xa3);
    let body = &tbs[1..7];
    let version = |v: u8| tlv(0xa0, &tlv(0x02, &[v]));
    let unique = |n: u8| tlv(0x80 | n, &[0x00, 0x5a]);
    let accepted = [
        // v1: no version, no extensions; and v1 written out.
        body.to_vec(),
        [vec![version(0)], body.to_vec()].concat(),
        // v2 with both unique identifiers.
        [vec![version(1)], body.to_vec(), vec![unique(1), unique(2)]].concat(),
        // v3 with a subject unique identifier and the extensions.
        [
            vec![version(2)],
            body.to_vec(),
            vec![unique(2), tbs[7].clone()],
        ]
        .concat(),
    ];
    for fields in accepted {
        let built = rebuild(&top, &fields);
        let expected = reference(&built).expect("the reference takes it");
        assert_eq!(subject_public_key_info(&built), Some(expected.as_slice()));
    }
}

#[test]
fn wrong_structures_are_refused_like_the_reference_refuses_them() {
    let cert = with_extensions();
    let (top, tbs) = parts(&cert);
    let body = &tbs[1..7];
    let version = |v: u8| tlv(0xa0, &tlv(0x02, &[v]));
    let mut refused: Vec<(&str, Vec<u8>)> = vec![
        ("trailing byte", [cert.clone(), vec![0]].concat()),
        (
            "no signature",
            tlv(0x30, &[top[0].clone(), top[1].clone()].concat()),
        ),
        (
            "signature not a BIT STRING",
            tlv(
                0x30,
                &[top[0].clone(), top[1].clone(), tlv(0x04, &[0])].concat(),
            ),
        ),
        (
            "version 4",
            rebuild(&top, &[vec![version(3)], body.to_vec()].concat()),
        ),
        (
            "extensions not a SEQUENCE",
            rebuild(
                &top,
                &[tbs[..7].to_vec(), vec![tlv(0xa3, &tlv(0x04, &[]))]].concat(),
            ),
        ),
        (
            "an element after the extensions",
            rebuild(&top, &[tbs.clone(), vec![tlv(0x02, &[1])]].concat()),
        ),
        (
            "unique identifiers after the extensions",
            rebuild(&top, &[tbs.clone(), vec![tlv(0x81, &[0])]].concat()),
        ),
        ("no key", rebuild(&top, &tbs[..6])),
        (
            "key not a SEQUENCE",
            rebuild(
                &top,
                &[tbs[..6].to_vec(), vec![tlv(0x04, &contents_of(&tbs[6]))]].concat(),
            ),
        ),
    ];
    // Validity and subject swapped; a validity holding an INTEGER.
    let mut swapped = tbs.clone();
    swapped.swap(4, 5);
    refused.push(("fields out of order", rebuild(&top, &swapped)));
    let mut bad_time = tbs.clone();
    bad_time[4] = tlv(0x30, &[tlv(0x02, &[1]), tlv(0x02, &[2])].concat());
    refused.push(("validity of integers", rebuild(&top, &bad_time)));
    let mut one_time = tbs.clone();
    one_time[4] = tlv(0x30, &children(&contents_of(&tbs[4]))[0]);
    refused.push(("one time", rebuild(&top, &one_time)));
    // A non-minimal length on the outer SEQUENCE, and an indefinite (BER) one.
    let inner = contents_of(&cert);
    let mut long_form = vec![0x30, 0x83];
    long_form.extend_from_slice(&(inner.len() as u32).to_be_bytes()[1..]);
    long_form.extend_from_slice(&inner);
    refused.push(("non-minimal length", long_form));
    refused.push((
        "indefinite length",
        [vec![0x30, 0x80], inner.clone(), vec![0, 0]].concat(),
    ));
    for (what, der) in refused {
        assert_eq!(reference(&der), None, "the reference takes {what}");
        assert_eq!(subject_public_key_info(&der), None, "{what} was taken");
    }
}

#[test]
fn every_changed_byte_or_truncation_the_reference_takes_gives_its_key() {
    for cert in fixture_certificates() {
        let mut variants: Vec<Vec<u8>> = (0..cert.len()).map(|n| cert[..n].to_vec()).collect();
        for i in 0..cert.len() {
            for change in [0x01u8, 0x80, 0xff] {
                let mut v = cert.clone();
                v[i] ^= change;
                variants.push(v);
            }
            let mut zero = cert.clone();
            zero[i] = 0;
            variants.push(zero);
        }
        for v in variants {
            if let Some(expected) = reference(&v) {
                assert_eq!(subject_public_key_info(&v), Some(expected.as_slice()));
            }
        }
    }
}
