#!/usr/bin/env bash
# Send-mode benchmark (issue 3): `echo hi | rmail -s test USER` N times into a local spool
# (mta=local), and rmail and s-nail through the same no-op sendmail, in the same run; with
# BENCH_POSTFIX=1 also s-nail through the system's Postfix sendmail (whose queue then holds
# those messages). Prints time per message and the peak RSS of one run. Local only;
# everything else lives in $BENCH_DIR (default a temp dir).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_MESSAGES:-1000}
RMAIL=${RMAIL:-}
if [ -z "$RMAIL" ]; then
  (cd "$here" && cargo build --release --quiet)
  RMAIL=$here/target/release/rmail
fi
SNAIL=${SNAIL:-$(command -v s-nail || true)}
dir=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$dir/home"
user=$(id -un)
echo hi > "$dir/hi"   # the body, from a file: a pipe would SIGPIPE `echo` when -V ignores it
nop="$dir/nop-sendmail"
printf '#!/bin/sh\ncat >/dev/null\n' > "$nop"
chmod +x "$nop"

run() { # label, command...
  local label=$1; shift
  local t0 t1 ms rss
  t0=$(date +%s%N)
  for _ in $(seq "$N"); do "$@" < "$dir/hi" >/dev/null 2>&1; done
  t1=$(date +%s%N)
  ms=$(awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN { printf "%.3f", (b - a) / n / 1e6 }')
  /usr/bin/time -o "$dir/rss" -f '%M' "$@" < "$dir/hi" >/dev/null 2>&1 || true
  rss=$(tail -1 "$dir/rss" 2>/dev/null || echo "?")
  printf '| %s | %s | %s |\n' "$label" "$ms" "$rss"
}

export HOME=$dir/home MAILRC=/dev/null MAIL=$dir/spool
echo "# send benchmark, $N messages each, $(date -u +%FT%RZ)"
echo "| what | ms per message | peak RSS KiB |"
echo "| --- | ---: | ---: |"
run "rmail mta=local (into \$MAIL)" "$RMAIL" -n -S mta=local -s test "$user"
run "rmail -V (start-up)" "$RMAIL" -V
run "rmail via no-op sendmail" "$RMAIL" -n -S "mta=$nop" -s test "$user@example.com"
if [ -n "$SNAIL" ]; then
  run "s-nail via no-op sendmail" "$SNAIL" -n -S "mta=$nop" -s test "$user@example.com"
  # Through the real Postfix (its queue receives the messages): only when asked.
  if [ "${BENCH_POSTFIX:-0}" = 1 ] && [ -x /usr/sbin/sendmail ] && [ -d /etc/postfix ]; then
    # Postfix's sendmail hands each message to postdrop (maildrop queue); remove what this
    # run left there when Postfix is not running to pick it up.
    touch "$dir/pf-start"
    run "s-nail via Postfix sendmail" "$SNAIL" -n -S mta=/usr/sbin/sendmail -s test "$user@localhost"
    if ! postfix status >/dev/null 2>&1; then
      find /var/spool/postfix/maildrop -type f -newer "$dir/pf-start" -delete 2>/dev/null || true
    fi
  fi
fi
echo "spool: $(grep -c '^From ' "$dir/spool" 2>/dev/null || echo 0) messages delivered by rmail (expected $((N + 1)): the loop and the RSS run)"
