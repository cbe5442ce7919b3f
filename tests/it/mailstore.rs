//! Issue 5 with real mail stores as peers, on loopback only: fetchmail over POP3 (UIDL keep
//! mode, then delete), mbsync syncing the IMAP INBOX into a Maildir and back, a concurrency
//! run (SMTP deliveries while IMAP and POP3 sessions flag, expunge and delete), and flags
//! agreeing both ways between the `rmail` reader and IMAP. Peers run with HOME in a temp
//! dir and explicit config files; missing peers skip (fail with `RMAIL_REQUIRE_PEERS=1`).
//! (mutt is not driven: it needs a terminal; mbsync covers the IMAP mail store side.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::serve::{from_lines, make_cert, peers, python, Serve};
use crate::util::{nonempty_lines, require_peer, run_rmail, run_script, wait_output};

/// Starts a server with a certificate (for STLS/STARTTLS) and the given POP3/IMAP listeners
/// on `127.0.0.1:0`; returns it with the certificate's path.
fn start(dir: &Path, pop3: bool, imap: bool) -> (Serve, PathBuf) {
    let (cert, key) = make_cert(dir);
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    let on = |b: bool| if b { "127.0.0.1:0" } else { "" };
    let s = Serve::start(
        dir,
        "",
        &[
            ("smtpd_tls_cert_file", &c),
            ("smtpd_tls_key_file", &k),
            ("pop3_listen", on(pop3)),
            ("imap_listen", on(imap)),
        ],
    );
    (s, cert)
}

const SEND: &str = r#"
import smtplib, sys
port, first, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
for i in range(first, first + n):
    msg = ("Message-ID: <m%d@test>\r\nSubject: store %d\r\nFrom: x@example.org\r\n"
           "To: alice@localhost\r\n\r\nbody of %d\r\n.leading dot %d\r\n\r\nlast line\r\n") % (i, i, i, i)
    r = s.sendmail("x@example.org", ["alice@localhost"], msg.encode())
    assert r == {}, r
s.quit()
print("ok")
"#;

/// The body [`SEND`] gives message `i` (LF line ends, as a local delivery agent sees it).
fn body_of(i: usize) -> String {
    format!("body of {i}\n.leading dot {i}\n\nlast line\n")
}

/// Delivers messages `first..first+n` to alice over SMTP and waits until the spool has
/// `total` messages.
fn send(s: &Serve, first: usize, n: usize, total: usize) {
    let (ok, out) = python(
        SEND,
        &[s.port("smtp").to_string(), first.to_string(), n.to_string()],
    );
    assert!(ok, "{out}\n{}", s.log());
    assert!(s.wait_messages("alice", total, 10), "{}", s.log());
}

/// The messages of an mbox text: (Message-ID number from `<mN@test>`/`<cN@test>`, header
/// block, body), in file order.
fn mbox_messages(mbox: &str) -> Vec<(Option<usize>, String, String)> {
    let mut raw: Vec<String> = Vec::new();
    let mut prev_blank = true;
    for line in mbox.split_inclusive('\n') {
        if line.starts_with("From ") && prev_blank {
            raw.push(String::new());
        }
        prev_blank = line == "\n";
        if let Some(m) = raw.last_mut() {
            m.push_str(line);
        }
    }
    raw.into_iter()
        .map(|m| {
            let (head, body) = m.split_once("\n\n").unwrap_or((&m, ""));
            (msgid(head), head.to_owned(), body.to_owned())
        })
        .collect()
}

/// The number in a `Message-ID: <mN@test>` or `<cN@test>` header of `head`.
fn msgid(head: &str) -> Option<usize> {
    head.lines().find_map(|l| {
        let v = l
            .strip_prefix("Message-ID: <")
            .or_else(|| l.strip_prefix("Message-Id: <"))?;
        v[1..].split('@').next()?.parse().ok()
    })
}

/// The value of header `name` in `head` (first occurrence), "" when absent.
fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

