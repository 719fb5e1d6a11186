"""net-nginx-idle.pcap and net-haproxy-idle.pcap: a reverse proxy ends idle WebSocket
tunnels on its own timer, with FIN on both legs and no Close frame.

Everything runs on lo inside a private network namespace ($WSFN_TAG + "p"/"h"):

    nginx:   websockets clients :19520-19523 -> nginx :19500
             --(proxy_bind 127.0.0.1:19560-19563, one per client via a map)--> websockets backend :19501
             proxy_read_timeout 3s (send_timeout 3s)
    haproxy: websockets clients :19530-19532 -> haproxy :19510
             --(source 127.0.0.1:19550-19552, haproxy picks the port)--> websockets backend :19511
             timeout tunnel 2s (timeout client/server 30s)

tcpdump -i lo 'tcp and (port FRONT or port BACK)' holds both legs.  Each client connects at
its own time, sends two text messages (the backend echoes each), then stays idle and waits
(bounded) for the connection to end.  Neither peer pings (ping_interval=None) and neither
closes: the proxy's idle timer does.

The proxy adds an X-Client-Port header (its client's source port) to the upgrade request,
so the backend knows which client leg each backend leg carries; the messages name the
client too.  Both are recorded in the log (expected.pattern.pairs).

Send logging as in ../peers/gen_proxies.py: one list per client/backend pair (the client's
and the backend's websockets send hooks, in call order), given to both legs.  Each peer's
frames are also timed (timed_hook) and the moment each peer saw the connection end is
recorded with the exception websockets raised.
"""
import asyncio
import copy
import os
import shutil
import signal
import subprocess
import sys
import time

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

import netfix
from netfix import (TMP, FixtureLog, ConnLog, NetCapture, Netns, Proc, describe_exc, in_ns, rel, tcp_facts,
                    packet_count, timed_hook, write_log)
