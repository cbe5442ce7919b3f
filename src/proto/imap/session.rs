//! The session: input loop, states (RFC 3501 §3), the commands of any state (§6.1), of the
//! not-authenticated state (§6.2) and the mailbox-list commands of the authenticated state
//! (§6.3). The selected-state commands are in [`super::selected`].

use std::mem;

use imap_codec::decode::Decoder;
use imap_codec::CommandCodec;
use imap_types::auth::AuthMechanism;
use imap_types::command::CommandBody;
use imap_types::mailbox::{ListMailbox, Mailbox};
use imap_types::status::StatusDataItemName;

use super::framer::{self, Frame, Framer};
use super::list;
use super::response::{self, untagged, Status, Tagged};
use super::search;
use super::store::{Folder, MailStore, StoreError};
use super::{Action, Output, Params, MAX_PENDING_INPUT};
use crate::proto::smtp::sasl;

/// The authenticated state (RFC 3501 §3.2), with the selected mailbox if any (§3.3).
pub(super) struct Authed {
    pub user: String,
    pub store: Box<dyn MailStore>,
    pub selected: Option<Selected>,
}

/// The selected state (RFC 3501 §3.3).
pub(super) struct Selected {
    /// The mailbox name as selected.
    pub name: String,
    pub folder: Box<dyn Folder>,
    /// EXAMINE, or a folder we may not write.
    pub read_only: bool,
    /// Flags were set and not yet written ([`Folder::sync`]).
    pub dirty: bool,
}

/// RFC 3501 §3 states.
pub(super) enum State {
    NotAuthenticated,
    Authenticated(Box<Authed>),
}

/// What the next input means.
pub(super) enum Mode {
    /// Commands.
    Command,
    /// AUTHENTICATE PLAIN without an initial response: the next line is the response.
    Sasl {
        tag: String,
    },
    /// IDLE (RFC 2177): the next line must be `DONE`.
    Idle {
        tag: String,
    },
    /// STARTTLS accepted, waiting for [`Session::tls_started`]; input is dropped.
    WaitTls,
    /// Waiting for [`Session::auth_result`]; input is buffered.
    WaitAuth {
        tag: String,
    },
    /// Waiting for [`Session::store_opened`]; input is buffered.
    WaitStore {
        tag: String,
        user: String,
    },
    Closed,
}

/// An IMAP server session (see the module doc of [`super`]).
///
/// Reply texts and choices (Dovecot's where RFC 3501 leaves one): the greeting carries the
/// CAPABILITY code; a successful login's OK carries the new capabilities; LOGIN before TLS
/// when not allowed gets `NO [PRIVACYREQUIRED]`; a command in the wrong state gets `BAD`.
pub struct Session {
    pub(super) params: Params,
    pub(super) tls_active: bool,
    pub(super) framer: Framer,
    pub(super) state: State,
    pub(super) mode: Mode,
    /// BAD responses and failed logins so far.
    pub(super) errors: u32,
    /// `ENABLE IMAP4rev2` was given (RFC 9051 §6.3.1): no `\Recent`/RECENT, ESEARCH
    /// answers to SEARCH, `[CLOSED]`, a LIST response in SELECT, UTF-8 mailbox names.
    pub(super) rev2: bool,
    /// The RETURN options (RFC 4731) of the SEARCH being run, taken off its bytes before
    /// decoding (imap-codec does not parse them).
    pub(super) search_return: Option<search::ReturnOpts>,
}

/// Whether a tagged reply is a BAD (counted towards the error limit).
fn is_bad(t: &Tagged) -> bool {
    t.status == Status::Bad
}

impl Session {
    /// A session for a new connection; send [`Session::greeting`] first.
    pub fn new(params: Params) -> Session {
        Session {
            tls_active: params.tls_active,
            params,
            framer: Framer::new(),
            state: State::NotAuthenticated,
            mode: Mode::Command,
            errors: 0,
            rev2: false,
            search_return: None,
        }
    }