/// `rmail -H -f MBOX` and `s-nail -H -f MBOX` (when installed): both must list `n`
/// messages. Returns rmail's summary.
fn summaries_agree(dir: &Path, mbox: &Path, n: usize) -> String {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (code, out, err) = run_rmail(&home, &["-H", "-f", mbox.to_str().unwrap()], "");
    assert_eq!(code, 0, "rmail -H: {err}");
    assert_eq!(nonempty_lines(out.as_bytes()), n, "rmail -H:\n{out}");
    if let Some(snail) = require_peer("s-nail") {
        let mut c = Command::new(snail);
        crate::util::sandbox_env(&mut c, &home);
        c.args(["-n", "-H", "-f"]).arg(mbox);
        let o = run_script(c, "");
        let h = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            nonempty_lines(&o.stdout),
            n,
            "s-nail -H:\n{h}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    out
}

/// A peer command that cannot reach the real HOME: HOME = `home`, C locale, PATH only.
fn peer_cmd(bin: &Path, home: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("USER", "tester")
        .env("LOGNAME", "tester")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

fn run(mut c: Command) -> Output {
    wait_output(c.spawn().expect("spawn peer"), Duration::from_secs(30))
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_0600(path: &Path, contents: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The messages fetchmail's MDA stored in `inbox` (one file each), by Message-ID number;
/// the directory is emptied.
fn take_fetched(inbox: &Path) -> BTreeMap<usize, Vec<String>> {
    let mut got: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for e in std::fs::read_dir(inbox).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::read_to_string(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let (head, body) = m.split_once("\n\n").unwrap_or((&m, ""));
        let id = msgid(head).unwrap_or_else(|| panic!("no Message-ID in fetched message:\n{m}"));
        got.entry(id).or_default().push(body.to_owned());
    }
    got
}

/// fetchmail over POP3 with STLS: UIDL keep mode fetches the 4 messages once (a second
/// run fetches nothing, and the server still has them), then a run without keep (and
/// `flush`) fetches the one new message and deletes everything from the server; bodies
/// arrive as sent (dot-stuffing undone).
#[test]
fn fetchmail_uidl_keep_then_delete() {
    if !peers() {
        return;
    }
    let Some(fetchmail) = require_peer("fetchmail") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path(), true, false);
    send(&s, 0, 4, 4);
    let home = dir.path().join("fm-home");
    let inbox = dir.path().join("fetched");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    let mda = dir.path().join("mda.sh");
    std::fs::write(
        &mda,
        format!(
            "#!/bin/sh\nf=$(mktemp '{}/msg.XXXXXX') || exit 75\ncat > \"$f\"\n",
            inbox.display()
        ),
    )
    .unwrap();
    let rc = dir.path().join("fetchmailrc");
    write_0600(
        &rc,
        &format!(
            "set no syslog\n\
             poll localhost via 127.0.0.1 with proto POP3 port {port} and options uidl\n\
             \x20 user \"alice\" there with password \"alicepass\"\n\
             \x20 options keep sslproto \"TLS1.2+\" sslcertck sslcertfile \"{cert}\" sslcommonname \"localhost\"\n\
             \x20 mda \"/bin/sh {mda}\"\n",
            port = s.port("pop3"),
            cert = cert.display(),
            mda = mda.display(),
        ),
    );
    let idfile = home.join("fetchids");
    let fm = |extra: &[&str]| {
        let mut c = peer_cmd(&fetchmail, &home);
        c.env("FETCHMAILHOME", &home)
            .arg("-f")
            .arg(&rc)
            .arg("-i")
            .arg(&idfile)
            // As root the lock is /var/run/fetchmail.pid otherwise: parallel runs collide.
            .arg("--pidfile")
            .arg(home.join("fetchmail.pid"))
            .args(["--nosyslog", "-v"])
            .args(extra);
        run(c)
    };
    // Run 1: all four, kept on the server.
    let o = fm(&[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "fetchmail run 1: {}\n{}",
        text(&o),
        s.log()
    );
    let got = take_fetched(&inbox);
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "{}",
        text(&o)
    );
    for (i, bodies) in &got {
        assert_eq!(bodies, &[body_of(*i)], "message {i}");
    }
    assert_eq!(
        from_lines(&s.mailbox("alice")),
        4,
        "keep: still on the server"
    );
    // Run 2: UIDL says all are seen; exit 1 = no mail.
    let o = fm(&[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "fetchmail run 2 (nothing new): {}\n{}",
        text(&o),
        s.log()
    );
    let got = take_fetched(&inbox);
    assert!(got.is_empty(), "duplicates fetched: {got:?}\n{}", text(&o));
    assert_eq!(from_lines(&s.mailbox("alice")), 4);
    // Run 3: one new message; nokeep + flush fetches it and deletes all five.
    send(&s, 4, 1, 5);
    let o = fm(&["--nokeep", "--flush"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "fetchmail run 3: {}\n{}",
        text(&o),
        s.log()
    );
    let got = take_fetched(&inbox);
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), [4], "{}", text(&o));
    assert_eq!(got[&4], [body_of(4)]);
    let mbox = s.mailbox("alice");
    assert_eq!(
        from_lines(&mbox),
        0,
        "nokeep+flush left mail on the server:\n{mbox}\n{}",
        text(&o)
    );
    // And nothing more to fetch.
    let o = fm(&[]);
    assert_eq!(o.status.code(), Some(1), "fetchmail run 4: {}", text(&o));
    assert!(take_fetched(&inbox).is_empty());
}

/// The files of a Maildir folder (`cur` and `new`): file name → contents.
fn maildir_files(folder: &Path) -> BTreeMap<PathBuf, String> {
    let mut m = BTreeMap::new();
    for sub in ["cur", "new"] {
        let Ok(rd) = std::fs::read_dir(folder.join(sub)) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            m.insert(p.clone(), std::fs::read_to_string(&p).unwrap());
        }
    }
    m
}

/// mbsync over IMAP with STARTTLS: the INBOX lands in a Maildir as sent; a message flagged
/// \Seen and \Flagged locally gets `Status: RO` and `X-Status: F` in the server's mbox (and
/// `rmail -H` no longer shows it as new); a message deleted locally is expunged from the
/// mbox; a second sync changes nothing on either side.
#[test]
fn mbsync_maildir_round_trip() {
    if !peers() {
        return;
    }
    let Some(mbsync) = require_peer("mbsync") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (s, cert) = start(dir.path(), false, true);
    send(&s, 0, 3, 3);
    let home = dir.path().join("mb-home");
    let maildir = dir.path().join("Mail");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&maildir).unwrap();
    let cfg = dir.path().join("mbsyncrc");
    write_0600(
        &cfg,
        &format!(
            "IMAPAccount rmail\nHost localhost\nPort {port}\nUser alice\nPass alicepass\n\
             SSLType STARTTLS\nCertificateFile {cert}\n\n\
             IMAPStore remote\nAccount rmail\n\n\
             MaildirStore local\nPath {md}/\nInbox {md}/INBOX\n\n\
             Channel inbox\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\n\
             Sync All\nExpunge Both\nSyncState *\n",
            port = s.port("imap"),
            cert = cert.display(),
            md = maildir.display(),
        ),
    );
    let sync = || {
        let mut c = peer_cmd(&mbsync, &home);
        c.arg("-c").arg(&cfg).args(["-V", "-a"]);
        let o = run(c);
        assert!(o.status.success(), "mbsync: {}\n{}", text(&o), s.log());
        o
    };
    sync();
    let inbox = maildir.join("INBOX");
    let files = maildir_files(&inbox);
    assert_eq!(files.len(), 3, "{files:?}");
    let mut by_id: BTreeMap<usize, PathBuf> = BTreeMap::new();
    for (p, m) in &files {
        let (head, body) = m.split_once("\n\n").unwrap();
        let id = msgid(head).unwrap_or_else(|| panic!("no Message-ID:\n{m}"));
        assert_eq!(
            body.replace("\r\n", "\n"),
            body_of(id),
            "message {id} in {}",
            p.display()
        );
        assert!(header(head, "Subject") == format!("store {id}"), "{head}");
        by_id.insert(id, p.clone());
    }
    assert_eq!(by_id.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    // Flag message 1 seen + flagged locally: the Maildir info ":2,FS".
    let old = &by_id[&1];
    let name = old.file_name().unwrap().to_str().unwrap();
    let base = name.split(":2,").next().unwrap();
    let new = inbox.join("cur").join(format!("{base}:2,FS"));
    std::fs::rename(old, &new).unwrap();
    // Delete message 2 locally.
    std::fs::remove_file(&by_id[&2]).unwrap();
    sync();
    let mbox = s.mailbox("alice");
    let msgs = mbox_messages(&mbox);
    let ids: Vec<_> = msgs.iter().map(|m| m.0).collect();
    assert_eq!(
        ids,
        [Some(0), Some(1)],
        "message 2 expunged from the server:\n{mbox}"
    );
    let head1 = &msgs[1].1;
    assert!(
        header(head1, "Status").contains('R'),
        "Status R for \\Seen:\n{head1}"
    );
    assert!(
        header(head1, "X-Status").contains('F'),
        "X-Status F for \\Flagged:\n{head1}"
    );
    let head0 = &msgs[0].1;
    assert!(!header(head0, "X-Status").contains('F'), "{head0}");
    assert!(
        !header(head0, "Status").contains('R'),
        "message 0 was never read:\n{head0}"
    );
    let path = dir.path().join("spool/alice");
    let out = summaries_agree(dir.path(), &path, 2);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].contains("store 1"), "{out}");
    let status = |l: &str| l.chars().nth(1).unwrap_or(' ');
    assert!(
        !matches!(status(lines[1]), 'N' | 'U'),
        "read via mbsync, shown unread:\n{out}"
    );
    assert!(
        matches!(status(lines[0]), 'N' | 'U'),
        "message 0 is unread:\n{out}"
    );
    // A second sync is a no-op on both sides.
    let before_mbox = std::fs::read(&path).unwrap();
    let before_md = maildir_files(&inbox);
    assert_eq!(before_md.len(), 2);
    let o = sync();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before_mbox,
        "second sync changed the mbox\n{}",
        text(&o)
    );
    assert_eq!(
        maildir_files(&inbox),
        before_md,
        "second sync changed the Maildir\n{}",
        text(&o)
    );
}

