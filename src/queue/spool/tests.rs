use super::*;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;

fn env(sender: &str, rcpts: &[&str]) -> Envelope {
    Envelope {
        sender: sender.into(),
        recipients: rcpts.iter().map(|r| r.to_string()).collect(),
    }
}

fn t(secs: u64) -> SystemTime {
    qfile::from_secs(secs)
}

const MSG: &[u8] = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n.dot\r\n";

fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

#[test]
fn enqueue_load_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let qdir = d.path().join("queue");
    let q = Queue::open(&qdir).unwrap();
    assert_eq!(
        fs::metadata(&qdir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let id = q
        .enqueue(
            &env("a@example.com", &["b@x", "c@y"]),
            MSG,
            t(1_700_000_000),
        )
        .unwrap();
    assert_eq!(id.as_str().len(), 12);
    assert!(id.as_str().starts_with("6553F100"));
    let (e, data) = q.load_message(&id).unwrap();
    assert_eq!(data, MSG);
    assert_eq!(e.sender, "a@example.com");
    assert_eq!(
        e.recipients,
        vec![Recipient::new("b@x"), Recipient::new("c@y")]
    );
    assert_eq!(e.arrival, t(1_700_000_000));
    assert_eq!(e.next_attempt, e.arrival);
    assert_eq!(
        (e.attempts, e.size, e.last_error.clone()),
        (0, MSG.len() as u64, None)
    );
    let path = qdir.join("msg").join(id.as_str());
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Survives a restart.
    let q2 = Queue::open(&qdir).unwrap();
    assert_eq!(q2.load(&id).unwrap(), e);
    assert_eq!(q2.ids().unwrap(), vec![id.clone()]);
    assert_eq!(fs::read_dir(qdir.join("tmp")).unwrap().count(), 0);
    // Null sender, empty message.
    let id2 = q.enqueue(&env("", &["postmaster"]), b"", t(5)).unwrap();
    let (e2, d2) = q.load_message(&id2).unwrap();
    assert_eq!((e2.sender.as_str(), d2.len()), ("", 0));
    let listing = q.list().unwrap();
    assert!(listing.corrupt.is_empty());
    assert_eq!(
        listing
            .entries
            .iter()
            .map(|e| e.id.clone())
            .collect::<Vec<_>>(),
        vec![id2, id]
    );
}

#[test]
fn leftover_temp_files_are_cleaned() {
    let d = tempfile::tempdir().unwrap();
    let q = Queue::open(d.path()).unwrap();
    let id = q
        .enqueue(&env("a@b", &["c@d"]), MSG, t(1_700_000_000))
        .unwrap();
    let tmp = d.path().join("tmp");
    let dead = dead_pid();
    // A crash after writing, before the rename (new message) or during an update.
    fs::write(
        tmp.join(format!("n.{dead}.0")),
        b"rmail-queue 1\nsender a@b\n",
    )
    .unwrap();
    fs::write(tmp.join(format!("u.{dead}.1")), b"partial").unwrap();
    fs::write(tmp.join("junk"), b"").unwrap();
    let mine = tmp.join(format!("n.{}.999", std::process::id()));
    fs::write(&mine, b"being written by this process").unwrap();
    let q = Queue::open(d.path()).unwrap();
    let left: Vec<_> = fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, vec![mine]);
    // The committed message is untouched; the partial one never appears.
    assert_eq!(q.ids().unwrap(), vec![id.clone()]);
    assert_eq!(q.load_message(&id).unwrap().1, MSG);
}

