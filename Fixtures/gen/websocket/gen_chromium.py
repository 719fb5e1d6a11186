"""ws-chromium.pcap: headless Chromium as the browser client.

Run inside a private network namespace (generate.sh does
`unshare -n python3 gen_chromium.py`): the namespace gets its own lo and its
own ip_local_port_range (19700-19799), so Chromium's ephemeral source port is
in our range and nothing else on the host can be captured.

server: aiohttp on 127.0.0.1:19080 serves "/" (the page) and "/ws"
        (permessage-deflate, subprotocol chat.browser).  The page's JS wraps
        WebSocket.send/close to log what the browser sent and POSTs that log to
        127.0.0.1:19081 (NOT captured) after the close.
client: Chromium 156 headless (negotiates permessage-deflate itself).
Captured: page GET (+ maybe favicon), WebSocket upgrade, messages both ways,
client-initiated close 1000.
"""
import asyncio
import json
import os
import shutil
import signal
import subprocess

from aiohttp import web

from wsfix import HERE, Capture, FixtureLog, hook_aiohttp

PORT, LOGPORT = 19080, 19081
TMP = os.path.join(HERE, "tmp")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wstrace chromium fixture</title>
<link rel="icon" href="data:,"></head>
<body><pre id="out"></pre>
<script>
const sent = [];
function hex(u8) { return Array.from(u8, b => b.toString(16).padStart(2, "0")).join(""); }
const ws = new WebSocket("ws://127.0.0.1:%(port)d/ws", ["chat.browser"]);
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
  send("hello from chromium " + navigator.userAgent.split(" ").pop());
  send(JSON.stringify({type: "subscribe", channel: "prices", symbols: ["ACME", "INIT", "WSTR"]}));
  send(new Uint8Array([1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]).buffer);
  send("Grüße aus dem Browser ✓ ".repeat(20));
};
ws.onmessage = (ev) => {
  received++;
  document.getElementById("out").textContent += (typeof ev.data) + "\\n";
  if (received === 5) close(1000, "bye from chromium");
};
ws.onclose = (ev) => {
  fetch("http://127.0.0.1:%(logport)d/log", {method: "POST", mode: "no-cors",
        body: JSON.stringify({extensions: ws.extensions, protocol: ws.protocol,
                              close_code: ev.code, sent: sent})});
};
</script></body></html>
"""


def setup_netns():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
        f.write("19700 19799")


async def main():
    name = "ws-chromium"
    setup_netns()
    log = FixtureLog(name)
    order = []          # (side, entry) in time order for the server side
    cl_holder = {}
    ws_done, log_done = asyncio.Event(), asyncio.Event()
    browser_log = {}

    async def page(request):
        return web.Response(text=PAGE % {"port": PORT, "logport": LOGPORT}, content_type="text/html")

    async def wsh(request):
        ws = web.WebSocketResponse(protocols=("chat.browser",), compress=True)
        await ws.prepare(request)
        cport = request.transport.get_extra_info("peername")[1]
        cl = log.conn(cport, PORT)
        cl_holder["cl"] = cl
        cl.extra["subprotocol"] = ws.ws_protocol
        cl.extra["negotiated_extensions"] = ws.headers.get("Sec-WebSocket-Extensions")
        hook_aiohttp(ws, cl, "server")
        n = 0
        async for m in ws:
            n += 1
            if m.type == web.WSMsgType.TEXT:
                await ws.send_str("server got text #%d (%d chars)" % (n, len(m.data)))
            else:
                await ws.send_bytes(bytes(reversed(m.data)))
            if n == 4:
                await ws.send_str(json.dumps({"type": "price", "symbol": "ACME", "price": 101.5}))
        ws_done.set()
        return ws

    async def logh(request):
        browser_log.update(json.loads(await request.text()))
        log_done.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/ws", wsh)
    app.router.add_post("/log", logh)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PORT).start()
    await web.TCPSite(runner, "127.0.0.1", LOGPORT).start()

    udir = os.path.join(TMP, "chromium-profile")
    shutil.rmtree(udir, ignore_errors=True)
    os.makedirs(udir)
    cap = Capture(name, [PORT])
    await asyncio.to_thread(cap.start)
    proc = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + udir,
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-port=0",
         "http://127.0.0.1:%d/" % PORT],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        await asyncio.wait_for(ws_done.wait(), 30)
        await asyncio.wait_for(log_done.wait(), 10)
    finally:
        await asyncio.sleep(0.3)
        wait = [cl_holder["cl"].client_port] if "cl" in cl_holder else [PORT]
        await asyncio.to_thread(cap.stop, wait)
        # chromium was started in its own session: its PID is the process-group id
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        await runner.cleanup()
        shutil.rmtree(udir, ignore_errors=True)

    # merge: browser log (client sends) + server hook log; the browser sends its
    # four messages back-to-back on open, so put client entries by causal order.
    cl = cl_holder["cl"]
    server_sent = cl.sent
    client_sent = browser_log.get("sent", [])
    merged = client_sent[:4] + server_sent[:-1] + client_sent[4:] + server_sent[-1:]
    cl.sent = merged
    cl.extra["browser_extensions"] = browser_log.get("extensions")
    cl.extra["browser_protocol"] = browser_log.get("protocol")
    log.write(note="client entries were logged by wrapping WebSocket.send/close in the page's JS")
    print("browser:", browser_log.get("extensions"), browser_log.get("protocol"))


if __name__ == "__main__":
    asyncio.run(main())
