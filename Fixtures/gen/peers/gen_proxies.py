"""ws-nginx-proxy.pcap and ws-haproxy-proxy.pcap: a reverse proxy carrying WebSocket,
both legs in one capture.

    websockets client :19350 -> nginx :19250 --(proxy_bind :19351)--> websockets server :19251
    websockets client :19360 -> haproxy :19260 --(source :19361)--> websockets server :19261

The tcpdump filter names the proxy's and the backend's ports, so it holds the client
leg and the backend leg.  The proxy binds its backend connection to a fixed source port
(nginx `proxy_bind 127.0.0.1:19351`, haproxy `server ... source 127.0.0.1:19361`).

Logging: the client's and the backend server's sends are logged by the websockets send
hook into one list (in call order: same process, one event loop).  Both legs get that
list: on the client leg the "server" entries are what the proxy relayed from the backend,
on the backend leg the "client" entries are what the proxy relayed from the client
(neither nginx nor haproxy touches the frames of an upgraded connection: they relay bytes).

nginx: permessage-deflate negotiated end to end (nginx passes Sec-WebSocket-Extensions),
text/binary both ways, a fragmented message, pings both ways, client close 1000.
haproxy: no extension, text/binary, a fragmented binary message, a client ping, a
server-initiated close 1001 through the proxy.
"""
import asyncio
import copy
import os
import shutil
import signal
import subprocess

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from peerfix import TMP, ConnLog, FixtureLog, PeerCapture, Proc, client_socket, hook_websockets, wait_port

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
user root;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/nginx-body;
    proxy_temp_path %(tmp)s/nginx-proxy;
    fastcgi_temp_path %(tmp)s/nginx-fastcgi;
    uwsgi_temp_path %(tmp)s/nginx-uwsgi;
    scgi_temp_path %(tmp)s/nginx-scgi;
    server {
        listen 127.0.0.1:%(front)d;
        location /ws/ {
            proxy_pass http://127.0.0.1:%(back)d;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_bind 127.0.0.1:%(bind)d;
            proxy_read_timeout 30s;
        }
    }
}
"""

HAPROXY_CONF = """
global
    maxconn 64
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tunnel 30s
frontend fe
    bind 127.0.0.1:%(front)d
    default_backend be
backend be
    server backend1 127.0.0.1:%(back)d source 127.0.0.1:%(bind)d
"""

SETUPS = {
    "ws-nginx-proxy": dict(proxy="nginx", front=19250, back=19251, client=19350, bind=19351),
    "ws-haproxy-proxy": dict(proxy="haproxy", front=19260, back=19261, client=19360, bind=19361),
}


def start_proxy(s, workdir):
    os.makedirs(workdir, exist_ok=True)
    if s["proxy"] == "nginx":
        conf = os.path.join(workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % dict(s, tmp=workdir))
        ver = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
        p = Proc(["nginx", "-p", workdir, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        conf = os.path.join(workdir, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(HAPROXY_CONF % s)
        ver = " ".join(subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split()[:3:2])
        p = Proc(["haproxy", "-db", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(s["front"])
    return p, ver.replace("nginx version: ", "")


async def backend_handler(ws, combined, done, nginx):
    hook_websockets(ws, combined, "server")
    combined.request_headers = list(ws.request.headers.raw_items())
    n = 0
    try:
        async for m in ws:
            n += 1
            if isinstance(m, str):
                await ws.send("backend echo #%d: %s" % (n, m))
            else:
                await ws.send(bytes(reversed(m)))
            if nginx and n == 2:
                await ws.ping(b"backend ping")
            if not nginx and n == 3:
                # server-initiated close, through the proxy
                await ws.close(1001, "backend going away")
    except ConnectionClosed:
        pass
    finally:
        done.set()


async def exchange(name, s, log):
    nginx = s["proxy"] == "nginx"
    combined = ConnLog(None, s["client"], s["front"])
    done = asyncio.Event()

    async def handler(ws):
        await backend_handler(ws, combined, done, nginx)

    async with serve(handler, "127.0.0.1", s["back"], ping_interval=None,
                     compression="deflate" if nginx else None):
        sock = client_socket(s["client"], dst=("127.0.0.1", s["front"]))
        async with connect("ws://127.0.0.1:%d/ws/%s" % (s["front"], s["proxy"]), sock=sock, ping_interval=None,
                           compression="deflate" if nginx else None) as ws:
            hook_websockets(ws, combined, "client")
            response_headers = list(ws.response.headers.raw_items())
            if nginx:
                await ws.send("hello backend, via nginx")
                await ws.send(b"\x00\x01\x02\x03 binary via nginx \xfe\xff")
                await ws.send('{"type":"tick","symbol":"PRXY","bid":10.5,"ask":10.75}')
                await ws.send('{"type":"tick","symbol":"PRXY","bid":10.5,"ask":10.75}')
                await ws.send(["fragmented ", "through ", "nginx"])  # 3 frames + empty FIN frame
                pong = await ws.ping(b"client ping via nginx")
                await asyncio.wait_for(pong, 5)
                for _ in range(5):
                    await asyncio.wait_for(ws.recv(), 5)
                await ws.close(1000, "done via nginx")
            else:
                await ws.send("hello backend, via haproxy")
                await ws.send([b"binary ", b"fragments ", b"via haproxy"])  # 3 frames + empty FIN frame
                pong = await ws.ping(b"client ping via haproxy")
                await asyncio.wait_for(pong, 5)
                await ws.send("third message: the backend closes after it")
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 5)
                except ConnectionClosed:
                    pass
            print("  %s: client saw close %s %r" % (name, ws.close_code, ws.close_reason))
        await asyncio.wait_for(done.wait(), 5)
    return combined, response_headers


def run(name):
    s = SETUPS[name]
    workdir = os.path.join(TMP, s["proxy"])
    shutil.rmtree(workdir, ignore_errors=True)
    proxy, ver = start_proxy(s, workdir)
    log = FixtureLog(name)
    try:
        cap = PeerCapture(name, [s["front"], s["back"]]).start()
        try:
            combined, response_headers = asyncio.run(exchange(name, s, log))
        finally:
            cap.stop()
    finally:
        proxy.stop(sig=signal.SIGQUIT if s["proxy"] == "nginx" else signal.SIGUSR1)
        shutil.rmtree(workdir, ignore_errors=True)
    client_leg = log.conn(s["client"], s["front"], leg="client leg", server=ver,
                          client="websockets %s" % websockets.__version__,
                          relayed="server entries: sent by the backend, relayed by " + s["proxy"],
                          response_headers_seen_by_client=response_headers)
    backend_leg = log.conn(s["bind"], s["back"], leg="backend leg", client=ver,
                           server="websockets %s" % websockets.__version__,
                           relayed="client entries: sent by the client, relayed by " + s["proxy"],
                           request_headers_seen_by_backend=combined.request_headers)
    client_leg.sent = combined.sent
    backend_leg.sent = copy.deepcopy(combined.sent)
    log.write(proxy=ver, note="one list of sends (websockets send hook on the client and on the backend "
                              "server, in call order) for both legs: the proxy relays the frames unchanged")


def main():
    for name in SETUPS:
        run(name)


if __name__ == "__main__":
    main()
