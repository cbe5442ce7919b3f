use super::*;
use std::os::unix::fs::PermissionsExt;

fn table(text: &str) -> Aliases {
    let (a, d) = parse(text, Path::new("aliases"));
    assert!(d.is_empty(), "{d:?}");
    a
}

fn local(s: &str) -> Target {
    Target::Local(s.into())
}

fn all() -> ExpandOptions {
    ExpandOptions {
        allow_commands: true,
        allow_files: true,
        allow_include: true,
        ..ExpandOptions::default()
    }
}

#[test]
fn parse_basic_and_continuations() {
    let a = table(
        "# Debian's default\n\
         postmaster:    root\n\
         MAILER-DAEMON: postmaster\n\
         \n\
         staff: alice,\n\
         \tbob ,\n\
         # a comment inside the entry\n\
         \x20   carol@example.org\n\
         \"odd name\": alice\n\
         owner-staff: alice\n",
    );
    assert_eq!(a.len(), 5);
    assert!(a.contains("mailer-daemon") && a.contains("Staff") && a.contains("ODD NAME"));
    assert_eq!(a.origin("staff"), Some((Path::new("aliases"), 5)));
    assert_eq!(
        a.names(),
        vec![
            "MAILER-DAEMON",
            "odd name",
            "owner-staff",
            "postmaster",
            "staff"
        ]
    );
    let o = ExpandOptions::default();
    assert_eq!(
        a.expand("staff", &o).unwrap(),
        vec![
            local("alice"),
            local("bob"),
            Target::Remote("carol@example.org".into())
        ]
    );
    assert_eq!(a.expand("mailer-daemon", &o).unwrap(), vec![local("root")]);
    assert_eq!(a.expand("Odd Name", &o).unwrap(), vec![local("alice")]);
    assert_eq!(a.expand("nobody", &o).unwrap(), vec![local("nobody")]);
    assert_eq!(a.expand("Nobody", &o).unwrap(), vec![local("Nobody")]);
}

#[test]
fn parse_diagnostics_have_lines() {
    let (a, d) = parse(
        "  orphan continuation\n\
         no colon here\n\
         : nameless\n\
         empty:\n\
         ok: alice\n\
         bad: alice, :include:relative, a b\n\
         ok: duplicate\n\
         ctl\u{1}: x\n",
        Path::new("/etc/aliases"),
    );
    let lines: Vec<(usize, Severity)> = d.iter().map(|d| (d.line, d.severity)).collect();
    assert_eq!(
        lines,
        vec![
            (1, Severity::Error),
            (2, Severity::Error),
            (3, Severity::Error),
            (4, Severity::Error),
            (6, Severity::Error),
            (6, Severity::Error),
            (7, Severity::Warning),
            (8, Severity::Error),
        ]
    );
    assert_eq!(
        d[1].to_string(),
        "/etc/aliases:2: error: missing ':' after the name"
    );
    assert!(d[4].message.contains("relative :include: path refused"));
    assert_eq!(a.len(), 2);
    assert_eq!(
        a.expand("ok", &ExpandOptions::default()).unwrap(),
        vec![local("alice")]
    );
    // The bad alias is kept and fails loudly.
    let e = a.expand("bad", &all()).unwrap_err();
    assert!(matches!(e, AliasError::Invalid { ref text, .. } if text == ":include:relative"));
    assert!(!e.is_temporary());
}

#[test]
fn crlf_and_quoting() {
    let a = table("cmd: \"|/usr/bin/x -a, -b\", \"/tmp/a b\"\r\nq: \"a\\\"b\"\r\n");
    assert_eq!(
        a.expand("cmd", &all()).unwrap(),
        vec![
            Target::Command("/usr/bin/x -a, -b".into()),
            Target::File("/tmp/a b".into())
        ]
    );
    assert_eq!(a.expand("q", &all()).unwrap(), vec![local("a\"b")]);
}

#[test]
fn self_reference_and_loops() {
    let a = table(
        "root: root, backup\n\
         backup: /var/backups/root.mbox\n\
         a: b\n\
         b: c, a\n\
         c: A\n\
         d: d\n",
    );
    assert_eq!(
        a.expand("root", &all()).unwrap(),
        vec![local("root"), Target::File("/var/backups/root.mbox".into())]
    );
    assert_eq!(a.expand("a", &all()).unwrap(), vec![local("A"), local("a")]);
    assert_eq!(a.expand("b", &all()).unwrap(), vec![local("b")]);
    assert_eq!(a.expand("d", &all()).unwrap(), vec![local("d")]);
}

