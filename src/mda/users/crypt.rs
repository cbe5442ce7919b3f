//! Password hashes: checking a password against a stored hash string, and making new hashes
//! for rmail's own user file.
//!
//! Understood formats (the strings `crypt(3)` from libxcrypt and Dovecot write):
//! - `$y$…` yescrypt, Debian 12's default in `/etc/shadow` (crate `yescrypt`);
//! - `$5$…` / `$6$…` SHA-256-crypt / SHA-512-crypt, with an optional `rounds=N` (crate
//!   `sha-crypt`);
//! - `$argon2id$…` (and `argon2i`/`argon2d`) PHC strings, what rmail writes (crate `argon2`);
//! - any of these behind a Dovecot scheme prefix: `{SHA512-CRYPT}$6$…`, `{CRYPT}$y$…`,
//!   `{ARGON2ID}$argon2id$…` (Dovecot passwd-file style, for migrations).
//!
//! Invariants: a locked or disabled hash (`!…`, `*…`, empty, `x`) never matches; an unknown
//! scheme never matches; a hash whose cost parameters would take more than [`MAX_MEMORY`]
//! bytes or an absurd number of rounds is refused instead of computed, so a planted entry
//! cannot exhaust the server; nothing panics on any input.

use argon2::{PasswordHasher, PasswordVerifier};

/// The most memory a stored hash may ask for to be checked (yescrypt, argon2): 256 MiB.
/// Debian's yescrypt default (`j9T`) takes 16 MiB, argon2's default 19 MiB.
pub const MAX_MEMORY: u64 = 256 << 20;

/// The most SHA-crypt rounds a stored hash may ask for (the default is 5,000).
const MAX_SHA_ROUNDS: u32 = 5_000_000;

/// Longer passwords are never checked: SHA-crypt's work grows with the password's length.
const MAX_PASSWORD: usize = 4096;

/// The outcome of checking a password against one stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// The password is right.
    Match,
    /// The password is wrong.
    NoMatch,
    /// The account is locked or has no password (`!`, `*`, empty): never valid.
    Locked,
    /// The hash is of a scheme rmail does not implement, malformed, or too costly; the
    /// text says which (for the log).
    Unsupported(String),
}

/// True when `password` matches the crypt(3)-style or PHC `hash` (formats in the module doc).
/// Locked hashes, unknown schemes and malformed strings give false.
pub fn verify_crypt(hash: &str, password: &str) -> bool {
    check(hash, password.as_bytes()) == Check::Match
}

/// Checks `password` against `hash`, telling why it could not be checked.
pub(crate) fn check(hash: &str, password: &[u8]) -> Check {
    let hash = match strip_scheme(hash) {
        Ok(h) => h,
        Err(c) => return c,
    };
    if hash.is_empty() || hash.starts_with('!') || hash.starts_with('*') || hash == "x" {
        return Check::Locked;
    }
    if password.len() > MAX_PASSWORD {
        return Check::NoMatch;
    }
    let id = hash
        .strip_prefix('$')
        .and_then(|h| h.split('$').next())
        .unwrap_or("");
    let ok = |r: Result<(), argon2::password_hash::Error>| match r {
        Ok(()) => Check::Match,
        Err(argon2::password_hash::Error::PasswordInvalid) => Check::NoMatch,
        Err(e) => Check::Unsupported(format!("malformed hash: {e}")),
    };
    match id {
        "y" => {
            if let Err(why) = yescrypt_cost_ok(hash) {
                return Check::Unsupported(why);
            }
            ok(yescrypt::Yescrypt::default().verify_password(password, hash))
        }
        "5" | "6" => {
            if let Err(why) = sha_crypt_cost_ok(hash) {
                return Check::Unsupported(why);
            }
            ok(sha_crypt::ShaCrypt::default().verify_password(password, hash))
        }
        "argon2id" | "argon2i" | "argon2d" => {
            let phc = match argon2::PasswordHash::new(hash) {
                Ok(p) => p,
                Err(e) => return Check::Unsupported(format!("malformed argon2 hash: {e}")),
            };
            match argon2::Params::try_from(&phc) {
                Ok(p) if u64::from(p.m_cost()) * 1024 <= MAX_MEMORY && p.t_cost() <= 64 => {}
                Ok(_) => return Check::Unsupported("argon2 hash too costly".into()),
                Err(e) => return Check::Unsupported(format!("malformed argon2 hash: {e}")),
            }
            ok(argon2::Argon2::default().verify_password(password, &phc))
        }
        "1" => Check::Unsupported("md5-crypt hashes are not supported".into()),
        "2a" | "2b" | "2y" => Check::Unsupported("bcrypt hashes are not supported".into()),
        "" => Check::Unsupported("unknown password hash format".into()),
        other => Check::Unsupported(format!("unknown password hash scheme ${other}$")),
    }
}

