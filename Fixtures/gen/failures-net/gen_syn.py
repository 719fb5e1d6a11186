"""net-syn-unanswered.pcap and net-syn-refused.pcap: a WebSocket client that never gets a
TCP connection, so no HTTP upgrade is ever sent.  Two captures, one connection attempt each.

Two private network namespaces joined by a veth pair (MTU 1500, offloads off):

    server ns ($WSFN_TAG "s"): vS 10.96.0.1  ==veth==  vC 10.96.0.2 (client ns, $WSFN_TAG "c")

The client is the websockets library's own connect() (open_timeout 3.5 s, ping_interval None),
run in a thread that entered the client namespace, binding its source port with local_addr.
Both captures are on vC, the client's veth.

net-syn-unanswered: a socket listens on 10.96.0.1:19610 in the server namespace, but
    nftables there drops every TCP packet to port 19610 (a filtering firewall).  The client
    (10.96.0.2:19660) sends its SYN; its kernel retransmits it 1, 2 and 3 s later (linear, not
    exponential: the kernel this was made on, 6.18, has net.ipv4.tcp_syn_linear_timeouts = 4,
    the number of SYN retransmissions made 1 s apart before the backoff starts; the generator
    records the value of the client namespace); websockets' open_timeout (3.5 s) ends the
    attempt and closes the socket, which sends nothing.
net-syn-refused: nothing listens on 10.96.0.1:19611; the server's kernel answers the client's
    (10.96.0.2:19661) SYN with RST,ACK; websockets raises ConnectionRefusedError at once.
"""
import asyncio
import os
import socket
import sys
import time

import websockets
from websockets.asyncio.client import connect

import netfix
from netfix import (FixtureLog, NetCapture, Netns, VethPair, describe_exc, in_ns, nft_drop, packet_count, rel,
                    tcp_facts, write_log)

SERVER_IP, CLIENT_IP = "10.96.0.1", "10.96.0.2"
OPEN_TIMEOUT = 3.5
SETUPS = {
    "net-syn-unanswered": dict(server_port=19610, client_port=19660, listening=True, dropped=True),
    "net-syn-refused": dict(server_port=19611, client_port=19661, listening=False, dropped=False),
}


def listen_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((SERVER_IP, port))
    s.listen(4)
    return s


def attempt(name, s):
    """In the client namespace: websockets connect(); returns what the application saw."""
    seen = {}

    async def main():
        seen["started_at"] = round(time.time(), 6)
        try:
            async with connect("ws://%s:%d/%s" % (SERVER_IP, s["server_port"], name),
                               local_addr=(CLIENT_IP, s["client_port"]), open_timeout=OPEN_TIMEOUT,
                               ping_interval=None):
                seen["saw"] = "connected (unexpected)"
        except Exception as e:  # what the application gets
            seen["saw"] = describe_exc(e)
        seen["ended_at"] = round(time.time(), 6)
    asyncio.run(main())
    return seen


