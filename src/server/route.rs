//! Recipient routing with Postfix's semantics (postconf(5) `mydestination`,
//! `relay_domains`, `mynetworks`, `smtpd_relay_restrictions`):
//!
//! 1. the domain is in `mydestination` (or there is no domain — RFC 5321 §4.5.1 requires
//!    `postmaster` without one): the local part, minus a `recipient_delimiter` extension, goes
//!    through `alias_maps` and must end at users of the user base, else `550 5.1.1 … User
//!    unknown in local recipient table` at `RCPT` time (never a bounce later);
//! 2. the domain is in `relay_domains` (or a subdomain of one): accepted for relay;
//! 3. otherwise relay only for clients in `mynetworks` and authenticated clients, else
//!    `554 5.7.1 … Relay access denied` — no open relay.
//!
//! `mydestination` matches exactly (as Postfix); `relay_domains` also matches subdomains
//! (Postfix's `parent_domain_matches_subdomains` default).

use crate::mda::aliases::{AliasError, Aliases, ExpandOptions, Target};
use crate::mda::users::{User, UserBase};

/// The settings routing needs (taken from the server configuration).
#[derive(Debug, Clone, Default)]
pub struct RouteConfig {
    /// `mydestination`, lower case.
    pub local_domains: Vec<String>,
    /// `relay_domains`, lower case.
    pub relay_domains: Vec<String>,
    /// `recipient_delimiter`: the characters that start an address extension.
    pub recipient_delimiter: String,
}

/// Where one recipient's mail goes.
#[derive(Debug, Clone)]
pub enum Route {
    /// Local: the users its aliases end at, and remote addresses aliases point to.
    Local {
        /// Users of the user base (mailboxes to write).
        users: Vec<User>,
        /// Addresses outside the local domains that aliases forward to.
        forward: Vec<String>,
    },
    /// Not ours: relay (the caller checked that relaying is allowed).
    Relay,
}

/// A refusal with its SMTP reply code and enhanced status (RFC 3463).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Reply code (4xx temporary, 5xx permanent).
    pub code: u16,
    /// Enhanced status, e.g. `5.1.1`.
    pub enhanced: &'static str,
    /// Reply text.
    pub text: String,
}

/// Routes recipients for the SMTP server and the queue runner.
pub struct Router {
    cfg: RouteConfig,
    aliases: Aliases,
    users: UserBase,
    expand: ExpandOptions,
}

impl Router {
    /// A router over `aliases` and `users`. Alias targets `|command` and `/file` stay
    /// refused (Postfix allows them only for aliases owned by root; rmail not yet).
    pub fn new(cfg: RouteConfig, aliases: Aliases, users: UserBase) -> Router {
        let expand = ExpandOptions {
            allow_commands: false,
            allow_files: false,
            allow_include: true,
            local_domains: cfg.local_domains.clone(),
            recipient_delimiter: cfg.recipient_delimiter.clone(),
        };
        Router {
            cfg,
            aliases,
            users,
            expand,
        }
    }

    /// The user base.
    pub fn users(&self) -> &UserBase {
        &self.users
    }

    /// Whether `domain` is one of `mydestination`.
    pub fn is_local_domain(&self, domain: &str) -> bool {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        self.cfg.local_domains.contains(&d)
    }

    /// Whether `domain` is in `relay_domains` or below one of them.
    pub fn is_relay_domain(&self, domain: &str) -> bool {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        self.cfg.relay_domains.iter().any(|r| {
            d == *r
                || (d.len() > r.len()
                    && d.ends_with(r.as_str())
                    && d[..d.len() - r.len()].ends_with('.'))
        })
    }

    /// The `RCPT` decision for `rcpt` from a client that is (`trusted`) in `mynetworks` or
    /// (`authenticated`) logged in.
    pub fn check(&self, rcpt: &str, trusted: bool, authenticated: bool) -> Result<Route, Refusal> {
        let (local, domain) = split(rcpt);
        if domain.is_none_or(|d| self.is_local_domain(d)) {
            return self.route_local(rcpt, local);
        }
        if self.is_relay_domain(domain.unwrap_or("")) || trusted || authenticated {
            return Ok(Route::Relay);
        }
        Err(Refusal {
            code: 554,
            enhanced: "5.7.1",
            text: format!("<{rcpt}>: Relay access denied"),
        })
    }

    /// The route for a recipient already accepted (the queue runner): like [`Router::check`]
    /// without the relay permission test.
    pub fn route(&self, rcpt: &str) -> Result<Route, Refusal> {
        let (local, domain) = split(rcpt);
        if domain.is_none_or(|d| self.is_local_domain(d)) {
            return self.route_local(rcpt, local);
        }
        Ok(Route::Relay)
    }