    /// The greeting (RFC 3501 §7.1.1): `* OK [CAPABILITY …] rmail ready.` and CRLF.
    pub fn greeting(&self) -> Vec<u8> {
        let mut out = Vec::new();
        untagged(
            &mut out,
            &format!(
                "OK [CAPABILITY {}] {}",
                self.capabilities(),
                response::text(&self.params.banner)
            ),
        );
        out
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    /// Whether TLS is active.
    pub fn tls_active(&self) -> bool {
        self.tls_active
    }

    /// The authenticated user, once logged in.
    pub fn user(&self) -> Option<&str> {
        match &self.state {
            State::Authenticated(a) => Some(&a.user),
            State::NotAuthenticated => None,
        }
    }

    /// Whether the session is idling (RFC 2177): the I/O layer should then call
    /// [`Session::poll_changes`] periodically (about once a second).
    pub fn is_idling(&self) -> bool {
        matches!(self.mode, Mode::Idle { .. })
    }

    /// Takes bytes from the client and processes every complete command they finish, in
    /// order. While an action is outstanding input is only buffered (at most
    /// [`MAX_PENDING_INPUT`], then the session closes), or dropped after STARTTLS.
    pub fn feed(&mut self, input: &[u8]) -> Output {
        let mut out = Output::default();
        match self.mode {
            Mode::Closed => {
                out.action = Some(Action::Close);
                return out;
            }
            Mode::WaitTls => return out,
            Mode::WaitAuth { .. } | Mode::WaitStore { .. } => {
                if self.framer.pending() + input.len() > MAX_PENDING_INPUT {
                    self.bye(&mut out, "Too much pipelined input.");
                } else {
                    self.framer.push(input);
                }
                return out;
            }
            Mode::Command | Mode::Sasl { .. } | Mode::Idle { .. } => {}
        }
        self.framer.push(input);
        self.run(&mut out);
        out
    }

    /// The TLS handshake after [`Action::StartTls`] succeeded: the session starts over in
    /// the not-authenticated state with nothing buffered (RFC 3501 §6.2.1). Ignored in any
    /// other state.
    pub fn tls_started(&mut self) {
        if matches!(self.mode, Mode::WaitTls) {
            self.tls_active = true;
            self.framer.clear();
            self.mode = Mode::Command;
        }
    }

    /// The verdict on [`Action::Authenticate`]: `Some(user)` (the user whose mail to open)
    /// answers with [`Action::LoggedIn`]; `None` gives `NO [AUTHENTICATIONFAILED]
    /// Authentication failed.` (RFC 5530). Ignored unless an authentication is outstanding.
    pub fn auth_result(&mut self, user: Option<String>) -> Output {
        let mut out = Output::default();
        match mem::replace(&mut self.mode, Mode::Closed) {
            Mode::WaitAuth { tag } => match user {
                Some(user) => {
                    self.mode = Mode::WaitStore {
                        tag,
                        user: user.clone(),
                    };
                    out.action = Some(Action::LoggedIn { user });
                }
                None => {
                    self.mode = Mode::Command;
                    self.errors = self.errors.saturating_add(1);
                    Tagged::no("Authentication failed.")
                        .code("AUTHENTICATIONFAILED")
                        .write(&tag, &mut out.write);
                    self.check_errors(&mut out);
                    self.run(&mut out);
                }
            },
            other => self.restore(other, &mut out),
        }
        out
    }

    /// Gives an accepted login away instead of answering [`Action::LoggedIn`] here
    /// (privilege separation: the session continues in a process running as the user, as
    /// Dovecot's imap-login hands over to imap). Returns what that process needs — the
    /// user, the LOGIN/AUTHENTICATE tag still to be answered and the input already
    /// received after it — and closes this session. `None` unless a login is outstanding.
    pub fn hand_over(&mut self) -> Option<crate::proto::Handover> {
        match mem::replace(&mut self.mode, Mode::Closed) {
            Mode::WaitStore { tag, user } => Some(crate::proto::Handover {
                user,
                tag,
                pending: self.framer.take_pending(),
                tls_active: self.tls_active,
            }),
            other => {
                self.mode = other;
                None
            }
        }
    }

    /// The user's side of [`Session::hand_over`]: a session waiting for
    /// [`Session::store_opened`] for `h.user`, with `h.pending` buffered (processed after
    /// the login's `OK`).
    pub fn resume(params: Params, h: crate::proto::Handover) -> Session {
        let mut s = Session::new(params);
        s.tls_active = h.tls_active;
        s.framer.push(&h.pending);
        s.mode = Mode::WaitStore {
            tag: h.tag,
            user: h.user,
        };
        s
    }

    /// The outcome of [`Action::LoggedIn`]: the user's store enters the authenticated
    /// state with `OK [CAPABILITY …] Logged in`; an error gives `NO [UNAVAILABLE] …` and
    /// the session stays not authenticated. Ignored unless a login is outstanding.
    pub fn store_opened(&mut self, result: Result<Box<dyn MailStore>, StoreError>) -> Output {
        let mut out = Output::default();
        match mem::replace(&mut self.mode, Mode::Closed) {
            Mode::WaitStore { tag, user } => {
                self.mode = Mode::Command;
                match result {
                    Ok(store) => {
                        self.state = State::Authenticated(Box::new(Authed {
                            user,
                            store,
                            selected: None,
                        }));
                        let caps = self.capabilities();
                        Tagged::ok("Logged in")
                            .code(format!("CAPABILITY {caps}"))
                            .write(&tag, &mut out.write);
                    }
                    Err(e) => {
                        let t = match e {
                            StoreError::Unavailable(_) => Tagged::store(&e, false),
                            _ => Tagged::no(response::text(&e.to_string())).code("UNAVAILABLE"),
                        };
                        t.write(&tag, &mut out.write);
                    }
                }
                self.run(&mut out);
            }
            other => self.restore(other, &mut out),
        }
        out
    }

    /// Reports what changed in the selected mailbox while idling (RFC 2177): `* n EXPUNGE`,
    /// `* n EXISTS`, `* n RECENT`, `* n FETCH (FLAGS …)`, after writing pending flags.
    /// Outside IDLE it does nothing (RFC 3501 §7.4.1: no EXPUNGE while no command is in
    /// progress).
    pub fn poll_changes(&mut self) -> Output {
        let mut out = Output::default();
        match self.mode {
            Mode::Closed => out.action = Some(Action::Close),
            Mode::Idle { .. } => self.report(&mut out),
            _ => {}
        }
        out
    }

    /// The client was silent too long (RFC 3501 §5.4: at least 30 minutes): `* BYE
    /// Disconnected for inactivity.`; pending flags are written; the session closes.
    pub fn idle_timeout(&mut self) -> Output {
        let mut out = Output::default();
        self.bye(&mut out, "Disconnected for inactivity.");
        out
    }

    /// The server stops: `* BYE [UNAVAILABLE] Server shutting down.`; pending flags are
    /// written; the session closes.
    pub fn shutting_down(&mut self) -> Output {
        let mut out = Output::default();
        self.hangup();
        untagged(&mut out.write, "BYE [UNAVAILABLE] Server shutting down.");
        out.action = Some(Action::Close);
        out
    }

    /// The connection is gone: writes pending flag changes (no expunge), closes.
    pub fn hangup(&mut self) {
        if let State::Authenticated(a) = &mut self.state {
            if let Some(sel) = a.selected.as_mut() {
                if sel.dirty {
                    let _ = sel.folder.sync(&[]);
                    sel.dirty = false;
                }
            }
        }
        self.mode = Mode::Closed;
        self.framer.clear();
    }

    /// Sends `* BYE text` and closes (pending flags written).
    pub(super) fn bye(&mut self, out: &mut Output, text: &str) {
        self.hangup();
        untagged(&mut out.write, &format!("BYE {text}"));
        out.action = Some(Action::Close);
    }

    /// Puts back a mode a result method did not expect.
    fn restore(&mut self, mode: Mode, out: &mut Output) {
        if matches!(mode, Mode::Closed) {
            out.action = Some(Action::Close);
        }
        self.mode = mode;
    }

    /// Whether LOGIN and AUTHENTICATE PLAIN are allowed now.
    fn login_allowed(&self) -> bool {
        self.tls_active || self.params.plaintext_auth
    }

    /// The CAPABILITY list for the current state (RFC 3501 §7.2.1).
    pub(super) fn capabilities(&self) -> String {
        let mut c = vec![
            "IMAP4rev1".to_string(),
            "IMAP4rev2".into(),
            "LITERAL+".into(),
            "SASL-IR".into(),
            "ID".into(),
            "ENABLE".into(),
            "IDLE".into(),
            "NAMESPACE".into(),
            "UNSELECT".into(),
            "UIDPLUS".into(),
            "MOVE".into(),
            "CHILDREN".into(),
            "SPECIAL-USE".into(),
            "ESEARCH".into(),
            "BINARY".into(),
            format!("APPENDLIMIT={}", self.params.append_limit),
        ];
        if matches!(self.state, State::NotAuthenticated) {
            if self.params.tls_offered && !self.tls_active {
                c.push("STARTTLS".into());
            }
            if self.login_allowed() {
                c.push("AUTH=PLAIN".into());
            } else {
                c.push("LOGINDISABLED".into());
            }
        }
        c.join(" ")
    }

    /// Processes buffered input until it runs out, an action is due, or the session closes.
    fn run(&mut self, out: &mut Output) {
        while out.action.is_none() {
            match &self.mode {
                Mode::Closed => {
                    out.action = Some(Action::Close);
                    break;
                }
                Mode::WaitTls | Mode::WaitAuth { .. } | Mode::WaitStore { .. } => break,
                Mode::Sasl { .. } | Mode::Idle { .. } => match self.framer.raw_line() {
                    None => break,
                    Some(Err(())) => self.bye(out, "[TOOBIG] Line too long."),
                    Some(Ok(line)) => match mem::replace(&mut self.mode, Mode::Command) {
                        Mode::Sasl { tag } => self.sasl_response(tag, &line, out),
                        Mode::Idle { tag } => self.idle_line(tag, &line, out),
                        other => self.mode = other,
                    },
                },
                Mode::Command => match self.framer.next(self.params.append_limit) {
                    Frame::Incomplete => break,
                    Frame::Continue => out.write.extend_from_slice(b"+ OK\r\n"),
                    Frame::Command(bytes) => self.command(&bytes, out),
                    Frame::TooBig { tag, append } => {
                        let t = if append {
                            Tagged::no("Message too big.").code("TOOBIG")
                        } else {
                            Tagged::bad("Command too long.").code("TOOBIG")
                        };
                        self.finish(tag.as_deref().unwrap_or("*"), t, out);
                    }
                    Frame::LineTooLong => self.bye(out, "[TOOBIG] Line too long."),
                },
            }
            self.check_errors(out);
        }
        self.framer.compact();
    }

    /// Closes once the hard error limit is reached.
    fn check_errors(&mut self, out: &mut Output) {
        let limit = self.params.hard_error_limit;
        if limit > 0 && self.errors >= limit && out.action.is_none() {
            self.bye(out, "Too many invalid commands.");
        }
    }

    /// Writes a tagged reply, counting a BAD.
    pub(super) fn finish(&mut self, tag: &str, t: Tagged, out: &mut Output) {
        if is_bad(&t) {
            self.errors = self.errors.saturating_add(1);
        }
        t.write(tag, &mut out.write);
    }

    /// Decodes and runs one command.
    fn command(&mut self, bytes: &[u8], out: &mut Output) {
        self.search_return = None;
        let stripped;
        let bytes = match search::strip_return(bytes) {
            Some(Ok((rest, opts))) => {
                stripped = rest;
                self.search_return = Some(opts);
                &stripped[..]
            }
            Some(Err(())) => {
                // strip_return only matches a valid tag.
                let tag = bytes.split(|&b| b == b' ').next().unwrap_or(b"*");
                let tag = String::from_utf8_lossy(tag).into_owned();
                self.finish(&tag, Tagged::bad("Invalid SEARCH RETURN options."), out);
                return;
            }
            None => bytes,
        };
        let cmd = match CommandCodec::default().decode(bytes) {
            Ok(([], cmd)) => cmd,
            _ => {
                let tag = bytes
                    .split(|&b| b == b' ' || b == b'\r')
                    .next()
                    .filter(|t| framer::valid_tag(t))
                    .map(|t| String::from_utf8_lossy(t).into_owned());
                let t = Tagged::bad("Error in IMAP command.");
                self.finish(tag.as_deref().unwrap_or("*"), t, out);
                return;
            }
        };
        let tag = cmd.tag.inner().to_string();
        let body = cmd.body;
        // RFC 3501 §7.4.1: no EXPUNGE during FETCH, STORE, SEARCH; the mailbox is looked
        // at again after every other command.
        let quiet = matches!(
            body,
            CommandBody::Fetch { .. }
                | CommandBody::Store { .. }
                | CommandBody::Search { .. }
                | CommandBody::Logout
                | CommandBody::Idle
        );
        let reply = self.dispatch(&tag, body, out);
        if let Some(t) = reply {
            if !quiet && out.action.is_none() {
                self.report(out);
            }
            if out.action.is_none() {
                self.finish(&tag, t, out);
            }
        }
    }

    /// Runs a decoded command; `None` when the tagged reply comes later (or was written).
    fn dispatch(&mut self, tag: &str, body: CommandBody<'_>, out: &mut Output) -> Option<Tagged> {
        use CommandBody as C;
        // Any state (RFC 3501 §6.1).
        match body {
            C::Capability => {
                untagged(
                    &mut out.write,
                    &format!("CAPABILITY {}", self.capabilities()),
                );
                return Some(Tagged::ok("Capability completed."));
            }
            C::Noop => return Some(Tagged::ok("NOOP completed.")),
            C::Logout => {
                self.hangup();
                untagged(&mut out.write, "BYE Logging out.");
                Tagged::ok("Logout completed.").write(tag, &mut out.write);
                out.action = Some(Action::Close);
                return None;
            }
            C::Id { .. } => {
                // RFC 2971 §3.2: our name and version, whatever the client sent.
                let mut line = b"* ID (\"name\" \"rmail\" \"version\" ".to_vec();
                crate::message::imap::wire::write_string(&mut line, self.params.version.as_bytes());
                line.extend_from_slice(b")\r\n");
                out.write.extend_from_slice(&line);
                return Some(Tagged::ok("ID completed."));
            }
            _ => {}
        }
        if matches!(self.state, State::NotAuthenticated) {
            return Some(match body {
                C::StartTLS => {
                    if !self.params.tls_offered || self.tls_active {
                        Tagged::bad("TLS is not available.")
                    } else {
                        Tagged::ok("Begin TLS negotiation now.").write(tag, &mut out.write);
                        self.framer.clear();
                        self.mode = Mode::WaitTls;
                        out.action = Some(Action::StartTls);
                        return None;
                    }
                }
                C::Login { username, password } => {
                    if !self.login_allowed() {
                        return Some(privacy_required());
                    }
                    let user = String::from_utf8(username.as_ref().to_vec()).ok();
                    let pass = String::from_utf8(password.declassify().as_ref().to_vec()).ok();
                    return self.authenticate(tag, user, pass, out);
                }
                C::Authenticate {
                    mechanism,
                    initial_response,
                } => {
                    if mechanism != AuthMechanism::Plain {
                        Tagged::no("Unsupported authentication mechanism.")
                    } else if !self.login_allowed() {
                        privacy_required()
                    } else {
                        match initial_response {
                            Some(ir) => return self.plain(tag, ir.declassify(), out),
                            None => {
                                out.write.extend_from_slice(b"+ \r\n");
                                self.mode = Mode::Sasl {
                                    tag: tag.to_string(),
                                };
                                return None;
                            }
                        }
                    }
                }
                _ => Tagged::bad("Command not valid in this state."),
            });
        }
        match body {
            C::StartTLS | C::Login { .. } | C::Authenticate { .. } => {
                Some(Tagged::bad("Already logged in."))
            }
            C::Select { mailbox } => Some(self.select(&mailbox, false, out)),
            C::Examine { mailbox } => Some(self.select(&mailbox, true, out)),
            C::Create { mailbox } => Some(self.create(&mailbox)),
            C::Delete { mailbox } => Some(self.delete(&mailbox)),
            C::Rename { from, to } => Some(self.rename(&from, &to)),
            C::Subscribe { mailbox } => Some(self.subscribe(&mailbox, true)),
            C::Unsubscribe { mailbox } => Some(self.subscribe(&mailbox, false)),
            C::List {
                reference,
                mailbox_wildcard,
            } => Some(self.list(&reference, &mailbox_wildcard, false, out)),
            C::Lsub {
                reference,
                mailbox_wildcard,
            } => Some(self.list(&reference, &mailbox_wildcard, true, out)),
            C::Status {
                mailbox,
                item_names,
            } => Some(self.status(&mailbox, &item_names, out)),
            C::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                let bytes: &[u8] = match &message {
                    imap_types::extensions::binary::LiteralOrLiteral8::Literal(l) => l.data(),
                    imap_types::extensions::binary::LiteralOrLiteral8::Literal8(l) => &l.data,
                };
                Some(self.append(&mailbox, &flags, date.as_ref().map(|d| *d.as_ref()), bytes))
            }
            C::Namespace => {
                // RFC 2342 §5: one personal namespace, no others.
                untagged(&mut out.write, "NAMESPACE ((\"\" \"/\")) NIL NIL");
                Some(Tagged::ok("Namespace completed."))
            }
            C::Enable { capabilities } => {
                // RFC 5161 §3.2: only IMAP4rev2 (RFC 9051 §6.3.1) is known; the ENABLED
                // response names what this command newly enabled.
                let mut line = String::from("ENABLED");
                for c in capabilities.as_ref() {
                    if !self.rev2 && c.to_string().eq_ignore_ascii_case("IMAP4rev2") {
                        self.rev2 = true;
                        line.push_str(" IMAP4rev2");
                    }
                }
                untagged(&mut out.write, &line);
                Some(Tagged::ok("Enabled."))
            }
            C::Idle => {
                out.write.extend_from_slice(b"+ idling\r\n");
                self.mode = Mode::Idle {
                    tag: tag.to_string(),
                };
                self.report(out);
                None
            }
            C::Check
            | C::Close
            | C::Unselect
            | C::Expunge
            | C::ExpungeUid { .. }
            | C::Search { .. }
            | C::Fetch { .. }
            | C::Store { .. }
            | C::Copy { .. }
            | C::Move { .. } => Some(self.selected_command(tag, body, out)),
            _ => Some(Tagged::bad("Unknown command.")),
        }
    }

