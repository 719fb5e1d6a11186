"""wss-chromium.pcap: headless Chromium as a wss client of a Python websockets server.

Run inside a private network namespace (generate.sh does `unshare -n python3
gen_chromium.py`): own lo, own ip_local_port_range (19570-19579), so Chromium's ephemeral
source port is in our range and nothing else can be captured or reached.

page:   http://127.0.0.1:19521/ (plain HTTP, NOT captured), served by http.server in a
        thread; the same server takes the page's log (POST /log) after the close.
server: websockets 17 (asyncio) wss on 127.0.0.1:19520, EC P-256 cert for ws.test,
        ALPN http/1.1, permessage-deflate (websockets' default), subprotocol chat.wss,
        OP_CIPHER_SERVER_PREFERENCE cleared so that Chromium's suite order decides.
client: Chromium headless, --host-resolver-rules "MAP ws.test 127.0.0.1",
        --ignore-certificate-errors, --ssl-key-log-file=Fixtures/tls/wss-chromium.keys
        (Chromium's own key log).  The page opens wss://ws.test:19520/chromium with
        the extension offer Chromium makes itself (permessage-deflate; client_max_window_bits).

Logged:
* server entries: websockets' Protocol.send_frame hook (installed when the connection
  object is created, before the handshake);
* client entries: the frames the server *received* from Chromium
  (peerfix.hook_websockets_recv, also installed before the handshake): this includes the
  automatic pong, which the page cannot see.  The page wraps WebSocket.send/close and
  POSTs what it sent; every data and close entry must equal (opcode, payload, in order)
  what the server received, or generation fails.
* tls: what the server's ssl object reports (Chromium exposes nothing to the page).
"""
import asyncio
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading

from websockets.asyncio.server import ServerConnection, serve

import tlsfix
from tlsfix import TMP, FixtureLog, TlsCapture, hook_websockets, hook_websockets_recv, keys_path, fresh

