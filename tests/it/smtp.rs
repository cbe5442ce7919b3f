//! SMTP submission against a real peer: Python's aiosmtpd (Debian `python3-aiosmtpd`) on
//! 127.0.0.1, an ephemeral port, with a self-signed certificate made by `openssl` for
//! `localhost`. Each received message is written by the server as `N.eml` (the bytes) and
//! `N.env` (envelope, EHLO name and what Python's `email` package parsed).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rmail::send::{self, LocalSite, Outgoing, SendError, Transport};

use crate::util::{require_peer, run_rmail};

const PYTHON: &str = "/usr/bin/python3";
const USER: &str = "alice@example.org";
const PASSWORD: &str = "correct horse";

const SERVER: &str = r#"
import asyncio, email, email.policy, ssl, sys, os, warnings
warnings.filterwarnings("ignore")
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

mode, cert, key, out, user, password = sys.argv[1:7]

def authenticator(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user \
        and data.password.decode() == password
    return AuthResult(success=ok, handled=False)

class Handler:
    count = 0
    async def auth_XOAUTH2(self, server, args):
        # The Google/Microsoft mechanism: base64("user=U^Aauth=Bearer TOKEN^A^A").
        import base64
        try:
            raw = base64.b64decode(args[1]).decode()
        except Exception:
            return AuthResult(success=False, handled=False)
        ok = raw == "user=%s\x01auth=Bearer tok-%s\x01\x01" % (user, password.replace(" ", "-"))
        return AuthResult(success=ok, handled=False)
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        Handler.count += 1
        n = Handler.count
        data = envelope.original_content
        with open(os.path.join(out, "%d.eml" % n), "wb") as f:
            f.write(data)
        msg = email.message_from_bytes(data, policy=email.policy.default)
        lines = ["from: " + envelope.mail_from, "ehlo: " + str(session.host_name),
                 "subject: " + str(msg["subject"]), "bcc-header: " + str("bcc" in msg)]
        lines += ["rcpt: " + r for r in envelope.rcpt_tos]
        lines += ["body-line: " + l for l in msg.get_content().splitlines()]
        with open(os.path.join(out, "%d.env" % n + ".tmp"), "w") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(os.path.join(out, "%d.env.tmp" % n), os.path.join(out, "%d.env" % n))
        return "250 2.0.0 queued as %d" % n

ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
kw = dict(authenticator=authenticator, auth_require_tls=False, hostname="test.local")
if mode == "starttls":
    kw.update(tls_context=ctx, require_starttls=True)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), **kw), host="127.0.0.1", port=0,
                                      ssl=ctx if mode == "tls" else None)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"#;

/// The kind of server to start.
#[derive(Clone, Copy)]
enum Mode {
    /// Implicit TLS (smtps).
    Tls,
    /// STARTTLS offered and required.
    StartTls,
    /// Cleartext, no STARTTLS.
    Plain,
}

/// A running aiosmtpd; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    out: PathBuf,
    ca: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Server {
    /// The `N`-th received message: (envelope/parsed lines, raw bytes), waiting up to 5 s.
    fn received(&self, n: usize) -> (String, Vec<u8>) {
        let env = self.out.join(format!("{n}.env"));
        for _ in 0..500 {
            if env.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (
            std::fs::read_to_string(&env).expect("no message received"),
            std::fs::read(self.out.join(format!("{n}.eml"))).unwrap(),
        )
    }

    fn count(&self) -> usize {
        std::fs::read_dir(&self.out)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .count()
    }
}

/// Checks the peers (python3 with aiosmtpd, openssl); `None` means skip.
fn peers_ready() -> bool {
    if require_peer("python3").is_none() || require_peer("openssl").is_none() {
        return false;
    }
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd.smtp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("RMAIL_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("python3-aiosmtpd is required (RMAIL_REQUIRE_PEERS=1) but not installed");
        }
        eprintln!("SKIP: python3-aiosmtpd not installed");
    }
    ok
}