const CONCURRENT: &str = r#"
import imaplib, poplib, smtplib, sys, threading, time, re, json
smtp, imap, pop, N, T = [int(a) for a in sys.argv[1:6]]
mode = sys.argv[6]
errors = []
stop = threading.Event()
imap_deleted, imap_flagged, pop_deleted = set(), set(), set()
uid_to_id, mislabeled, retries = {}, [], [0]
def idnum(b):
    m = re.search(rb"<c(\d+)@test>", b)
    return int(m.group(1)) if m else None
def guard(f):
    def g(*a):
        try:
            f(*a)
        except Exception as e:
            import traceback
            errors.append("%s: %r\n%s" % (f.__name__, e, traceback.format_exc()))
            stop.set()
    return g
@guard
def sender(k):
    s = smtplib.SMTP("127.0.0.1", smtp, timeout=60)
    for i in range(k, N, T):
        msg = ("Message-ID: <c%d@test>\r\nSubject: c %d\r\nFrom: x@example.org\r\n\r\nbody %d\r\n" % (i, i, i)).encode()
        r = s.sendmail("x@example.org", ["alice@localhost"], msg)
        assert r == {}, r
    s.quit()
@guard
def imap_worker():
    M = imaplib.IMAP4("127.0.0.1", imap, timeout=60)
    M.login("alice", "alicepass")
    rounds = 0
    while True:
        last = stop.is_set()
        typ, data = M.select("INBOX")
        assert typ == "OK", (typ, data)
        if int(data[0]) > 0:
            typ, data = M.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            if typ == "NO":
                # The mbox was rewritten by POP3 since the last command: NOOP reports the
                # EXPUNGEs, then fetch again (what a careful client does).
                retries[0] += 1
                M.noop()
                continue
            assert typ == "OK", (typ, data)
            todel, toflag = [], []
            for item in data:
                if not isinstance(item, tuple):
                    continue
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                n = idnum(item[1])
                if n is None:
                    continue
                if uid_to_id.setdefault(uid, n) != n:
                    mislabeled.append("UID %d served <c%d@test>, earlier <c%d@test>" % (uid, n, uid_to_id[uid]))
                    continue
                if n % 7 == 0:
                    todel.append((uid, n))
                elif n % 5 == 0 and n not in imap_flagged:
                    toflag.append((uid, n))
            if toflag:
                typ, d = M.uid("STORE", ",".join(str(u) for u, _ in toflag), "+FLAGS", "(\\Flagged)")
                assert typ == "OK", (typ, d)
                imap_flagged.update(n for _, n in toflag)
            if todel:
                typ, d = M.uid("STORE", ",".join(str(u) for u, _ in todel), "+FLAGS", "(\\Deleted)")
                assert typ == "OK", (typ, d)
                typ, d = M.expunge()
                assert typ == "OK", (typ, d)
                imap_deleted.update(n for _, n in todel)
        rounds += 1
        if last:
            break
        time.sleep(0.05)
    M.logout()
    print("imap rounds", rounds)
