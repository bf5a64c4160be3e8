"""Shared helpers for the conformance scripts (not an official client: plumbing only).

Each script drives one provider's OFFICIAL Python client against `shotlist sim`
and ends by printing one JSON line on stdout. Everything else goes to stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from typing import NoReturn

# Hard wall-clock bound for one script, in seconds. The clients' own timeouts
# are set below this, so a hang normally surfaces as the client's own error
# first; the alarm is the backstop.
HARD_LIMIT_S = int(os.environ.get("CONFORMANCE_HARD_LIMIT_S", "115"))

# Any non-empty key is accepted by the simulator.
API_KEY = os.environ.get("SIM_API_KEY", "sim-conformance-key")

VERBOSE = os.environ.get("CONFORMANCE_VERBOSE", "") not in ("", "0")

_CLIENT = "?"
_T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{_CLIENT} +{time.monotonic() - _T0:6.2f}s] {msg}", file=sys.stderr, flush=True)


def vlog(msg: str) -> None:
    if VERBOSE:
        log(msg)


def fail(msg: str) -> NoReturn:
    """Print the failure JSON line and exit 1."""
    print(json.dumps({"client": _CLIENT, "ok": False, "error": msg}), flush=True)
    log(f"FAIL: {msg}")
    sys.exit(1)


def succeed(*, videos: list[bytes], task_ids: list[str], extra: dict | None = None) -> NoReturn:
    out = {
        "client": _CLIENT,
        "ok": True,
        "videos": len(videos),
        "bytes": [len(v) for v in videos],
        "task_ids": task_ids,
        "sha256": [hashlib.sha256(v).hexdigest() for v in videos],
        "seconds": round(time.monotonic() - _T0, 2),
    }
    if extra:
        out.update(extra)
    save_dir = os.environ.get("CONFORMANCE_SAVE_DIR")
    if save_dir:  # keep the downloaded bytes, e.g. to run ffprobe on them
        os.makedirs(save_dir, exist_ok=True)
        for i, v in enumerate(videos):
            with open(os.path.join(save_dir, f"{_CLIENT}-{i}.mp4"), "wb") as f:
                f.write(v)
    print(json.dumps(out), flush=True)
    sys.exit(0)


def setup(client_name: str) -> str:
    """Name the client, arm the hard time limit, return the simulator base URL
    (scheme://host:port, no trailing slash, no path)."""
    global _CLIENT
    _CLIENT = client_name

    def on_alarm(_signum, _frame):  # noqa: ANN001
        fail(f"hard time limit of {HARD_LIMIT_S}s reached (the official client did not finish)")

    def on_uncaught(etype, value, tb):  # noqa: ANN001
        import traceback

        traceback.print_exception(etype, value, tb, file=sys.stderr)
        fail(f"uncaught {etype.__name__}: {value}")

    sys.excepthook = on_uncaught
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HARD_LIMIT_S)

    base = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SIM_URL", "")
    if not base:
        fail("no simulator URL: pass it as the first argument or set SIM_URL (e.g. http://127.0.0.1:8123)")
    base = base.rstrip("/")
    if not base.startswith("http://") and not base.startswith("https://"):
        fail(f"simulator URL must start with http:// : {base!r}")
    # Accept a base given with a provider path (e.g. .../v1) and strip it.
    for suffix in ("/v1", "/v2"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    # Loopback only: never let a script talk to anything else.
    host = base.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1"):
        fail(f"refusing a non-loopback simulator host {host!r}")
    sys.addaudithook(_loopback_only)
    # Make sure no proxy from the environment gets in the way of loopback calls.
    for var in ("NO_PROXY", "no_proxy"):
        cur = os.environ.get(var, "")
        os.environ[var] = ",".join(x for x in (cur, "127.0.0.1", "localhost", "::1") if x)
    log(f"simulator base {base}")
    return base


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "ip6-localhost")


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return True  # e.g. AF_UNIX paths: not network
    return host in _LOOPBACK or host.startswith("127.")


def _loopback_only(event: str, args: tuple) -> None:
    """Audit hook: refuse any name lookup or connection that is not loopback.

    The official clients must only ever talk to the simulator; this turns an attempt to
    reach the real provider (or anything else, e.g. a registry fetch) into an error.
    """
    host = None
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    if host is not None and not _is_loopback(host):
        raise PermissionError(f"conformance: blocked a network call to {host!r} (loopback only)")


def check_mp4(data: bytes, what: str) -> None:
    """The bytes must look like an ISO-BMFF file whose first box is `ftyp`."""
    if len(data) < 12:
        fail(f"{what}: only {len(data)} bytes, too short for an MP4")
    if data[4:8] != b"ftyp":
        fail(f"{what}: bytes 4..8 are {data[4:8]!r}, expected b'ftyp' (first 16 bytes: {data[:16]!r})")
    size = int.from_bytes(data[0:4], "big")
    if size < 8 or size > len(data):
        fail(f"{what}: ftyp box size {size} is not plausible for a {len(data)}-byte file")
