//! The Proxy-Wasm header map wire format, decoded without trusting it: a count, then
//! (key length, value length) pairs, then NUL-terminated keys and values. Malformed input yields
//! the pairs read so far, never a panic; bytes stay bytes (headers need not be UTF-8).

/// Header pairs as raw bytes.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes a serialized header map.
pub fn decode(bytes: &[u8]) -> Pairs {
    let mut pairs = Vec::new();
    let Some(count) = read_u32(bytes, 0) else {
        return pairs;
    };
    let mut data = 4 + count.saturating_mul(8);
    for n in 0..count {
        let (Some(klen), Some(vlen)) = (read_u32(bytes, 4 + n * 8), read_u32(bytes, 8 + n * 8))
        else {
            break;
        };
        let Some(key) = bytes.get(data..data.saturating_add(klen)) else {
            break;
        };
        data = data.saturating_add(klen).saturating_add(1);
        let Some(value) = bytes.get(data..data.saturating_add(vlen)) else {
            break;
        };
        data = data.saturating_add(vlen).saturating_add(1);
        pairs.push((key.to_vec(), value.to_vec()));
    }
    pairs
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
    fn decode_of_encode_round_trips() {
        let pairs = [(":path", "/a"), ("x-b", ""), ("host", "example")];
        let got = decode(&encode(&pairs));
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
        assert_eq!(decode(&bytes), vec![(b"x-a".to_vec(), vec![b'a', 0xff])]);
    }

    #[test]
    fn decode_truncated_or_lying_input_never_panics() {
        let full = encode(&[("a", "1"), ("b", "2")]);
        for cut in 0..full.len() {
            let _ = decode(&full[..cut]);
        }
        assert!(decode(&[0xff, 0xff, 0xff, 0xff]).is_empty());
        assert!(decode(&[]).is_empty());
    }
}
