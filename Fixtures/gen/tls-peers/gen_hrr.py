"""wss-hrr.pcap: TLS 1.3 with a HelloRetryRequest, then a normal WebSocket conversation.

server: websockets 17 (Python asyncio) wss on 127.0.0.1:19540, EC P-256 cert for ws.test,
        ALPN http/1.1, key exchange limited to secp256r1 (SSLContext.set_ecdh_curve, which
        in OpenSSL 3 sets the server's group list to that one group).
client: Node's `ws` (node_wss_peer.js MODE client) from 127.0.0.1:19541, Node's TLS
        defaults: its ClientHello carries a key_share for X25519 only, so the server
        answers with a HelloRetryRequest asking for secp256r1, and the client sends a
        second ClientHello with a P-256 key share.  permessage-deflate offered by ws and
        accepted by websockets (server_max_window_bits/client_max_window_bits as negotiated).
Key log: the client's `node --tls-keylog=FILE` -> Fixtures/tls/wss-hrr.keys.

The log merges the two processes' records by their timestamps (per side the order is
exactly the send order).
"""
import asyncio
import json
import os
import ssl
import time

from websockets.asyncio.server import serve

import tlsfix
from tlsfix import FixtureLog, Proc, TlsCapture, frames_from_lines, hook_websockets, keys_path, fresh

NAME = "wss-hrr"
SPORT, CPORT = 19540, 19541


async def main():
    cert, key = tlsfix.make_cert("ec")
    keylog = fresh(keys_path(NAME))
    slog = FixtureLog(NAME)            # server entries, each stamped
    sc = slog.conn(CPORT, SPORT)
    stamps = []
    orig_frame = sc.frame

    def frame(*a, **kw):
        n = len(sc.sent)
        orig_frame(*a, **kw)
        stamps.extend([time.time() * 1000.0] * (len(sc.sent) - n))
    sc.frame = frame

    seen_sni, done, server_tls = [], asyncio.Event(), {}
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.minimum_version = ssl.TLSVersion.TLSv1_3
    sctx.load_cert_chain(cert, key)
    sctx.set_alpn_protocols(["http/1.1"])
    sctx.set_ecdh_curve("prime256v1")
    sctx.sni_callback = lambda sslobj, server_name, ctx: seen_sni.append(server_name)

    async def handler(ws):
        hook_websockets(ws, sc, "server")
        so = ws.transport.get_extra_info("ssl_object")
        sc.extra["negotiated_extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
        await ws.send("hello after a HelloRetryRequest, from websockets")
        n = 0
        async for m in ws:
            n += 1
            if isinstance(m, str):
                await ws.send("server echo #%d: %s" % (n, m))
            else:
                await ws.send(bytes(reversed(m)))
            if n == 2:
                await asyncio.wait_for(await ws.ping(b"server ping"), 5)
        server_tls.update(tlsfix.tls_info_py(so, "server", sni=seen_sni[0] if seen_sni else None))
        done.set()

    async with serve(handler, "127.0.0.1", SPORT, ssl=sctx):
        cap = TlsCapture(NAME, [SPORT])
        await asyncio.to_thread(cap.start)
        try:
            node = Proc(["node", "--tls-keylog=" + keylog, os.path.join(tlsfix.HERE, "node_wss_peer.js"), "client",
                         str(SPORT), str(CPORT), cert, "-"], env=tlsfix.node_env())
            out, err = await asyncio.to_thread(node.wait, 40)
            await asyncio.wait_for(done.wait(), 5)
        finally:
            await asyncio.to_thread(cap.stop)
    if node.p.returncode != 0:
        raise SystemExit("node failed (%s): %s\n%s" % (node.p.returncode, err, out))

    clog = FixtureLog(NAME)
    clog.conn(CPORT, SPORT)
    lines = out.splitlines()
    rest = frames_from_lines(clog, lines)
    ctimes = [json.loads(l[5:])["t"] for l in lines if l.startswith("SENT ")]
    cc = clog.conns[0]
    # a message the client sent in fragments is one entry stamped with its first frame
    cstamps, k = [], 0
    for e in cc.sent:
        cstamps.append(ctimes[k])
        k += e.get("fragments", 1)
    merged = sorted([(t, 0, e) for t, e in zip(stamps, sc.sent)] + [(t, 1, e) for t, e in zip(cstamps, cc.sent)],
                    key=lambda x: (x[0], x[1]))
    sc.sent = [e for _, _, e in merged]
    sc.frame = orig_frame
    for line in rest:
        if line.startswith("TLS "):
            t = json.loads(line[4:])
            sc.extra["tls"] = tlsfix.tls_dict(t["version"], t["cipher"], t["sni"], t["alpn"], t["resumed"], "client",
                                              openssl_cipher=t["openssl_cipher"], group=t["group"],
                                              hello_retry_request=True)
        elif line.startswith("EXT client "):
            sc.extra["client_saw_extensions"] = json.loads(line[len("EXT client "):])["negotiated"]
    server_tls["hello_retry_request"] = True
    sc.extra["tls_server"] = server_tls
    ver = tlsfix.node_versions()
    sc.extra["server"] = "websockets 17.4 (Python asyncio, OpenSSL %s)" % ssl.OPENSSL_VERSION.split()[1]
    sc.extra["client"] = "node %s (ws %s, OpenSSL %s)" % (ver[0], ver[2], ver[3])
    slog.write(tls_keylog=NAME + ".keys", keylog_written_by="client (node --tls-keylog)",
               note="server entries: websockets' Protocol.send_frame hook; client entries: ws's Sender wrapped "
                    "in node_wss_peer.js; merged by timestamp. hello_retry_request: the server accepts only "
                    "secp256r1, the client's first key_share is X25519 (verified in the capture by verify.py)")
    print("  " + " | ".join(l for l in rest if not l.startswith("TLS ")))


if __name__ == "__main__":
    asyncio.run(main())
