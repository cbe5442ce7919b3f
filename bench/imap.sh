#!/usr/bin/env bash
# IMAP/POP3 benchmark (issue 5): one user's 10,000-message spool mbox served by `rmail serve`
# and, as root with Dovecot installed, by a throw-away Dovecot instance (its own config file,
# base_dir, state_dir, index and log under $BENCH_DIR, ports $DC_IMAP/$DC_POP3 on 127.0.0.1)
# in the same run, with the shared kit (imap_bench.py, pop3_bench.py):
#   - IMAP LOGIN + SELECT + FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE): cold (first
#     open of a never-seen mbox: fresh copy of the mbox, index deleted) and warm (the 2nd and
#     3rd sessions after it), medians over $REPEATS rounds;
#   - POP3 UIDL + RETR of every message: messages/s and MB/s, median over $REPEATS runs;
#   - memory of the server's whole process tree (VmRSS and PSS summed) while $IDLE
#     authenticated IMAP connections (LOGIN, then nothing) are held open.
# Loopback only. Prints Markdown tables and the issue's targets as ok/MISS (exit 0 either way).
#   RMAIL=path        measure this binary (default: cargo build --release)
#   MESSAGES=10000    mailbox size;  GEN=fill (fill_mbox.py, ~4 KB each) or gen (gen_mbox.py)
#   RMAIL_ENV="VAR=value …"  environment for rmail serve (e.g. MALLOC_MMAP_THRESHOLD_=131072)
#   RSS_CAP_MB=3000   the idle phase stops opening connections when the PSS of the server's
#                     process tree exceeds it (rmail's 19 MiB argon2 buffers are kept by glibc)
#   REPEATS=3  IDLE=1000  BENCH_DOVECOT=1  DC_IMAP=10143  DC_POP3=10110  BENCH_DIR=…  BENCH_KEEP=1
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kit=${BENCH_KIT:-$here/../shared/bench}
MESSAGES=${MESSAGES:-10000}
REPEATS=${REPEATS:-3}
IDLE=${IDLE:-1000}
RSS_CAP_MB=${RSS_CAP_MB:-3000}
GEN=${GEN:-fill}
DC_IMAP=${DC_IMAP:-10143}
DC_POP3=${DC_POP3:-10110}
PASS=benchpass
RMAIL=${RMAIL:-}
if [ -z "$RMAIL" ]; then
  (cd "$here" && cargo build --release --quiet)
  RMAIL=$here/target/release/rmail
