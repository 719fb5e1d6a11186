"""permessage-deflate variants.

ws-deflate-takeover:    server aiohttp (compress=15) / client websockets 17
                        context takeover both ways, similar JSON messages.
ws-deflate-no-takeover: server websockets 17 / client websockets 17; both
                        server_no_context_takeover and client_no_context_takeover
                        offered and echoed in the response.
                        (tornado 6.6 drops valueless extension params, so it
                        cannot negotiate no_context_takeover properly.)
ws-deflate-window-bits: server websockets 17 (server_max_window_bits=10,
                        client_max_window_bits=10) / client websockets 17.
ws-deflate-fragmented:  server websockets 17 / client websockets 17, context
                        takeover; fragmented compressed messages both ways
                        (RSV1 only on the first frame).
"""
import asyncio
import json
import sys

from aiohttp import web
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (ClientPerMessageDeflateFactory,
                                                      ServerPerMessageDeflateFactory)

from wsfix import Capture, FixtureLog, client_socket, hook_aiohttp, hook_websockets


def tick(i, side):
    return json.dumps({"type": "tick", "from": side, "symbol": "ACME", "seq": i,
                       "price": "%.2f" % (101.25 + i * 0.5), "currency": "EUR",
                       "exchange": "XETRA", "note": "price update for ACME Corporation"})


async def ws_client(name, sport, cport, path, factory, cl, body, max_size=2 ** 20):
    s = client_socket(cport, dst=("127.0.0.1", sport), blocking=False)
    async with connect("ws://127.0.0.1:%d%s" % (sport, path), sock=s, compression=None,
                       extensions=[factory], max_size=max_size) as ws:
        hook_websockets(ws, cl, "client")
        print(name, "negotiated:", ws.response.headers.get("Sec-WebSocket-Extensions"))
        await body(ws)


# ------------------------------------------------------------------ takeover
async def takeover():
    name, sport, cport = "ws-deflate-takeover", 19040, 19540
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    async def handler(request):
        ws = web.WebSocketResponse(compress=15)
        await ws.prepare(request)
        hook_aiohttp(ws, cl, "server")
        i = 0
        async for m in ws:
            await ws.send_str(tick(i, "server"))
            i += 1
        done.set()
        return ws

    app = web.Application()
    app.router.add_get("/ticks", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sport).start()

    async def body(ws):
        for i in range(6):
            await ws.send(tick(i, "client"))
            await ws.recv()
        await ws.close(1000, "takeover done")

    try:
        async with Capture(name, [sport]):
            await ws_client(name, sport, cport, "/ticks",
                            ClientPerMessageDeflateFactory(client_max_window_bits=True), cl, body)
            await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.cleanup()
    log.write()


# ------------------------------------------------------------------ no takeover
async def no_takeover():
    name, sport, cport = "ws-deflate-no-takeover", 19050, 19550
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    async def handler(ws):
        hook_websockets(ws, cl, "server")
        i = 0
        async for m in ws:
            await ws.send(tick(i, "server"))
            i += 1
        done.set()

    sfac = ServerPerMessageDeflateFactory(server_no_context_takeover=True,
                                          client_no_context_takeover=True)
    server = await serve(handler, "127.0.0.1", sport, compression=None, extensions=[sfac])

    async def body(ws):
        for i in range(5):
            await ws.send(tick(i, "client"))
            await ws.recv()
        await ws.close(1000, "no-takeover done")

    try:
        async with Capture(name, [sport]):
            await ws_client(name, sport, cport, "/ticks",
                            ClientPerMessageDeflateFactory(server_no_context_takeover=True,
                                                           client_no_context_takeover=True,
                                                           client_max_window_bits=True), cl, body)
            await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()
    log.write()


# ------------------------------------------------------------------ window bits
def doc(i, side):
    # ~3 KB: a repeated 700-byte block further apart than 1 KiB windows can see,
    # plus short-range repetition.
    block = "".join("%s-row-%03d:value=%d;" % (side, r, (r * 37 + i) % 1000) for r in range(40))
    filler = "".join(chr(65 + (k * 13 + i) % 26) for k in range(1200))
    return block + filler + block


async def window_bits():
    name, sport, cport = "ws-deflate-window-bits", 19060, 19560
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    async def handler(ws):
        hook_websockets(ws, cl, "server")
        i = 0
        async for m in ws:
            await ws.send(doc(i, "server"))
            i += 1
        done.set()

    async def body(ws):
        for i in range(4):
            await ws.send(doc(i, "client"))
            await ws.recv()
        await ws.close(1000, "window-bits done")

    sfac = ServerPerMessageDeflateFactory(server_max_window_bits=10, client_max_window_bits=10)
    async with serve(handler, "127.0.0.1", sport, compression=None, extensions=[sfac]):
        async with Capture(name, [sport]):
            await ws_client(name, sport, cport, "/docs",
                            ClientPerMessageDeflateFactory(server_max_window_bits=10,
                                                           client_max_window_bits=True), cl, body)
            await asyncio.wait_for(done.wait(), 5)
    log.write()


# ------------------------------------------------------------------ fragmented + deflate
async def fragmented():
    name, sport, cport = "ws-deflate-fragmented", 19070, 19570
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    async def handler(ws):
        hook_websockets(ws, cl, "server")
        m = await ws.recv()
        await ws.send("ack: " + m[:40])
        m = await ws.recv()
        await ws.send([b"compressed binary part %d " % k * 8 for k in range(4)])
        await ws.wait_closed()
        done.set()

    async def body(ws):
        await ws.send(tick(0, "client"))   # unfragmented compressed first
        await ws.recv()
        await ws.send(["fragment %d of a compressed text message; " % k * 5 for k in range(3)])
        await ws.recv()
        await ws.close(1000, "deflate-fragmented done")

    sfac = ServerPerMessageDeflateFactory()
    async with serve(handler, "127.0.0.1", sport, compression=None, extensions=[sfac]):
        async with Capture(name, [sport]):
            await ws_client(name, sport, cport, "/frag",
                            ClientPerMessageDeflateFactory(client_max_window_bits=True), cl, body)
            await asyncio.wait_for(done.wait(), 5)
    log.write()


if __name__ == "__main__":
    fns = {"takeover": takeover, "no-takeover": no_takeover, "window-bits": window_bits,
           "fragmented": fragmented}
    for w in sys.argv[1:] or list(fns):
        asyncio.run(fns[w]())