@guard
def pop_worker():
    ids = {}
    rounds = 0
    while True:
        last = stop.is_set()
        p = poplib.POP3("127.0.0.1", pop, timeout=60)
        p.user("alice"); p.pass_("alicepass")
        dels = []
        for l in p.uidl()[1]:
            num, uid = l.split()
            if uid not in ids:
                try:
                    ids[uid] = idnum(b"\n".join(p.top(int(num), 0)[1]))
                except poplib.error_proto as e:
                    # Expunged over IMAP since this session opened: acceptable.
                    continue
            n = ids[uid]
            if n is not None and n % 11 == 0:
                p.dele(int(num)); dels.append(n)
        resp = p.quit()
        assert resp.startswith(b"+OK"), resp
        pop_deleted.update(dels)
        rounds += 1
        if last:
            break
        time.sleep(0.1)
    print("pop rounds", rounds)
senders = [threading.Thread(target=sender, args=(k,)) for k in range(T)]
workers = [threading.Thread(target=w) for w in [imap_worker] * (mode != "pop") + [pop_worker] * (mode != "imap")]
for t in senders + workers:
    t.start()
for t in senders:
    t.join()
stop.set()
for t in workers:
    t.join()
if errors:
    print("FAILED:", "\n".join(errors)); sys.exit(1)
