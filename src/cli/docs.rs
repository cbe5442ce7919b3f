//! Renders the man page and shell completions from the clap definition, so that `--help`,
//! `man/rmail.1` and `completions/*` never drift (ripgrep's habit). `tests/it/docs.rs`
//! compares the committed copies; `RMAIL_BLESS=1 cargo test docs` rewrites them.

use clap::CommandFactory;
use clap_complete::Shell;

/// The shells we ship completions for, with their file names under `completions/`.
pub const SHELLS: [(Shell, &str); 3] = [
    (Shell::Bash, "rmail.bash"),
    (Shell::Zsh, "_rmail"),
    (Shell::Fish, "rmail.fish"),
];

/// The clap command behind `rmail`.
pub fn command() -> clap::Command {
    super::Cli::command()
}

/// `man/rmail.1` as roff: clap's sections plus the reader's commands, files and exit statuses.
pub fn man_page() -> Vec<u8> {
    let cmd = command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    // Infallible on a Vec.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    synopsis(&mut out, &cmd, "rmail");
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    subcommands(&mut out, &cmd, "rmail");
    out.extend_from_slice(MAN_EXTRA.as_bytes());
    let _ = man.render_version_section(&mut out);
    out
}

/// Escapes text for roff (backslashes and hyphens).
fn roff(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

/// The SYNOPSIS section with every option's value name (clap_mangen leaves them out):
/// `[-c FILE]`, `[-o KEY=VALUE]...`, operands, and `COMMAND` when there are subcommands.
fn synopsis(out: &mut Vec<u8>, cmd: &clap::Command, name: &str) {
    let mut line = format!(".SH SYNOPSIS\n\\fB{}\\fR", roff(name));
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let flag = match (a.get_short(), a.get_long()) {
            (Some(s), Some(l)) => format!("\\fB\\-{s}\\fR|\\fB\\-\\-{}\\fR", roff(l)),
            (Some(s), None) => format!("\\fB\\-{s}\\fR"),
            (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", roff(l)),
            (None, None) => {
                let v = a
                    .get_value_names()
                    .map(|v| v.join(" "))
                    .unwrap_or_else(|| a.get_id().to_string());
                let many = matches!(a.get_action(), clap::ArgAction::Append);
                let dots = if many { "..." } else { "" };
                if a.is_required_set() {
                    line.push_str(&format!(" \\fI{}\\fR{dots}", roff(&v)));
                } else {
                    line.push_str(&format!(" [\\fI{}\\fR]{dots}", roff(&v)));
                }
                continue;
            }
        };
        let takes = a.get_action().takes_values();
        let value = if takes {
            let v = a
                .get_value_names()
                .map(|v| v.join(" "))
                .unwrap_or_else(|| a.get_id().to_string().to_uppercase());
            format!(" \\fI{}\\fR", roff(&v))
        } else {
            String::new()
        };
        let many = matches!(a.get_action(), clap::ArgAction::Append);
        line.push_str(&format!(
            " [{flag}{value}]{}",
            if many { "..." } else { "" }
        ));
    }
    if cmd.has_subcommands() {
        line.push_str(" [\\fICOMMAND\\fR]");
    }
    line.push('\n');
    out.extend_from_slice(line.as_bytes());
}

/// A SUBCOMMANDS section naming each subcommand with its summary (and the page of each
/// top-level one).
fn subcommands(out: &mut Vec<u8>, cmd: &clap::Command, name: &str) {
    if !cmd.has_subcommands() {
        return;
    }
    let mut s = String::from(".SH SUBCOMMANDS\n");
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        let page = if name == "rmail" {
            format!(" (see \\fBrmail\\-{}\\fR(1))", roff(sub.get_name()))
        } else {
            String::new()
        };
        s.push_str(&format!(
            ".TP\n\\fB{} {}\\fR{page}\n{}\n",
            roff(name),
            roff(sub.get_name()),
            roff(&about)
        ));
    }
    out.extend_from_slice(s.as_bytes());
}

/// `man/rmail-NAME.1` for each subcommand, as (file name, roff).
pub fn subcommand_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = command();
    cmd.get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| {
            let name = format!("rmail-{}", sub.get_name());
            // clap names are `&'static str` without its `string` feature; one small leak per
            // page, only when rendering docs.
            let page = sub.clone().name(&*name.clone().leak());
            let man = clap_mangen::Man::new(page.clone());
            let mut out = Vec::new();
            let _ = man.render_title(&mut out);
            let _ = man.render_name_section(&mut out);
            synopsis(&mut out, &page, &format!("rmail {}", sub.get_name()));
            let _ = man.render_description_section(&mut out);
            let _ = man.render_options_section(&mut out);
            subcommands(&mut out, &page, &format!("rmail {}", sub.get_name()));
            let _ = man.render_extra_section(&mut out);
            (format!("{name}.1"), out)
        })
        .collect()
}

