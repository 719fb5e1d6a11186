#!/usr/bin/env python3
"""Merge the client and server JSON-lines send logs into Fixtures/logs/tcp-<name>.json.

Records are ordered by the CLOCK_MONOTONIC timestamp taken in the wrapped send
call (both processes run on the same host, so the clock is shared across the
network namespaces).  The timestamps are dropped from the output.
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--note", default=None)
    ap.add_argument("logs", nargs="+")
    args = ap.parse_args()
    recs = []
    for p in args.logs:
        with open(p) as f:
            recs += [json.loads(line) for line in f if line.strip()]
    recs.sort(key=lambda r: r["t"])
    conns = {}
    for r in recs:
        key = (r["client_port"], r["server_port"])
        c = conns.setdefault(key, {"client_port": key[0], "server_port": key[1], "sent": []})
        c["sent"].append({k: r[k] for k in ("from", "opcode", "payload_hex", "close_code", "close_reason")})
    out = {"fixture": args.fixture, "connections": list(conns.values())}
    if args.note:
        out["note"] = args.note
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
