"""net-peer-unreachable.pcap and net-link-down-server-side.pcap: one peer of an open
WebSocket connection vanishes while the other has data to send; the sender's kernel
retransmits with exponential backoff and gives up (TCP_USER_TIMEOUT), with no FIN and no RST.

Private network namespaces joined by veth pairs (MTU 1500, offloads off).

net-peer-unreachable (capture on vC, the client's veth), two namespaces, one veth pair:

    server ns ($WSFN_TAG "s"): vS 10.96.0.1  ==veth==  vC 10.96.0.2 (client ns, $WSFN_TAG "c")

    websockets client 10.96.0.2:19650 -> websockets echo server 10.96.0.1:19600.
    3 messages echoed; then the server vanishes: nftables in the server namespace drops every
    packet in and out (`nft ... chain input { drop }`, same for output).  The client sends one
    more message; its socket has TCP_USER_TIMEOUT 5000 ms, so its kernel retransmits the
    unacknowledged segment and aborts the connection (ETIMEDOUT) about 5 s after it was first
    sent; the client application's recv() then raises.

net-link-down-server-side (capture on vS, the server's veth), three namespaces, a router
between server and client:

    server ns "s": vS 10.96.0.1 == mS 10.96.0.254 [router ns "m", ip_forward=1] mC 10.96.1.254 == vC 10.96.1.2 (client ns "c")

    websockets client 10.96.1.2:19655 -> websockets server 10.96.0.1:19605 that pushes a
    "tick" every 0.5 s, 5 in all, then waits for a message.  After 4 ticks the client's link
    goes down: the router's interface towards the client (mC) is set down, which removes the
    router's route to 10.96.1.0/24.
    The server goes on pushing; the router answers some of its segments with ICMP
    "network unreachable" (rate-limited; the capture filter keeps ICMP to/from the server);
    TCP treats those as soft errors and keeps retransmitting until TCP_USER_TIMEOUT 5000 ms,
    then aborts with the soft error (ENETUNREACH); the server's next send raises.
    (A first attempt set the client's own veth end down on a direct veth pair: the server's
    end then has no carrier and its packets are dropped before tcpdump on vS sees them, so
    that capture held no retransmission at all.)

Neither peer pings (ping_interval=None).  The peers run in one asyncio loop; their sockets
were created in their namespaces (netfix.in_ns).  Both peers' sends are logged with the
websockets send hook and timed; what each application saw at the end is recorded.
"""
import asyncio
import copy
import os
import socket
import sys
import time

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

import netfix
from netfix import (FixtureLog, NetCapture, Netns, VethPair, describe_exc, icmp_facts, in_ns, nft_drop, packet_count,
                    rel, sh, tcp_facts, timed_hook, write_log)

SERVER_IP = "10.96.0.1"
USER_TIMEOUT_MS = 5000
SETUPS = {
    "net-peer-unreachable": dict(server_port=19600, client_port=19650, sender="client", vanishes="server",
                                 capture_on="client", vanish="nft", topo="direct", client_ip="10.96.0.2"),
    "net-link-down-server-side": dict(server_port=19605, client_port=19655, sender="server", vanishes="client",
                                      capture_on="server", vanish="link_down", topo="router",
                                      client_ip="10.96.1.2"),
}
WAIT_END = 15  # bound on the sender's wait for its kernel to give up


def listen_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((SERVER_IP, port))
    s.listen(4)
    s.setblocking(False)
    return s


def client_sock(ip, port, user_timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if user_timeout:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)
    s.bind((ip, port))
    s.setblocking(False)
    return s


