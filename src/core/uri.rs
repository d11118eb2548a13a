//! Provisioning URIs: this module owns the `otpauth://totp/…` text that a QR
//! code carries to an authenticator app. It writes exactly what ROTP 6.2.0
//! writes, so users moving from the parity product see the same entry in their
//! apps: a colon in the issuer or account becomes `_` (a colon would split the
//! label in the wrong place), every byte outside `[A-Za-z0-9_.~-]` is
//! percent-encoded, and the algorithm, digits and period appear only when they
//! differ from the SHA1, 6 and 30 that every app assumes.

use data_encoding::HEXUPPER;

/// The URI for the defaults this server uses: SHA-1, six digits, 30 seconds.
#[must_use]
pub fn provisioning_uri(issuer: Option<&str>, account: &str, secret_base32: &str) -> String {
    provisioning_uri_with(issuer, account, secret_base32, "SHA1", 6, 30)
}

/// The URI for any parameters, naming only those that differ from the defaults.
///
/// Parameters come in ROTP's order: secret, issuer, algorithm, digits, period.
/// The algorithm is compared without regard to case and written in upper case,
/// as apps expect `SHA256` rather than `sha256`.
#[must_use]
pub fn provisioning_uri_with(
    issuer: Option<&str>,
    account: &str,
    secret_base32: &str,
    algorithm: &str,
    digits: u32,
    period: u64,
) -> String {
    let mut params = vec![("secret", percent_encode(secret_base32))];
    params.extend(issuer.map(|issuer| ("issuer", label_part(issuer))));
    params.extend(non_default_parameters(algorithm, digits, period));

    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();

    format!(
        "otpauth://totp/{}?{}",
        label(issuer, account),
        query.join("&")
    )
}

/// `Issuer:account`, or just the account when there is no issuer.
fn label(issuer: Option<&str>, account: &str) -> String {
    match issuer {
        Some(issuer) => format!("{}:{}", label_part(issuer), label_part(account)),
        None => label_part(account),
    }
}

/// One side of the label, with colons made harmless and the rest percent-encoded.
fn label_part(text: &str) -> String {
    percent_encode(&text.replace(':', "_"))
}

/// The `algorithm`, `digits` and `period` parameters, each only when not the default.
fn non_default_parameters(
    algorithm: &str,
    digits: u32,
    period: u64,
) -> Vec<(&'static str, String)> {
    let algorithm = (!algorithm.eq_ignore_ascii_case("SHA1"))
        .then(|| ("algorithm", percent_encode(&algorithm.to_ascii_uppercase())));
    let digits = (digits != 6).then(|| ("digits", digits.to_string()));
    let period = (period != 30).then(|| ("period", period.to_string()));

    [algorithm, digits, period].into_iter().flatten().collect()
}

/// Percent-encodes every UTF-8 byte that is not unreserved in RFC 3986, using
/// upper-case hex as ROTP does.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());

    for byte in text.bytes() {
        if is_unreserved(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            HEXUPPER.encode_append(&[byte], &mut encoded);
        }
    }

    encoded
}

/// The characters RFC 3986 lets through unencoded anywhere in a URI.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'~' | b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    #[test]
    fn plain_account_with_issuer() {
        assert_eq!(
            provisioning_uri(Some("Chatwoot"), "agent@example.com", SECRET),
            "otpauth://totp/Chatwoot:agent%40example.com\
             ?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Chatwoot"
        );
    }

    #[test]
    fn plus_sign_is_encoded() {
        assert_eq!(
            provisioning_uri(Some("Chatwoot"), "a+b@example.com", SECRET),
            "otpauth://totp/Chatwoot:a%2Bb%40example.com\
             ?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Chatwoot"
        );
    }

    #[test]
    fn colons_become_underscores() {
        assert_eq!(
            provisioning_uri(Some("Acme: Inc"), "user:name@x.io", SECRET),
            "otpauth://totp/Acme_%20Inc:user_name%40x.io\
             ?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme_%20Inc"
        );
    }

    #[test]
    fn non_ascii_is_encoded_as_utf8_bytes() {
        assert_eq!(
            provisioning_uri(Some("Big Corp"), "José Ñ@x.io", SECRET),
            "otpauth://totp/Big%20Corp:Jos%C3%A9%20%C3%91%40x.io\
             ?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Big%20Corp"
        );
    }

    #[test]
    fn no_issuer() {
        assert_eq!(
            provisioning_uri(None, "agent@example.com", SECRET),
            "otpauth://totp/agent%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        );
    }

    #[test]
    fn non_default_parameters() {
        assert_eq!(
            provisioning_uri_with(Some("X"), "a@b.c", SECRET, "SHA256", 8, 60),
            "otpauth://totp/X:a%40b.c?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\
             &issuer=X&algorithm=SHA256&digits=8&period=60"
        );
    }

    #[test]
    fn default_parameters_are_left_out() {
        let explicit = provisioning_uri_with(Some("X"), "a@b.c", SECRET, "sha1", 6, 30);

        assert_eq!(explicit, provisioning_uri(Some("X"), "a@b.c", SECRET));
    }

    #[test]
    fn each_parameter_appears_on_its_own() {
        let base = "otpauth://totp/a?secret=S";

        assert_eq!(
            provisioning_uri_with(None, "a", "S", "sha512", 6, 30),
            format!("{base}&algorithm=SHA512")
        );
        assert_eq!(
            provisioning_uri_with(None, "a", "S", "SHA1", 8, 30),
            format!("{base}&digits=8")
        );
        assert_eq!(
            provisioning_uri_with(None, "a", "S", "SHA1", 6, 60),
            format!("{base}&period=60")
        );
    }

    #[test]
    fn unreserved_characters_pass_through() {
        assert_eq!(percent_encode("Az09_.~-"), "Az09_.~-");
        assert_eq!(percent_encode("/?#&=% "), "%2F%3F%23%26%3D%25%20");
        assert_eq!(percent_encode("😀"), "%F0%9F%98%80");
    }
}
