//! The one integration test binary: runs the real `rmail` with HOME, MAIL and MAILRC in a
//! temp dir (see `util`).

mod accounts;
mod compose;
mod conformance;
mod docs;
mod dovecot;
mod fixtures_parse;
mod golden;
mod mailstore;
mod reader;
mod remote_dovecot;
mod remote_imap;
mod remote_pop3;
mod remote_reader;
mod send;
mod serve;
mod session;
mod smtp;
mod util;
