#!/usr/bin/env bash
# Server benchmark (issue 4): N messages of SIZE bytes over SESSIONS concurrent SMTP sessions
# (from LOADERS load-client processes, default 2)
# to one local user, fsync on, timed until every message is in the mailbox and checked
# exactly once (the shared kit's smtp_load.py and count_delivered.py); peak RSS while doing
# it; then RSS with IDLE idle SMTP connections open. With Postfix installed and run as root,
# the same load goes through a throw-away Postfix instance (its own config directory,
# queue and spool under $BENCH_DIR, smtpd on 127.0.0.1:$PF_PORT) in the same run.
# Loopback only. Prints a Markdown table.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kit=${BENCH_KIT:-$here/../shared/bench}
N=${N:-5000}
SESSIONS=${SESSIONS:-10}
SIZE=${SIZE:-4096}
IDLE=${IDLE:-1000}
LOADERS=${LOADERS:-2}
PF_PORT=${PF_PORT:-2526}
RMAIL=${RMAIL:-}
if [ -z "$RMAIL" ]; then
  (cd "$here" && cargo build --release --quiet)
  RMAIL=$here/target/release/rmail
fi
dir=${BENCH_DIR:-$(mktemp -d /tmp/rmail-serve-bench.XXXXXX)}
chmod 755 "$dir"
py=python3
me=$(id -un)

# ---- rmail serve -------------------------------------------------------------------
rm -rf "$dir/rmail"; mkdir -p "$dir/rmail/spool"
cat > "$dir/rmail/main.cf" <<EOF
myhostname = bench.example
mydestination = localhost, \$myhostname
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
smtp_listen = 127.0.0.1:0
submission_listen =
submissions_listen =
data_directory = $dir/rmail/data
queue_directory = $dir/rmail/queue
mail_spool_directory = $dir/rmail/spool
user_database = $dir/rmail/users
alias_maps = $dir/rmail/aliases
mail_owner = $me
smtpd_client_connection_count_limit = 0
message_size_limit = 20000000
EOF
: > "$dir/rmail/aliases"
echo benchpass | RMAIL_CONFIG=$dir/rmail/main.cf "$RMAIL" users add alice
"$RMAIL" serve -c "$dir/rmail/main.cf" 2> "$dir/rmail/log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "daemon started" "$dir/rmail/log" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'listening: smtp 127.0.0.1:[0-9]*' "$dir/rmail/log" | head -1 | cut -d: -f3)

load() { # label port mbox comm rcpt → "rate accepted_rate rss_kib exact"
  local label=$1 p=$2 mbox=$3 comm=$4 rcpt=$5
  rm -f "$dir/.stop"
  $py "$kit/rss_sampler.py" --comm "$comm" --stop-file "$dir/.stop" --interval 0.2 > "$dir/$label.rss" &
  local sampler=$!
  local t0 js acc i per
  # The 10 sessions come from $LOADERS client processes (one Python process tops out near
  # 1,400 msg/s on its interpreter lock); each sends its share with its own Message-ID range.
  per=$((N / LOADERS))
  local pids=()
  for i in $(seq 0 $((LOADERS - 1))); do
    $py "$kit/smtp_load.py" --host 127.0.0.1 --port "$p" --sessions $((SESSIONS / LOADERS)) \
        --messages "$per" --id-start $((i * per)) --size "$SIZE" --rcpt "$rcpt" \
        --label "$label" > "$dir/$label.load$i" 2>/dev/null &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  js=$(cat "$dir/$label.load0")
  acc=$($py -c 'import json,sys; print(round(sum(json.loads(open(f).read())["msgs_per_s"] for f in sys.argv[1:]), 1))' "$dir/$label".load*)
  cd=$($py "$kit/count_delivered.py" "$mbox" --wait-for "$N" --timeout 900 --interval 0.05 --label "$label")
  # As the shared kit's runner: from the load's first connection to the moment every
  # message was seen in the mailbox.
  t0=$($py -c 'import json,sys; print(min(json.loads(open(f).read())["t_start_epoch"] for f in sys.argv[1:]))' "$dir/$label".load*)
  local t1; t1=$($py -c 'import json,sys; print(json.loads(sys.argv[1])["t_done_epoch"])' "$cd")
  touch "$dir/.stop"; wait $sampler || true
  local rss exact
  rss=$($py -c 'import json,sys; o=json.load(open(sys.argv[1])); print(sum(v["sum_rss_kb_max"] for v in o["procs"].values()))' "$dir/$label.rss" 2>/dev/null || echo "?")
  exact=$($py -c 'import json,sys; o=json.loads(sys.argv[1]); print("yes" if not o.get("missing") and not o.get("duplicated") else "NO: %s" % o)' "$cd")
  local rate; rate=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  echo "$rate $acc $rss $exact"
}

