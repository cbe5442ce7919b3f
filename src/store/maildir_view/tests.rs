use super::*;
use crate::mda::maildir::deliver_to_maildir;

struct T {
    _d: tempfile::TempDir,
    md: PathBuf,
    index: PathBuf,
}

fn setup() -> T {
    let d = tempfile::tempdir().unwrap();
    let md = d.path().join("Maildir");
    let index = d.path().join("imap").join("INBOX");
    T { _d: d, md, index }
}

impl T {
    fn open(&self) -> MaildirView {
        MaildirView::open(&self.md, &self.index, false).unwrap()
    }

    fn deliver(&self, n: usize) -> PathBuf {
        let p = deliver_to_maildir(
            &self.md,
            format!("Message-ID: <{n}@x>\nSubject: s{n}\n\nbody {n}\n").as_bytes(),
        )
        .unwrap();
        // Names order deliveries by the microsecond; keep them apart.
        std::thread::sleep(Duration::from_millis(2));
        p
    }

    fn names(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.md.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }
}

fn uids(v: &MaildirView) -> Vec<u32> {
    (0..v.len()).map(|i| v.info(i).uid).collect()
}

fn subjects(v: &MaildirView) -> Vec<String> {
    (0..v.len())
        .map(|i| {
            let m = String::from_utf8(v.message(i).unwrap()).unwrap();
            m.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

fn seen() -> Flags {
    Flags {
        seen: true,
        ..Flags::default()
    }
}

#[test]
fn delivered_mail_gets_uids_that_survive_reopen() {
    let t = setup();
    // No Maildir yet: empty.
    let v = t.open();
    assert!(v.is_empty() && !v.is_read_only());
    for n in 1..=3 {
        t.deliver(n);
    }
    let v = t.open();
    assert_eq!(uids(&v), [1, 2, 3]);
    assert_eq!(v.uidnext(), 4);
    assert_eq!(subjects(&v), ["s1", "s2", "s3"]);
    assert!((0..3).all(|i| v.info(i).recent));
    let m = v.message(0).unwrap();
    assert_eq!(v.info(0).size_crlf, flags::size_crlf(&m));
    assert_eq!(v.info(0).size_crlf, m.len() as u64 + 4);
    assert!(v.info(0).internal_date > 1_600_000_000);
    assert_eq!(v.uidl(1), format!("{:08x}{:08x}", v.uidvalidity(), 2));
    let w = t.open();
    assert_eq!(
        (w.uidvalidity(), uids(&w)),
        (v.uidvalidity(), vec![1, 2, 3])
    );
    assert_eq!(w.seq_of_uid(3), Some(2));
    assert_eq!(w.seq_of_uid(4), None);
    // A lost index: a new, larger UIDVALIDITY.
    fs::write(&t.index, b"garbage\n").unwrap();
    let x = t.open();
    assert_eq!(uids(&x), [1, 2, 3]);
    assert!(x.uidvalidity() >= v.uidvalidity());
}

#[test]
fn flag_change_renames_and_keeps_the_uid() {
    let t = setup();
    t.deliver(1);
    t.deliver(2);
    let mut v = t.open();
    let base = t.names("new")[1].clone();
    let f = Flags {
        seen: true,
        flagged: true,
        answered: true,
        deleted: true,
        draft: true,
    };
    v.set_flags(
        1,
        f,
        vec!["Junk".into(), "$Forwarded".into(), "junk".into()],
    );
    let ch = v.sync(&[]).unwrap();
    assert_eq!(ch, Changes::default());
    assert_eq!(t.names("cur"), [format!("{base}:2,DFRST")]);
    assert_eq!(t.names("new").len(), 1);
    assert_eq!(uids(&v), [1, 2]);
    assert_eq!(v.info(1).flags, f);
    let w = t.open();
    assert_eq!(uids(&w), [1, 2]);
    assert_eq!(w.info(1).flags, f);
    assert_eq!(w.info(1).keywords, ["Junk", "$Forwarded"]);
    // Back to only \Seen.
    v.set_flags(1, seen(), vec![]);
    v.sync(&[]).unwrap();
    assert_eq!(t.names("cur"), [format!("{base}:2,S")]);
    let w = t.open();
    assert_eq!((w.info(1).uid, w.info(1).flags), (2, seen()));
    assert!(w.info(1).keywords.is_empty());
    assert_eq!(subjects(&w), ["s1", "s2"]);
}

#[test]
fn expunge_unlinks_and_recent_moves_to_cur() {
    let t = setup();
    for n in 1..=3 {
        t.deliver(n);
    }
    let mut v = t.open();
    v.clear_recent();
    let ch = v.sync(&[1, 7]).unwrap();
    assert_eq!(ch.expunged, [1]);
    assert_eq!(uids(&v), [1, 3]);
    assert!(t.names("new").is_empty());
    let cur = t.names("cur");
    assert_eq!(cur.len(), 2);
    assert!(cur.iter().all(|n| n.ends_with(":2,")));
    // Still recent for this session, not for the next one.
    assert!(v.info(0).recent);
    let w = t.open();
    assert_eq!(uids(&w), [1, 3]);
    assert!(!w.info(0).recent && !w.info(1).recent);
    assert_eq!(subjects(&w), ["s1", "s3"]);
}

#[test]
fn refresh_sees_deliveries_deletions_and_renames_by_others() {
    let t = setup();
    let p1 = t.deliver(1);
    t.deliver(2);
    let mut v = t.open();
    assert_eq!(v.refresh().unwrap(), Changes::default());
    fs::remove_file(&p1).unwrap();
    t.deliver(3);
    t.deliver(4);
    let ch = v.refresh().unwrap();
    assert_eq!(ch.expunged, [0]);
    assert_eq!(ch.arrived, 2);
    assert_eq!(uids(&v), [2, 3, 4]);
    assert_eq!(subjects(&v), ["s2", "s3", "s4"]);
    // mutt reads message 3: new/X → cur/X:2,S.
    let name = t.names("new").into_iter().find(|n| {
        fs::read_to_string(t.md.join("new").join(n))
            .unwrap()
            .contains("s3")
    });
    let name = name.unwrap();
    // Before the refresh, the message is found under its new name.
    fs::rename(
        t.md.join("new").join(&name),
        t.md.join("cur").join(format!("{name}:2,S")),
    )
    .unwrap();
    assert!(String::from_utf8(v.message(1).unwrap())
        .unwrap()
        .contains("s3"));
    let ch = v.refresh().unwrap();
    assert_eq!((ch.flags_changed, ch.arrived), (vec![1], 0));
    assert_eq!((v.info(1).uid, v.info(1).flags), (3, seen()));
    // Removed by someone: NotFound, then expunged.
    fs::remove_file(t.md.join("cur").join(format!("{name}:2,S"))).unwrap();
    assert_eq!(v.message(1).unwrap_err().kind(), io::ErrorKind::NotFound);
    let ch = v.refresh().unwrap();
    assert_eq!(ch.expunged, [1]);
    assert_eq!(uids(&v), [2, 4]);
}

#[test]
fn sync_merges_flags_changed_by_others() {
    let t = setup();
    t.deliver(1);
    let mut v = t.open();
    let name = t.names("new")[0].clone();
    // Another program flags it; we mark it seen without a refresh in between.
    fs::rename(
        t.md.join("new").join(&name),
        t.md.join("cur").join(format!("{name}:2,F")),
    )
    .unwrap();
    v.set_flags(0, seen(), vec![]);
    v.sync(&[]).unwrap();
    assert_eq!(t.names("cur"), [format!("{name}:2,FS")]);
    assert!(v.info(0).flags.flagged && v.info(0).flags.seen);
    // Expunging a message someone already moved.
    fs::rename(
        t.md.join("cur").join(format!("{name}:2,FS")),
        t.md.join("cur").join(format!("{name}:2,FRS")),
    )
    .unwrap();
    let ch = v.sync(&[0]).unwrap();
    assert_eq!(ch.expunged, [0]);
    assert!(t.names("cur").is_empty() && v.is_empty());
}

#[test]
fn append_returns_the_uid_and_the_bytes() {
    let t = setup();
    t.deliver(1);
    let f = Flags {
        seen: true,
        flagged: true,
        ..Flags::default()
    };
    let (uv, uid) = MaildirView::append(
        &t.md,
        &t.index,
        b"Subject: app\r\n\r\nline\r\nlast",
        f,
        vec!["Work".into(), "bad word".into()],
        Some(1_700_000_000),
    )
    .unwrap();
    let v = t.open();
    assert_eq!((uv, uid), (v.uidvalidity(), Some(2)));
    assert_eq!(uids(&v), [1, 2]);
    let i = v.seq_of_uid(2).unwrap();
    assert_eq!(v.message(i).unwrap(), b"Subject: app\n\nline\nlast\n");
    assert_eq!(v.info(i).size_crlf, 28);
    assert_eq!(v.info(i).flags, f);
    assert_eq!(v.info(i).keywords, ["Work"]);
    assert_eq!(v.info(i).internal_date, 1_700_000_000);
    assert!(!v.info(i).recent);
    let cur = t.names("cur");
    assert_eq!(cur.len(), 1);
    assert!(cur[0].ends_with(",S=23:2,FS"), "{cur:?}");
    assert!(t.names("tmp").is_empty());
    // Read-only views refuse changes.
    let mut r = MaildirView::open(&t.md, &t.index, true).unwrap();
    assert!(r.is_read_only());
    r.set_flags(0, seen(), vec![]);
    assert!(matches!(
        r.sync(&[]),
        Err(ViewError::Store(StoreError::ReadOnly(_)))
    ));
    assert_eq!(t.names("new").len(), 1);
}

#[test]
fn python_mailbox_reads_our_flags() {
    let py = Path::new("/usr/bin/python3");
    if !py.exists() {
        eprintln!("skipped: no /usr/bin/python3");
        return;
    }
    let t = setup();
    t.deliver(1);
    t.deliver(2);
    let mut v = t.open();
    v.set_flags(
        0,
        Flags {
            seen: true,
            answered: true,
            flagged: true,
            ..Flags::default()
        },
        vec![],
    );
    v.set_flags(
        1,
        Flags {
            deleted: true,
            draft: true,
            ..Flags::default()
        },
        vec![],
    );
    v.sync(&[]).unwrap();
    let script = "import mailbox,sys\n\
        md = mailbox.Maildir(sys.argv[1], factory=None, create=False)\n\
        out = sorted((m['Subject'], m.get_flags(), m.get_subdir()) for m in md)\n\
        print(out)\n\
        k, m = [(k, m) for k, m in md.items() if m['Subject'] == 's1'][0]\n\
        m.set_flags('S')\n\
        md[k] = m\n";
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(&t.md)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[('s1', 'FRS', 'cur'), ('s2', 'DT', 'cur')]"
    );
    // Python rewrote message 1 with only S: same UID, flags follow.
    v.refresh().unwrap();
    assert_eq!(uids(&v), [1, 2]);
    assert_eq!(v.info(0).flags, seen());
    assert_eq!(subjects(&v), ["s1", "s2"]);
}

#[test]
fn hostile_names_do_not_panic() {
    let t = setup();
    t.deliver(1);
    let cur = t.md.join("cur");
    let new = t.md.join("new");
    fs::write(cur.join("noinfo"), b"Subject: a\n\nx").unwrap();
    fs::write(cur.join("garbage:xyz"), b"").unwrap();
    fs::write(cur.join("weird:2,FZa,,"), b"Subject: w\n").unwrap();
    fs::write(cur.join(".hidden"), b"x").unwrap();
    fs::write(cur.join(":2,S"), b"x").unwrap();
    fs::write(new.join(".dot"), b"x").unwrap();
    fs::write(cur.join("two:2,S"), b"Subject: t\n").unwrap();
    fs::write(cur.join("two:2,R"), b"Subject: t\n").unwrap();
    fs::write(cur.join("bad\u{7f}é \\name"), b"x").unwrap();
    fs::create_dir(cur.join("sub")).unwrap();
    fs::create_dir(new.join("sub:2,S")).unwrap();
    fs::write(t.md.join("tmp").join("partial"), b"x").unwrap();
    let mut v = t.open();
    assert_eq!(v.len(), 6);
    for i in 0..v.len() {
        v.message(i).unwrap();
        v.set_flags(i, seen(), vec!["k".into()]);
    }
    v.clear_recent();
    v.sync(&[]).unwrap();
    assert_eq!(v.len(), 6);
    let names = t.names("cur");
    assert!(names.contains(&"noinfo:2,S".to_owned()), "{names:?}");
    assert!(names.contains(&"garbage:2,S".to_owned()), "{names:?}");
    assert!(names.contains(&"weird:2,SZa".to_owned()), "{names:?}");
    assert!(names.contains(&".hidden".to_owned()));
    let w = t.open();
    assert_eq!(uids(&w), uids(&v));
    // All but perhaps one of the two copies of `two` (the other name was taken).
    let ok = (0..w.len())
        .filter(|&i| w.info(i).flags == seen() && w.info(i).keywords == ["k"])
        .count();
    assert!(ok >= 5, "{ok}");
    // The index itself with hostile content.
    for bad in [
        &b""[..],
        b"rmail-maildir-uidlist 1 5 3\n1 2 3 - \n",
        b"rmail-maildir-uidlist 1 5 3\n1 2 3\n",
        b"rmail-maildir-uidlist 1 5 3\n2 2 3 - a\n1 2 3 - b\n",
        b"\xff\xfe\n",
    ] {
        assert!(parse(bad).is_err());
    }
    let ix = parse(b"rmail-maildir-uidlist 1 5 3\n1 2 -3 a,b x y z\n").unwrap();
    assert_eq!(ix.entries[0].base, b"x y z");
    assert_eq!(
        render(&ix),
        b"rmail-maildir-uidlist 1 5 3\n1 2 -3 a,b x y z\n"
    );
}
