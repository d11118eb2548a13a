//! The domain, without I/O: everything here is a pure function or a small
//! value type, tested against published vectors where they exist.
//!
//! Raw user input is parsed into these types at the edge ([`email::Email`],
//! [`code::TotpCode`], [`code::BackupCode`], [`token::Token`]), so nothing
//! below the HTTP and CLI layers handles a string it must distrust.

pub mod backup;
pub mod code;
pub mod email;
pub mod envelope;
pub mod keys;
pub mod password;
pub mod token;
pub mod totp;
pub mod uri;