    /// Starts a password check.
    fn authenticate(
        &mut self,
        tag: &str,
        user: Option<String>,
        password: Option<String>,
        out: &mut Output,
    ) -> Option<Tagged> {
        match (user, password) {
            (Some(user), Some(password)) if !user.is_empty() && !password.is_empty() => {
                self.mode = Mode::WaitAuth {
                    tag: tag.to_string(),
                };
                out.action = Some(Action::Authenticate { user, password });
                None
            }
            _ => {
                self.errors = self.errors.saturating_add(1);
                Some(Tagged::no("Authentication failed.").code("AUTHENTICATIONFAILED"))
            }
        }
    }

    /// A decoded PLAIN message (RFC 4616); an authzid other than the authcid is refused.
    fn plain(&mut self, tag: &str, message: &[u8], out: &mut Output) -> Option<Tagged> {
        match sasl::plain(message) {
            Some(c) if c.authzid.is_empty() || c.authzid == c.authcid => {
                self.authenticate(tag, Some(c.authcid), Some(c.password), out)
            }
            Some(_) => {
                self.errors = self.errors.saturating_add(1);
                Some(Tagged::no("Authorization failed.").code("AUTHORIZATIONFAILED"))
            }
            None => {
                self.errors = self.errors.saturating_add(1);
                Some(Tagged::no("Invalid base64 data.").code("AUTHENTICATIONFAILED"))
            }
        }
    }