async def scenario(name, s, ns_s, ns_c, ns_m, log, conn, timeline, state):
    st_c, st_s = state["client"], state["server"]
    vanished = asyncio.Event()
    server_done = asyncio.Event()

    async def vanish():
        victim = ns_s if s["vanishes"] == "server" else ns_c
        if s["vanish"] == "nft":
            state["vanish_how"] = ("nftables in the %s namespace drops every packet (input and output chains):\n%s"
                                   % (s["vanishes"], nft_drop(victim, [("in", ""), ("out", "")])))
        else:
            ns_m.exec("ip", "link", "set", "mC", "down")
            state["vanish_how"] = ("ip link set mC down in the router namespace: the router's link to the client's "
                                   "network goes down (and its route to 10.96.1.0/24 with it)")
        state["vanished_at"] = round(time.time(), 6)
        vanished.set()

    async def handler(ws):
        timed_hook(ws, conn, "server", timeline)
        if s["sender"] == "server":
            ws.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT,
                                                             USER_TIMEOUT_MS)
            st_s["tcp_user_timeout_ms"] = USER_TIMEOUT_MS
        try:
            if s["sender"] == "client":  # echo server
                while True:
                    m = await ws.recv()
                    st_s.setdefault("received", []).append(m)
                    await ws.send("echo: " + m)
            else:  # pushes ticks
                # 5 ticks 0.5 s apart (the client vanishes after the 4th), then wait for a message: only
                # what reaches the wire is sent (ticks pushed while the 5th is unacknowledged would stay
                # in the socket buffer: the retransmission timer leaves no room for new segments)
                for n in range(1, 6):
                    if n > 1:
                        await asyncio.sleep(0.5)
                    await ws.send('{"tick":%d,"t":%.3f}' % (n, time.time()))
                try:
                    await asyncio.wait_for(ws.recv(), WAIT_END)
                    st_s["saw"] = "a message (unexpected)"
                except asyncio.TimeoutError:
                    st_s["saw"] = "still open after %d s" % WAIT_END
        except ConnectionClosed as e:  # (not what the server saw at teardown, after the capture)
            st_s.setdefault("ended_at", round(time.time(), 6))
            st_s.setdefault("saw", describe_exc(e))
        finally:
            server_done.set()

    srv = in_ns(ns_s, listen_socket, s["server_port"])
    sock = in_ns(ns_c, client_sock, s["client_ip"], s["client_port"], s["sender"] == "client")
    if s["sender"] == "client":
        st_c["tcp_user_timeout_ms"] = USER_TIMEOUT_MS
    async with serve(handler, sock=srv, ping_interval=None, close_timeout=1):
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, (SERVER_IP, s["server_port"])), 5)
        ws = await connect("ws://%s:%d/%s" % (SERVER_IP, s["server_port"], name), sock=sock,
                           ping_interval=None, open_timeout=5, close_timeout=1)
        timed_hook(ws, conn, "client", timeline)
        try:
            if s["sender"] == "client":
                for n in range(1, 4):
                    await ws.send("message %d from the client" % n)
                    await asyncio.wait_for(ws.recv(), 5)
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.3)
                await vanish()
                await asyncio.sleep(0.3)
                await ws.send("message 4 from the client: the server is gone")
                st_c["sent_into_the_void_at"] = round(time.time(), 6)
                try:
                    await asyncio.wait_for(ws.recv(), WAIT_END)
                    st_c["saw"] = "an answer (unexpected)"
                except ConnectionClosed as e:
                    st_c["ended_at"] = round(time.time(), 6)
                    st_c["saw"] = describe_exc(e)
                except asyncio.TimeoutError:
                    st_c["saw"] = "still open after %d s" % WAIT_END
                st_s["saw"] = "nothing: its namespace dropped every packet; still open when the capture stopped"
            else:
                for _ in range(4):
                    st_c.setdefault("received", []).append(await asyncio.wait_for(ws.recv(), 5))
                await asyncio.sleep(0.3)
                await vanish()  # 0.2 s before the 5th tick
                try:
                    await asyncio.wait_for(server_done.wait(), WAIT_END)
                except asyncio.TimeoutError:
                    st_s["saw"] = "still open after %d s" % WAIT_END
                st_c["saw"] = "nothing: its link was down; still open when the capture stopped"
            state["cap_filter"] = state["cap"].filter
            await asyncio.to_thread(state["cap"].stop, False)
            state["cap"] = None
            # what the peers sent while the capture ran (the server's Close frame at teardown, below,
            # is not in the capture: its namespace drops it, and tcpdump has stopped)
            state["sent"] = copy.deepcopy(conn.sent)
            state["timeline"] = copy.deepcopy(timeline)
        finally:
            ws.transport.abort()  # after the capture: nothing of it reaches the file


