//! Hostile-input test: pseudo-random and mutated inputs into every public function of
//! `message`, none of which may panic. A fixed-seed xorshift generator keeps runs repeatable
//! without extra crates.

use crate::message::{address, charset, date, header, mime};
use crate::testutil::Rng;

/// Bytes biased towards the syntax the parsers care about.
fn bytes(rng: &mut Rng, max: usize) -> Vec<u8> {
    const SPECIAL: &[u8] = b"=?\"<>()[],:;@.\\%*'-_ \t\r\n\n\nBbQq0123456789abcdefABCDEF/+";
    let len = rng.below(max + 1);
    (0..len)
        .map(|_| match rng.below(4) {
            0 => rng.next() as u8,
            1 => b' ' + rng.below(95) as u8,
            _ => SPECIAL[rng.below(SPECIAL.len())],
        })
        .collect()
}

const TEMPLATES: &[&str] = &[
    "From: \"Zhang, San\" <z@x>\nSubject: =?gbk?B?1tDOxA==?= =?utf-8?Q?=E4=B8?=\nDate: Fri, 22 Mar 2024 13:10:55 +0100 (CET)\n\
     Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: multipart/alternative; boundary=c\n\n\
     --c\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nHi =E4=B8=AD=\nx\n\
     --c\nContent-Type: text/html\n\n<p>Hi</p>\n--c--\n--b\nContent-Type: message/rfc822\n\nFrom: a@b\nSubject: s\n\n\
     inner\n--b\nContent-Type: application/pdf; name*0*=utf-8''%E4; name*1*=%B8%AD\n\
     Content-Disposition: attachment; filename=\"=?UTF-8?B?5Lit?=\"\nContent-Transfer-Encoding: base64\n\nQUJD\n--b--\n",
    "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\n\nSubject: two\n\nsecond\n--d--\n",
    "Content-Type: text/plain; charset=x-foo\nContent-Transfer-Encoding: base64\n\n5Lit5paH\n",
];

/// Rounds per test: 1,500 unless `RMAIL_FUZZ_ROUNDS` says otherwise (for longer local runs).
fn rounds() -> usize {
    std::env::var("RMAIL_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

fn exercise(rng: &mut Rng, input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let _ = charset::lookup(&text);
    let _ = charset::decode(input, &text);
    let _ = charset::decode(input, ["gbk", "utf-8", "iso-2022-jp", "big5"][rng.below(4)]);
    let _ = charset::decode_guess(input);
    let fields = header::split_fields(input);
    for f in &fields {
        let _ = header::decode_words(&f.value);
        let _ = address::parse_list(&f.value);
    }
    let _ = header::find(&fields, "subject");
    let _ = header::header_end(input);
    let _ = header::unfold(input);
    let _ = header::decode_words(input);
    let _ = header::param(&text, "filename");
    let _ = header::param(
        &text,
        ["name", "boundary", "charset", "b", "q"][rng.below(5)],
    );
    let _ = header::main_value(&text);
    let _ = address::parse_list(input);
    let _ = address::summary_name(input, rng.below(2) == 0);
    let _ = date::parse_date_header(&text);
    let _ = date::parse_from_line_date(&text);
    let _ = mime::render_body(input);
    let _ = mime::render_body_with(
        input,
        &mime::RenderOptions {
            width: rng.below(120),
        },
    );
    let list = mime::parts(input);
    if let Some(p) = list.first() {
        let _ = mime::part_content(input, &p.number);
    }
    let _ = mime::decode_base64(input);
    let _ = mime::decode_qp(input);
    let _ = mime::decode_transfer(input, "base64");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..rounds() {
        let input = bytes(&mut rng, 300);
        exercise(&mut rng, &input);
    }
}

#[test]
fn mutated_messages_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for round in 0..rounds() {
        let mut msg = TEMPLATES[round % TEMPLATES.len()].as_bytes().to_vec();
        for _ in 0..1 + rng.below(8) {
            if msg.is_empty() {
                break;
            }
            let at = rng.below(msg.len());
            match rng.below(4) {
                0 => msg[at] = rng.next() as u8,
                1 => {
                    let ins = bytes(&mut rng, 12);
                    msg.splice(at..at, ins);
                }
                2 => {
                    let end = (at + rng.below(20)).min(msg.len());
                    msg.drain(at..end);
                }
                _ => msg.truncate(at),
            }
        }
        exercise(&mut rng, &msg);
    }
}

#[test]
fn encoded_word_and_date_shapes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..rounds() {
        let mut v = b"=?".to_vec();
        v.extend(bytes(&mut rng, 10));
        v.extend_from_slice([&b"?B?"[..], b"?q?", b"*zh?b?"][rng.below(3)]);
        v.extend(bytes(&mut rng, 12));
        v.extend_from_slice(b"?=");
        let _ = header::decode_words(&v);
        let d = format!(
            "{} {} {} {}:{}:{} {}",
            rng.below(40),
            ["Jan", "feb", "XYZ", "March"][rng.below(4)],
            rng.below(12000),
            rng.below(30),
            rng.below(70),
            rng.below(70),
            ["+0800", "-99", "EST", "Z", "(x", ""][rng.below(6)]
        );
        let _ = date::parse_date_header(&d);
        let _ = date::parse_from_line_date(&d);
    }
}
