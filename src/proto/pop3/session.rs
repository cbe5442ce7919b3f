//! The POP3 server session (RFC 1939 §3-6): the state machine behind [`Session`].
//!
//! The state is an enum whose variants own what is valid in them: the name given by USER
//! in AUTHORIZATION, the maildrop listing with its deletion marks in TRANSACTION (and while
//! a message is being fetched), the count of messages left in UPDATE; transitions take the
//! state by value and put the next one back.
//!
//! Commands are read from a buffer one line at a time and answered in order (PIPELINING,
//! RFC 2449 §6.6): a call processes every complete command it has and stops at the first
//! that needs the I/O layer (STLS, a password check, opening the maildrop, reading a
//! message, the UPDATE state).

use std::mem;

use super::content::{self, wire_uid};
use super::reply::{Reply, RespCode};
use super::{Action, MsgInfo, Output, Params, MAX_PENDING_INPUT};

mod handlers;
#[cfg(test)]
mod tests;

/// A command line's limit in octets with its line end. RFC 2449 §4 says 255; clients are
/// not always that careful, so twice as much is accepted.
const COMMAND_LINE_MAX: usize = 512;
/// An AUTH command with its initial response, or a SASL response line: RFC 5034 §4 sets no
/// limit of its own; this is RFC 4954's 12,288 octets for SMTP.
const SASL_LINE_MAX: usize = 12_288;

/// One message of the open maildrop.
#[derive(Debug)]
struct Entry {
    /// Octets as sent (CRLF, before stuffing), from [`MsgInfo::size`].
    size: u64,
    /// The checked unique-id listing ([`wire_uid`]).
    uid: String,
    /// Marked by DELE (RFC 1939 §5); only RSET unmarks, only UPDATE removes.
    deleted: bool,
}

/// The maildrop as listed when it was opened, with the deletion marks.
#[derive(Debug)]
struct Maildrop {
    entries: Vec<Entry>,
}

impl Maildrop {
    /// The messages not marked deleted: their count and total size in octets (STAT).
    fn live(&self) -> (usize, u64) {
        self.entries
            .iter()
            .filter(|e| !e.deleted)
            .fold((0, 0), |(n, s), e| (n + 1, s + e.size))
    }
}

#[derive(Debug)]
enum State {
    /// RFC 1939 §4; `user`: the name a USER command just gave, for the PASS that follows.
    Authorization { user: Option<String> },
    /// AUTH PLAIN sent `+ ` and waits for the client's response (RFC 5034 §4).
    Sasl,
    /// Waiting for [`Session::tls_started`].
    WaitTls,
    /// Waiting for [`Session::auth_result`].
    WaitAuth,
    /// Waiting for [`Session::maildrop_opened`].
    WaitMaildrop,
    /// RFC 1939 §5.
    Transaction(Maildrop),
    /// Waiting for [`Session::fetched`]: `top` is TOP's line count, `None` for RETR.
    WaitFetch {
        maildrop: Maildrop,
        top: Option<u32>,
    },
    /// RFC 1939 §6, waiting for [`Session::update_result`]; `left`: messages not deleted.
    WaitUpdate { left: usize },
    /// Closed: nothing more is read or written.
    Closed,
}

/// What [`Session::next_line`] found in the buffer.
enum Line {
    Incomplete,
    /// A command line at `input[start..end]`, line end excluded.
    Complete(usize, usize),
    /// An over-long line ended.
    TooLong,
}

/// One POP3 server connection's protocol state. See the [module doc](super) for the
/// driving loop.
///
/// Choices where RFC 1939 and its extensions leave room:
/// - Replies follow Dovecot's texts (`-ERR [AUTH] Authentication failed.`, `+OK Begin TLS
///   negotiation now.`, `-ERR Unknown command.`) or RFC 1939's examples (`+OK 2 messages
///   (320 octets)`, `-ERR no such message, only 2 messages in maildrop`, `-ERR message 2
///   already deleted`, the last also for RETR, TOP, LIST and UIDL of a deleted message).
/// - A USER name is remembered for the next command only: anything but PASS forgets it.
///   USER and PASS take the whole rest of the line (PASS may contain spaces, RFC 1939 §7).
/// - Commands of the wrong state get `-ERR Not logged in.` / `-ERR Already logged in.`;
///   extra or missing arguments `-ERR Syntax: …`; all of these count as errors.
/// - AUTH PLAIN with an authorization identity other than the authentication identity is
///   refused (`-ERR [AUTH] …`): there are no master users. `AUTH` without arguments lists
///   the mechanisms, as Dovecot does for old clients.
/// - CAPA lists the same capabilities in both states (RFC 2449 §5: those of AUTHORIZATION
///   must be announced in both): `TOP`, `UIDL`, `RESP-CODES`, `AUTH-RESP-CODE`,
///   `PIPELINING`, `EXPIRE NEVER` (messages are never removed by the server on its own),
///   `STLS` when offered and TLS is not active, `USER` and `SASL PLAIN` when a login is
///   allowed now, `IMPLEMENTATION rmail`.
/// - When the maildrop cannot be opened, the I/O layer's `-ERR` is sent and the connection
///   closed (RFC 1939 §4 allows it; Dovecot does it).
/// - RETR answers `+OK N octets` with the size of what follows before stuffing; TOP answers
///   `+OK`.
/// - [`Session::idle_timeout`] gives a `-ERR` line, as Dovecot sends, where RFC 1939 §3
///   suggests closing silently; the I/O layer may skip writing it.
pub struct Session {
    params: Params,
    tls_active: bool,
    /// The authenticated user, once [`Session::auth_result`] named one.
    user: Option<String>,
    state: State,
    /// Received, not yet processed input; `input[..pos]` is processed.
    input: Vec<u8>,
    pos: usize,
    /// The current line went over its limit: it is being discarded up to its LF.
    overlong: bool,
    /// `-ERR` replies to client commands so far.
    errors: u32,
}

