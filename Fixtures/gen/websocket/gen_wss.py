"""ws-wss-and-plain.pcap: a wss (TLS) connection and a plain ws connection,
running concurrently.

wss:   server websockets 17 on :19190, TLS with a self-signed cert for ws.test
       (made with openssl by this script, EC P-256, SAN DNS:ws.test), ALPN
       http/1.1; client websockets 17 from :19690, SNI ws.test, ALPN http/1.1.
       TLS secrets are written (NSS key log format) next to the capture:
       Fixtures/websocket/ws-wss-and-plain.keys
       (tshark -o tls.keylog_file:ws-wss-and-plain.keys ...).
plain: server aiohttp on :19191 / client websocket-client from :19691.
"""
import asyncio
import os
import ssl
import subprocess
import time

from aiohttp import web
import websocket  # websocket-client
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from wsfix import HERE, OUT_DIR, Capture, FixtureLog, client_socket, hook_aiohttp, \
    hook_websocket_client, hook_websockets

PS, PP, CS, CP = 19190, 19191, 19690, 19691
TMP = os.path.join(HERE, "tmp")
CERT, KEY = os.path.join(TMP, "ws.test.crt"), os.path.join(TMP, "ws.test.key")
KEYLOG = os.path.join(OUT_DIR, "ws-wss-and-plain.keys")


def make_cert():
    os.makedirs(TMP, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", KEY, "-out", CERT, "-days", "3650", "-subj", "/CN=ws.test",
                    "-addext", "subjectAltName=DNS:ws.test"], check=True, capture_output=True)


async def main():
    name = "ws-wss-and-plain"
    make_cert()
    if os.path.exists(KEYLOG):
        os.unlink(KEYLOG)
    log = FixtureLog(name)
    ls_ = log.conn(CS, PS, tls=True, sni="ws.test", alpn=None)
    lp = log.conn(CP, PP, tls=False)
    done_s, done_p = asyncio.Event(), asyncio.Event()
    seen_sni = []

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(CERT, KEY)
    sctx.set_alpn_protocols(["http/1.1"])
    sctx.sni_callback = lambda sslobj, server_name, ctx: seen_sni.append(server_name)

    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(CERT)
    cctx.set_alpn_protocols(["http/1.1"])
    cctx.keylog_filename = KEYLOG

    async def handler_s(ws):
        hook_websockets(ws, ls_, "server")
        async for m in ws:
            await ws.send("secure echo: " + m)
        done_s.set()

    async def handler_p(request):
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        hook_aiohttp(ws, lp, "server")
        async for m in ws:
            await ws.send_str("plain echo: " + m.data)
        done_p.set()
        return ws

    app = web.Application()
    app.router.add_get("/plain", handler_p)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PP).start()

    async def client_s():
        s = client_socket(CS, dst=("127.0.0.1", PS), blocking=False)
        async with connect("wss://ws.test:%d/secure" % PS, sock=s, ssl=cctx,
                           server_hostname="ws.test", compression=None) as ws:
            hook_websockets(ws, ls_, "client")
            ls_.extra["alpn"] = ws.transport.get_extra_info("ssl_object").selected_alpn_protocol()
            ls_.extra["tls_version"] = ws.transport.get_extra_info("ssl_object").version()
            for i in range(3):
                await ws.send("secret %d" % i)
                await ws.recv()
                await asyncio.sleep(0.03)
            await ws.close(1000, "wss done")

    def client_p():
        s = client_socket(CP, dst=("127.0.0.1", PP))
        ws = websocket.WebSocket()
        hook_websocket_client(ws, lp)
        ws.connect("ws://127.0.0.1:%d/plain" % PP, socket=s)
        for i in range(3):
            ws.send("public %d" % i)
            ws.recv()
            time.sleep(0.03)
        ws.close(status=1000, reason=b"plain done")

    try:
        async with serve(handler_s, "127.0.0.1", PS, ssl=sctx, compression=None):
            async with Capture(name, [PS, PP]):
                await asyncio.gather(client_s(), asyncio.to_thread(client_p))
                await asyncio.wait_for(done_s.wait(), 5)
                await asyncio.wait_for(done_p.wait(), 5)
    finally:
        await runner.cleanup()
    ls_.extra["server_saw_sni"] = seen_sni[0] if seen_sni else None
    log.write(tls_keylog="ws-wss-and-plain.keys")


if __name__ == "__main__":
    asyncio.run(main())