    /// The client's line after `+ ` in AUTHENTICATE (RFC 3501 §6.2.2).
    fn sasl_response(&mut self, tag: String, line: &[u8], out: &mut Output) {
        let t = if line == b"*" {
            Some(Tagged::bad("Authentication aborted by client."))
        } else {
            match sasl::decode_base64(line) {
                Some(m) => self.plain(&tag, &m, out),
                None => Some(Tagged::bad("Invalid base64 data.")),
            }
        };
        if let Some(t) = t {
            self.finish(&tag, t, out);
        }
    }

    /// A line while idling: `DONE` ends the IDLE (RFC 2177 §3).
    fn idle_line(&mut self, tag: String, line: &[u8], out: &mut Output) {
        let t = if line.eq_ignore_ascii_case(b"DONE") {
            self.report(out);
            Tagged::ok("Idle completed.")
        } else {
            Tagged::bad("Expected DONE.")
        };
        if out.action.is_none() {
            self.finish(&tag, t, out);
        }
    }

    /// The authenticated state's data; callers have checked the state.
    pub(super) fn authed(&mut self) -> Option<&mut Authed> {
        match &mut self.state {
            State::Authenticated(a) => Some(a),
            State::NotAuthenticated => None,
        }
    }

    fn create(&mut self, mailbox: &Mailbox<'_>) -> Tagged {
        let Some(name) = mailbox_name(mailbox, self.rev2) else {
            return bad_name();
        };
        let name = name.trim_end_matches(list::DELIMITER).to_string();
        if name.is_empty() {
            return bad_name();
        }
        if name == "INBOX" {
            return Tagged::store(&StoreError::AlreadyExists, false);
        }
        let Some(a) = self.authed() else {
            return not_valid();
        };
        match a.store.create(&name) {
            Ok(()) => Tagged::ok("Create completed."),
            Err(e) => Tagged::store(&e, false),
        }
    }

