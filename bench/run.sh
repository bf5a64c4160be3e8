#!/usr/bin/env bash
# The throughput benchmark: shotlist run against shotlist sim (workloads a, b, c, d)
# and the official runware-sdk on workload (a), one JSON line per configuration.
#
#   bash bench/run.sh                 # full run, about 9 minutes on 2 cores (plus the build)
#   bash bench/run.sh --quick         # seconds: small job counts, no peer
#   bash bench/run.sh --only a,peer   # some configurations
#
# Prepares the peer's Python venv with conformance/venv.sh, as conformance/run.sh does (same
# requirements.txt, same default venv, reused while requirements.txt is unchanged),
# then runs `cargo bench --bench run_throughput` (release build). The JSON lines go to
# stdout and to target/bench/run_throughput-<UTC time>.jsonl.
#
# Environment: BENCH_VENV (default: $CONFORMANCE_VENV or target/conformance-venv);
# BENCH_NO_PEER=1 skips the venv (the peer line then says "skipped"); the harness's
# own variables (BENCH_ONLY, BENCH_JOBS, ...) are described in bench/run_throughput.rs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

if [ "${BENCH_NO_PEER:-0}" != "1" ] && ! printf '%s\n' "$@" | grep -qx -- '--quick'; then
  venv="${BENCH_VENV:-${CONFORMANCE_VENV:-$root/target/conformance-venv}}"
  BENCH_PYTHON="$(bash "$root/conformance/venv.sh" "$venv")"
  export BENCH_PYTHON
fi

mkdir -p target/bench
log="target/bench/run_throughput-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
echo "bench: $(nproc) cores, $(uname -srm); results also in $log" >&2
cargo bench --bench run_throughput -- "$@" | tee "$log"
