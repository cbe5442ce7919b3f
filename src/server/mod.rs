//! `rmail serve`: listeners (bind, drop root, one tokio task per connection, TLS, timeouts)
//! around the protocol cores of [`crate::proto`], and the server's command-line faces
//! ([`cmd`]).

pub mod cmd;
pub mod conn;
pub mod deliver;
pub mod imapd;
pub mod log;
pub mod mailbox;
pub mod pop3d;
pub mod privsep;
pub mod relay;
pub mod route;
pub mod run;
pub mod runner;
pub mod session;
pub mod smtpd;
pub mod tls;