print("imap FETCH retries", retries[0])
print("RESULT " + json.dumps({"mislabeled": mislabeled, "imap_deleted": sorted(imap_deleted), "imap_flagged": sorted(imap_flagged), "pop_deleted": sorted(pop_deleted)}))
"#;

/// 500 messages over SMTP from 5 threads while one IMAP session flags (\Flagged) and
/// expunges (\Deleted + EXPUNGE) messages: afterwards every message is in the mbox exactly
/// once unless the client deleted it (by Message-ID), IMAP never served one message's
/// content under another's UID, and rmail and s-nail count the same messages.
#[test]
fn concurrent_delivery_with_imap_flag_and_expunge() {
    concurrent("imap", true);
}

/// The same with POP3 sessions deleting messages (DELE, QUIT) during the deliveries.
#[test]
fn concurrent_delivery_with_pop3_delete() {
    concurrent("pop", true);
}

/// Both at once: deliveries, the IMAP session and the POP3 sessions. Intermittently one
/// message that nobody deleted is gone from the mbox at the end (e.g. `c332: 0 copies,
/// want 1`; about 1 run in 3 with three copies of this test running in parallel, rarely
/// alone). Neither IMAP nor POP3 alone loses anything (the two tests above, and 9 loaded
/// runs each), so it is the interplay of two rewriters of the mbox: a write-back that
/// deletes by UID after the other's rewrite (or the side index's UID assignment after a
/// rescan) removing the wrong message. Flags are not checked here (see below).
#[test]
fn concurrent_delivery_imap_expunge_and_pop3_delete() {
    concurrent("both", false);
}

/// The same run, also checking that every message flagged over IMAP still has
/// `X-Status: F` at the end.
#[test]
fn concurrent_delivery_keeps_imap_flags() {
    concurrent("both", true);
}

