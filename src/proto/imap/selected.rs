//! SELECT/EXAMINE and APPEND (RFC 3501 §6.3.1–2, §6.3.11) and the selected-state commands
//! (§6.4: CHECK, CLOSE, EXPUNGE, SEARCH, FETCH, STORE, COPY, UID; RFC 3691 UNSELECT, RFC
//! 4315 UID EXPUNGE, COPYUID and APPENDUID, RFC 6851 MOVE), and the untagged reports of
//! mailbox changes (§7.3.1 EXISTS, §7.3.2 RECENT, §7.4.1 EXPUNGE, §7.4.2 FETCH FLAGS);
//! with the IMAP4rev2 differences (RFC 9051 Appendix E) once it is enabled.

use chrono::{DateTime, FixedOffset};
use imap_types::command::CommandBody;
use imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_types::mailbox::Mailbox;
use imap_types::sequence::SequenceSet as WireSet;

use super::fetch;
use super::list;
use super::response;
use super::response::{flag_list, uid_set, untagged, Tagged};
use super::search::{self, Probe};
use super::session::{bad_name, mailbox_name, not_valid, Selected, Session};
use super::store::{Changes, Flags, Folder};
use super::Output;
use crate::message::imap::{matches, search_string, SearchKey, SeqNumber};

/// The system flags FLAGS and PERMANENTFLAGS list (RFC 3501 §2.3.2).
const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/// System flags and keywords from a STORE or APPEND flag list; `None` for a flag we do not
/// know (`\Recent` or an extension), which is answered BAD.
fn flag_args(list: &[Flag<'_>]) -> Option<(Flags, Vec<String>)> {
    let mut f = Flags::default();
    let mut kw: Vec<String> = Vec::new();
    for flag in list {
        match flag {
            Flag::Answered => f.answered = true,
            Flag::Deleted => f.deleted = true,
            Flag::Draft => f.draft = true,
            Flag::Flagged => f.flagged = true,
            Flag::Seen => f.seen = true,
            Flag::Keyword(k) => {
                if !kw.iter().any(|x| x.eq_ignore_ascii_case(k.inner())) {
                    kw.push(k.inner().to_string());
                }
            }
            Flag::Extension(_) => return None,
        }
    }
    Some((f, kw))
}

/// The positions a sequence set names: sequence numbers (a number past the last message is
/// an error, as in Dovecot) or UIDs (absent ones ignored, RFC 3501 §6.4.8).
fn positions(folder: &dyn Folder, set: &WireSet, uid: bool) -> Result<Vec<usize>, Tagged> {
    let set = search::seq_set(set).ok_or_else(|| Tagged::bad("Invalid messageset."))?;
    let len = folder.len();
    let max = u32::try_from(len).unwrap_or(u32::MAX);
    if uid {
        let max_uid = if len == 0 {
            0
        } else {
            folder.info(len - 1).uid
        };
        return Ok((0..len)
            .filter(|&i| set.contains(folder.info(i).uid, max_uid))
            .collect());
    }
    let too_big = set.ranges().iter().any(|(a, b)| {
        [a, b]
            .iter()
            .any(|n| matches!(n, SeqNumber::Value(v) if *v > max))
    });
    if too_big {
        return Err(Tagged::bad("Invalid messageset."));
    }
    Ok(set.iter(max).map(|n| n as usize - 1).collect())
}

/// `flags` as a session shows them: no `\\Recent` for a rev2 client (RFC 9051 Appendix E).
pub(super) fn shown(flags: Flags, rev2: bool) -> Flags {
    Flags {
        recent: flags.recent && !rev2,
        ..flags
    }
}

/// A line already starting with `* `, ended with CRLF.
fn untagged_raw(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The ESEARCH response (RFC 4731 §3.2, RFC 9051 §7.3.4) for the ascending numbers
/// `found`: MIN, MAX and ALL only when something matched, COUNT always when asked.
pub(super) fn esearch(tag: &str, uid: bool, o: search::ReturnOpts, found: &[u32]) -> String {
    // Tags never contain `"` or `\\` (RFC 3501 §9 `tag`), so quoting is plain.
    let mut line = format!("* ESEARCH (TAG \"{tag}\")");
    if uid {
        line.push_str(" UID");
    }
    if let (Some(first), Some(last)) = (found.first(), found.last()) {
        if o.min {
            line.push_str(&format!(" MIN {first}"));
        }
        if o.max {
            line.push_str(&format!(" MAX {last}"));
        }
        if o.all {
            line.push_str(&format!(" ALL {}", uid_set(found)));
        }
    }
    if o.count {
        line.push_str(&format!(" COUNT {}", found.len()));
    }
    line
}

fn read_only() -> Tagged {
    Tagged::no("Mailbox is read-only.")
}

impl Session {
    /// SELECT or EXAMINE (RFC 3501 §6.3.1–2). Any selected mailbox is left first (its
    /// flags written, nothing expunged); a failure leaves none selected.
    pub(super) fn select(
        &mut self,
        mailbox: &Mailbox<'_>,
        examine: bool,
        out: &mut Output,
    ) -> Tagged {
        let Some(name) = mailbox_name(mailbox, self.rev2) else {
            return bad_name();
        };
        let rev2 = self.rev2;
        let Some(a) = self.authed() else {
            return not_valid();
        };
        if let Some(mut old) = a.selected.take() {
            if old.dirty {
                let _ = old.folder.sync(&[]);
            }
            if rev2 {
                // RFC 9051 §6.3.2: the previous mailbox is closed before anything else.
                untagged(
                    &mut out.write,
                    "OK [CLOSED] Previous mailbox is now closed.",
                );
            }
        }
        let folder = match a.store.open(&name, examine) {
            Ok(f) => f,
            Err(e) => return Tagged::store(&e, false),
        };
        let read_only = examine || folder.is_read_only();
        let len = folder.len();
        let mut keywords: Vec<String> = Vec::new();
        let mut recent = 0;
        let mut unseen = None;
        for i in 0..len {
            let info = folder.info(i);
            recent += usize::from(info.flags.recent);
            if unseen.is_none() && !info.flags.seen {
                unseen = Some(i + 1);
            }
            for k in info.keywords {
                if !keywords.iter().any(|x| x.eq_ignore_ascii_case(&k)) {
                    keywords.push(k);
                }
            }
        }
        keywords.sort();
        let kw: String = keywords.iter().map(|k| format!(" {k}")).collect();
        let w = &mut out.write;
        untagged(w, &format!("FLAGS ({SYSTEM_FLAGS}{kw})"));
        if read_only {
            untagged(w, "OK [PERMANENTFLAGS ()] Read-only mailbox.");
        } else {
            untagged(
                w,
                &format!("OK [PERMANENTFLAGS ({SYSTEM_FLAGS}{kw} \\*)] Flags permitted."),
            );
        }
        untagged(w, &format!("{len} EXISTS"));
        if rev2 {
            // RFC 9051 §6.3.2: a LIST response for the mailbox instead of RECENT and
            // UNSEEN (both gone from IMAP4rev2, Appendix E).
            let boxes = a.store.list().unwrap_or_default();
            let names: Vec<&str> = boxes.iter().map(|b| b.name.as_str()).collect();
            let mut attrs = vec![if list::has_children(&name, &names) {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            if let Some(su) = boxes
                .iter()
                .find(|b| b.name == name)
                .and_then(|b| b.special_use.as_deref())
            {
                attrs.push(su);
            }
            w.extend_from_slice(format!("* LIST ({}) \"/\" ", attrs.join(" ")).as_bytes());
            response::mailbox_for(w, &name, true);
            w.extend_from_slice(b"\r\n");
        } else {
            untagged(w, &format!("{recent} RECENT"));
            if let Some(u) = unseen {
                untagged(w, &format!("OK [UNSEEN {u}] First unseen."));
            }
        }
        untagged(
            w,
            &format!("OK [UIDVALIDITY {}] UIDs valid", folder.uidvalidity()),
        );
        untagged(
            w,
            &format!("OK [UIDNEXT {}] Predicted next UID", folder.uidnext()),
        );
        a.selected = Some(Selected {
            name,
            folder,
            read_only,
            dirty: false,
        });
        if read_only {
            Tagged::ok("Examine completed.").code("READ-ONLY")
        } else {
            Tagged::ok("Select completed.").code("READ-WRITE")
        }
    }

    /// APPEND (RFC 3501 §6.3.11) with APPENDUID (RFC 4315 §3).
    pub(super) fn append(
        &mut self,
        mailbox: &Mailbox<'_>,
        flags: &[Flag<'_>],
        date: Option<DateTime<FixedOffset>>,
        message: &[u8],
    ) -> Tagged {
        let Some(name) = mailbox_name(mailbox, self.rev2) else {
            return bad_name();
        };
        let Some((flags, keywords)) = flag_args(flags) else {
            return Tagged::bad("Invalid system flag.");
        };
        if message.len() as u64 > self.params.append_limit {
            return Tagged::no("Message too big.").code("TOOBIG");
        }
        let Some(a) = self.authed() else {
            return not_valid();
        };
        match a.store.append(&name, message, flags, &keywords, date) {
            Ok((uidvalidity, Some(uid))) => {
                Tagged::ok("Append completed.").code(format!("APPENDUID {uidvalidity} {uid}"))
            }
            Ok((_, None)) => Tagged::ok("Append completed."),
            Err(e) => Tagged::store(&e, true),
        }
    }

    /// Writes pending flags or looks for changes in the selected mailbox and reports them;
    /// a changed UIDVALIDITY ends the session.
    pub(super) fn report(&mut self, out: &mut Output) {
        let Some(a) = self.authed() else {
            return;
        };
        let Some(sel) = a.selected.as_mut() else {
            return;
        };
        let res = if sel.dirty {
            sel.folder.sync(&[])
        } else {
            sel.folder.refresh()
        };
        if let Ok(ch) = res {
            sel.dirty = false;
            self.announce(ch, out);
        }
    }

    /// Sends the untagged responses for `ch` (see [`Changes`]).
    pub(super) fn announce(&mut self, ch: Changes, out: &mut Output) {
        if ch.uidvalidity_changed {
            self.bye(
                out,
                "[UNAVAILABLE] Mailbox UIDVALIDITY changed, please reconnect.",
            );
            return;
        }
        let rev2 = self.rev2;
        let Some(sel) = self.authed().and_then(|a| a.selected.as_mut()) else {
            return;
        };
        let w = &mut out.write;
        for p in &ch.expunged {
            untagged(w, &format!("{} EXPUNGE", p + 1));
        }
        // RFC 3501 §7.3.1-2: EXISTS and RECENT when messages arrived (a client lowers
        // its counts itself on EXPUNGE).
        if ch.arrived > 0 {
            let len = sel.folder.len();
            let recent = (0..len)
                .filter(|&i| sel.folder.info(i).flags.recent)
                .count();
            untagged(w, &format!("{len} EXISTS"));
            if !rev2 {
                untagged(w, &format!("{recent} RECENT"));
            }
        }
        for &p in &ch.flags_changed {
            if p < sel.folder.len() {
                let info = sel.folder.info(p);
                untagged(
                    w,
                    &format!(
                        "{} FETCH (FLAGS {})",
                        p + 1,
                        flag_list(&shown(info.flags, rev2), &info.keywords)
                    ),
                );
            }
        }
    }

    /// The commands of the selected state (RFC 3501 §6.4).
    pub(super) fn selected_command(
        &mut self,
        tag: &str,
        body: CommandBody<'_>,
        out: &mut Output,
    ) -> Tagged {
        use CommandBody as C;
        let has_selection = self.authed().is_some_and(|a| a.selected.is_some());
        if !has_selection {
            return Tagged::bad("No mailbox selected.");
        }
        match body {
            C::Check => Tagged::ok("Check completed."),
            C::Close => self.close(true),
            C::Unselect => self.close(false),
            C::Expunge => self.expunge(None, out),
            C::ExpungeUid { sequence_set } => self.expunge(Some(&sequence_set), out),
            C::Search {
                charset,
                criteria,
                uid,
            } => {
                let charset = charset.as_ref().map(|c| c.as_ref().to_string());
                self.search(charset.as_deref(), criteria.as_ref(), uid, tag, out)
            }
            C::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
            } => match fetch::items(&macro_or_item_names, uid) {
                Some(items) => self.fetch(&sequence_set, &items, uid, out),
                None => Tagged::bad("Unknown FETCH item."),
            },
            C::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
            } => self.store(&sequence_set, kind, response, &flags, uid, out),
            C::Copy {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(&sequence_set, &mailbox, uid, false, out),
            C::Move {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(&sequence_set, &mailbox, uid, true, out),
            _ => Tagged::bad("Unknown command."),
        }
    }

    /// The selection; callers have checked there is one.
    fn sel(&mut self) -> Option<&mut Selected> {
        self.authed().and_then(|a| a.selected.as_mut())
    }

    /// CLOSE (`expunge`, RFC 3501 §6.4.2: removes `\Deleted` messages silently when
    /// read-write) or UNSELECT (RFC 3691). Either way no mailbox is selected afterwards.
    fn close(&mut self, expunge: bool) -> Tagged {
        let Some(a) = self.authed() else {
            return not_valid();
        };
        let Some(mut sel) = a.selected.take() else {
            return Tagged::bad("No mailbox selected.");
        };
        let gone: Vec<usize> = if expunge && !sel.read_only {
            (0..sel.folder.len())
                .filter(|&i| sel.folder.info(i).flags.deleted)
                .collect()
        } else {
            Vec::new()
        };
        if (sel.dirty || !gone.is_empty()) && !sel.read_only {
            if let Err(e) = sel.folder.sync(&gone) {
                return Tagged::store(&e, false);
            }
        }
        if expunge {
            Tagged::ok("Close completed.")
        } else {
            Tagged::ok("Unselect completed.")
        }
    }

    /// EXPUNGE (RFC 3501 §6.4.3) or UID EXPUNGE (RFC 4315 §2.1).
    fn expunge(&mut self, uids: Option<&WireSet>, out: &mut Output) -> Tagged {
        let Some(sel) = self.sel() else {
            return not_valid();
        };
        if sel.read_only {
            return read_only();
        }
        let within = match uids {
            Some(set) => match positions(sel.folder.as_ref(), set, true) {
                Ok(p) => Some(p),
                Err(t) => return t,
            },
            None => None,
        };
        let gone: Vec<usize> = (0..sel.folder.len())
            .filter(|&i| sel.folder.info(i).flags.deleted)
            .filter(|i| within.as_ref().is_none_or(|w| w.binary_search(i).is_ok()))
            .collect();
        match sel.folder.sync(&gone) {
            Ok(ch) => {
                sel.dirty = false;
                self.announce(ch, out);
                Tagged::ok("Expunge completed.")
            }
            Err(e) => Tagged::store(&e, false),
        }
    }

    /// SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8).
    fn search(
        &mut self,
        charset: Option<&str>,
        criteria: &[imap_types::search::SearchKey<'_>],
        uid: bool,
        tag: &str,
        out: &mut Output,
    ) -> Tagged {
        if search_string(b"", charset).is_err() {
            return Tagged::no("Unsupported charset.").code("BADCHARSET (US-ASCII UTF-8)");
        }
        let keys: Result<Vec<SearchKey>, _> = criteria
            .iter()
            .map(|k| search::convert(k, charset))
            .collect();
        let key = match keys {
            Ok(mut k) if k.len() == 1 => k.remove(0),
            Ok(k) => SearchKey::And(k),
            Err(_) => {
                return Tagged::no("Unsupported charset.").code("BADCHARSET (US-ASCII UTF-8)")
            }
        };
        // RFC 9051 §6.4.4: a rev2 client always gets ESEARCH; RETURN (RFC 4731) asks
        // for it in rev1 too.
        let opts = match self.search_return.take() {
            Some(o) => Some(o),
            None if self.rev2 => Some(search::ReturnOpts::all()),
            None => None,
        };
        let Some(sel) = self.sel() else {
            return not_valid();
        };
        let folder = sel.folder.as_ref();
        let len = folder.len();
        let max_uid = if len == 0 {
            0
        } else {
            folder.info(len - 1).uid
        };
        let mut found: Vec<u32> = Vec::new();
        for i in 0..len {
            let mut probe = Probe::new(folder, i, max_uid);
            if matches(&key, &mut probe) {
                found.push(if uid {
                    probe.info.uid
                } else {
                    u32::try_from(i + 1).unwrap_or(u32::MAX)
                });
            }
        }
        let line = match opts {
            None => {
                let mut line = String::from("* SEARCH");
                for n in &found {
                    line.push_str(&format!(" {n}"));
                }
                line
            }
            Some(o) => esearch(tag, uid, o, &found),
        };
        untagged_raw(&mut out.write, &line);
        Tagged::ok("Search completed.")
    }

    /// FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8).
    fn fetch(
        &mut self,
        set: &WireSet,
        items: &[fetch::Item],
        uid: bool,
        out: &mut Output,
    ) -> Tagged {
        let rev2 = self.rev2;
        let Some(sel) = self.sel() else {
            return not_valid();
        };
        let list = match positions(sel.folder.as_ref(), set, uid) {
            Ok(p) => p,
            Err(t) => return t,
        };
        let mut failed = false;
        let mut unknown_cte = false;
        for i in list {
            match fetch::fetch_one(
                sel.folder.as_mut(),
                i,
                items,
                !sel.read_only,
                rev2,
                &mut out.write,
            ) {
                Ok(changed) => sel.dirty |= changed,
                Err(fetch::FetchError::UnknownCte) => unknown_cte = true,
                Err(fetch::FetchError::Io) => failed = true,
            }
        }
        if unknown_cte {
            Tagged::no("Unknown Content-Transfer-Encoding.").code("UNKNOWN-CTE")
        } else if failed {
            Tagged::no("Some messages could not be fetched.").code("UNAVAILABLE")
        } else {
            Tagged::ok("Fetch completed.")
        }
    }

    /// STORE and UID STORE (RFC 3501 §6.4.6).
    fn store(
        &mut self,
        set: &WireSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'_>],
        uid: bool,
        out: &mut Output,
    ) -> Tagged {
        let Some((want, want_kw)) = flag_args(flags) else {
            return Tagged::bad("Invalid system flag.");
        };
        let rev2 = self.rev2;
        let Some(sel) = self.sel() else {
            return not_valid();
        };
        let list = match positions(sel.folder.as_ref(), set, uid) {
            Ok(p) => p,
            Err(t) => return t,
        };
        if sel.read_only {
            return read_only();
        }
        for i in list {
            let info = sel.folder.info(i);
            let (mut f, mut kw) = (info.flags, info.keywords.clone());
            let set_to = |f: &mut Flags, on: bool| {
                for (want_on, flag) in [
                    (want.seen, &mut f.seen),
                    (want.answered, &mut f.answered),
                    (want.flagged, &mut f.flagged),
                    (want.deleted, &mut f.deleted),
                    (want.draft, &mut f.draft),
                ] {
                    if want_on {
                        *flag = on;
                    }
                }
            };
            match kind {
                StoreType::Replace => {
                    f = Flags {
                        recent: f.recent,
                        ..want
                    };
                    kw = want_kw.clone();
                }
                StoreType::Add => {
                    set_to(&mut f, true);
                    for k in &want_kw {
                        if !kw.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                            kw.push(k.clone());
                        }
                    }
                }
                StoreType::Remove => {
                    set_to(&mut f, false);
                    kw.retain(|x| !want_kw.iter().any(|k| k.eq_ignore_ascii_case(x)));
                }
            }
            if f != info.flags || kw != info.keywords {
                sel.folder.set_flags(i, f, kw.clone());
                sel.dirty = true;
            }
            if response == StoreResponse::Answer {
                let now = sel.folder.info(i);
                let uid_part = if uid {
                    format!("UID {} ", now.uid)
                } else {
                    String::new()
                };
                untagged(
                    &mut out.write,
                    &format!(
                        "{} FETCH ({uid_part}FLAGS {})",
                        i + 1,
                        flag_list(&shown(now.flags, rev2), &now.keywords)
                    ),
                );
            }
        }
        Tagged::ok("Store completed.")
    }

    /// COPY, UID COPY (RFC 3501 §6.4.7, COPYUID of RFC 4315 §3), MOVE and UID MOVE
    /// (RFC 6851 §3: COPYUID in an untagged OK, then the EXPUNGEs).
    fn copy(
        &mut self,
        set: &WireSet,
        mailbox: &Mailbox<'_>,
        uid: bool,
        moving: bool,
        out: &mut Output,
    ) -> Tagged {
        let Some(dest) = mailbox_name(mailbox, self.rev2) else {
            return bad_name();
        };
        let Some(a) = self.authed() else {
            return not_valid();
        };
        let Some(sel) = a.selected.as_mut() else {
            return not_valid();
        };
        let list = match positions(sel.folder.as_ref(), set, uid) {
            Ok(p) => p,
            Err(t) => return t,
        };
        if moving && sel.read_only {
            return read_only();
        }
        let mut src = Vec::new();
        let mut dst = Vec::new();
        let mut validity = None;
        for &i in &list {
            let info = sel.folder.info(i);
            let bytes = match sel.folder.message(i) {
                Ok(b) => b,
                Err(_) => {
                    return Tagged::no("Some messages could not be copied.").code("UNAVAILABLE")
                }
            };
            let flags = Flags {
                recent: false,
                ..info.flags
            };
            match a.store.append(
                &dest,
                &bytes,
                flags,
                &info.keywords,
                Some(info.internal_date),
            ) {
                Ok((v, u)) => {
                    validity = Some(v);
                    src.push(info.uid);
                    dst.push(u);
                }
                Err(e) => return Tagged::store(&e, true),
            }
        }
        let copyuid = match (validity, dst.iter().copied().collect::<Option<Vec<u32>>>()) {
            (Some(v), Some(d)) => Some(format!("COPYUID {v} {} {}", uid_set(&src), uid_set(&d))),
            _ => None,
        };
        if !moving {
            let t = Tagged::ok(if list.is_empty() {
                "No messages found."
            } else {
                "Copy completed."
            });
            return match copyuid {
                Some(c) => t.code(c),
                None => t,
            };
        }
        if let Some(c) = &copyuid {
            untagged(&mut out.write, &format!("OK [{c}] Moved UIDs."));
        }
        match sel.folder.sync(&list) {
            Ok(ch) => {
                sel.dirty = false;
                self.announce(ch, out);
                Tagged::ok("Move completed.")
            }
            Err(e) => Tagged::store(&e, false),
        }
    }
}
