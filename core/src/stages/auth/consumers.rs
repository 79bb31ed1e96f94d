//! The runtime consumer registry, compiled from the `consumers` section.

use crate::config::{ConfigError, ConsumerSection};
use std::collections::HashMap;

/// A consumer as the upstream sees it (`X-Consumer-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    /// `X-Consumer-ID`.
    pub id: Option<String>,
    /// `X-Consumer-Username`.
    pub username: Option<String>,
    /// `X-Consumer-Custom-ID`.
    pub custom_id: Option<String>,
}

/// Index of a consumer in [`Consumers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConsumerRef(usize);

/// All configured consumers.
#[derive(Debug, Clone, Default)]
pub struct Consumers {
    list: Vec<Consumer>,
}

impl Consumers {
    /// Checks each consumer has an `id` or `username`, and that no other consumer has either
    /// (a consumer whose username equals its own id names one consumer, as in Kong).
    pub fn compile(sections: &[ConsumerSection]) -> Result<Self, ConfigError> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut list = Vec::with_capacity(sections.len());
        for (i, c) in sections.iter().enumerate() {
            let path = format!("consumers[{i}]");
            if c.id.is_none() && c.username.is_none() {
                return Err(ConfigError::new(path, "needs an id or a username"));
            }
            for (field, value) in [("id", &c.id), ("username", &c.username)] {
                if let Some(v) = value {
                    if v.is_empty() {
                        return Err(ConfigError::new(
                            format!("{path}.{field}"),
                            "must not be empty",
                        ));
                    }
                    if *seen.entry(v.as_str()).or_insert(i) != i {
                        return Err(ConfigError::new(
                            format!("{path}.{field}"),
                            format!("duplicate consumer {v:?}"),
                        ));
                    }
                }
            }
            list.push(Consumer {
                id: c.id.clone(),
                username: c.username.clone(),
                custom_id: c.custom_id.clone(),
            });
        }
        Ok(Self { list })
    }

    /// The consumer at index `i` of the section (always valid for compiled credentials).
    pub fn at(i: usize) -> ConsumerRef {
        ConsumerRef(i)
    }

    /// A consumer by reference.
    pub fn get(&self, r: ConsumerRef) -> Option<&Consumer> {
        self.list.get(r.0)
    }

    /// Finds a consumer by id, then by username (Kong's `anonymous` accepts either).
    pub fn find(&self, id_or_username: &str) -> Option<ConsumerRef> {
        let by = |f: fn(&Consumer) -> &Option<String>| {
            self.list
                .iter()
                .position(|c| f(c).as_deref() == Some(id_or_username))
        };
        by(|c| &c.id)
            .or_else(|| by(|c| &c.username))
            .map(ConsumerRef)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn compile(json: &str) -> Result<Consumers, ConfigError> {
        Consumers::compile(&parse(json.as_bytes()).unwrap().consumers)
    }

    #[test]
    fn compile_consumer_without_identity_is_refused() {
        let e = compile(r#"{"consumers": [{"id": "a"}, {"custom_id": "x"}]}"#).unwrap_err();
        assert_eq!(e.to_string(), "consumers[1]: needs an id or a username");
    }

    #[test]
    fn compile_duplicate_username_is_refused() {
        let e = compile(r#"{"consumers": [{"username": "a"}, {"id": "b", "username": "a"}]}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "consumers[1].username: duplicate consumer \"a\""
        );
    }

    #[test]
    fn find_matches_id_or_username() {
        let c = compile(r#"{"consumers": [{"id": "x", "username": "u1"}, {"id": "y"}]}"#).unwrap();
        assert_eq!(c.find("u1"), Some(Consumers::at(0)));
        assert_eq!(c.find("y"), Some(Consumers::at(1)));
        assert_eq!(c.find("nobody"), None);
    }

    #[test]
    fn compile_username_equal_to_its_own_id_is_one_consumer() {
        let c = compile(r#"{"consumers": [{"id": "a", "username": "a"}, {"id": "b"}]}"#).unwrap();
        assert_eq!(c.find("a"), Some(Consumers::at(0)));
        let e =
            compile(r#"{"consumers": [{"id": "a", "username": "a"}, {"id": "a"}]}"#).unwrap_err();
        assert_eq!(e.to_string(), "consumers[1].id: duplicate consumer \"a\"");
    }

    #[test]
    fn compile_username_equal_to_other_id_is_refused() {
        // `anonymous` names a consumer by id or username: the two must not collide.
        let e = compile(r#"{"consumers": [{"id": "a"}, {"username": "a"}]}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "consumers[1].username: duplicate consumer \"a\""
        );
    }
}
