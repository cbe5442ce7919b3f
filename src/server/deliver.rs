//! What happens to a message the SMTP server accepted (and to queued messages the runner
//! retries): each recipient is routed ([`super::route`]); local users get the message in
//! their mailbox before the `250` (one fsync per batch: [`crate::mda::batch`] group commit);
//! remote recipients and local deliveries that failed transiently go into the queue
//! (fsync'ed before the `250` too). Nothing acknowledged exists only in memory.
//!
//! Mailbox writers, by user kind:
//! - system users, server started as root: the privileged master's per-user worker
//!   (`rmail deliver --batch`, running as the user — [`super::privsep`]);
//! - system users, server not root, and virtual users: this process (which is then the
//!   mailbox owner: the invoking user, or `mail_owner`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::config::maincf::HomeMailbox;
use crate::mda::batch::{DeliveryError, GroupCommitter};
use crate::mda::users::{User, UserKind};
use crate::queue::{Queue, QueueId, Recipient};

use super::log;
use super::privsep::{MasterLink, Outcome};
use super::route::{Refusal, Route, Router};

/// Settings local delivery needs.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// `myhostname`: the `by` of `Received:` and the bounce's reporting MTA.
    pub hostname: String,
    /// `mail_spool_directory`.
    pub spool_dir: PathBuf,
    /// `home_mailbox`.
    pub home_mailbox: HomeMailbox,
    /// `virtual_mailbox_base`: Maildirs of virtual users when `home_mailbox` is a Maildir.
    pub virtual_base: PathBuf,
    /// `mailbox_size_limit` in bytes (0: none).
    pub size_limit: u64,
}

/// A message as the SMTP session hands it over.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    /// Envelope sender ("" for `<>`).
    pub sender: &'a str,
    /// Envelope recipients, in `RCPT` order.
    pub recipients: &'a [String],
    /// The message, CRLF (as received) or LF line ends.
    pub data: &'a [u8],
    /// The client's HELO/EHLO name.
    pub helo: &'a str,
    /// The client's IP address, as text.
    pub client_ip: String,
    /// RFC 3848 protocol name (`ESMTPSA`, …).
    pub protocol: &'a str,
    /// The TLS description for `Received:`, when encrypted.
    pub tls: Option<String>,
    /// The authenticated user, when AUTH succeeded.
    pub auth_user: Option<&'a str>,
}

/// The delivery service shared by all sessions and the queue runner.
pub struct Delivery {
    /// The recipient router.
    pub router: Router,
    /// The queue.
    pub queue: Queue,
    cfg: DeliveryConfig,
    committer: GroupCommitter,
    master: Option<MasterLink>,
    /// Woken when something was queued, so the runner does not wait for `queue_run_delay`.
    pub kick: Arc<tokio::sync::Notify>,
}

/// A local delivery's result as the caller needs it.
type LocalResult = Result<(), DeliveryError>;

