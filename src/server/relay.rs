//! The relay client (Postfix's smtp(8)): hands queued mail for remote recipients to the next
//! hop — `relayhost` when set, else the recipient domain's A/AAAA address on port 25 (no MX
//! lookup yet: this host kind has no DNS; see the README) — with `smtp_tls_security_level`,
//! `smtp_tls_wrappermode` and `smtp_sasl_password_maps` as Postfix reads them. Blocking: the
//! runner calls it on a blocking thread.

use std::path::Path;
use std::time::Duration;

use crate::config::maincf::{Relayhost, SmtpTlsLevel};
use crate::send::client::{Client, ClientError, Sasl, TlsOptions};

/// Relay settings from the configuration.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `relayhost`.
    pub relayhost: Option<Relayhost>,
    /// The EHLO name (`myhostname`).
    pub hello: String,
    /// `smtp_tls_security_level`.
    pub tls_level: SmtpTlsLevel,
    /// `smtp_tls_wrappermode`: TLS from the first byte (port 465).
    pub wrapper: bool,
    /// `smtp_sasl_auth_enable` + the `smtp_sasl_password_maps` entry for the next hop.
    pub sasl: Option<(String, String)>,
    /// `smtp_tls_CAfile`: PEM of extra trusted CAs.
    pub ca_pem: Option<Vec<u8>>,
    /// Connect and per-reply timeout.
    pub timeout: Duration,
}

/// One recipient's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptResult {
    /// The next hop took it (`250`).
    Sent(String),
    /// Try later (4xx, connection or TLS trouble).
    Deferred(String),
    /// Never (5xx).
    Bounced(String),
}

/// Reads the password map entry for `relayhost` (`[host]:port user:password` lines; the
/// key as written in `relayhost`, then the bare host). `None` when there is none.
pub fn password_for(map: &Path, relay: &Relayhost) -> Option<(String, String)> {
    let text = std::fs::read_to_string(map).ok()?;
    let keys = [
        if relay.mx_lookup {
            format!("{}:{}", relay.host, relay.port)
        } else {
            format!("[{}]:{}", relay.host, relay.port)
        },
        format!("[{}]", relay.host),
        relay.host.clone(),
    ];
    for key in keys {
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let mut it = line.splitn(2, char::is_whitespace);
            if it.next().is_some_and(|k| k.eq_ignore_ascii_case(&key)) {
                let cred = it.next()?.trim();
                let (u, p) = cred.split_once(':')?;
                return Some((u.to_owned(), p.to_owned()));
            }
        }
    }
    None
}

/// Sends `message` from `sender` to `rcpts` (all for the same next hop, `domain` when there
/// is no relayhost). Returns one result per recipient, in order.
pub fn relay(
    cfg: &RelayConfig,
    domain: &str,
    sender: &str,
    rcpts: &[String],
    message: &[u8],
) -> Vec<RcptResult> {
    let (host, port) = match &cfg.relayhost {
        Some(r) => (r.host.clone(), r.port),
        None => (
            domain
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            25,
        ),
    };
    let all = |r: RcptResult| rcpts.iter().map(|_| r.clone()).collect::<Vec<_>>();
    let describe = |e: &ClientError| match e {
        ClientError::Reply(r) => format!("host {host}[{port}] said: {r}"),
        other => format!("connect to {host}[{port}]: {other}"),
    };
    let fail = |e: ClientError| {
        let text = describe(&e);
        if e.is_transient() {
            all(RcptResult::Deferred(text))
        } else {
            all(RcptResult::Bounced(text))
        }
    };
    let verify = matches!(cfg.tls_level, SmtpTlsLevel::Verify | SmtpTlsLevel::Secure);
    let tls = TlsOptions {
        ca_pem: cfg.ca_pem.clone(),
        accept_invalid: !verify,
    };
    let implicit = cfg.wrapper.then_some(&tls);
    let mut c = match Client::connect(&host, port, cfg.timeout, implicit) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = c.hello(&cfg.hello) {
        return fail(e);
    }
    if !c.is_encrypted() && cfg.tls_level != SmtpTlsLevel::None {
        if c.extensions.has("STARTTLS") {
            if let Err(e) = c.starttls(&tls, &cfg.hello) {
                return fail(e);
            }
        } else if cfg.tls_level != SmtpTlsLevel::May {
            return all(RcptResult::Deferred(format!(
                "TLS is required, but host {host}[{port}] did not offer STARTTLS"
            )));
        }
    }
    if let Some((user, pass)) = &cfg.sasl {
        if !c.is_encrypted() {
            return all(RcptResult::Deferred(format!(
                "refusing to send the SASL password to {host}[{port}] in cleartext"
            )));
        }
        let offered = c.extensions.auth_mechanisms();
        let sasl = if offered.iter().any(|m| m == "PLAIN") || !offered.iter().any(|m| m == "LOGIN")
        {
            Sasl::Plain(user.clone(), pass.clone())
        } else {
            Sasl::Login(user.clone(), pass.clone())
        };
        if let Err(e) = c.auth(&sasl) {
            // A refused login is our configuration's fault: keep the mail and retry.
            return all(RcptResult::Deferred(format!(
                "SASL authentication failed: {}",
                describe(&e)
            )));
        }
    }
    let mut params = Vec::new();
    if !message.is_ascii() && c.extensions.has("8BITMIME") {
        params.push("BODY=8BITMIME");
    }
    if let Err(e) = c.mail(sender, &params) {
        return fail(e);
    }
    let mut results: Vec<Option<RcptResult>> = Vec::with_capacity(rcpts.len());
    let mut accepted = 0;
    for r in rcpts {
        match c.rcpt(r) {
            Ok(reply) if reply.code == 250 || reply.code == 251 => {
                accepted += 1;
                results.push(None);
            }
            Ok(reply) => {
                let text = format!("host {host}[{port}] said: {reply}");
                results.push(Some(if reply.is_transient() {
                    RcptResult::Deferred(text)
                } else {
                    RcptResult::Bounced(text)
                }));
            }
            Err(e) => return fail(e),
        }
    }
    if accepted > 0 {
        let outcome = match c.data(message) {
            Ok(reply) => RcptResult::Sent(format!("{host}[{port}] said: {reply}")),
            Err(e) => {
                let text = describe(&e);
                if e.is_transient() {
                    RcptResult::Deferred(text)
                } else {
                    RcptResult::Bounced(text)
                }
            }
        };
        for r in results.iter_mut().filter(|r| r.is_none()) {
            *r = Some(outcome.clone());
        }
    }
    c.quit();
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| RcptResult::Deferred("no result".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_map_lookup() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sasl_passwd");
        std::fs::write(
            &p,
            "# comment\n[smtp.qq.com]:465 alice@qq.com:code123\nrelay.example bob:pw\n",
        )
        .unwrap();
        let qq = Relayhost {
            host: "smtp.qq.com".into(),
            port: 465,
            mx_lookup: false,
        };
        assert_eq!(
            password_for(&p, &qq),
            Some(("alice@qq.com".into(), "code123".into()))
        );
        let other = Relayhost {
            host: "relay.example".into(),
            port: 25,
            mx_lookup: true,
        };
        assert_eq!(password_for(&p, &other), Some(("bob".into(), "pw".into())));
        let none = Relayhost {
            host: "x.example".into(),
            port: 25,
            mx_lookup: true,
        };
        assert_eq!(password_for(&p, &none), None);
    }
}
