#!/usr/bin/env bash
# Remote-folder benchmark (issue 6): "open the IMAP INBOX and print the header summary" with
# rmail, s-nail and mutt against one throw-away Dovecot serving a $MESSAGES-message mbox INBOX,
# all in the same run. Dovecot gets its own dovecot.conf, base_dir, state_dir, index and log
# under $BENCH_DIR, listens on 127.0.0.1 only (ports picked free, or $DC_IMAP/$DC_IMAPS), and
# its index and cache are warmed first (one imaplib session, then one untimed run of every
# client), so every timed run meets the same warm server.
#   rmail   rmail -n -N -H -S password-command='echo PASS' -f imap://USER@127.0.0.1:PORT/INBOX
#   s-nail  s-nail -n -N -H -S v15-compat -S password-USER@127.0.0.1:PORT=PASS
#                  -f imap://USER@127.0.0.1:PORT           (-H lists the summary and exits)
#   mutt    mutt has no summary-and-exit mode: on a pty (script(1), 50×132) it opens the folder
#           (LOGIN, SELECT, fetch of every message's headers), draws the index once and runs the
#           pushed <quit>: `mutt -n -F muttrc -f imap://… -e 'push <quit>'`, header and body
#           caches off, STARTTLS off. The run counts only if the screen showed `Msgs:N`.
# Each client: wall time (shell clock, ns) and peak RSS (GNU time %M, KiB), medians of
# $REPEATS rounds (the clients take turns within a round). Loopback only. Prints Markdown and
# the issue's targets as ok/MISS (exit 0 either way); a client that fails or lists the wrong
# number of messages is shown as n/a.
#   RMAIL=path       measure this binary (default: cargo build --release, target/release/rmail)
#   TLS=1            IMAPS instead of cleartext IMAP, the instance's self-signed certificate
#                    trusted explicitly (rmail/s-nail tls-ca-file, mutt ssl_ca_certificates_file)
#   MESSAGES=10000   GEN=gen (gen_mbox.py --seed 1, realistic) or fill (fill_mbox.py, ~4 KB each)
#   LIMIT=300 (s per client run)  REPEATS=3  BENCH_DIR=…  BENCH_KEEP=1  BENCH_KIT=…/shared/bench  DC_IMAP=port  DC_IMAPS=port
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kit=${BENCH_KIT:-}
if [ -z "$kit" ]; then # ../shared/bench beside the main checkout, or beside a worktree's parent
  for k in "$repo/../shared/bench" "$repo/../../shared/bench"; do
    [ -f "$k/gen_mbox.py" ] && { kit=$k; break; }
  done
fi
[ -n "$kit" ] && [ -f "$kit/gen_mbox.py" ] || { echo "remote.sh: shared kit not found (set BENCH_KIT)" >&2; exit 1; }
MESSAGES=${MESSAGES:-10000}
REPEATS=${REPEATS:-3}
LIMIT=${LIMIT:-300}  # seconds a client may take before it is killed (and n/a)
GEN=${GEN:-gen}
TLS=${TLS:-0}
USER_=dave
PASS=davepass
timebin=/usr/bin/time
py=python3
for c in dovecot s-nail script openssl "$timebin"; do
  command -v "$c" >/dev/null || { echo "remote.sh: $c missing (apt-get install dovecot-imapd s-nail bsdutils openssl time)" >&2; exit 1; }
done
if ! command -v mutt >/dev/null; then
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y mutt >/dev/null; fi
  command -v mutt >/dev/null || { echo "remote.sh: mutt missing (apt-get install mutt)" >&2; exit 1; }
fi
RMAIL=${RMAIL:-}
if [ -z "$RMAIL" ]; then
  (cd "$repo" && cargo build --release --quiet) || echo "remote.sh: cargo build failed; rmail will be n/a" >&2
  target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    $py -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])') || target=$repo/target
  RMAIL=$target/release/rmail
fi

