//! The mail model shared by the reader and (later) the server. No I/O.
//!
//! - [`charset`]: charset labels → UTF-8 (WHATWG labels via `encoding_rs`, plus aliases).
//! - [`header`]: header blocks, unfolding, RFC 2047 encoded-words, RFC 2231 parameters.
//! - [`address`]: RFC 5322 addresses, as far as the header summary needs them.
//! - [`date`]: RFC 5322 `Date:` and `From_` line dates.
//! - [`mime`]: MIME part tree → text for the terminal (RFC 2045–2049), part listing.
//! - [`envelope`]: the SMTP envelope (sender, recipients).
//! - [`compose`]: draft → RFC 5322/MIME bytes and the SMTP envelope (RFC 2047, RFC 2231).
//!
//! Nothing here does I/O or imports other modules of the crate, and no function fails or
//! panics on hostile input (see the `fuzz` tests).

pub mod address;
pub mod charset;
pub mod compose;
pub mod date;
pub mod envelope;
pub mod header;
pub mod imap;
pub mod mime;

#[cfg(test)]
mod fuzz;
