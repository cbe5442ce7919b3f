//! The SMTP server session (RFC 5321 §3, §4.1): the state machine behind [`Session`].
//!
//! The state is an enum whose variants own what is valid in them: the HELO name from
//! `Idle` on, the transaction draft from `MAIL` to the end of its data, the SASL step during
//! an AUTH exchange; transitions take the state by value and put the next one back.
//!
//! Commands are read from a buffer one CRLF-terminated line at a time and answered in order
//! (PIPELINING, RFC 2920): a call processes every complete command it has and stops at the
//! first that needs the I/O layer (STARTTLS, an AUTH verdict, queueing a message).

use std::mem;

use super::data::{Bare, DataEvent, Dot, LineCheck, Sink};
use super::reply::{Enhanced, Reply};
use super::{Action, Body, Context, Output, Params, Policy, Transaction, MAX_PENDING_INPUT};
use crate::message::envelope::Envelope;

mod handlers;
#[cfg(test)]
mod tests;

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF.
const COMMAND_LINE_MAX: usize = 512;
/// MAIL may be longer: RFC 4954 §5 lets AUTH= add 500 octets, and SIZE, BODY and SMTPUTF8
/// add a few more.
const MAIL_LINE_MAX: usize = 1024;
/// RFC 4954 §4: a SASL response line may be 12,288 octets.
const SASL_LINE_MAX: usize = 12_288;

/// The client's HELO/EHLO.
#[derive(Debug, Clone)]
struct Helo {
    name: String,
    /// EHLO (extensions in use) rather than HELO.
    extended: bool,
}

/// A mail transaction between MAIL and the end of its content.
#[derive(Debug)]
struct Draft {
    sender: String,
    recipients: Vec<String>,
    /// RCPT commands refused in this transaction (for `554 … no valid recipients`).
    rejected: usize,
    body: Body,
    smtputf8: bool,
    sink: Sink,
    /// BDAT chunks have come: DATA is refused (RFC 3030 §2).
    chunked: bool,
    /// The bare CR/LF check across BDAT chunks.
    check: LineCheck,
}

/// Where the session is between commands.
#[derive(Debug)]
enum Phase {
    /// No HELO/EHLO yet (connection start, or right after STARTTLS).
    Start,
    /// HELO/EHLO given, no transaction.
    Idle { helo: Helo },
    /// MAIL accepted: collecting recipients (and BDAT chunks).
    Mail { helo: Helo, draft: Draft },
}

/// The next SASL response expected.
#[derive(Debug)]
enum SaslStep {
    Plain,
    LoginUser,
    LoginPassword { user: String },
}

#[derive(Debug)]
enum State {
    /// Reading commands.
    Command(Phase),
    /// Reading SASL responses (RFC 4954 §4).
    Sasl { helo: Helo, step: SaslStep },
    /// Reading DATA content up to `<CRLF>.<CRLF>`.
    Data { helo: Helo, draft: Draft, dot: Dot },
    /// Reading `remaining` octets of a BDAT chunk of `size` octets.
    Chunk {
        helo: Helo,
        draft: Draft,
        remaining: u64,
        size: u64,
        last: bool,
    },
    /// Discarding a refused BDAT chunk (RFC 3030 §2: its octets must still be read).
    Skip { remaining: u64, then: Phase },
    /// Waiting for [`Session::tls_started`].
    WaitTls,
    /// Waiting for [`Session::auth_result`].
    WaitAuth { helo: Helo },
    /// Waiting for [`Session::delivery_result`].
    WaitDelivery { helo: Helo },
    /// Closed: nothing more is read or written.
    Closed,
}

/// What [`Session::next_line`] found in the buffer.
enum Line {
    Incomplete,
    /// A command line at `input[start..end]`, CRLF excluded.
    Complete(usize, usize),
    /// An over-long line ended.
    TooLong,
    Bare(Bare),
}

