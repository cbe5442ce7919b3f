//! The command handlers of [`Session`]: HELO/EHLO, MAIL, RCPT, DATA, BDAT, STARTTLS, AUTH
//! and the small ones (RFC 5321 §4.1.1, RFC 3030, RFC 3207, RFC 4954), each taking the
//! current [`Phase`] by value and leaving the next state behind.

use super::super::command::{self, Verb};
use super::super::data::{Dot, LineCheck, Sink};
use super::super::reply::{Enhanced, Reply};
use super::super::sasl::{self, Credentials, Mechanism};
use super::super::{Action, Body, Listener, Output, Policy, UNLIMITED_MESSAGE_CAP};
use super::{Draft, Helo, Phase, SaslStep, Session, State};

impl Session {
    /// Dispatches a command (RFC 5321 §4.1.1, §4.3.2 for the sequence rules).
    pub(super) fn command(
        &mut self,
        phase: Phase,
        line: &[u8],
        policy: &mut dyn Policy,
        out: &mut Output,
    ) {
        let (verb, arg) = command::split(line);
        match verb {
            Verb::Helo | Verb::Ehlo => self.helo(phase, verb == Verb::Ehlo, arg, out),
            Verb::Mail => self.mail(phase, arg, policy, out),
            Verb::Rcpt => self.rcpt(phase, arg, policy, out),
            Verb::Data => self.data(phase, arg, out),
            Verb::Bdat => self.bdat(phase, arg, out),
            Verb::StartTls => self.starttls(phase, arg, out),
            Verb::Auth => self.auth(phase, arg, out),
            Verb::Quit => self.close(out, Reply::new(221, Enhanced(2, 0, 0), "Bye")),
            Verb::Rset => {
                if !arg.is_empty() {
                    return self.refuse(phase, out, syntax("Syntax: RSET"));
                }
                self.junk();
                // RFC 5321 §4.1.1.5: abort the transaction, keep the HELO.
                let phase = match phase {
                    Phase::Mail { helo, .. } => Phase::Idle { helo },
                    other => other,
                };
                self.refuse(phase, out, ok())
            }
            Verb::Noop => {
                self.junk();
                self.refuse(phase, out, ok())
            }
            Verb::Vrfy => {
                self.junk();
                let reply = match std::str::from_utf8(arg) {
                    Ok(a) if !a.is_empty() => {
                        let (helo, sender) = names(&phase);
                        policy.vrfy(a, &self.context(helo, sender))
                    }
                    _ => syntax("Syntax: VRFY address"),
                };
                self.refuse(phase, out, reply)
            }
            Verb::Help => {
                self.junk();
                let help = Reply::new(
                    214,
                    Enhanced(2, 0, 0),
                    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
                );
                self.refuse(phase, out, help)
            }
            Verb::NotImplemented => self.refuse(
                phase,
                out,
                Reply::new(502, Enhanced(5, 5, 1), "Error: command not implemented"),
            ),
            Verb::Unknown => self.refuse(
                phase,
                out,
                Reply::new(500, Enhanced(5, 5, 2), "Error: command not recognized"),
            ),
        }
    }

    /// HELO/EHLO (RFC 5321 §4.1.1.1): records the name, aborts any transaction (§4.1.4).
    pub(super) fn helo(&mut self, phase: Phase, extended: bool, arg: &[u8], out: &mut Output) {
        let Some(name) = command::helo_name(arg) else {
            let text = if extended {
                "Syntax: EHLO hostname"
            } else {
                "Syntax: HELO hostname"
            };
            return self.refuse(phase, out, syntax(text));
        };
        let reply = if extended {
            self.ehlo_reply()
        } else {
            Reply::plain(250, self.params.hostname.clone())
        };
        self.refuse(
            Phase::Idle {
                helo: Helo { name, extended },
            },
            out,
            reply,
        );
    }