def run(name, ns_s, ns_c):
    s = SETUPS[name]
    listener = None
    ruleset = None
    if s["listening"]:
        listener = in_ns(ns_s, listen_socket, s["server_port"])
    if s["dropped"]:
        ruleset = nft_drop(ns_s, [("in", "tcp dport %d" % s["server_port"])], table="wsfn%d" % s["server_port"])
    cap = NetCapture(name, [s["server_port"]], iface="vC", ns=ns_c, also="icmp and host %s" % CLIENT_IP).start()
    try:
        seen = in_ns(ns_c, attempt, name, s)
        cap.stop(wait_teardown=False)
        cap = None
    finally:
        if cap:
            cap.kill()
        if listener:
            listener.close()
    pcap = os.path.join(netfix.OUT_DIR, name + ".pcap")
    facts = tcp_facts(pcap)
    key = (s["client_port"], s["server_port"])
    if set(facts) != {key}:
        raise RuntimeError("%s: connections in capture %s" % (name, list(facts)))
    f = facts[key]
    t0 = f["first_t"]
    syns = f["syn"]
    retrans = f["retransmissions"]["client"]
    problems = []
    if f["synack"] or f["data_packets"]["client"] or f["data_packets"]["server"]:
        problems.append("SYN-ACK or data in capture")
    if s["dropped"] and (len(syns) < 2 or f["rst"]):
        problems.append("expected retransmitted SYNs and no RST: %s %s" % (syns, f["rst"]))
    if not s["dropped"] and (len(syns) != 1 or [e["from"] for e in f["rst"]] != ["server"]):
        problems.append("expected one SYN answered by a RST from the server: %s %s" % (syns, f["rst"]))
    saw = seen["saw"]
    if s["dropped"]:
        pc = {"client_port": s["client_port"], "server_port": s["server_port"],
              "cause": "handshake_failed", "by": "client", "stage": "tcp_syn_unanswered",
              "why": ("the server's namespace drops every TCP packet to port %d (nftables), so the client's SYN "
                      "and its kernel's SYN retransmissions go unanswered; the application (websockets connect, "
                      "open_timeout %.1f s) gave up and closed the socket, which sends nothing; no HTTP upgrade "
                      "was ever sent") % (s["server_port"], OPEN_TIMEOUT),
              "syns": len(syns), "syn_retransmissions": len(retrans),
              "syn_retransmissions_source": "tshark -Y tcp.analysis.retransmission",
              "open_timeout_s": OPEN_TIMEOUT,
              "client_sysctls": sysctls(ns_c)}
    else:
        pc = {"client_port": s["client_port"], "server_port": s["server_port"],
              "cause": "handshake_failed", "by": "server", "stage": "tcp_refused",
              "why": ("nothing listens on %s:%d, so the server's kernel answered the SYN with RST,ACK; the "
                      "application got ConnectionRefusedError at once; no HTTP upgrade was ever sent") % (
                          SERVER_IP, s["server_port"]),
              "syns": len(syns), "rst_from": "server"}
    pc["measured"] = {
        "source_wire": "tshark frame.time_epoch of the capture (t_rel: seconds after its first packet)",
        "syn": [dict(e, t_rel=rel(e["t"], t0)) for e in syns],
        "rst": [dict(e, t_rel=rel(e["t"], t0)) for e in f["rst"]],
        "packets": f["packets"],
        "source_peers": "time.time() in the client's process (same clock as the capture)",
        "client_started_at_rel": rel(seen["started_at"], t0),
        "client_saw_failure_at_rel": rel(seen["ended_at"], t0),
        "client_gave_up_after_s": round(seen["ended_at"] - seen["started_at"], 6),
        "client_saw": saw,
        "server": ("a socket listened on the port (never accepted anything): every packet to it was dropped "
                   "before TCP saw it" if s["listening"] else "nothing listened on the port"),
    }
    if problems:
        raise RuntimeError("%s: %s" % (name, "; ".join(problems)))
    log = FixtureLog(name)
    log.conn(s["client_port"], s["server_port"], client="websockets %s" % websockets.__version__,
             server="no WebSocket server reached (%s)" % ("filtered port" if s["dropped"] else "closed port"))
    extra = {"capture": "tcpdump -i vC (the client's veth) '%s'" % cap_filter(s)}
    if ruleset:
        extra["nft"] = ruleset
    write_log(log, {"source": "the setup and the client's log (not an analyzer)", "per_connection": [pc],
                    "pattern": None},
              packets=packet_count(pcap),
              note="the connection never opened: neither peer sent a WebSocket frame", **extra)
    print("  %s: %d SYN (%d retransmitted), RST from %s; client gave up after %.3f s: %s" % (
        name, len(syns), len(retrans), [e["from"] for e in f["rst"]], pc["measured"]["client_gave_up_after_s"],
        saw.get("type") + ": " + saw.get("str") if isinstance(saw, dict) else saw))


def sysctls(ns):
    out = {}
    for k in ("net.ipv4.tcp_syn_retries", "net.ipv4.tcp_syn_linear_timeouts"):
        v = ns.exec("sysctl", "-n", k, check=False).strip()
        out[k] = int(v) if v.isdigit() else None
    return out


def cap_filter(s):
    return "(tcp and (port %d)) or (icmp and host %s)" % (s["server_port"], CLIENT_IP)


def main():
    netfix.term_as_exit()
    made = []
    try:
        ns_s = Netns("s")
        made.append(ns_s)
        ns_c = Netns("c")
        made.append(ns_c)
        VethPair(ns_s, "vS", SERVER_IP, ns_c, "vC", CLIENT_IP)
        for name in sys.argv[1:] or list(SETUPS):
            run(name, ns_s, ns_c)
    finally:
        for ns in reversed(made):
            ns.delete()


if __name__ == "__main__":
    main()
