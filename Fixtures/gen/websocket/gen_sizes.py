"""ws-sizes.pcap, ws-sizes-s2c.pcap (no compression; 7/16/64-bit length
fields) and ws-large-deflate.pcap (1 MiB compressible text, permessage-deflate).

ws-sizes:      server websockets 17 / client websocket-client 1.9
ws-sizes-s2c:  server aiohttp      / client websockets 17
ws-large-deflate: server tornado (compression on) / client websockets (deflate)

Both directions with all five sizes would be ~263 KB of payload, over the
200 KiB per-capture budget, so the sizes are split over two captures, each
of which still has 7-bit, 16-bit and 64-bit length fields in both directions.
"""
import asyncio
import sys

import aiohttp
from aiohttp import web
import tornado.web
import tornado.websocket
import websocket  # websocket-client
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from wsfix import Capture, FixtureLog, client_socket, hook_aiohttp, hook_tornado, \
    hook_websocket_client, hook_websockets

ALL = [0, 125, 126, 65535, 65536]


def text_of(n, seed):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[(i * 7 + seed) % len(alphabet)] for i in range(n))


def bin_of(n, seed):
    return bytes(((i * 31 + seed) ^ (i >> 8)) & 0xFF for i in range(n))


def msg(n, idx, seed):
    # alternate text / binary
    return text_of(n, seed + idx) if idx % 2 == 0 else bin_of(n, seed + idx)


# ------------------------------------------------------------------ ws-sizes
async def sizes_c2s():
    name, sport, cport = "ws-sizes", 19010, 19510
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    server_sizes = [0, 125, 126, 2, 65536]   # reply i to client message i
    done = asyncio.Event()

    async def handler(ws):
        hook_websockets(ws, cl, "server")
        for i in range(len(ALL)):
            await ws.recv()
            await ws.send(msg(server_sizes[i], i, 100))
        await ws.wait_closed()
        done.set()

    def client():
        s = client_socket(cport, dst=("127.0.0.1", sport))
        ws = websocket.WebSocket()
        hook_websocket_client(ws, cl)
        ws.connect("ws://127.0.0.1:%d/sizes" % sport, socket=s)
        for i, n in enumerate(ALL):
            m = msg(n, i, 1)
            ws.send(m, websocket.ABNF.OPCODE_TEXT if isinstance(m, str) else websocket.ABNF.OPCODE_BINARY)
            ws.recv()
        ws.close(status=1000, reason=b"sizes done")

    async with serve(handler, "127.0.0.1", sport, compression=None, max_size=None):
        async with Capture(name, [sport]):
            await asyncio.to_thread(client)
            await asyncio.wait_for(done.wait(), 5)
    log.write()


# ------------------------------------------------------------------ ws-sizes-s2c
async def sizes_s2c():
    name, sport, cport = "ws-sizes-s2c", 19012, 19512
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    client_sizes = [0, 125, 126, 65535, 2]   # reply i to server message i
    done = asyncio.Event()

    async def handler(request):
        ws = web.WebSocketResponse(compress=False, max_msg_size=0)
        await ws.prepare(request)
        hook_aiohttp(ws, cl, "server")
        for i, n in enumerate(ALL):
            m = msg(n, i, 50)
            if isinstance(m, str):
                await ws.send_str(m)
            else:
                await ws.send_bytes(m)
            await ws.receive()
        await ws.close(code=1000, message=b"s2c done")
        done.set()
        return ws

    app = web.Application()
    app.router.add_get("/sizes", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", sport)
    await site.start()
    try:
        async with Capture(name, [sport]):
            s = client_socket(cport, dst=("127.0.0.1", sport), blocking=False)
            async with connect("ws://127.0.0.1:%d/sizes" % sport, sock=s,
                               compression=None, max_size=None) as ws:
                hook_websockets(ws, cl, "client")
                for i in range(len(ALL)):
                    await ws.recv()
                    await ws.send(msg(client_sizes[i], i, 7))
                await ws.wait_closed()
            await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.cleanup()
    log.write()


# ------------------------------------------------------------------ ws-large-deflate
def big_text():
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
             "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
    lines = []
    size = 0
    i = 0
    while size < 1 << 20:
        line = "%06d %s %s %s the quick brown fox jumps over the lazy dog\n" % (
            i, words[i % 16], words[(i * 3) % 16], words[(i * 7) % 16])
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines)[: 1 << 20]   # exactly 1 MiB


async def large_deflate():
    name, sport, cport = "ws-large-deflate", 19020, 19520
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    class H(tornado.websocket.WebSocketHandler):
        def get_compression_options(self):
            return {}

        def open(self):
            hook_tornado(self, cl, "server")

        def on_message(self, message):
            self.write_message("received %d bytes" % len(message))

        def on_close(self):
            done.set()

    app = tornado.web.Application([(r"/large", H)], websocket_max_message_size=8 << 20)
    server = app.listen(sport, address="127.0.0.1")
    payload = big_text()
    try:
        async with Capture(name, [sport]):
            s = client_socket(cport, dst=("127.0.0.1", sport), blocking=False)
            async with connect("ws://127.0.0.1:%d/large" % sport, sock=s, max_size=None,
                               extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=True)],
                               compression=None) as ws:
                hook_websockets(ws, cl, "client")
                await ws.send(payload)
                await ws.recv()
                await ws.close(1000, "large done")
            await asyncio.wait_for(done.wait(), 5)
    finally:
        server.stop()
    log.write()


if __name__ == "__main__":
    which = sys.argv[1:] or ["sizes", "sizes-s2c", "large-deflate"]
    for w in which:
        asyncio.run({"sizes": sizes_c2s, "sizes-s2c": sizes_s2c, "large-deflate": large_deflate}[w]())