def run(name):
    s = SETUPS[name]
    made = []
    state = {"client": {}, "server": {}, "cap": None}
    try:
        ns_s = Netns("s")
        made.append(ns_s)
        ns_c = Netns("c")
        made.append(ns_c)
        ns_m = None
        if s["topo"] == "direct":
            VethPair(ns_s, "vS", SERVER_IP, ns_c, "vC", s["client_ip"])
        else:
            ns_m = Netns("m")
            made.append(ns_m)
            ns_m.sysctl("net.ipv4.ip_forward=1")
            VethPair(ns_s, "vS", SERVER_IP, ns_m, "mS", "10.96.0.254")
            VethPair(ns_m, "mC", "10.96.1.254", ns_c, "vC", s["client_ip"])
            sh("ip", "-n", ns_s.name, "route", "add", "default", "via", "10.96.0.254")
            sh("ip", "-n", ns_c.name, "route", "add", "default", "via", "10.96.1.254")
        cap_ns, cap_if = (ns_c, "vC") if s["capture_on"] == "client" else (ns_s, "vS")
        state["cap"] = NetCapture(name, [s["server_port"]], iface=cap_if, ns=cap_ns,
                                  also="icmp and host %s" % (s["client_ip"] if s["capture_on"] == "client"
                                                             else SERVER_IP)).start()
        log = FixtureLog(name)
        conn = log.conn(s["client_port"], s["server_port"], client="websockets %s" % websockets.__version__,
                        server="websockets %s" % websockets.__version__)
        timeline = []
        t_start = time.time()
        asyncio.run(scenario(name, s, ns_s, ns_c, ns_m, log, conn, timeline, state))
    finally:
        if state["cap"]:
            state["cap"].kill()
        for ns in reversed(made):
            ns.delete()
    print("  %s: %.1f s" % (name, time.time() - t_start))
    write(name, s, log, conn, timeline, state, cap_if, state["cap_filter"])


