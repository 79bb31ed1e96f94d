//! A wrapper that keeps secret config values out of `Debug` output and logs, and wipes them from
//! memory when dropped.

use serde::Deserialize;
use std::fmt;
use zeroize::Zeroize;

/// A secret value from the configuration (or a credential taken from a request). `Debug` prints
/// `<redacted>`; dropping it overwrites its bytes.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(transparent)]
pub struct Secret<T: Wipe>(T);

impl<T: Wipe> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; callers must not log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Wipe> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T: Wipe> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

/// A value whose secret bytes can be overwritten in place.
pub trait Wipe {
    /// Overwrites every secret byte (strings, at any depth).
    fn wipe(&mut self);
}

impl Wipe for String {
    fn wipe(&mut self) {
        self.zeroize();
    }
}

/// A private JWK or a PEM, as JSON: every string in it (`d`, `p`, `q`, `k`, the PEM text) is
/// overwritten, so is every object key.
impl Wipe for serde_json::Value {
    fn wipe(&mut self) {
        crate::jose::wipe::wipe(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_hides_value() {
        let s: Secret<String> = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn wipe_clears_strings_at_every_depth() {
        let mut text = String::from("hunter2");
        text.wipe();
        assert!(text.is_empty());
        let mut jwk = serde_json::json!({"kty": "RSA", "d": "c2VjcmV0", "oth": [{"r": "eA"}]});
        jwk.wipe();
        assert_eq!(jwk, serde_json::Value::Null);
    }
}