impl Session {
    /// A session for a new connection; send [`Session::greeting`] first.
    pub fn new(params: Params) -> Session {
        Session {
            tls_active: params.tls_active,
            params,
            user: None,
            state: State::Authorization { user: None },
            input: Vec::new(),
            pos: 0,
            overlong: false,
            errors: 0,
        }
    }

    /// The greeting, `+OK <banner>` (RFC 1939 §4).
    pub fn greeting(&self) -> Reply {
        Reply::ok(self.params.banner.clone())
    }

    /// The reply when the client was silent too long (RFC 1939 §3 autologout timer, at
    /// least 10 minutes): `-ERR Disconnected for inactivity.` (Dovecot). The session is
    /// closed; nothing is removed from the maildrop.
    pub fn idle_timeout(&mut self) -> Reply {
        self.shut();
        Reply::err(None, "Disconnected for inactivity.")
    }

    /// The reply when the server stops: `-ERR [SYS/TEMP] Server shutting down.` The session
    /// is closed; nothing is removed from the maildrop.
    pub fn shutting_down(&mut self) -> Reply {
        self.shut();
        Reply::err(Some(RespCode::SysTemp), "Server shutting down.")
    }

    /// Whether the session is closed (an [`Action::Close`] was or would be returned).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether TLS is active (from [`Params::tls_active`] or after [`Session::tls_started`]).
    pub fn tls_active(&self) -> bool {
        self.tls_active
    }

    /// The authenticated user, once [`Session::auth_result`] accepted one.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Takes bytes received from the client and processes every complete command they
    /// finish, in order; see [`Output`]. Unconsumed input stays buffered for the next call.
    /// Called while an action is outstanding, it only buffers (up to [`MAX_PENDING_INPUT`]),
    /// or, while STLS is pending, drops the input.
    pub fn feed(&mut self, input: &[u8]) -> Output {
        let mut out = Output::default();
        match self.state {
            State::Closed => {
                out.action = Some(Action::Close);
                return out;
            }
            // RFC 2595 §4: plaintext after STLS is never processed.
            State::WaitTls => return out,
            State::WaitAuth
            | State::WaitMaildrop
            | State::WaitFetch { .. }
            | State::WaitUpdate { .. } => {
                if self.input.len() - self.pos + input.len() > MAX_PENDING_INPUT {
                    let r = Reply::err(None, "Too much pipelined input.");
                    self.close(&mut out, r);
                } else {
                    self.input.extend_from_slice(input);
                }
                return out;
            }
            State::Authorization { .. } | State::Sasl | State::Transaction(_) => {}
        }
        self.input.extend_from_slice(input);
        self.run(&mut out);
        out
    }

    /// The I/O layer finished the TLS handshake after [`Action::StartTls`]. The session
    /// is back in AUTHORIZATION with nothing remembered (a USER name, buffered input), as
    /// RFC 2595 §4 wants. Ignored in any other state.
    pub fn tls_started(&mut self) {
        if matches!(self.state, State::WaitTls) {
            self.tls_active = true;
            self.input.clear();
            self.pos = 0;
            self.overlong = false;
            self.state = State::Authorization { user: None };
        }
    }

