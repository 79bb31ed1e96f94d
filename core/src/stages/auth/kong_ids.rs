//! The id Kong gives a consumer that a declarative `kong.yml` declares without one (DB-less
//! mode), so `X-Consumer-ID` is the value Kong sends for the same file.
//!
//! Kong 3.4 to 3.10 (`kong/db/schema/others/declarative_config.lua`: `generate_ids`,
//! `get_key_for_uuid_gen`, `generate_uuid`) derives a name-based UUID v5 (SHA-1, RFC 9562 §5.5)
//! for an entity without a primary key when it can name the entity: the namespace is the v5 UUID
//! of the schema's name under `fd02801f-0957-4a15-a55a-c8d9606f30b5`, and the name is the
//! entity's key. A consumer's key is its `username` as it is: the field is `unique`, so Kong
//! appends neither a parent's key nor a workspace (`:<ws_id>` is only for keys unique per
//! parent). The same `username` gives the same id on every worker and every load.
//!
//! Where Kong cannot name the entity it draws a random id at every load, and the filter sends
//! none: a consumer with only `custom_id`, and every key-auth credential without `id` (its cache
//! key is `key`, an `auto` field, so `build_cache_key` gives up and `X-Credential-Identifier`,
//! the credential's id in Kong, is random).

use uuid::Uuid;

/// The root of Kong's declarative ids (`uuid_generators._entities`).
const ENTITIES: Uuid = Uuid::from_u128(0xfd02801f_0957_4a15_a55a_c8d9606f30b5);

/// The id Kong 3.4–3.10 gives a consumer declared with `username` and without `id`: lower-case,
/// hyphenated, as lua-resty-jit-uuid writes it.
pub fn consumer_id(username: &str) -> String {
    entity_id("consumers", username)
}

/// Kong's `generate_uuid(schema_name, key)`.
fn entity_id(schema_name: &str, key: &str) -> String {
    let namespace = Uuid::new_v5(&ENTITIES, schema_name.as_bytes());
    Uuid::new_v5(&namespace, key.as_bytes())
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed with Python's standard library, independently of Kong and of the `uuid`
    // crate:
    //   ns = uuid.uuid5(uuid.UUID("fd02801f-0957-4a15-a55a-c8d9606f30b5"), "consumers")
    //   uuid.uuid5(ns, name)

    #[test]
    fn entity_id_consumers_namespace_is_v5_of_the_schema_name() {
        let ns = Uuid::new_v5(&ENTITIES, b"consumers");
        assert_eq!(ns.to_string(), "7e5adc17-c056-5c54-98c0-7f88774fccf6");
    }

    #[test]
    fn consumer_id_username_gives_python_uuid5() {
        for (username, id) in [
            ("alice", "b32379d9-3d28-5683-a79c-72139be6e34f"),
            ("bob", "def4f7d3-9863-5ad2-8fa9-c949bf26f55e"),
            ("Alice", "38e023b9-b7c3-5dec-adc1-a9127fd365af"),
            // UTF-8 bytes, as Lua hashes the string.
            ("zoë", "e9fd01ef-9bd8-5f9e-806c-bc5fd2c8869b"),
        ] {
            assert_eq!(consumer_id(username), id, "{username}");
        }
    }

    #[test]
    fn consumer_id_matches_the_pairs_in_kong_spec() {
        // Kong's spec/02-integration/04-admin_api/15-off_spec.lua declares these consumers with
        // these ids (3.4.0 to 3.10), ids derived outside the filter: the first comes from a Kong
        // Ingress Controller configuration (issue #10767; the controller fills ids with go-kong's
        // `Consumer.FillID`, the same derivation). Both hash the bare username, no `:*` suffix.
        for (username, id) in [
            (
                "774f8446-6427-43f9-9962-ce7ab8097fe4",
                "68d5de9f-2211-5ed8-b827-22f57a492d0f",
            ),
            ("my-user", "4b1b701d-de2b-5588-9aa2-3b97061d9f52"),
        ] {
            assert_eq!(consumer_id(username), id, "{username}");
        }
    }
}
