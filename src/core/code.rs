//! Codes as people type them: this module owns turning raw form or JSON input
//! into a six-digit TOTP code or an eight-character backup code. It forgives
//! what phones and keyboards add (spaces, dashes of every kind, full-width
//! characters) and refuses everything else, so the rest of the domain only ever
//! sees well-formed values. Both value types wipe their memory when dropped and
//! never show their contents in debug output, because codes are short-lived
//! secrets that must not end up in logs.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::backup::{ALPHABET, LENGTH as BACKUP_LENGTH};

/// Inputs longer than this are refused before any work is done on them.
///
/// A real code with generous spacing fits easily, and checking the length first
/// means an attacker posting megabytes cannot make us allocate or scan them.
pub const MAX_INPUT_BYTES: usize = 64;

/// The number of digits in a TOTP code.
const TOTP_LENGTH: usize = 6;

/// Why a typed code was refused; the messages are safe to show to the user
/// because they never repeat what was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The input was not six digits once spaces and dashes were removed.
    #[error("the code must be 6 digits")]
    Malformed,

    /// The input was not eight backup-code characters once spaces and dashes were removed.
    #[error("the backup code must be 8 letters and digits")]
    MalformedBackup,
}

/// A six-digit TOTP code, as typed by a user or computed from a secret.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TotpCode(String);

impl TotpCode {
    /// Normalises user input and accepts it only if exactly six ASCII digits remain.
    ///
    /// # Errors
    ///
    /// `CodeError::Malformed` for anything else, including input over 64 bytes.
    pub fn parse(input: &str) -> Result<TotpCode, CodeError> {
        let mut text = normalise(input).ok_or(CodeError::Malformed)?;

        if !is_totp_shape(&text) {
            return Err(CodeError::Malformed);
        }

        Ok(TotpCode(std::mem::take(&mut *text)))
    }

    /// The six digits as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Builds the zero-padded code for a number computed by the HOTP algorithm.
    ///
    /// Only the last six digits are kept, so the result always has the shape
    /// that `parse` guarantees, whatever number it is handed.
    pub(crate) fn from_number(n: u32) -> TotpCode {
        TotpCode(format!("{:06}", n % 1_000_000))
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(******)")
    }
}

/// An eight-character backup code in upper case, drawn from the backup alphabet.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct BackupCode(String);

impl BackupCode {
    /// Normalises user input, upper-cases it, and accepts it only if exactly
    /// eight characters of the backup alphabet remain.
    ///
    /// # Errors
    ///
    /// `CodeError::MalformedBackup` for anything else, including input over 64 bytes.
    pub fn parse(input: &str) -> Result<BackupCode, CodeError> {
        let mut text = normalise(input).ok_or(CodeError::MalformedBackup)?;
        text.make_ascii_uppercase();

        if !is_backup_shape(&text) {
            return Err(CodeError::MalformedBackup);
        }

        Ok(BackupCode(std::mem::take(&mut *text)))
    }

    /// The eight characters as text, without any grouping.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code split into two groups of four, as `ABCD-EFGH`, for showing on screen.
    ///
    /// The dash is only a reading aid; `parse` ignores it when the code is typed back.
    pub fn grouped(&self) -> String {
        let (head, tail) = self
            .0
            .split_at_checked(BACKUP_LENGTH / 2)
            .unwrap_or((&self.0, ""));

        format!("{head}-{tail}")
    }
}

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode(********)")
    }
}

/// Removes separators and folds full-width characters to ASCII, or refuses an
/// over-long input without looking at its contents.
///
/// The buffer is sized to the input up front: removing characters and folding
/// three-byte full-width characters to one-byte ASCII only ever shrinks the
/// text, so it never reallocates and leaves no unwiped copy of the code behind.
fn normalise(input: &str) -> Option<Zeroizing<String>> {
    if input.len() > MAX_INPUT_BYTES {
        return None;
    }

    let mut text = Zeroizing::new(String::with_capacity(input.len()));
    let kept = input.chars().filter(|&c| !is_separator(c));
    kept.map(fold_full_width).for_each(|c| text.push(c));

    Some(text)
}

/// Whether a character is spacing or a dash that people or apps put between
/// groups of digits, and which therefore carries no meaning in a code.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' | '\u{3000}'
        )
}

/// Maps the full-width forms of ASCII (U+FF01 to U+FF5E), which East Asian
/// input methods produce, to the ASCII characters they stand for.
///
/// Digits of other scripts are deliberately left alone so that the shape
/// checks refuse them: they are not what the authenticator app displayed.
fn fold_full_width(c: char) -> char {
    if !('\u{FF01}'..='\u{FF5E}').contains(&c) {
        return c;
    }

    char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
}

