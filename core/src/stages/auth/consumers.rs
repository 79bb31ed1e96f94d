//! The runtime consumer registry, compiled from the `consumers` section.

use super::kong_ids;
use crate::config::{ConfigError, ConsumerSection};
use std::collections::HashMap;

/// A consumer as the upstream sees it (`X-Consumer-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    /// `X-Consumer-ID`: the configured `id`, else the one Kong derives from `username` (so
    /// always set: a consumer needs one or the other).
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
    /// Checks each consumer has an `id` or `username`, gives one declared without `id` the id
    /// Kong gives it in DB-less mode (derived from `username`: the same on every worker and
    /// load), and checks that no other consumer has that id or username (a consumer whose
    /// username equals its own id names one consumer, as in Kong). A derived id counts as an
    /// id: Kong refuses a `kong.yml` where it equals another consumer's id (`uniqueness
    /// violation`), and `anonymous` could not tell it from an equal username.
    pub fn compile(sections: &[ConsumerSection]) -> Result<Self, ConfigError> {
        // Each id and username, with the consumer that has it and whether it is a derived id.
        let mut seen: HashMap<String, (usize, bool)> = HashMap::new();
        // `X-Consumer-Custom-ID`: unique, as in Kong's schema (review helper-109: two consumers
        // could pass for one tenant). `seen`'s type, its flag unused: no other instance of the
        // map's code in the module.
        let mut custom_ids: HashMap<String, (usize, bool)> = HashMap::new();
        let mut list = Vec::with_capacity(sections.len());
        for (i, c) in sections.iter().enumerate() {
            let path = format!("consumers[{i}]");
            if c.id.is_none() && c.username.is_none() {
                return Err(ConfigError::new(path, "needs an id or a username"));
            }
            if let Some(custom) = c.custom_id.as_deref() {
                if let Some((first, _)) = custom_ids.insert(custom.to_owned(), (i, false)) {
                    let problem = format!("duplicate custom_id {custom:?} (consumers[{first}])");
                    return Err(ConfigError::new(format!("{path}.custom_id"), problem));
                }
            }
            let derived = c.id.is_none();
            let id =
                c.id.clone()
                    .or_else(|| c.username.as_deref().map(kong_ids::consumer_id));
            for (field, value, is_derived) in
                [("id", &id, derived), ("username", &c.username, false)]
            {
                let Some(v) = value else { continue };
                if v.is_empty() {
                    return Err(ConfigError::new(
                        format!("{path}.{field}"),
                        "must not be empty",
                    ));
                }
                let (first, first_derived) = *seen.entry(v.clone()).or_insert((i, is_derived));
                if first == i {
                    continue;
                }
                // A derived id is reported at the `username` it comes from.
                let field = if is_derived { "username" } else { field };
                let problem = match (is_derived, first_derived) {
                    (false, false) => format!("duplicate consumer {v:?}"),
                    (true, _) => format!(
                        "duplicate consumer {v:?} (the id Kong derives from this username)"
                    ),
                    (false, true) => format!(
                        "duplicate consumer {v:?} (the id Kong derives from consumers[{first}].username)"
                    ),
                };
                return Err(ConfigError::new(format!("{path}.{field}"), problem));
            }
            list.push(Consumer {
                id,
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
    fn compile_duplicate_custom_id_is_refused() {
        let config =
            r#"{"consumers": [{"id": "a", "custom_id": "t-1"}, {"id": "b", "custom_id": "t-1"}]}"#;
        let e = compile(config).unwrap_err();
        assert_eq!(
            e.to_string(),
            "consumers[1].custom_id: duplicate custom_id \"t-1\" (consumers[0])"
        );
        // Another consumer's id as a custom_id is Kong's too: the fields are apart.
        assert!(compile(r#"{"consumers": [{"id": "a", "custom_id": "b"}, {"id": "b"}]}"#).is_ok());
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

    // Ids computed with Python's standard library (see kong_ids.rs):
    //   uuid.uuid5(uuid.uuid5(uuid.UUID("fd02801f-0957-4a15-a55a-c8d9606f30b5"), "consumers"), u)
    const ALICE_ID: &str = "b32379d9-3d28-5683-a79c-72139be6e34f";
    const BOB_ID: &str = "def4f7d3-9863-5ad2-8fa9-c949bf26f55e";

    fn id_of(c: &Consumers, i: usize) -> Option<&str> {
        c.get(Consumers::at(i)).and_then(|c| c.id.as_deref())
    }

    #[test]
    fn compile_consumer_without_id_gets_the_id_kong_derives() {
        let c = compile(
            r#"{"consumers": [{"username": "alice"}, {"username": "bob", "custom_id": "x"}]}"#,
        )
        .unwrap();
        assert_eq!(id_of(&c, 0), Some(ALICE_ID));
        assert_eq!(id_of(&c, 1), Some(BOB_ID));
        // `anonymous` may name the consumer by its derived id, as in Kong.
        assert_eq!(c.find(ALICE_ID), Some(Consumers::at(0)));
    }

    #[test]
    fn compile_explicit_id_wins_over_the_derived_one() {
        let c = compile(r#"{"consumers": [{"id": "c-1", "username": "alice"}]}"#).unwrap();
        assert_eq!(id_of(&c, 0), Some("c-1"));
        assert_eq!(c.find(ALICE_ID), None);
    }

    #[test]
    fn compile_explicit_id_equal_to_a_derived_id_is_refused() {
        // Kong refuses the same `kong.yml`: "uniqueness violation: 'consumers' entity with
        // primary key set to '<id>' already declared". Either order.
        let e = compile(&format!(
            r#"{{"consumers": [{{"username": "alice"}}, {{"id": "{ALICE_ID}", "username": "b"}}]}}"#
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "consumers[1].id: duplicate consumer \"{ALICE_ID}\" (the id Kong derives from \
                 consumers[0].username)"
            )
        );
        let e = compile(&format!(
            r#"{{"consumers": [{{"id": "{ALICE_ID}", "username": "b"}}, {{"username": "alice"}}]}}"#
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "consumers[1].username: duplicate consumer \"{ALICE_ID}\" (the id Kong derives \
                 from this username)"
            )
        );
    }

    #[test]
    fn compile_username_equal_to_a_derived_id_is_refused() {
        // As for an explicit id: `anonymous` could not tell the two consumers apart.
        let e = compile(&format!(
            r#"{{"consumers": [{{"username": "alice"}}, {{"username": "{ALICE_ID}"}}]}}"#
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "consumers[1].username: duplicate consumer \"{ALICE_ID}\" (the id Kong derives \
                 from consumers[0].username)"
            )
        );
    }
}