fi
py=python3
me=$(id -un)
dir=${BENCH_DIR:-$(mktemp -d /tmp/rmail-imap-bench.XXXXXX)}
chmod 755 "$dir"
ulimit -n $((IDLE * 2 + 1000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

serve_pid="" dc_conf=""
cleanup() {
  set +e
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  if [ -n "$dc_conf" ]; then
    doveadm -c "$dc_conf" stop >/dev/null 2>&1 || true
    [ -f "$dir/dovecot/run/master.pid" ] && kill "$(cat "$dir/dovecot/run/master.pid")" 2>/dev/null
  fi
  touch "$dir/.stop" 2>/dev/null
  sleep 0.5
  [ "${BENCH_KEEP:-0}" = 1 ] || [ -n "${BENCH_DIR:-}" ] || rm -rf "$dir"
  return 0
}
trap cleanup EXIT

# ---- the mailbox, generated once and copied for every cold open ------------------------
if [ "$GEN" = gen ]; then
  $py "$kit/gen_mbox.py" --messages "$MESSAGES" --seed 1 --out "$dir/mbox.orig"
else
  $py "$kit/fill_mbox.py" "$dir/mbox.orig" --messages "$MESSAGES" --truncate \
      --rcpt alice@localhost >/dev/null 2>&1
fi
mbox_bytes=$(stat -c %s "$dir/mbox.orig")

# ---- helpers ------------------------------------------------------------------------------
# The process tree under PID: "rss_kib pss_kib processes".
tree_mem() {
  $py - "$1" <<'PY'
import os, sys
root = int(sys.argv[1])
kids = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            ppid = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        kids.setdefault(ppid, []).append(int(p))
todo, tree = [root], []
while todo:
    p = todo.pop(); tree.append(p); todo += kids.get(p, [])
rss = pss = 0
for p in tree:
    try:
        for ln in open(f"/proc/{p}/status"):
            if ln.startswith("VmRSS:"): rss += int(ln.split()[1])
        for ln in open(f"/proc/{p}/smaps_rollup"):
            if ln.startswith("Pss:"): pss += int(ln.split()[1])
    except OSError:
        pass
print(rss, pss, len(tree))
PY
}

# One imap_bench.py session → "login+select+fetch select fetch" seconds (and the JSON kept).
imap_once() { # port label
  local js
  js=$($py "$kit/imap_bench.py" --host 127.0.0.1 --port "$1" --user alice --password "$PASS" \
         --label "$2")
  echo "$js" >> "$dir/$2.jsonl"
  $py -c 'import json,sys; o=json.loads(sys.argv[1]); assert o["messages"]==int(sys.argv[2]), o
print(round(o["login_s"]+o["select_s"]+o["fetch_meta_s"],4), o["select_s"], o["fetch_meta_s"])' "$js" "$MESSAGES"
}

med() { $py -c 'import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]), 3))' "$@"; }

# REPEATS × { reset (fresh mbox copy, no index); cold; warm; warm } → "cold warm cold_sel
# cold_fetch warm_sel warm_fetch" medians.
imap_phase() { # name port reset-function
  local c=() w=() cs=() cf=() ws=() wf=() r a s f
  for r in $(seq "$REPEATS"); do
    "$3"
    sync; sleep 1
    read -r a s f < <(imap_once "$2" "$1-cold"); c+=("$a"); cs+=("$s"); cf+=("$f")
    for _ in 2 3; do
      read -r a s f < <(imap_once "$2" "$1-warm"); w+=("$a"); ws+=("$s"); wf+=("$f")
    done
  done
  echo "$(med "${c[@]}") $(med "${w[@]}") $(med "${cs[@]}") $(med "${cf[@]}") $(med "${ws[@]}") $(med "${wf[@]}")"
}

# REPEATS × pop3_bench.py → "msgs/s MB/s uidl_s retr_s" medians (UIDL + RETR of all).
pop3_phase() { # name port
  local m=() b=() u=() t=() js r
  for r in $(seq "$REPEATS"); do
    js=$($py "$kit/pop3_bench.py" --host 127.0.0.1 --port "$2" --user alice --password "$PASS" \
           --label "$1-pop3")
    echo "$js" >> "$dir/$1-pop3.jsonl"
    read -r a1 a2 a3 a4 < <($py -c 'import json,sys; o=json.loads(sys.argv[1]); assert o["retr_count"]==int(sys.argv[2]), o
t=o["uidl_s"]+o["retr_all_s"]; print(round(o["retr_count"]/t,1), round(o["retr_bytes"]/t/1e6,2), o["uidl_s"], o["retr_all_s"])' "$js" "$MESSAGES")
    m+=("$a1"); b+=("$a2"); u+=("$a3"); t+=("$a4")
  done
  echo "$(med "${m[@]}") $(med "${b[@]}") $(med "${u[@]}") $(med "${t[@]}")"
}

# $IDLE connections that LOGIN and then sit idle; prints "rss pss procs ok_logins" for the
# server's process tree while they are held.
idle_phase() { # port server-pid
  rm -f "$dir/.ready" "$dir/.stop"
  $py - "$1" "$IDLE" "$PASS" "$dir/.ready" "$dir/.stop" "$2" "$RSS_CAP_MB" > "$dir/idle.out" 2>&1 <<'PY' &
import os, resource, socket, sys, time
port, n, pw, ready, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
server, cap_kib = int(sys.argv[6]), int(sys.argv[7]) * 1024

def server_rss():  # PSS of the server process and its children, KiB
    tree, total = [server], 0
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) == server:
                tree.append(int(p))
        except OSError:
            pass
    for p in tree:
        try:
            total += sum(int(l.split()[1]) for l in open(f"/proc/{p}/smaps_rollup") if l.startswith("Pss:"))
        except OSError:
            pass
    return total

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 200)), hard))
conns, ok, batch = [], 0, 50

def tagged(f):
    while True:
        ln = f.readline()
        if not ln:
            return b"EOF"
        if ln.startswith(b"a "):
            return ln

