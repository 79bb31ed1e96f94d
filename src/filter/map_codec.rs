//! The Proxy-Wasm header map wire format, decoded without trusting it: a count, then
//! (key length, value length) pairs, then NUL-terminated keys and values. Malformed input is
//! refused whole, never a panic; bytes stay bytes (headers need not be UTF-8).

/// Header pairs as raw bytes.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes a serialized header map (an empty buffer is an empty map). `None` when the bytes do
/// not hold the pairs they announce, each key and value followed by its NUL: the filter then
/// knows no header of the map, rather than the ones before the damage (a client's copy of an
/// identity header after it would go unseen, and so unremoved).
pub fn decode(bytes: &[u8]) -> Option<Pairs> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let count = read_u32(bytes, 0)?;
    let mut data = count.checked_mul(8)?.checked_add(4)?;
    let mut pairs = Vec::new();
    for n in 0..count {
        let klen = read_u32(bytes, 4 + n * 8)?;
        let vlen = read_u32(bytes, 8 + n * 8)?;
        let key = terminated(bytes, &mut data, klen)?;
        let value = terminated(bytes, &mut data, vlen)?;
        pairs.push((key.to_vec(), value.to_vec()));
    }
    Some(pairs)
}

/// How many bytes an encoded map takes, read from its count and length table alone (which
/// `bytes` must hold): where its last value's NUL ends.
pub fn encoded_len(bytes: &[u8]) -> Option<usize> {
    let count = read_u32(bytes, 0)?;
    let mut end = count.checked_mul(8)?.checked_add(4)?;
    for n in 0..count {
        let pair = read_u32(bytes, 4 + n * 8)?.checked_add(read_u32(bytes, 8 + n * 8)?)?;
        end = end.checked_add(pair)?.checked_add(2)?;
    }
    Some(end)
}

/// The `len` bytes at `*at`, which a NUL must follow; moves `*at` past the NUL.
fn terminated<'a>(bytes: &'a [u8], at: &mut usize, len: usize) -> Option<&'a [u8]> {
    let end = at.checked_add(len)?;
    let field = bytes.get(*at..end)?;
    (*bytes.get(end)? == 0).then_some(())?;
    *at = end.checked_add(1)?;
    Some(field)
}

/// Encodes header pairs in the same format.
pub fn encode(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&len32(pairs.len()).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&len32(k.len()).to_le_bytes());
        out.extend_from_slice(&len32(v.len()).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(b)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_len_is_where_the_pairs_end_read_from_the_table() {
        let bytes = encode(&[(":method", "GET"), ("x-a", "")]);
        assert_eq!(encoded_len(&bytes), Some(bytes.len()));
        // The table alone tells it (Kong's engine writes past the buffer it announces).
        let table = bytes.get(..4 + 2 * 8).unwrap();
        assert_eq!(encoded_len(table), Some(bytes.len()));
        assert_eq!(encoded_len(bytes.get(..4 + 8).unwrap()), None);
        assert_eq!(encoded_len(&[]), None);
    }

    #[test]
    fn decode_of_encode_round_trips() {
        let pairs = [(":path", "/a"), ("x-b", ""), ("host", "example")];
        let got = decode(&encode(&pairs)).unwrap();
        let want: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn decode_non_utf8_value_keeps_bytes() {
        let mut bytes = encode(&[("x-a", "ab")]);
        let n = bytes.len();
        bytes[n - 2] = 0xff;
        assert_eq!(
            decode(&bytes),
            Some(vec![(b"x-a".to_vec(), vec![b'a', 0xff])])
        );
    }

    /// A map cut short, with a length or a NUL that lies, is refused whole (review: the pairs
    /// before the damage were taken for the whole map, and a forged `x-consumer-username`
    /// after it was never removed). An empty buffer is an empty map.
    #[test]
    fn decode_refuses_a_truncated_or_lying_map_whole() {
        let full = encode(&[("a", "1"), ("x-consumer-username", "forged")]);
        for cut in 1..full.len() {
            assert_eq!(decode(&full[..cut]), None, "cut at {cut}");
        }
        for at in 4..20 {
            let mut lying = full.clone();
            lying[at] = lying[at].wrapping_add(1);
            assert_eq!(decode(&lying), None, "length at {at}");
        }
        let mut no_nul = full.clone();
        let n = no_nul.len();
        no_nul[n - 1] = b'x';
        assert_eq!(decode(&no_nul), None);
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(decode(&[]), Some(Vec::new()));
        assert_eq!(decode(&encode(&[])), Some(Vec::new()));
    }
}
