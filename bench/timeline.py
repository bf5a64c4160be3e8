#!/usr/bin/env python3
"""Summarise a shotlist journal (state.jsonl) as a timeline, to see where a run's wall
time goes: submit pacing, accepted -> result seen (poll lag), seen -> on disk.

    python3 bench/timeline.py OUT/state.jsonl [--time-scale 0.5]

Times are printed in real seconds and, with --time-scale, in simulated seconds too.
Standard library only.
"""
import argparse
import datetime as dt
import json
import statistics as st


def ts(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("journal")
    ap.add_argument("--time-scale", type=float, default=1.0)
    a = ap.parse_args()
    k = a.time_scale
    first = {}
    ev = {}
    t0 = None
    notacc = 0
    for line in open(a.journal):
        r = json.loads(line)
        t = r.get("t")
        at = r.get("at")
        if at and t0 is None and t == "run":
            t0 = ts(at)
        if t in ("intent", "accepted", "clip", "downloaded", "failed") and "key" in r:
            e = ev.setdefault(r["key"], {})
            e.setdefault(t, ts(at))
            if t == "intent":
                first.setdefault(r["key"], ts(at))
        if t == "not_accepted":
            notacc += 1
    acc = sorted(e["accepted"] - t0 for e in ev.values() if "accepted" in e)
    lag = [e["clip"] - e["accepted"] for e in ev.values() if "clip" in e and "accepted" in e]
    dl = [e["downloaded"] - e["clip"] for e in ev.values() if "downloaded" in e and "clip" in e]
    wait = [e["accepted"] - first[key] for key, e in ev.items() if "accepted" in e and key in first]
    end = max((e.get("downloaded", 0) for e in ev.values()), default=t0) - t0

    def line(name, xs):
        if not xs:
            return
        vals = [st.mean(xs), q(xs, 0.5), q(xs, 0.95), max(xs)]
        real = " ".join(f"{v:8.2f}" for v in vals)
        sim = " ".join(f"{v / k:8.1f}" for v in vals)
        print(f"{name:28s} real mean/p50/p95/max {real}   sim {sim}")

    print(f"jobs {len(ev)}, accepted {len(acc)}, not-accepted answers {notacc}, last download at {end:.2f} s real ({end / k:.1f} sim)")
    if acc:
        print(f"accepted: first {acc[0]:.2f} s, last {acc[-1]:.2f} s real -> {len(acc) / max(acc[-1] - acc[0], 1e-9) * 60 * k:.1f} accepted per simulated minute")
        for w in range(0, int(acc[-1] / (60 * k)) + 1):
            n = sum(1 for x in acc if w * 60 * k <= x < (w + 1) * 60 * k)
            print(f"  simulated minute {w}: {n} accepted")
    line("first intent -> accepted", wait)
    line("accepted -> result seen", lag)
    line("result seen -> on disk", dl)


main()
