//! Wire formats, pure: incremental receivers with size caps, command parsers and reply
//! writers. Nothing here does I/O or imports other modules of the crate except `message`.
//!
//! - [`smtp`]: the SMTP server protocol core (RFC 5321 and extensions), a state machine.

pub mod imap;
pub mod pop3;
pub mod smtp;

#[cfg(test)]
mod golden;