idle_rss() { # port comm → summed RSS KiB with $IDLE idle connections
  $py - "$1" "$IDLE" <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(512)
    conns.append(s)
open("/tmp/.rmail-idle-ready", "w").write("1")
time.sleep(8)
PY
  local holder=$!
  for _ in $(seq 200); do [ -f /tmp/.rmail-idle-ready ] && break; sleep 0.1; done
  sleep 1
  local kib=0
  for p in $(pgrep -x "$2"); do
    kib=$((kib + $(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)))
  done
  rm -f /tmp/.rmail-idle-ready
  wait $holder || true
  echo "$kib"
}

ulimit -n 4096 2>/dev/null || true
read -r r_rate r_acc r_rss r_exact < <(load rmail "$port" "$dir/rmail/spool/alice" rmail alice@localhost)
r_idle=$(idle_rss "$port" rmail)
kill $serve_pid; wait $serve_pid 2>/dev/null || true

# ---- Postfix (optional) ---------------------------------------------------------------
pf_row=""
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/postfix ] && [ "${BENCH_POSTFIX:-1}" = 1 ]; then
  pf=$dir/postfix
  rm -rf "$pf"; mkdir -p "$pf/conf" "$pf/spool"
  chmod 1777 "$pf/spool"
  # Postfix delivers as the recipient: an existing unprivileged account, nobody.
  cp /etc/postfix/master.cf "$pf/conf/master.cf"
  sed -i "s/^smtp      inet  n       -       y       -       -       smtpd/$PF_PORT inet n - n - - smtpd/" "$pf/conf/master.cf"
  grep -q "^$PF_PORT " "$pf/conf/master.cf" || echo "$PF_PORT inet n - n - - smtpd" >> "$pf/conf/master.cf"
  cat > "$pf/conf/main.cf" <<EOF
compatibility_level = 3.6
myhostname = bench.example
mydestination = localhost, \$myhostname
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
queue_directory = $pf/queue
data_directory = $pf/data
mail_spool_directory = $pf/spool
alias_maps =
alias_database =
smtpd_client_connection_count_limit = 0
default_process_limit = 100
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
EOF
  mkdir -p "$pf/queue" "$pf/data"
  chown postfix "$pf/data"
  postfix -c "$pf/conf" set-permissions >/dev/null 2>&1 || true
  if postfix -c "$pf/conf" check >/dev/null 2>&1 && postfix -c "$pf/conf" start >/dev/null 2>&1; then
    sleep 2
    read -r p_rate p_acc p_rss p_exact < <(load postfix "$PF_PORT" "$pf/spool/nobody" smtpd,cleanup,local,qmgr,trivial-rewrite,master nobody@localhost)
    postfix -c "$pf/conf" stop >/dev/null 2>&1 || true
    pf_row="| Postfix $(postconf -h mail_version 2>/dev/null) | $p_rate | $p_acc | $p_rss | $p_exact | – |"
  else
    echo "(Postfix could not be started from $pf/conf; see postfix -c $pf/conf check)" >&2
  fi
fi

echo "# rmail serve benchmark: $N messages × $SIZE B over $SESSIONS sessions, $(date -u +%FT%RZ), $(nproc) cores"
echo "| server | delivered msg/s (end to end) | accepted msg/s | peak RSS KiB under load | exactly once | RSS KiB with $IDLE idle connections |"
echo "| --- | ---: | ---: | ---: | --- | ---: |"
echo "| rmail serve | $r_rate | $r_acc | $r_rss | $r_exact | $r_idle |"
[ -n "$pf_row" ] && echo "$pf_row"
if [ -n "$pf_row" ]; then
  awk -v a="$r_rate" -v b="$p_rate" 'BEGIN { if (b > 0) printf "rmail / Postfix end-to-end: %.1f×\n", a / b }'
fi
