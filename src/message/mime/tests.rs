//! Tests of MIME rendering and part listing.

use super::*;

fn r(msg: &str) -> String {
    render_body(msg.as_bytes())
}

#[test]
fn plain_message_body_is_byte_identical() {
    let body = "Hello,\n  indented \t\n\n\n中文 line\nlast line without newline";
    let msg = format!("From: a@b\nSubject: x\n\n{body}");
    assert_eq!(r(&msg), body);
    // A From_ line in front is skipped.
    let msg = format!("From a@b Fri Mar 22 13:10:55 2024\nFrom: a@b\n\n{body}");
    assert_eq!(r(&msg), body);
    // No header at all.
    assert_eq!(r("\nbody\n"), "body\n");
    assert_eq!(r(""), "");
}

#[test]
fn plain_message_8bit_is_guessed() {
    let mut msg = b"Subject: x\n\n".to_vec();
    msg.extend_from_slice(b"\xd6\xd0\xce\xc4\n");
    assert_eq!(render_body(&msg), "中文\n");
    let mut msg = b"Subject: x\n\ncaf\xe9\n".to_vec();
    assert_eq!(render_body(&msg), "café\n");
    msg.clear();
}

#[test]
fn quoted_printable_soft_breaks() {
    let msg =
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: Quoted-Printable\n\n\
               caf=C3=A9 au =\nlait  \n=e4=b8=ad=E6=96=87\nstray = and =ZZ\nend=";
    assert_eq!(r(msg), "café au lait\n中文\nstray = and =ZZ\nend");
    assert_eq!(decode_qp(b"a=\r\nb\r\nc"), b"ab\nc");
}

#[test]
fn base64_with_garbage() {
    assert_eq!(decode_base64(b"5Lit5paH\n!!*\n"), "中文".as_bytes());
    assert_eq!(decode_base64(b"QQ==QUI="), b"AAB");
    assert_eq!(decode_base64(b"QUJD\r\nREVG"), b"ABCDEF");
    assert_eq!(decode_base64(b"QUJDRA"), b"ABCD");
    assert_eq!(decode_base64(b"\xff\x00==="), b"");
    let msg = "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n\
               5Lit5paH\r\nDQpsaW5lIDINCg==\n%%!!**\n";
    assert_eq!(r(msg), "中文\nline 2\n");
}