    /// The EHLO keywords (RFC 5321 §4.1.1.1), in Postfix's order.
    pub(super) fn ehlo_reply(&self) -> Reply {
        let mut lines = vec![self.params.hostname.clone(), "PIPELINING".to_string()];
        lines.push(match self.params.message_size_limit {
            0 => "SIZE".to_string(),
            n => format!("SIZE {n}"),
        });
        if self.params.tls_offered && !self.tls_active {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        lines.push("ENHANCEDSTATUSCODES".into());
        lines.push("8BITMIME".into());
        if self.params.binarymime {
            lines.push("BINARYMIME".into());
        }
        lines.push("CHUNKING".into());
        lines.push("SMTPUTF8".into());
        Reply {
            code: 250,
            enhanced: None,
            lines,
        }
    }

    /// AUTH is advertised and usable now.
    pub(super) fn auth_offered(&self) -> bool {
        self.params.auth_enabled
            && (self.tls_active || !(self.params.auth_requires_tls || self.params.tls_required))
    }

    /// MAIL FROM (RFC 5321 §4.1.1.2).
    pub(super) fn mail(
        &mut self,
        phase: Phase,
        arg: &[u8],
        policy: &mut dyn Policy,
        out: &mut Output,
    ) {
        let helo = match phase {
            Phase::Idle { helo } => helo,
            Phase::Start => return self.refuse(phase, out, send_helo_first()),
            Phase::Mail { .. } => {
                return self.refuse(phase, out, bad_sequence("Error: nested MAIL command"))
            }
        };
        let idle = |helo| Phase::Idle { helo };
        if self.params.tls_required && !self.tls_active {
            return self.refuse(idle(helo), out, starttls_first());
        }
        if self.params.listener != Listener::Smtp && self.auth_user.is_none() {
            let r = Reply::new(530, Enhanced(5, 7, 0), "Authentication required");
            return self.refuse(idle(helo), out, r);
        }
        let size_limit = self.params.message_size_limit;
        let cmd = match command::mail(arg, helo.extended, size_limit, self.params.binarymime) {
            Ok(cmd) => cmd,
            Err(r) => return self.refuse(idle(helo), out, r),
        };
        if cmd.non_ascii && !cmd.smtputf8 {
            return self.refuse(idle(helo), out, needs_smtputf8());
        }
        if let Err(r) = policy.check_sender(&cmd.sender, &self.context(&helo.name, &cmd.sender)) {
            return self.refuse(idle(helo), out, r);
        }
        let cap = match size_limit {
            0 => UNLIMITED_MESSAGE_CAP,
            n => n,
        };
        let draft = Draft {
            sender: cmd.sender,
            recipients: Vec::new(),
            rejected: 0,
            body: cmd.body,
            smtputf8: cmd.smtputf8,
            sink: Sink::new(cap),
            chunked: false,
            check: LineCheck::default(),
        };
        self.refuse(
            Phase::Mail { helo, draft },
            out,
            Reply::new(250, Enhanced(2, 1, 0), "Ok"),
        );
    }

    /// RCPT TO (RFC 5321 §4.1.1.3).
    pub(super) fn rcpt(
        &mut self,
        phase: Phase,
        arg: &[u8],
        policy: &mut dyn Policy,
        out: &mut Output,
    ) {
        let Phase::Mail { helo, mut draft } = phase else {
            return self.refuse(phase, out, bad_sequence("Error: need MAIL command"));
        };
        let verdict = match command::rcpt(arg) {
            Err(r) => Err(r),
            Ok(r) if r.non_ascii && !draft.smtputf8 => Err(needs_smtputf8()),
            Ok(_) if draft.recipients.len() >= self.params.recipient_limit => Err(Reply::new(
                452,
                Enhanced(4, 5, 3),
                "Error: too many recipients",
            )),
            Ok(r) => policy
                .check_recipient(&r.recipient, &self.context(&helo.name, &draft.sender))
                .map(|()| r.recipient),
        };
        let reply = match verdict {
            Ok(recipient) => {
                draft.recipients.push(recipient);
                Reply::new(250, Enhanced(2, 1, 5), "Ok")
            }
            Err(r) => {
                draft.rejected += 1;
                r
            }
        };
        self.refuse(Phase::Mail { helo, draft }, out, reply);
    }

    /// Whether DATA/BDAT may start: `Err` is the refusal (RFC 5321 §4.1.1.4, §3.3).
    fn ready_for_content(draft: &Draft) -> Result<(), Reply> {
        if !draft.recipients.is_empty() {
            Ok(())
        } else if draft.rejected > 0 {
            // Postfix: all recipients of a pipelined group were refused.
            Err(Reply::new(
                554,
                Enhanced(5, 5, 1),
                "Error: no valid recipients",
            ))
        } else {
            Err(bad_sequence("Error: need RCPT command"))
        }
    }

    /// DATA (RFC 5321 §4.1.1.4).
    pub(super) fn data(&mut self, phase: Phase, arg: &[u8], out: &mut Output) {
        let Phase::Mail { helo, draft } = phase else {
            return self.refuse(phase, out, bad_sequence("Error: need MAIL command"));
        };
        let refusal = if !arg.is_empty() {
            Some(syntax("Syntax: DATA"))
        } else if draft.chunked {
            Some(bad_sequence("Error: DATA after BDAT"))
        } else if draft.body == Body::BinaryMime {
            // RFC 3030 §3: BINARYMIME content can only come by BDAT.
            Some(bad_sequence("Error: BINARYMIME requires BDAT"))
        } else {
            Self::ready_for_content(&draft).err()
        };
        if let Some(r) = refusal {
            return self.refuse(Phase::Mail { helo, draft }, out, r);
        }
        self.say(out, Reply::plain(354, "End data with <CR><LF>.<CR><LF>"));
        self.state = State::Data {
            helo,
            draft,
            dot: Dot::LineStart,
        };
    }

    /// The end of DATA content: the message, or `552` when it was too big.
    pub(super) fn end_of_message(&mut self, helo: Helo, draft: Draft, out: &mut Output) {
        if draft.sink.overflow {
            // Postfix reads to the end, then refuses (RFC 1870 §6.3).
            return self.refuse(Phase::Idle { helo }, out, command::too_big());
        }
        let transaction = self.transaction(&helo, draft);
        self.state = State::WaitDelivery { helo };
        out.action = Some(Action::Deliver(Box::new(transaction)));
    }

    /// BDAT (RFC 3030 §2): refused chunks are read and dropped.
    pub(super) fn bdat(&mut self, phase: Phase, arg: &[u8], out: &mut Output) {
        let Some((size, last)) = command::bdat(arg) else {
            return self.close(out, syntax("Syntax: BDAT count [LAST]"));
        };
        let refusal = match &phase {
            Phase::Start => Some(send_helo_first()),
            Phase::Idle { helo } | Phase::Mail { helo, .. } if !helo.extended => {
                Some(send_ehlo_first())
            }
            Phase::Idle { .. } => Some(bad_sequence("Error: need MAIL command")),
            Phase::Mail { draft, .. } => Self::ready_for_content(draft).err(),
        };
        match (refusal, phase) {
            (None, Phase::Mail { helo, mut draft }) => {
                draft.chunked = true;
                self.state = State::Chunk {
                    helo,
                    draft,
                    remaining: size,
                    size,
                    last,
                };
            }
            (refusal, phase) => {
                let r = refusal.unwrap_or_else(|| bad_sequence("Error: need MAIL command"));
                self.say(out, r);
                self.state = State::Skip {
                    remaining: size,
                    then: phase,
                };
            }
        }
    }

    /// The end of a BDAT chunk: `250` for a middle chunk, the message after LAST, `552`
    /// once over the size limit (the transaction is then aborted).
    pub(super) fn end_of_chunk(
        &mut self,
        helo: Helo,
        draft: Draft,
        size: u64,
        last: bool,
        out: &mut Output,
    ) {
        if draft.sink.overflow {
            return self.refuse(Phase::Idle { helo }, out, command::too_big());
        }
        if !last {
            let r = Reply::new(250, Enhanced(2, 0, 0), format!("Ok: {size} bytes"));
            return self.refuse(Phase::Mail { helo, draft }, out, r);
        }
        if draft.body != Body::BinaryMime {
            if let Err(bare) = draft.check.finish() {
                return self.bare(bare, out);
            }
        }
        self.end_of_message(helo, draft, out);
    }

    /// STARTTLS (RFC 3207 §4).
    pub(super) fn starttls(&mut self, phase: Phase, arg: &[u8], out: &mut Output) {
        let refusal = match &phase {
            Phase::Start => Some(send_helo_first()),
            Phase::Idle { helo } | Phase::Mail { helo, .. } if !helo.extended => {
                Some(send_ehlo_first())
            }
            _ if !arg.is_empty() => Some(syntax("Syntax: STARTTLS")),
            _ if self.tls_active => Some(bad_sequence("Error: TLS already active")),
            _ if !self.params.tls_offered => {
                Some(Reply::new(454, Enhanced(4, 7, 0), "TLS not available"))
            }
            Phase::Mail { .. } => Some(bad_sequence("Error: MAIL transaction in progress")),
            Phase::Idle { .. } => None,
        };
        if let Some(r) = refusal {
            return self.refuse(phase, out, r);
        }
        self.say(
            out,
            Reply::new(220, Enhanced(2, 0, 0), "Ready to start TLS"),
        );
        // CVE-2011-0411: whatever was pipelined after STARTTLS is plaintext; drop it.
        self.pos = self.input.len();
        self.state = State::WaitTls;
        out.action = Some(Action::StartTls);
    }

    /// AUTH (RFC 4954 §4).
    pub(super) fn auth(&mut self, phase: Phase, arg: &[u8], out: &mut Output) {
        let helo = match phase {
            Phase::Idle { helo } if helo.extended => helo,
            Phase::Start => return self.refuse(phase, out, send_helo_first()),
            Phase::Idle { .. } => return self.refuse(phase, out, send_ehlo_first()),
            Phase::Mail { .. } => {
                let r = bad_sequence("Error: MAIL transaction in progress");
                return self.refuse(phase, out, r);
            }
        };
        let mut words = arg.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let (mech, initial) = (words.next(), words.next());
        let refusal = if !self.params.auth_enabled {
            Some(bad_sequence("Error: authentication not enabled"))
        } else if self.params.tls_required && !self.tls_active {
            Some(starttls_first())
        } else if self.params.auth_requires_tls && !self.tls_active {
            Some(Reply::new(
                538,
                Enhanced(5, 7, 11),
                "Encryption required for requested authentication mechanism",
            ))
        } else if self.auth_user.is_some() {
            Some(bad_sequence("Error: already authenticated"))
        } else if mech.is_none() || words.next().is_some() {
            Some(syntax("Syntax: AUTH mechanism"))
        } else {
            None
        };
        if let Some(r) = refusal {
            return self.refuse(Phase::Idle { helo }, out, r);
        }
        let (step, challenge) = match mech.and_then(Mechanism::from_name) {
            Some(Mechanism::Plain) => (SaslStep::Plain, ""),
            Some(Mechanism::Login) => (SaslStep::LoginUser, "VXNlcm5hbWU6"), // "Username:"
            None => {
                let r = Reply::new(504, Enhanced(5, 5, 4), "Unrecognized authentication type");
                return self.refuse(Phase::Idle { helo }, out, r);
            }
        };
        match initial {
            // RFC 4954 §4: an initial response saves a round trip.
            Some(response) => self.sasl_response(helo, step, response, out),
            None => {
                self.say(out, Reply::plain(334, challenge));
                self.state = State::Sasl { helo, step };
            }
        }
    }

    /// One SASL response line (RFC 4954 §4): base64, `=` for empty (initial response), `*`
    /// to cancel.
    pub(super) fn sasl_response(
        &mut self,
        helo: Helo,
        step: SaslStep,
        line: &[u8],
        out: &mut Output,
    ) {
        let idle = |helo| Phase::Idle { helo };
        if line == b"*" {
            let r = Reply::new(501, Enhanced(5, 0, 0), "Authentication aborted");
            return self.refuse(idle(helo), out, r);
        }
        let decoded = if line == b"=" {
            Some(Vec::new())
        } else {
            sasl::decode_base64(line)
        };
        let Some(bytes) = decoded else {
            let r = Reply::new(501, Enhanced(5, 5, 2), "Error: cannot decode response");
            return self.refuse(idle(helo), out, r);
        };
        let malformed = || Reply::new(501, Enhanced(5, 5, 2), "Error: malformed response");
        let credentials = match step {
            SaslStep::Plain => match sasl::plain(&bytes) {
                Some(c) => c,
                None => return self.refuse(idle(helo), out, malformed()),
            },
            SaslStep::LoginUser => match sasl::login_field(&bytes) {
                Some(user) => {
                    self.say(out, Reply::plain(334, "UGFzc3dvcmQ6")); // "Password:"
                    self.state = State::Sasl {
                        helo,
                        step: SaslStep::LoginPassword { user },
                    };
                    return;
                }
                None => return self.refuse(idle(helo), out, malformed()),
            },
            SaslStep::LoginPassword { user } => match sasl::login_field(&bytes) {
                Some(password) => Credentials {
                    mechanism: Mechanism::Login,
                    authzid: String::new(),
                    authcid: user,
                    password,
                },
                None => return self.refuse(idle(helo), out, malformed()),
            },
        };
        self.state = State::WaitAuth { helo };
        out.action = Some(Action::Authenticate(credentials));
    }
}

/// The HELO name and sender a phase knows (empty when it does not).
fn names(phase: &Phase) -> (&str, &str) {
    match phase {
        Phase::Start => ("", ""),
        Phase::Idle { helo } => (&helo.name, ""),
        Phase::Mail { helo, draft } => (&helo.name, &draft.sender),
    }
}

fn ok() -> Reply {
    Reply::new(250, Enhanced(2, 0, 0), "Ok")
}

fn syntax(text: &str) -> Reply {
    Reply::new(501, Enhanced(5, 5, 4), text)
}

fn bad_sequence(text: &str) -> Reply {
    Reply::new(503, Enhanced(5, 5, 1), text)
}

fn send_helo_first() -> Reply {
    bad_sequence("Error: send HELO/EHLO first")
}

fn send_ehlo_first() -> Reply {
    bad_sequence("Error: send EHLO first")
}

fn starttls_first() -> Reply {
    Reply::new(
        530,
        Enhanced(5, 7, 0),
        "Must issue a STARTTLS command first",
    )
}

/// RFC 6531 §3.5: non-ASCII addresses only in an SMTPUTF8 transaction.
fn needs_smtputf8() -> Reply {
    Reply::new(
        553,
        Enhanced(5, 6, 7),
        "Error: non-ASCII address requires SMTPUTF8",
    )
}