/// Removes a Dovecot `{SCHEME}` prefix naming a crypt-style scheme; other schemes (`{PLAIN}`,
/// `{SSHA}`, …) are refused.
fn strip_scheme(hash: &str) -> Result<&str, Check> {
    let Some(rest) = hash.strip_prefix('{') else {
        return Ok(hash);
    };
    let Some((scheme, hash)) = rest.split_once('}') else {
        return Err(Check::Unsupported("malformed {SCHEME} prefix".into()));
    };
    const CRYPTS: [&str; 6] = [
        "CRYPT",
        "SHA256-CRYPT",
        "SHA512-CRYPT",
        "ARGON2I",
        "ARGON2ID",
        "YESCRYPT",
    ];
    if CRYPTS.iter().any(|c| c.eq_ignore_ascii_case(scheme)) {
        Ok(hash)
    } else {
        let scheme: String = scheme.chars().take(32).collect();
        Err(Check::Unsupported(format!(
            "password scheme {{{scheme}}} is not supported"
        )))
    }
}

/// yescrypt: refuse parameters that would need more than [`MAX_MEMORY`] (128·r·N·p bytes).
fn yescrypt_cost_ok(hash: &str) -> Result<(), String> {
    let field = hash.split('$').nth(2).unwrap_or("");
    let params: yescrypt::Params = field
        .parse()
        .map_err(|e| format!("malformed yescrypt parameters: {e}"))?;
    let bytes = 128u128 * u128::from(params.r()) * u128::from(params.n()) * u128::from(params.p());
    if bytes > u128::from(MAX_MEMORY) {
        return Err("yescrypt hash too costly".into());
    }
    Ok(())
}

/// SHA-crypt: refuse more than [`MAX_SHA_ROUNDS`] rounds.
fn sha_crypt_cost_ok(hash: &str) -> Result<(), String> {
    let field = hash.split('$').nth(2).unwrap_or("");
    match field.strip_prefix("rounds=") {
        Some(n) => match n.parse::<u32>() {
            Ok(n) if n <= MAX_SHA_ROUNDS => Ok(()),
            Ok(_) => Err("sha-crypt hash too costly".into()),
            Err(_) => Err("malformed sha-crypt rounds".into()),
        },
        None => Ok(()),
    }
}

/// A new argon2id PHC string for `password` (argon2 crate defaults: v19, m=19456 KiB, t=2,
/// p=1, 16-byte salt from getrandom(2)), e.g. `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`.
/// Errors: the system's random source failed (text for the caller's error).
pub fn hash_password(password: &str) -> Result<String, String> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checked when a user of the system base does not exist or is locked, so that the time a
/// failed login takes does not tell whether the account exists. A yescrypt hash with Debian
/// 12's default cost; its password is unknown (made with libxcrypt).
pub(crate) const DUMMY_SYSTEM_HASH: &str =
    "$y$j9T$cXNmD1Y8bHqQk4mZpE7wV/$6DDl5HIsFiY1XruN5RgSG3KFg2JWxa/xHt2J8Md/f59";

/// The same for rmail's own user file: an argon2id hash with the default cost (of a random
/// password, thrown away).
pub(crate) const DUMMY_FILE_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$7uZTS98Hp9o83Ow9FuQinQ$S329Lc0Bl7RZxlMY79IBQBEd8p74ZvDmFiN9eTbAkNw";

