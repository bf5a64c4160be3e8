#!/usr/bin/env python3
"""Drive the official Segmind Python SDK (PyPI `segmind` 1.3.0) against `shotlist sim`.

Usage: python segmind_official.py http://127.0.0.1:PORT     (or SIM_URL=... python segmind_official.py)

What the SDK does here (segmind 1.3.0, read from its source):
  * SegmindClient(base_url=".../v1") builds an httpx.Client with headers `x-api-key`,
    `User-Agent: segmind-python-sdk/1.3.0`, `X-Initiator: SDK-PY`; timeout 30 s, connect 5 s.
  * submit_async(slug, **params) POSTs the params as the JSON body to `<base minus /vN>/v2/<slug>`
    (segmind/v2.py `_v2_base`), raises SegmindError on a non-2xx, and raises SegmindError if the
    2xx body lacks any of `request_id`, `status_url`, `response_url`.
  * job.wait(timeout, interval) GETs `status_url` as returned (absolute URL), first poll at once,
    then every `interval` s. Body `status` == "COMPLETED" -> one GET of `response_url`, whose body
    is returned; "FAILED" -> InferenceFailed(detail=body["error"]); anything else keeps polling.
    A non-2xx whose body is not a terminal status raises SegmindError at once (no retry).
  * The video URL is read from the result's `output` key (the docs: "The `output` field is always
    present"); a `video.url` is accepted as well.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

BASE = c.setup("segmind")

import httpx  # noqa: E402
from segmind import SegmindClient  # noqa: E402
from segmind.exceptions import SegmindError  # noqa: E402
from segmind.v2 import InferenceFailed, InferenceTimeout  # noqa: E402

SLUG = os.environ.get("SEGMIND_SLUG", "minimax-ai-director")


def video_url_of(result: dict) -> str | None:
    out = result.get("output")
    if isinstance(out, str) and out.startswith(("http://", "https://")):
        return out
    if isinstance(out, list) and out and isinstance(out[0], str):
        return out[0]
    if isinstance(out, dict) and isinstance(out.get("url"), str):
        return out["url"]
    video = result.get("video")
    if isinstance(video, dict) and isinstance(video.get("url"), str):
        return video["url"]
    return None


def main() -> None:
    client = SegmindClient(api_key=c.API_KEY, base_url=f"{BASE}/v1")
    if c.VERBOSE:
        def log_response(resp: httpx.Response) -> None:
            resp.read()
            c.vlog(f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:400]}")
        client._client.event_hooks["response"].append(log_response)  # observe only

    # The model page's example for minimax-ai-director (docs.segmind.com / segmind.com/models/...).
    params = {
        "prompt": (
            "A bear playfully poses for a selfie with a man, who smiles and says, 'Hi!' as he looks "
            "into the camera, [Pedestal up] sharing a lighthearted moment with his friend.[Zoom out]"
        ),
        "first_frame_image": (
            "https://segmind-resources.s3.amazonaws.com/input/"
            "7aaa699e-d5d1-417d-93e3-42e8b0ff0adf-minimax-v2-input.png"
        ),
        "prompt_optimizer": True,
    }
    c.log(f"submit_async({SLUG!r}) -> {BASE}/v2/{SLUG}")
    try:
        job = client.submit_async(SLUG, **params)
    except SegmindError as exc:
        c.fail(f"submit_async raised SegmindError status={exc.status!r} detail={exc.detail!r}")
    c.log(f"submitted: request_id={job.request_id} status_url={job.status_url} response_url={job.response_url}")
    for key, url in (("status_url", job.status_url), ("response_url", job.response_url)):
        if not url.startswith(BASE + "/"):
            c.fail(f"{key} {url!r} does not point back at the simulator {BASE}")
    if job.submit_response.get("status") != "QUEUED":
        c.log(f"note: submit status is {job.submit_response.get('status')!r} (docs: always QUEUED)")

    try:
        result = job.wait(timeout=90, interval=2.0)
    except InferenceFailed as exc:
        c.fail(f"job.wait raised InferenceFailed detail={exc.detail!r} body={json.dumps(exc.status_body)[:400]}")
    except InferenceTimeout as exc:
        c.fail(f"job.wait raised InferenceTimeout after {exc.elapsed_s:.1f}s")
    except SegmindError as exc:
        c.fail(f"job.wait raised SegmindError status={exc.status!r} detail={exc.detail!r}")

    if result.get("status") != "COMPLETED":
        c.fail(f"result body status is {result.get('status')!r}, expected 'COMPLETED': {json.dumps(result)[:400]}")
    url = video_url_of(result)
    if not url:
        c.fail(f"result has no video URL in `output` (or `video.url`): {json.dumps(result)[:600]}")
    c.log(f"COMPLETED; output={url} metrics={json.dumps(result.get('metrics'))}")

    # Download like a user would: a plain GET, no x-api-key.
    resp = httpx.get(url, timeout=30, follow_redirects=True)
    if resp.status_code != 200:
        c.fail(f"GET {url} -> HTTP {resp.status_code}: {resp.content[:200]!r}")
    c.check_mp4(resp.content, f"output {url}")
    c.log(f"downloaded {len(resp.content)} bytes")
    client._client.close()

    c.succeed(
        videos=[resp.content],
        task_ids=[job.request_id],
        extra={"slug": SLUG, "cost": (result.get("metrics") or {}).get("cost")},
    )


if __name__ == "__main__":
    main()
