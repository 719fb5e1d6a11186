"""Close / abort / rejection variants.

ws-close-server-1001: server aiohttp closes with 1001 "going away";
                      client websocket-client replies with its default close (1000).
ws-close-client-4000: client websockets 17 closes with 4000 + non-ASCII UTF-8
                      reason; server tornado echoes the code (no reason).
ws-rst-no-close:      client websocket-client aborts the TCP connection with
                      SO_LINGER{1,0} (RST) and no close frame; server websockets 17.
ws-rejected-upgrade:  server websockets 17 (process_request hook):
                      conn 1 websocket-client -> GET /forbidden -> 403 Forbidden
                      conn 2 raw socket, GET without "Upgrade: websocket" -> 426
                      conn 3 raw socket, Sec-WebSocket-Version: 8 -> 400
"""
import asyncio
import http
import socket
import struct
import sys
import time

from aiohttp import web
import tornado.web
import tornado.websocket
import websocket  # websocket-client
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError

from wsfix import Capture, FixtureLog, client_socket, hook_aiohttp, hook_tornado, \
    hook_websocket_client, hook_websockets


# ------------------------------------------------------------------ server 1001
async def close_server_1001():
    name, sport, cport = "ws-close-server-1001", 19100, 19600
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    async def handler(request):
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        hook_aiohttp(ws, cl, "server")
        msg = await ws.receive()
        await ws.send_str("welcome, " + msg.data)
        await ws.receive()
        await ws.send_str("server is shutting down")
        await ws.close(code=1001, message=b"going away")
        done.set()
        return ws

    def client():
        s = client_socket(cport, dst=("127.0.0.1", sport))
        ws = websocket.WebSocket()
        hook_websocket_client(ws, cl)
        ws.connect("ws://127.0.0.1:%d/svc" % sport, socket=s)
        ws.send("alice")
        ws.recv()
        ws.send("status?")
        ws.recv()
        while True:   # the close frame makes websocket-client answer with its own close
            op, frame = ws.recv_data_frame(True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                break
        time.sleep(0.2)   # let the server close TCP first
        ws.shutdown()

    app = web.Application()
    app.router.add_get("/svc", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sport).start()
    try:
        async with Capture(name, [sport]):
            await asyncio.to_thread(client)
            await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.cleanup()
    log.write()


# ------------------------------------------------------------------ client 4000
REASON_4000 = "Tschüss — 再见 👋 client leaving"


async def close_client_4000():
    name, sport, cport = "ws-close-client-4000", 19110, 19610
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    class H(tornado.websocket.WebSocketHandler):
        def open(self):
            hook_tornado(self, cl, "server")

        def on_message(self, message):
            self.write_message("got: " + message)

        def on_close(self):
            done.set()

    server = tornado.web.Application([(r"/chat", H)]).listen(sport, address="127.0.0.1")
    try:
        async with Capture(name, [sport]):
            s = client_socket(cport, dst=("127.0.0.1", sport), blocking=False)
            async with connect("ws://127.0.0.1:%d/chat" % sport, sock=s, compression=None) as ws:
                hook_websockets(ws, cl, "client")
                await ws.send("hello")
                await ws.recv()
                await ws.close(4000, REASON_4000)
            await asyncio.wait_for(done.wait(), 5)
    finally:
        server.stop()
    log.write()


# ------------------------------------------------------------------ RST
async def rst_no_close():
    name, sport, cport = "ws-rst-no-close", 19120, 19620
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    async def handler(ws):
        hook_websockets(ws, cl, "server")
        try:
            async for m in ws:
                await ws.send("echo: " + m)
        except ConnectionClosedError as e:
            print("server: connection aborted:", e)
        finally:
            print("server saw close code:", ws.close_code)
            done.set()

    def client():
        s = client_socket(cport, dst=("127.0.0.1", sport))
        ws = websocket.WebSocket()
        hook_websocket_client(ws, cl)
        ws.connect("ws://127.0.0.1:%d/echo" % sport, socket=s)
        for t in ("one", "two"):
            ws.send(t)
            ws.recv()
        time.sleep(0.1)
        # abort: linger on, timeout 0 => close() sends RST, no close frame
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    async with serve(handler, "127.0.0.1", sport, compression=None):
        async with Capture(name, [sport]):
            await asyncio.to_thread(client)
            await asyncio.wait_for(done.wait(), 5)
    log.write()


# ------------------------------------------------------------------ rejected upgrade
async def rejected():
    name, sport = "ws-rejected-upgrade", 19130
    log = FixtureLog(name)

    def process_request(connection, request):
        if request.path == "/forbidden":
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Forbidden: no access to /forbidden\n")
        return None

    async def handler(ws):
        await ws.close()

    def raw(cport, request):
        s = client_socket(cport, dst=("127.0.0.1", sport))
        s.sendall(request.encode())
        data = b""
        s.settimeout(2)
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        s.close()
        return data

    def clients():
        # 1: websocket-client against a path the server forbids -> 403
        s = client_socket(19630, dst=("127.0.0.1", sport))
        ws = websocket.WebSocket()
        try:
            ws.connect("ws://127.0.0.1:%d/forbidden" % sport, socket=s)
        except websocket.WebSocketBadStatusException as e:
            print("conn1:", e.status_code)
            log.conn(19630, sport, http_status=e.status_code, request_path="/forbidden",
                     client="websocket-client")
        s.close()
        time.sleep(0.1)
        # 2: no Upgrade header -> 426 Upgrade Required
        r = raw(19631, "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: keep-alive\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                       "User-Agent: raw-socket-test\r\n\r\n" % sport)
        st = int(r.split(b" ", 2)[1])
        print("conn2:", st)
        log.conn(19631, sport, http_status=st, request_path="/chat", client="raw socket (no Upgrade header)")
        time.sleep(0.1)
        # 3: unsupported Sec-WebSocket-Version -> 400
        r = raw(19632, "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 8\r\nUser-Agent: raw-socket-test\r\n\r\n" % sport)
        st = int(r.split(b" ", 2)[1])
        print("conn3:", st)
        log.conn(19632, sport, http_status=st, request_path="/chat",
                 client="raw socket (Sec-WebSocket-Version: 8)")

    async with serve(handler, "127.0.0.1", sport, process_request=process_request):
        async with Capture(name, [sport]):
            await asyncio.to_thread(clients)
    log.write()


if __name__ == "__main__":
    fns = {"server-1001": close_server_1001, "client-4000": close_client_4000,
           "rst": rst_no_close, "rejected": rejected}
    for w in sys.argv[1:] or list(fns):
        asyncio.run(fns[w]())