fn start(dir: &Path, mode: Mode) -> Option<Server> {
    if !peers_ready() {
        return None;
    }
    let (cert, key) = crate::serve::make_cert(dir);
    let script = dir.join("server.py");
    std::fs::write(&script, SERVER).unwrap();
    let out = dir.join("received");
    std::fs::create_dir_all(&out).unwrap();
    let mode = match mode {
        Mode::Tls => "tls",
        Mode::StartTls => "starttls",
        Mode::Plain => "plain",
    };
    let mut child = Command::new(PYTHON)
        .args(["-W", "ignore"])
        .arg(&script)
        .args([mode])
        .args([&cert, &key, &out])
        .args([USER, PASSWORD])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start aiosmtpd");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .ok();
    let port = match line.trim().parse() {
        Ok(p) => p,
        Err(_) => {
            child.kill().ok();
            child.wait().ok();
            panic!("aiosmtpd did not start (printed {line:?})");
        }
    };
    Some(Server {
        child,
        port,
        out,
        ca: cert,
    })
}

fn site(dir: &Path) -> LocalSite {
    LocalSite {
        user: "tester".into(),
        own_mailbox: dir.join("spool"),
        domains: vec!["localhost".into()],
    }
}

/// A message composed the way send mode does it (To, Cc, Bcc, a `.` line and a lone `.`).
fn composed(to: &str) -> rmail::message::compose::Composed {
    use rmail::message::compose::{compose, Draft};
    let d = Draft {
        from: "Alice <alice@example.org>".into(),
        to: vec![to.into()],
        cc: vec![],
        bcc: vec!["hidden@example.net".into()],
        subject: Some("Grüße über SMTP".into()),
        body: b"first\n.dot line stays\n.\n..two\nlast\n".to_vec(),
        attachments: vec![],
        extra_headers: vec![],
        sendcharsets: vec![],
        date: chrono::DateTime::parse_from_rfc2822("Tue, 1 Jul 2025 10:00:00 +0000").unwrap(),
        message_id: "test.1@example.org".into(),
        user_agent: "rmail test".into(),
    };
    compose(&d).expect("compose")
}

/// Sends through `rmail::send` with the given variables.
fn send_with(dir: &Path, vars: &[(&str, String)], to: &str) -> Result<(), SendError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let get = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let t = Transport::from_vars(&get)?;
    let c = composed(to);
    let out = Outgoing {
        bytes: &c.bytes,
        envelope_from: &c.envelope_from,
        recipients: &c.recipients,
    };
    send::send(&t, &out, &site(dir))
}

fn tls_vars(s: &Server, scheme: &str, password: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "mta",
            format!("{scheme}://alice%40example.org@localhost:{}", s.port),
        ),
        ("smtp-auth-password", password.to_owned()),
        ("tls-ca-file", s.ca.display().to_string()),
        ("smtp-hostname", "client.test".to_owned()),
        ("smtp-timeout", "5".to_owned()),
    ]
}

fn check_delivered(s: &Server) {
    let (env, raw) = s.received(1);
    assert!(env.contains("from: alice@example.org\n"), "{env}");
    assert!(env.contains("rcpt: bob@example.com\n"), "{env}");
    assert!(env.contains("rcpt: hidden@example.net\n"), "{env}");
    assert!(env.contains("ehlo: client.test\n"), "{env}");
    assert!(env.contains("subject: Grüße über SMTP\n"), "{env}");
    assert!(env.contains("bcc-header: False\n"), "{env}");
    // RFC 5321 §4.5.2: the server undid our dot-stuffing, so the lines are as written.
    for l in ["first", ".dot line stays", ".", "..two", "last"] {
        assert!(env.contains(&format!("body-line: {l}\n")), "{l:?} in {env}");
    }
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("\r\n.dot line stays\r\n"), "{text}");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {text:?}"
    );
    assert!(text.ends_with("last\r\n"), "{text:?}");
}

#[test]
fn smtps_auth_plain_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    send_with(
        dir.path(),
        &tls_vars(&s, "smtps", PASSWORD),
        "Bob <bob@example.com>",
    )
    .expect("send");
    check_delivered(&s);
}

#[test]
fn submission_starttls_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::StartTls) else {
        return;
    };
    send_with(
        dir.path(),
        &tls_vars(&s, "submission", PASSWORD),
        "bob@example.com",
    )
    .expect("send");
    check_delivered(&s);
}

#[test]
fn password_command_supplies_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    let mut v = tls_vars(&s, "smtps", "");
    v.retain(|(k, _)| *k != "smtp-auth-password");
    v.push((
        "password-command",
        format!("printf '%s\\nsecond line\\n' '{PASSWORD}'"),
    ));
    send_with(dir.path(), &v, "bob@example.com").expect("send");
    assert_eq!(s.count(), 1);
}

