#!/usr/bin/env python3
"""Drive MiniMax's official Python client (PyPI `minimax-mcp` 0.0.19) against `shotlist sim`.

Usage: python minimax_official.py http://127.0.0.1:PORT     (or SIM_URL=... python minimax_official.py)

MiniMax publishes no plain Python SDK; its official Python code for the video API is the MCP
server. This script calls that server's own tool function `minimax_mcp.server.generate_video`
directly (no MCP transport), so every request is the official code's:

  1. POST {MINIMAX_API_HOST}/v1/video_generation  json={"model","prompt","duration","resolution"}
     via `MinimaxAPIClient` (requests.Session; headers `Authorization: Bearer <key>`,
     `MM-API-Source: Minimax-MCP`, `Content-Type: application/json`). Raises unless
     `base_resp.status_code == 0`; then needs a non-empty `task_id`.
  2. GET /v1/query/video_generation?task_id=<id> at once, then every 20 s (hard-coded
     `retry_interval = 20`, at most 30 tries). `status == "Fail"` -> error; `"Success"` -> needs
     a non-empty `file_id`; anything else -> sleep 20 s and poll again.
  3. GET /v1/files/retrieve?file_id=<file_id>; needs `file.download_url`.
  4. With MINIMAX_API_RESOURCE_MODE=local: bare `requests.get(download_url)` (no auth header),
     `raise_for_status()`, writes `video_<task_id>_<YYYYmmdd_HHMMSS>.mp4` in the output directory.
  Every step also runs `raise_for_status()` on the HTTP code. Errors are not raised out of the
  tool: it returns a TextContent whose text starts with "Failed ..." / "Unexpected error ...".

Because of the fixed 20 s poll interval this script takes about 20 s when the simulator's task
is not finished at the first (immediate) query.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as c  # noqa: E402

BASE = c.setup("minimax-mcp")

OUT_DIR = tempfile.mkdtemp(prefix="minimax-conformance-")
atexit.register(shutil.rmtree, OUT_DIR, ignore_errors=True)
# The server module reads its configuration from the environment at import time.
os.environ["MINIMAX_API_KEY"] = c.API_KEY
os.environ["MINIMAX_API_HOST"] = BASE
os.environ["MINIMAX_API_RESOURCE_MODE"] = "local"  # download the file, not just return the URL
os.environ["MINIMAX_MCP_BASE_PATH"] = OUT_DIR
os.environ.setdefault("FASTMCP_LOG_LEVEL", "WARNING")

import minimax_mcp.server as mm  # noqa: E402

MODEL = os.environ.get("MINIMAX_MODEL", "MiniMax-Hailuo-2.3")

calls: list[str] = []


def record(resp, *args, **kwargs):  # noqa: ANN001, ARG001
    """requests response hook on the official client's session: observe only."""
    line = f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:300]}"
    calls.append(line)
    c.vlog(line)
    return resp


def main() -> None:
    if mm.api_client.api_host != BASE:
        c.fail(f"minimax_mcp picked api_host {mm.api_client.api_host!r}, expected {BASE!r}")
    mm.api_client.session.hooks["response"].append(record)

    c.log(f"generate_video(model={MODEL!r}, duration=6, resolution='768P') against {BASE}")
    content = mm.generate_video(
        model=MODEL,
        prompt="A lighthouse keeper climbs the spiral stairs at night, lantern swinging [Pedestal up]",
        duration=6,
        resolution="768P",
        output_directory=OUT_DIR,
        async_mode=False,
    )
    text = getattr(content, "text", str(content))
    c.log(f"tool returned: {text}")
    for line in calls:
        c.log(f"  official client call: {line}")
    if not text.startswith("Success. Video saved as: "):
        c.fail(f"generate_video did not succeed: {text}")

    path = Path(text[len("Success. Video saved as: "):].strip())
    if not path.is_file():
        c.fail(f"generate_video reported {path} but no such file exists")
    m = re.match(r"video_(.+)_\d{8}_\d{6}\.mp4$", path.name)
    if not m:
        c.fail(f"unexpected output file name {path.name!r}")
    task_id = m.group(1)
    data = path.read_bytes()
    c.check_mp4(data, f"downloaded file {path}")

    # Cross-check the flow from the recorded calls of the official client.
    want = ["POST " + BASE + "/v1/video_generation",
            "GET " + BASE + "/v1/query/video_generation?task_id=" + task_id,
            "GET " + BASE + "/v1/files/retrieve?file_id="]
    for prefix in want:
        if not any(call.startswith(prefix) for call in calls):
            c.fail(f"expected the official client to have called {prefix}...; calls were: {calls}")
    queries = sum(1 for call in calls if "/v1/query/video_generation" in call)
    c.succeed(videos=[data], task_ids=[task_id], extra={"model": MODEL, "queries": queries})


if __name__ == "__main__":
    main()
