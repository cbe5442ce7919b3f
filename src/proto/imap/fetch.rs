//! FETCH (RFC 3501 §6.4.5, §7.4.2): the requested items resolved once per command, then one
//! `* n FETCH (…)` response per message, its data computed by `message::imap` from the
//! message's bytes (read only when an item needs them, parsed once per message).
//!
//! Choices where RFC 3501 leaves them (Dovecot's): body data is always sent as a literal;
//! a section the message does not have is an empty string; a FETCH of `BODY[…]`,
//! `RFC822` or `RFC822.TEXT` (not `BODY.PEEK`, not `RFC822.HEADER`) sets `\Seen` in a
//! read-write mailbox and then reports FLAGS too; UID FETCH puts `UID` first when it was
//! not asked for.

use imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItemName as Name, Section as WireSection,
};

use super::response::{date_time, flag_list};
use super::store::Folder;
use crate::message::imap::{partial, ParsedMessage, Section, SectionText};

/// One FETCH item, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    Flags,
    InternalDate,
    Size,
    Envelope,
    /// BODY (`false`) or BODYSTRUCTURE (`true`).
    Structure(bool),
    Uid,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    /// `BODY[section]<partial>`: the section, the response's label (`BODY[1.MIME]`), the
    /// partial `(start, count)`, and whether it is a PEEK.
    Body {
        section: Section,
        label: String,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
    /// `BINARY[part]<partial>` (RFC 3516 §4.2, RFC 9051 §6.4.5): the part's content with
    /// its Content-Transfer-Encoding undone.
    Binary {
        part: Vec<u32>,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
    /// `BINARY.SIZE[part]`: the size of that content.
    BinarySize(Vec<u32>),
}

impl Item {
    /// Whether the item needs the message's bytes.
    fn needs_bytes(&self) -> bool {
        !matches!(
            self,
            Item::Flags | Item::InternalDate | Item::Size | Item::Uid
        )
    }

    /// Whether fetching the item sets `\Seen` (RFC 3501 §6.4.5).
    fn sets_seen(&self) -> bool {
        matches!(
            self,
            Item::Rfc822
                | Item::Rfc822Text
                | Item::Body { peek: false, .. }
                | Item::Binary { peek: false, .. }
        )
    }
}

/// The items asked for, macros expanded (RFC 3501 §6.4.5), with UID added first for UID
/// FETCH. `None` for items we do not offer.
pub(super) fn items(req: &MacroOrMessageDataItemNames<'_>, uid: bool) -> Option<Vec<Item>> {
    let mut v = match req {
        MacroOrMessageDataItemNames::Macro(m) => {
            let mut v = vec![Item::Flags, Item::InternalDate, Item::Size];
            match m {
                Macro::All => v.push(Item::Envelope),
                Macro::Full => v.extend([Item::Envelope, Item::Structure(false)]),
                _ => {}
            }
            v
        }
        MacroOrMessageDataItemNames::MessageDataItemNames(names) => {
            names.iter().map(item).collect::<Option<Vec<_>>>()?
        }
    };
    if uid && !v.contains(&Item::Uid) {
        v.insert(0, Item::Uid);
    }
    Some(v)
}

fn item(name: &Name<'_>) -> Option<Item> {
    Some(match name {
        Name::Body => Item::Structure(false),
        Name::BodyStructure => Item::Structure(true),
        Name::Envelope => Item::Envelope,
        Name::Flags => Item::Flags,
        Name::InternalDate => Item::InternalDate,
        Name::Rfc822 => Item::Rfc822,
        Name::Rfc822Header => Item::Rfc822Header,
        Name::Rfc822Size => Item::Size,
        Name::Rfc822Text => Item::Rfc822Text,
        Name::Uid => Item::Uid,
        Name::BodyExt {
            section,
            partial,
            peek,
        } => {
            let (section, spec) = convert_section(section.as_ref());
            Item::Body {
                section,
                label: format!("BODY[{spec}]"),
                partial: partial.map(|(a, b)| (a, b.get())),
                peek: *peek,
            }
        }
        Name::Binary {
            section,
            partial,
            peek,
        } => Item::Binary {
            part: section.iter().map(|n| n.get()).collect(),
            partial: partial.map(|(a, b)| (a, b.get())),
            peek: *peek,
        },
        Name::BinarySize { section } => Item::BinarySize(section.iter().map(|n| n.get()).collect()),
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// Why a FETCH of one message failed.
#[derive(Debug)]
pub(super) enum FetchError {
    /// The message could not be read.
    Io,
    /// BINARY of a part whose Content-Transfer-Encoding we cannot undo: `NO [UNKNOWN-CTE]`
    /// (RFC 3516 §4.3).
    UnknownCte,
}

/// `BINARY[part]` data (RFC 3516 §4.2): `BINARY[]` is the whole message; a part's body
/// (CRLF form) with base64 or quoted-printable decoded; 7bit, 8bit, binary or no
/// encoding as it is. `Ok(None)`: no such part; `Err(())`: an unknown encoding.
pub(super) fn binary_section(msg: &[u8], path: &[u32]) -> Result<Option<Vec<u8>>, ()> {
    use crate::message::imap::{section, to_crlf, tree};
    if path.is_empty() {
        return Ok(Some(to_crlf(msg)));
    }
    let root = tree::parse(msg);
    let Some(part) = section::find(&root, path) else {
        return Ok(None);
    };
    let body = to_crlf(part.body(msg));
    let cte = part
        .mime_field("Content-Transfer-Encoding")
        .map(|v| {
            let v = crate::message::header::unfold(v);
            let v = String::from_utf8_lossy(&v).to_ascii_lowercase();
            v.split(|c: char| c.is_ascii_whitespace() || c == '(' || c == ';')
                .find(|w| !w.is_empty())
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    match cte.as_str() {
        "" | "7bit" | "8bit" | "binary" => Ok(Some(body)),
        "base64" => Ok(Some(crate::message::mime::decode_base64(&body))),
        "quoted-printable" => Ok(Some(crate::message::mime::decode_qp(&body))),
        _ => Err(()),
    }
}

/// The label of a BINARY item: `BINARY[1.2]`.
fn binary_label(name: &str, part: &[u32]) -> String {
    let p: Vec<String> = part.iter().map(u32::to_string).collect();
    format!("{name}[{}]", p.join("."))
}

/// A section as ours, and its text as written back in the response (RFC 3501 §7.4.2:
/// header field names as the client gave them, quoted when they are not atoms).
fn convert_section(s: Option<&WireSection<'_>>) -> (Section, String) {
    let Some(s) = s else {
        return (Section::default(), String::new());
    };
    let part_of = |p: Option<&imap_types::fetch::Part>| -> Vec<u32> {
        p.map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
            .unwrap_or_default()
    };
    let names = |list: &imap_types::core::Vec1<imap_types::core::AString<'_>>| -> Vec<Vec<u8>> {
        list.as_ref().iter().map(|a| a.as_ref().to_vec()).collect()
    };
    let (part, text) = match s {
        WireSection::Part(p) => (part_of(Some(p)), None),
        WireSection::Header(p) => (part_of(p.as_ref()), Some(SectionText::Header)),
        WireSection::HeaderFields(p, l) => (
            part_of(p.as_ref()),
            Some(SectionText::HeaderFields(names(l))),
        ),
        WireSection::HeaderFieldsNot(p, l) => (
            part_of(p.as_ref()),
            Some(SectionText::HeaderFieldsNot(names(l))),
        ),
        WireSection::Text(p) => (part_of(p.as_ref()), Some(SectionText::Text)),
        WireSection::Mime(p) => (part_of(Some(p)), Some(SectionText::Mime)),
    };
    let mut spec: Vec<String> = part.iter().map(u32::to_string).collect();
    match &text {
        None => {}
        Some(SectionText::Header) => spec.push("HEADER".into()),
        Some(SectionText::Text) => spec.push("TEXT".into()),
        Some(SectionText::Mime) => spec.push("MIME".into()),
        Some(SectionText::HeaderFields(l)) => {
            spec.push(format!("HEADER.FIELDS ({})", field_names(l)))
        }
        Some(SectionText::HeaderFieldsNot(l)) => {
            spec.push(format!("HEADER.FIELDS.NOT ({})", field_names(l)))
        }
    }
    (Section { part, text }, spec.join("."))
}

/// Header field names for the response: atoms as they are, anything else quoted.
fn field_names(list: &[Vec<u8>]) -> String {
    list.iter()
        .map(|n| {
            let atom = !n.is_empty()
                && n.iter()
                    .all(|&b| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b));
            if atom {
                String::from_utf8_lossy(n).into_owned()
            } else {
                let mut q = String::from("\"");
                for &b in n {
                    if b == b'"' || b == b'\\' {
                        q.push('\\');
                    }
                    // Only printable ASCII reaches here from the parser.
                    q.push(if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '?'
                    });
                }
                q.push('"');
                q
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Appends `data` as a literal8 (`~{n}`, RFC 3516 §4.2) when it holds NUL, else as a
/// literal.
fn literal8(out: &mut Vec<u8>, data: &[u8]) {
    if data.contains(&0) {
        out.push(b'~');
    }
    literal(out, data);
}

/// Appends `data` as a literal.
fn literal(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

/// Writes the FETCH response for message `i` (0-based); sets `\Seen` when an item asks for
/// it and `writable`. Returns whether flags were changed, or `Err` when the message bytes
/// could not be read or a BINARY part's encoding is unknown (nothing is written then).
pub(super) fn fetch_one(
    folder: &mut dyn Folder,
    i: usize,
    items: &[Item],
    writable: bool,
    rev2: bool,
    out: &mut Vec<u8>,
) -> Result<bool, FetchError> {
    let mut info = folder.info(i);
    let bytes = if items.iter().any(Item::needs_bytes) {
        Some(folder.message(i).map_err(|_| FetchError::Io)?)
    } else {
        None
    };
    // BINARY data first, so that an unknown encoding writes nothing.
    let mut binaries: Vec<Option<Vec<u8>>> = Vec::new();
    for it in items {
        if let (Item::Binary { part, .. } | Item::BinarySize(part), Some(b)) = (it, &bytes) {
            binaries.push(binary_section(b, part).map_err(|()| FetchError::UnknownCte)?);
        }
    }
    let mut binaries = binaries.into_iter();
    let mut changed = false;
    let mut items: Vec<&Item> = items.iter().collect();
    if writable && !info.flags.seen && items.iter().any(|it| it.sets_seen()) {
        info.flags.seen = true;
        folder.set_flags(i, info.flags, info.keywords.clone());
        changed = true;
        if !items.contains(&&Item::Flags) {
            items.push(&Item::Flags);
        }
    }
    let parsed = bytes.as_deref().map(ParsedMessage::new);
    let whole = || {
        parsed
            .as_ref()
            .map(|p| p.section(&Section::default()).unwrap_or_default())
    };
    out.extend_from_slice(format!("* {} FETCH (", i + 1).as_bytes());
    for (k, it) in items.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        match it {
            Item::Flags => {
                out.extend_from_slice(b"FLAGS ");
                let flags = super::selected::shown(info.flags, rev2);
                out.extend_from_slice(flag_list(&flags, &info.keywords).as_bytes());
            }
            Item::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE ");
                out.extend_from_slice(date_time(&info.internal_date).as_bytes());
            }
            Item::Size => out.extend_from_slice(format!("RFC822.SIZE {}", info.size).as_bytes()),
            Item::Uid => out.extend_from_slice(format!("UID {}", info.uid).as_bytes()),
            Item::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                if let Some(p) = &parsed {
                    out.extend_from_slice(&p.envelope().to_imap());
                }
            }
            Item::Structure(ext) => {
                out.extend_from_slice(if *ext { b"BODYSTRUCTURE " } else { b"BODY " });
                if let Some(p) = &parsed {
                    out.extend_from_slice(&p.body_structure(*ext).to_imap());
                }
            }
            Item::Rfc822 => {
                out.extend_from_slice(b"RFC822 ");
                literal(out, &whole().unwrap_or_default());
            }
            Item::Rfc822Header | Item::Rfc822Text => {
                let (name, text) = match it {
                    Item::Rfc822Header => ("RFC822.HEADER ", SectionText::Header),
                    _ => ("RFC822.TEXT ", SectionText::Text),
                };
                out.extend_from_slice(name.as_bytes());
                let spec = Section {
                    part: Vec::new(),
                    text: Some(text),
                };
                let data = parsed.as_ref().and_then(|p| p.section(&spec));
                literal(out, &data.unwrap_or_default());
            }
            Item::Body {
                section,
                label,
                partial: cut,
                ..
            } => {
                out.extend_from_slice(label.as_bytes());
                let data = parsed.as_ref().and_then(|p| p.section(section));
                if let Some((start, _)) = cut {
                    out.extend_from_slice(format!("<{start}>").as_bytes());
                }
                out.push(b' ');
                match data {
                    None => out.extend_from_slice(b"\"\""),
                    Some(d) => match cut {
                        Some((start, count)) => {
                            literal(out, partial(&d, u64::from(*start), u64::from(*count)))
                        }
                        None => literal(out, &d),
                    },
                }
            }
            Item::Binary {
                part, partial: cut, ..
            } => {
                out.extend_from_slice(binary_label("BINARY", part).as_bytes());
                if let Some((start, _)) = cut {
                    out.extend_from_slice(format!("<{start}>").as_bytes());
                }
                out.push(b' ');
                match binaries.next().flatten() {
                    None => out.extend_from_slice(b"NIL"),
                    Some(d) => match cut {
                        Some((start, count)) => {
                            literal8(out, partial(&d, u64::from(*start), u64::from(*count)))
                        }
                        None => literal8(out, &d),
                    },
                }
            }
            Item::BinarySize(part) => {
                let n = binaries.next().flatten().map_or(0, |d| d.len());
                out.extend_from_slice(
                    format!("{} {n}", binary_label("BINARY.SIZE", part)).as_bytes(),
                );
            }
        }
    }
    out.extend_from_slice(b")\r\n");
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sections_hostile() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64 (c)\n\n!!!A\n--b\nContent-Transfer-Encoding: quoted-printable\n\n=\n=ZZ=4\n--b\nContent-Transfer-Encoding: \n\nx\n--b\nContent-Transfer-Encoding: 8bit; x\n\n\xff\n--b--\n";
        assert_eq!(binary_section(msg, &[1]), Ok(Some(Vec::new())));
        assert_eq!(binary_section(msg, &[2]), Ok(Some(b"=ZZ=4".to_vec())));
        assert_eq!(binary_section(msg, &[3]), Ok(Some(b"x".to_vec())));
        assert_eq!(binary_section(msg, &[4]), Ok(Some(b"\xff".to_vec())));
        assert_eq!(binary_section(msg, &[5]), Ok(None));
        assert_eq!(binary_section(msg, &[u32::MAX, u32::MAX]), Ok(None));
        assert_eq!(binary_section(msg, &[1; 200]), Ok(None));
        assert_eq!(binary_section(b"", &[1]), Ok(Some(Vec::new())));
        assert_eq!(
            binary_section(
                b"MIME-Version: 1.0\nContent-Transfer-Encoding: gzip\n\nx",
                &[1]
            ),
            Err(())
        );
        // Deep nesting is bounded by the MIME parser.
        let mut deep = Vec::new();
        for _ in 0..5000 {
            deep.extend_from_slice(b"Content-Type: message/rfc822\n\n");
        }
        let _ = binary_section(&deep, &[1; 5000]);
    }
}
