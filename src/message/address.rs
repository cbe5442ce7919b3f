//! RFC 5322 §3.4 addresses, as far as the reader needs them.

/// One mailbox: optional display name and the address (`local@domain`, or a bare local name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Display name, RFC 2047-decoded, quotes removed.
    pub name: Option<String>,
    /// The address proper, without angle brackets.
    pub addr: String,
}

/// Parses an address list header value (`To:`, `Cc:`, `From:`; raw bytes, may be folded or
/// encoded). Groups are flattened. Unparseable input yields what could be salvaged, never panics.
pub fn parse_list(value: &[u8]) -> Vec<Mailbox> {
    let decoded = crate::message::charset::decode_guess(&crate::message::header::unfold(value));
    match mailparse::addrparse(&decoded) {
        Ok(list) => list
            .iter()
            .flat_map(|a| match a {
                mailparse::MailAddr::Single(s) => vec![Mailbox {
                    name: s.display_name.clone(),
                    addr: s.addr.clone(),
                }],
                mailparse::MailAddr::Group(g) => g
                    .addrs
                    .iter()
                    .map(|s| Mailbox {
                        name: s.display_name.clone(),
                        addr: s.addr.clone(),
                    })
                    .collect(),
            })
            .collect(),
        Err(_) => {
            let t = decoded.trim();
            if t.is_empty() {
                vec![]
            } else {
                vec![Mailbox {
                    name: None,
                    addr: t.to_owned(),
                }]
            }
        }
    }
}