/// One SMTP server connection's protocol state. See the [module doc](super) for the driving
/// loop.
///
/// Choices where RFC 5321 or Postfix leave room (the rest follows Postfix 3.x `smtpd`):
/// - HELO/EHLO is required before MAIL (`503 5.5.1 Error: send HELO/EHLO first`), as
///   RFC 5321 §4.1.4 says clients must; STARTTLS, AUTH, BDAT and MAIL/RCPT parameters need
///   EHLO (`503 5.5.1 Error: send EHLO first`, `555` for parameters).
/// - Unknown verbs get `500 5.5.2 Error: command not recognized` (RFC 5321 §4.2.4: 500 is
///   "unrecognized"; Postfix sends 502); EXPN, ETRN and TURN get `502 5.5.1`.
/// - Bare LF or bare CR, in a command or in content: `521 5.5.2 <host> Error: bare <LF>
///   received` (or `<CR>`), then close: Postfix 3.9's `smtpd_forbid_bare_newline = reject`,
///   extended to CR (see `data.rs`).
/// - AUTH before TLS when `auth_requires_tls`: `538 5.7.11 Encryption required for requested
///   authentication mechanism` (RFC 4954 §6), where Postfix sends 503.
/// - A BDAT line whose size cannot be parsed: `501 5.5.4 Syntax: BDAT count [LAST]`, then
///   close, since the chunk that follows cannot be skipped.
/// - Content lines longer than RFC 5321 §4.5.3.1.6's 1,000 octets are accepted (Postfix
///   does too); only the total is limited: content over the size limit is read to its end,
///   dropped, and answered `552 5.3.4 Message size exceeds fixed limit`.
/// - Every 4xx/5xx reply to a client command counts towards the hard error limit,
///   including policy refusals and `535` (as in Postfix); a delivery resets the count; the
///   queue's own failures ([`Session::delivery_result`] with `Err`) do not count.
pub struct Session {
    params: Params,
    tls_active: bool,
    auth_user: Option<String>,
    state: State,
    /// Received, not yet processed input; `input[..pos]` is processed.
    input: Vec<u8>,
    pos: usize,
    /// The current command line went over its limit: it is being discarded up to its CRLF.
    overlong: bool,
    /// Error replies since the last delivery.
    errors: u32,
    /// NOOP, RSET, VRFY, HELP seen.
    junk: u32,
}

impl Session {
    /// A session for a new connection; send [`Session::greeting`] first.
    pub fn new(params: Params) -> Session {
        Session {
            tls_active: params.tls_active,
            params,
            auth_user: None,
            state: State::Command(Phase::Start),
            input: Vec::new(),
            pos: 0,
            overlong: false,
            errors: 0,
            junk: 0,
        }
    }

    /// The greeting, `220 <banner>` (RFC 5321 §4.3.1).
    pub fn greeting(&self) -> Reply {
        Reply::plain(220, self.params.banner.clone())
    }

    /// The reply to a client that talked before the greeting (a spam-bot sign, checked by
    /// the I/O layer during a greeting delay): `554 5.5.1 <host> Error: SMTP protocol
    /// synchronization`. The session is closed.
    pub fn early_talker(&mut self) -> Reply {
        self.state = State::Closed;
        self.host_reply(
            554,
            Enhanced(5, 5, 1),
            "Error: SMTP protocol synchronization",
        )
    }

    /// The reply when the client was silent too long (RFC 5321 §4.5.3.2):
    /// `421 4.4.2 <host> Error: timeout exceeded`. The session is closed.
    pub fn idle_timeout(&mut self) -> Reply {
        self.state = State::Closed;
        self.host_reply(421, Enhanced(4, 4, 2), "Error: timeout exceeded")
    }

