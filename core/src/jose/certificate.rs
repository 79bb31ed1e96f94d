//! The SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 §4.1), found by walking the
//! certificate's DER.
//!
//! Every element down to the key is checked for its tag, its DER length and its place: the
//! certificate is a SEQUENCE of the to-be-signed part, an AlgorithmIdentifier and a BIT STRING,
//! with nothing after it; the to-be-signed part holds an optional version (v1 to v3), the serial
//! number, an AlgorithmIdentifier, issuer, validity (two times), subject, the key, then only the
//! optional unique identifiers and extensions, in that order. Names, times and extensions are
//! read as whole elements, not parsed: the filter takes a certificate only as the container of
//! a key an operator configured, or as an `x5c` entry it passes on, and decides nothing on
//! their contents. The key itself is parsed by the caller (`key::spki_public`). A full X.509
//! decoder (the `x509-cert` crate) cost 43 KB of module for checks nothing depended on.

use spki::der::{Decode, Header, Reader, SliceReader, Tag, TagNumber};

/// The DER SubjectPublicKeyInfo element of a DER certificate, or `None` when the certificate's
/// structure is not the one above.
pub(crate) fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    let mut outer = SliceReader::new(cert).ok()?;
    let certificate = contents(&mut outer, Tag::Sequence)?;
    outer.finish().ok()?;
    let mut fields = SliceReader::new(certificate).ok()?;
    let tbs = contents(&mut fields, Tag::Sequence)?;
    algorithm_identifier(&mut fields)?;
    contents(&mut fields, Tag::BitString)?;
    fields.finish().ok()?;
    to_be_signed_key(tbs)
}

/// The key element of a TBSCertificate's contents.
fn to_be_signed_key(tbs: &[u8]) -> Option<&[u8]> {
    let mut fields = SliceReader::new(tbs).ok()?;
    if Tag::peek(&fields).ok()? == context(0, true) {
        version(contents(&mut fields, context(0, true))?)?;
    }
    contents(&mut fields, Tag::Integer)?; // serialNumber
    algorithm_identifier(&mut fields)?; // signature
    contents(&mut fields, Tag::Sequence)?; // issuer
    validity(contents(&mut fields, Tag::Sequence)?)?;
    contents(&mut fields, Tag::Sequence)?; // subject
    let key = fields.tlv_bytes().ok()?;
    let mut spki = SliceReader::new(key).ok()?;
    contents(&mut spki, Tag::Sequence)?;
    optional(&mut fields, context(1, false))?; // issuerUniqueID
    optional(&mut fields, context(2, false))?; // subjectUniqueID
    if let Some(extensions) = optional(&mut fields, context(3, true))? {
        let mut list = SliceReader::new(extensions).ok()?;
        contents(&mut list, Tag::Sequence)?;
        list.finish().ok()?;
    }
    fields.finish().ok()?;
    Some(key)
}

/// `[0] EXPLICIT INTEGER`: v1 (0, which DER would leave out, but decoders take), v2 (1) or
/// v3 (2).
fn version(explicit: &[u8]) -> Option<()> {
    let mut inner = SliceReader::new(explicit).ok()?;
    let number = contents(&mut inner, Tag::Integer)?;
    inner.finish().ok()?;
    matches!(number, [0] | [1] | [2]).then_some(())
}

/// AlgorithmIdentifier: a SEQUENCE of an OBJECT IDENTIFIER and, optionally, one parameters
/// element.
fn algorithm_identifier(reader: &mut SliceReader<'_>) -> Option<()> {
    let mut fields = SliceReader::new(contents(reader, Tag::Sequence)?).ok()?;
    contents(&mut fields, Tag::ObjectIdentifier)?;
    if !fields.is_finished() {
        fields.tlv_bytes().ok()?;
    }
    fields.finish().ok()
}

/// Validity: notBefore and notAfter, each a UTCTime or a GeneralizedTime.
fn validity(both: &[u8]) -> Option<()> {
    let mut times = SliceReader::new(both).ok()?;
    for _ in 0..2 {
        let tag = Tag::peek(&times).ok()?;
        if tag != Tag::UtcTime && tag != Tag::GeneralizedTime {
            return None;
        }
        contents(&mut times, tag)?;
    }
    times.finish().ok()
}

/// The contents of the next element, which must have tag `tag`.
fn contents<'a>(reader: &mut SliceReader<'a>, tag: Tag) -> Option<&'a [u8]> {
    let header = Header::decode(reader).ok()?;
    (header.tag() == tag).then_some(())?;
    reader.read_slice(header.length()).ok()
}

/// The contents of the next element if its tag is `tag` (`Some(None)` when the element is
/// absent); `None` when the element is malformed.
fn optional<'a>(reader: &mut SliceReader<'a>, tag: Tag) -> Option<Option<&'a [u8]>> {
    if reader.is_finished() || Tag::peek(reader).ok()? != tag {
        return Some(None);
    }
    contents(reader, tag).map(Some)
}

fn context(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}

#[cfg(test)]
#[path = "certificate_tests.rs"]
mod tests;
