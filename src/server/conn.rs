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

/// Continues a POP3/IMAP session in a process running as `user` (privilege separation):
/// asks the master for it, sends it the hand-over, then relays bytes both ways until one
/// side closes. TLS with the client stays here.
pub async fn relay_to_session(
    mut conn: Box<dyn Stream>,
    spawner: &std::sync::Arc<super::privsep::SessionSpawner>,
    proto: &'static str,
    user: &str,
    handover: Option<crate::proto::Handover>,
    ip: IpAddr,
) {
    use tokio::io::AsyncWriteExt;
    let Some(h) = handover else { return };
    let (sp, u) = (spawner.clone(), user.to_owned());
    let sock = tokio::task::spawn_blocking(move || sp.request(proto, &u)).await;
    let sock = match sock {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            log::error(
                proto,
                &format!("[{ip}]: cannot start the session of {user}: {e}"),
            );
            let bye: &[u8] = if proto == "imap" {
                b"* BYE [UNAVAILABLE] Internal error starting the session.\r\n"
            } else {
                b"-ERR [SYS/TEMP] Internal error starting the session.\r\n"
            };
            let _ = conn.write_all(bye).await;
            return;
        }
        Err(_) => return,
    };
    if sock.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(mut sock) = tokio::net::UnixStream::from_std(sock) else {
        return;
    };
    if sock.write_all(&h.encode()).await.is_err() {
        return;
    }
    log::info(
        proto,
        &format!("[{ip}]: {user} logged in (session process)"),
    );
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut sock).await;
    let _ = conn.shutdown().await;
}

/// What one read from the client gave.
pub enum Read {
    /// This many bytes arrived (more than zero).
    Data(usize),
    /// The client closed the connection or the read failed.
    Closed,
    /// Nothing arrived within the time allowed.
    Timeout,
    /// The server is shutting down.
    Shutdown,
}

/// Reads from `conn` into `buf`, waiting at most `limit`, and gives up when `shutdown`
/// turns true — the read every connection loop does.
pub async fn read(
    conn: &mut Box<dyn Stream>,
    buf: &mut [u8],
    limit: Duration,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Read {
    use tokio::io::AsyncReadExt;
    tokio::select! {
        r = tokio::time::timeout(limit, conn.read(buf)) => match r {
            Ok(Ok(0)) | Ok(Err(_)) => Read::Closed,
            Ok(Ok(n)) => Read::Data(n),
            Err(_) => Read::Timeout,
        },
        _ = shutdown.changed() => Read::Shutdown,
    }
}

/// A client-supplied name fit for a log line: at most 64 characters, controls shown as `?`.
pub fn log_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if name.chars().count() > 64 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_are_capped_and_clean() {
        assert_eq!(log_name("alice"), "alice");
        assert_eq!(log_name("a\r\nb"), "a??b");
        let long = "x".repeat(100_000);
        assert_eq!(log_name(&long).chars().count(), 65);
    }

    #[test]
    fn ipv4_mapped_clients_show_as_ipv4() {
        let p: SocketAddr = "[::ffff:10.1.2.3]:25".parse().unwrap();
        assert_eq!(client_ip(p).to_string(), "10.1.2.3");
        let p: SocketAddr = "[::1]:25".parse().unwrap();
        assert_eq!(client_ip(p).to_string(), "::1");
    }
}