fn concurrent(mode: &str, check_flags: bool) {
    if !peers() {
        return;
    }
    const N: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let (s, _cert) = start(dir.path(), true, true);
    let (ok, out) = python(
        CONCURRENT,
        &[
            s.port("smtp").to_string(),
            s.port("imap").to_string(),
            s.port("pop3").to_string(),
            N.to_string(),
            "5".into(),
            mode.into(),
        ],
    );
    assert!(ok, "{out}\n{}", s.log());
    let result = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("{out}"));
    let list = |key: &str| -> BTreeSet<usize> {
        let v = result.split(&format!("\"{key}\": [")).nth(1).unwrap();
        let v = v.split(']').next().unwrap();
        v.split(',').filter_map(|x| x.trim().parse().ok()).collect()
    };
    assert!(
        result.contains("\"mislabeled\": []"),
        "IMAP served another message's content under a UID:\n{out}"
    );
    let (imap_deleted, imap_flagged, pop_deleted) = (
        list("imap_deleted"),
        list("imap_flagged"),
        list("pop_deleted"),
    );
    assert_eq!(imap_deleted.is_empty(), mode == "pop", "{out}");
    assert_eq!(pop_deleted.is_empty(), mode == "imap", "{out}");
    let deleted: BTreeSet<usize> = imap_deleted.union(&pop_deleted).copied().collect();
    let mbox = s.mailbox("alice");
    let msgs = mbox_messages(&mbox);
    let mut count: BTreeMap<usize, usize> = BTreeMap::new();
    for (id, head, _) in &msgs {
        let id = id.unwrap_or_else(|| panic!("message without Message-ID:\n{head}"));
        *count.entry(id).or_default() += 1;
    }
    let mut problems = Vec::new();
    for i in 0..N {
        let c = count.get(&i).copied().unwrap_or(0);
        let want = usize::from(!deleted.contains(&i));
        if c != want {
            problems.push(format!("c{i}: {c} copies, want {want}"));
        }
    }
    assert!(problems.is_empty(), "{}\n{out}", problems.join("\n"));
    for (id, head, _) in &msgs {
        let id = id.unwrap();
        if check_flags && imap_flagged.contains(&id) {
            assert!(
                header(head, "X-Status").contains('F'),
                "c{id} lost \\Flagged:\n{head}"
            );
        }
    }
    let expected = N - deleted.len();
    assert_eq!(msgs.len(), expected);
    assert_eq!(from_lines(&mbox), expected);
    summaries_agree(dir.path(), &dir.path().join("spool/alice"), expected);
}

const IMAP_FLAGS: &str = r#"
import imaplib, sys, json
imap, op = int(sys.argv[1]), sys.argv[2]
M = imaplib.IMAP4("127.0.0.1", imap, timeout=30)
M.login("alice", "alicepass")
typ, data = M.select("INBOX")
assert typ == "OK", data
out = {"exists": int(data[0])}
if op == "flag":
    typ, d = M.store("2", "+FLAGS", "(\\Flagged)")
    assert typ == "OK", d
typ, data = M.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
rows = []
for item in data:
    if isinstance(item, tuple):
        rows.append(item[0].decode() + " " + item[1].decode().strip())
out["rows"] = rows
M.logout()
for r in rows:
    print("ROW", r)
print("EXISTS", out["exists"])
"#;

/// Flags both ways between the reader and IMAP: `p 1` and `d 2` at rmail's prompt (with
/// `hold`) give IMAP \Seen on message 1 and message 2 gone; `STORE +FLAGS \Flagged` over
/// IMAP gives `X-Status: F` in the mbox (the reader's summary has no flagged marker), and a
/// later reader session that only reads keeps it.
#[test]
fn reader_and_imap_flags_both_ways() {
    if !peers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (s, _cert) = start(dir.path(), false, true);
    send(&s, 0, 3, 3);
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let path = dir.path().join("spool/alice");
    let spool = path.to_str().unwrap();
    let (code, out, err) = run_rmail(&home, &["-N", "-S", "hold", "-f", spool], "p 1\nd 2\nq\n");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("body of 0"), "{out}");
    let imap = s.port("imap").to_string();
    let (ok, out) = python(IMAP_FLAGS, &[imap.clone(), "look".into()]);
    assert!(ok, "{out}\n{}", s.log());
    assert!(
        out.contains("EXISTS 2"),
        "message 2 deleted in the reader:\n{out}"
    );
    let rows: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ROW ")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].contains("<m0@test>") && rows[0].contains("\\Seen"),
        "{out}"
    );
    assert!(
        rows[1].contains("<m2@test>") && !rows[1].contains("\\Seen"),
        "{out}"
    );
    // IMAP → reader: \Flagged on message 2 (m2).
    let (ok, out) = python(IMAP_FLAGS, &[imap.clone(), "flag".into()]);
    assert!(ok, "{out}\n{}", s.log());
    let rows: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ROW ")).collect();
    assert!(rows[1].contains("\\Flagged"), "{out}");
    let msgs = mbox_messages(&s.mailbox("alice"));
    assert_eq!(msgs.len(), 2);
    assert!(
        header(&msgs[1].1, "X-Status").contains('F'),
        "{}",
        msgs[1].1
    );
    assert!(header(&msgs[0].1, "Status").contains('R'), "{}", msgs[0].1);
    let sum = summaries_agree(dir.path(), &path, 2);
    let lines: Vec<&str> = sum.lines().collect();
    assert!(
        lines[0].contains("store 0") && lines[1].contains("store 2"),
        "{sum}"
    );
    assert!(
        !matches!(lines[0].chars().nth(1), Some('N' | 'U')),
        "read in the reader:\n{sum}"
    );
    assert!(
        matches!(lines[1].chars().nth(1), Some('N' | 'U')),
        "never read:\n{sum}"
    );
    // The reader reads message 2 and quits: \Flagged (X-Status F) survives, \Seen added.
    let (code, out, err) = run_rmail(&home, &["-N", "-S", "hold", "-f", spool], "p 2\nq\n");
    assert_eq!(code, 0, "{out}\n{err}");
    let msgs = mbox_messages(&s.mailbox("alice"));
    assert_eq!(msgs.len(), 2);
    assert!(
        header(&msgs[1].1, "X-Status").contains('F'),
        "reader dropped X-Status F:\n{}",
        msgs[1].1
    );
    let (ok, out) = python(IMAP_FLAGS, &[imap, "look".into()]);
    assert!(ok, "{out}\n{}", s.log());
    let rows: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ROW ")).collect();
    assert!(
        rows[1].contains("\\Flagged") && rows[1].contains("\\Seen"),
        "{out}"
    );
}