    /// The verdict on [`Action::Authenticate`]: `Some(user)` (the name to open the maildrop
    /// of) answers with [`Action::OpenMaildrop`] and no reply yet; `None` gives
    /// `-ERR [AUTH] Authentication failed.` (RFC 3206 §5), counted as an error, and the
    /// session stays in AUTHORIZATION; buffered input is then processed. Ignored (empty
    /// output) unless an authentication is outstanding.
    pub fn auth_result(&mut self, user: Option<String>) -> Output {
        let mut out = Output::default();
        match mem::replace(&mut self.state, State::Closed) {
            State::WaitAuth => match user {
                Some(user) => {
                    self.user = Some(user.clone());
                    self.state = State::WaitMaildrop;
                    out.action = Some(Action::OpenMaildrop { user });
                }
                None => {
                    self.state = State::Authorization { user: None };
                    self.say(
                        &mut out,
                        Reply::err(Some(RespCode::Auth), "Authentication failed."),
                    );
                    self.check_errors(&mut out);
                    self.run(&mut out);
                }
            },
            other => self.restore(other, &mut out),
        }
        out
    }

    /// Gives an accepted login away instead of answering [`Action::OpenMaildrop`] here
    /// (privilege separation: the session continues in a process running as the user).
    /// Returns the user and the input received after the login (the tag is empty: POP3
    /// has none) and closes this session. `None` unless an open is outstanding.
    pub fn hand_over(&mut self) -> Option<crate::proto::Handover> {
        match mem::replace(&mut self.state, State::Closed) {
            State::WaitMaildrop => {
                let pending = self.input.split_off(self.pos);
                self.input.clear();
                self.pos = 0;
                Some(crate::proto::Handover {
                    user: self.user.clone().unwrap_or_default(),
                    tag: String::new(),
                    pending,
                    tls_active: self.tls_active,
                })
            }
            other => {
                self.state = other;
                None
            }
        }
    }

    /// The user's side of [`Session::hand_over`]: a session waiting for
    /// [`Session::maildrop_opened`] for `h.user`, with `h.pending` buffered.
    pub fn resume(params: Params, h: crate::proto::Handover) -> Session {
        let mut s = Session::new(params);
        s.tls_active = h.tls_active;
        s.user = Some(h.user);
        s.input = h.pending;
        s.state = State::WaitMaildrop;
        s
    }

    /// The outcome of [`Action::OpenMaildrop`]: `Ok(messages)` (numbered from 1 in this
    /// order) enters TRANSACTION with `+OK maildrop has N messages (S octets)` (RFC 1939
    /// §4) and processes buffered input. `Err(reply)` is sent as a `-ERR` (e.g.
    /// `Reply::err(Some(RespCode::InUse), "Mailbox is locked by another POP3 session.")`,
    /// or `[SYS/TEMP]`/`[SYS/PERM]`), then the session closes. Invalid unique-ids are
    /// replaced (see [`wire_uid`]). Ignored unless an open is outstanding.
    pub fn maildrop_opened(&mut self, result: Result<Vec<MsgInfo>, Reply>) -> Output {
        let mut out = Output::default();
        match mem::replace(&mut self.state, State::Closed) {
            State::WaitMaildrop => match result {
                Ok(messages) => {
                    let maildrop = Maildrop {
                        entries: messages
                            .into_iter()
                            .map(|m| Entry {
                                size: m.size,
                                uid: wire_uid(&m.uid),
                                deleted: false,
                            })
                            .collect(),
                    };
                    let (n, octets) = maildrop.live();
                    self.state = State::Transaction(maildrop);
                    self.say(
                        &mut out,
                        Reply::ok(format!("maildrop has {n} messages ({octets} octets)")),
                    );
                    self.run(&mut out);
                }
                Err(reply) => self.close(&mut out, failure(reply)),
            },
            other => self.restore(other, &mut out),
        }
        out
    }

    /// The outcome of [`Action::Fetch`]: `Ok(content)` (the whole message as stored, lines
    /// ending in LF or CRLF) is sent as RETR's `+OK N octets` or TOP's `+OK`, then the
    /// content in CRLF lines, byte-stuffed, cut for TOP, and the `.` line (RFC 1939 §3,
    /// §7). `Err(reply)` is sent as a `-ERR` (e.g. `[SYS/TEMP]`; not counted as an error).
    /// Either way the session stays in TRANSACTION and processes buffered input. Ignored
    /// unless a fetch is outstanding.
    pub fn fetched(&mut self, result: Result<Vec<u8>, Reply>) -> Output {
        let mut out = Output::default();
        match mem::replace(&mut self.state, State::Closed) {
            State::WaitFetch { maildrop, top } => {
                self.state = State::Transaction(maildrop);
                match result {
                    Ok(message) => {
                        let status = match top {
                            None => {
                                Reply::ok(format!("{} octets", content::message_size(&message)))
                            }
                            Some(_) => Reply::ok(""),
                        };
                        out.write.extend_from_slice(&status.to_bytes());
                        content::write_body(&message, top, &mut out.write);
                    }
                    Err(reply) => out.write.extend_from_slice(&failure(reply).to_bytes()),
                }
                self.run(&mut out);
            }
            other => self.restore(other, &mut out),
        }
        out
    }

