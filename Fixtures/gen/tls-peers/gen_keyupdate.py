"""wss-keyupdate.pcap: TLS 1.3 with a KeyUpdate from EACH side in the middle of a
WebSocket conversation.

server: websockets 17 (asyncio) wss on 127.0.0.1:19530, EC P-256 cert for ws.test, ALPN http/1.1.
client: websockets 17 (asyncio) from 127.0.0.1:19531, SNI ws.test, ALPN http/1.1,
        no extension (so every payload is readable in the decrypted capture).
Key log: the client's SSLContext.keylog_filename (OpenSSL's keylog callback) ->
Fixtures/tls/wss-keyupdate.keys.

The ssl module has no KeyUpdate call, so tlsfix.key_update() calls OpenSSL's
SSL_key_update() on the connection's own SSL* (ctypes); OpenSSL then sends the KeyUpdate
record just before the next application-data record (the next WebSocket frame).  Both
peers run on one asyncio loop in one thread, so no OpenSSL call races another.

Conversation (lock-step, each client message answered by the server):
  1. client text, client binary               (epoch 0 both ways)
  2. CLIENT KeyUpdate(update_not_requested), then client text  -> client->server keys change
  3. server echo (still its old keys)
  4. SERVER KeyUpdate(update_requested), then server text      -> server->client keys change
  5. client ping: OpenSSL answers the request with the client's own
     KeyUpdate(update_not_requested) before the ping              -> client keys change again
  6. server pong, client binary, server echo, client close 1000 "keyupdate done", server close echo.
"""
import asyncio
import os
import ssl

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

import tlsfix
from tlsfix import TlsCapture, FixtureLog, client_socket, hook_websockets, keys_path, fresh

NAME = "wss-keyupdate"
SPORT, CPORT = 19530, 19531


async def main():
    cert, key = tlsfix.make_cert("ec")
    keylog = fresh(keys_path(NAME))
    log = FixtureLog(NAME)
    cl = log.conn(CPORT, SPORT)
    seen_sni, done = [], asyncio.Event()
    kus = []
    server_tls = {}

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.minimum_version = ssl.TLSVersion.TLSv1_3
    sctx.load_cert_chain(cert, key)
    sctx.set_alpn_protocols(["http/1.1"])
    sctx.sni_callback = lambda sslobj, server_name, ctx: seen_sni.append(server_name)

    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.minimum_version = ssl.TLSVersion.TLSv1_3
    cctx.load_verify_locations(cert)
    cctx.set_alpn_protocols(["http/1.1"])
    cctx.keylog_filename = keylog

    def n_sent(side):
        return sum(1 for e in cl.sent if e["from"] == side)

    async def handler(ws):
        hook_websockets(ws, cl, "server")
        so = ws.transport.get_extra_info("ssl_object")
        n = 0
        async for m in ws:
            n += 1
            if n == 4:
                # step 4: the server's own KeyUpdate, asking the client to update too
                tlsfix.key_update(so, requested=True)
                kus.append({"from": "server", "update_requested": True,
                            "before_frame_of_side": n_sent("server")})
            if isinstance(m, str):
                await ws.send("server echo #%d: %s" % (n, m))
            else:
                await ws.send(bytes(reversed(m)))
        server_tls.update(tlsfix.tls_info_py(so, "server", sni=seen_sni[0] if seen_sni else None))
        done.set()

    async def client():
        s = client_socket(CPORT, dst=("127.0.0.1", SPORT), blocking=False)
        async with connect("wss://ws.test:%d/keyupdate" % SPORT, sock=s, ssl=cctx,
                           server_hostname="ws.test", compression=None) as ws:
            hook_websockets(ws, cl, "client")
            so = ws.transport.get_extra_info("ssl_object")
            await ws.send("client text before any KeyUpdate")
            await ws.recv()
            await ws.send(bytes(range(0, 256, 7)))
            await ws.recv()
            # step 2: client KeyUpdate (not requested), then a message under the new key
            tlsfix.key_update(so, requested=False)
            kus.append({"from": "client", "update_requested": False,
                        "before_frame_of_side": n_sent("client")})
            await ws.send("client text after the client's KeyUpdate")
            await ws.recv()
            await ws.send("client text that triggers the server's KeyUpdate")
            await ws.recv()   # arrives after the server's KeyUpdate(update_requested)
            await asyncio.sleep(0.05)
            # step 5: OpenSSL sends the requested KeyUpdate before this ping
            kus.append({"from": "client", "update_requested": False, "answering": "server",
                        "before_frame_of_side": n_sent("client")})
            pong = await ws.ping(b"ping after both KeyUpdates")
            await asyncio.wait_for(pong, 5)
            await ws.send(b"\x00\x01binary after all KeyUpdates\xfe\xff")
            await ws.recv()
            cl.extra["tls"] = tlsfix.tls_info_py(so, "client")
            await ws.close(1000, "keyupdate done")

    async with serve(handler, "127.0.0.1", SPORT, ssl=sctx, compression=None):
        cap = TlsCapture(NAME, [SPORT])
        await asyncio.to_thread(cap.start)
        try:
            await asyncio.wait_for(client(), 20)
            await asyncio.wait_for(done.wait(), 5)
        finally:
            await asyncio.to_thread(cap.stop)
    cl.extra["tls_server"] = server_tls
    cl.extra["key_updates"] = kus
    cl.extra["server"] = cl.extra["client"] = "websockets 17.4 (Python asyncio, OpenSSL %s)" % \
        ssl.OPENSSL_VERSION.split()[1]
    log.write(tls_keylog=NAME + ".keys", keylog_written_by="client (Python ssl keylog_filename)",
              note="KeyUpdates sent with SSL_key_update() on each peer's SSL* (ctypes); "
                   "key_updates[].before_frame_of_side = how many frames that side had sent before it")


if __name__ == "__main__":
    asyncio.run(main())
