//! The SMTP listener's I/O: one tokio task per connection drives the pure protocol core
//! ([`crate::proto::smtp::Session`]) — reads with `smtpd_timeout`, STARTTLS and implicit TLS
//! (tokio-native-tls), AUTH checks off the runtime with a delay after failures, messages
//! handed to [`Delivery::accept`], the per-client connection limit
//! (`smtpd_client_connection_count_limit`, clients in `mynetworks` exempt, as Postfix), the
//! greet pause that catches early talkers, and a clean `421` at shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::maincf::Network;
use crate::mda::users::UserBase;
use crate::proto::smtp::{
    Action, Context, Enhanced, Listener, Output, Params, Policy, Reply, Session,
};

use super::deliver::{Delivery, Incoming};
use super::log;
use super::privsep::MasterLink;

/// A byte stream the session can run over (TCP, or TLS over TCP).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How AUTH credentials are checked.
#[derive(Clone)]
pub enum AuthBackend {
    /// In this process (virtual users, or a server not started as root).
    Local {
        /// The user base.
        users: UserBase,
        /// `mydestination`, to accept `user@local-domain` logins.
        local_domains: Vec<String>,
    },
    /// By the privileged master (system users: the shadow database needs root).
    Master(MasterLink),
}

/// What every SMTP connection shares.
pub struct SmtpShared {
    /// Where messages go.
    pub delivery: Arc<Delivery>,
    /// The protocol parameters common to all listeners (`listener`, `tls_*` and
    /// `client_trusted` are set per connection).
    pub base: Params,
    /// STARTTLS / port 465 identity, when a certificate is configured.
    pub tls: Option<tokio_native_tls::TlsAcceptor>,
    /// `mynetworks`.
    pub mynetworks: Vec<Network>,
    /// `smtpd_timeout`.
    pub timeout: Duration,
    /// `smtpd_greet_pause` (0: off).
    pub greet_pause: Duration,
    /// `smtpd_client_connection_count_limit` (0: none).
    pub conn_limit: u32,
    /// AUTH checking.
    pub auth: AuthBackend,
    /// Delay before answering a failed AUTH (Postfix: `smtpd_error_sleep_time`, 1 s).
    pub auth_failure_delay: Duration,
    /// Turns true at shutdown.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    counts: Mutex<HashMap<IpAddr, u32>>,
}

impl SmtpShared {
    /// Builds the shared state (see the fields).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        delivery: Arc<Delivery>,
        base: Params,
        tls: Option<tokio_native_tls::TlsAcceptor>,
        mynetworks: Vec<Network>,
        timeout: Duration,
        greet_pause: Duration,
        conn_limit: u32,
        auth: AuthBackend,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> SmtpShared {
        SmtpShared {
            delivery,
            base,
            tls,
            mynetworks,
            timeout,
            greet_pause,
            conn_limit,
            auth,
            auth_failure_delay: Duration::from_secs(1),
            shutdown,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.mynetworks.iter().any(|n| n.contains(ip))
    }
}

/// Counts a client's connection for the limit; decrements when dropped.
struct ConnSlot<'a> {
    shared: &'a SmtpShared,
    ip: IpAddr,
}

impl Drop for ConnSlot<'_> {
    fn drop(&mut self) {
        let mut c = self.shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = c.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.remove(&self.ip);
            }
        }
    }
}

/// The relay policy for `RCPT`: [`super::route::Router::check`].
struct RoutePolicy<'a> {
    delivery: &'a Delivery,
}

impl Policy for RoutePolicy<'_> {
    fn check_recipient(&mut self, recipient: &str, ctx: &Context<'_>) -> Result<(), Reply> {
        self.delivery
            .router
            .check(recipient, ctx.client_trusted, ctx.auth_user.is_some())
            .map(drop)
            .map_err(refusal_reply)
    }
}