from wsfix import client_socket

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
    map $remote_port $backend_source {
%(map)s
        default 127.0.0.1;
    }
    server {
        listen 127.0.0.1:%(front)d;
        location /ws/ {
            proxy_pass http://127.0.0.1:%(back)d;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_set_header X-Client-Port $remote_port;
            proxy_bind $backend_source;
            proxy_read_timeout %(idle)ds;
            proxy_send_timeout %(idle)ds;
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
    timeout tunnel %(idle)ds
frontend fe
    bind 127.0.0.1:%(front)d
    http-request set-header X-Client-Port %%[src_port]
    default_backend be
backend be
    server backend1 127.0.0.1:%(back)d source 127.0.0.1:%(src_lo)d-%(src_hi)d
"""

SETUPS = {
    "net-nginx-idle": dict(proxy="nginx", front=19500, back=19501, clients=[19520, 19521, 19522, 19523],
                           sources=[19560, 19561, 19562, 19563], idle=3,
                           setting="proxy_read_timeout 3s (and proxy_send_timeout 3s)"),
    "net-haproxy-idle": dict(proxy="haproxy", front=19510, back=19511, clients=[19530, 19531, 19532],
                             sources=[19550, 19551, 19552], idle=2,
                             setting="timeout tunnel 2s (timeout client 30s, timeout server 30s)"),
}
# client i starts at START[i] s after the first; gap between its two messages: GAP[i] s
START = [0.0, 0.35, 0.7, 1.05]
GAP = [0.4, 0.5, 0.45, 0.6]  # > 0.3 s: nginx resets a timer only if it moves by >= 300 ms (NGX_TIMER_LAZY_DELAY)
WAIT_END = 12  # bound on each peer's wait for the proxy to end the connection


def start_proxy(s, ns, workdir):
    os.makedirs(workdir, exist_ok=True)
    pre = ["ip", "netns", "exec", ns.name]
    if s["proxy"] == "nginx":
        conf = os.path.join(workdir, "nginx.conf")
        m = "\n".join("        %d 127.0.0.1:%d;" % (c, b) for c, b in zip(s["clients"], s["sources"]))
        with open(conf, "w") as f:
            f.write(NGINX_CONF % dict(s, tmp=workdir, map=m))
        ver = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
        ver = ver.replace("nginx version: ", "")
        p = Proc(pre + ["nginx", "-p", workdir, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        conf = os.path.join(workdir, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(HAPROXY_CONF % dict(s, src_lo=min(s["sources"]), src_hi=max(s["sources"])))
        out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split()
        ver = "HAProxy/" + out[2]
        p = Proc(pre + ["haproxy", "-db", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # wait for the listener in the namespace (read the proxy's own /proc/PID/net/tcp)
    deadline = time.time() + 10
    want = ":%04X" % s["front"]
    while True:
        try:
            with open("/proc/%d/net/tcp" % p.p.pid) as f:
                if any(l.split()[3] == "0A" and l.split()[1].endswith(want) for l in f.readlines()[1:]):
                    break
        except FileNotFoundError:
            raise RuntimeError("%s exited" % s["proxy"])
        if time.time() > deadline:
            raise RuntimeError("%s does not listen" % s["proxy"])
        time.sleep(0.05)
    time.sleep(0.2)
    return p, ver


def listen_socket(port):
    import socket
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    srv.setblocking(False)
    return srv


async def exchange(s, ns):
    pairs = {c: {"log": ConnLog(None, c, s["front"]), "timeline": [], "client": {}, "backend": {}}
             for c in s["clients"]}

    async def backend(ws):
        cport = int(ws.request.headers["X-Client-Port"])
        p = pairs[cport]
        b = p["backend"]
        timed_hook(ws, p["log"], "server", p["timeline"])
        b["source_port"] = ws.remote_address[1]
        b["x_client_port"] = cport
        b["request_headers"] = list(ws.request.headers.raw_items())
        try:
            while True:
                m = await asyncio.wait_for(ws.recv(), WAIT_END)
                b.setdefault("received", []).append(m)
                await ws.send("echo from the backend (leg from :%d): %s" % (b["source_port"], m))
        except ConnectionClosed as e:
            b["ended_at"] = round(time.time(), 6)
            b["saw"] = describe_exc(e)
        except asyncio.TimeoutError:
            b["saw"] = "still open after %d s" % WAIT_END

    async def client(i, cport):
        p = pairs[cport]
        c = p["client"]
        await asyncio.sleep(START[i])
        sock = in_ns(ns, client_socket, cport, "127.0.0.1", ("127.0.0.1", s["front"]))
        async with connect("ws://127.0.0.1:%d/ws/client-%d" % (s["front"], i + 1), sock=sock,
                           ping_interval=None, open_timeout=5, close_timeout=2) as ws:
            timed_hook(ws, p["log"], "client", p["timeline"])
            c["response_headers"] = list(ws.response.headers.raw_items())
            await ws.send("client %d (:%d) message 1 via %s" % (i + 1, cport, s["proxy"]))
            await asyncio.wait_for(ws.recv(), 5)
            await asyncio.sleep(GAP[i])
            await ws.send("client %d (:%d) message 2 via %s, then idle" % (i + 1, cport, s["proxy"]))
            await asyncio.wait_for(ws.recv(), 5)
            c["idle_from"] = round(time.time(), 6)
            try:
                await asyncio.wait_for(ws.recv(), WAIT_END)
                c["saw"] = "unexpected message"
            except ConnectionClosed as e:
                c["ended_at"] = round(time.time(), 6)
                c["saw"] = describe_exc(e)
            except asyncio.TimeoutError:
                c["saw"] = "still open after %d s" % WAIT_END

    srv_sock = in_ns(ns, listen_socket, s["back"])
    async with serve(backend, sock=srv_sock, ping_interval=None, close_timeout=2):
        await asyncio.gather(*(client(i, c) for i, c in enumerate(s["clients"])))
        await asyncio.sleep(0.3)  # the backend handlers see their end too
    return pairs


def run(name):
    s = SETUPS[name]
    ns = Netns(s["proxy"][0])
    workdir = os.path.join(TMP, name)
    shutil.rmtree(workdir, ignore_errors=True)
    proxy = cap = None
    try:
        proxy, ver = start_proxy(s, ns, workdir)
        cap = NetCapture(name, [s["front"], s["back"]], iface="lo", ns=ns).start()
        t_start = time.time()
        pairs = asyncio.run(exchange(s, ns))
        cap.stop(wait_teardown=True)
        cap = None
    finally:
        if cap:
            cap.kill()
        if proxy:
            proxy.stop(sig=signal.SIGQUIT if s["proxy"] == "nginx" else signal.SIGUSR1)
        ns.delete()
        shutil.rmtree(workdir, ignore_errors=True)
    print("  %s: %.1f s" % (name, time.time() - t_start))
    write(name, s, ver, pairs)


def write(name, s, ver, pairs):
    pcap = os.path.join(netfix.OUT_DIR, name + ".pcap")
    facts = tcp_facts(pcap)
    t0 = min(f["first_t"] for f in facts.values())
    log = FixtureLog(name)
    per_conn, pair_list, problems = [], [], []
    lib = "websockets %s" % websockets.__version__
    for cport in s["clients"]:
        p = pairs[cport]
        src = p["backend"].get("source_port")
        legs = [("client leg", cport, s["front"], "server", "the proxy (%s)" % ver),
                ("backend leg", src, s["back"], "client", "the proxy (%s)" % ver)]
        for leg, lc, ls, proxy_side, _ in legs:
            c = log.conn(lc, ls, leg=leg,
                         client=lib if leg == "client leg" else ver,
                         server=ver if leg == "client leg" else lib,
                         relayed=("server entries: sent by the backend, relayed by " if leg == "client leg"
                                  else "client entries: sent by the client, relayed by ") + s["proxy"])
            c.sent = copy.deepcopy(p["log"].sent)
            f = facts.get((lc, ls))
            if f is None:
                problems.append("%s %d->%d not in capture" % (leg, lc, ls))
                continue
            proxy_fin = next((e for e in f["fin"] if e["from"] == proxy_side), None)
            peer_fin = next((e for e in f["fin"] if e["from"] != proxy_side), None)
            ends = sorted(f["fin"] + f["rst"], key=lambda e: e["frame"])
            first_end = ends[0] if ends else None
            proxy_end = next((e for e in ends if e["from"] == proxy_side), None)
            teardown = None
            if proxy_end:
                teardown = "RST" if proxy_end in f["rst"] else "FIN"
            idle_wire = None if not (proxy_end and f["last_data"]) else round(proxy_end["t"] - f["last_data"]["t"], 6)
            peer = p["client"] if leg == "client leg" else p["backend"]
            last_sent = [e for e in p["timeline"] if e["opcode"] in ("text", "binary")][-1]
            ended = peer.get("ended_at")
            per_conn.append({
                "client_port": lc, "server_port": ls, "leg": leg,
                "cause": "idle_timeout", "by": "intermediary",
                "by_endpoint_of_this_leg": proxy_side,
                "intermediary": ver, "idle_s": float(s["idle"]), "configured": s["setting"],
                "close_frame": False, "teardown_by_proxy": teardown,
                "this_leg_alone_looks_like": ("idle_timeout" if teardown == "FIN" else "reset") + " by " + proxy_side,
                "why": ("no Close frame from either peer; the proxy (%s, the %s of this leg) ended it with a %s "
                        "%.3f s after the last data packet of this leg; neither peer closed (both only "
                        "waited for a message), neither pinged") % (
                            s["proxy"], proxy_side, teardown, idle_wire if idle_wire is not None else -1),
                "measured": {
                    "source_wire": "tshark frame.time_epoch of the capture (t_rel: seconds after its first packet)",
                    "last_data": dict(f["last_data"], t_rel=rel(f["last_data"]["t"], t0)) if f["last_data"] else None,
                    "first_fin_or_rst": dict(first_end, t_rel=rel(first_end["t"], t0)) if first_end else None,
                    "proxy_fin": dict(proxy_fin, t_rel=rel(proxy_fin["t"], t0)) if proxy_fin else None,
                    "peer_fin": dict(peer_fin, t_rel=rel(peer_fin["t"], t0)) if peer_fin else None,
                    "rst": [dict(e, t_rel=rel(e["t"], t0)) for e in f["rst"]],
                    "idle_s_wire": idle_wire,
                    "packets": f["packets"],
                    "source_peers": "time.time() in the peers' process (same clock as the capture)",
                    "last_data_frame_handed_to_websockets": last_sent,
                    "peer_saw_end_at": ended,
                    "idle_s_peers": None if ended is None else round(ended - last_sent["t"], 6),
                    "peer_saw": peer.get("saw"),
                },
            })
            if idle_wire is None or abs(idle_wire - s["idle"]) > 0.25:
                problems.append("%s %d: idle on the wire %s, configured %d" % (leg, lc, idle_wire, s["idle"]))
            if first_end is None or first_end["from"] != proxy_side:
                problems.append("%s %d: first FIN/RST not from the proxy: %s" % (leg, lc, first_end))
        pair_list.append({"client_leg": {"client_port": cport, "server_port": s["front"]},
                          "backend_leg": {"client_port": src, "server_port": s["back"]},
                          "paired_by": "X-Client-Port header the proxy added, as read by the backend; "
                                       "the messages name the client"})
    for k in facts:
        if k not in {(c["client_port"], c["server_port"]) for c in per_conn}:
            problems.append("unexpected connection in capture: %s" % (k,))
    expected = {
        "source": "the proxy's configuration and the peers' logs and timing (not an analyzer)",
        "per_connection": per_conn,
        "pattern": {
            "kind": "common_idle_timeout", "by": "intermediary", "intermediary": ver,
            "idle_s": float(s["idle"]), "configured": s["setting"],
            "client_legs": len(s["clients"]), "all_legs": 2 * len(s["clients"]),
            "note": "every client leg (and every backend leg) was ended by the proxy the same idle time "
                    "after its last data; the connections started and went idle at different times",
            "teardown_by_proxy": {
                "client_legs": sorted({c["teardown_by_proxy"] or "none" for c in per_conn if c["leg"] == "client leg"}),
                "backend_legs": sorted({c["teardown_by_proxy"] or "none" for c in per_conn if c["leg"] == "backend leg"})},
            "pairs": pair_list,
            "client_legs_timing": [
                {"client_port": c["client_port"], "last_data_rel": c["measured"]["last_data"]["t_rel"],
                 "ended_rel": c["measured"]["first_fin_or_rst"]["t_rel"], "idle_s_wire": c["measured"]["idle_s_wire"]}
                for c in per_conn if c["leg"] == "client leg"],
        },
    }
    if problems:
        raise RuntimeError("%s: %s" % (name, "; ".join(problems)))
    write_log(log, expected, proxy=ver, packets=packet_count(pcap),
              note="one list of sends per client/backend pair (websockets send hooks on the client and on the "
                   "backend, in call order) for both legs: the proxy relays the frames unchanged")
    for c in per_conn:
        m = c["measured"]
        print("  %s %s %d->%d: idle %.3f s (wire), %.3f s (peers); proxy %s; RST %d" % (
            name, c["leg"], c["client_port"], c["server_port"], m["idle_s_wire"], m["idle_s_peers"] or -1,
            c["teardown_by_proxy"], len(m["rst"])))


def main():
    netfix.term_as_exit()
    names = sys.argv[1:] or list(SETUPS)
    for name in names:
        run(name)


if __name__ == "__main__":
    main()