    /// The reply when the server stops (RFC 5321 §3.8): `421 4.3.2 <host> Service shutting
    /// down`. The session is closed.
    pub fn shutting_down(&mut self) -> Reply {
        self.state = State::Closed;
        self.host_reply(421, Enhanced(4, 3, 2), "Service shutting down")
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
    pub fn auth_user(&self) -> Option<&str> {
        self.auth_user.as_deref()
    }

    /// Takes bytes received from the client and processes every complete command (and
    /// content) they finish, in order; see [`Output`]. Unconsumed input stays buffered for
    /// the next call. Called while an action is outstanding, it only buffers (up to
    /// [`MAX_PENDING_INPUT`]), or, while STARTTLS is pending, drops the input.
    pub fn feed(&mut self, input: &[u8], policy: &mut dyn Policy) -> Output {
        let mut out = Output::default();
        match self.state {
            State::Closed => {
                out.action = Some(Action::Close);
                return out;
            }
            // RFC 3207 §4.2, CVE-2011-0411: plaintext after STARTTLS is never processed.
            State::WaitTls => return out,
            State::WaitAuth { .. } | State::WaitDelivery { .. } => {
                if self.input.len() - self.pos + input.len() > MAX_PENDING_INPUT {
                    let r =
                        self.host_reply(421, Enhanced(4, 7, 0), "Error: too much pipelined input");
                    self.close(&mut out, r);
                } else {
                    self.input.extend_from_slice(input);
                }
                return out;
            }
            _ => {}
        }
        self.input.extend_from_slice(input);
        self.run(policy, &mut out);
        out
    }

    /// The I/O layer finished the TLS handshake after [`Action::StartTls`]. Per RFC 3207
    /// §4.2 the session forgets everything learnt before: HELO/EHLO, authentication, any
    /// buffered input; the client starts again with EHLO. Ignored in any other state.
    pub fn tls_started(&mut self) {
        if matches!(self.state, State::WaitTls) {
            self.tls_active = true;
            self.auth_user = None;
            self.input.clear();
            self.pos = 0;
            self.overlong = false;
            self.state = State::Command(Phase::Start);
        }
    }

    /// The verdict on [`Action::Authenticate`]: `Some(user)` (the name to record, usually
    /// the authcid) gives `235 2.7.0 Authentication successful`; `None` gives
    /// `535 5.7.8 Error: authentication failed` (RFC 4954 §6), which counts as an error.
    /// Then buffered input is processed as in [`Session::feed`]. Ignored (empty output)
    /// unless an authentication is outstanding.
    pub fn auth_result(&mut self, user: Option<String>, policy: &mut dyn Policy) -> Output {
        let mut out = Output::default();
        match mem::replace(&mut self.state, State::Closed) {
            State::WaitAuth { helo } => {
                self.state = State::Command(Phase::Idle { helo });
                match user {
                    Some(user) => {
                        self.auth_user = Some(user);
                        self.say(
                            &mut out,
                            Reply::new(235, Enhanced(2, 7, 0), "Authentication successful"),
                        );
                    }
                    None => {
                        self.say(
                            &mut out,
                            Reply::new(535, Enhanced(5, 7, 8), "Error: authentication failed"),
                        );
                        self.check_errors(&mut out);
                    }
                }
                self.run(policy, &mut out);
            }
            other => self.restore_idle(other, &mut out),
        }
        out
    }

    /// The outcome of [`Action::Deliver`]: `Ok(queue_id)` gives `250 2.0.0 Ok: queued as
    /// <queue_id>` (send it only once the queue file is safely written); `Err(reply)` sends
    /// that reply (e.g. `451 4.3.0 Error: queue file write error`). Either way the
    /// transaction is over; buffered input is then processed. A delivery resets the error
    /// count. Ignored unless a delivery is outstanding.
    pub fn delivery_result(
        &mut self,
        result: Result<String, Reply>,
        policy: &mut dyn Policy,
    ) -> Output {
        let mut out = Output::default();
        match mem::replace(&mut self.state, State::Closed) {
            State::WaitDelivery { helo } => {
                self.state = State::Command(Phase::Idle { helo });
                let reply = match result {
                    Ok(id) => {
                        self.errors = 0;
                        Reply::new(250, Enhanced(2, 0, 0), format!("Ok: queued as {id}"))
                    }
                    Err(reply) => reply,
                };
                out.write.extend_from_slice(&reply.to_bytes());
                self.run(policy, &mut out);
            }
            other => self.restore_idle(other, &mut out),
        }
        out
    }

    /// Puts back a state a result method did not expect; a closed session says so again.
    fn restore_idle(&mut self, state: State, out: &mut Output) {
        if matches!(state, State::Closed) {
            out.action = Some(Action::Close);
        }
        self.state = state;
    }

    /// Processes buffered input until it runs out, an action is due, or the session closes.
    fn run(&mut self, policy: &mut dyn Policy, out: &mut Output) {
        while out.action.is_none() {
            let progressed = match mem::replace(&mut self.state, State::Closed) {
                State::Closed => {
                    out.action = Some(Action::Close);
                    false
                }
                state @ (State::WaitTls | State::WaitAuth { .. } | State::WaitDelivery { .. }) => {
                    self.state = state;
                    false
                }
                State::Data {
                    helo,
                    mut draft,
                    mut dot,
                } => {
                    let (used, event) = dot.feed(&self.input[self.pos..], &mut draft.sink);
                    self.pos += used;
                    match event {
                        DataEvent::NeedMore => {
                            self.state = State::Data { helo, draft, dot };
                            false
                        }
                        DataEvent::End => {
                            self.end_of_message(helo, draft, out);
                            true
                        }
                        DataEvent::Bare(bare) => {
                            self.bare(bare, out);
                            true
                        }
                    }
                }
                State::Chunk {
                    helo,
                    mut draft,
                    remaining,
                    size,
                    last,
                } => {
                    let available = &self.input[self.pos..];
                    let n = remaining.min(available.len() as u64) as usize;
                    let piece = &available[..n];
                    let bad = match draft.body {
                        Body::BinaryMime => None,
                        _ => draft.check.scan(piece).err(),
                    };
                    draft.sink.push(piece);
                    self.pos += n;
                    let remaining = remaining - n as u64;
                    if let Some(bare) = bad {
                        self.bare(bare, out);
                        true
                    } else if remaining > 0 {
                        self.state = State::Chunk {
                            helo,
                            draft,
                            remaining,
                            size,
                            last,
                        };
                        false
                    } else {
                        self.end_of_chunk(helo, draft, size, last, out);
                        true
                    }
                }
                State::Skip { remaining, then } => {
                    let n = remaining.min((self.input.len() - self.pos) as u64);
                    self.pos += n as usize;
                    if remaining == n {
                        self.state = State::Command(then);
                        true
                    } else {
                        self.state = State::Skip {
                            remaining: remaining - n,
                            then,
                        };
                        false
                    }
                }
                state @ (State::Command(_) | State::Sasl { .. }) => {
                    self.state = state;
                    match self.next_line() {
                        Line::Incomplete => false,
                        Line::Bare(bare) => {
                            self.bare(bare, out);
                            true
                        }
                        Line::TooLong => {
                            // An over-long SASL response also ends the exchange.
                            self.state = match mem::replace(&mut self.state, State::Closed) {
                                State::Sasl { helo, .. } => State::Command(Phase::Idle { helo }),
                                other => other,
                            };
                            self.say(
                                out,
                                Reply::new(500, Enhanced(5, 5, 2), "Error: line too long"),
                            );
                            self.check_errors(out);
                            true
                        }
                        Line::Complete(start, end) => {
                            let line = self.input[start..end].to_vec();
                            self.line(&line, policy, out);
                            self.check_errors(out);
                            true
                        }
                    }
                }
            };
            if !progressed {
                break;
            }
        }
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// Finds the next command line in the buffer (RFC 5321 §2.3.8: lines end in CRLF), with
    /// the line limits; over-long lines are dropped as they come in.
    fn next_line(&mut self) -> Line {
        let buf = &self.input[self.pos..];
        let cap = match self.state {
            State::Sasl { .. } => SASL_LINE_MAX,
            _ if buf.len() >= 5 && buf[..5].eq_ignore_ascii_case(b"MAIL ") => MAIL_LINE_MAX,
            _ => COMMAND_LINE_MAX,
        };
        match memchr::memchr2(b'\r', b'\n', buf) {
            Some(i) if buf[i] == b'\n' => Line::Bare(Bare::Lf),
            Some(i) if i + 1 == buf.len() => {
                // A CR at the end: wait for what follows it.
                if self.overlong || i + 2 > cap {
                    self.overlong = true;
                    self.pos += i;
                }
                Line::Incomplete
            }
            Some(i) if buf[i + 1] != b'\n' => Line::Bare(Bare::Cr),
            Some(i) => {
                let start = self.pos;
                self.pos += i + 2;
                if mem::take(&mut self.overlong) || i + 2 > cap {
                    Line::TooLong
                } else {
                    Line::Complete(start, start + i)
                }
            }
            None => {
                if self.overlong || buf.len() + 2 > cap {
                    self.overlong = true;
                    self.pos += buf.len();
                }
                Line::Incomplete
            }
        }
    }

    /// Handles one complete line in a line-reading state.
    fn line(&mut self, line: &[u8], policy: &mut dyn Policy, out: &mut Output) {
        match mem::replace(&mut self.state, State::Closed) {
            State::Sasl { helo, step } => self.sasl_response(helo, step, line, out),
            State::Command(phase) => self.command(phase, line, policy, out),
            other => self.state = other,
        }
    }

    /// The message handed out: envelope, content and Received: facts.
    fn transaction(&self, helo: &Helo, draft: Draft) -> Transaction {
        let auth = self.auth_user.is_some();
        // RFC 3848 §2-4, RFC 6531 §3.7.3.
        let protocol = match (helo.extended, draft.smtputf8, self.tls_active, auth) {
            (false, ..) => "SMTP",
            (true, false, false, false) => "ESMTP",
            (true, false, true, false) => "ESMTPS",
            (true, false, false, true) => "ESMTPA",
            (true, false, true, true) => "ESMTPSA",
            (true, true, false, false) => "UTF8SMTP",
            (true, true, true, false) => "UTF8SMTPS",
            (true, true, false, true) => "UTF8SMTPA",
            (true, true, true, true) => "UTF8SMTPSA",
        };
        Transaction {
            envelope: Envelope {
                sender: draft.sender,
                recipients: draft.recipients,
            },
            data: draft.sink.data,
            helo: helo.name.clone(),
            protocol,
            auth_user: self.auth_user.clone(),
            body: draft.body,
            smtputf8: draft.smtputf8,
        }
    }

    /// The policy's view of the session.
    fn context<'a>(&'a self, helo: &'a str, sender: &'a str) -> Context<'a> {
        Context {
            helo,
            sender,
            auth_user: self.auth_user.as_deref(),
            client_trusted: self.params.client_trusted,
            listener: self.params.listener,
            tls_active: self.tls_active,
        }
    }

