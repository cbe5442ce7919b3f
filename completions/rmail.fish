# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_rmail_global_optspecs
    string join \n f u= H N e n i R S= A= v s= c= b= r= a= t E h/help V/version
end

function __fish_rmail_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_rmail_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_rmail_using_subcommand
    set -l cmd (__fish_rmail_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c rmail -n "__fish_rmail_needs_command" -s u -d 'Read the system mailbox of USER instead of your own' -r
complete -c rmail -n "__fish_rmail_needs_command" -s S -d 'Set variable VAR (to VALUE), after the start-up files are read; repeatable' -r
complete -c rmail -n "__fish_rmail_needs_command" -s A -d 'Apply the start-up files\' `account ACCOUNT { … }` block after the start-up files are read, before the -S assignments (so -S overrides the account); reading and sending' -r
complete -c rmail -n "__fish_rmail_needs_command" -s s -d 'Send: the subject' -r
complete -c rmail -n "__fish_rmail_needs_command" -s c -d 'Send: carbon-copy recipients (comma-separated; repeatable)' -r
complete -c rmail -n "__fish_rmail_needs_command" -s b -d 'Send: blind carbon-copy recipients (never shown in the message; repeatable)' -r
complete -c rmail -n "__fish_rmail_needs_command" -s r -d 'Send: the sender address (From: and the envelope sender)' -r
complete -c rmail -n "__fish_rmail_needs_command" -s a -d 'Send: attach FILE (repeatable)' -r -F
complete -c rmail -n "__fish_rmail_needs_command" -s f -d 'Read a folder instead of the system mailbox: the first operand (a file, or an imap://, imaps://, pop3:// or pop3s:// URL), else $MBOX or ~/mbox'
complete -c rmail -n "__fish_rmail_needs_command" -s H -d 'Print the header summary, one line per message, and exit (1 when there is no mail)'
complete -c rmail -n "__fish_rmail_needs_command" -s N -d 'Do not print the header summary when the mailbox opens'
complete -c rmail -n "__fish_rmail_needs_command" -s e -d 'Check for mail: exit 0 when there is mail, 1 when there is none; print nothing'
complete -c rmail -n "__fish_rmail_needs_command" -s n -d 'Do not read the system start-up file (/etc/mail.rc)'
complete -c rmail -n "__fish_rmail_needs_command" -s i -d 'Ignore interrupts (sets the `ignore` variable)'
complete -c rmail -n "__fish_rmail_needs_command" -s R -d 'Open the mailbox read-only: nothing is written back'
complete -c rmail -n "__fish_rmail_needs_command" -s v -d 'Verbose: report what is done to mailboxes (indexing, write-back) on stderr'
complete -c rmail -n "__fish_rmail_needs_command" -s t -d 'Send: take recipients and subject from the To:, Cc:, Bcc: and Subject: lines of the message on standard input'
complete -c rmail -n "__fish_rmail_needs_command" -s E -d 'Send: do not send a message with an empty body'
complete -c rmail -n "__fish_rmail_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rmail -n "__fish_rmail_needs_command" -s V -l version -d 'Print version'
complete -c rmail -n "__fish_rmail_needs_command" -a "deliver" -d 'Deliver the message on standard input into USER\'s system mailbox (the local delivery agent, e.g. Postfix\'s mailbox_command). Run by root it becomes USER first; anyone else may deliver only into their own mailbox'
complete -c rmail -n "__fish_rmail_needs_command" -a "serve-session" -d 'A POP3 or IMAP session running as the logged-in user, started by the server\'s privileged master (standard input is the socket to the network-facing process)'
complete -c rmail -n "__fish_rmail_needs_command" -a "serve" -d 'Run the mail server: SMTP on 25/587/465 (and the ports the config names), local delivery into the spool, the queue and the relay client. Configured with Postfix main.cf keys in /etc/rmail/main.cf (or $RMAIL_CONFIG, or -c); without a config and not root, a loopback-only default on ports 2525/2587/2465 with everything under the XDG data directory'
complete -c rmail -n "__fish_rmail_needs_command" -a "users" -d 'Manage rmail\'s own user file (virtual users; the `user_database` key): add a user, delete one, change a password, list them. Passwords are read from standard input when it is not a terminal, else prompted for twice without echo'
complete -c rmail -n "__fish_rmail_needs_command" -a "queue" -d 'List the mail queue like mailq; `flush` retries every message now, `delete ID` removes one'
complete -c rmail -n "__fish_rmail_needs_command" -a "newaliases" -d 'Check the alias files named by alias_maps and report their errors'
complete -c rmail -n "__fish_rmail_needs_command" -a "sendmail" -d 'The sendmail interface: enqueue the message on standard input for the recipients (-t: from its To/Cc/Bcc), with the classic flags -i, -oi, -f SENDER, -F NAME. Also what rmail does when invoked under the name `sendmail`; as `mailq` it lists the queue'
complete -c rmail -n "__fish_rmail_needs_command" -a "presets" -d 'List the mail provider presets: SMTP, IMAP and POP3 servers (host:port, TLS mode) and the provider\'s quirks (authorization code, app password, OAuth2, IMAP ID)'
complete -c rmail -n "__fish_rmail_needs_command" -a "account" -d 'Manage accounts in the start-up file ($MAILRC, else ~/.mailrc)'
complete -c rmail -n "__fish_rmail_needs_command" -a "fetch" -d 'Download new mail from a POP3 server into a local mailbox, like fetchmail'
complete -c rmail -n "__fish_rmail_using_subcommand deliver" -s f -d 'The envelope sender for the From_ line' -r
complete -c rmail -n "__fish_rmail_using_subcommand deliver" -s c -l config -d 'The server configuration whose mail_spool_directory to use (default: $RMAIL_CONFIG, else /etc/rmail/main.cf when it exists, else /var/mail)' -r -F
complete -c rmail -n "__fish_rmail_using_subcommand deliver" -l mailbox -d 'The mailbox to write in batch mode (default: USER\'s system mailbox)' -r -F
complete -c rmail -n "__fish_rmail_using_subcommand deliver" -l size-limit -d 'With --batch: refuse messages that would make the mailbox larger than this many bytes (0: no limit)' -r
complete -c rmail -n "__fish_rmail_using_subcommand deliver" -l batch -d 'Read length-prefixed messages until end of input and acknowledge each (the server\'s per-user delivery worker; one fsync per batch)'
complete -c rmail -n "__fish_rmail_using_subcommand deliver" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand serve-session" -l proto -d '`pop3` or `imap`' -r
complete -c rmail -n "__fish_rmail_using_subcommand serve-session" -s c -l config -d 'The configuration file (main.cf syntax)' -r -F
complete -c rmail -n "__fish_rmail_using_subcommand serve-session" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand serve" -s c -l config -d 'The configuration file (main.cf syntax)' -r -F
complete -c rmail -n "__fish_rmail_using_subcommand serve" -s o -d 'Override a setting (like postfix -o); repeatable' -r
complete -c rmail -n "__fish_rmail_using_subcommand serve" -l daemon -d 'Detach from the terminal and run in the background (logs go to syslog)'
complete -c rmail -n "__fish_rmail_using_subcommand serve" -l print-config -d 'Print the effective settings (like postconf -n) and exit'
complete -c rmail -n "__fish_rmail_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rmail -n "__fish_rmail_using_subcommand users; and not __fish_seen_subcommand_from add del passwd list" -s c -l config -d 'The configuration file (main.cf syntax)' -r -F
complete -c rmail -n "__fish_rmail_using_subcommand users; and not __fish_seen_subcommand_from add del passwd list" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand users; and not __fish_seen_subcommand_from add del passwd list" -f -a "add" -d 'Add a virtual user with a password'
complete -c rmail -n "__fish_rmail_using_subcommand users; and not __fish_seen_subcommand_from add del passwd list" -f -a "del" -d 'Delete a virtual user (the mailbox stays)'
complete -c rmail -n "__fish_rmail_using_subcommand users; and not __fish_seen_subcommand_from add del passwd list" -f -a "passwd" -d 'Change a virtual user\'s password'
complete -c rmail -n "__fish_rmail_using_subcommand users; and not __fish_seen_subcommand_from add del passwd list" -f -a "list" -d 'List the virtual users'
complete -c rmail -n "__fish_rmail_using_subcommand users; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand users; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand users; and __fish_seen_subcommand_from passwd" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand users; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand queue; and not __fish_seen_subcommand_from list flush delete" -s c -l config -d 'The configuration file (main.cf syntax)' -r -F
complete -c rmail -n "__fish_rmail_using_subcommand queue; and not __fish_seen_subcommand_from list flush delete" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand queue; and not __fish_seen_subcommand_from list flush delete" -f -a "list" -d 'List the queue (the default)'
complete -c rmail -n "__fish_rmail_using_subcommand queue; and not __fish_seen_subcommand_from list flush delete" -f -a "flush" -d 'Retry every queued message now'
complete -c rmail -n "__fish_rmail_using_subcommand queue; and not __fish_seen_subcommand_from list flush delete" -f -a "delete" -d 'Remove a message from the queue'
complete -c rmail -n "__fish_rmail_using_subcommand queue; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand queue; and __fish_seen_subcommand_from flush" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand queue; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand newaliases" -s c -l config -d 'The configuration file (main.cf syntax)' -r -F
complete -c rmail -n "__fish_rmail_using_subcommand newaliases" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand sendmail" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand presets" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand account; and not __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand account; and not __fish_seen_subcommand_from add" -f -a "add" -d 'Append an `account NAME { … }` block for ADDRESS at PRESET\'s provider to $MAILRC or ~/.mailrc (created with mode 0600; existing lines are never rewritten; refused when an account NAME exists). No password is written: set `password-command` in the block'
complete -c rmail -n "__fish_rmail_using_subcommand account; and __fish_seen_subcommand_from add" -l name -d 'The account name (default: the preset name)' -r
complete -c rmail -n "__fish_rmail_using_subcommand account; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c rmail -n "__fish_rmail_using_subcommand fetch" -s m -l mailbox -d 'The mailbox to append to (default: the `fetch-mailbox` variable, else $MAIL, else the system mailbox)' -r -F
complete -c rmail -n "__fish_rmail_using_subcommand fetch" -s k -l keep -d 'Leave the messages on the server (they are still fetched only once)'
complete -c rmail -n "__fish_rmail_using_subcommand fetch" -s v -l verbose -d 'Report what was fetched on stderr even when it is not a terminal'
complete -c rmail -n "__fish_rmail_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
