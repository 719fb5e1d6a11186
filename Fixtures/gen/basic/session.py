#!/usr/bin/env python3
"""One real WebSocket session over loopback between two real peers:

  server: PyPI `websockets` (asyncio implementation, compression disabled)
  client: PyPI `websocket-client` (synchronous), no permessage-deflate

Every frame each peer puts on the wire is logged by wrapping the peer's own
send path (websockets: Protocol.send_frame, which also carries the automatic
pong and the close echo; websocket-client: WebSocket.send_frame, which also
carries ping/close).  The log is written as Fixtures/logs/<name>.json.

Teardown trick (4 separate TCP packets FIN / ACK / FIN / ACK):
the websockets server half-closes (shutdown(SHUT_WR)) right after echoing the
close frame.  The client reads the close frame, then waits for EOF on the raw
socket, then sleeps 200 ms before close().  During that sleep the client's
kernel emits its (delayed, ~40 ms) pure ACK of the server FIN, so the client
FIN goes out later as its own packet and the server's kernel ACKs it.
Second, smaller trick: websockets normally calls write_eof() microseconds after
writing its close frame; the client kernel then acknowledges close frame and
FIN with one delayed ACK, and with two segments in flight the server kernel's
tail-loss probe (~15 ms on loopback) retransmits the FIN before that ACK
arrives -- a stray packet.  So the server's write_eof() is postponed by
EOF_DELAY (100 ms): the close frame is acknowledged first, the FIN is then the
only segment in flight and its probe timeout (>= 200 ms) never fires.
"""
import argparse
import asyncio
import json
import socket
import struct
import threading
import time

import websocket  # websocket-client
from websocket import ABNF
import websockets.asyncio.connection
import websockets.protocol
from websockets.asyncio.server import serve
from websockets.frames import Opcode

OPNAMES = {Opcode.TEXT: "text", Opcode.BINARY: "binary", Opcode.PING: "ping",
           Opcode.PONG: "pong", Opcode.CLOSE: "close", Opcode.CONT: "continuation"}
ABNF_NAMES = {ABNF.OPCODE_TEXT: "text", ABNF.OPCODE_BINARY: "binary",
              ABNF.OPCODE_PING: "ping", ABNF.OPCODE_PONG: "pong",
              ABNF.OPCODE_CLOSE: "close", ABNF.OPCODE_CONT: "continuation"}

PAUSE = 0.01  # between request/reply pairs (short, so ACKs piggyback)
LOG = []
LOG_LOCK = threading.Lock()


def entry(side, opname, data):
    code = reason = None
    if opname == "close" and len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        reason = data[2:].decode("utf-8")
    with LOG_LOCK:
        LOG.append({"from": side, "opcode": opname, "payload_hex": bytes(data).hex(),
                    "close_code": code, "close_reason": reason})


# --- wrap the websockets server's single send path -------------------------
_orig_send_frame = websockets.protocol.Protocol.send_frame


def _logged_send_frame(self, frame):
    entry("server", OPNAMES[frame.opcode], frame.data)
    return _orig_send_frame(self, frame)


websockets.protocol.Protocol.send_frame = _logged_send_frame

# --- postpone the server's half-close a little (see module docstring) -------
EOF_DELAY = 0.1


def _send_data_delayed_eof(self):
    for data in self.protocol.data_to_send():
        if data:
            self.transport.write(data)
        elif self.transport.can_write_eof():
            def eof(tr=self.transport):
                if not tr.is_closing():
                    tr.write_eof()
            self.loop.call_later(EOF_DELAY, eof)
        else:
            self.transport.close()


websockets.asyncio.connection.Connection.send_data = _send_data_delayed_eof

# Scripted server replies: what the server sends back for each client message.
REPLIES = {
    "hello": "hello back",
    "how are you?": "fine, thanks",
}


async def handler(ws):
    async for msg in ws:
        if isinstance(msg, bytes):
            await ws.send(bytes(reversed(msg)))          # binary reply
        else:
            await ws.send(REPLIES.get(msg, "echo: " + msg))


