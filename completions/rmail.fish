complete -c rmail -s u -d 'Read the system mailbox of USER instead of your own' -r
complete -c rmail -s S -d 'Set variable VAR (to VALUE), after the start-up files are read; repeatable' -r
complete -c rmail -s f -d 'Read a folder instead of the system mailbox: the first operand, else $MBOX or ~/mbox'
complete -c rmail -s H -d 'Print the header summary, one line per message, and exit (1 when there is no mail)'
complete -c rmail -s N -d 'Do not print the header summary when the mailbox opens'
complete -c rmail -s e -d 'Check for mail: exit 0 when there is mail, 1 when there is none; print nothing'
complete -c rmail -s n -d 'Do not read the system start-up file (/etc/mail.rc)'
complete -c rmail -s i -d 'Ignore interrupts (sets the `ignore` variable)'
complete -c rmail -s R -d 'Open the mailbox read-only: nothing is written back'
complete -c rmail -s v -d 'Verbose: report what is done to mailboxes (indexing, write-back) on stderr'
complete -c rmail -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rmail -s V -l version -d 'Print version'