    fn delete(&mut self, mailbox: &Mailbox<'_>) -> Tagged {
        let Some(name) = mailbox_name(mailbox, self.rev2) else {
            return bad_name();
        };
        let Some(a) = self.authed() else {
            return not_valid();
        };
        if name == "INBOX" {
            return Tagged::no("INBOX can't be deleted.").code("CANNOT");
        }
        if a.selected.as_ref().is_some_and(|s| s.name == name) {
            return Tagged::no("Can't delete the selected mailbox.").code("INUSE");
        }
        match a.store.delete(&name) {
            Ok(()) => Tagged::ok("Delete completed."),
            Err(e) => Tagged::store(&e, false),
        }
    }

    fn rename(&mut self, from: &Mailbox<'_>, to: &Mailbox<'_>) -> Tagged {
        let (Some(from), Some(to)) = (mailbox_name(from, self.rev2), mailbox_name(to, self.rev2))
        else {
            return bad_name();
        };
        let to = to.trim_end_matches(list::DELIMITER).to_string();
        if to.is_empty() {
            return bad_name();
        }
        if to == "INBOX" {
            return Tagged::store(&StoreError::AlreadyExists, false);
        }
        let Some(a) = self.authed() else {
            return not_valid();
        };
        if a.selected.as_ref().is_some_and(|s| s.name == from) {
            return Tagged::no("Can't rename the selected mailbox.").code("INUSE");
        }
        match a.store.rename(&from, &to) {
            Ok(()) => Tagged::ok("Rename completed."),
            Err(e) => Tagged::store(&e, false),
        }
    }