def run_server(host, port, ready, stop):
    async def main():
        async with serve(handler, host, port, compression=None,
                         ping_interval=None, close_timeout=5) as server:
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)
            server.close()
            await server.wait_closed()
    asyncio.run(main())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--fixture", required=True, help="path relative to Fixtures/")
    ap.add_argument("--log", required=True)
    ap.add_argument("--udp-port", type=int, default=None,
                    help="mixed mode: interleave UDP datagrams (to/from this port)")
    ap.add_argument("--icmp", action="store_true",
                    help="mixed mode: interleave ICMP echo requests (the kernel answers them)")
    a = ap.parse_args()

    ready, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=run_server, args=(a.host, a.port, ready, stop), daemon=True)
    t.start()
    ready.wait(5)

    udp = None
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    if a.udp_port:
        udp = socket.socket(fam, socket.SOCK_DGRAM)
        udp_srv = socket.socket(fam, socket.SOCK_DGRAM)
        udp_srv.bind((a.host, a.udp_port))

        def udp_echo():
            for _ in range(3):
                d, peer = udp_srv.recvfrom(2048)
                udp_srv.sendto(b"ack:" + d, peer)
        threading.Thread(target=udp_echo, daemon=True).start()
    icmp = None
    if a.icmp:   # equivalent of `ping -c 2` (no ping binary needed): raw ICMP echo
        icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)

    def icmp_echo(seq):
        payload = b"wstrace-ping-%d" % seq + bytes(range(32))
        hdr = struct.pack("!BBHHH", 8, 0, 0, 0x5753, seq)
        s = sum(struct.unpack("!%dH" % ((len(hdr + payload)) // 2), hdr + payload))
        s = (s >> 16) + (s & 0xFFFF); s += s >> 16
        hdr = struct.pack("!BBHHH", 8, 0, ~s & 0xFFFF, 0x5753, seq)
        icmp.sendto(hdr + payload, (a.host, 0))

    def side_traffic(i):
        if udp:
            udp.sendto(b"udp-datagram-%d" % i, (a.host, a.udp_port))
        if icmp and i in (1, 3):
            icmp_echo(1 if i == 1 else 2)
        if udp or icmp:
            time.sleep(0.1)

    hostpart = "[%s]" % a.host if ":" in a.host else a.host
    url = "ws://%s:%d/chat" % (hostpart, a.port)
    side_traffic(1)
    ws = websocket.WebSocket()
    orig = ws.send_frame

    def logged(frame):
        entry("client", ABNF_NAMES[frame.opcode], frame.data if isinstance(frame.data, bytes)
              else frame.data.encode())
        return orig(frame)
    ws.send_frame = logged
    ws.connect(url, origin="http://%s:%d" % (hostpart, a.port))
    client_port = ws.sock.getsockname()[1]

    def pause():
        time.sleep(PAUSE)

    ws.send("hello"); assert ws.recv() == "hello back"; pause()
    side_traffic(2)
    ws.send("how are you?"); assert ws.recv() == "fine, thanks"; pause()
    ws.send_binary(b"\x00\x01\x02\x03\xfe\xff"); assert ws.recv() == b"\xff\xfe\x03\x02\x01\x00"; pause()
    side_traffic(3)
    ws.ping(b"are you there?")
    op, fr = ws.recv_data_frame(True)
    assert op == ABNF.OPCODE_PONG and fr.data == b"are you there?", (op, fr.data)
    pause()

    # Closing handshake: client sends close 1000 "bye", server echoes it.
    ws.send_close(1000, b"bye")
    fr = ws.recv_frame()
    assert fr.opcode == ABNF.OPCODE_CLOSE and fr.data[:2] == b"\x03\xe8", fr
    sock = ws.sock
    sock.settimeout(5)
    assert sock.recv(1) == b""   # server half-closed: its FIN has arrived
    time.sleep(0.2)              # let our kernel send the pure ACK of that FIN first
    sock.close()                 # now our FIN goes out alone
    time.sleep(0.2)
    stop.set()
    t.join(5)

    with open(a.log, "w") as f:
        json.dump({"fixture": a.fixture,
                   "connections": [{"client_port": client_port, "server_port": a.port,
                                    "sent": LOG}]}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
