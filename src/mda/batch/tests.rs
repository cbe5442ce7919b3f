use super::*;
use crate::store::lock::MailboxLock;
use crate::store::mbox::Mbox;
use std::fs;

fn entry(n: usize) -> Vec<u8> {
    let now = chrono::Local::now();
    let msg = format!("Subject: m{n}\n\nFrom here\nbody {n}\n");
    crate::mda::mbox_entry("a@example.com", msg.as_bytes(), now)
}

fn subjects(path: &Path) -> Vec<String> {
    let mb = Mbox::open(path).unwrap();
    (0..mb.len())
        .map(|i| {
            let m = mb.read_message(i).unwrap();
            let s = String::from_utf8(m).unwrap();
            assert!(s.contains("\n\nFrom here\n"), "{s:?}");
            s.lines().next().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn batch_appends_all_with_size_limit() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("box");
    let e = entry(0);
    let one = e.len() as u64;
    // Room for exactly two entries: the third fails permanently, the fourth (empty) too.
    let r = deliver_batch(&p, vec![entry(0), entry(1), entry(2), vec![]], 2 * one);
    assert_eq!(r[0], Ok(()));
    assert_eq!(r[1], Ok(()));
    let e2 = r[2].clone().unwrap_err();
    assert!(e2.is_permanent());
    assert_eq!(e2.status(), "5.2.2");
    assert!(e2.text().contains("mailbox size limit exceeded"));
    assert_eq!(r[3].clone().unwrap_err().status(), "5.6.0");
    assert_eq!(subjects(&p), ["Subject: m0", "Subject: m1"]);
    // No limit.
    let r = deliver_batch(&p, vec![entry(3)], 0);
    assert_eq!(r, vec![Ok(())]);
    assert_eq!(subjects(&p).len(), 3);
}

#[test]
fn unsafe_mailbox_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("target");
    fs::write(&target, b"").unwrap();
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for p in [&link, &d.path().to_path_buf()] {
        let r = deliver_batch(p, vec![entry(0)], 0);
        let e = r[0].clone().unwrap_err();
        assert!(!e.is_permanent() && e.status() == "4.2.0", "{e:?}");
    }
    assert_eq!(fs::metadata(&target).unwrap().len(), 0);
}

#[test]
fn commit_failure_is_temporary() {
    let d = tempfile::tempdir().unwrap();
    // A mailbox in a directory that does not exist: the append cannot open it.
    let p = d.path().join("missing").join("box");
    let r = deliver_batch(&p, vec![entry(0), entry(1)], 0);
    for x in r {
        let e = x.unwrap_err();
        assert!(!e.is_permanent());
        assert!(e.text().starts_with("cannot "), "{e}");
    }
}

#[test]
fn group_committer_batches_concurrent_submissions() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("box");
    fs::write(&p, b"").unwrap();
    let gc = GroupCommitter::new(0);
    // Hold the mailbox lock (the dotlock blocks the worker even in this process) while 20
    // messages arrive: the worker can commit at most what it took before blocking, then
    // everything else in one go.
    let f = fs::File::options().read(true).write(true).open(&p).unwrap();
    let lock = MailboxLock::acquire(&f, &p).unwrap();
    assert!(lock.has_dotlock());
    let rxs: Vec<_> = (0..20).map(|i| gc.submit(p.clone(), entry(i))).collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(lock);
    for rx in rxs {
        assert_eq!(rx.blocking_recv().unwrap(), Ok(()));
    }
    assert!(gc.commits() <= 2, "{}", gc.commits());
    let want: Vec<String> = (0..20).map(|i| format!("Subject: m{i}")).collect();
    assert_eq!(subjects(&p), want);
    // The worker exits when idle; a later submission starts a new one.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(gc.inner.pending().is_empty());
    assert_eq!(
        gc.submit(p.clone(), entry(20)).blocking_recv().unwrap(),
        Ok(())
    );
    assert_eq!(subjects(&p).len(), 21);
}

#[test]
fn group_committer_from_tokio_and_threads() {
    let d = tempfile::tempdir().unwrap();
    let boxes: Vec<PathBuf> = (0..3).map(|i| d.path().join(format!("u{i}"))).collect();
    let gc = GroupCommitter::new(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..60 {
            let gc = gc.clone();
            let p = boxes[i % 3].clone();
            tasks.push(tokio::spawn(async move { gc.submit(p, entry(i)).await }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), Ok(()));
        }
    });
    for p in &boxes {
        assert_eq!(subjects(p).len(), 20);
    }
    assert!(gc.commits() <= 60);
}