#[test]
fn auth_login_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    let mut v = tls_vars(&s, "smtps", PASSWORD);
    v.push(("smtp-auth", "login".into()));
    send_with(dir.path(), &v, "bob@example.com").expect("send with AUTH LOGIN");
    assert_eq!(s.count(), 1);
}

#[test]
fn silent_server_times_out_naming_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    // The kernel completes the handshake; nobody ever sends a greeting.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::time::Instant::now();
    let e = send_with(
        dir.path(),
        &[
            ("mta", format!("smtp://127.0.0.1:{port}")),
            ("smtp-timeout", "1".into()),
        ],
        "bob@example.com",
    )
    .unwrap_err();
    drop(l);
    assert!(matches!(e, SendError::Connect { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("timed out"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(4));
}

#[test]
fn submission_without_starttls_is_refused_and_nothing_sent() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Plain) else {
        return;
    };
    let e = send_with(
        dir.path(),
        &tls_vars(&s, "submission", PASSWORD),
        "bob@example.com",
    )
    .unwrap_err();
    eprintln!("{e}");
    assert!(matches!(e, SendError::NoStartTls { .. }), "{e}");
    assert!(
        e.to_string().contains(&format!("localhost:{}", s.port)),
        "{e}"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.count(), 0);
}

#[test]
fn cleartext_auth_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Plain) else {
        return;
    };
    let mut v = tls_vars(&s, "smtp", PASSWORD);
    let e = send_with(dir.path(), &v, "bob@example.com").unwrap_err();
    eprintln!("{e}");
    assert!(matches!(e, SendError::CleartextAuth { .. }), "{e}");
    assert!(!e.to_string().contains(PASSWORD));
    assert_eq!(s.count(), 0);
    v.push(("smtp-auth-allow-cleartext", String::new()));
    send_with(dir.path(), &v, "bob@example.com").expect("send with cleartext allowed");
    assert_eq!(s.count(), 1);
}

#[test]
fn wrong_password_shows_the_server_reply() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    let e = send_with(
        dir.path(),
        &tls_vars(&s, "smtps", "wrong"),
        "bob@example.com",
    )
    .unwrap_err();
    let text = e.to_string();
    eprintln!("{text}");
    assert!(text.contains("535"), "{text}");
    assert!(
        text.contains("Authentication credentials invalid"),
        "{text}"
    );
    assert!(!text.contains("wrong"), "{text}");
    assert_eq!(s.count(), 0);
}

#[test]
fn rejected_recipient_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    let e = send_with(
        dir.path(),
        &tls_vars(&s, "smtps", PASSWORD),
        "nobody@example.com",
    )
    .unwrap_err();
    let text = e.to_string();
    eprintln!("{text}");
    assert!(text.contains("550"), "{text}");
    assert!(text.contains("User unknown"), "{text}");
    assert!(text.contains("nobody@example.com"), "{text}");
    assert_eq!(s.count(), 0);
}

#[test]
fn untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    let mut v = tls_vars(&s, "smtps", PASSWORD);
    v.retain(|(k, _)| *k != "tls-ca-file");
    let e = send_with(dir.path(), &v, "bob@example.com").unwrap_err();
    eprintln!("{e}");
    assert!(matches!(e, SendError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("localhost"), "{e}");
    assert_eq!(s.count(), 0);
}