    fn subscribe(&mut self, mailbox: &Mailbox<'_>, on: bool) -> Tagged {
        let Some(name) = mailbox_name(mailbox, self.rev2) else {
            return bad_name();
        };
        let Some(a) = self.authed() else {
            return not_valid();
        };
        match a.store.subscribe(&name, on) {
            Ok(()) if on => Tagged::ok("Subscribe completed."),
            Ok(()) => Tagged::ok("Unsubscribe completed."),
            Err(e) => Tagged::store(&e, false),
        }
    }

    /// LIST (RFC 3501 §6.3.8, RFC 3348 CHILDREN, RFC 6154 SPECIAL-USE) and LSUB (§6.3.9).
    fn list(
        &mut self,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
        lsub: bool,
        out: &mut Output,
    ) -> Tagged {
        let cmd = if lsub { "LSUB" } else { "LIST" };
        let reference = match reference {
            Mailbox::Inbox => Some("INBOX".to_string()),
            Mailbox::Other(o) => wire_name(o.as_ref(), self.rev2),
        };
        let pat_bytes: &[u8] = match pattern {
            ListMailbox::Token(t) => t.as_ref(),
            ListMailbox::String(s) => s.as_ref(),
        };
        let (Some(reference), Some(pattern)) = (reference, wire_name(pat_bytes, self.rev2)) else {
            return bad_name();
        };
        let pattern = pattern.as_str();
        let Some(a) = self.authed() else {
            return not_valid();
        };
        if pattern.is_empty() && !lsub {
            // RFC 3501 §6.3.8: the hierarchy delimiter and root.
            untagged(&mut out.write, "LIST (\\Noselect) \"/\" \"\"");
            return Tagged::ok("List completed.");
        }
        let full = list::full_pattern(&reference, pattern);
        let boxes = match a.store.list() {
            Ok(b) => b,
            Err(e) => return Tagged::store(&e, false),
        };
        let names: Vec<&str> = boxes.iter().map(|b| b.name.as_str()).collect();
        let mut lines: Vec<(Vec<String>, &str)> = Vec::new();
        let subs;
        if lsub {
            subs = match a.store.subscriptions() {
                Ok(s) => s,
                Err(e) => return Tagged::store(&e, false),
            };
            for s in &subs {
                if list::matches(&full, s) {
                    let mut attrs = Vec::new();
                    if !names.contains(&s.as_str()) {
                        attrs.push("\\Noselect".to_string());
                    }
                    lines.push((attrs, s));
                }
            }
        } else {
            for b in &boxes {
                if list::matches(&full, &b.name) {
                    let mut attrs = vec![if list::has_children(&b.name, &names) {
                        "\\HasChildren".to_string()
                    } else {
                        "\\HasNoChildren".to_string()
                    }];
                    if let Some(su) = &b.special_use {
                        attrs.push(su.clone());
                    }
                    lines.push((attrs, &b.name));
                }
            }
        }
        for (attrs, name) in lines {
            out.write
                .extend_from_slice(format!("* {cmd} ({}) \"/\" ", attrs.join(" ")).as_bytes());
            response::mailbox_for(&mut out.write, name, self.rev2);
            out.write.extend_from_slice(b"\r\n");
        }
        Tagged::ok(format!("{} completed.", if lsub { "Lsub" } else { "List" }))
    }

