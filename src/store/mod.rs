//! The only code that opens mail files: mbox reading, indexing, locking and write-back.
//!
//! - [`from_line`]: the `From_` separator line (RFC 4155 appendix A);
//! - [`mbox`]: the snapshot index, on-demand reads, `check_new`, write-back, `append` and `prepend`;
//! - [`lock`]: dotlock + `fcntl` locking compatible with Postfix, s-nail and bsd-mailx;
//! - `scan` (private): the one-pass streaming indexer;
//! - `rewrite` (private): the crash-safe in-place rewrite and its recovery file;
//! - `critical` (private): signals blocked while a mailbox is locked and written.

pub(crate) mod critical;
pub mod flags;
pub mod from_line;
pub mod lock;
pub mod maildir_view;
pub mod mbox;
mod rewrite;
mod scan;
pub mod uidmap;
pub mod view;