dir=${BENCH_DIR:-$(mktemp -d /tmp/rmail-remote-bench.XXXXXX)}
mkdir -p "$dir"
dd=$dir/dovecot
dc_pid=""
cleanup() {
  set +e
  if [ -n "$dc_pid" ]; then
    kill "$dc_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$dc_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  [ "${BENCH_KEEP:-0}" = 1 ] || [ -n "${BENCH_DIR:-}" ] || rm -rf "$dir"
  return 0
}
trap cleanup EXIT

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DC_IMAP=${DC_IMAP:-$(free_port)}
DC_IMAPS=${DC_IMAPS:-$(free_port)}
[ "$DC_IMAP" != "$DC_IMAPS" ] || DC_IMAPS=$(free_port)

# ---- the mailbox ------------------------------------------------------------------------------
mkdir -p "$dd/run" "$dd/state" "$dd/home/mail" "$dd/index"
if [ "$GEN" = fill ]; then
  $py "$kit/fill_mbox.py" "$dd/home/inbox" --messages "$MESSAGES" --truncate --rcpt "$USER_@localhost" >/dev/null
else
  $py "$kit/gen_mbox.py" --messages "$MESSAGES" --seed 1 --out "$dd/home/inbox"
fi
mbox_bytes=$(stat -c %s "$dd/home/inbox")
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$dd/key.pem" -out "$dd/cert.pem" >/dev/null 2>&1

# ---- Dovecot: as root, logins as dovenull, internal processes as dovecot, mail as nobody
# (Dovecot refuses root for both); as another user, everything as that user, no chroot ------
if [ "$(id -u)" = 0 ]; then
  mu=nobody; mg=$(id -gn nobody)
  iu=$(id -un dovecot 2>/dev/null || echo nobody); ig=$(id -gn "$iu")
  lu=$(id -un dovenull 2>/dev/null || echo nobody)
  chroot=""
  chmod 711 "$dir" "$dd"
else
  mu=$(id -un); mg=$(id -gn); iu=$mu; ig=$mg; lu=$mu
  chroot="  chroot ="
fi
echo "$USER_:{PLAIN}$PASS:$(id -u "$mu"):$(id -g "$mu")::$dd/home::" > "$dd/passwd"
cat > "$dd/dovecot.conf" <<EOF
# throw-away instance of bench/remote.sh
protocols = imap
listen = 127.0.0.1
base_dir = $dd/run
state_dir = $dd/state
instance_name = rmail-remote-bench-$DC_IMAP
log_path = $dd/log
default_internal_user = $iu
default_internal_group = $ig
default_login_user = $lu
first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <$dd/cert.pem
ssl_key = <$dd/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = mbox:~/mail:INBOX=~/inbox:INDEX=$dd/index
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dd/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $dd/passwd
}
service anvil {
$chroot
}
service imap-login {
$chroot
  inet_listener imap {
    port = $DC_IMAP
  }
  inet_listener imaps {
    port = $DC_IMAPS
  }
}
EOF
[ "$(id -u)" = 0 ] && chown -R "$mu:$mg" "$dd/home" "$dd/index"
dovecot -F -c "$dd/dovecot.conf" 2> "$dd/stderr" &
dc_pid=$!
for _ in $(seq 100); do
  $py -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$DC_IMAP" 2>/dev/null && break
  kill -0 "$dc_pid" 2>/dev/null || { echo "remote.sh: Dovecot did not start:" >&2; cat "$dd/stderr" "$dd/log" >&2; dc_pid=""; exit 1; }
  sleep 0.1
done

# Warm the index (the first open of a never-seen mbox parses it, writes X-UID/Status into it and
# clears \Recent): one SELECT + FETCH of what the clients fetch, not timed.
t0=$(date +%s%N)
$py - "$DC_IMAP" "$USER_" "$PASS" "$MESSAGES" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login(sys.argv[2], sys.argv[3])
typ, dat = m.select("INBOX")
assert int(dat[0]) == int(sys.argv[4]), dat
m.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[HEADER])")
m.logout()
PY
t1=$(date +%s%N)
warm_s=$(( (t1 - t0) / 1000000 ))

