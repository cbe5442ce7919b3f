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
            Item::Rfc822 | Item::Rfc822Text | Item::Body { peek: false, .. }
        )
    }
}

/// The items asked for, macros expanded (RFC 3501 §6.4.5), with UID added first for UID
/// FETCH. `None` for items we do not offer (BINARY: not advertised).
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
        _ => return None,
    })
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

/// Appends `data` as a literal.
fn literal(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

/// Writes the FETCH response for message `i` (0-based); sets `\Seen` when an item asks for
/// it and `writable`. Returns whether flags were changed, or `Err` when the message bytes
/// could not be read (nothing is written then).
pub(super) fn fetch_one(
    folder: &mut dyn Folder,
    i: usize,
    items: &[Item],
    writable: bool,
    rev2: bool,
    out: &mut Vec<u8>,
) -> Result<bool, std::io::Error> {
    let mut info = folder.info(i);
    let bytes = if items.iter().any(Item::needs_bytes) {
        Some(folder.message(i)?)
    } else {
        None
    };
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
        }
    }
    out.extend_from_slice(b")\r\n");
    Ok(changed)
}