NAME = "wss-chromium"
SPORT, PAGEPORT = 19520, 19521

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wstrace wss chromium fixture</title>
<link rel="icon" href="data:,"></head>
<body><pre id="out"></pre>
<script>
const sent = [];
function hex(u8) { return Array.from(u8, b => b.toString(16).padStart(2, "0")).join(""); }
const ws = new WebSocket("wss://ws.test:%(port)d/chromium", ["chat.wss"]);
ws.binaryType = "arraybuffer";
function send(data) {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
  sent.push({opcode: typeof data === "string" ? "text" : "binary", payload_hex: hex(bytes)});
  ws.send(data);
}
function close(code, reason) {
  const bytes = new Uint8Array([code >> 8, code & 255, ...new TextEncoder().encode(reason)]);
  sent.push({opcode: "close", payload_hex: hex(bytes), close_code: code, close_reason: reason});
  ws.close(code, reason);
}
let received = 0;
ws.onopen = () => {
  send("hello over wss from chromium " + navigator.userAgent.split(" ").pop());
  send(JSON.stringify({type: "subscribe", channel: "prices", symbols: ["ACME", "INIT", "WSTR"]}));
  send(new Uint8Array([1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]).buffer);
};
ws.onmessage = (ev) => {
  received++;
  document.getElementById("out").textContent += (typeof ev.data) + "\\n";
  if (received === 4) send("Grüße aus dem Browser über TLS ✓ ".repeat(20));
  if (received === 6) close(1000, "bye from chromium");
};
ws.onclose = (ev) => {
  fetch("/log", {method: "POST", body: JSON.stringify({extensions: ws.extensions, protocol: ws.protocol,
        close_code: ev.code, close_reason: ev.reason, sent: sent})});
};
</script></body></html>
"""


def setup_netns():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
        f.write("19570 19579")


def page_server(loop, browser_log, log_done):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = (PAGE % {"port": SPORT}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            data = self.rfile.read(int(self.headers["Content-Length"]))
            browser_log.update(json.loads(data))
            self.send_response(204)
            self.end_headers()
            loop.call_soon_threadsafe(log_done.set)

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", PAGEPORT), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


async def main():
    setup_netns()
    cert, key = tlsfix.make_cert("ec")
    keylog = fresh(keys_path(NAME))
    log = FixtureLog(NAME)
    holder, seen_sni = {}, []
    ws_done, log_done = asyncio.Event(), asyncio.Event()
    browser_log = {}

    class Logged(ServerConnection):
        def __init__(self, protocol, *a, **kw):
            super().__init__(protocol, *a, **kw)
            cl = log.conn(None, SPORT)
            holder["cl"] = cl
            hook_websockets(self, cl, "server")
            hook_websockets_recv(protocol, cl, "client")

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    sctx.set_alpn_protocols(["http/1.1"])
    # the client's cipher-suite order decides (Python sets server preference by default,
    # and OpenSSL's own order puts TLS_AES_256_GCM_SHA384 first): Chromium's first is
    # TLS_AES_128_GCM_SHA256
    sctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    sctx.sni_callback = lambda sslobj, server_name, ctx: seen_sni.append(server_name)

    async def handler(ws):
        cl = holder["cl"]
        cl.client_port = ws.remote_address[1]
        cl.extra["subprotocol"] = ws.subprotocol
        cl.extra["offered_extensions"] = ws.request.headers.get("Sec-WebSocket-Extensions")
        cl.extra["negotiated_extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
        cl.extra["user_agent"] = ws.request.headers.get("User-Agent")
        so = ws.transport.get_extra_info("ssl_object")
        n = 0
        async for m in ws:
            n += 1
            if isinstance(m, str):
                await ws.send("server got text #%d (%d chars)" % (n, len(m)))
            else:
                await ws.send(bytes(reversed(m)))
            if n == 3:
                await ws.send(json.dumps({"type": "price", "symbol": "ACME", "price": 101.5}))
                await asyncio.wait_for(await ws.ping(b"ping from the server"), 5)
                await ws.send(b"\x00binary after the pong\xff")
        cl.extra["tls"] = tlsfix.tls_info_py(so, "server", sni=seen_sni[0] if seen_sni else None)
        ws_done.set()

    loop = asyncio.get_running_loop()
    srv = page_server(loop, browser_log, log_done)
    udir = os.path.join(TMP, "chromium-profile")
    shutil.rmtree(udir, ignore_errors=True)
    os.makedirs(udir)
    proc = None
    async with serve(handler, "127.0.0.1", SPORT, ssl=sctx, subprotocols=["chat.wss"], create_connection=Logged):
        cap = TlsCapture(NAME, [SPORT])
        await asyncio.to_thread(cap.start)
        try:
            proc = subprocess.Popen(
                ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + udir,
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-port=0",
                 "--host-resolver-rules=MAP ws.test 127.0.0.1", "--ignore-certificate-errors",
                 "--ssl-key-log-file=" + keylog, "http://127.0.0.1:%d/" % PAGEPORT],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            await asyncio.wait_for(ws_done.wait(), 30)
            await asyncio.wait_for(log_done.wait(), 10)
        finally:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(cap.stop, [SPORT])
            if proc is not None:
                # chromium was started in its own session: its PID is the process-group id
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            srv.shutdown()
            shutil.rmtree(udir, ignore_errors=True)

    cl = holder["cl"]
    # the page's own record of its sends must equal what the server received (data + close)
    recv = [(e["opcode"], e["payload_hex"]) for e in cl.sent
            if e["from"] == "client" and e["opcode"] in ("text", "binary", "close")]
    page = [(e["opcode"], e["payload_hex"]) for e in browser_log.get("sent", [])]
    if recv != page:
        raise SystemExit("page log != frames received from chromium:\n%s\n%s" % (page, recv))
    for e in cl.sent:
        if e["from"] == "client":
            e["logged_by"] = "server-recv" + ("+page" if e["opcode"] in ("text", "binary", "close") else "")
    ua = cl.extra.get("user_agent") or ""
    ver = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.split()
    cl.extra["client"] = "Chromium %s headless (User-Agent %s)" % (ver[1] if len(ver) > 1 else "?",
                                                                  ua.split("Chrome/")[1].split()[0] if "Chrome/" in ua else "?")
    cl.extra["server"] = "websockets 17.4 (Python asyncio, OpenSSL %s)" % ssl.OPENSSL_VERSION.split()[1]
    cl.extra["browser_extensions"] = browser_log.get("extensions")
    cl.extra["browser_protocol"] = browser_log.get("protocol")
    cl.extra["browser_close"] = [browser_log.get("close_code"), browser_log.get("close_reason")]
    log.write(tls_keylog=NAME + ".keys", keylog_written_by="Chromium (--ssl-key-log-file)",
              note="server entries: websockets' send_frame hook; client entries: frames the server received "
                   "(recv_frame hook), data and close checked equal to the page's own log of its "
                   "WebSocket.send/close calls (logged_by). tls: reported by the server's ssl object")
    print("  browser:", browser_log.get("extensions"), browser_log.get("protocol"), cl.extra["tls"])


if __name__ == "__main__":
    asyncio.run(main())