    fn route_local(&self, rcpt: &str, local: &str) -> Result<Route, Refusal> {
        let unknown = || Refusal {
            code: 550,
            enhanced: "5.1.1",
            text: format!(
                "<{rcpt}>: Recipient address rejected: User unknown in local recipient table"
            ),
        };
        let temp = |why: String| Refusal {
            code: 451,
            enhanced: "4.3.0",
            text: format!("<{rcpt}>: Temporary lookup failure: {why}"),
        };
        if local.is_empty() {
            return Err(unknown());
        }
        // A quoted local part that needs no quoting ("alice") is the same address (RFC 5321
        // §4.1.2); Postfix folds local parts to lower case before the alias and passwd lookups.
        let local = match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            Some(inner)
                if !inner.is_empty()
                    && inner
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b)) =>
            {
                inner
            }
            _ => local,
        };
        let mut key = local.to_ascii_lowercase();
        // RFC 5321 §4.5.1: postmaster must work; without an alias it is root's mail.
        if key.eq_ignore_ascii_case("postmaster") && !self.aliases.contains("postmaster") {
            key = "root".into();
        }
        let targets = match self.aliases.expand(&key, &self.expand) {
            Ok(t) => t,
            Err(e @ AliasError::Include { .. }) => return Err(temp(e.to_string())),
            Err(e) => {
                return Err(Refusal {
                    code: 550,
                    enhanced: "5.1.1",
                    text: format!("<{rcpt}>: Recipient address rejected: {e}"),
                })
            }
        };
        let (mut users, mut forward) = (Vec::new(), Vec::new());
        for t in targets {
            match t {
                Target::Local(name) => match self.users.lookup(&name) {
                    Ok(Some(u)) => {
                        if !users.iter().any(|x: &User| x.name == u.name) {
                            users.push(u);
                        }
                    }
                    Ok(None) => return Err(unknown()),
                    Err(crate::mda::users::UserError::BadName(..)) => return Err(unknown()),
                    Err(e) => return Err(temp(e.to_string())),
                },
                Target::Remote(a) => forward.push(a),
                // Refused by the expand options; kept for completeness.
                Target::Command(_) | Target::File(_) => return Err(unknown()),
            }
        }
        if users.is_empty() && forward.is_empty() {
            return Err(unknown());
        }
        Ok(Route::Local { users, forward })
    }
}

/// `local@domain` → (local, Some(domain)); no `@` → (whole, None). The last `@` splits, so
/// quoted local parts with `@` stay whole.
pub fn split(addr: &str) -> (&str, Option<&str>) {
    match addr.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (addr, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn router(dir: &Path) -> Router {
        let users = dir.join("users");
        crate::mda::users::add_user(&users, "alice", "pw").unwrap();
        crate::mda::users::add_user(&users, "root", "pw").unwrap();
        let (aliases, diags) = crate::mda::aliases::parse(
            "team: alice, bob@remote.example\nghost: nobody-here\n",
            Path::new("aliases"),
        );
        assert!(diags.is_empty(), "{diags:?}");
        Router::new(
            RouteConfig {
                local_domains: vec!["mail.example.com".into(), "localhost".into()],
                relay_domains: vec!["partner.example".into()],
                recipient_delimiter: "+".into(),
            },
            aliases,
            UserBase::File(users),
        )
    }

    #[test]
    fn postfix_relay_semantics() {
        let d = tempfile::tempdir().unwrap();
        let r = router(d.path());
        assert!(matches!(
            r.check("alice@mail.example.com", false, false),
            Ok(Route::Local { .. })
        ));
        assert!(matches!(
            r.check("ALICE+lists@LOCALHOST", false, false),
            Ok(Route::Local { .. })
        ));
        let e = r.check("carol@localhost", false, false).unwrap_err();
        assert_eq!((e.code, e.enhanced), (550, "5.1.1"));
        assert!(e.text.contains("User unknown"), "{e:?}");
        assert!(matches!(
            r.check("x@partner.example", false, false),
            Ok(Route::Relay)
        ));
        assert!(matches!(
            r.check("x@mx.partner.example", false, false),
            Ok(Route::Relay)
        ));
        assert!(r.check("x@notpartner.example", false, false).is_err());
        let e = r.check("x@elsewhere.example", false, false).unwrap_err();
        assert_eq!((e.code, e.enhanced), (554, "5.7.1"));
        assert!(matches!(
            r.check("x@elsewhere.example", true, false),
            Ok(Route::Relay)
        ));
        assert!(matches!(
            r.check("x@elsewhere.example", false, true),
            Ok(Route::Relay)
        ));
        // mydestination does not match subdomains.
        assert!(r.check("alice@sub.localhost", false, false).is_err());
    }

    #[test]
    fn aliases_and_postmaster() {
        let d = tempfile::tempdir().unwrap();
        let r = router(d.path());
        match r.check("team@localhost", false, false).unwrap() {
            Route::Local { users, forward } => {
                assert_eq!(users.len(), 1);
                assert_eq!(users[0].name, "alice");
                assert_eq!(forward, ["bob@remote.example"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(r.check("ghost@localhost", false, false).is_err());
        match r.check("postmaster", false, false).unwrap() {
            Route::Local { users, .. } => assert_eq!(users[0].name, "root"),
            other => panic!("{other:?}"),
        }
    }
}
