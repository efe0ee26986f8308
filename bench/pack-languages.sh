#!/usr/bin/env bash
# Per-language figures for BENCHMARKS.md ("Packs per language"): pack add, orch action run from
# process start, and the first invocation in a process, for the Rust, Python and JavaScript
# example packs. Needs hyperfine, `cargo build`, scripts/build-packs, build-python-packs and
# build-js-packs. Uses the debug orch (its dependencies are optimised by the dev profile).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
O="$target/debug/orch"
G="$target/wasm32-wasip2/guest"
B="$(mktemp -d)"; trap 'rm -rf "$B"' EXIT
uptime
hyperfine -N -w 0 -r 3 --export-json $B/add.json \
  --prepare "rm -rf $B/hr" -n "pack add text (Rust)" "env ORCH_HOME=$B/hr $O pack add $G/text.wasm" \
  --prepare "rm -rf $B/hp" -n "pack add pyexample (Python)" "env ORCH_HOME=$B/hp $O pack add $G/pyexample.wasm" \
  --prepare "rm -rf $B/hj" -n "pack add jsexample (JavaScript)" "env ORCH_HOME=$B/hj $O pack add $G/jsexample.wasm" 2>&1 | grep -v "^ *$"
H=$B/home; ORCH_HOME=$H $O pack add $G/text.wasm >/dev/null 2>&1; ORCH_HOME=$H $O pack add $G/pyexample.wasm >/dev/null 2>&1; ORCH_HOME=$H $O pack add $G/jsexample.wasm >/dev/null 2>&1
T="'{\"text\":\"a\"}'"; W="'{\"text\":\"the_quick\",\"top\":1}'"
hyperfine -N -w 3 -r 30 \
  -n "pack list (baseline)" "env ORCH_HOME=$H $O pack list" \
  -n "run text.normalize (Rust)" "env ORCH_HOME=$H $O action run text.normalize --input $T" \
  -n "run pyexample.word_stats (Python)" "env ORCH_HOME=$H $O action run pyexample.word_stats --input $W" \
  -n "run jsexample.word_stats (JavaScript)" "env ORCH_HOME=$H $O action run jsexample.word_stats --input $W" 2>&1 | grep -v "^ *$"
for a in "text.normalize {\"text\":\"a\"}" "pyexample.word_stats {\"text\":\"the_quick\",\"top\":1}" "jsexample.word_stats {\"text\":\"the_quick\",\"top\":1}"; do
  set -- $a
  for i in $(seq 1 21); do ORCH_HOME=$H $O action run $1 --input "$2" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['elapsed_ms'])"; done | sort -n | awk -v n="$1" '{a[NR]=$1} END {printf "%s in-process elapsed: median %.2f ms (min %.2f, max %.2f, %d runs)\n", n, a[int((NR+1)/2)], a[1], a[NR], NR}'
done
uptime
