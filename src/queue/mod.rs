//! The mail queue of `rmail serve`: messages accepted by SMTP that are to be relayed, or whose
//! local delivery failed temporarily, wait here between attempts (Postfix's `deferred` queue,
//! simplified).
//!
//! - `qfile`: the queue file format (pure): envelope, delivery state, message bytes.
//! - `spool`: the directory, [`Queue`]: durable enqueue (tmp → fsync → rename → fsync dir,
//!   then the server may answer `250`), atomic updates, back-off, expiry, crash recovery.
//! - `mailq`: the `mailq` listing in Postfix's layout (pure).
//! - `dsn`: non-delivery reports, RFC 3464 in RFC 6522 `multipart/report` (pure).
//!
//! The runner (route, attempt, defer or bounce) sits on top of these and follows the
//! ordering contract described in `spool`.

pub mod dsn;
pub mod mailq;
pub mod qfile;
pub mod spool;

pub use dsn::{bounce, Failure};
pub use mailq::format_mailq;
pub use qfile::{QueueEntry, QueueId, Recipient};
pub use spool::{backoff, expired, Listing, Queue, QueueError};