#[test]
fn dedup_and_diamonds_stay_linear() {
    // 30 levels of width 8, every level referencing all of the next: 8^30 paths.
    let mut text = String::new();
    for level in 0..30 {
        for i in 0..8 {
            let next: Vec<String> = (0..8).map(|j| format!("l{}x{j}", level + 1)).collect();
            text.push_str(&format!("l{level}x{i}: {}\n", next.join(", ")));
        }
    }
    let a = table(&text);
    let e = a.expand("l0x0", &ExpandOptions::default()).unwrap_err();
    assert!(matches!(e, AliasError::TooDeep(_)), "{e}");
    let out = a.expand("l15x3", &ExpandOptions::default()).unwrap();
    assert_eq!(out.len(), 8);
    assert!(out.contains(&local("l30x7")));

    let a = table("x: u, u, U@example.org, u@example.org, y\ny: u\n");
    assert_eq!(
        a.expand("x", &ExpandOptions::default()).unwrap(),
        vec![
            local("u"),
            Target::Remote("U@example.org".into()),
            Target::Remote("u@example.org".into())
        ]
    );
}

#[test]
fn chains_deeper_than_the_limit_fail() {
    let text: String = (0..=MAX_DEPTH + 1)
        .map(|i| format!("n{i}: n{}\n", i + 1))
        .collect();
    let a = table(&text);
    assert!(matches!(
        a.expand("n0", &ExpandOptions::default()),
        Err(AliasError::TooDeep(_))
    ));
    assert_eq!(
        a.expand("n5", &ExpandOptions::default()).unwrap(),
        vec![local(&format!("n{}", MAX_DEPTH + 2))]
    );
}

#[test]
fn too_many_targets() {
    let list: Vec<String> = (0..=MAX_TARGETS).map(|i| format!("u{i}")).collect();
    let a = table(&format!("big: {}\n", list.join(",")));
    assert!(matches!(
        a.expand("big", &ExpandOptions::default()),
        Err(AliasError::TooMany(_))
    ));
}

#[test]
fn local_domains_reenter_the_table() {
    let a = table(
        "root: admin@Example.ORG, admin@remote.net\n\
         admin: alice, \"bob\"@example.org\n",
    );
    let o = ExpandOptions {
        local_domains: vec!["example.org".into()],
        ..ExpandOptions::default()
    };
    assert_eq!(
        a.expand("root", &o).unwrap(),
        vec![
            local("alice"),
            local("bob"),
            Target::Remote("admin@remote.net".into())
        ]
    );
}

#[test]
fn refusals_are_errors() {
    let a = table("c: alice, |/bin/cat\nf: alice, /tmp/x\ni: alice, :include:/nonexistent/list\n");
    let none = ExpandOptions::default();
    for (name, why) in [
        ("c", "mail to commands is not allowed"),
        ("f", "mail to files is not allowed"),
        ("i", "include files are not allowed"),
    ] {
        match a.expand(name, &none) {
            Err(AliasError::Refused { alias, why: w, .. }) => {
                assert_eq!(alias, name);
                assert_eq!(w, why);
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let e = a.expand("i", &all()).unwrap_err();
    assert!(e.is_temporary(), "{e}");
    assert!(e
        .to_string()
        .starts_with("cannot read include file /nonexistent/list"));
}

#[test]
fn include_files() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("staff");
    let inner = dir.path().join("inner");
    std::fs::write(
        &list,
        format!(
            "# the staff\nalice, bob\n\ncarol+x\n:include:{}\n:include:{}\n",
            inner.display(),
            list.display()
        ),
    )
    .unwrap();
    std::fs::write(&inner, "dave@example.net\nboss\n|/usr/bin/logger\n").unwrap();
    let a = table(&format!(
        "staff: :include:{}\nboss: erin, staff\n",
        list.display()
    ));
    let mut o = all();
    o.recipient_delimiter = "+".into();
    assert_eq!(
        a.expand("staff", &o).unwrap(),
        vec![
            local("alice"),
            local("bob"),
            local("carol"),
            Target::Remote("dave@example.net".into()),
            local("erin"),
            local("staff"),
            Target::Command("/usr/bin/logger".into()),
        ]
    );
    // Read at expansion time: a change shows at once.
    std::fs::write(&inner, "frank\n").unwrap();
    assert!(a.expand("staff", &o).unwrap().contains(&local("frank")));

    // Group/world-writable include files are refused.
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(matches!(
        a.expand("staff", &o),
        Err(AliasError::UnsafeInclude { .. })
    ));
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o644)).unwrap();

    // A directory is not an include file; relative paths inside includes are invalid.
    let a2 = table(&format!("d: :include:{}\n", dir.path().display()));
    assert!(matches!(
        a2.expand("d", &o),
        Err(AliasError::UnsafeInclude { .. })
    ));
    std::fs::write(&inner, ":include:relative\n").unwrap();
    assert!(matches!(
        a.expand("staff", &o),
        Err(AliasError::Invalid { .. })
    ));
}

