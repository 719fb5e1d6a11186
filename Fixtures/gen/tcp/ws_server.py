#!/usr/bin/env python3
"""websockets (asyncio) server used for the TCP-anomaly fixtures.

Behaviour per received message:
  * text / binary            -> echoed back with the same opcode
  * text "cmd:ping ..."      -> echoed, then the server sends a ping "srv-ping-N"
  * text "cmd:burst N SIZE"  -> not echoed; the server sends N binary messages of
                                SIZE bytes (deterministic content)
Every frame the server sends (including the automatic pong and close reply) is
logged by wrapping the sans-I/O protocol's ``send_frame`` -- the single call all
frames go through -- to a JSON-lines file.  The server handles exactly one
connection and exits; it also exits by itself after --timeout seconds.
"""
import argparse
import asyncio
import json
import struct
import time

from websockets.asyncio.server import serve
from websockets.frames import Opcode

OPNAMES = {Opcode.TEXT: "text", Opcode.BINARY: "binary", Opcode.PING: "ping",
           Opcode.PONG: "pong", Opcode.CLOSE: "close", Opcode.CONT: "continuation"}


def burst_payload(i: int, size: int) -> bytes:
    head = f"burst-{i:03d}:".encode()
    body = bytes((i * 31 + k * 7) & 0xFF for k in range(size - len(head)))
    return head + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="10.77.0.1")
    ap.add_argument("--port", type=int, default=20080)
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    logf = open(args.log, "w")
    done = asyncio.Event()

    async def handler(ws):
        cport = ws.remote_address[1]
        sport = ws.local_address[1]
        proto = ws.protocol
        orig = proto.send_frame

        def logged_send_frame(frame):
            rec = {"t": time.monotonic_ns(), "client_port": cport, "server_port": sport,
                   "from": "server", "opcode": OPNAMES[frame.opcode],
                   "payload_hex": bytes(frame.data).hex(), "close_code": None,
                   "close_reason": None, "fin": frame.fin}
            if frame.opcode == Opcode.CLOSE and len(frame.data) >= 2:
                rec["close_code"] = struct.unpack("!H", bytes(frame.data[:2]))[0]
                rec["close_reason"] = bytes(frame.data[2:]).decode("utf-8")
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            return orig(frame)

        proto.send_frame = logged_send_frame
        npings = 0
        try:
            async for msg in ws:
                if isinstance(msg, str) and msg.startswith("cmd:burst"):
                    _, n, size = msg.split()
                    for i in range(int(n)):
                        await ws.send(burst_payload(i, int(size)))
                    continue
                await ws.send(msg)
                if isinstance(msg, str) and msg.startswith("cmd:ping"):
                    npings += 1
                    await ws.ping(f"srv-ping-{npings}".encode())
        finally:
            try:
                await asyncio.wait_for(ws.wait_closed(), 10)
            except asyncio.TimeoutError:
                pass
            done.set()

    async def run():
        async with serve(handler, args.host, args.port, ping_interval=None,
                         compression=None, max_size=None, close_timeout=5) as server:
            print("server ready", flush=True)
            try:
                await asyncio.wait_for(done.wait(), args.timeout)
            except asyncio.TimeoutError:
                print("server timeout", flush=True)
            await asyncio.sleep(0.3)  # let the closing handshake / FIN finish
            server.close()
            await server.wait_closed()

    asyncio.run(run())


if __name__ == "__main__":
    main()