/// Spends the time a real check of that kind of hash would take, and fails.
pub(crate) fn dummy_check(hash: &str, password: &[u8]) {
    let _ = check(hash, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made at test-writing time with `openssl passwd -6 -salt rmailSalt16chars 'correct horse'`.
    const SHA512: &str = "$6$rmailSalt16chars$uvC6yFH6/UHetrz//2AQ.68B0JEAZdDlrBGoLcePXkprCDNoxqqIbOpAtrEyCe5Hak9s5qD/lLiNYM2Kkm8530";
    // `openssl passwd -5 -salt rmailtest 'correct horse'`
    const SHA256: &str = "$5$rmailtest$IQ.bTLjMVd8arowCGmnmla/U40fatXMPDcfW7hxNRR3";
    // libxcrypt crypt("correct horse", "$5$rounds=10000$rmailtest$")
    const SHA256_ROUNDS: &str =
        "$5$rounds=10000$rmailtest$FRghGMFWuM38vNfkTrtWFRtkiF3AyY4Dw7R4CdV5we7";
    // libxcrypt (Debian 12) crypt("correct horse", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$")
    const YESCRYPT: &str =
        "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79";
    // libxcrypt crypt("päss", "$y$j9T$7xDgE2oVt6yoeZ1iWqlnT/$")
    const YESCRYPT_UTF8: &str =
        "$y$j9T$7xDgE2oVt6yoeZ1iWqlnT/$oIC/yJop36wkJZEfERJpAY2Hzp4mE4qG0fPRzqx6L7/";

    #[test]
    fn sha_crypt_vectors() {
        assert!(verify_crypt(SHA512, "correct horse"));
        assert!(!verify_crypt(SHA512, "correct horse "));
        assert!(!verify_crypt(SHA512, ""));
        assert!(verify_crypt(SHA256, "correct horse"));
        assert!(!verify_crypt(SHA256, "Correct horse"));
        assert!(verify_crypt(SHA256_ROUNDS, "correct horse"));
        assert!(!verify_crypt(SHA256_ROUNDS, "wrong"));
    }

    #[test]
    fn yescrypt_vectors() {
        assert!(verify_crypt(YESCRYPT, "correct horse"));
        assert!(!verify_crypt(YESCRYPT, "correct horsf"));
        assert!(verify_crypt(YESCRYPT_UTF8, "päss"));
        assert!(!verify_crypt(YESCRYPT_UTF8, "pass"));
    }

    #[test]
    fn dovecot_prefixes() {
        assert!(verify_crypt(
            &format!("{{SHA512-CRYPT}}{SHA512}"),
            "correct horse"
        ));
        assert!(verify_crypt(
            &format!("{{crypt}}{YESCRYPT}"),
            "correct horse"
        ));
        assert!(!verify_crypt("{PLAIN}correct horse", "correct horse"));
        assert!(matches!(
            check("{PLAIN}x", b"x"),
            Check::Unsupported(s) if s.contains("PLAIN")
        ));
        assert!(!verify_crypt("{SHA512-CRYPT", "x"));
    }

    #[test]
    fn locked_and_unknown() {
        for h in ["", "!", "*", "!!", "x", "*LK*", &format!("!{SHA512}")] {
            assert_eq!(check(h, b"correct horse"), Check::Locked, "{h}");
            assert!(!verify_crypt(h, "correct horse"));
            assert!(!verify_crypt(h, ""));
        }
        for h in [
            "$1$abc$def",
            "$2b$10$abcdefghijklmnopqrstuu",
            "$7$x$y",
            "abcdefghijklm",
            "$$$",
        ] {
            assert!(matches!(check(h, b"x"), Check::Unsupported(_)), "{h}");
        }
    }

    #[test]
    fn too_costly_hashes_are_refused_not_computed() {
        // N = 2^30 (`j` flavour, Nlog2 'y' = 30 ... any huge value): must return quickly.
        let t = std::time::Instant::now();
        assert!(matches!(
            check(
                "$y$jzT$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79",
                b"x"
            ),
            Check::Unsupported(_)
        ));
        assert!(matches!(
            check("$6$rounds=999999999$salt$abc", b"x"),
            Check::Unsupported(_)
        ));
        assert!(matches!(
            check("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI", b"x"),
            Check::Unsupported(_)
        ));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn argon2_round_trip() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_crypt(&h, "s3cret"));
        assert!(!verify_crypt(&h, "s3cre"));
        assert!(verify_crypt(&format!("{{ARGON2ID}}{h}"), "s3cret"));
        assert_ne!(hash_password("s3cret").unwrap(), h, "salted");
    }

    #[test]
    fn dummies_never_match() {
        for p in ["", "x", "dummy", "password"] {
            assert!(!verify_crypt(DUMMY_SYSTEM_HASH, p));
            assert!(!verify_crypt(DUMMY_FILE_HASH, p));
        }
        assert_eq!(check(DUMMY_SYSTEM_HASH, b"x"), Check::NoMatch);
        assert_eq!(check(DUMMY_FILE_HASH, b"x"), Check::NoMatch);
    }

    #[test]
    fn hostile_hashes_do_not_panic() {
        let long = "a".repeat(10_000);
        let samples = [
            "$",
            "$y$",
            "$y$$$",
            "$y$j9T$$",
            "$y$j9T$x$y$z",
            "$5$",
            "$6$rounds=$x$y",
            "$6$rounds=-1$x$y",
            "$argon2id$",
            "$argon2id$v=99$m=1,t=1,p=1$x$y",
            "{}",
            "{",
            "{CRYPT}",
            "{CRYPT}$y$\u{0}",
            "$y$\u{ff}\u{ff}$a$b",
            &long,
        ];
        for s in samples {
            let _ = check(s, b"pw");
            let _ = check(s, long.as_bytes());
        }
    }
}
