//! JSON that held key material (a private JWK's `d`, `p`, `q`; an `oct` key's `k`; a PEM), wiped
//! in place before it is freed: the configuration's own copies are `Secret` values
//! (`config::secret`), and the transient ones made while a key is read go through [`Wiped`].

use std::ops::Deref;

use serde_json::Value;
use zeroize::Zeroize;

/// Overwrites every string in `value`, at any depth, object keys too, and leaves `Null`.
pub fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => {
            for (mut key, mut member) in std::mem::take(map) {
                key.zeroize();
                wipe(&mut member);
            }
        }
        _ => {}
    }
    *value = Value::Null;
}

/// A JSON value wiped ([`wipe`]) when dropped.
pub struct Wiped(Value);

impl Wiped {
    /// Takes `value` into the guard.
    pub fn new(value: Value) -> Self {
        Self(value)
    }
}

impl Deref for Wiped {
    type Target = Value;

    fn deref(&self) -> &Value {
        &self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn wipe_clears_strings_at_every_depth() {
        let mut jwk = serde_json::json!({"kty": "RSA", "d": "c2VjcmV0", "oth": [{"r": "eA"}]});
        wipe(&mut jwk);
        assert_eq!(jwk, Value::Null);
    }
}