impl Delivery {
    /// The service; `master` is the privileged delivery master when the server runs
    /// privilege-separated.
    pub fn new(
        router: Router,
        queue: Queue,
        cfg: DeliveryConfig,
        master: Option<MasterLink>,
    ) -> Delivery {
        Delivery {
            router,
            queue,
            committer: GroupCommitter::new(cfg.size_limit),
            cfg,
            master,
            kick: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Mailbox commits (append + fsync) made by this process so far: with concurrent
    /// sessions there are fewer than messages (group commit).
    pub fn commits(&self) -> u64 {
        self.committer.commits()
    }

    /// The settings.
    pub fn config(&self) -> &DeliveryConfig {
        &self.cfg
    }

    /// Takes responsibility for `m`: delivers to local users, queues the rest. `Ok(id)` means
    /// every recipient is either in its mailbox or in the queue, on disk; the caller replies
    /// `250 2.0.0 Ok: queued as ID`. `Err` is the reply to give instead (nothing kept).
    pub async fn accept(&self, m: Incoming<'_>) -> Result<String, Refusal> {
        let started = Instant::now();
        let arrival = SystemTime::now();
        let id = crate::queue::spool::new_id(arrival);
        log::info(
            "smtpd",
            &format!(
                "{id}: client=[{}], helo={}, from=<{}>, size={}, nrcpt={}{}",
                m.client_ip,
                m.helo,
                m.sender,
                m.data.len(),
                m.recipients.len(),
                m.auth_user
                    .map(|u| format!(", sasl_username={u}"))
                    .unwrap_or_default()
            ),
        );
        let data_lf = crate::mda::to_lf(m.data);
        let mut to_queue: Vec<Recipient> = Vec::new();
        let mut failed: Vec<crate::queue::Failure> = Vec::new();
        let mut delivered = 0usize;
        let mut pending = Vec::new();
        for rcpt in m.recipients {
            match self.router.route(rcpt) {
                Ok(Route::Relay) => to_queue.push(Recipient::new(rcpt)),
                Ok(Route::Local { users, forward }) => {
                    for f in forward {
                        to_queue.push(Recipient {
                            address: f,
                            original: rcpt.clone(),
                        });
                    }
                    for u in users {
                        let received = self.received(&m, id.as_str(), Some(rcpt));
                        pending.push((rcpt.clone(), u, received));
                    }
                }
                Err(r) if r.code >= 500 => failed.push(crate::queue::Failure {
                    recipient: Recipient::new(rcpt),
                    status: r.enhanced.to_owned(),
                    diagnostic: format!("{} {} {}", r.code, r.enhanced, r.text),
                }),
                Err(_) => to_queue.push(Recipient::new(rcpt)),
            }
        }
        let results: Vec<(String, String, LocalResult)> = {
            let futs: Vec<_> = pending
                .iter()
                .map(|(rcpt, u, received)| {
                    self.deliver_local(u, m.sender, rcpt, received, &data_lf)
                })
                .collect();
            let outs = join_all(futs).await;
            pending
                .iter()
                .zip(outs)
                .map(|((rcpt, u, _), r)| (rcpt.clone(), u.name.clone(), r))
                .collect()
        };
        for (rcpt, user, r) in results {
            let delay = started.elapsed().as_secs_f64();
            match r {
                Ok(()) => {
                    delivered += 1;
                    log::info(
                        "local",
                        &format!(
                            "{id}: to=<{user}>, orig_to=<{rcpt}>, relay=local, delay={delay:.2}, status=sent (delivered to mailbox)"
                        ),
                    );
                }
                Err(e) if e.is_permanent() => {
                    log::info(
                        "local",
                        &format!("{id}: to=<{user}>, orig_to=<{rcpt}>, relay=local, delay={delay:.2}, status=bounced ({})", e.text()),
                    );
                    failed.push(crate::queue::Failure {
                        recipient: Recipient {
                            address: user,
                            original: rcpt,
                        },
                        status: e.status().to_owned(),
                        diagnostic: e.text().to_owned(),
                    });
                }
                Err(e) => {
                    log::info(
                        "local",
                        &format!("{id}: to=<{user}>, orig_to=<{rcpt}>, relay=local, delay={delay:.2}, status=deferred ({})", e.text()),
                    );
                    to_queue.push(Recipient {
                        address: rcpt.clone(),
                        original: rcpt,
                    });
                }
            }
        }
        if delivered == 0 && to_queue.is_empty() && !failed.is_empty() {
            // Nothing taken: refuse instead of accepting and bouncing.
            let f = &failed[0];
            return Err(Refusal {
                code: if f.status.starts_with("5.2.2") {
                    552
                } else {
                    550
                },
                enhanced: if f.status.starts_with("5.2.2") {
                    "5.2.2"
                } else {
                    "5.1.1"
                },
                text: f.diagnostic.clone(),
            });
        }
        let mut reply_id = id.as_str().to_owned();
        if !to_queue.is_empty() {
            let queued = {
                let q = &self.queue;
                // The queued copy carries its Received: line, as Postfix's cleanup adds it.
                let for_rcpt = (to_queue.len() == 1).then(|| to_queue[0].original.as_str());
                let received = self.received(&m, id.as_str(), for_rcpt);
                let mut d = crate::mda::fold_field(&format!("Received: {received}"), "\t");
                d.push('\n');
                let mut d = d.into_bytes();
                d.extend_from_slice(&data_lf);
                let (s, r) = (m.sender.to_owned(), to_queue.clone());
                tokio::task::block_in_place(|| q.enqueue_recipients(&s, &r, &d, arrival))
            };
            match queued {
                Ok(qid) => {
                    log::info(
                        "qmgr",
                        &format!(
                            "{qid}: from=<{}>, size={}, nrcpt={} (queue active; accepted as {id})",
                            m.sender,
                            data_lf.len(),
                            to_queue.len()
                        ),
                    );
                    // The client is told the ID that `rmail queue` shows.
                    reply_id = qid.as_str().to_owned();
                    self.kick.notify_one();
                }
                Err(e) => {
                    log::error("smtpd", &format!("{id}: cannot queue: {e}"));
                    return Err(Refusal {
                        code: 451,
                        enhanced: "4.3.0",
                        text: "Error: queue file write error".into(),
                    });
                }
            }
        }
        if !failed.is_empty() {
            self.bounce(&id, m.sender, &failed, &data_lf, arrival);
        }
        Ok(reply_id)
    }

    /// The `Received:` value for `m` (Postfix's shape), `for <rcpt>` when one is named.
    fn received(&self, m: &Incoming<'_>, queue_id: &str, for_rcpt: Option<&str>) -> String {
        crate::mda::received_header(&crate::mda::ReceivedInfo {
            from_helo: m.helo,
            client_ip: &m.client_ip,
            client_rdns: None,
            by_host: &self.cfg.hostname,
            protocol: m.protocol,
            tls: m.tls.as_deref(),
            auth_user: m.auth_user,
            queue_id,
            for_rcpt,
            date: chrono::Local::now(),
        })
    }

    /// Queues a DSN for `failed` to `sender` (never for `<>`).
    pub fn bounce(
        &self,
        id: &QueueId,
        sender: &str,
        failed: &[crate::queue::Failure],
        original: &[u8],
        arrival: SystemTime,
    ) {
        let entry = crate::queue::QueueEntry {
            id: id.clone(),
            sender: sender.to_owned(),
            recipients: failed.iter().map(|f| f.recipient.clone()).collect(),
            arrival,
            attempts: 0,
            next_attempt: arrival,
            last_error: None,
            size: original.len() as u64,
        };
        let Some((env, msg)) = crate::queue::bounce(
            &entry,
            failed,
            &self.cfg.hostname,
            original,
            SystemTime::now(),
        ) else {
            return;
        };
        match self.queue.enqueue(&env, &msg, SystemTime::now()) {
            Ok(bid) => {
                log::info(
                    "bounce",
                    &format!("{id}: sender non-delivery notification: {bid}"),
                );
                self.kick.notify_one();
            }
            Err(e) => log::error("bounce", &format!("{id}: cannot queue the bounce: {e}")),
        }
    }

    /// Writes one message into `user`'s mailbox with `Return-Path`, `Delivered-To` and
    /// `received` on top (`data_lf`: the message with LF line ends).
    pub async fn deliver_local(
        &self,
        user: &User,
        sender: &str,
        original_rcpt: &str,
        received: &str,
        data_lf: &[u8],
    ) -> LocalResult {
        let mut msg = crate::mda::delivery_headers(sender, original_rcpt, received);
        msg.extend_from_slice(data_lf);
        let temp = |text: String| DeliveryError::Temporary {
            status: "4.3.0".into(),
            text,
        };
        match &user.kind {
            UserKind::System { uid, home, .. } => {
                if let Some(master) = &self.master {
                    let entry = crate::mda::mbox_entry(sender, &msg, chrono::Local::now());
                    return match master.deliver(&user.name, entry).await {
                        Outcome::Delivered => Ok(()),
                        Outcome::Temporary(t) => Err(temp(t)),
                        Outcome::Permanent(t) => Err(DeliveryError::Permanent {
                            status: "5.2.2".into(),
                            text: t,
                        }),
                    };
                }
                let _ = uid;
                self.write_own(self.mailbox_of_system(&user.name, home), sender, msg)
                    .await
            }
            UserKind::Virtual => {
                let path = match &self.cfg.home_mailbox {
                    HomeMailbox::Maildir(_) => {
                        let mut s = self.cfg.virtual_base.join(&user.name).into_os_string();
                        s.push("/Maildir/");
                        PathBuf::from(s)
                    }
                    _ => self.cfg.spool_dir.join(&user.name),
                };
                self.write_own(path, sender, msg).await
            }
        }
    }

    /// The INBOX of `user` as POP3 and IMAP serve it — where local delivery writes: the
    /// spool mbox, or `home_mailbox` (a path ending in `/` is a Maildir: for virtual users
    /// `virtual_mailbox_base/USER/Maildir/`).
    pub fn inbox_of(&self, user: &User) -> PathBuf {
        match (&user.kind, &self.cfg.home_mailbox) {
            (UserKind::System { home, .. }, _) => self.mailbox_of_system(&user.name, home),
            (UserKind::Virtual, HomeMailbox::Maildir(_)) => {
                let mut s = self.cfg.virtual_base.join(&user.name).into_os_string();
                s.push("/Maildir/");
                PathBuf::from(s)
            }
            (UserKind::Virtual, _) => self.cfg.spool_dir.join(&user.name),
        }
    }

    /// Whether system users' mailboxes are written through the privileged master (the
    /// server runs privilege-separated): then this process cannot open them for POP3/IMAP.
    pub fn has_master(&self) -> bool {
        self.master.is_some()
    }

    /// A system user's mailbox when this process writes it itself.
    fn mailbox_of_system(&self, name: &str, home: &std::path::Path) -> PathBuf {
        match &self.cfg.home_mailbox {
            HomeMailbox::Spool => self.cfg.spool_dir.join(name),
            HomeMailbox::Mbox(rel) => home.join(rel),
            HomeMailbox::Maildir(rel) => {
                let mut s = home.join(rel).into_os_string();
                s.push("/");
                PathBuf::from(s)
            }
        }
    }

    /// Appends (mbox, group-committed) or writes a Maildir file (path ending in `/`) as this
    /// process's own user.
    async fn write_own(&self, path: PathBuf, sender: &str, msg: Vec<u8>) -> LocalResult {
        if path.as_os_str().to_string_lossy().ends_with('/') {
            let r = tokio::task::spawn_blocking(move || {
                crate::mda::maildir::deliver_to_maildir(&path, &msg)
            })
            .await;
            return match r {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(DeliveryError::from_store(&e)),
                Err(e) => Err(DeliveryError::Temporary {
                    status: "4.3.0".into(),
                    text: e.to_string(),
                }),
            };
        }
        let entry = crate::mda::mbox_entry(sender, &msg, chrono::Local::now());
        match self.committer.submit(path, entry).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::Temporary {
                status: "4.3.0".into(),
                text: "the mailbox writer stopped".into(),
            }),
        }
    }
}

/// Runs the futures concurrently and returns their outputs in order (a small `join_all`,
/// so that no futures crate is needed): the mailbox writes of several recipients proceed
/// together and share fsyncs.
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (f, o) in futs.iter_mut().zip(outs.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => done = false,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outs.into_iter().flatten().collect()
}
