//! The command handlers of [`Session`]: the AUTHORIZATION commands (USER, PASS, QUIT,
//! RFC 1939 §4, §7; STLS, RFC 2595 §4; AUTH, RFC 5034 §4; CAPA, RFC 2449 §5) and the
//! TRANSACTION commands (STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL, RFC 1939 §5-7),
//! each taking the current state's contents by value and leaving the next state behind.

use super::super::command::{self, Verb};
use super::super::reply::{Reply, RespCode};
use super::super::Action;
use super::super::Output;
use super::{Maildrop, Session, State};
use crate::proto::smtp::sasl;

impl Session {
    /// A command in the AUTHORIZATION state (RFC 1939 §4).
    pub(super) fn authorization(&mut self, user: Option<String>, line: &[u8], out: &mut Output) {
        let (verb, rest) = command::split(line);
        let idle = State::Authorization { user: None };
        match verb {
            Verb::User => {
                if let Err(r) = self.login_allowed() {
                    return self.answer(idle, out, r);
                }
                match text(rest) {
                    Some(name) => self.answer(
                        State::Authorization { user: Some(name) },
                        out,
                        Reply::ok(""),
                    ),
                    None => self.answer(idle, out, syntax("USER username")),
                }
            }
            Verb::Pass => {
                if let Err(r) = self.login_allowed() {
                    return self.answer(idle, out, r);
                }
                let Some(user) = user else {
                    return self.answer(idle, out, Reply::err(None, "No username given."));
                };
                match text(rest) {
                    Some(password) => {
                        self.state = State::WaitAuth;
                        out.action = Some(Action::Authenticate { user, password });
                    }
                    None => self.answer(idle, out, syntax("PASS password")),
                }
            }
            Verb::Auth => self.auth(rest, out),
            Verb::Stls => {
                let refusal = if !command::args(rest).is_empty() {
                    Some(syntax("STLS"))
                } else if self.tls_active {
                    Some(Reply::err(None, "TLS is already active."))
                } else if !self.params.tls_offered {
                    Some(Reply::err(None, "TLS support isn't enabled."))
                } else {
                    None
                };
                if let Some(r) = refusal {
                    return self.answer(idle, out, r);
                }
                self.say(out, Reply::ok("Begin TLS negotiation now."));
                // RFC 2595 §4: whatever was pipelined after STLS is plaintext; drop it.
                self.pos = self.input.len();
                self.state = State::WaitTls;
                out.action = Some(Action::StartTls);
            }
            Verb::Capa => self.capa(idle, rest, out),
            Verb::Quit => {
                if !command::args(rest).is_empty() {
                    return self.answer(idle, out, syntax("QUIT"));
                }
                self.close(out, Reply::ok("Logging out."));
            }
            Verb::Stat
            | Verb::List
            | Verb::Retr
            | Verb::Dele
            | Verb::Noop
            | Verb::Rset
            | Verb::Top
            | Verb::Uidl => self.answer(idle, out, Reply::err(None, "Not logged in.")),
            Verb::Unknown => self.answer(idle, out, unknown()),
        }
    }

    /// USER, PASS and AUTH PLAIN are usable now: under TLS, or when plaintext logins are
    /// allowed; else the refusal (Dovecot's text, with RFC 3206's `[AUTH]`).
    fn login_allowed(&self) -> Result<(), Reply> {
        if self.tls_active || self.params.plaintext_auth {
            Ok(())
        } else {
            Err(Reply::err(
                Some(RespCode::Auth),
                "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
            ))
        }
    }

    /// CAPA (RFC 2449 §5): the same list in both states; see [`Session`].
    fn capa(&mut self, state: State, rest: &[u8], out: &mut Output) {
        if !command::args(rest).is_empty() {
            return self.answer(state, out, syntax("CAPA"));
        }
        let mut lines = vec![
            "TOP",
            "UIDL",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "EXPIRE NEVER",
        ];
        if self.params.tls_offered && !self.tls_active {
            lines.push("STLS");
        }
        if self.login_allowed().is_ok() {
            lines.push("USER");
            lines.push("SASL PLAIN");
        }
        lines.push("IMPLEMENTATION rmail");
        self.answer(state, out, Reply::ok("Capability list follows"));
        for line in lines {
            out.write.extend_from_slice(line.as_bytes());
            out.write.extend_from_slice(b"\r\n");
        }
        out.write.extend_from_slice(b".\r\n");
    }

