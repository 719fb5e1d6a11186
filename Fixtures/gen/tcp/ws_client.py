#!/usr/bin/env python3
"""websocket-client peer used for the TCP-anomaly fixtures.

Scenarios:
  echo        multi-KB text/binary messages (span several 1448-byte segments),
              a client ping, a server ping (via "cmd:ping"), close 1000
  small       a few short messages (base for the 1-byte-segment rewrite)
  tfo         same as small, but the socket uses TCP_FASTOPEN_CONNECT so the
              HTTP upgrade request is carried on the SYN
  slowreader  SO_RCVBUF=4096 + aggressive SO_KEEPALIVE; idles (keep-alives),
              asks for a burst, does not read for a while (zero window,
              window probes), then drains and closes

Every frame the client sends (including automatic pongs) is logged by wrapping
``WebSocket.send_frame`` -- the call all of websocket-client's sends go
through -- to a JSON-lines file.  Bounded: socket timeout 20 s.
"""
import argparse
import json
import random
import socket
import struct
import time

import websocket
from websocket import ABNF

OPNAMES = {ABNF.OPCODE_TEXT: "text", ABNF.OPCODE_BINARY: "binary", ABNF.OPCODE_PING: "ping",
           ABNF.OPCODE_PONG: "pong", ABNF.OPCODE_CLOSE: "close", ABNF.OPCODE_CONT: "continuation"}

TCP_FASTOPEN_CONNECT = 30


def text_payload(tag: str, size: int) -> str:
    """Deterministic text; contains multi-byte UTF-8 so characters straddle segments."""
    unit = f"[{tag}] wstrace tcp fixture \u00e9\u00e8\u20ac\U0001F600 0123456789 abcdefghijklmnopqrstuvwxyz\n"
    out = ""
    while len(out.encode()) < size:
        out += unit
    while len(out.encode()) > size:
        out = out[:-1]
    return out


def binary_payload(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="ws://10.77.0.1:20080/tcp")
    ap.add_argument("--scenario", required=True, choices=["echo", "small", "tfo", "slowreader"])
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    logf = open(args.log, "w")

    sockopt = []
    if args.scenario == "tfo":
        sockopt.append((socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1))
    if args.scenario == "slowreader":
        sockopt += [(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),
                    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
                    (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1),
                    (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1),
                    (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 10)]

    ws = websocket.WebSocket(sockopt=tuple(sockopt))
    orig = ws.send_frame
    ports = {}

    def logged_send_frame(frame):
        data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
        rec = {"t": time.monotonic_ns(), "client_port": ports["c"], "server_port": ports["s"],
               "from": "client", "opcode": OPNAMES[frame.opcode], "payload_hex": data.hex(),
               "close_code": None, "close_reason": None, "fin": bool(frame.fin)}
        if frame.opcode == ABNF.OPCODE_CLOSE and len(data) >= 2:
            rec["close_code"] = struct.unpack("!H", data[:2])[0]
            rec["close_reason"] = data[2:].decode("utf-8")
        logf.write(json.dumps(rec) + "\n")
        logf.flush()
        return orig(frame)

    ws.send_frame = logged_send_frame
    ws.connect(args.url, timeout=20, suppress_origin=True)
    ports["c"] = ws.sock.getsockname()[1]
    ports["s"] = ws.sock.getpeername()[1]

    def expect(n=1):
        for _ in range(n):
            ws.recv()

    if args.scenario == "echo":
        ws.send(text_payload("m1", 1200)); expect()
        ws.send(text_payload("m2", 3000)); expect()
        ws.send_binary(binary_payload(3, 4500)); expect()
        ws.ping(b"cli-ping-1")
        ws.send(text_payload("m4", 5000)); expect()
        ws.send("cmd:ping " + text_payload("m5", 1500)); expect()
        ws.send_binary(binary_payload(6, 4000)); expect()
        ws.close(1000, "done")
    elif args.scenario in ("small", "tfo"):
        ws.send("hello wstrace"); expect()
        ws.send_binary(bytes(range(64))); expect()
        ws.ping(b"p1")
        ws.send("cmd:ping " + text_payload("s3", 300)); expect()
        ws.close(1000, "bye")
    elif args.scenario == "slowreader":
        time.sleep(2.6)  # idle: TCP keep-alive probes from the client
        ws.send("cmd:burst 10 2500")
        time.sleep(3.0)  # do not read: receive window fills up -> zero window
        expect(10)
        ws.close(1000, "drained")
    time.sleep(0.2)


if __name__ == "__main__":
    main()