fn refusal_reply(r: super::route::Refusal) -> Reply {
    let mut parts = r.enhanced.split('.').map(|p| p.parse::<u16>().unwrap_or(0));
    let e = Enhanced(
        parts.next().unwrap_or(5) as u8,
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    Reply::new(r.code, e, r.text)
}

/// Serves one SMTP connection from `peer` that arrived on `listener`.
pub async fn handle(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    listener: Listener,
    shared: Arc<SmtpShared>,
) {
    let _ = tcp.set_nodelay(true);
    let ip = super::conn::client_ip(peer);
    let trusted = shared.trusted(ip);
    let mut conn: Box<dyn Stream> = Box::new(tcp);
    // Per-client connection limit (Postfix exempts mynetworks).
    let over = {
        let mut c = shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = c.entry(ip).or_insert(0);
        if !trusted && shared.conn_limit > 0 && *n >= shared.conn_limit {
            true
        } else {
            *n += 1;
            false
        }
    };
    if over {
        log::warn(
            "smtpd",
            &format!(
                "Connection concurrency limit exceeded: {} from [{ip}]",
                shared.conn_limit
            ),
        );
        let r = Reply::new(
            421,
            Enhanced(4, 7, 0),
            format!(
                "{} Error: too many connections from {ip}",
                shared.base.hostname
            ),
        );
        let _ = conn.write_all(&r.to_bytes()).await;
        return;
    }
    let _slot = ConnSlot {
        shared: &shared,
        ip,
    };
    let implicit = listener == Listener::Submissions;
    if implicit {
        let Some(acceptor) = &shared.tls else { return };
        let Some(tls) = super::conn::start_tls(conn, acceptor).await else {
            log::info("smtpd", &format!("SSL_accept error from [{ip}]"));
            return;
        };
        conn = tls;
    }
    let mut params = shared.base.clone();
    params.listener = listener;
    params.tls_active = implicit;
    params.tls_offered = shared.tls.is_some() && !implicit;
    params.client_trusted = trusted;
    let mut session = Session::new(params);
    let mut policy = RoutePolicy {
        delivery: &shared.delivery,
    };
    let mut buf = vec![0u8; 16 * 1024];
    log::info("smtpd", &format!("connect from [{ip}]"));

    // Early talkers: a client that speaks before the greeting (postscreen's pregreet test).
    if !trusted && !shared.greet_pause.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(shared.greet_pause) => {}
            r = conn.read(&mut buf) => {
                if matches!(r, Ok(n) if n > 0) {
                    let reply = session.early_talker();
                    let _ = conn.write_all(&reply.to_bytes()).await;
                    log::info("smtpd", &format!("PREGREET from [{ip}]"));
                }
                return;
            }
        }
    }
    if conn
        .write_all(&session.greeting().to_bytes())
        .await
        .is_err()
    {
        return;
    }
    let mut shutdown = shared.shutdown.clone();
    let mut tls_desc: Option<String> = implicit.then(|| "TLS".to_owned());
    loop {
        let n = match super::conn::read(&mut conn, &mut buf, shared.timeout, &mut shutdown).await {
            super::conn::Read::Data(n) => n,
            super::conn::Read::Closed => break,
            super::conn::Read::Timeout => {
                let _ = conn.write_all(&session.idle_timeout().to_bytes()).await;
                log::info("smtpd", &format!("timeout after inactivity from [{ip}]"));
                break;
            }
            super::conn::Read::Shutdown => {
                let _ = conn.write_all(&session.shutting_down().to_bytes()).await;
                break;
            }
        };
        let mut out = session.feed(&buf[..n], &mut policy);
        // Drive actions until the session wants more input.
        let mut close = false;
        loop {
            let Output { write, action } = out;
            if !write.is_empty() && conn.write_all(&write).await.is_err() {
                close = true;
                break;
            }
            match action {
                None => break,
                Some(Action::Close) => {
                    close = true;
                    break;
                }
                Some(Action::StartTls) => {
                    let Some(acceptor) = &shared.tls else {
                        close = true;
                        break;
                    };
                    let _ = conn.flush().await;
                    let Some(tls) = super::conn::start_tls(conn, acceptor).await else {
                        log::info("smtpd", &format!("STARTTLS handshake failed from [{ip}]"));
                        return;
                    };
                    conn = tls;
                    tls_desc = Some("TLS".into());
                    session.tls_started();
                    break;
                }
                Some(Action::Authenticate(c)) => {
                    let user = check_auth(&shared.auth, &c.authzid, &c.authcid, &c.password).await;
                    match &user {
                        Some(u) => log::info(
                            "smtpd",
                            &format!("[{ip}]: sasl_method={:?}, sasl_username={u}", c.mechanism),
                        ),
                        None => {
                            log::warn(
                                "smtpd",
                                &format!(
                                    "[{ip}]: SASL authentication failed for {}",
                                    super::conn::log_name(&c.authcid)
                                ),
                            );
                            tokio::time::sleep(shared.auth_failure_delay).await;
                        }
                    }
                    out = session.auth_result(user, &mut policy);
                }
                Some(Action::Deliver(tx)) => {
                    let result = shared
                        .delivery
                        .accept(Incoming {
                            sender: &tx.envelope.sender,
                            recipients: &tx.envelope.recipients,
                            data: &tx.data,
                            helo: &tx.helo,
                            client_ip: ip.to_string(),
                            protocol: tx.protocol,
                            tls: tls_desc.clone(),
                            auth_user: tx.auth_user.as_deref(),
                        })
                        .await
                        .map_err(refusal_reply);
                    out = session.delivery_result(result, &mut policy);
                }
            }
        }
        if close || session.is_closed() {
            break;
        }
    }
    let _ = conn.flush().await;
    let _ = conn.shutdown().await;
    log::info("smtpd", &format!("disconnect from [{ip}]"));
}

/// Checks AUTH credentials; the user name to record, or `None`. A different authorization
/// identity (acting as someone else) is refused, as Dovecot and Postfix do for ordinary
/// users.
pub(crate) async fn check_auth(
    backend: &AuthBackend,
    authzid: &str,
    authcid: &str,
    password: &str,
) -> Option<String> {
    if !authzid.is_empty() && authzid != authcid {
        return None;
    }
    // Password hashing is deliberately expensive (CPU and ~19 MiB each): at most two at a
    // time (the machine's cores), so a burst of logins queues instead of exhausting memory.
    static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _slot = SLOTS.acquire().await.ok()?;
    match backend {
        AuthBackend::Master(link) => link.authenticate(authcid, password).await,
        AuthBackend::Local {
            users,
            local_domains,
        } => {
            let (users, domains) = (users.clone(), local_domains.clone());
            let (login, password) = (authcid.to_owned(), password.to_owned());
            tokio::task::spawn_blocking(move || {
                let name = crate::mda::users::login_name(&login, &domains)?;
                match users.verify(name, &password) {
                    Ok(Some(u)) => Some(u.name),
                    _ => None,
                }
            })
            .await
            .ok()
            .flatten()
        }
    }
}
