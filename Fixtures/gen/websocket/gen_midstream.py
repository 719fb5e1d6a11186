"""Captures that start AFTER the WebSocket handshake (no SYN, no HTTP Upgrade).

ws-midstream:         server aiohttp (no compression) / client websocket-client.
                      Handshake + 1 message each way happen before tcpdump starts.
ws-midstream-deflate: server websockets 17 / client websockets 17,
                      permessage-deflate WITH context takeover; handshake and
                      2 similar messages each way happen before tcpdump starts,
                      so compressed messages in the capture may back-reference
                      LZ77 history that is not in the capture.

Logs: "sent" lists only what is inside the capture; what was sent before the
capture started is in "sent_before_capture".
Decode with: tshark -r F -d tcp.port==19170,websocket  (19180 for -deflate).
"""
import asyncio
import json
import sys
import threading
import time

from aiohttp import web
import websocket  # websocket-client
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (ClientPerMessageDeflateFactory,
                                                      ServerPerMessageDeflateFactory)

from wsfix import Capture, FixtureLog, client_socket, hook_aiohttp, hook_websocket_client, \
    hook_websockets


def split_log(cl):
    """Everything logged so far happened before the capture."""
    cl.extra["sent_before_capture"] = cl.sent
    cl.sent = []


async def midstream():
    name, sport, cport = "ws-midstream", 19170, 19670
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()
    go = threading.Event()
    ready = threading.Event()

    async def handler(request):
        ws = web.WebSocketResponse(compress=False, autoping=True)
        await ws.prepare(request)
        hook_aiohttp(ws, cl, "server")
        async for m in ws:
            if m.type == web.WSMsgType.TEXT:
                await ws.send_str("ack " + m.data)
            elif m.type == web.WSMsgType.BINARY:
                await ws.send_bytes(m.data.upper())
        done.set()
        return ws

    def client():
        s = client_socket(cport, dst=("127.0.0.1", sport))
        ws = websocket.WebSocket()
        hook_websocket_client(ws, cl)
        ws.connect("ws://127.0.0.1:%d/stream" % sport, socket=s)
        ws.send("before capture")
        ws.recv()
        ready.set()
        go.wait(10)
        # --- capture is running from here on
        ws.send("first captured message")
        ws.recv()
        ws.send_binary(b"binary-in-the-middle")
        ws.recv()
        ws.ping(b"mid-ping")
        ws.send("x" * 300)   # 16-bit length
        ws.recv()
        ws.close(status=1000, reason=b"midstream done")

    app = web.Application()
    app.router.add_get("/stream", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sport).start()
    try:
        t = asyncio.create_task(asyncio.to_thread(client))
        await asyncio.to_thread(ready.wait, 10)
        await asyncio.sleep(0.3)    # handshake fully done and ACKed
        split_log(cl)
        cap = Capture(name, [sport])
        await asyncio.to_thread(cap.start)
        go.set()
        await t
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.to_thread(cap.stop)
    finally:
        await runner.cleanup()
    log.write(note="capture starts after the handshake; decode with -d tcp.port==%d,websocket" % sport)


EXTRA = ["", "", "banks led the gains", "oil slipped below ninety dollars",
         "tech shares were mixed", "bond yields edged lower"]


def quote(i, side):
    # later messages repeat most of the earlier (pre-capture) text and add some new words
    return json.dumps({"side": side, "seq": i, "text": "the market opened higher and the "
                       "index rose by %d points in early trading" % (10 + i), "extra": EXTRA[i]})


async def midstream_deflate():
    name, sport, cport = "ws-midstream-deflate", 19180, 19680
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    async def handler(ws):
        hook_websockets(ws, cl, "server")
        i = 0
        async for m in ws:
            await ws.send(quote(i, "server"))
            i += 1
        done.set()

    sfac = ServerPerMessageDeflateFactory()
    async with serve(handler, "127.0.0.1", sport, compression=None, extensions=[sfac]):
        s = client_socket(cport, dst=("127.0.0.1", sport), blocking=False)
        async with connect("ws://127.0.0.1:%d/quotes" % sport, sock=s, compression=None,
                           extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=True)]) as ws:
            hook_websockets(ws, cl, "client")
            cl.extra["negotiated_extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
            for i in range(2):
                await ws.send(quote(i, "client"))
                await ws.recv()
            await asyncio.sleep(0.3)
            split_log(cl)
            cap = Capture(name, [sport])
            await asyncio.to_thread(cap.start)
            for i in range(2, 6):
                await ws.send(quote(i, "client"))
                await ws.recv()
            await ws.close(1000, "midstream-deflate done")
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.to_thread(cap.stop)
    log.write(note="capture starts after the handshake and 2 compressed messages each way "
                   "(context takeover); decode with -d tcp.port==%d,websocket" % sport)


if __name__ == "__main__":
    fns = {"plain": midstream, "deflate": midstream_deflate}
    for w in sys.argv[1:] or list(fns):
        asyncio.run(fns[w]())