    /// AUTH (RFC 5034 §4): PLAIN only, with an initial response or after `+ `.
    fn auth(&mut self, rest: &[u8], out: &mut Output) {
        let idle = State::Authorization { user: None };
        let args = command::args(rest);
        let (mech, initial) = match args.as_slice() {
            // Not in RFC 5034, but old clients ask this way (Dovecot answers it too).
            [] => {
                self.answer(idle, out, Reply::ok(""));
                if self.login_allowed().is_ok() {
                    out.write.extend_from_slice(b"PLAIN\r\n");
                }
                out.write.extend_from_slice(b".\r\n");
                return;
            }
            [mech] => (*mech, None),
            [mech, initial] => (*mech, Some(*initial)),
            _ => return self.answer(idle, out, syntax("AUTH mechanism [initial-response]")),
        };
        if !mech.eq_ignore_ascii_case(b"PLAIN") {
            let r = Reply::err(None, "Unsupported authentication mechanism.");
            return self.answer(idle, out, r);
        }
        if let Err(r) = self.login_allowed() {
            return self.answer(idle, out, r);
        }
        match initial {
            Some(response) => self.sasl_response(response, out),
            None => {
                // RFC 5034 §4: the continuation, with PLAIN's empty challenge.
                out.write.extend_from_slice(b"+ \r\n");
                self.state = State::Sasl;
            }
        }
    }

    /// One SASL PLAIN response (RFC 5034 §4, RFC 4616 §2): base64, `=` for an empty initial
    /// response, `*` to cancel.
    pub(super) fn sasl_response(&mut self, line: &[u8], out: &mut Output) {
        let idle = State::Authorization { user: None };
        if line == b"*" {
            return self.answer(idle, out, Reply::err(None, "Authentication aborted."));
        }
        let decoded = if line == b"=" {
            Some(Vec::new())
        } else {
            sasl::decode_base64(line)
        };
        let Some(bytes) = decoded else {
            return self.answer(idle, out, Reply::err(None, "Invalid base64 data."));
        };
        let Some(c) = sasl::plain(&bytes) else {
            let r = Reply::err(None, "Invalid SASL PLAIN response.");
            return self.answer(idle, out, r);
        };
        if !c.authzid.is_empty() && c.authzid != c.authcid {
            let r = Reply::err(Some(RespCode::Auth), "Authorization identity not allowed.");
            return self.answer(idle, out, r);
        }
        self.state = State::WaitAuth;
        out.action = Some(Action::Authenticate {
            user: c.authcid,
            password: c.password,
        });
    }

