#!/usr/bin/env python3
"""Drive the official Runware Python SDK (PyPI `runware-sdk`, the new SDK) against `shotlist sim`.

Usage: python runware_official.py http://127.0.0.1:PORT     (or SIM_URL=... python runware_official.py)

What the SDK does here (runware-sdk 1.8.0, read from its source):
  * transport="rest" selects `runware/transport/rest.py` (the default is "websocket").
  * http_base_url is used verbatim as the POST URL, so it must include `/v1`.
  * run() sends one POST with a JSON array [task], headers `Authorization: Bearer <key>`,
    `Content-Type: application/json`; it adds `deliveryMethod: "async"` itself.
  * The answer (an ack) and every poll answer go through `_extract_items`, which raises if
    the key `errors` or `error` is present at all. Then it polls
    [{"taskType":"getResponse","taskUUID":<same uuid>}] after 1.0 s, 0.5 s, then x1.5 up to
    10 s, until it has seen `numberResults` distinct terminal items (status "success" or a
    non-null `videoURL`), de-duplicated by resultIndex, then videoUUID, then taskUUID.
  * `taskType` is given explicitly: without it the SDK resolves the model's task type from
    its registry, whose first use fetches https://schemas.runware.ai/registry.json (network).
    With an explicit taskType and an AIR-shaped model ("minimax:3@1") it makes no such call.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

BASE = c.setup("runware-sdk")

import aiohttp  # noqa: E402
from runware import LogEntry, RunOptions, Runware, RunwareError  # noqa: E402

MODEL = os.environ.get("RUNWARE_MODEL", "minimax:3@1")  # MiniMax Hailuo 02 on Runware
NUMBER_RESULTS = int(os.environ.get("RUNWARE_NUMBER_RESULTS", "2"))


def sink(entry: LogEntry) -> None:
    # Only active with CONFORMANCE_VERBOSE=1: the SDK's own wire log (send/receive/retry).
    c.vlog(f"sdk {entry.category}: {entry.message} {json.dumps(entry.data, default=str)[:600] if entry.data else ''}")


async def main() -> None:
    on_progress_seen: list[dict] = []
    on_result_seen: list[dict] = []
    params = {
        "taskType": "videoInference",
        "model": MODEL,
        "positivePrompt": "A paper boat drifts down a rain-soaked street at dusk, neon reflections [Tracking shot]",
        "width": 1366,
        "height": 768,
        "duration": 6,
        "numberResults": NUMBER_RESULTS,
        "includeCost": True,
        "outputType": "URL",
        "outputFormat": "MP4",
    }
    c.log(f"run(): model={MODEL} 1366x768 6s numberResults={NUMBER_RESULTS} over REST at {BASE}/v1")
    async with Runware(
        api_key=c.API_KEY,
        transport="rest",
        http_base_url=f"{BASE}/v1",
        timeout=30_000,  # per HTTP call
        poll_timeout=90_000,  # end-to-end polling budget
        max_retries=2,
        debug=c.VERBOSE,
        log_sink=sink if c.VERBOSE else None,
    ) as client:
        try:
            results = await client.run(
                params,
                RunOptions(
                    timeout=90_000,
                    on_progress=lambda item: on_progress_seen.append(item),
                    on_result=lambda item: on_result_seen.append(item),
                ),
            )
        except RunwareError as exc:
            c.fail(f"client.run raised RunwareError code={exc.code!r} status={exc.status_code!r}: {exc}")
        except Exception as exc:  # noqa: BLE001
            c.fail(f"client.run raised {type(exc).__name__}: {exc}")

    c.log(f"run() returned {len(results)} item(s); progress callbacks: {len(on_progress_seen)}")
    if len(results) != NUMBER_RESULTS:
        c.fail(f"expected {NUMBER_RESULTS} results, got {len(results)}: {json.dumps(results)[:800]}")

    task_uuids = sorted({str(r.get("taskUUID")) for r in results})
    if len(task_uuids) != 1 or task_uuids[0] in ("", "None"):
        c.fail(f"results should share one taskUUID, got {task_uuids}")
    video_uuids = [r.get("videoUUID") for r in results]
    if len(set(video_uuids)) != len(video_uuids) or not all(video_uuids):
        c.fail(f"each result needs its own videoUUID, got {video_uuids}")

    videos: list[bytes] = []
    costs = []
    # Download like a user would: a plain GET on videoURL, no Authorization header.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for r in results:
            url = r.get("videoURL")
            if not url:
                c.fail(f"result has no videoURL: {json.dumps(r)}")
            if r.get("status") not in (None, "success"):
                c.fail(f"result status is {r.get('status')!r}, expected 'success'")
            costs.append(r.get("cost"))
            async with http.get(url) as resp:
                body = await resp.read()
                if resp.status != 200:
                    c.fail(f"GET {url} -> HTTP {resp.status}: {body[:200]!r}")
            c.check_mp4(body, f"videoURL {url}")
            c.log(f"downloaded {len(body)} bytes from {url}")
            videos.append(body)

    if any(not isinstance(x, (int, float)) for x in costs):
        c.fail(f"includeCost=true but a result lacks a numeric cost: {costs}")

    c.succeed(
        videos=videos,
        task_ids=task_uuids,
        extra={"model": MODEL, "cost": costs, "video_uuids": video_uuids,
               "distinct_bytes": len({bytes(v) for v in videos}) == len(videos)},
    )


if __name__ == "__main__":
    asyncio.run(main())