/// Whether normalised text is exactly six ASCII digits.
fn is_totp_shape(text: &str) -> bool {
    text.len() == TOTP_LENGTH && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether normalised, upper-cased text is exactly eight backup-alphabet characters.
fn is_backup_shape(text: &str) -> bool {
    text.len() == BACKUP_LENGTH && text.bytes().all(|b| ALPHABET.contains(&b))
}

#[cfg(test)]
// Unwrapping is the clearest way for a test to say "this must succeed".
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn totp(input: &str) -> Result<String, CodeError> {
        TotpCode::parse(input).map(|code| code.as_str().to_owned())
    }

    fn backup(input: &str) -> Result<String, CodeError> {
        BackupCode::parse(input).map(|code| code.as_str().to_owned())
    }

    #[test]
    fn plain_six_digits_are_accepted() {
        assert_eq!(totp("123456").unwrap(), "123456");
        assert_eq!(totp("000000").unwrap(), "000000");
    }

    #[test]
    fn spaces_and_dashes_are_removed() {
        assert_eq!(totp("123 456").unwrap(), "123456");
        assert_eq!(totp("123-456").unwrap(), "123456");
        assert_eq!(totp(" 123456 ").unwrap(), "123456");
        assert_eq!(totp("\t12 34\u{a0}56\n").unwrap(), "123456");
    }

    #[test]
    fn unicode_dashes_are_removed() {
        for dash in [
            '\u{2010}', '\u{2013}', '\u{2015}', '\u{2212}', '\u{FE63}', '\u{FF0D}',
        ] {
            assert_eq!(totp(&format!("123{dash}456")).unwrap(), "123456");
        }
    }

    #[test]
    fn full_width_digits_and_space_are_folded() {
        assert_eq!(totp("１２３４５６").unwrap(), "123456");
        assert_eq!(totp("１２３\u{3000}４５６").unwrap(), "123456");
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert_eq!(totp("12345"), Err(CodeError::Malformed));
        assert_eq!(totp("1234567"), Err(CodeError::Malformed));
        assert_eq!(totp(""), Err(CodeError::Malformed));
        assert_eq!(totp(" - "), Err(CodeError::Malformed));
    }

    #[test]
    fn non_digits_are_refused() {
        assert_eq!(totp("12345a"), Err(CodeError::Malformed));
        assert_eq!(totp("123.456"), Err(CodeError::Malformed));
        assert_eq!(totp("12345😀"), Err(CodeError::Malformed));
        assert_eq!(totp("😀😀😀😀😀😀"), Err(CodeError::Malformed));
    }

    #[test]
    fn digits_of_other_scripts_are_refused() {
        // Arabic-Indic and Devanagari digits are digits, but not ASCII ones.
        assert_eq!(totp("١٢٣٤٥٦"), Err(CodeError::Malformed));
        assert_eq!(totp("१२३४५६"), Err(CodeError::Malformed));
    }

    #[test]
    fn huge_input_is_refused_by_length_alone() {
        let huge = "1".repeat(10 * 1024);
        assert_eq!(totp(&huge), Err(CodeError::Malformed));
        assert_eq!(backup(&huge), Err(CodeError::MalformedBackup));

        // Six valid digits buried in padding that normalisation would strip
        // are still refused: the length guard runs before normalisation.
        let padded = format!("{}123456", " ".repeat(100));
        assert_eq!(totp(&padded), Err(CodeError::Malformed));
    }

    #[test]
    fn length_guard_counts_bytes() {
        let padded = format!("123456{}", " ".repeat(MAX_INPUT_BYTES - 6));
        let too_long = format!("{padded} ");

        assert_eq!(totp(&padded).unwrap(), "123456");
        assert_eq!(totp(&too_long), Err(CodeError::Malformed));
    }

    #[test]
    fn from_number_pads_with_zeros() {
        assert_eq!(TotpCode::from_number(81804).as_str(), "081804");
        assert_eq!(TotpCode::from_number(0).as_str(), "000000");
        assert_eq!(TotpCode::from_number(94287082).as_str(), "287082");
    }

    #[test]
    fn totp_debug_is_redacted() {
        let code = TotpCode::parse("123456").unwrap();

        assert_eq!(format!("{code:?}"), "TotpCode(******)");
    }

    #[test]
    fn backup_lower_case_with_dash_is_upper_cased() {
        assert_eq!(backup("abcd-efgh").unwrap(), "ABCDEFGH");
        assert_eq!(backup("ABCD-EFGH").unwrap(), "ABCDEFGH");
    }

    #[test]
    fn backup_spaces_are_ignored() {
        assert_eq!(backup(" abcd efgh ").unwrap(), "ABCDEFGH");
        assert_eq!(backup("a b c d 2 3 4 5").unwrap(), "ABCD2345");
    }

    #[test]
    fn backup_full_width_is_folded() {
        assert_eq!(backup("ａｂｃｄ－２３４５").unwrap(), "ABCD2345");
    }

    #[test]
    fn backup_wrong_length_is_refused() {
        assert_eq!(backup("ABCDEFG"), Err(CodeError::MalformedBackup));
        assert_eq!(backup("ABCDEFGHJ"), Err(CodeError::MalformedBackup));
        assert_eq!(backup(""), Err(CodeError::MalformedBackup));
    }

    #[test]
    fn backup_ambiguous_characters_are_refused() {
        for input in [
            "ABCDEFG0", "ABCDEFG1", "ABCDEFGI", "ABCDEFGO", "abcdefgi", "abcdefgo",
        ] {
            assert_eq!(backup(input), Err(CodeError::MalformedBackup), "{input}");
        }
    }

    #[test]
    fn backup_symbols_are_refused() {
        assert_eq!(backup("ABCD_EFG"), Err(CodeError::MalformedBackup));
        assert_eq!(backup("ABCDEFG😀"), Err(CodeError::MalformedBackup));
    }

    #[test]
    fn backup_grouped_and_debug() {
        let code = BackupCode::parse("abcdefgh").unwrap();

        assert_eq!(code.grouped(), "ABCD-EFGH");
        assert_eq!(format!("{code:?}"), "BackupCode(********)");
    }

    #[test]
    fn error_messages_do_not_echo_input() {
        let message = TotpCode::parse("98765x").unwrap_err().to_string();

        assert!(!message.contains("98765"));
        assert_eq!(message, "the code must be 6 digits");
    }
}