#[test]
fn group_committer_size_limit() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("box");
    let gc = GroupCommitter::new(10);
    let r = gc.submit(p.clone(), entry(0)).blocking_recv().unwrap();
    assert_eq!(r.unwrap_err().status(), "5.2.2");
    assert!(!p.exists() || fs::metadata(&p).unwrap().len() == 0);
}

#[test]
fn frames_round_trip_in_chunks() {
    let frames: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"x".to_vec(),
        b"12\nab\n".to_vec(),
        vec![b'z'; 700],
    ];
    let mut stream = Vec::new();
    for f in &frames {
        stream.extend_from_slice(&encode_frame(f));
    }
    for size in 1..=64 {
        let mut dec = FrameDecoder::new(1000);
        let mut got = Vec::new();
        for chunk in stream.chunks(size) {
            dec.feed(chunk);
            while let Some(f) = dec.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames, "chunk {size}");
        assert!(dec.is_idle());
    }
}

#[test]
fn frame_errors() {
    for bad in [
        &b"x\n"[..],
        b"\n",
        b"-1\n",
        b"12a",
        b"99999999999999999999\n",
        b"1 \n",
    ] {
        let mut dec = FrameDecoder::new(1000);
        dec.feed(bad);
        assert_eq!(dec.next_frame(), Err(FrameError::BadLength), "{bad:?}");
    }
    let mut dec = FrameDecoder::new(10);
    dec.feed(b"11\n");
    assert_eq!(dec.next_frame(), Err(FrameError::TooLarge(11)));
    let mut dec = FrameDecoder::new(10);
    dec.feed(b"5\nab");
    assert_eq!(dec.next_frame(), Ok(None));
    assert!(!dec.is_idle());
}

#[test]
fn acks_round_trip() {
    let cases = [
        Ok(()),
        Err(DeliveryError::temp(
            "4.2.0",
            "cannot lock /var/mail/u\r\nfoo",
        )),
        Err(DeliveryError::perm("5.2.2", "mailbox size limit exceeded")),
    ];
    for c in &cases {
        let line = encode_ack(c);
        assert!(line.ends_with(b"\n") && line.iter().filter(|&&b| b == b'\n').count() == 1);
        assert_eq!(parse_ack(&line).as_ref(), Some(c));
    }
    assert_eq!(parse_ack(b"ok"), Some(Ok(())));
    assert_eq!(parse_ack(b"what"), None);
    assert_eq!(parse_ack(b"\xff"), None);
    assert_eq!(
        parse_ack(b"perm 4.0.0 x").unwrap().unwrap_err().status(),
        "5.0.0"
    );
    assert_eq!(parse_ack(b"temp").map(|r| r.is_err()), None);
    assert_eq!(parse_ack(b"temp 4.1.1").unwrap().unwrap_err().text(), "");
}

#[test]
fn batch_worker_over_a_pipe() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("box");
    let one = entry(0).len() as u64;
    let mut input = Vec::new();
    for i in 0..5 {
        input.extend_from_slice(&encode_frame(&entry(i)));
    }
    // Through a real pipe, written by another thread in odd chunks.
    let (r, mut w) = std::io::pipe().unwrap();
    let writer = std::thread::spawn(move || {
        for c in input.chunks(37) {
            w.write_all(c).unwrap();
        }
    });
    let mut out = Vec::new();
    run_batch_worker(r, &mut out, &p, 4 * one).unwrap();
    writer.join().unwrap();
    let acks: Vec<_> = out
        .split_inclusive(|&b| b == b'\n')
        .map(|l| parse_ack(l).unwrap())
        .collect();
    assert_eq!(acks.len(), 5);
    assert!(acks[..4].iter().all(|a| a.is_ok()));
    assert_eq!(acks[4].clone().unwrap_err().status(), "5.2.2");
    assert_eq!(subjects(&p).len(), 4);
}

#[test]
fn batch_worker_bad_input() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("box");
    // One good frame, then garbage: the good one is delivered and acked, then an error.
    let mut input = encode_frame(&entry(0));
    input.extend_from_slice(b"garbage\n");
    let mut out = Vec::new();
    let e = run_batch_worker(&input[..], &mut out, &p, 0).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert_eq!(out, b"ok\n");
    // Input ending inside a frame.
    let mut out = Vec::new();
    let e = run_batch_worker(&b"10\nabc"[..], &mut out, &p, 0).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert!(out.is_empty());
    // Empty input: nothing to do.
    run_batch_worker(&b""[..], &mut out, &p, 0).unwrap();
    assert_eq!(subjects(&p).len(), 1);
}