/// The completion script for `shell`.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rmail", &mut out);
    out
}

const MAN_EXTRA: &str = r#".SH SENDING
\fBrmail\fR [\fB\-s\fR \fIsubject\fR] [\fB\-c\fR \fIaddrs\fR] [\fB\-b\fR \fIaddrs\fR]
[\fB\-r\fR \fIfrom\fR] [\fB\-a\fR \fIfile\fR]... [\fB\-S\fR \fIvar\fR[=\fIvalue\fR]]...
[\fB\-t\fR] [\fB\-E\fR] [\fB\-\-\fR] \fIaddress\fR...
.PP
The body is read from standard input; on a terminal rmail asks for a \fBSubject:\fR and
reads lines up to end-of-file or a line holding only \fB.\fR. Non-ASCII subjects and names
are RFC 2047-encoded, the body's charset and transfer encoding are chosen by content,
attachments become \fBmultipart/mixed\fR. The \fBmta\fR variable picks the transport: a
sendmail path (default \fB/usr/sbin/sendmail\fR when it exists, run as
\fBsendmail \-oi \-f\fR \fIfrom\fR \fB\-\-\fR \fIrecipients\fR), or \fBlocal\fR (the default
without sendmail: delivery into local mailboxes; as root, another user's mailbox is written
by \fBrmail deliver\fR running as that user). \fBrecord\fR keeps a copy in a folder. A
message that cannot be sent is appended to \fBDEAD\fR (default ~/dead.letter) and rmail
exits 4; no recipients, a line break in a header value or an unreadable attachment exit 64
and send nothing.
.SH COMMANDS
At the \fB&\fR prompt rmail accepts the POSIX mailx commands, with their abbreviations:
\fBheaders\fR (h), \fBz\fR, \fBfrom\fR (f), \fBprint\fR (p), \fBtype\fR (t), \fBPrint\fR (P),
\fBType\fR (T), \fBnext\fR (n, +, an empty line), \fB\-\fR, \fBdelete\fR (d), \fBundelete\fR (u),
\fBdp\fR, \fBdt\fR, \fBsave\fR (s), \fBSave\fR (S), \fBcopy\fR (c), \fBCopy\fR (C),
\fBwrite\fR (w), \fBmove\fR (mv), \fBhold\fR (ho), \fBpreserve\fR (pre), \fBmbox\fR (mb), \fBtouch\fR (tou),
\fBquit\fR (q), \fBexit\fR (x, xit), \fBfile\fR (fi), \fBfolder\fR (fold), \fBfolders\fR,
\fBtop\fR (to), \fBsize\fR (si), \fBset\fR (se), \fBunset\fR (uns), \fBalias\fR (a),
\fBgroup\fR (g), \fBunalias\fR, \fBalternates\fR (alt), \fBignore\fR (ig), \fBdiscard\fR,
\fBretain\fR (ret), \fBunignore\fR, \fBunretain\fR, \fBpipe\fR (pi, |), \fB!\fR,
\fBshell\fR (sh), \fBsource\fR (so), \fBecho\fR (ec), \fBif\fR/\fBelse\fR/\fBendif\fR,
\fBvisual\fR (v), \fBedit\fR (e), \fB=\fR, \fB?\fR, \fBhelp\fR, \fBlist\fR (l), \fBcd\fR,
\fBchdir\fR, \fBunread\fR (U), \fBnew\fR, \fBversion\fR, \fBnewmail\fR, \fBinc\fR.
Composing: \fBmail\fR (m) \fIaddress\fR..., \fBreply\fR/\fBrespond\fR (r) to the sender and
all recipients, \fBReply\fR/\fBRespond\fR (R) to the sender only (\fBflipr\fR swaps them),
\fBfollowup\fR/\fBFollowup\fR (also keep a copy in a folder named after the recipient).
The body ends at end-of-file, a lone \fB.\fR or \fB~.\fR; tilde escapes: \fB~? ~! ~: ~_ ~< ~<!
~r ~a ~A ~b ~c ~t ~s ~h ~d ~e ~v ~f ~F ~m ~M ~p ~q ~x ~w ~| ~~\fR. \fBquote\fR quotes the
original with \fBindentprefix\fR.
.PP
Message lists: \fIn\fR, \fIn\-m\fR, \fB*\fR, \fB.\fR, \fB^\fR, \fB$\fR, \fB+\fR, \fB\-\fR,
\fB:n\fR (new), \fB:o\fR (old), \fB:u\fR (unread), \fB:r\fR (read), \fB:d\fR (deleted),
\fB/\fIstring\fR (subject contains \fIstring\fR, case-insensitive), and an \fIaddress\fR
(messages from it); several in one list.
.SH "REMOTE FOLDERS"
Wherever a folder name is accepted (\fB\-f\fR, \fBfile\fR, \fBsave\fR, \fBcopy\fR,
\fBmove\fR, \fBrecord\fR, the \fBinbox\fR and \fBfolder\fR variables) a URL names a mailbox
on a server:
\fBimaps://\fR[\fIuser\fR\fB@\fR]\fIhost\fR[\fB:\fIport\fR][\fB/\fImailbox\fR] (TLS, port 993),
\fBimap://\fR...\fB?starttls\fR (port 143, STARTTLS required), \fBpop3s://\fR (995) and
\fBpop3://\fR...\fB?starttls\fR (110); \fB@\fR in a user name is written \fB%40\fR. Without
\fB?starttls\fR, \fBimap://\fR and \fBpop3://\fR log in in cleartext, with a warning unless
the host is loopback. The password comes from s-nail's \fBpassword\-\fIuser\fB@\fIhost\fR
variables (also with \fB:\fIport\fR), else \fBpassword\-command\fR, else ~/.netrc, else a
prompt on the terminal, once per user and host in a session; \fBimap\-auth=xoauth2\fR or
\fBpop3\-auth=xoauth2\fR (or \fBoauth2\-token\-command\fR alone) logs in with an OAuth2
token (\fBlogin\fR or \fBplain\fR: a password). \fBtls\-ca\-file\fR adds trusted CAs (every
certificate in the file); \fBimap\-timeout\fR and
\fBpop3\-timeout\fR are in seconds (default 60). IMAP ID (RFC 2971) is sent after login when
the server lists it; \fBimap\-id\fR sends it even when not listed, as the 163/126 presets do
by themselves (NetEase refuses SELECT without it).
.PP
An IMAP folder is read with one FETCH of the summary; bodies are fetched when first shown
and cached. \fBquit\fR sets \fB\eSeen\fR on messages read, expunges deleted ones (and, in
the \fBinbox\fR opened without \fB\-f\fR, saved ones, unless \fBkeepsave\fR) and leaves the
rest on the server (nothing moves to \fBMBOX\fR); \fBexit\fR changes nothing.
\fBsave\fR, \fBcopy\fR and \fBmove\fR (a copy, then deleted at \fBquit\fR) to a mailbox of
the same account copy on the server; to another server they append. \fBfolders\fR lists
the server's mailboxes; \fBnewmail\fR asks the server for new mail. A lost connection is
made again once. On a terminal, long listings show a counter. A POP3 maildrop is read with
TOP and RETR; \fBquit\fR deletes what was deleted, nothing else is written. \fBrmail
fetch\fR copies new POP3 mail into a local mailbox (see \fBrmail\-fetch\fR(1)). \fBrmail account add\fR writes
\fBinbox\fR, \fBfolder\fR and \fBfetch\-url\fR for the provider, so \fBrmail \-A\fR
\fIname\fR opens the IMAP INBOX and \fB+Sent\fR names its Sent folder.
.SH "HEADER SUMMARY"
Each line shows the current-message marker \fB>\fR, a status letter (\fBN\fR new, \fBU\fR
unread, \fBR\fR read this session, \fBO\fR read before, \fB*\fR saved, \fBP\fR preserved,
\fBM\fR to be moved to mbox, \fBD\fR deleted), the number, sender, date, lines/bytes and
subject. The \fBheadline\fR variable changes the format (s-nail's specifiers %>, %a, %m, %f,
%d, %l, %o, %s, %S, %t, %%).
.SH ENVIRONMENT
\fBMAIL\fR (system mailbox), \fBMBOX\fR (default ~/mbox), \fBHOME\fR, \fBMAILRC\fR
(default ~/.mailrc), \fBPAGER\fR, \fBEDITOR\fR, \fBVISUAL\fR, \fBSHELL\fR, \fBUSER\fR,
\fBLOGNAME\fR.
.SH FILES
/etc/mail.rc (system start-up file, skipped with \fB\-n\fR), ~/.mailrc, ~/mbox,
/var/mail/\fIuser\fR, \fImailbox\fR.lock (dotlock).
.SH "EXIT STATUS"
0 on success; 1 when there is no mail or a command failed; 64 on a usage error; 4 when a
message could not be sent. \fBrmail deliver\fR: 0 delivered, 75 temporary failure, 77 run as
root.
"#;
