"""Record one wss fixture: python3 gen_tls.py NAME (NAME from tlsfix.FIXTURES).

Server: websockets 17 (asyncio) on 127.0.0.1:PORT with TLS (ssl.SSLContext).
Client: websockets 17 from 127.0.0.1:PORT+50 (second connection: PORT+70),
        SNI wss.test.
Writes Fixtures/tls/NAME.pcap, Fixtures/tls/NAME.keys (written by the client's
SSLContext.keylog_filename; the server writes its own copy to tmp/ and the two
must hold the same lines), and Fixtures/logs/NAME.json.

TLS 1.3 suites are chosen by an OPENSSL_CONF file (Ciphersuites in the
system_default section): Python 3.11's ssl has no set_ciphersuites, and the
config is read when the ssl module loads, so this script re-executes itself
with OPENSSL_CONF set.
"""
import asyncio
import os
import random
import ssl
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tlsfix  # noqa: E402
from tlsfix import FIXTURES, OUT_DIR, SNI, TMP, FixtureLog, client_socket, \
    hook_websockets, key_lines_only, keylog_lines, make_certs, tls_view  # noqa: E402

from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

STEP = 10  # seconds: bound for every single wait


class SessionContext(ssl.SSLContext):
    """asyncio's create_connection has no `session` argument; it calls
    ctx.wrap_bio(), which does.  Inject the session to resume there."""
    next_session = None

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        return super().wrap_bio(incoming, outgoing, server_side, server_hostname,
                                session or self.next_session)


def reexec_with_conf(name, spec):
    text = tlsfix.openssl_conf_text(spec)
    if text is None or os.environ.get("WSTRACE_TLS_CONF") == name:
        return
    os.makedirs(TMP, exist_ok=True)
    conf = os.path.join(TMP, name + ".openssl.cnf")
    with open(conf, "w") as f:
        f.write(text)
    env = dict(os.environ, OPENSSL_CONF=conf, WSTRACE_TLS_CONF=name)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def text_block(n, tag):
    """Deterministic compressible text of exactly n bytes."""
    line = "%s line %%07d: the quick brown fox jumps over the lazy dog 0123456789\n" % tag
    out, i = [], 0
    size = 0
    while size < n:
        s = line % i
        out.append(s)
        size += len(s)
        i += 1
    return "".join(out)[:n]