    /// STATUS (RFC 3501 §6.3.10). Pending flags of the selected mailbox are written first
    /// so the counts agree with what the session shows.
    fn status(
        &mut self,
        mailbox: &Mailbox<'_>,
        items: &[StatusDataItemName],
        out: &mut Output,
    ) -> Tagged {
        let Some(name) = mailbox_name(mailbox, self.rev2) else {
            return bad_name();
        };
        let Some(a) = self.authed() else {
            return not_valid();
        };
        if a.selected
            .as_ref()
            .is_some_and(|s| s.name == name && s.dirty)
        {
            // Write our flags first (reporting what the write brings in).
            self.report(out);
            if out.action.is_some() {
                return Tagged::ok("Status completed.");
            }
        }
        let rev2 = self.rev2;
        let Some(a) = self.authed() else {
            return not_valid();
        };
        let st = match a.store.status(&name) {
            Ok(s) => s,
            Err(e) => return Tagged::store(&e, false),
        };
        // DELETED (RFC 9051 §6.3.11) is counted on a read-only open, only when asked.
        let mut deleted = 0;
        if rev2 && items.contains(&StatusDataItemName::Deleted) {
            match a.store.open(&name, true) {
                Ok(f) => deleted = (0..f.len()).filter(|&i| f.info(i).flags.deleted).count(),
                Err(e) => return Tagged::store(&e, false),
            }
        }
        let mut parts = Vec::new();
        for it in items {
            parts.push(match it {
                StatusDataItemName::Messages => format!("MESSAGES {}", st.messages),
                StatusDataItemName::Recent if !rev2 => format!("RECENT {}", st.recent),
                StatusDataItemName::Deleted if rev2 => format!("DELETED {deleted}"),
                StatusDataItemName::UidNext => format!("UIDNEXT {}", st.uidnext),
                StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", st.uidvalidity),
                StatusDataItemName::Unseen => format!("UNSEEN {}", st.unseen),
                _ => return Tagged::bad("Unknown STATUS item."),
            });
        }
        out.write.extend_from_slice(b"* STATUS ");
        response::mailbox_for(&mut out.write, &name, self.rev2);
        out.write
            .extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
        Tagged::ok("Status completed.")
    }
}

