#!/usr/bin/env python3
"""Workload (a) of the throughput benchmark, driven by the OFFICIAL Runware Python SDK.

    python bench/peer_runware_sdk.py http://127.0.0.1:PORT --jobs 1000 --concurrency 600

PyPI `runware-sdk` (1.8.0, pinned in conformance/requirements.txt) as its README shows it:
one `Runware(transport="rest")` client, `await client.run(params)` per video, asyncio, and
an `asyncio.Semaphore` holding at most `--concurrency` tasks in flight (the same number as
shotlist's `maxInFlight`). Each task is a Hailuo 02 text-to-video, 1366x768, 6 s,
`numberResults: 1`; its video is then downloaded with a plain GET (outside the semaphore:
shotlist's downloads do not count as in flight either). The SDK's own settings are left at
their defaults (3 retries with exponential backoff on 408/429/5xx and connection errors,
poll 1.0 s, 0.5 s, then x1.5 up to 10 s), except the three the simulator needs:
`transport="rest"`, `http_base_url`, and an explicit `taskType` (without it the SDK fetches
its model registry from the network). No retry is added on top: a task the SDK gives up on
is a failed job, counted by error code.

Request counts are NOT taken from here: the harness reads them from the simulator's
`/__sim/stats`. This prints one JSON line on stdout:
  {"client": "runware-sdk", "jobs": N, "ok": n, "failed": f, "downloaded": d,
   "errors": {"<code>": count, ...}, "wall_s": s}
Progress goes to stderr. Loopback only: an audit hook refuses any other host.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sys
import time

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _loopback_only(event: str, args: tuple) -> None:
    host = None
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if isinstance(host, str) and not (host in _LOOPBACK or host.startswith("127.")):
        raise PermissionError(f"peer_runware_sdk: blocked a network call to {host!r} (loopback only)")


def log(msg: str) -> None:
    print(f"[peer +{time.monotonic() - T0:7.2f}s] {msg}", file=sys.stderr, flush=True)


T0 = time.monotonic()

PROMPT = (
    "a lantern-lit night market in the rain, steam rising from stalls, "
    "shoppers with umbrellas weaving between them [Pan left]"
)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sim", help="simulator base URL, e.g. http://127.0.0.1:8931")
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=600)
    ap.add_argument("--model", default="minimax:3@1")
    ap.add_argument("--api-key", default=os.environ.get("SIM_API_KEY", "bench-key"))
    ns = ap.parse_args()

    base = ns.sim.rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    host = base.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if not (host in _LOOPBACK or host.startswith("127.")):
        print(json.dumps({"client": "runware-sdk", "error": f"non-loopback simulator {host!r}"}))
        return 2
    sys.addaudithook(_loopback_only)
    for var in ("NO_PROXY", "no_proxy"):
        os.environ[var] = ",".join(x for x in (os.environ.get(var, ""), "127.0.0.1", "localhost") if x)

    import aiohttp
    from runware import Runware, RunwareError

    sem = asyncio.Semaphore(ns.concurrency)
    errors: collections.Counter[str] = collections.Counter()
    counts = {"ok": 0, "downloaded": 0, "done": 0}

    async with Runware(api_key=ns.api_key, transport="rest", http_base_url=f"{base}/v1") as client, \
            aiohttp.ClientSession() as http:

        async def one(i: int) -> None:
            params = {
                "taskType": "videoInference",
                "model": ns.model,
                "positivePrompt": f"Shot {i}: {PROMPT}",
                "width": 1366,
                "height": 768,
                "duration": 6,
                "numberResults": 1,
                "includeCost": True,
                "outputType": "URL",
                "outputFormat": "MP4",
            }
            try:
                async with sem:
                    results = await client.run(params)
            except RunwareError as exc:
                errors[f"{exc.code or 'RunwareError'} (HTTP {exc.status_code})"] += 1
                return
            except Exception as exc:  # noqa: BLE001
                errors[type(exc).__name__] += 1
                return
            finally:
                counts["done"] += 1
                if counts["done"] % 100 == 0:
                    log(f"{counts['done']}/{ns.jobs} settled, {sum(errors.values())} failed")
            for r in results:
                url = r.get("videoURL")
                if not url:
                    errors["no videoURL"] += 1
                    return
                try:
                    async with http.get(url) as resp:
                        body = await resp.read()
                    if resp.status != 200 or len(body) < 12:
                        errors[f"download HTTP {resp.status}"] += 1
                        return
                except aiohttp.ClientError as exc:
                    errors[f"download {type(exc).__name__}"] += 1
                    return
                counts["downloaded"] += 1
            counts["ok"] += 1

        log(f"{ns.jobs} jobs, concurrency {ns.concurrency}, model {ns.model}, at {base}/v1")
        await asyncio.gather(*(one(i) for i in range(ns.jobs)))

    out = {
        "client": "runware-sdk",
        "jobs": ns.jobs,
        "ok": counts["ok"],
        "failed": ns.jobs - counts["ok"],
        "downloaded": counts["downloaded"],
        "errors": dict(errors),
        "wall_s": round(time.monotonic() - T0, 2),
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
