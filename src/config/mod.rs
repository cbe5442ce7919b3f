//! Configuration files: `mailrc` (mailx start-up files), their `account` blocks
//! ([`accounts`]), and the mail provider table ([`presets`]).

pub mod accounts;
pub mod mailrc;
pub mod maincf;
pub mod presets;