#[test]
fn extensions() {
    assert_eq!(
        strip_extension("alice+lists", "+"),
        ("alice", Some("lists"))
    );
    assert_eq!(strip_extension("alice+a+b", "+"), ("alice", Some("a+b")));
    assert_eq!(strip_extension("alice-x+y", "+-"), ("alice", Some("x+y")));
    assert_eq!(strip_extension("alice+", "+"), ("alice", Some("")));
    assert_eq!(strip_extension("+alice", "+"), ("+alice", None));
    assert_eq!(strip_extension("alice", "+"), ("alice", None));
    assert_eq!(strip_extension("alice+x", ""), ("alice+x", None));
    assert_eq!(strip_extension("owner-list", "-"), ("owner-list", None));
    assert_eq!(strip_extension("list-Request", "-"), ("list-Request", None));
    assert_eq!(strip_extension("list-x", "-"), ("list", Some("x")));
    assert_eq!(strip_extension("owner+x", "+"), ("owner", Some("x")));
    assert_eq!(strip_extension("é+ü", "+"), ("é", Some("ü")));
    assert_eq!(strip_extension("aéb", "é"), ("a", Some("b")));

    let a = table("alice: alice, archive\nalice+lists: lists-box\n");
    let o = ExpandOptions {
        recipient_delimiter: "+".into(),
        ..ExpandOptions::default()
    };
    assert_eq!(
        a.expand("alice+lists", &o).unwrap(),
        vec![local("lists-box")]
    );
    assert_eq!(
        a.expand("alice+other", &o).unwrap(),
        vec![local("alice"), local("archive")]
    );
    assert_eq!(a.expand("bob+x", &o).unwrap(), vec![local("bob")]);
    // Without a delimiter, nothing is split.
    assert_eq!(
        a.expand("alice+other", &ExpandOptions::default()).unwrap(),
        vec![local("alice+other")]
    );
}

#[test]
fn load_maps_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("aliases");
    let two = dir.path().join("more");
    std::fs::write(&one, "root: alice\nlist: :include:/nonexistent/x\nbad\n").unwrap();
    std::fs::write(&two, b"root: bob\nextra: carol, dave\nlat: \xff\n").unwrap();
    let maps = split_maps(&format!(
        "hash:{}, texthash:{} nis:mail.aliases lmdb:relative {}",
        one.display(),
        two.display(),
        dir.path().join("missing").display()
    ));
    assert_eq!(maps.len(), 5);
    let (a, d) = load(&maps);
    assert_eq!(a.len(), 4);
    assert_eq!(
        a.expand("root", &ExpandOptions::default()).unwrap(),
        vec![local("alice")]
    );
    let msgs: Vec<String> = d.iter().map(|d| d.to_string()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.ends_with("aliases:3: error: missing ':' after the name")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("not UTF-8")));
    assert!(msgs.iter().any(|m| m.contains("nis is not supported")));
    assert!(msgs.iter().any(|m| m.contains("relative path refused")));
    assert!(msgs
        .iter()
        .any(|m| m.contains("missing: warning: file does not exist")));

    let r = check(&maps);
    assert_eq!(r.aliases, 4);
    assert_eq!(r.targets, 5);
    assert_eq!(r.files.len(), 3);
    assert!(r.has_errors());
    assert!(r.diagnostics.iter().any(|d| d
        .message
        .contains("include file /nonexistent/x does not exist")));

    std::fs::write(&one, "root: alice\n").unwrap();
    let ok = check(&[one.display().to_string()]);
    assert!(!ok.has_errors() && ok.diagnostics.is_empty());
    assert_eq!((ok.aliases, ok.targets), (1, 1));
}

#[test]
fn hostile_input_does_not_panic() {
    let samples: Vec<String> = vec![
        String::new(),
        ":".into(),
        "\"".into(),
        "\":\"".into(),
        "a:\"".into(),
        "a: \"\\".into(),
        "a: \\\"".into(),
        "\t\n\t\n".into(),
        "a: ,,,,".into(),
        "a: :include:".into(),
        "a: \"|\"".into(),
        "é: ü@, @, |, /, \"\"".into(),
        "a:b:c:d".into(),
        "x".repeat(100_000),
        format!("a: {}", ",".repeat(10_000)),
        format!("a: {}", "\"".repeat(10_001)),
        "a: a\u{0}b".into(),
        "\u{feff}root: x".into(),
    ];
    for s in &samples {
        let (a, _) = parse(s, Path::new("x"));
        for name in a.names() {
            let _ = a.expand(name, &all());
            let _ = a.expand(name, &ExpandOptions::default());
        }
        let _ = a.expand(s, &all());
        let _ = strip_extension(s, "+-é");
    }
    // Every prefix of a realistic file parses without panicking.
    let text = "root: \"|/x a,b\", /f, :include:/i, u@h\n  , v\n# c\nq\"x\": y\n";
    for i in 0..=text.len() {
        if text.is_char_boundary(i) {
            let _ = parse(&text[..i], Path::new("x"));
        }
    }
}