/// A mailbox argument as a name: `INBOX` (any case, also as the first level) spelled so;
/// `None` when it is not UTF-8. See [`wire_name`] for modified UTF-7.
pub(super) fn mailbox_name(m: &Mailbox<'_>, rev2: bool) -> Option<String> {
    match m {
        Mailbox::Inbox => Some("INBOX".into()),
        Mailbox::Other(o) => {
            let s = wire_name(o.as_ref(), rev2)?;
            let s = s.as_str();
            if s.len() > 6 && s.is_char_boundary(6) && s[..6].eq_ignore_ascii_case("INBOX/") {
                Some(format!("INBOX/{}", &s[6..]))
            } else {
                Some(s.to_string())
            }
        }
    }
}

/// A name (or LIST pattern) as the client sent it, as the store's UTF-8: an IMAP4rev1
/// client's modified UTF-7 (RFC 3501 §5.1.3) is decoded; a name that is not valid modified
/// UTF-7 (`R&D`, or raw UTF-8 from a client ignoring the rule) is taken as it is, as before.
/// An IMAP4rev2 client's name is UTF-8 already (RFC 9051 §5.1). `None` when not UTF-8.
pub(super) fn wire_name(bytes: &[u8], rev2: bool) -> Option<String> {
    if !rev2 && bytes.contains(&b'&') {
        if let Some(s) = super::utf7::decode(bytes) {
            return Some(s);
        }
    }
    String::from_utf8(bytes.to_vec()).ok()
}

pub(super) fn bad_name() -> Tagged {
    Tagged::no("Invalid mailbox name.").code("CANNOT")
}

pub(super) fn not_valid() -> Tagged {
    Tagged::bad("Command not valid in this state.")
}

fn privacy_required() -> Tagged {
    Tagged::no("Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
        .code("PRIVACYREQUIRED")
}

#[cfg(test)]
mod tests;
