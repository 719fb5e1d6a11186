"""ws-firefox.pcap: headless Firefox ESR (Debian firefox-esr) as the browser client.

Run inside a private network namespace (generate.sh does `unshare -n python3
gen_firefox.py`): its own lo, and an ip_local_port_range of 19400-19499 so that
Firefox's ephemeral source ports are in our range and nothing else can be captured.

server: websockets 17 on 127.0.0.1:19240 serves "/" (the page, from a process_request
        hook) and "/ws" (permessage-deflate, subprotocol chat.firefox); its sends are
        logged by the websockets send hook.  The page's JS wraps WebSocket.send/close to
        log what the browser sent and POSTs that log to 127.0.0.1:19241 (a plain
        http.server, NOT captured) after the close.  This is gen_chromium.py's approach.
client: Firefox ESR headless, a fresh profile in tmp/ (a user.js turns off background
        services), ended by its PID's process group.
"""
import asyncio
import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

from peerfix import TMP, FixtureLog, PeerCapture, hook_websockets

PORT, LOGPORT = 19240, 19241

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wstrace firefox fixture</title>
<link rel="icon" href="data:,"></head>
<body><pre id="out"></pre>
<script>
const sent = [];
function hex(u8) { return Array.from(u8, b => b.toString(16).padStart(2, "0")).join(""); }
const ws = new WebSocket("ws://127.0.0.1:%(port)d/ws", ["chat.firefox"]);
ws.binaryType = "arraybuffer";
let deflate = false;
function send(data) {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
  sent.push({from: "client", opcode: typeof data === "string" ? "text" : "binary",
             payload_hex: hex(bytes), compressed: deflate, close_code: null, close_reason: null});
  ws.send(data);
}
function close(code, reason) {
  const bytes = new Uint8Array([code >> 8, code & 255, ...new TextEncoder().encode(reason)]);
  sent.push({from: "client", opcode: "close", payload_hex: hex(bytes), compressed: false,
             close_code: code, close_reason: reason});
  ws.close(code, reason);
}
let received = 0;
ws.onopen = () => {
  deflate = ws.extensions.indexOf("permessage-deflate") >= 0;
  send("hello from firefox " + navigator.userAgent.split(" ").pop());
  send(JSON.stringify({type: "subscribe", channel: "prices", symbols: ["ACME", "INIT", "WSTR"]}));
  send(new Uint8Array([1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]).buffer);
  send("Grüße aus dem Browser ✓ ".repeat(20));
};
ws.onmessage = (ev) => {
  received++;
  document.getElementById("out").textContent += (typeof ev.data) + "\\n";
  if (received === 5) close(4000, "bye from firefox");
};
ws.onclose = (ev) => {
  fetch("http://127.0.0.1:%(logport)d/log", {method: "POST", mode: "no-cors",
        body: JSON.stringify({extensions: ws.extensions, protocol: ws.protocol,
                              close_code: ev.code, sent: sent})});
};
</script></body></html>
"""

USER_JS = """
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.prefetch-next", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.http.speculative-parallel-limit", 0);
user_pref("browser.newtabpage.enabled", false);
"""


def setup_netns():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
        f.write("19400 19499")


def log_server(store, done):
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            store.update(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            done.set()

        def log_message(self, *a):
            pass
    srv = http.server.HTTPServer(("127.0.0.1", LOGPORT), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


async def main():
    name = "ws-firefox"
    setup_netns()
    log = FixtureLog(name)
    holder = {}
    ws_done = asyncio.Event()
    browser_log, log_done = {}, threading.Event()
    logsrv = log_server(browser_log, log_done)

    def process_request(connection, request):
        if request.path == "/":
            body = (PAGE % {"port": PORT, "logport": LOGPORT}).encode()
            return Response(200, "OK", Headers([("Content-Type", "text/html; charset=utf-8"),
                                                 ("Content-Length", str(len(body)))]), body)
        if request.path != "/ws":
            return connection.respond(404, "not found\n")
        return None

    async def handler(ws):
        cport = ws.remote_address[1]
        cl = log.conn(cport, PORT, subprotocol=ws.subprotocol,
                      negotiated_extensions=ws.response.headers.get("Sec-WebSocket-Extensions"),
                      offered_extensions=ws.request.headers.get("Sec-WebSocket-Extensions"),
                      user_agent=ws.request.headers.get("User-Agent"))
        holder["cl"] = cl
        hook_websockets(ws, cl, "server")
        n = 0
        try:
            async for m in ws:
                n += 1
                if isinstance(m, str):
                    await ws.send("server got text #%d (%d chars)" % (n, len(m)))
                else:
                    await ws.send(bytes(reversed(m)))
                if n == 4:
                    await ws.send(json.dumps({"type": "price", "symbol": "ACME", "price": 101.5}))
        except ConnectionClosed:  # 4000 is not a "normal" code for websockets: ends the loop with an error
            pass
        finally:
            ws_done.set()

    udir = os.path.join(TMP, "firefox-profile")
    shutil.rmtree(udir, ignore_errors=True)
    os.makedirs(udir)
    with open(os.path.join(udir, "user.js"), "w") as f:
        f.write(USER_JS)
    version = subprocess.run(["firefox-esr", "--version"], capture_output=True, text=True,
                             env=dict(os.environ, HOME=udir)).stdout.strip()
    async with serve(handler, "127.0.0.1", PORT, process_request=process_request,
                     subprotocols=["chat.firefox"], ping_interval=None):
        cap = PeerCapture(name, [PORT])
        await asyncio.to_thread(cap.start)
        proc = subprocess.Popen(
            ["firefox-esr", "--headless", "--no-remote", "--profile", udir, "http://127.0.0.1:%d/" % PORT],
            env=dict(os.environ, HOME=udir, MOZ_CRASHREPORTER_DISABLE="1"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            await asyncio.wait_for(ws_done.wait(), 60)
            await asyncio.to_thread(log_done.wait, 10)
        finally:
            await asyncio.sleep(0.3)
            wait = [holder["cl"].client_port] if "cl" in holder else [PORT]
            await asyncio.to_thread(cap.stop, wait)
            # Firefox runs in its own session: its PID is the process-group id
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            logsrv.shutdown()
            shutil.rmtree(udir, ignore_errors=True)

    if not browser_log:
        raise SystemExit("no log from the page")
    cl = holder["cl"]
    server_sent = cl.sent
    client_sent = browser_log.get("sent", [])
    for e in client_sent:  # the same extra keys as the hook-logged entries
        payload = bytes.fromhex(e["payload_hex"])
        e["payload_len"] = len(payload)
        e["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    # the browser sends its 4 messages back-to-back on open; its close after the 5th reply
    cl.sent = client_sent[:4] + server_sent[:-1] + client_sent[4:] + server_sent[-1:]
    cl.extra["browser"] = version
    cl.extra["browser_extensions"] = browser_log.get("extensions")
    cl.extra["browser_protocol"] = browser_log.get("protocol")
    log.write(note="client entries were logged by wrapping WebSocket.send/close in the page's JS")
    print("  %s: extensions %r protocol %r close %r" % (version, browser_log.get("extensions"),
                                                       browser_log.get("protocol"), browser_log.get("close_code")))


if __name__ == "__main__":
    asyncio.run(main())