    /// A command in the TRANSACTION state (RFC 1939 §5).
    pub(super) fn transaction(&mut self, mut maildrop: Maildrop, line: &[u8], out: &mut Output) {
        let (verb, rest) = command::split(line);
        let args = command::args(rest);
        match verb {
            Verb::Stat => {
                if !args.is_empty() {
                    return self.answer(State::Transaction(maildrop), out, syntax("STAT"));
                }
                let (n, octets) = maildrop.live();
                self.answer(
                    State::Transaction(maildrop),
                    out,
                    Reply::ok(format!("{n} {octets}")),
                );
            }
            Verb::List | Verb::Uidl => {
                let uidl = verb == Verb::Uidl;
                let show = |m: &Maildrop, i: usize| -> String {
                    if uidl {
                        format!("{} {}", i + 1, m.entries[i].uid)
                    } else {
                        format!("{} {}", i + 1, m.entries[i].size)
                    }
                };
                let reply = match args.as_slice() {
                    [] => None,
                    [n] => Some(match find(&maildrop, n) {
                        Ok(i) => Reply::ok(show(&maildrop, i)),
                        Err(r) => r,
                    }),
                    _ => Some(syntax(if uidl { "UIDL [msg]" } else { "LIST [msg]" })),
                };
                if let Some(r) = reply {
                    return self.answer(State::Transaction(maildrop), out, r);
                }
                let head = if uidl {
                    Reply::ok("")
                } else {
                    let (n, octets) = maildrop.live();
                    Reply::ok(format!("{n} messages ({octets} octets)"))
                };
                self.say(out, head);
                for (i, _) in maildrop
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !e.deleted)
                {
                    out.write.extend_from_slice(show(&maildrop, i).as_bytes());
                    out.write.extend_from_slice(b"\r\n");
                }
                out.write.extend_from_slice(b".\r\n");
                self.state = State::Transaction(maildrop);
            }
            Verb::Retr | Verb::Top => {
                let top = verb == Verb::Top;
                let found = match (top, args.as_slice()) {
                    (false, [n]) => find(&maildrop, n).map(|i| (i, None)),
                    (true, [n, lines]) => match command::number(lines) {
                        Ok(l) => find(&maildrop, n)
                            .map(|i| (i, Some(u32::try_from(l).unwrap_or(u32::MAX)))),
                        Err(()) => Err(Reply::err(None, "Invalid number of lines.")),
                    },
                    (false, _) => Err(syntax("RETR msg")),
                    (true, _) => Err(syntax("TOP msg lines")),
                };
                match found {
                    Ok((index, top_lines)) => {
                        self.state = State::WaitFetch {
                            maildrop,
                            top: top_lines,
                        };
                        out.action = Some(Action::Fetch { index, top_lines });
                    }
                    Err(r) => self.answer(State::Transaction(maildrop), out, r),
                }
            }
            Verb::Dele => {
                let reply = match args.as_slice() {
                    [n] => match find(&maildrop, n) {
                        Ok(i) => {
                            // RFC 1939 §5: only a mark until the UPDATE state.
                            maildrop.entries[i].deleted = true;
                            Reply::ok(format!("message {} deleted", i + 1))
                        }
                        Err(r) => r,
                    },
                    _ => syntax("DELE msg"),
                };
                self.answer(State::Transaction(maildrop), out, reply);
            }
            Verb::Noop => {
                let reply = match args.is_empty() {
                    true => Reply::ok(""),
                    false => syntax("NOOP"),
                };
                self.answer(State::Transaction(maildrop), out, reply);
            }
            Verb::Rset => {
                if !args.is_empty() {
                    return self.answer(State::Transaction(maildrop), out, syntax("RSET"));
                }
                for e in &mut maildrop.entries {
                    e.deleted = false;
                }
                let (n, octets) = maildrop.live();
                let r = Reply::ok(format!("maildrop has {n} messages ({octets} octets)"));
                self.answer(State::Transaction(maildrop), out, r);
            }
            Verb::Quit => {
                if !args.is_empty() {
                    return self.answer(State::Transaction(maildrop), out, syntax("QUIT"));
                }
                // RFC 1939 §6: the UPDATE state.
                let deleted: Vec<usize> = (maildrop.entries.iter().enumerate())
                    .filter(|(_, e)| e.deleted)
                    .map(|(i, _)| i)
                    .collect();
                let left = maildrop.entries.len() - deleted.len();
                self.state = State::WaitUpdate { left };
                out.action = Some(Action::Update { deleted });
            }
            Verb::Capa => self.capa(State::Transaction(maildrop), rest, out),
            Verb::User | Verb::Pass | Verb::Auth | Verb::Stls => self.answer(
                State::Transaction(maildrop),
                out,
                Reply::err(None, "Already logged in."),
            ),
            Verb::Unknown => self.answer(State::Transaction(maildrop), out, unknown()),
        }
    }
}

/// The 0-based index of message number `word` (RFC 1939 §5: numbered from 1, and a message
/// marked deleted cannot be referred to), or the `-ERR` to send.
fn find(maildrop: &Maildrop, word: &[u8]) -> Result<usize, Reply> {
    let n = command::number(word).map_err(|()| Reply::err(None, "Invalid message number."))?;
    let total = maildrop.entries.len();
    match usize::try_from(n) {
        Ok(n) if n >= 1 && n <= total => {
            if maildrop.entries[n - 1].deleted {
                Err(Reply::err(None, format!("message {n} already deleted")))
            } else {
                Ok(n - 1)
            }
        }
        _ => Err(Reply::err(
            None,
            format!("no such message, only {total} messages in maildrop"),
        )),
    }
}

/// USER's and PASS's argument: the rest of the line, non-empty UTF-8 without NUL.
fn text(rest: &[u8]) -> Option<String> {
    if rest.is_empty() || rest.contains(&0) {
        return None;
    }
    String::from_utf8(rest.to_vec()).ok()
}

fn syntax(usage: &str) -> Reply {
    Reply::err(None, format!("Syntax: {usage}"))
}

fn unknown() -> Reply {
    Reply::err(None, "Unknown command.")
}