const MEANWHILE: &str = r#"
import imaplib, poplib, sys, subprocess, re
imap, pop, op, rmail, home, spool = sys.argv[1:7]
imap, pop = int(imap), int(pop)
def reader(script):
    o = subprocess.run([rmail, "-N", "-S", "hold", "-f", spool], input=script.encode(),
                       capture_output=True, timeout=30,
                       env={"HOME": home, "MAILRC": "/dev/null", "MAIL": home + "/spool", "PATH": "/usr/bin:/bin"})
    assert o.returncode == 0, o
def imap_login():
    M = imaplib.IMAP4("127.0.0.1", imap, timeout=30)
    M.login("alice", "alicepass")
    typ, data = M.select("INBOX")
    assert typ == "OK", data
    return M
def ids(data):
    out = []
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            out.append((uid, int(re.search(rb"<m(\d+)@test>", item[1]).group(1))))
    return out
FETCH = "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
if op == "pop3-quit":
    # POP3 session open; meanwhile IMAP flags message 1 and the reader reads message 2;
    # then POP3 deletes message 3 and quits.
    p = poplib.POP3("127.0.0.1", pop, timeout=30)
    p.user("alice"); p.pass_("alicepass")
    assert p.stat()[0] == 3
    M = imap_login()
    typ, d = M.store("1", "+FLAGS", "(\\Flagged)")
    assert typ == "OK", d
    M.logout()
    reader("p 2\nq\n")
    p.dele(3)
    print(p.quit())
elif op == "imap-expunge":
    # IMAP session selected; meanwhile the reader reads message 1; then IMAP expunges 3.
    M = imap_login()
    reader("p 1\nq\n")
    typ, d = M.store("3", "+FLAGS", "(\\Deleted)")
    assert typ == "OK", d
    typ, d = M.expunge()
    assert typ == "OK", d
    M.logout()
elif op == "imap-fetch":
    # IMAP knows UID -> message; POP3 deletes message 2; IMAP fetches again.
    M = imap_login()
    typ, data = M.uid("FETCH", "1:*", FETCH)
    assert typ == "OK", data
    known = dict(ids(data))
    assert len(known) == 4, known
    p = poplib.POP3("127.0.0.1", pop, timeout=30)
    p.user("alice"); p.pass_("alicepass"); p.dele(2); p.quit()
    for attempt in range(2):
        typ, data = M.uid("FETCH", "1:*", FETCH)
        print("UID FETCH:", typ, [x for x in data if isinstance(x, tuple)] if typ == "OK" else data)
        for uid, n in ids(data):
            if known.get(uid) != n:
                print("FAILED: UID %d served <m%d@test>, it is <m%s@test>" % (uid, n, known.get(uid)))
                sys.exit(1)
    M.noop()
    # imaplib keeps the FETCH lines of the refused attempts above; only this answer counts.
    M.untagged_responses.clear()
    typ, data = M.uid("FETCH", "1:*", FETCH)
    assert typ == "OK", data
    got = ids(data)
    assert got == [(u, n) for u, n in sorted(known.items()) if n != 1], (got, known)