# ---- the clients --------------------------------------------------------------------------------
home=$dir/home
mkdir -p "$home/Mail"  # mutt asks to create ~/Mail otherwise
run_env=(env -i PATH="$PATH" HOME="$home" MAIL="$home/spool" MBOX="$home/mbox" MAILRC=/dev/null
  USER=bench LOGNAME=bench TZ=UTC LC_ALL=C.UTF-8 PAGER=cat)
if [ "$TLS" = 1 ]; then
  host=localhost port=$DC_IMAPS scheme=imaps
else
  host=127.0.0.1 port=$DC_IMAP scheme=imap
fi
url="$scheme://$USER_@$host:$port"
ca=$dd/cert.pem
cat > "$dir/muttrc" <<EOF
set imap_user=$USER_
set imap_pass=$PASS
set header_cache=""
set message_cachedir=""
set ssl_starttls=no
set ssl_force_tls=no
set ssl_ca_certificates_file=$ca
set certificate_file=$dir/mutt_certificates
set imap_check_subscribed=no
set imap_idle=no
set mail_check_stats=no
set quit=yes
set move=no
set mark_old=no
set beep=no
set wait_key=no
set sort=date
set folder=$home/Mail
EOF

tls_r=() tls_s=()
[ "$TLS" = 1 ] && { tls_r=(-S "tls-ca-file=$ca"); tls_s=(-S "tls-ca-file=$ca" -S tls-ca-no-defaults); }

# One run of CLIENT → "wall_s rss_kib" or "n/a n/a" (failed, or not all messages listed).
run_once() {
  local out t0 t1 rss n ok=1
  : > "$dir/rss" ; : > "$dir/out"
  t0=$(date +%s%N)
  case $1 in
    rmail)
      "${run_env[@]}" TERM=dumb timeout "$LIMIT" "$timebin" -f %M -o "$dir/rss" "$RMAIL" -n -N -H \
        -S "password-command=echo $PASS" "${tls_r[@]}" -f "$url/INBOX" \
        > "$dir/out" 2> "$dir/err" < /dev/null || ok=0 ;;
    s-nail)
      "${run_env[@]}" TERM=dumb timeout "$LIMIT" "$timebin" -f %M -o "$dir/rss" s-nail -n -N -H -S v15-compat \
        -S "password-$USER_@$host:$port=$PASS" "${tls_s[@]}" -f "$url" \
        > "$dir/out" 2> "$dir/err" < /dev/null || ok=0 ;;
    mutt)
      # script(1) gives mutt a terminal; the typescript (screen output) goes to $dir/out.
      "${run_env[@]}" TERM=xterm SHELL=/bin/sh timeout "$LIMIT" script -qfec \
        "stty rows 50 cols 132; $timebin -f %M -o $dir/rss mutt -n -F $dir/muttrc -f $url/INBOX -e 'push <quit>'" \
        "$dir/out" > /dev/null 2> "$dir/err" < /dev/null || ok=0 ;;
  esac
  t1=$(date +%s%N)
  rss=$(grep -E '^[0-9]+$' "$dir/rss" | tail -1)
  case $1 in
    mutt) grep -aq "Msgs:$MESSAGES" "$dir/out" || ok=0 ;;
    *) n=$(grep -c . "$dir/out" || true); [ "$n" = "$MESSAGES" ] || ok=0 ;;
  esac
  if [ "$ok" = 1 ] && [ -n "$rss" ]; then
    printf '%d.%03d %s\n' $(( (t1 - t0) / 1000000000 )) $(( (t1 - t0) / 1000000 % 1000 )) "$rss"
  else
    { echo "($1 failed or listed the wrong number of messages; stderr:)"; head -c 600 "$dir/err"; echo; } >&2
    echo "n/a n/a"
  fi
}