    /// The outcome of [`Action::Update`] (RFC 1939 §6): `Ok(())` gives `+OK Logging out (N
    /// messages left)` (or `(maildrop empty)`); `Err(reply)` is sent as a `-ERR` (e.g.
    /// `Reply::err(Some(RespCode::SysTemp), "Cannot remove deleted messages.")`). Either way
    /// the session closes ([`Action::Close`]). Ignored unless an update is outstanding.
    pub fn update_result(&mut self, result: Result<(), Reply>) -> Output {
        let mut out = Output::default();
        match mem::replace(&mut self.state, State::Closed) {
            State::WaitUpdate { left } => {
                let reply = match result {
                    Ok(()) if left == 0 => Reply::ok("Logging out (maildrop empty)"),
                    Ok(()) => Reply::ok(format!("Logging out ({left} messages left)")),
                    Err(reply) => failure(reply),
                };
                self.close(&mut out, reply);
            }
            other => self.restore(other, &mut out),
        }
        out
    }

    /// Puts back a state a result method did not expect; a closed session says so again.
    fn restore(&mut self, state: State, out: &mut Output) {
        if matches!(state, State::Closed) {
            out.action = Some(Action::Close);
        }
        self.state = state;
    }

    /// Processes buffered input until it runs out, an action is due, or the session closes.
    fn run(&mut self, out: &mut Output) {
        while out.action.is_none() {
            match self.state {
                State::Closed => {
                    out.action = Some(Action::Close);
                    break;
                }
                State::Authorization { .. } | State::Sasl | State::Transaction(_) => {}
                _ => break,
            }
            match self.next_line() {
                Line::Incomplete => break,
                Line::TooLong => {
                    // An over-long SASL response also ends the exchange.
                    if matches!(self.state, State::Sasl) {
                        self.state = State::Authorization { user: None };
                    }
                    self.say(out, Reply::err(None, "Line too long."));
                }
                Line::Complete(start, end) => {
                    let line = self.input[start..end].to_vec();
                    self.line(&line, out);
                }
            }
            self.check_errors(out);
        }
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// Finds the next line in the buffer (RFC 1939 §3: CRLF; a bare LF is accepted), with
    /// the line limits; over-long lines are dropped as they come in.
    fn next_line(&mut self) -> Line {
        let buf = &self.input[self.pos..];
        let cap = match self.state {
            State::Sasl => SASL_LINE_MAX,
            _ if buf.len() >= 5 && buf[..5].eq_ignore_ascii_case(b"AUTH ") => SASL_LINE_MAX,
            _ => COMMAND_LINE_MAX,
        };
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                let start = self.pos;
                self.pos += i + 1;
                if mem::take(&mut self.overlong) || i + 1 > cap {
                    Line::TooLong
                } else if i > 0 && buf[i - 1] == b'\r' {
                    Line::Complete(start, start + i - 1)
                } else {
                    Line::Complete(start, start + i)
                }
            }
            None => {
                if self.overlong || buf.len() >= cap {
                    self.overlong = true;
                    self.pos += buf.len();
                }
                Line::Incomplete
            }
        }
    }

    /// Handles one complete line in a line-reading state.
    fn line(&mut self, line: &[u8], out: &mut Output) {
        match mem::replace(&mut self.state, State::Closed) {
            State::Sasl => self.sasl_response(line, out),
            State::Authorization { user } => self.authorization(user, line, out),
            State::Transaction(maildrop) => self.transaction(maildrop, line, out),
            other => self.state = other,
        }
    }

    /// Sets the state and sends a reply (counted when it is `-ERR`).
    fn answer(&mut self, state: State, out: &mut Output, reply: Reply) {
        self.state = state;
        self.say(out, reply);
    }

    /// Writes a reply to a client command; `-ERR` counts towards the hard error limit.
    fn say(&mut self, out: &mut Output, reply: Reply) {
        if !reply.ok {
            self.errors = self.errors.saturating_add(1);
        }
        out.write.extend_from_slice(&reply.to_bytes());
    }

    /// Closes the session once the hard error limit is reached.
    fn check_errors(&mut self, out: &mut Output) {
        let limit = self.params.hard_error_limit;
        if limit > 0 && self.errors >= limit && out.action.is_none() {
            self.close(out, Reply::err(None, "Too many bad commands."));
        }
    }

    /// Sends a last reply and closes.
    fn close(&mut self, out: &mut Output, reply: Reply) {
        out.write.extend_from_slice(&reply.to_bytes());
        out.action = Some(Action::Close);
        self.shut();
    }

    /// Closed, with the buffer freed.
    fn shut(&mut self) {
        self.state = State::Closed;
        self.input = Vec::new();
        self.pos = 0;
    }
}

/// An I/O layer's failure as a `-ERR` line, whatever `ok` it came with.
fn failure(mut reply: Reply) -> Reply {
    reply.ok = false;
    reply
}