print("ok")
"#;

/// Runs [`MEANWHILE`] `op` against a fresh server holding messages m0..m3 (`n` of them).
fn meanwhile(op: &str, n: usize) -> (tempfile::TempDir, Serve) {
    let dir = tempfile::tempdir().unwrap();
    let (s, _cert) = start(dir.path(), true, true);
    send(&s, 0, n, n);
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let spool = dir.path().join("spool/alice");
    let (ok, out) = python(
        MEANWHILE,
        &[
            s.port("imap").to_string(),
            s.port("pop3").to_string(),
            op.into(),
            crate::util::rmail_bin().display().to_string(),
            home.display().to_string(),
            spool.display().to_string(),
        ],
    );
    assert!(ok, "{out}\n{}", s.log());
    (dir, s)
}

/// A POP3 session's QUIT keeps the flags other programs wrote while it was open: \Flagged
/// stored over IMAP (`X-Status: F`) and a message read in the reader (`Status: R`).
/// Today the write-back reverts every message's flag fields to the POP3 session's
/// snapshot (`store::view::MailboxView::sync` → `carry_over` keeps the session's stale
/// `info.flags`/`old`, takes only the new `disk` header, so `pending()` is true for every
/// message changed by someone else and `plan_for` writes `FlagEdit::Set(stale)`).
#[test]
fn pop3_quit_keeps_flags_written_meanwhile() {
    if !peers() {
        return;
    }
    let (_dir, s) = meanwhile("pop3-quit", 3);
    let mbox = s.mailbox("alice");
    let msgs = mbox_messages(&mbox);
    let ids: Vec<_> = msgs.iter().map(|m| m.0).collect();
    assert_eq!(ids, [Some(0), Some(1)], "{mbox}");
    assert!(
        header(&msgs[0].1, "X-Status").contains('F'),
        "IMAP's \\Flagged reverted:\n{mbox}"
    );
    assert!(
        header(&msgs[1].1, "Status").contains('R'),
        "the reader's Status: R reverted:\n{mbox}"
    );
}

/// The same through IMAP: the reader marks message 1 read while an IMAP session has the
/// INBOX selected; that session's STORE \Deleted + EXPUNGE of message 3 must keep
/// message 1's `Status: R`.
#[test]
fn imap_expunge_keeps_flags_written_by_the_reader() {
    if !peers() {
        return;
    }
    let (_dir, s) = meanwhile("imap-expunge", 3);
    let mbox = s.mailbox("alice");
    let msgs = mbox_messages(&mbox);
    let ids: Vec<_> = msgs.iter().map(|m| m.0).collect();
    assert_eq!(ids, [Some(0), Some(1)], "{mbox}");
    assert!(
        header(&msgs[0].1, "Status").contains('R'),
        "the reader's Status: R reverted:\n{mbox}"
    );
}

/// After another program (here a POP3 session) removed message 2 of 4 equal-sized
/// messages, the selected IMAP session's `UID FETCH 1:*` must never label a message's
/// content with another message's UID (a NO, or EXPUNGE responses, are fine). Today it
/// answers `* 2 FETCH (UID 2 …<m2@test>…)`, `* 3 FETCH (UID 3 …<m3@test>…)` and then
/// `NO [UNAVAILABLE]` (the message reads go to the snapshot's offsets; only a `From `
/// at the offset is checked, `store::mbox::Mbox::read_raw`/`read_header`), and keeps doing
/// so until a NOOP rescans. A client caching by UID stores the wrong message; one that
/// deletes by UID deletes the wrong one.
#[test]
fn imap_fetch_never_serves_another_message_under_a_uid() {
    if !peers() {
        return;
    }
    let (_dir, s) = meanwhile("imap-fetch", 4);
    assert_eq!(from_lines(&s.mailbox("alice")), 3);
}
