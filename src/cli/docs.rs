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
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    out.extend_from_slice(MAN_EXTRA.as_bytes());
    let _ = man.render_version_section(&mut out);
    out
}

/// The completion script for `shell`.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rmail", &mut out);
    out
}

const MAN_EXTRA: &str = r#".SH COMMANDS
At the \fB&\fR prompt rmail accepts the POSIX mailx commands, with their abbreviations:
\fBheaders\fR (h), \fBz\fR, \fBfrom\fR (f), \fBprint\fR (p), \fBtype\fR (t), \fBPrint\fR (P),
\fBType\fR (T), \fBnext\fR (n, +, an empty line), \fB\-\fR, \fBdelete\fR (d), \fBundelete\fR (u),
\fBdp\fR, \fBdt\fR, \fBsave\fR (s), \fBSave\fR (S), \fBcopy\fR (c), \fBCopy\fR (C),
\fBwrite\fR (w), \fBhold\fR (ho), \fBpreserve\fR (pre), \fBmbox\fR (mb), \fBtouch\fR (tou),
\fBquit\fR (q), \fBexit\fR (x, xit), \fBfile\fR (fi), \fBfolder\fR (fold), \fBfolders\fR,
\fBtop\fR (to), \fBsize\fR (si), \fBset\fR (se), \fBunset\fR (uns), \fBalias\fR (a),
\fBgroup\fR (g), \fBunalias\fR, \fBalternates\fR (alt), \fBignore\fR (ig), \fBdiscard\fR,
\fBretain\fR (ret), \fBunignore\fR, \fBunretain\fR, \fBpipe\fR (pi, |), \fB!\fR,
\fBshell\fR (sh), \fBsource\fR (so), \fBecho\fR (ec), \fBif\fR/\fBelse\fR/\fBendif\fR,
\fBvisual\fR (v), \fBedit\fR (e), \fB=\fR, \fB?\fR, \fBhelp\fR, \fBlist\fR (l), \fBcd\fR,
\fBchdir\fR, \fBunread\fR (U), \fBnew\fR, \fBversion\fR, \fBnewmail\fR, \fBinc\fR.
Composing commands (\fBmail\fR, \fBreply\fR, \fBReply\fR, \fBrespond\fR, \fBfollowup\fR,
\fBFollowup\fR) are not supported yet and say so.
.PP
Message lists: \fIn\fR, \fIn\-m\fR, \fB*\fR, \fB.\fR, \fB^\fR, \fB$\fR, \fB+\fR, \fB\-\fR,
\fB:n\fR (new), \fB:o\fR (old), \fB:u\fR (unread), \fB:r\fR (read), \fB:d\fR (deleted),
\fB/\fIstring\fR (subject contains \fIstring\fR, case-insensitive), and an \fIaddress\fR
(messages from it); several in one list.
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
0 on success; 1 when there is no mail or a command failed; 64 on a usage error.
"#;