for start in range(0, n, batch):  # 50 at a time, so the server can check passwords in parallel
    group = []
    for _ in range(min(batch, n - start)):
        s = socket.create_connection(("127.0.0.1", port), timeout=120)
        f = s.makefile("rb")
        group.append((s, f))
    for s, f in group:
        f.readline()  # greeting
        s.sendall(b"a LOGIN alice " + pw.encode() + b"\r\n")
    for s, f in group:
        if tagged(f).startswith(b"a OK"):
            ok += 1
    conns += group
    if server_rss() > cap_kib:  # do not run the machine out of memory
        print(f"stopped after {len(conns)} connections: server PSS {server_rss()} KiB > RSS_CAP_MB",
              file=sys.stderr, flush=True)
        break
print(ok, flush=True)
open(ready, "w").close()
t0 = time.time()
while not os.path.exists(stop) and time.time() - t0 < 300:
    time.sleep(0.2)
PY
  local holder=$! i
  for i in $(seq 1200); do [ -f "$dir/.ready" ] && break; kill -0 $holder 2>/dev/null || break; sleep 0.25; done
  sleep 2
  local mem; mem=$(tree_mem "$2")
  touch "$dir/.stop"; wait $holder || true
  grep -h stopped "$dir/idle.out" >&2 || true
  echo "$mem $(grep -v stopped "$dir/idle.out" | head -1)"
}

# ---- rmail serve ------------------------------------------------------------------------------
rd=$dir/rmail
mkdir -p "$rd/spool"
cat > "$rd/main.cf" <<EOF
myhostname = bench.example
mydestination = localhost, \$myhostname
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
smtp_listen =
submission_listen =
submissions_listen =
imaps_listen =
pop3s_listen =
imap_listen = 127.0.0.1:0
pop3_listen = 127.0.0.1:0
data_directory = $rd/data
queue_directory = $rd/queue
mail_spool_directory = $rd/spool
user_database = $rd/users
alias_maps = $rd/aliases
mail_owner = $me
EOF
: > "$rd/aliases"
echo "$PASS" | RMAIL_CONFIG=$rd/main.cf "$RMAIL" users add alice 2>/dev/null
rmail_reset() { cp "$dir/mbox.orig" "$rd/spool/alice"; rm -rf "$rd/data/index/alice"; }
rmail_reset
env ${RMAIL_ENV:-} "$RMAIL" serve -c "$rd/main.cf" 2> "$rd/log" &
serve_pid=$!
for _ in $(seq 100); do grep -q "daemon started" "$rd/log" 2>/dev/null && break; sleep 0.1; done
r_imap=$(grep -o 'listening: imap 127.0.0.1:[0-9]*' "$rd/log" | head -1 | cut -d: -f3)
r_pop3=$(grep -o 'listening: pop3 127.0.0.1:[0-9]*' "$rd/log" | head -1 | cut -d: -f3)
[ -n "$r_imap" ] && [ -n "$r_pop3" ] || { echo "rmail serve did not start:" >&2; cat "$rd/log" >&2; exit 1; }

read -r r_cold r_warm r_cs r_cf r_ws r_wf < <(imap_phase rmail "$r_imap" rmail_reset)
read -r r_pm r_pb r_pu r_pt < <(pop3_phase rmail "$r_pop3")
read -r r_base _ r_nbase < <(tree_mem "$serve_pid")
read -r r_rss r_pss r_np r_ok < <(idle_phase "$r_imap" "$serve_pid")
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""

# ---- Dovecot (optional) -----------------------------------------------------------------------
dc=""
if [ "$(id -u)" = 0 ] && command -v dovecot >/dev/null && [ "${BENCH_DOVECOT:-1}" = 1 ]; then
  dd=$dir/dovecot
  du=${DC_USER:-nobody}
  dg=$(id -gn "$du")
  mkdir -p "$dd/run" "$dd/state" "$dd/home/mail" "$dd/index"
  echo "alice:{PLAIN}$PASS::::::" > "$dd/passwd"
  cat > "$dd/dovecot.conf" <<EOF
