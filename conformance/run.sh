#!/usr/bin/env bash
# Drive the providers' OFFICIAL Python clients against `shotlist sim`.
#
#   bash conformance/run.sh [path/to/shotlist]      (default: target/debug/shotlist)
#
# Creates (or reuses) a venv, installs conformance/requirements.txt, starts
# `shotlist sim --listen 127.0.0.1:<free port> --time-scale 0.01 --seed 7`, runs the
# three client scripts, checks the simulator's billing ledger, stops the simulator
# and prints `conformance: N passed, M failed`. Exits non-zero if anything failed.
#
# Environment:
#   CONFORMANCE_VENV     venv directory (default: target/conformance-venv)
#   CONFORMANCE_VERBOSE  1 = the scripts log every HTTP exchange to stderr
#   SIM_TIME_SCALE       default 0.01;  SIM_SEED  default 7
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

bin="${1:-target/debug/shotlist}"
venv="${CONFORMANCE_VENV:-$root/target/conformance-venv}"
time_scale="${SIM_TIME_SCALE:-0.01}"
seed="${SIM_SEED:-7}"
work="$(mktemp -d "${TMPDIR:-/tmp}/shotlist-conformance.XXXXXX")"
sim_pid=""

cleanup() {
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill "$sim_pid" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$sim_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$sim_pid" 2>/dev/null
    wait "$sim_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "conformance: $*" >&2; echo "conformance: 0 passed, 1 failed"; exit 1; }

[ -x "$bin" ] || die "no executable shotlist binary at '$bin' (build it first, e.g. cargo build)"

# --- venv -----------------------------------------------------------------
py="$(bash "$here/venv.sh" "$venv")" || die "could not prepare the venv $venv"

# --- simulator ------------------------------------------------------------
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
"$bin" sim --listen "127.0.0.1:$port" --time-scale "$time_scale" --seed "$seed" \
  >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!

sim_url=""
for _ in $(seq 1 200); do   # 200 x 0.1 s = 20 s
  line="$(grep -m1 -o 'shotlist sim listening on http://[^ ]*' "$work/sim.out" 2>/dev/null || true)"
  if [ -n "$line" ]; then sim_url="${line#shotlist sim listening on }"; break; fi
  kill -0 "$sim_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$sim_url" ]; then
  echo "--- sim stdout ---" >&2; cat "$work/sim.out" >&2
  echo "--- sim stderr ---" >&2; tail -n 40 "$work/sim.err" >&2
  die "simulator did not print 'shotlist sim listening on http://...' within 20 s"
fi
sim_url="${sim_url%/}"
echo "conformance: simulator at $sim_url (pid $sim_pid, time scale $time_scale, seed $seed)" >&2

# --- the three official clients -------------------------------------------
passed=0
failed=0
: > "$work/results.jsonl"
for script in runware_official segmind_official minimax_official; do
  echo "conformance: --- $script ---" >&2
  # The script arms its own alarm at 115 s; `timeout` is the outer backstop.
  timeout -k 5 120 "$py" "$here/$script.py" "$sim_url" >"$work/$script.out"
  rc=$?
  last="$(tail -n 1 "$work/$script.out")"
  echo "$last" >> "$work/results.jsonl"
  if [ $rc -eq 0 ] && printf '%s' "$last" | "$py" -c 'import json,sys; sys.exit(0 if json.loads(sys.stdin.read()).get("ok") is True else 1)' 2>/dev/null; then
    echo "PASS $script: $last"
    passed=$((passed + 1))
  else
    [ $rc -eq 124 ] && last="$last (killed by timeout after 120 s)"
    echo "FAIL $script (exit $rc): $last"
    failed=$((failed + 1))
  fi
done

# --- the ledger: one billed task per provider, the same ids the clients saw ---
echo "conformance: --- ledger ---" >&2
if "$py" - "$sim_url" "$work/results.jsonl" <<'PY'
import json, sys, urllib.request
url, results_path = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(url + "/__sim/ledger", timeout=10) as r:
        ledger = json.load(r)
except Exception as e:  # noqa: BLE001
    print(f"FAIL ledger: GET {url}/__sim/ledger: {e}"); sys.exit(1)
entries = ledger.get("entries")
if not isinstance(entries, list):
    print(f"FAIL ledger: no `entries` list: {json.dumps(ledger)[:400]}"); sys.exit(1)
def cost_of(e):
    # What the task billed: its delivered clips times the unit price.
    return e.get("billed_usd")
client_to_provider = {"runware-sdk": "runware", "segmind": "segmind", "minimax-mcp": "minimax"}
seen = {}
for line in open(results_path):
    try:
        res = json.loads(line)
    except ValueError:
        continue
    p = client_to_provider.get(res.get("client"))
    if p and res.get("ok"):
        seen[p] = set(map(str, res.get("task_ids", [])))
problems = []
by_provider = {}
for e in entries:
    by_provider.setdefault(e.get("provider"), []).append(e)
for p in ("runware", "minimax", "segmind"):
    es = by_provider.get(p, [])
    ids = {str(e.get("task_id")) for e in es}
    if len(ids) != 1:
        problems.append(f"{p}: expected exactly 1 billed task, ledger has {len(ids)} ({sorted(ids)})")
    elif p in seen and ids != seen[p]:
        problems.append(f"{p}: ledger task_id {sorted(ids)} != the id the official client saw {sorted(seen[p])}")
    for e in es:
        if not isinstance(cost_of(e), (int, float)) or cost_of(e) <= 0:
            problems.append(f"{p}: entry without a positive billed_usd: {e}")
        if not e.get("model"):
            problems.append(f"{p}: entry without a model: {e}")
extra = set(by_provider) - {"runware", "minimax", "segmind"}
if extra:
    problems.append(f"unexpected providers in ledger: {sorted(map(str, extra))}")
total = ledger.get("total_usd")
summed = sum(cost_of(e) for e in entries if isinstance(cost_of(e), (int, float)))
if not isinstance(total, (int, float)) or abs(total - summed) > 1e-6:
    problems.append(f"total_usd {total!r} != sum of entries {summed:.6f}")
counts = {p: len(by_provider.get(p, [])) for p in ("runware", "minimax", "segmind")}
if problems:
    print("FAIL ledger: " + "; ".join(problems)); sys.exit(1)
print(f"PASS ledger: entries per provider {counts}, one task id each, matching the clients'; "
      f"total_usd {total}")
PY
then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

if [ $failed -ne 0 ]; then
  echo "--- sim stderr (last 40 lines) ---" >&2; tail -n 40 "$work/sim.err" >&2
fi
echo "conformance: $passed passed, $failed failed"
[ $failed -eq 0 ]
