//! Where to send a user after signing in or out: a `return_to` address is
//! followed only when it stays on this site, so a link cannot turn the sign-in
//! page into an open redirect.
//!
//! This module only judges and encodes addresses; it never reads cookies or
//! requests. Every caller re-checks a value each time it is used, even one
//! that came back from our own cookie.

/// Where a user lands when no usable `return_to` was given.
pub const DEFAULT: &str = "/settings/security";

/// Longer values are refused: no page of ours needs them, and a bound keeps
/// cookies and headers small.
const MAX_LEN: usize = 512;

/// Returns `candidate` when it is a path on this site, or `None`.
///
/// Browsers read `//host` and `/\host` as another host, and treat a
/// backslash like a slash, so both are refused. Only printable ASCII is
/// accepted: that rules out control characters, which some browsers strip
/// before parsing, and keeps the value valid in a `Location` header.
pub fn safe(candidate: &str) -> Option<&str> {
    let printable = candidate.bytes().all(|b| b.is_ascii_graphic());
    let local = candidate.starts_with('/') && !candidate.starts_with("//");
    let ok = local && printable && !candidate.contains('\\') && candidate.len() <= MAX_LEN;
    ok.then_some(candidate)
}

/// The safe address, or the default page.
pub fn or_default(candidate: Option<&str>) -> &str {
    candidate.and_then(safe).unwrap_or(DEFAULT)
}

/// Percent-encodes a value for a query string, keeping only unreserved
/// characters and `/` as they are, so the address reads well in the bar.
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The sign-in page, carrying `return_to` when there is a safe one.
pub fn login_path(return_to: Option<&str>) -> String {
    match return_to.and_then(safe) {
        Some(path) if path != DEFAULT => format!("/login?return_to={}", encode_query_value(path)),
        _ => "/login".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        for path in [
            "/",
            "/settings/security",
            "/app?x=1&y=%2F#top",
            "/a/b-c_d~e",
        ] {
            assert_eq!(safe(path), Some(path));
        }
    }

    #[test]
    fn other_sites_and_odd_input_are_refused() {
        let bad = [
            "",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "/ok\\..\\x",
            "/a\nLocation: x",
            "/tab\there",
            "/space here",
            "/caf\u{e9}",
            "\u{0}/x",
        ];
        for path in bad {
            assert_eq!(safe(path), None, "{path:?}");
        }
        assert_eq!(safe(&format!("/{}", "a".repeat(MAX_LEN))), None);
    }

    #[test]
    fn the_default_replaces_anything_unsafe() {
        assert_eq!(or_default(Some("//evil.example")), DEFAULT);
        assert_eq!(or_default(None), DEFAULT);
        assert_eq!(or_default(Some("/x")), "/x");
    }

    #[test]
    fn login_links_encode_the_address() {
        assert_eq!(
            login_path(Some("/app?x=1&y=2")),
            "/login?return_to=/app%3Fx%3D1%26y%3D2"
        );
        assert_eq!(login_path(Some("//evil.example")), "/login");
        assert_eq!(login_path(Some(DEFAULT)), "/login");
        assert_eq!(login_path(None), "/login");
    }
}
