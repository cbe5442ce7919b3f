//! Configuration files: `mailrc` (mailx start-up files).

pub mod mailrc;
