//! The server's command-line faces: `rmail serve`, `users`, `queue`, `newaliases`,
//! `sendmail`/`mailq`, and the per-user delivery worker `rmail deliver --batch`. Each returns
//! the process exit status (sysexits.h codes for delivery and configuration errors).

use std::path::{Path, PathBuf};

use crate::cli::{QueueAction, UsersAction};

/// sysexits.h `EX_CONFIG`: the configuration is bad.
pub const EX_CONFIG: i32 = 78;
/// sysexits.h `EX_UNAVAILABLE`.
pub const EX_UNAVAILABLE: i32 = 69;

/// What `rmail serve` was asked.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `-c FILE` / `RMAIL_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--daemon`.
    pub daemon: bool,
    /// `--print-config`.
    pub print_config: bool,
    /// `-o key=value`, applied after the file.
    pub overrides: Vec<String>,
}

/// `rmail serve`.
pub fn serve(_opts: ServeOptions) -> i32 {
    eprintln!("rmail serve: not built yet");
    EX_UNAVAILABLE
}

/// `rmail users …`.
pub fn users(_config: Option<&Path>, _action: &UsersAction) -> i32 {
    EX_UNAVAILABLE
}

/// `rmail queue [list|flush|delete ID]`, and `mailq`.
pub fn queue(_config: Option<&Path>, _action: Option<&QueueAction>) -> i32 {
    EX_UNAVAILABLE
}

/// `rmail newaliases`.
pub fn newaliases(_config: Option<&Path>) -> i32 {
    EX_UNAVAILABLE
}

/// `rmail sendmail ARGS…` / invoked as `sendmail`.
pub fn sendmail(_args: &[String]) -> i32 {
    EX_UNAVAILABLE
}

/// `rmail deliver --batch USER`.
pub fn deliver_batch(_user: &str, _mailbox: Option<&Path>, _size_limit: u64) -> i32 {
    EX_UNAVAILABLE
}
