#!/usr/bin/env bash
# Reader benchmark: rmail against Debian's s-nail and `cat` on generated mboxes.
#
# For each mailbox (10,000 and 100,000 messages from the shared kit's gen_mbox.py, generated once
# and cached in $BENCH_DIR) it runs, 3 times each, and reports medians of wall time and peak RSS
# (shell clock in ns, GNU time `%M`):
#   cat FILE                                   the floor: reading the bytes once
#   rmail  -n -H -f FILE                       header summary
#   s-nail -n -H -f FILE
#   printf 'p $\nx\n' | rmail  -n -N -f FILE   open, print the last message, exit
#   printf 'p $\nx\n' | s-nail -n -N -f FILE
# Targets: rmail wall ≤ 1/10 of s-nail's, ≤ 5× cat's; rmail peak RSS ≤ 32 MiB.
#
# Environment: BENCH_DIR (cache, default /tmp/rmail-bench), BENCH_KIT (shared kit, default
# ../shared/bench next to the repository), BENCH_RUNS (default 3), BENCH_SIZES (default
# "10000 100000"), RMAIL (binary; default: cargo build --release and target/release/rmail),
# SNAIL (default s-nail). Exit status 0 even when a target is missed: it prints, it does not judge.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
kit=${BENCH_KIT:-"$(dirname "$0")/../../shared/bench"}
kit=$(cd "$kit" && pwd)
bench_dir=${BENCH_DIR:-/tmp/rmail-bench}
runs=${BENCH_RUNS:-3}
sizes=${BENCH_SIZES:-"10000 100000"}
snail=${SNAIL:-s-nail}
timebin=/usr/bin/time

[ -x "$timebin" ] || { echo "reader.sh: $timebin missing (apt-get install time)" >&2; exit 1; }
command -v "$snail" >/dev/null || { echo "reader.sh: $snail missing (apt-get install s-nail)" >&2; exit 1; }
[ -f "$kit/gen_mbox.py" ] || { echo "reader.sh: $kit/gen_mbox.py missing (set BENCH_KIT)" >&2; exit 1; }

if [ -z "${RMAIL:-}" ]; then
  (cd "$repo" && cargo build --release --quiet)
  target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  RMAIL="$target/release/rmail"
fi
[ -x "$RMAIL" ] || { echo "reader.sh: $RMAIL is not executable" >&2; exit 1; }

mkdir -p "$bench_dir"
home="$bench_dir/home"
mkdir -p "$home"

# The sandbox every reader runs in: no rc files, no pager, no real $HOME or spool.
run_env=(env -i PATH="$PATH" HOME="$home" MAIL="$home/spool" MBOX="$home/mbox" MAILRC=/dev/null
  USER=bench LOGNAME=bench TZ=UTC LC_ALL=C.UTF-8 PAGER=cat TERM=dumb)

# measure LABEL STDIN_TEXT CMD... → prints "median_wall median_rss_kib" (medians of $runs runs).
measure() {
  local input=$1; shift
  local walls=() rsses=() out i t0 t1
  for ((i = 0; i < runs; i++)); do
    # Wall time from the shell's nanosecond clock (GNU time's %e has 10 ms resolution); peak
    # RSS (%M, KiB) from GNU time.
    t0=$(date +%s%N)
    out=$(printf '%b' "$input" | "${run_env[@]}" "$timebin" -f '%M' -o /dev/fd/3 "$@" \
      3>&1 >/dev/null 2>/dev/null | tail -n 1) || true
    t1=$(date +%s%N)
    walls+=("$(( (t1 - t0) / 1000 ))e-6")
    rsses+=("$out")
  done
  python3 - "${walls[*]}" "${rsses[*]}" <<'EOF'
import statistics, sys
w = [float(x) for x in sys.argv[1].split()]
r = [float(x) for x in sys.argv[2].split()]
print("%.3f %.0f" % (statistics.median(w), statistics.median(r)))
EOF
}

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.3f' % (a/b) if b > 0 else 'inf')" "$1" "$2"; }
verdict() { python3 -c "import sys; print('ok' if float(sys.argv[1]) <= float(sys.argv[2]) else 'MISS')" "$1" "$2"; }

printf '# rmail reader benchmark — %s, %s runs each, medians\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$runs"
printf '# rmail: %s\n# s-nail: %s\n' "$RMAIL" "$("$snail" -V 2>&1 | head -n 1)"
printf '# host: %s cores, %s\n\n' "$(nproc)" "$(uname -sr)"

for n in $sizes; do
  f="$bench_dir/gen-$n.mbox"
  if [ ! -s "$f" ]; then
    echo "generating $f ..." >&2
    python3 "$kit/gen_mbox.py" --messages "$n" --seed 1 --out "$f.tmp"
    mv "$f.tmp" "$f"
  fi
  # Readers may rewrite Status on exit; every run works on the pristine cached copy via a
  # private copy made once per size (x/ -H never write, but a buggy reader must not poison the cache).
  work="$bench_dir/work-$n.mbox"
  cp "$f" "$work"
  bytes=$(stat -c %s "$work")
  cat "$work" >/dev/null # warm the page cache

  read -r cat_w cat_m < <(measure '' cat "$work")
  read -r rh_w rh_m < <(measure '' "$RMAIL" -n -H -f "$work")
  read -r sh_w sh_m < <(measure '' "$snail" -n -H -f "$work")
  read -r rp_w rp_m < <(measure 'p $\nx\n' "$RMAIL" -n -N -f "$work")
  read -r sp_w sp_m < <(measure 'p $\nx\n' "$snail" -n -N -f "$work")
  cmp -s "$f" "$work" || echo "WARNING: $work was modified by a reader" >&2

  printf '## %s messages, %s bytes\n\n' "$n" "$bytes"
  printf '| what | wall s | peak RSS MiB |\n| --- | ---: | ---: |\n'
  for row in "cat:$cat_w:$cat_m" "rmail -H:$rh_w:$rh_m" "s-nail -H:$sh_w:$sh_m" \
    "rmail p \$:$rp_w:$rp_m" "s-nail p \$:$sp_w:$sp_m"; do
    IFS=: read -r what w m <<<"$row"
    printf '| %s | %s | %s |\n' "$what" "$w" "$(python3 -c "print('%.1f' % ($m/1024))")"
  done
  printf '\n| target | measured | limit | |\n| --- | ---: | ---: | --- |\n'
  for pair in "-H:$rh_w:$sh_w:$rh_m" "p \$:$rp_w:$sp_w:$rp_m"; do
    IFS=: read -r what rw sw rm <<<"$pair"
    r1=$(ratio "$rw" "$sw"); r2=$(ratio "$rw" "$cat_w")
    printf '| rmail/s-nail wall (%s) | %s | 0.100 | %s |\n' "$what" "$r1" "$(verdict "$r1" 0.1)"
    printf '| rmail/cat wall (%s) | %s | 5.000 | %s |\n' "$what" "$r2" "$(verdict "$r2" 5)"
    printf '| rmail peak RSS (%s), MiB | %s | 32.0 | %s |\n' "$what" \
      "$(python3 -c "print('%.1f' % ($rm/1024))")" "$(verdict "$rm" 32768)"
  done
  printf '\n'
  rm -f "$work"
done
