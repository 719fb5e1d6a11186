"""ws-concurrent.pcap: three interleaved connections, three server libs, three
client libs, each negotiating a different Sec-WebSocket-Protocol.

A  websockets 17 server :19140  <- websocket-client :19650   subprotocol chat.v1
B  aiohttp server       :19141  <- websockets 17    :19651   graphql-transport-ws (+ permessage-deflate)
C  tornado server       :19142  <- aiohttp client   :19652   wamp.2.json
"""
import asyncio
import time

import aiohttp
from aiohttp import web
import tornado.web
import tornado.websocket
import websocket  # websocket-client
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from wsfix import Capture, FixtureLog, client_socket, hook_aiohttp, hook_tornado, \
    hook_websocket_client, hook_websockets

PA, PB, PC = 19140, 19141, 19142
CA, CB, CC = 19650, 19651, 19652
ROUNDS = 4
STEP = 0.06


async def main():
    name = "ws-concurrent"
    log = FixtureLog(name)
    la, lb, lc = log.conn(CA, PA), log.conn(CB, PB), log.conn(CC, PC)
    closed = {k: asyncio.Event() for k in "ABC"}
    loop = asyncio.get_running_loop()

    # ---- A: websockets server
    async def handler_a(ws):
        hook_websockets(ws, la, "server")
        la.extra["subprotocol"] = ws.subprotocol
        async for m in ws:
            await ws.send("A-reply to %s" % m)
        closed["A"].set()

    # ---- B: aiohttp server
    async def handler_b(request):
        ws = web.WebSocketResponse(protocols=("graphql-transport-ws",))
        await ws.prepare(request)
        hook_aiohttp(ws, lb, "server")
        lb.extra["subprotocol"] = ws.ws_protocol
        async for m in ws:
            await ws.send_str('{"type":"next","id":"1","payload":{"echo":%s}}' % m.data)
        closed["B"].set()
        return ws

    app = web.Application()
    app.router.add_get("/graphql", handler_b)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PB).start()

    # ---- C: tornado server
    class HC(tornado.websocket.WebSocketHandler):
        def select_subprotocol(self, subprotocols):
            return "wamp.2.json" if "wamp.2.json" in subprotocols else None

        def open(self):
            hook_tornado(self, lc, "server")
            lc.extra["subprotocol"] = self.selected_subprotocol

        def on_message(self, message):
            self.write_message('[3,%d,{},"C-reply"]' % len(message))

        def on_close(self):
            loop.call_soon_threadsafe(closed["C"].set)

    tserver = tornado.web.Application([(r"/wamp", HC)]).listen(PC, address="127.0.0.1")

    t0 = None

    # ---- clients
    def client_a():
        s = client_socket(CA, dst=("127.0.0.1", PA))
        ws = websocket.WebSocket()
        hook_websocket_client(ws, la)
        ws.connect("ws://127.0.0.1:%d/chat" % PA, socket=s, subprotocols=["chat.v3", "chat.v1"])
        for r in range(ROUNDS):
            time.sleep(max(0, t0 + r * STEP + 0.00 - time.monotonic()))
            ws.send("msg-%d from websocket-client" % r)
            ws.recv()
        time.sleep(max(0, t0 + ROUNDS * STEP - time.monotonic()))
        ws.close(status=1000, reason=b"A bye")

    async def client_b():
        s = client_socket(CB, dst=("127.0.0.1", PB), blocking=False)
        async with connect("ws://127.0.0.1:%d/graphql" % PB, sock=s,
                           subprotocols=["graphql-transport-ws", "graphql-ws"]) as ws:
            hook_websockets(ws, lb, "client")
            for r in range(ROUNDS):
                await asyncio.sleep(max(0, t0 + r * STEP + 0.02 - time.monotonic()))
                await ws.send('{"type":"subscribe","n":%d}' % r)
                await ws.recv()
            await asyncio.sleep(max(0, t0 + ROUNDS * STEP + 0.02 - time.monotonic()))
            await ws.close(1000, "B bye")

    async def client_c():
        conn = aiohttp.TCPConnector(local_addr=("127.0.0.1", CC), force_close=True)
        async with aiohttp.ClientSession(connector=conn) as sess:
            async with sess.ws_connect("ws://127.0.0.1:%d/wamp" % PC,
                                       protocols=("wamp.2.msgpack", "wamp.2.json")) as ws:
                hook_aiohttp(ws, lc, "client")
                for r in range(ROUNDS):
                    await asyncio.sleep(max(0, t0 + r * STEP + 0.04 - time.monotonic()))
                    await ws.send_str('[1,"realm%d",{}]' % r)
                    await ws.receive()
                await asyncio.sleep(max(0, t0 + ROUNDS * STEP + 0.04 - time.monotonic()))
                await ws.close(code=1000, message=b"C bye")

    try:
        async with serve(handler_a, "127.0.0.1", PA, subprotocols=["chat.v1", "chat.v2"],
                         compression=None):
            async with Capture(name, [PA, PB, PC]):
                t0 = time.monotonic() + 0.3   # all three connect first, then interleave
                await asyncio.gather(asyncio.to_thread(client_a), client_b(), client_c())
                for e in closed.values():
                    await asyncio.wait_for(e.wait(), 5)
    finally:
        await runner.cleanup()
        tserver.stop()
    log.write()


if __name__ == "__main__":
    asyncio.run(main())
