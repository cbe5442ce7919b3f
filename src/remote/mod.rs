//! Clients for mail kept on other hosts (groundwork for remote folders in the reader,
//! issue 6).
//!
//! - [`pop3`]: a small blocking POP3 client (RFC 1939, with CAPA from RFC 2449, STLS from
//!   RFC 2595 and AUTH PLAIN from RFC 5034), sharing its TLS settings with the SMTP client
//!   ([`crate::send::client::TlsOptions`]).

pub mod pop3;
