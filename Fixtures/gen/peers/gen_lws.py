"""ws-libwebsockets.pcap and ws-libwebsockets-closeme.pcap: libwebsockets' test server
(Debian libwebsockets-test-server, lws 4.1.6) on :19230 with websockets 17 (Python) clients.

ws-libwebsockets: two connections, one after the other:
1. :19330 subprotocol dumb-increment-protocol: lws sends the text "0", "1", "2", ...
   every 50 ms.  After 6 numbers the client sends "reset\n" (lws restarts from 0) and a
   ping; after 6 more it closes with 1000 "enough numbers".
2. :19331 subprotocol lws-mirror-protocol: lws sends every message it receives back to
   every client of the mirror instance (here only the sender); 4 text messages, a
   ping, then a client close 1000.
ws-libwebsockets-closeme: :19332 dumb-increment-protocol, 3 numbers, then "closeme\n",
   to which lws answers with close 1001 "seeya" -- and one more number after its close
   frame (RFC 6455 5.5.1 forbids it; it happens on every run).

The clients offer permessage-deflate (websockets' default); the test server declines.

What the clients sent is logged by websockets' send hook.  The test server cannot log
its sends: its entries are what the websockets client *received* from it (hooked before
the handshake; frames after inflating, RSV1 as on the wire; frames after lws's close
parsed with websockets' Frame.parse and marked "after_close"), which is what lws is
documented to send (plugins/protocol_dumb_increment.c, protocol_lws_mirror.c);
verify.py checks them against tshark's dissection of the capture.
"""
import asyncio
import signal
import subprocess

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from peerfix import FixtureLog, PeerCapture, Proc, client_socket, logging_client_connection, wait_port

SPORT = 19230
CPORT_DI, CPORT_MIRROR, CPORT_CLOSEME = 19330, 19331, 19332


async def dumb_increment(log, cport, closeme):
    cl = log.conn(cport, SPORT, server_side_logged_from="frames received by the websockets client")
    sock = client_socket(cport, dst=("127.0.0.1", SPORT))
    async with connect("ws://127.0.0.1:%d/" % SPORT, sock=sock, subprotocols=["dumb-increment-protocol"],
                       ping_interval=None, create_connection=logging_client_connection(cl, "server")) as ws:
        cl.extra.update(subprotocol=ws.subprotocol,
                        negotiated_extensions=ws.response.headers.get("Sec-WebSocket-Extensions"))
        got = []
        if closeme:
            while len(got) < 3:
                got.append(await asyncio.wait_for(ws.recv(), 5))
            await ws.send("closeme\n")
        else:
            while len(got) < 6:
                got.append(await asyncio.wait_for(ws.recv(), 5))
            await ws.send("reset\n")
            pong = await ws.ping(b"lws ping 1")
            await asyncio.wait_for(pong, 5)
            # after the reset lws counts from 0 again; read 6 more
            for _ in range(6):
                got.append(await asyncio.wait_for(ws.recv(), 5))
            await ws.close(1000, "enough numbers")
        try:
            while True:  # numbers still in flight, then the close
                got.append(await asyncio.wait_for(ws.recv(), 5))
        except ConnectionClosed:
            pass
        print("  dumb-increment: closed %s %r after %s" % (ws.close_code, ws.close_reason, got))


async def mirror(log):
    cl = log.conn(CPORT_MIRROR, SPORT, server_side_logged_from="frames received by the websockets client")
    sock = client_socket(CPORT_MIRROR, dst=("127.0.0.1", SPORT))
    async with connect("ws://127.0.0.1:%d/" % SPORT, sock=sock, subprotocols=["lws-mirror-protocol"],
                       ping_interval=None, create_connection=logging_client_connection(cl, "server")) as ws:
        cl.extra.update(subprotocol=ws.subprotocol,
                        negotiated_extensions=ws.response.headers.get("Sec-WebSocket-Extensions"))
        msgs = ["c #%06X 100 120 30;" % 0x3366FF, "d #FF0000 10 20 300 400;",
                "mirror text from a websockets client, mirrored by lws " * 3,
                "c #%06X 200 220 15;" % 0x00AA00]
        for m in msgs:
            await ws.send(m)
            echo = await asyncio.wait_for(ws.recv(), 5)
            assert echo == m, (echo, m)
        pong = await ws.ping(b"lws ping 2")
        await asyncio.wait_for(pong, 5)
        await ws.close(1000, "mirror done")
        print("  mirror: closed %s %r" % (ws.close_code, ws.close_reason))


async def run_main(log):
    await dumb_increment(log, CPORT_DI, closeme=False)
    await asyncio.sleep(0.3)
    await mirror(log)


async def run_closeme(log):
    await dumb_increment(log, CPORT_CLOSEME, closeme=True)


def capture(name, runner, ver):
    log = FixtureLog(name)
    server = Proc(["libwebsockets-test-server", "--port=%d" % SPORT], stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL)
    try:
        wait_port(SPORT)
        cap = PeerCapture(name, [SPORT]).start()
        try:
            asyncio.run(runner(log))
        finally:
            cap.stop()
    finally:
        server.stop(sig=signal.SIGINT)
    for c in log.conns:
        c.extra["server"] = "libwebsockets-test-server (libwebsockets %s)" % ver
        c.extra["client"] = "websockets %s (Python)" % websockets.__version__
    log.write(note="client entries: websockets' send hook; server (lws) entries: the frames the "
                   "websockets client received, inflated (lws cannot log its sends); after_close: "
                   "sent by lws after its own close frame, parsed by websockets' Frame.parse")


def main():
    ver = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libwebsockets17"],
                         capture_output=True, text=True).stdout
    capture("ws-libwebsockets", run_main, ver)
    capture("ws-libwebsockets-closeme", run_closeme, ver)


if __name__ == "__main__":
    main()
