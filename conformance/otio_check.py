"""Reads `shotlist export` output back with OpenTimelineIO (PyPI `opentimelineio`,
and its `cmx_3600` adapter for the EDL) and checks it against what the test expects.

    python otio_check.py EXPECT.json TIMELINE.otio [CUT.edl]

EXPECT.json: {"items": [{"kind": "clip", "name": ..., "frames": N, "rate": R,
"target": "file:///..."} | {"kind": "gap", "frames": N, "rate": R}, ...]}.
Prints one line per check; exits 1 at the first failure.
"""

import json
import os
import sys
import urllib.parse
import urllib.request

import opentimelineio as otio


def fail(msg):
    print(f"otio_check: FAIL {msg}")
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def url_path(url):
    if url.startswith("file://"):
        return urllib.request.url2pathname(urllib.parse.urlparse(url).path)
    return url


def check_otio(expect, path):
    tl = otio.adapters.read_from_file(path)
    check(isinstance(tl, otio.schema.Timeline), f"{path}: not a Timeline")
    tracks = list(tl.tracks)
    check(len(tracks) == 1 and tracks[0].kind == otio.schema.TrackKind.Video, "one video track")
    items = list(tracks[0])
    check(len(items) == len(expect), f"{len(items)} items, expected {len(expect)}")
    for i, (item, want) in enumerate(zip(items, expect)):
        where = f"item {i}"
        if want["kind"] == "gap":
            check(isinstance(item, otio.schema.Gap), f"{where}: expected a gap, got {item}")
            check(len(item.markers) == 1 and item.markers[0].comment, f"{where}: a gap carries a marker saying why")
        else:
            check(isinstance(item, otio.schema.Clip), f"{where}: expected a clip, got {item}")
            check(item.name == want["name"], f"{where}: name {item.name!r}, expected {want['name']!r}")
            ref = item.media_reference
            check(isinstance(ref, otio.schema.ExternalReference), f"{where}: an external reference")
            check(ref.target_url == want["target"], f"{where}: target {ref.target_url}, expected {want['target']}")
            check(os.path.isfile(url_path(ref.target_url)), f"{where}: {ref.target_url} is not a file")
            meta = item.metadata.get("shotlist", {})
            for key in ("prompt", "seed", "provider", "model", "job_key", "cost_usd"):
                check(key in meta, f"{where}: metadata.shotlist.{key}")
        dur = item.duration()
        check(dur.rate == want["rate"] and dur.value == want["frames"],
              f"{where}: duration {dur.value}@{dur.rate}, expected {want['frames']}@{want['rate']}")
    clips = sum(1 for w in expect if w["kind"] == "clip")
    print(f"otio_check: ok {path}: {clips} clips, {len(expect) - clips} gaps, order, durations and targets as expected")


def check_edl(expect, path):
    clips = [w for w in expect if w["kind"] == "clip"]
    rate = clips[0]["rate"] if clips else 24
    tl = otio.adapters.read_from_file(path, adapter_name="cmx_3600", rate=rate)
    read = [c for c in tl.find_clips()]
    check(len(read) == len(clips), f"EDL: {len(read)} clips, expected {len(clips)}")
    for i, (c, want) in enumerate(zip(read, clips)):
        check(c.name == want["name"], f"EDL clip {i}: name {c.name!r}, expected {want['name']!r}")
        check(url_path(c.media_reference.target_url) == url_path(want["target"]),
              f"EDL clip {i}: file {c.media_reference.target_url}, expected {want['target']}")
        frames = round(want["frames"] * rate / want["rate"])
        check(c.duration().to_frames() == frames, f"EDL clip {i}: {c.duration().to_frames()} frames, expected {frames}")
    # A shot with no take is a hole in the record timecode: the reader makes it a gap.
    gaps = [g for g in tl.tracks[0] if isinstance(g, otio.schema.Gap)]
    inner_gaps = sum(1 for i, w in enumerate(expect) if w["kind"] == "gap"
                     and any(x["kind"] == "clip" for x in expect[:i])
                     and any(x["kind"] == "clip" for x in expect[i + 1:]))
    check(len(gaps) >= inner_gaps, f"EDL: {len(gaps)} gaps, expected at least {inner_gaps}")
    print(f"otio_check: ok {path}: cmx_3600 reads {len(read)} clips at {rate} fps, names, files and lengths as expected")


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        expect = json.load(f)["items"]
    check_otio(expect, sys.argv[2])
    if len(sys.argv) == 4:
        check_edl(expect, sys.argv[3])


if __name__ == "__main__":
    main()
