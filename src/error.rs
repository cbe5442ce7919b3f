//! Exit statuses shared by every subcommand.
//!
//! Like POSIX mailx and s-nail: 0 success, 1 "no mail" or a failed command, 64 (`EX_USAGE`)
//! for usage errors.

/// Success.
pub const EXIT_OK: i32 = 0;
/// No mail, or a command failed (POSIX mailx).
pub const EXIT_FAIL: i32 = 1;
/// Usage error (sysexits `EX_USAGE`, as s-nail).
pub const EXIT_USAGE: i32 = 64;
