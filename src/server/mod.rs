//! `rmail serve`: listeners (bind, drop root, one tokio task per connection, TLS, timeouts)
//! around the protocol cores of [`crate::proto`], and the server's command-line faces
//! ([`cmd`]).

pub mod cmd;
pub mod privsep;
pub mod route;
pub mod tls;