    /// Sets the phase and sends a reply (counted when it is an error).
    fn refuse(&mut self, phase: Phase, out: &mut Output, reply: Reply) {
        self.state = State::Command(phase);
        self.say(out, reply);
    }

    /// Writes a reply; 4xx and 5xx count towards the hard error limit.
    fn say(&mut self, out: &mut Output, reply: Reply) {
        if reply.is_error() {
            self.errors = self.errors.saturating_add(1);
        }
        out.write.extend_from_slice(&reply.to_bytes());
    }

    /// Counts a junk command; past the junk limit each one is an error (Postfix).
    fn junk(&mut self) {
        self.junk = self.junk.saturating_add(1);
        let limit = self.params.junk_command_limit;
        if limit > 0 && self.junk > limit {
            self.errors = self.errors.saturating_add(1);
        }
    }

    /// Closes the session once the hard error limit is reached (Postfix checks it before
    /// reading the next command).
    fn check_errors(&mut self, out: &mut Output) {
        let limit = self.params.hard_error_limit;
        if limit > 0 && self.errors >= limit && out.action.is_none() {
            let r = self.host_reply(421, Enhanced(4, 7, 0), "Error: too many errors");
            self.close(out, r);
        }
    }

    /// 521 and close for a bare CR or LF (Postfix 3.9 `smtpd_forbid_bare_newline = reject`).
    fn bare(&mut self, bare: Bare, out: &mut Output) {
        let what = match bare {
            Bare::Lf => "<LF>",
            Bare::Cr => "<CR>",
        };
        let r = self.host_reply(
            521,
            Enhanced(5, 5, 2),
            &format!("Error: bare {what} received"),
        );
        self.close(out, r);
    }

    /// Sends a last reply and closes.
    fn close(&mut self, out: &mut Output, reply: Reply) {
        out.write.extend_from_slice(&reply.to_bytes());
        out.action = Some(Action::Close);
        self.state = State::Closed;
        self.input.clear();
        self.pos = 0;
    }

    /// A reply naming this host first, as RFC 5321 §4.2 wants for 421 (and Postfix for 521).
    fn host_reply(&self, code: u16, enhanced: Enhanced, text: &str) -> Reply {
        Reply::new(code, enhanced, format!("{} {text}", self.params.hostname))
    }
}