#[test]
fn unreachable_port_names_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = std::time::Instant::now();
    let e = send_with(
        dir.path(),
        &[
            ("mta", format!("smtp://127.0.0.1:{port}")),
            ("smtp-timeout", "5".into()),
        ],
        "bob@example.com",
    )
    .unwrap_err();
    eprintln!("{e}");
    assert!(matches!(e, SendError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

// End to end through the rmail binary: needs send mode to read the SMTP variables
// (`Transport::from_vars`).

fn rmail_args<'a>(s: &'a Server, extra: &'a [String]) -> Vec<String> {
    let mut a: Vec<String> = ["-n", "-S"].iter().map(|x| x.to_string()).collect();
    a.push(format!(
        "mta=smtps://alice%40example.org@localhost:{}",
        s.port
    ));
    for (k, v) in [
        ("smtp-auth-password", PASSWORD.to_owned()),
        ("tls-ca-file", s.ca.display().to_string()),
        ("smtp-hostname", "client.test".to_owned()),
    ] {
        a.push("-S".into());
        a.push(format!("{k}={v}"));
    }
    a.extend(extra.iter().cloned());
    a
}

#[test]
fn e2e_smtps_send_mode_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    let extra: Vec<String> = ["-v", "-r", "alice@example.org", "-s", "Grüße über SMTP"]
        .iter()
        .map(|x| x.to_string())
        .chain([
            "-b".into(),
            "hidden@example.net".into(),
            "bob@example.com".into(),
        ])
        .collect();
    let args = rmail_args(&s, &extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = run_rmail(
        dir.path(),
        &args,
        "first\n.dot line stays\n.\n..two\nlast\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(PASSWORD), "password in -v output: {err}");
    let (env, _) = s.received(1);
    assert!(env.contains("subject: Grüße über SMTP\n"), "{env}");
    assert!(env.contains("bcc-header: False\n"), "{env}");
    assert!(env.contains("rcpt: hidden@example.net\n"), "{env}");
    assert!(env.contains("body-line: .dot line stays\n"), "{env}");
}

#[test]
fn e2e_rejected_recipient_exits_4_with_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    let extra: Vec<String> = ["-s", "x", "nobody@example.com"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    let args = rmail_args(&s, &extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = run_rmail(dir.path(), &args, "body\n");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("550"), "{err}");
    assert!(dir.path().join("dead.letter").exists());
    assert_eq!(s.count(), 0);
}

#[test]
fn xoauth2_token_from_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), Mode::Tls) else {
        return;
    };
    let mut v = tls_vars(&s, "smtps", "");
    v.retain(|(k, _)| *k != "smtp-auth-password");
    v.push(("oauth2-token-command", "echo tok-correct-horse".into()));
    send_with(dir.path(), &v, "bob@example.com").expect("send with XOAUTH2");
    assert_eq!(s.count(), 1);
    // A wrong token is refused with the server's reply; nothing is sent.
    let mut v = tls_vars(&s, "smtps", "");
    v.retain(|(k, _)| *k != "smtp-auth-password");
    v.push(("smtp-auth", "xoauth2".into()));
    v.push(("oauth2-token-command", "echo expired".into()));
    let e = send_with(dir.path(), &v, "bob@example.com").unwrap_err();
    assert!(e.to_string().contains("535"), "{e}");
    assert!(!e.to_string().contains("expired"), "token leaked: {e}");
    assert_eq!(s.count(), 1);
    // smtp-auth=xoauth2 without a token command: a clear error before any AUTH.
    let mut v = tls_vars(&s, "smtps", "");
    v.push(("smtp-auth", "xoauth2".into()));
    let e = send_with(dir.path(), &v, "bob@example.com").unwrap_err();
    assert!(e.to_string().contains("oauth2-token-command"), "{e}");
}

/// A scripted server (QQ and NetEase answer in GBK, which no Debian peer does): greets,
/// accepts EHLO and MAIL, refuses RCPT with a GBK reply.
#[test]
fn gbk_reply_is_shown_decoded() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"220 mx.test ESMTP\r\n").unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let Ok(n) = c.read(&mut chunk) else { break };
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                let verb = String::from_utf8_lossy(&line[..4.min(line.len())]).to_uppercase();
                let reply: Vec<u8> = match verb.as_str() {
                    "EHLO" => b"250-mx.test\r\n250 8BITMIME\r\n".to_vec(),
                    "MAIL" => b"250 OK\r\n".to_vec(),
                    "RCPT" => {
                        let mut r = b"550 ".to_vec();
                        // "邮箱不可用" in GBK.
                        r.extend_from_slice(&[
                            0xd3, 0xca, 0xcf, 0xe4, 0xb2, 0xbb, 0xbf, 0xc9, 0xd3, 0xc3,
                        ]);
                        r.extend_from_slice(b"\r\n");
                        r
                    }
                    _ => b"221 bye\r\n".to_vec(),
                };
                c.write_all(&reply).unwrap();
            }
        }
    });
    let e = send_with(
        dir.path(),
        &[
            ("mta", format!("smtp://127.0.0.1:{port}")),
            ("smtp-timeout", "5".into()),
        ],
        "bob@example.com",
    )
    .unwrap_err();
    server.join().unwrap();
    let text = e.to_string();
    assert!(text.contains("550 邮箱不可用"), "{text}");
}