def bin_block(n, seed):
    """Deterministic binary of n bytes: a 4 KiB random block repeated (so the
    JSON log gzips well; TLS does not compress, so the capture is full size)."""
    blk = random.Random(seed).randbytes(4096)
    return (blk * (n // 4096 + 1))[:n]


def script(spec):
    """Client's list of (kind, payload); the server answers each data message."""
    if spec["large"]:
        return [("text", "large fixture: start"),
                ("text", text_block(100 * 1024, "c2s")),
                ("ping", b"client ping 1"),
                ("binary", bin_block(1024 * 1024, 1)),
                ("binary", bytes(range(256)))]
    if spec["deflate"]:
        return [("text", "hello hello hello over TLS with permessage-deflate " * 4),
                ("binary", bytes(range(64)) * 8),
                ("ping", b"client ping 1"),
                ("text", '{"tick": 1, "symbol": "WSTR", "price": 101.25, "note": "compress me compress me"}'),
                ("binary", b"\x00\x01\x02\x03" * 50 + bytes(range(200)))]
    return [("text", "hello over TLS"),
            ("binary", bytes(range(256))),
            ("ping", b"client ping 1"),
            ("text", "h\u00e9llo \u2713 \u2014 second text"),
            ("binary", b"\xff\x00" * 100 + b"tail")]


def server_reply(spec, i, m):
    if spec["large"]:
        return {0: "large fixture: ready",
                1: bin_block(512 * 1024, 2),
                2: text_block(200 * 1024, "s2c"),
                3: b"\x01\x02 small binary reply"}.get(i, "ok")
    if isinstance(m, str):
        return "echo: " + m
    return bytes(b ^ 0xFF for b in m)


async def one_connection(name, spec, idx, cport, cctx, log, state):
    sport = spec["port"]
    cl = log.conn(cport, sport)
    state["current"] = cl
    s = client_socket(cport, dst=("127.0.0.1", sport), blocking=False)
    closer, code, reason = spec["close"]
    async with connect("wss://%s:%d/conn%d" % (SNI, sport, idx + 1), sock=s, ssl=cctx,
                       server_hostname=SNI, compression="deflate" if spec["deflate"] else None,
                       proxy=None, ping_interval=None, max_size=None, open_timeout=STEP,
                       close_timeout=STEP) as ws:
        hook_websockets(ws, cl, "client")
        sslobj = ws.transport.get_extra_info("ssl_object")
        for kind, payload in script(spec):
            if kind == "ping":
                await asyncio.wait_for(await ws.ping(payload), STEP)
                continue
            await ws.send(payload)
            await asyncio.wait_for(ws.recv(), STEP)
        await asyncio.sleep(0.05)
        cl.extra["tls"] = tls_view(sslobj)
        session = sslobj.session  # read late: TLS 1.3 tickets arrive after the handshake
        if closer == "client":
            await ws.close(code, reason)
        else:
            await ws.send("please close")
            try:
                await asyncio.wait_for(ws.recv(), STEP)
            except ConnectionClosed:
                pass
            await asyncio.wait_for(ws.wait_closed(), STEP)
    cl.extra["negotiated_extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
    cl.extra["closed_by"] = {"side": closer, "code": code, "reason": reason}
    return session


async def main(name):
    spec = FIXTURES[name]
    certs = make_certs()
    crt, key = certs[spec["cert"]]
    keys, skeys = tlsfix.fresh_key_paths(name)
    log = FixtureLog(name)
    state = {"sni": [], "server_view": []}

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(crt, key)
    cctx = SessionContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(crt)
    for ctx in (sctx, cctx):
        if spec["ver"] == 12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(spec["suite"])
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if spec["alpn"]:
            ctx.set_alpn_protocols(["http/1.1"])
    if spec.get("etm") is False:
        sctx.options |= tlsfix.SSL_OP_NO_ENCRYPT_THEN_MAC
    if spec.get("resume") == "id":
        sctx.options |= ssl.OP_NO_TICKET
    sctx.keylog_filename = skeys
    cctx.keylog_filename = keys
    sctx.sni_callback = lambda sslobj, server_name, ctx: state["sni"].append(server_name)

    async def handler(ws):
        cl = state["current"]
        hook_websockets(ws, cl, "server")
        sv = tls_view(ws.transport.get_extra_info("ssl_object"))
        n = 0
        try:
            async for m in ws:   # a close code other than 1000/1001 ends it with ConnectionClosedError
                if m == "please close":
                    _, code, reason = spec["close"]
                    await ws.close(code, reason)
                    break
                await ws.send(server_reply(spec, n, m))
                n += 1
                if n == 2:
                    await asyncio.wait_for(await ws.ping(b"server ping"), STEP)
        except ConnectionClosed:
            pass
        finally:
            cl.extra["tls_server_view"] = sv
            cl.extra["server_saw_close"] = {"code": ws.close_code, "reason": ws.close_reason}
            state["server_done"].set()

    ports = [spec["port"]] + spec["client_ports"]
    offsets = []
    async with serve(handler, "127.0.0.1", spec["port"], ssl=sctx,
                     compression="deflate" if spec["deflate"] else None,
                     ping_interval=None, max_size=None, close_timeout=STEP):
        cap = tlsfix.TlsCapture(name, ports)
        async with cap:
            for idx, cport in enumerate(spec["client_ports"]):
                state["server_done"] = asyncio.Event()
                before = len(key_lines_only(keylog_lines(keys))) if os.path.exists(keys) else 0
                session = await one_connection(name, spec, idx, cport, cctx, log, state)
                await asyncio.wait_for(state["server_done"].wait(), STEP)
                offsets.append((before, len(key_lines_only(keylog_lines(keys)))))
                cctx.next_session = session
                await asyncio.sleep(0.3)

    lost = tlsfix.lost_segments(cap.path)
    if lost:
        print("  %s: capture misses TCP segments (frames %s); generate.sh retries" % (name, lost))
        sys.exit(3)

    # per-connection TLS facts
    lines = keylog_lines(keys)
    kl = key_lines_only(lines)
    if sorted(kl) != sorted(key_lines_only(keylog_lines(skeys))):
        raise SystemExit("%s: client and server key logs differ" % name)
    for (a, b), cl, sni in zip(offsets, log.conns, state["sni"]):
        t = cl.extra["tls"]
        sv = cl.extra["tls_server_view"]
        for k in ("version", "cipher_suite", "alpn", "resumed"):
            if t[k] != sv[k]:
                raise SystemExit("%s: client/server disagree on %s: %r %r" % (name, k, t[k], sv[k]))
        t["sni"] = sni
        randoms = sorted({l.split()[1] for l in kl[a:b]})
        assert len(randoms) == 1, randoms
        t["client_random"] = randoms[0]
        t["keylog_labels"] = [l.split()[0] for l in kl[a:b]]
        t["keylog_lines"] = [a + 1, b]  # 1-based, among the non-comment lines of NAME.full.keys/.keys
        t["cert"] = {"rsa": "RSA 2048", "ec": "EC P-256"}[spec["cert"]]
    # ServerHello extensions as seen on the wire (not reported by the ssl object)
    # (TLS 1.2 only: in TLS 1.3 ETM/EMS do not exist and the frame's decrypted
    # EncryptedExtensions would mix in)
    exts = tlsfix.server_hello_extensions(cap.path, keys) if spec["ver"] == 12 else []
    for (stream, ext), cl in zip(exts, log.conns):
        cl.extra["tls"]["encrypt_then_mac"] = 22 in ext
        cl.extra["tls"]["extended_master_secret"] = 23 in ext
        cl.extra["tls"]["server_hello_extensions"] = ext
    if spec["ver"] == 12 and "etm" in spec:
        for cl in log.conns:
            if cl.extra["tls"]["encrypt_then_mac"] != spec["etm"]:
                raise SystemExit("%s: encrypt_then_mac is %s" % (name, cl.extra["tls"]["encrypt_then_mac"]))
    for i, cl in enumerate(log.conns):
        want = i > 0
        if cl.extra["tls"]["resumed"] != want:
            raise SystemExit("%s: connection %d resumed=%s" % (name, i + 1, cl.extra["tls"]["resumed"]))
        want_suite = tlsfix.CIPHERS[spec["suite"]][0]
        if cl.extra["tls"]["cipher_suite"] != want_suite:
            raise SystemExit("%s: suite %s" % (name, cl.extra["tls"]["cipher_suite"]))

    # key files
    extra = {}
    if spec["conns"] == 2:
        first = kl[offsets[0][0]:offsets[0][1]]
        header = [l for l in lines if l.startswith("#")]
        if spec["resume"] in ("id", "ticket"):
            os.replace(keys, os.path.join(OUT_DIR, name + ".full.keys"))
            with open(keys, "w") as f:
                f.write("\n".join(header + first) + "\n")
            extra["tls_keylog"] = name + ".keys (first connection's CLIENT_RANDOM only)"
            extra["tls_keylog_full"] = name + ".full.keys (all lines, as the client wrote them)"
        else:
            with open(os.path.join(OUT_DIR, name + ".first-only.keys"), "w") as f:
                f.write("\n".join(header + first) + "\n")
            extra["tls_keylog"] = name + ".keys (all lines, as the client wrote them)"
            extra["tls_keylog_first_only"] = name + ".first-only.keys (first connection's lines only)"
    else:
        extra["tls_keylog"] = name + ".keys"
    tls_top = dict(log.conns[0].extra["tls"])
    log.write(generator="Fixtures/gen/tls/gen_tls.py " + name,
              server="websockets 17 (asyncio) + Python %s ssl (%s)" % (sys.version.split()[0], ssl.OPENSSL_VERSION),
              client="websockets 17 (asyncio), same process",
              tls={k: tls_top[k] for k in ("version", "cipher_suite", "cipher_suite_id", "sni", "alpn")},
              **extra)
    for cl in log.conns:
        t = cl.extra["tls"]
        print("  %s :%d->:%d %s %s (0x%04X) alpn=%s sni=%s resumed=%s etm=%s ems=%s sent=%d" % (
            name, cl.client_port, cl.server_port, t["version"], t["cipher_suite"], t["cipher_suite_id"],
            t["alpn"], t["sni"], t["resumed"], t.get("encrypt_then_mac"), t.get("extended_master_secret"),
            len(cl.sent)))


if __name__ == "__main__":
    name = sys.argv[1]
    reexec_with_conf(name, FIXTURES[name])
    asyncio.run(asyncio.wait_for(main(name), 60))
