//! The only code that opens mail files: mbox reading, indexing, locking and write-back.

pub mod from_line;
pub mod lock;
pub mod mbox;