#[test]
fn charsets_in_bodies() {
    let mut msg = b"Content-Type: text/plain; charset=gb2312\n\n".to_vec();
    msg.extend_from_slice(b"\xd6\xd0\xce\xc4\n");
    assert_eq!(render_body(&msg), "中文\n");
    let mut msg = b"Content-Type: text/plain; charset=big5\n\n".to_vec();
    msg.extend_from_slice(b"\xa4\xa4\xa4\xe5\n");
    assert_eq!(render_body(&msg), "中文\n");
    let msg = b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n\x1b$BF|K\\8l\x1b(B\n";
    assert_eq!(render_body(msg), "日本語\n");
    let msg = b"Content-Type: text/plain; charset=\"koi8-r\"\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n";
    assert_eq!(render_body(msg), "Привет\n");
    // 8-bit UTF-8 under a US-ASCII label.
    let msg = "Content-Type: text/plain; charset=us-ascii\n\n中文\n";
    assert_eq!(r(msg), "中文\n");
}

#[test]
fn unknown_charset_shown_raw_with_note() {
    let msg = "Content-Type: text/plain; charset=x-foo\n\nraw text\n";
    assert_eq!(
        r(msg),
        "[-- unknown charset \"x-foo\", shown raw --]\nraw text\n"
    );
}

const ALT: &str = "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n\
preamble\n--alt\nContent-Type: text/html; charset=utf-8\n\n<p>HTML <b>version</b></p>\n\
--alt\nContent-Type: text/plain; charset=utf-8\n\nPlain version\n--alt--\nepilogue\n";

#[test]
fn alternative_prefers_plain() {
    assert_eq!(r(ALT), "Plain version");
}

#[test]
fn html_only_rendered_as_text() {
    let msg = "Content-Type: text/html; charset=utf-8\n\n<html><body><p>Hello <b>world</b></p>\
               <ul><li>one</li></ul></body></html>\n";
    let out = r(msg);
    assert!(
        out.contains("Hello") && out.contains("world") && out.contains("one"),
        "{out}"
    );
    assert!(!out.contains("<p>"), "{out}");
    let alt =
        "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: image/png\n\nxx\n\
               --b\nContent-Type: text/html\n\n<p>only html</p>\n--b--\n";
    assert_eq!(r(alt).trim(), "only html");
    // Narrow width is honoured (and tiny widths do not fail).
    let long = format!("Content-Type: text/html\n\n<p>{}</p>", "word ".repeat(40));
    let out = render_body_with(long.as_bytes(), &RenderOptions { width: 30 });
    assert!(out.lines().all(|l| l.chars().count() <= 30), "{out}");
    let out = render_body_with(long.as_bytes(), &RenderOptions { width: 0 });
    assert!(out.contains("word"));
}

const NESTED: &str = "From: a@b\nContent-Type: multipart/mixed; boundary=\"outer\"\n\n\
--outer\nContent-Type: multipart/alternative; boundary=\"inner\"\n\n\
--inner\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n\
Hi =E4=B8=AD\n--inner\nContent-Type: text/html\n\n<p>Hi</p>\n--inner--\n\
--outer\nContent-Type: application/pdf; name=\"ignored.pdf\"\n\
Content-Disposition: attachment; filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\n\
QUJD\n--outer\nContent-Type: text/plain\nContent-Disposition: attachment;\n filename*0*=utf-8''%E4%B8%AD;\n filename*1*=%E6%96%87.txt\n\n\
attached text\n--outer--\n";

#[test]
fn nested_multipart_and_attachments() {
    assert_eq!(
        r(NESTED),
        "Hi 中\n[-- #2 application/pdf, 3B, \"report.pdf\" --]\n[-- #3 text/plain, 13B, \"中文.txt\" --]\n"
    );
    let p = parts(NESTED.as_bytes());
    let nums: Vec<_> = p.iter().map(|p| p.number.as_str()).collect();
    assert_eq!(nums, ["1.1", "1.2", "2", "3"]);
    assert_eq!(p[0].content_type, "text/plain");
    assert_eq!(p[0].charset.as_deref(), Some("utf-8"));
    assert_eq!(p[0].size, 6);
    assert_eq!(p[2].filename.as_deref(), Some("report.pdf"));
    assert_eq!(p[2].disposition.as_deref(), Some("attachment"));
    assert_eq!(p[3].filename.as_deref(), Some("中文.txt"));
    assert_eq!(
        part_content(NESTED.as_bytes(), "2").as_deref(),
        Some(&b"ABC"[..])
    );
    assert_eq!(part_content(NESTED.as_bytes(), "9"), None);
}

#[test]
fn attachment_names_and_sizes() {
    let pdf = "QUJD".repeat(4096); // 12,288 bytes decoded
    let msg = format!(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\n\
         Content-Type: application/pdf; name=\"=?UTF-8?B?5Lit5paH?=.pdf\"\nContent-Transfer-Encoding: base64\n\n{pdf}\n\
         --b\nContent-Type: image/png\n\n\x01\n--b\nContent-Type: application/zip\n\n{}\n--b--\n",
        "z".repeat(3 * 1024 * 1024)
    );
    assert_eq!(
        r(&msg),
        "body\n[-- #2 application/pdf, 12K, \"中文.pdf\" --]\n[-- #3 image/png, 1B --]\n\
         [-- #4 application/zip, 3.0M --]\n"
    );
    // Hostile names cannot inject terminal escapes.
    let msg = "Content-Type: application/x; name=\"a\x1b[2Jb\"\n\nx";
    assert_eq!(r(msg), "[-- #1 application/x, 1B, \"a?[2Jb\" --]\n");
}

#[test]
fn several_inline_text_parts() {
    let msg = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\nContent-Type: text/plain\n\ntwo\n--b--\n";
    assert_eq!(r(msg), "one\n\ntwo");
}

const RFC822: &str = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nSee below.\n\
--b\nContent-Type: message/rfc822\n\n\
From: =?utf-8?B?5byg5LiJ?= <z@x>\nTo: l@y\nDate: Fri, 22 Mar 2024 13:10:55 +0100\nSubject: =?gbk?B?1tDOxA==?=\n\
X-Other: hidden\nContent-Type: multipart/mixed; boundary=c\n\n\
--c\nContent-Type: text/plain; charset=utf-8\n\ninner text\n--c\nContent-Type: image/gif; name=x.gif\n\nGIF\n--c--\n--b--\n";

#[test]
fn message_rfc822_shown_with_headers() {
    let out = r(RFC822);
    assert_eq!(
        out,
        "See below.\n[-- #2 message/rfc822, 272B --]\nFrom: 张三 <z@x>\nDate: Fri, 22 Mar 2024 13:10:55 +0100\n\
         Subject: 中文\nTo: l@y\n\ninner text\n[-- #2.2 image/gif, 3B, \"x.gif\" --]\n"
    );
    let nums: Vec<_> = parts(RFC822.as_bytes())
        .into_iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(nums, ["1", "2", "2.1", "2.2"]);
    // A non-multipart encapsulated message: its body is n.1.
    let msg = "Content-Type: message/rfc822\n\nSubject: s\n\nbody\n";
    let nums: Vec<_> = parts(msg.as_bytes())
        .into_iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(nums, ["1", "1.1"]);
    assert!(r(msg).ends_with("Subject: s\n\nbody\n"));
}

#[test]
fn digest_parts_default_to_rfc822() {
    let msg = "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\n\nSubject: two\n\nsecond\n--d--\n";
    let out = r(msg);
    assert!(
        out.contains("Subject: one\n\nfirst") && out.contains("Subject: two\n\nsecond"),
        "{out}"
    );
}

#[test]
fn broken_multipart_shows_raw_body() {
    let msg = "Content-Type: multipart/mixed\n\nno boundary here\n";
    assert_eq!(r(msg), "no boundary here\n");
    let msg =
        "Content-Type: multipart/mixed; boundary=zz\n\n--other\nContent-Type: text/plain\n\ntext\n";
    assert_eq!(r(msg), "--other\nContent-Type: text/plain\n\ntext\n");
    assert_eq!(parts(msg.as_bytes())[0].content_type, "multipart/mixed");
    // Missing close delimiter: the last part runs to the end.
    let msg = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nlast part\n";
    assert_eq!(r(msg), "last part\n");
    // A boundary that is a prefix of a line is not a delimiter.
    let msg = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bc is text\n--b--\n";
    assert_eq!(r(msg), "--bc is text");
    // Headerless part, empty part, garbage content type.
    let msg = "Content-Type: multipart/mixed; boundary=b\n\n--b\nno headers\n--b\n--b\nContent-Type: garbage\n\nx\n--b--";
    assert_eq!(r(msg), "no headers\n\nx");
}

#[test]
fn crlf_messages() {
    let msg = ALT.replace('\n', "\r\n");
    assert_eq!(r(&msg), "Plain version");
    let msg = NESTED.replace('\n', "\r\n");
    assert_eq!(
        r(&msg),
        "Hi 中\n[-- #2 application/pdf, 3B, \"report.pdf\" --]\n[-- #3 text/plain, 13B, \"中文.txt\" --]\n"
    );
}

#[test]
fn related_shows_root_lists_resources() {
    let msg = "Content-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\n\n<p>root</p>\n\
               --r\nContent-Type: image/png; name=logo.png\n\nPNG\n--r--\n";
    let out = r(msg);
    assert!(out.starts_with("root"), "{out}");
    assert!(
        out.ends_with("[-- #2 image/png, 3B, \"logo.png\" --]\n"),
        "{out}"
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let mut msg = String::new();
    for k in 0..500 {
        msg.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{k}\n\n--b{k}\n"
        ));
    }
    msg.push_str("\ninnermost\n");
    let out = r(&msg);
    assert!(out.contains("multipart/mixed") || out.contains("innermost"));
    let mut msg = String::new();
    for _ in 0..500 {
        msg.push_str("Content-Type: message/rfc822\n\n");
    }
    msg.push_str("Subject: x\n\ninnermost\n");
    let _ = r(&msg);
    let _ = parts(msg.as_bytes());
    // Deeply nested HTML.
    let html = format!(
        "Content-Type: text/html\n\n{}x{}",
        "<div>".repeat(3000),
        "</div>".repeat(3000)
    );
    let _ = r(&html);
}