#[test]
fn truncated_and_garbage_files_are_moved_aside() {
    let d = tempfile::tempdir().unwrap();
    let q = Queue::open(d.path()).unwrap();
    let a = q
        .enqueue(&env("a@b", &["c@d"]), MSG, t(1_700_000_000))
        .unwrap();
    let b = q
        .enqueue(&env("a@b", &["c@d"]), MSG, t(1_700_000_001))
        .unwrap();
    let c = q
        .enqueue(&env("a@b", &["c@d"]), MSG, t(1_700_000_002))
        .unwrap();
    let pa = d.path().join("msg").join(a.as_str());
    let len = fs::metadata(&pa).unwrap().len();
    // Truncated in the message, truncated in the header, garbage.
    File::options()
        .write(true)
        .open(&pa)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    File::options()
        .write(true)
        .open(d.path().join("msg").join(b.as_str()))
        .unwrap()
        .set_len(20)
        .unwrap();
    let junk = QueueId::parse("0000000000FF").unwrap();
    fs::write(
        d.path().join("msg").join(junk.as_str()),
        b"\x00\xff garbage",
    )
    .unwrap();
    // A name that is not an ID is ignored, not touched.
    fs::write(d.path().join("msg").join("README"), b"x").unwrap();

    // The runner sees the damaged ones as due, so that load reports them.
    let due = q.due(t(1_600_000_000)).unwrap();
    assert_eq!(due.len(), 3, "{due:?}");
    assert!(!due.contains(&c));

    match q.load(&a) {
        Err(QueueError::Corrupt {
            id,
            reason,
            moved_to: Some(to),
        }) => {
            assert_eq!(id, a);
            assert!(reason.contains("truncated"), "{reason}");
            assert_eq!(to, d.path().join("corrupt").join(a.as_str()));
            assert_eq!(fs::metadata(&to).unwrap().len(), len - 3);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(q.load(&a), Err(QueueError::NotFound(_))));
    let listing = q.list().unwrap();
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.entries[0].id, c);
    assert_eq!(listing.corrupt.len(), 2);
    for e in &listing.corrupt {
        assert!(e.to_string().starts_with("cannot read queue file "), "{e}");
    }
    let mut kept: Vec<_> = fs::read_dir(d.path().join("corrupt"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    let mut want = vec![a.to_string(), b.to_string(), junk.to_string()];
    want.sort();
    assert_eq!(kept, want);
    assert!(d.path().join("msg").join("README").exists());

    // A second damaged file with a name already in corrupt/ gets a fresh name.
    fs::write(d.path().join("msg").join(junk.as_str()), b"again").unwrap();
    assert!(matches!(
        q.load(&junk),
        Err(QueueError::Corrupt { moved_to: Some(p), .. }) if p.ends_with("0000000000FF.1")
    ));
}

#[test]
fn ids_unique_across_threads_and_instances() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_owned();
    let arrival = SystemTime::now();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                // Half the threads share an instance's directory through their own `Queue`.
                let q = Queue::open(&dir).unwrap();
                (0..100)
                    .map(|n| {
                        q.enqueue(
                            &env("a@b", &["c@d"]),
                            format!("m {i} {n}").as_bytes(),
                            arrival,
                        )
                        .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<QueueId> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let set: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(set.len(), 800);
    let q = Queue::open(&dir).unwrap();
    assert_eq!(q.ids().unwrap().len(), 800);
    // Every file holds what its enqueue wrote.
    let bodies: HashSet<Vec<u8>> = all.iter().map(|id| q.load_message(id).unwrap().1).collect();
    assert_eq!(bodies.len(), 800);
}

#[test]
fn backoff_doubles_from_min_to_max() {
    let min = Duration::from_secs(300);
    let max = Duration::from_secs(4000);
    let arrival = t(1_000_000);
    let mut now = arrival;
    let mut delays = Vec::new();
    for _ in 0..8 {
        let b = backoff(arrival, now, min, max);
        delays.push(b.as_secs());
        now += b;
    }
    assert_eq!(delays, [300, 300, 600, 1200, 2400, 4000, 4000, 4000]);
    // A clock that went backwards counts as age 0.
    assert_eq!(backoff(arrival, t(5), min, max), min);
}

#[test]
fn defer_update_due_and_expiry() {
    let d = tempfile::tempdir().unwrap();
    let q = Queue::open(d.path()).unwrap();
    let t0 = 1_700_000_000;
    let id = q
        .enqueue(&env("a@b", &["r1@x", "r2@x", "r3@x"]), MSG, t(t0))
        .unwrap();
    assert_eq!(q.due(t(t0)).unwrap(), vec![id.clone()]);
    assert!(q.due(t(t0 - 1)).unwrap().is_empty());

    // r1 delivered, r2 bounced, r3 deferred.
    let min = Duration::from_secs(300);
    let max = Duration::from_secs(4000);
    let e = q
        .defer(
            &id,
            &[Recipient::new("r3@x")],
            "connect to mx.x[192.0.2.1]:25: Connection refused",
            t(t0 + 10),
            min,
            max,
        )
        .unwrap();
    assert_eq!(e.attempts, 1);
    assert_eq!(e.next_attempt, t(t0 + 310));
    let again = Queue::open(d.path()).unwrap().load_message(&id).unwrap();
    assert_eq!(again.0, e);
    assert_eq!(again.1, MSG);
    assert_eq!(again.0.recipients, vec![Recipient::new("r3@x")]);
    assert!(q.due(t(t0 + 309)).unwrap().is_empty());
    assert_eq!(q.due(t(t0 + 310)).unwrap(), vec![id.clone()]);

    let e = q
        .defer(&id, &e.recipients, "451 4.3.0 later", t(t0 + 310), min, max)
        .unwrap();
    assert_eq!((e.attempts, e.next_attempt), (2, t(t0 + 620)));
    assert_eq!(e.last_error.as_deref(), Some("451 4.3.0 later"));

    let five_days = Duration::from_secs(5 * 86400);
    assert!(!expired(&e, t(t0 + 86400), five_days));
    assert!(expired(&e, t(t0 + 5 * 86400), five_days));
    assert!(expired(&e, t(t0), Duration::ZERO));

    // A generic update keeps the sender and bytes whatever the caller passes.
    let mut changed = e.clone();
    changed.sender = "evil@x".into();
    changed.size = 1;
    changed.last_error = None;
    q.update(&changed).unwrap();
    let (back, data) = q.load_message(&id).unwrap();
    assert_eq!(
        (back.sender.as_str(), back.size, back.last_error),
        ("a@b", MSG.len() as u64, None)
    );
    assert_eq!(data, MSG);

    // No recipients left: the message is gone.
    q.defer(&id, &[], "x", t(t0 + 700), min, max).unwrap();
    assert!(q.ids().unwrap().is_empty());
    assert!(matches!(q.remove(&id), Err(QueueError::NotFound(_))));
    assert!(matches!(q.load(&id), Err(QueueError::NotFound(_))));
    assert!(fs::read_dir(d.path().join("tmp")).unwrap().next().is_none());
}

#[test]
fn remove_and_mailq() {
    let d = tempfile::tempdir().unwrap();
    let q = Queue::open(d.path()).unwrap();
    assert_eq!(
        crate::queue::format_mailq(&q.list().unwrap().entries),
        "Mail queue is empty\n"
    );
    let id = q
        .enqueue(&env("", &["u@x"]), &[b'x'; 2048], t(1_700_000_000))
        .unwrap();
    let s = crate::queue::format_mailq(&q.list().unwrap().entries);
    assert!(s.contains(&format!("{id}    2048 ")), "{s}");
    assert!(s.contains("MAILER-DAEMON\n"));
    assert!(s.ends_with("-- 2 Kbytes in 1 Request.\n"));
    q.remove(&id).unwrap();
    assert!(q.list().unwrap().entries.is_empty());
}

#[test]
fn unwritable_queue_dir_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("file");
    fs::write(&file, b"").unwrap();
    assert!(matches!(Queue::open(&file), Err(QueueError::Io { .. })));
}
