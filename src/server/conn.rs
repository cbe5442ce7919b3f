//! What the SMTP, POP3 and IMAP connection loops share: the client's address, the TLS
//! handshake (STARTTLS/STLS or implicit TLS), and a password check that logs and delays
//! failures (Postfix's `smtpd_error_sleep_time`, Dovecot's auth failure delay: 1 s).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::log;
use super::smtpd::{check_auth, AuthBackend, Stream};

/// How long a TLS handshake may take.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The delay before a failed login is answered.
pub const AUTH_FAILURE_DELAY: Duration = Duration::from_secs(1);

/// The client's address, with IPv4-mapped IPv6 (`::ffff:a.b.c.d`) shown as IPv4.
pub fn client_ip(peer: SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The TLS handshake on `conn`; `None` when it fails or takes too long (the caller closes).
pub async fn start_tls(
    conn: Box<dyn Stream>,
    acceptor: &tokio_native_tls::TlsAcceptor,
) -> Option<Box<dyn Stream>> {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(conn)).await {
        Ok(Ok(s)) => Some(Box::new(s)),
        _ => None,
    }
}

/// Checks `user`/`password` (see [`check_auth`]); a failure is logged for `service` and
/// answered only after [`AUTH_FAILURE_DELAY`].
pub async fn login(
    auth: &AuthBackend,
    service: &str,
    ip: IpAddr,
    user: &str,
    password: &str,
) -> Option<String> {
    let ok = check_auth(auth, "", user, password).await;
    if ok.is_none() {
        log::warn(
            service,
            &format!("[{ip}]: authentication failed for {user}"),
        );
        tokio::time::sleep(AUTH_FAILURE_DELAY).await;
    }
    ok
}
