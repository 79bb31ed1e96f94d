//! PHP's reading of query and form keys (`$_GET`, `$_POST`): it files keys the call shows the
//! auth service apart under one variable, which then holds the last one's value. Binders that
//! ignore case (ASP.NET, Spring) and Spring's `!name` default merge keys the same way.

use crate::stages::urlenc::{fold, php_variable, stripped_keys};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// True when two different keys of `form` (an object of keys to values, as the call shows a
/// query or form) are one variable to PHP: the service is shown both, PHP acts on the later
/// (`?user_id=mine&user.id=victim` is `$_GET['user_id'] == 'victim'`).
///
/// The variable of a key, as PHP 8 reads it (`php_register_variable_ex`): the key up to a NUL,
/// without leading spaces; a `[` that a `]` closes starts the indices (`a[x][y]`; what follows
/// an index but another `[`, and an unclosed last `[`, are ignored), and before it ` ` and `.`
/// are `_`; a `[` that nothing closes is `_`, and ` `, `.`, `[` after it too (`user[id` is
/// `user_id`); an empty name is dropped. Refused: two keys with one variable, or one whose
/// variable holds the other's (`a` and `a[x]`: PHP keeps the later), where an empty index
/// (`a[]`, PHP appends) stands for any index (`a[]` holds `a[0]`), but two keys that both end
/// in one empty index each add an element (`r[][a]`, `r[][b]`). A key repeated as itself is
/// already shown as an array of its values. Keys are compared case-folded ([`fold`]) and
/// without Spring's `!` prefix: `role` and `ROLE`, or `role` and `!role`, are one parameter
/// to ASP.NET or Spring.
pub fn renamed_alike(form: &Value) -> bool {
    let Some(form) = form.as_object() else {
        return false;
    };
    php_merges(form) || stripped_alike(form)
}

/// True when a key, as a reader that strips more than PHP reads it (without a leading `?`,
/// leading spaces, tabs and line breaks: [`stripped_keys`]), is another key's variable:
/// `?role=admin&role=user` is `role=admin` to `new URLSearchParams(url.search.slice(1))`,
/// which strips the query's leading `?`, while the service is shown `role=user` (review
/// helper-101).
fn stripped_alike(form: &Map<String, Value>) -> bool {
    if form.keys().all(|key| stripped_keys(key).next().is_none()) {
        return false;
    }
    // serde_json's `Map`, already in the module, rather than a `BTreeMap` of other types: the
    // `.wasm` is 5.7 KB smaller.
    let variables: Map<String, Value> = form
        .keys()
        .filter_map(|key| Some((variable(key)?.0, Value::String(key.clone()))))
        .collect();
    form.keys().any(|key| {
        stripped_keys(key).any(|stripped| {
            let name = variable(&stripped).map(|(name, _)| name);
            let other = name.and_then(|name| variables.get(&name)?.as_str().map(str::to_owned));
            other.is_some_and(|other| other != *key)
        })
    })
}

/// [`renamed_alike`]'s PHP part (the keys as PHP 8 files them).
fn php_merges(form: &Map<String, Value>) -> bool {
    // `Map` is sorted by key (serde_json without `preserve_order`; a test holds it to that).
    let mut names = Map::new();
    for (name, append) in form.keys().filter_map(|key| variable(key)) {
        match names.entry(name) {
            Entry::Occupied(entry) if append && entry.get() == &Value::Bool(true) => {}
            Entry::Occupied(_) => return true,
            Entry::Vacant(entry) => {
                entry.insert(Value::Bool(append));
            }
        }
    }
    // Sorted, a variable holding others is followed by one of them.
    let mut previous: Option<&String> = None;
    for name in names.keys() {
        let holds = previous.and_then(|p| name.strip_prefix(p.as_str()));
        if holds.is_some_and(|rest| rest.starts_with('\0')) {
            return true;
        }
        previous = Some(name);
    }
    false
}