def write(name, s, log, conn, timeline, state, cap_if, cap_filter):
    conn.sent = state["sent"]
    timeline = state["timeline"]
    pcap = os.path.join(netfix.OUT_DIR, name + ".pcap")
    facts = tcp_facts(pcap)
    key = (s["client_port"], s["server_port"])
    if set(facts) != {key}:
        raise RuntimeError("%s: connections in capture %s" % (name, list(facts)))
    f = facts[key]
    t0 = f["first_t"]
    sender, victim = s["sender"], s["vanishes"]
    st = state[sender]
    retrans = f["retransmissions"][sender]
    frames = tcp_rows(pcap)
    by_num = {r["frame"]: r for r in frames}
    icmp = [dict(e, t_rel=rel(e["t"], t0)) for e in icmp_facts(pcap)]
    err = innermost(st.get("saw"))
    # the sender's data packets after the vanish: first transmissions + retransmissions
    after = [r for r in frames if r["t"] >= state["vanished_at"]]
    sender_port = s["client_port"] if sender == "client" else s["server_port"]
    after_sender = [r for r in after if r["sp"] == sender_port and r["len"] > 0]
    after_victim = [r for r in after if r["sp"] != sender_port]
    first_unacked = after_sender[0] if after_sender else None
    last_pkt = frames[-1]
    gave_up = st.get("ended_at")
    problems = []
    if f["fin"] or f["rst"]:
        problems.append("FIN/RST in capture: %s %s" % (f["fin"], f["rst"]))
    if not retrans:
        problems.append("no retransmission from the %s" % sender)
    if after_victim:
        problems.append("packets from the vanished %s after the vanish: %s" % (victim, after_victim[:3]))
    if gave_up is None:
        problems.append("the %s never saw the connection fail: %s" % (sender, st.get("saw")))
    expected = {
        "source": "the setup (what vanished and when) and the peers' logs (not an analyzer)",
        "per_connection": [{
            "client_port": s["client_port"], "server_port": s["server_port"],
            "cause": "peer_unreachable", "by": sender, "unreachable": victim,
            "close_frame": False, "fin": False, "rst": False,
            "why": ("the %s vanished (%s); the %s had unacknowledged data, its kernel retransmitted it with "
                    "exponential backoff and aborted the connection after TCP_USER_TIMEOUT %d ms (the application "
                    "saw %s) without sending FIN or RST; the capture (on %s, the %s's veth) ends with the last "
                    "retransmission%s") % (
                        victim, "its packets dropped by nftables in its namespace" if s["vanish"] == "nft"
                        else "the router's link towards it went down", sender, USER_TIMEOUT_MS, err, cap_if,
                        s["capture_on"], "; the router answered %d of the %s's segments with ICMP %s" % (
                            len(icmp), sender, icmp[0]["what"]) if icmp else ""),
            "retransmissions": len(retrans),
            "retransmissions_source": "tshark -Y tcp.analysis.retransmission, packets from the %s" % sender,
            "retransmission_frames": retrans,
            "tcp_user_timeout_ms": USER_TIMEOUT_MS,
            "measured": {
                "source_wire": "tshark frame.time_epoch of the capture (t_rel: seconds after its first packet)",
                "last_packet_from_%s" % victim: last_from(frames, sender_port, False, t0),
                "first_unacked_data": None if not first_unacked else
                {"frame": first_unacked["frame"], "t": first_unacked["t"], "t_rel": rel(first_unacked["t"], t0),
                 "len": first_unacked["len"]},
                "last_retransmission": None if not retrans else
                {"frame": retrans[-1], "t_rel": rel(by_num[retrans[-1]]["t"], t0)},
                "retransmission_gaps_s": gaps(by_num, [first_unacked["frame"]] + retrans if first_unacked else retrans),
                "sender_data_packets_after_vanish": len(after_sender),
                "icmp": icmp,
                "tcp_packets": f["packets"],
                "source_peers": "time.time() in the peers' process (same clock as the capture)",
                "vanished_at_rel": rel(state["vanished_at"], t0),
                "%s_last_data_frame_handed_to_websockets" % sender:
                    [e for e in timeline if e["from"] == sender and e["opcode"] in ("text", "binary")][-1],
                "%s_saw_failure_at_rel" % sender: rel(gave_up, t0),
                "%s_gave_up_after_s" % sender: None if not (gave_up and first_unacked) else
                round(gave_up - first_unacked["t"], 6),
                "%s_saw" % sender: st.get("saw"),
                "%s_saw" % victim: state[victim].get("saw"),
                "capture_ends_rel": rel(last_pkt["t"], t0),
            },
        }],
        "pattern": None,
    }
    if problems:
        raise RuntimeError("%s: %s" % (name, "; ".join(problems)))
    write_log(log, expected, packets=packet_count(pcap), vanish=state["vanish_how"],
              capture="tcpdump -i %s (the %s's veth) '%s'" % (cap_if, s["capture_on"], cap_filter),
              note="the websockets send hook on both peers; the %s's last message was sent but never "
                   "acknowledged: it is in the capture (retransmitted), never received" % sender)
    m = expected["per_connection"][0]["measured"]
    print("  %s: %d retransmissions from the %s (gaps %s), %d ICMP, gave up after %s s: %s" % (
        name, len(retrans), sender, m["retransmission_gaps_s"], len(icmp), m["%s_gave_up_after_s" % sender], err))


def tcp_rows(pcap):
    out = []
    for line in netfix.tshark(["-r", pcap, "-Y", "not icmp", "-T", "fields", "-E", "separator=|", "-e", "frame.number",
                               "-e", "frame.time_epoch", "-e", "tcp.srcport", "-e", "tcp.len"]).splitlines():
        n, t, sp, ln = line.split("|")
        out.append({"frame": int(n), "t": float(t), "sp": int(sp), "len": int(ln or 0)})
    return out


def last_from(frames, sender_port, from_sender, t0):
    r = [x for x in frames if (x["sp"] == sender_port) == from_sender]
    return None if not r else {"frame": r[-1]["frame"], "t_rel": rel(r[-1]["t"], t0)}


def innermost(saw):
    """The innermost cause of what an application saw (e.g. "[Errno 110] Connection timed out")."""
    while isinstance(saw, dict) and saw.get("cause"):
        saw = saw["cause"]
    return saw.get("str") if isinstance(saw, dict) else saw


def gaps(by_num, nums):
    ts = [by_num[n]["t"] for n in nums]
    return [round(b - a, 3) for a, b in zip(ts, ts[1:])]


def main():
    netfix.term_as_exit()
    for name in sys.argv[1:] or list(SETUPS):
        run(name)


if __name__ == "__main__":
    main()