protocols = imap pop3
listen = 127.0.0.1
base_dir = $dd/run
state_dir = $dd/state
log_path = $dd/log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = mbox:~/mail:INBOX=$dd/home/inbox:INDEX=$dd/index
mail_uid = $du
mail_gid = $dg
default_process_limit = $((IDLE + 200))
default_client_limit = $((IDLE * 3 + 1000))
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dd/passwd
}
userdb {
  driver = static
  args = uid=$du gid=$dg home=$dd/home
}
service imap-login {
  inet_listener imap {
    port = $DC_IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $DC_POP3
  }
  inet_listener pop3s {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = $((IDLE + 100))
}
EOF
  dc_reset() {
    cp "$dir/mbox.orig" "$dd/home/inbox"
    rm -rf "$dd/index"; mkdir -p "$dd/index"
    chown -R "$du:$dg" "$dd/home" "$dd/index"
  }
  dc_reset
  if dovecot -c "$dd/dovecot.conf" 2> "$dd/start.err"; then
    dc_conf=$dd/dovecot.conf
    for _ in $(seq 100); do [ -s "$dd/run/master.pid" ] && break; sleep 0.1; done
    sleep 1
    dc_pid=$(cat "$dd/run/master.pid")
    read -r d_cold d_warm d_cs d_cf d_ws d_wf < <(imap_phase dovecot "$DC_IMAP" dc_reset)
    read -r d_pm d_pb d_pu d_pt < <(pop3_phase dovecot "$DC_POP3")
    read -r d_base _ d_nbase < <(tree_mem "$dc_pid")
    read -r d_rss d_pss d_np d_ok < <(idle_phase "$DC_IMAP" "$dc_pid")
    doveadm -c "$dc_conf" stop >/dev/null 2>&1 || kill "$dc_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$dc_pid" 2>/dev/null || break; sleep 0.1; done
    dc_conf=""
    dc="Dovecot $(dovecot --version | cut -d' ' -f1)"
  else
    echo "(Dovecot could not be started from $dd/dovecot.conf:)" >&2; cat "$dd/start.err" >&2
  fi
fi

# ---- report -----------------------------------------------------------------------------------
echo "# rmail IMAP/POP3 benchmark: $MESSAGES messages ($GEN, $((mbox_bytes / 1000000)) MB mbox), medians of $REPEATS, $(date -u +%FT%RZ), $(nproc) cores"
echo
echo "| server | IMAP LOGIN+SELECT+FETCH cold s | warm s | cold SELECT / FETCH s | warm SELECT / FETCH s | POP3 UIDL+RETR msg/s | MB/s | idle: $IDLE IMAP logins ok | RSS KiB | PSS KiB | processes | RSS KiB before |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
echo "| rmail serve${RMAIL_ENV:+ ($RMAIL_ENV)} | $r_cold | $r_warm | $r_cs / $r_cf | $r_ws / $r_wf | $r_pm | $r_pb | $r_ok | $r_rss | $r_pss | $r_np | $r_base |"
[ -n "$dc" ] && echo "| $dc | $d_cold | $d_warm | $d_cs / $d_cf | $d_ws / $d_wf | $d_pm | $d_pb | $d_ok | $d_rss | $d_pss | $d_np | $d_base |"
echo
okmiss() { if awk "BEGIN { exit !($1) }"; then echo ok; else echo MISS; fi; }
echo "| target (issue 5) | figures | |"
echo "| --- | --- | --- |"
if [ -n "$dc" ]; then
  echo "| IMAP LOGIN+SELECT+FETCH (warm) ≤ Dovecot's warm | $r_warm s vs $d_warm s | $(okmiss "$r_warm <= $d_warm") |"
  echo "| … and our cold first open ≤ Dovecot's warm | $r_cold s vs $d_warm s | $(okmiss "$r_cold <= $d_warm") |"
fi
echo "| our cold first open ≤ 2× our warm | $r_cold s vs 2 × $r_warm s | $(okmiss "$r_cold <= 2 * $r_warm") |"
[ -n "$dc" ] && echo "| POP3 UIDL+RETR throughput ≥ Dovecot's | $r_pm vs $d_pm msg/s | $(okmiss "$r_pm >= $d_pm") |"
echo "| $IDLE idle IMAP connections ≤ 50 MB RSS | $r_rss KiB ($r_ok logged in) | $(okmiss "$r_rss <= 50000 && $r_ok == $IDLE") |"
