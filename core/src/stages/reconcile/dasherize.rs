//! jwt-reconcile's `dasherize`, byte for byte.

/// Turns an answer key into a header name exactly as jwt-reconcile does; the header of key `k`
/// is `dasherize(prefix + k)`.
///
/// The plugin's Lua, in the C locale (so "letter" means ASCII letter):
/// 1. `gsub('(%l)(%u)', '%1-%2')`: a `-` between a lower-case letter and an upper-case one;
/// 2. `gsub('%W+', '-')`: every run of characters other than ASCII letters and digits (`_`,
///    `-`, `.`, spaces, every byte of a non-ASCII character) becomes one `-`;
/// 3. lower-case everything;
/// 4. upper-case the first letter of each `-`-separated word.
///
/// So `userId` -> `User-Id`, `tenant_id` -> `Tenant-Id`, `accountID` -> `Account-Id`, `x-` +
/// `role` -> `X-Role`, `userID2` -> `User-Id2`. Unlike Rails, a run of capitals followed by a
/// word is not split (`HTTPServer` -> `Httpserver`), and leading or trailing separators stay
/// (`_id` -> `-Id`): header names must match the plugin's, not Rails'. The result holds only
/// ASCII letters, digits and `-`, and is empty only for empty input.
pub fn dasherize(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(bytes.len() + 4);
    let mut in_separator = false;
    let mut word_start = true;
    for (i, &b) in bytes.iter().enumerate() {
        let boundary = b.is_ascii_uppercase()
            && i.checked_sub(1)
                .and_then(|p| bytes.get(p))
                .is_some_and(u8::is_ascii_lowercase);
        if boundary && !in_separator {
            // Step 1's inserted `-`; it stands alone since `b` is a letter.
            out.push('-');
            word_start = true;
        }
        if b.is_ascii_alphanumeric() {
            let c = char::from(b.to_ascii_lowercase());
            out.push(if word_start {
                c.to_ascii_uppercase()
            } else {
                c
            });
            in_separator = false;
            word_start = false;
        } else if !in_separator {
            out.push('-');
            in_separator = true;
            word_start = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cases: &[(&str, &str)]) {
        for (input, want) in cases {
            assert_eq!(dasherize(input), *want, "dasherize({input:?})");
        }
    }

    #[test]
    fn dasherize_issue_examples_match_plugin() {
        check(&[
            ("userId", "User-Id"),
            ("tenant_id", "Tenant-Id"),
            ("accountID", "Account-Id"),
            ("x-role", "X-Role"),
        ]);
    }

    #[test]
    fn dasherize_prefix_joins_before_rule() {
        let header = |prefix: &str, key: &str| dasherize(&format!("{prefix}{key}"));
        assert_eq!(header("x-", "role"), "X-Role");
        assert_eq!(header("X-Auth-", "userId"), "X-Auth-User-Id");
        assert_eq!(header("x_", "_id"), "X-Id");
        assert_eq!(header("x", "Role"), "X-Role");
        assert_eq!(header("", "role"), "Role");
    }

    #[test]
    fn dasherize_capital_runs_and_digits_follow_lua() {
        check(&[
            ("userID2", "User-Id2"),
            ("HTTPServer", "Httpserver"),
            ("getHTTPResponse", "Get-Httpresponse"),
            ("user2Id", "User2id"),
            ("x2Y", "X2y"),
            ("2fa", "2fa"),
            ("ID", "Id"),
            ("aBcD", "A-Bc-D"),
            ("ABC", "Abc"),
        ]);
    }

    #[test]
    fn dasherize_separator_runs_collapse() {
        check(&[
            ("a__b", "A-B"),
            ("a-_-b", "A-B"),
            ("already-Dashed", "Already-Dashed"),
            ("Already-Dashed", "Already-Dashed"),
            ("user.name", "User-Name"),
            ("a b", "A-B"),
            ("aB_c", "A-B-C"),
            ("a_B", "A-B"),
            ("_id", "-Id"),
            ("id_", "Id-"),
            ("__", "-"),
        ]);
    }

    #[test]
    fn dasherize_non_ascii_becomes_separator_without_panic() {
        check(&[
            ("", ""),
            ("ünïcode", "-N-Code"),
            ("日本", "-"),
            ("naïveUser", "Na-Ve-User"),
            ("a\u{0}b", "A-B"),
            ("é", "-"),
        ]);
        let long = "aB_".repeat(10_000);
        assert!(dasherize(&long).starts_with("A-B-A-B"));
    }

    #[test]
    fn dasherize_output_is_token_chars_only() {
        for input in ["userId", "ü x", "a\r\nb", ":authority", "a:b/c"] {
            let out = dasherize(input);
            assert!(
                out.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                "{out}"
            );
        }
        assert_eq!(dasherize(":authority"), "-Authority");
    }
}