#[test]
fn pathological_html_is_fast() {
    // html2text is quadratic in nesting depth; such input is stripped instead.
    let html = format!(
        "Content-Type: text/html\n\n{}x &amp; y{}",
        "<div>".repeat(100_000),
        "</div>".repeat(10)
    );
    let t = std::time::Instant::now();
    assert_eq!(r(&html).trim(), "x & y");
    assert!(t.elapsed().as_secs() < 5);
    assert_eq!(
        strip_tags("<p>a&lt;b&#x4e2d;&#25991;&nbsp;<script>no</script><style>x</style>c"),
        "a<b中文\u{a0}c"
    );
}

#[test]
fn nested_messages_do_not_copy_per_level() {
    // 32 levels of message/rfc822 around 2 MiB: descending stops when the copy budget is spent.
    let mut msg = String::new();
    for _ in 0..40 {
        msg.push_str("Content-Type: message/rfc822\n\n");
    }
    msg.push_str("Subject: x\n\n");
    msg.push_str(&"y".repeat(2 << 20));
    let p = parts(msg.as_bytes());
    assert!(p.len() < 10, "{}", p.len());
    assert_eq!(
        p.last().map(|p| p.content_type.as_str()),
        Some("message/rfc822")
    );
}

#[test]
fn bounce_report_is_readable() {
    let msg = "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n\
               --r\n\nDelivery failed.\n--r\nContent-Type: message/delivery-status\n\n\
               Final-Recipient: rfc822; u@h\nStatus: 5.1.1\n\n--r\nContent-Type: text/rfc822-headers\n\n\
               Subject: lost\n--r--\n";
    assert_eq!(
        r(msg),
        "Delivery failed.\n\nFinal-Recipient: rfc822; u@h\nStatus: 5.1.1\n\nSubject: lost"
    );
}