/// The variable some upstream files `key` under: PHP's, folded, without Spring's `!`.
fn variable(key: &str) -> Option<(String, bool)> {
    php_variable(&fold(key.strip_prefix('!').unwrap_or(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alike(keys: &[&str]) -> bool {
        let form: Map<String, Value> = keys.iter().map(|k| (k.to_string(), json!("v"))).collect();
        renamed_alike(&Value::Object(form))
    }

    #[test]
    fn variable_as_php_files_keys() {
        for (key, want) in [
            ("user_id", Some(("user_id", false))),
            ("user.id", Some(("user_id", false))),
            ("user id", Some(("user_id", false))),
            ("  user_id", Some(("user_id", false))),
            ("user[id", Some(("user_id", false))),
            ("user_id\0junk", Some(("user_id", false))),
            ("a.b[c.d", Some(("a_b_c_d", false))),
            ("a[b[c", Some(("a_b_c", false))),
            ("a.b[c]", Some(("a_b\0c", false))),
            ("a[ x]", Some(("a\0 x", false))),
            ("a[x]junk", Some(("a\0x", false))),
            ("a[x][y", Some(("a\0x", false))),
            ("a[x][y]", Some(("a\0x\0y", false))),
            ("a[x]]", Some(("a\0x", false))),
            ("a[]", Some(("a", true))),
            ("a[ ]", Some(("a", true))),
            ("a[][x]", Some(("a", true))),
            ("a[x][]", Some(("a\0x", true))),
            ("", None),
            ("   ", None),
            ("[x]", None),
            ("[x", None),
            ("\0a", None),
        ] {
            let got = php_variable(key);
            assert_eq!(got.as_ref().map(|(n, a)| (n.as_str(), *a)), want, "{key:?}");
        }
    }

    #[test]
    fn renamed_alike_refuses_keys_php_merges() {
        for keys in [
            &["user_id", "user.id"][..],
            &["user id", "user_id"],
            &["user[id", "user_id"],
            &[" user_id", "user_id"],
            &["user_id", "user_id\0x"],
            &["a[x]", "a[x]junk"],
            &["a[x]", "a.b", "a"],
            &["a", "a[x]"],
            &["a[x]", "a[x][y]"],
            &["a", "a[]"],
            &["a[]", "a[0]"],
            &["a[x][]", "a[x][0][y]"],
            &["User_id", "user_id"],
            &["role", "ROLE"],
            &["role", "!role"],
            &["!Role[x]", "role[x]"],
            &["sid", "\u{17f}id"],
            &["a[x]", "A[X][y]"],
            &["rol\u{e9}", "ROL\u{c9}"],
            &["\u{3b4}", "\u{394}"],
            // Readers that strip a leading `?` (URLSearchParams), spaces (Rack), tabs (WHATWG).
            &["?role", "role"],
            &["?ROLE", "role"],
            &["ro\tle", "role"],
            &["?ro\tle", "role"],
        ] {
            assert!(alike(keys), "{keys:?}");
        }
    }

    #[test]
    fn renamed_alike_lets_distinct_variables_pass() {
        for keys in [
            &["user_id", "user_ids", "userid"][..],
            &["a[x]", "a[y]", "a[x ]", "a[ x]"],
            &["a[]", "a[ ]", "a[][x]"],
            &["r[][a]", "r[][b]"],
            &["a", "a_", "ab", "a0", "a\u{1}"],
            &["", "[x]", "=", " "],
            &["!role", "roles", "!!role", "_role"],
            &["?role", "?roles", "role?"],
        ] {
            assert!(!alike(keys), "{keys:?}");
        }
        assert!(!renamed_alike(&json!([1, 2])));
    }

    /// `renamed_alike` walks a `Map` in key order: serde_json's `preserve_order` would break it.
    #[test]
    fn map_iterates_sorted() {
        let map: Map<String, Value> = ["b", "a\0x", "a"]
            .iter()
            .map(|k| (k.to_string(), Value::Null))
            .collect();
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "a\0x", "b"]);
    }
}
