#!/usr/bin/env python3
"""Userspace "netem": an AF_PACKET layer-2 relay between two interfaces.

The kernel of the generating machine has no sch_netem (``tc qdisc add ... netem``
fails with "Specified qdisc kind is unknown"), so the impairments are applied by
this relay, which runs in a middle network namespace holding the two inner ends
of the veth pairs (no IP addresses there, so the middle kernel ignores the
traffic).  Every Ethernet frame received on one side is re-sent on the other
side, possibly dropped / delayed / duplicated.  The real Linux TCP stacks of the
two end namespaces react to what happens (retransmissions, dup ACKs, SACK ...).

Only IPv4/TCP frames going in an impaired direction are subject to impairment;
ARP passes untouched.  Decisions come from a seeded PRNG, so a run is repeatable
as far as the packet arrival order is repeatable.

Semantics follow netem loosely:
  --loss P          drop with probability P
  --delay MS        delay every impaired packet by MS milliseconds ...
  --reorder P       ... except a fraction P that is sent immediately (netem
                    "delay 10ms reorder 25% 50%"); --reorder-corr C correlates
                    successive decisions like netem's correlation argument
  --duplicate P     send an extra identical copy with probability P

The relay stops by itself after --duration seconds (or on SIGTERM/SIGINT).
"""
import argparse
import heapq
import json
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def is_tcp(frame: bytes) -> bool:
    return len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[23] == 6


class Corr:
    """netem-like correlated uniform random source."""

    def __init__(self, rng, corr):
        self.rng, self.corr, self.last = rng, corr, rng.random()

    def next(self):
        v = self.rng.random()
        if self.corr:
            v = self.corr * self.last + (1.0 - self.corr) * v
        self.last = v
        return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--if-a", required=True, help="interface towards the server")
    ap.add_argument("--if-b", required=True, help="interface towards the client")
    ap.add_argument("--impair", choices=["a2b", "b2a", "both", "none"], default="a2b",
                    help="direction(s) impaired; a2b = server -> client")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--delay", type=float, default=0.0, help="ms")
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--reorder-corr", type=float, default=0.0)
    ap.add_argument("--duplicate", type=float, default=0.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--stats", help="write a JSON summary of decisions here")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    reo = Corr(random.Random(args.seed + 1), args.reorder_corr)

    socks = {}
    for name in (args.if_a, args.if_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        socks[name] = s
    peer = {args.if_a: args.if_b, args.if_b: args.if_a}
    impaired = set()
    if args.impair in ("a2b", "both"):
        impaired.add(args.if_a)  # frames *received* from the server side
    if args.impair in ("b2a", "both"):
        impaired.add(args.if_b)

    stop = [False]

    def on_sig(*_):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)

    stats = {"relayed": 0, "dropped": 0, "delayed": 0, "immediate": 0, "duplicated": 0}
    queue = []  # (release_time, counter, out_ifname, frame)
    counter = 0
    deadline = time.monotonic() + args.duration
    by_fd = {s.fileno(): (n, s) for n, s in socks.items()}
    print("relay ready", file=sys.stderr, flush=True)

    while not stop[0] and time.monotonic() < deadline:
        now = time.monotonic()
        timeout = 0.05
        if queue:
            timeout = max(0.0, min(timeout, queue[0][0] - now))
        r, _, _ = select.select(list(by_fd), [], [], timeout)
        for fd in r:
            name, s = by_fd[fd]
            while True:
                try:
                    frame, addr = s.recvfrom(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own transmissions
                out = peer[name]
                copies = 1
                delay = 0.0
                if name in impaired and is_tcp(frame):
                    if args.loss and rng.random() < args.loss:
                        stats["dropped"] += 1
                        continue
                    if args.duplicate and rng.random() < args.duplicate:
                        copies = 2
                        stats["duplicated"] += 1
                    if args.delay:
                        if args.reorder and reo.next() < args.reorder:
                            stats["immediate"] += 1
                        else:
                            delay = args.delay / 1000.0
                            stats["delayed"] += 1
                t = time.monotonic() + delay
                for _ in range(copies):
                    counter += 1
                    heapq.heappush(queue, (t, counter, out, frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                socks[out].send(frame)
                stats["relayed"] += 1
            except OSError as e:
                print("send error", e, file=sys.stderr)
    if args.stats:
        with open(args.stats, "w") as f:
            json.dump(stats, f)
    print("relay done", json.dumps(stats), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