declare -A W R
clients=(rmail s-nail mutt)
# Round 0 is an untimed warm-up of every client: Dovecot adds the header fields each client
# asks for to its cache file on their first request, and that first request is slower.
for r in $(seq 0 "$REPEATS"); do
  for c in "${clients[@]}"; do
    if [ "$c" = rmail ] && [ ! -x "$RMAIL" ]; then read -r w m <<< "n/a n/a"; else read -r w m < <(run_once "$c"); fi
    [ "$r" = 0 ] && continue
    W[$c]="${W[$c]:-} $w"; R[$c]="${R[$c]:-} $m"
  done
done
# Median of the runs, or n/a when any run failed.
med() { $py -c 'import statistics,sys
v=sys.argv[2:]
print("n/a" if not v or "n/a" in v else (sys.argv[1] % statistics.median(float(x) for x in v)))' "$@"; }
declare -A MW MR
for c in "${clients[@]}"; do
  # shellcheck disable=SC2086
  MW[$c]=$(med %.3f ${W[$c]}); MR[$c]=$(med %.0f ${R[$c]})
done

# ---- report ---------------------------------------------------------------------------------
mode=$([ "$TLS" = 1 ] && echo "IMAPS, CA file trusted" || echo "cleartext IMAP on loopback")
echo "# rmail remote-folder benchmark: $MESSAGES messages ($GEN, $((mbox_bytes / 1000000)) MB mbox), $mode, Dovecot $(dovecot --version | cut -d' ' -f1), medians of $REPEATS, $(date -u +%FT%RZ), $(nproc) cores"
echo
echo "(Dovecot index built by one untimed SELECT + FETCH in ${warm_s} ms, then one untimed run of each client)"
echo
echo "| client | what is timed | wall s | peak RSS KiB | runs (s) |"
echo "| --- | --- | ---: | ---: | --- |"
echo "| rmail | \`-H\`: open, header summary, exit | ${MW[rmail]} | ${MR[rmail]} |${W[rmail]} |"
echo "| s-nail $(s-nail -V 2>/dev/null | awk '{sub(/,$/, "", $2); print $2; exit}') | \`-H\`: open, header summary, exit | ${MW[s-nail]} | ${MR[s-nail]} |${W[s-nail]} |"
echo "| mutt $(mutt -v | awk 'NR==1 {print $2}') | open on a pty, draw the index, quit | ${MW[mutt]} | ${MR[mutt]} |${W[mutt]} |"
echo
ratio() { $py -c 'import sys; a,b=sys.argv[1:3]; print("n/a" if "n/a" in (a,b) else "%.2f" % (float(a)/float(b)))' "$1" "$2"; }
okmiss() { # value limit
  if [ "$1" = n/a ]; then echo n/a; elif awk "BEGIN { exit !($1 <= $2) }"; then echo ok; else echo MISS; fi
}
rs=$(ratio "${MW[rmail]}" "${MW[s-nail]}")
rm_=$(ratio "${MW[rmail]}" "${MW[mutt]}")
rss_mb=$([ "${MR[rmail]}" = n/a ] && echo n/a || awk "BEGIN { printf \"%.1f\", ${MR[rmail]} * 1024 / 1e6 }")
echo "| target (issue 6) | figures | |"
echo "| --- | --- | --- |"
echo "| rmail wall ≤ 0.5 × s-nail | $rs (${MW[rmail]} s vs ${MW[s-nail]} s) | $(okmiss "$rs" 0.5) |"
echo "| rmail wall ≤ mutt | $rm_ (${MW[rmail]} s vs ${MW[mutt]} s) | $(okmiss "$rm_" 1) |"
echo "| rmail peak RSS ≤ 30 MB | $rss_mb MB (10⁶ bytes; ${MR[rmail]} KiB) | $(okmiss "$rss_mb" 30) |"
