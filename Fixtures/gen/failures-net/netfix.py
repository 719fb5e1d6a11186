"""Shared helpers for the network failure-mode captures in Fixtures/failures/net-*.pcap.

Reuses ../websocket/wsfix.py (Capture, FixtureLog, ConnLog, hook_websockets) and
../peers/peerfix.py (Proc, wait_port).  Adds:

* NetCapture    - tcpdump (-U --immediate-mode, a port filter always) into
                  Fixtures/failures/, optionally inside a network namespace
                  (`ip netns exec NS tcpdump -i IF`); fails if tcpdump dropped a packet.
* Netns / VethPair - named network namespaces (names start with $WSFN_TAG, set by
                  generate.sh so that its exit trap can delete them) and a veth pair
                  between two of them (MTU 1500, tso/gso/gro/tx/rx/sg offloads off).
* in_ns         - runs a function in a thread that entered a namespace (setns): a socket
                  it creates stays in that namespace, so one asyncio loop can hold a
                  server socket in one namespace and a client socket in another.
* nft_drop      - nftables rules inside a namespace that drop packets (a vanished host).
* timed_hook    - the websockets send hook of wsfix, plus the wall-clock time of every
                  frame a peer handed to websockets (kept in a per-connection timeline).
* tcp_facts     - per-connection facts read from a capture with tshark (packet counts,
                  SYN/FIN/RST with their times, data packets, retransmissions).

All ports are in 19500-19699.  Times are Unix epoch seconds; the peers' times come from
time.time() in the same process, the capture's from tcpdump's kernel timestamps
(frame.time_epoch in tshark): both are the same host clock.
"""
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "websocket"))
sys.path.insert(0, os.path.join(HERE, "..", "peers"))

import wsfix  # noqa: E402
from wsfix import ConnLog, FixtureLog, hook_websockets  # noqa: E402,F401
from peerfix import Proc, wait_port  # noqa: E402,F401

FIXTURES = wsfix.FIXTURES
OUT_DIR = os.path.join(FIXTURES, "failures")
LOG_DIR = wsfix.LOG_DIR
TMP = os.path.join(HERE, "tmp")
TAG = os.environ.get("WSFN_TAG") or "wsfn%d" % os.getpid()
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def sh(*argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), r.stderr.strip()))
    return r.stdout


def term_as_exit():
    """SIGTERM (generate.sh's `timeout`) raises SystemExit, so every finally: block runs
    (namespaces deleted, proxies and tcpdump stopped)."""
    def handler(sig, frame):
        raise SystemExit("terminated by signal %d" % sig)
    signal.signal(signal.SIGTERM, handler)


# --------------------------------------------------------------------------- namespaces
class Netns:
    def __init__(self, suffix):
        self.name = TAG + suffix
        sh("ip", "netns", "add", self.name)
        try:
            self.sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
            sh("ip", "-n", self.name, "link", "set", "lo", "up")
        except Exception:
            self.delete()
            raise

    def sysctl(self, *settings):
        sh("ip", "netns", "exec", self.name, "sysctl", "-qw", *settings)

    def exec(self, *argv, check=True):
        return sh("ip", "netns", "exec", self.name, *argv, check=check)

    def kill_processes(self):
        """SIGKILL what is left in the namespace (only processes we started live there)."""
        for pid in sh("ip", "netns", "pids", self.name, check=False).split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def delete(self):
        if os.path.exists("/var/run/netns/" + self.name):
            self.kill_processes()
            sh("ip", "netns", "del", self.name, check=False)


class VethPair:
    """ns_a.if_a (addr_a/24) ==veth== ns_b.if_b (addr_b/24); deleted with the namespaces."""

    def __init__(self, ns_a, if_a, addr_a, ns_b, if_b, addr_b):
        sh("ip", "link", "add", if_a, "netns", ns_a.name, "type", "veth", "peer", "name", if_b, "netns", ns_b.name)
        for ns, ifc, addr in ((ns_a, if_a, addr_a), (ns_b, if_b, addr_b)):
            ns.exec("ethtool", "-K", ifc, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off", "sg", "off")
            sh("ip", "-n", ns.name, "link", "set", ifc, "mtu", "1500", "up")
            sh("ip", "-n", ns.name, "addr", "add", addr + "/24", "dev", ifc)
        # the link comes up asynchronously: wait for both ends to be able to reach the other
        deadline = time.time() + 10
        while "state UP" not in sh("ip", "-n", ns_a.name, "link", "show", if_a) \
                or "state UP" not in sh("ip", "-n", ns_b.name, "link", "show", if_b):
            if time.time() > deadline:
                raise RuntimeError("veth %s/%s did not come up" % (if_a, if_b))
            time.sleep(0.05)


def in_ns(ns, fn, *args):
    """Run fn(*args) in a short-lived thread that entered namespace ns (setns); return its
    result.  Sockets it creates belong to ns for their whole life."""
    box = {}

    def body():
        try:
            fd = os.open("/var/run/netns/" + ns.name, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns " + ns.name)
            finally:
                os.close(fd)
            box["r"] = fn(*args)
        except BaseException as e:  # re-raised in the caller
            box["e"] = e
    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box["r"]


def nft_drop(ns, rules, table="wsfn"):
    """Add a table with input and output chains to ns; rules: list of (chain, match) where
    match is nft syntax ("" drops everything in that chain).  Returns the ruleset text."""
    ns.exec("nft", "add", "table", "inet", table)
    for chain, hook in (("in", "input"), ("out", "output")):
        ns.exec("nft", "add", "chain", "inet", table, chain,
                "{ type filter hook %s priority 0; policy accept; }" % hook)
    for chain, match in rules:
        ns.exec("nft", "add", "rule", "inet", table, chain, *(match.split() + ["drop"]))
    return ns.exec("nft", "list", "table", "inet", table)


# --------------------------------------------------------------------------- capture
class NetCapture(wsfix.Capture):
    """tcpdump -i IFACE -U --immediate-mode -B 4096 -s 0 -w Fixtures/failures/NAME.pcap FILTER,
    run in namespace ns (or where this process runs if ns is None).  The filter always
    names ports."""

    def __init__(self, name, ports, iface="lo", ns=None, also=None):
        super().__init__(name, ports, iface)
        self.also = also  # e.g. "icmp and host 10.96.0.1": added with "or"
        assert all(19500 <= p <= 19699 for p in ports)
        os.makedirs(OUT_DIR, exist_ok=True)
        self.path = os.path.join(OUT_DIR, name + ".pcap")
        self.ns = ns

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.filter = "tcp and (" + " or ".join("port %d" % p for p in self.ports) + ")"
        if self.also:
            self.filter = "(%s) or (%s)" % (self.filter, self.also)
        pre = ["ip", "netns", "exec", self.ns.name] if self.ns else []
        self.proc = subprocess.Popen(
            pre + ["tcpdump", "-i", self.iface, "-U", "--immediate-mode", "-B", "4096", "-s", "0", "-Z", "root",
                   "-w", self.path, self.filter],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        buf = wsfix.wait_listening(self.proc)
        if b"listening on" not in buf:
            self.proc.kill()
            raise RuntimeError("tcpdump did not start: %r" % buf)
        time.sleep(0.5)
        return self

    def stop(self, wait_teardown=True, timeout=8.0):
        """wait_teardown: wait (up to timeout) for every connection's FIN/FIN or RST as
        wsfix.Capture does; otherwise wait 1 s for the last packets to be written."""
        if wait_teardown:
            super().stop(timeout=timeout)
        else:
            time.sleep(1.0)
            super().stop(wait_ports=[], timeout=0)
        m = re.search(r"(\d+) packets dropped by kernel", self.stats)
        if m is None or int(m.group(1)) != 0:
            raise RuntimeError("%s: tcpdump dropped packets: %s" % (os.path.basename(self.path), self.stats))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- peer logs
def timed_hook(conn, connlog, side, timeline):
    """hook_websockets (the send log of wsfix) plus, per frame handed to websockets,
    {"t": epoch, "from": side, "opcode": name, "len": payload bytes} in timeline."""
    hook_websockets(conn, connlog, side)
    proto = conn.protocol
    inner = proto.send_frame

    def send_frame(frame):
        timeline.append({"t": round(time.time(), 6), "from": side,
                         "opcode": wsfix.OPNAMES.get(int(frame.opcode), str(int(frame.opcode))),
                         "len": len(frame.data)})
        return inner(frame)
    proto.send_frame = send_frame


def describe_exc(e):
    """An exception and its causes, as the application saw them."""
    if e is None:
        return None
    out = {"type": type(e).__module__ + "." + type(e).__qualname__, "str": str(e)}
    if isinstance(e, OSError) and e.errno is not None:
        out["errno"] = e.errno
        out["errno_name"] = os.strerror(e.errno)
    for attr in ("rcvd", "sent"):
        if hasattr(e, attr):
            v = getattr(e, attr)
            out[attr] = None if v is None else {"code": int(v.code), "reason": v.reason}
    cause = e.__cause__ or e.__context__
    if cause is not None and cause is not e:
        out["cause"] = describe_exc(cause)
    return out


# --------------------------------------------------------------------------- tshark facts
def tshark(args):
    r = subprocess.run(["tshark"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("tshark %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def packet_count(pcap):
    return len(tshark(["-r", pcap]).splitlines())


def tcp_facts(pcap):
    """{(client_port, server_port): facts} with tshark; the client is the SYN's sender.

    facts: packets, data_packets (tcp.len > 0) per direction, syn/synack/fin/rst lists of
    {"frame", "t" (epoch), "from" ("client"/"server")}, last_data {"frame","t","from"},
    retransmissions (tcp.analysis.retransmission, per direction) and the frames."""
    fields = ["frame.number", "frame.time_epoch", "tcp.stream", "tcp.srcport", "tcp.dstport",
              "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.len"]
    # "not icmp": an ICMP error quotes a TCP header, which tshark dissects as tcp.* fields too
    rows = tshark(["-r", pcap, "-Y", "tcp and not icmp", "-T", "fields", "-E", "separator=|"]
                  + sum((["-e", f] for f in fields), []))
    retrans = set(int(x) for x in tshark(["-r", pcap, "-Y", "tcp.analysis.retransmission and not icmp", "-T", "fields",
                                          "-e", "frame.number"]).split())
    streams = {}
    for line in rows.splitlines():
        num, t, st, sp, dp, syn, ack, fin, rst, ln = line.split("|")
        truthy = lambda v: v in ("1", "True")  # noqa: E731
        s = streams.setdefault(st, {"rows": []})
        s["rows"].append(dict(frame=int(num), t=float(t), sp=int(sp), dp=int(dp), syn=truthy(syn),
                              ack=truthy(ack), fin=truthy(fin), rst=truthy(rst), len=int(ln or 0)))
    out = {}
    for st, s in streams.items():
        rows = s["rows"]
        first_syn = next((r for r in rows if r["syn"] and not r["ack"]), None)
        if first_syn:
            cport, sport = first_syn["sp"], first_syn["dp"]
        else:  # no SYN in the capture: the lower port is the server (all our servers are)
            cport, sport = max(rows[0]["sp"], rows[0]["dp"]), min(rows[0]["sp"], rows[0]["dp"])
        side = lambda r: "client" if r["sp"] == cport else "server"  # noqa: E731
        ev = lambda r: {"frame": r["frame"], "t": r["t"], "from": side(r)}  # noqa: E731
        data = [r for r in rows if r["len"] > 0]
        f = {"stream": int(st), "packets": len(rows),
             "first_t": rows[0]["t"], "last_t": rows[-1]["t"],
             "data_packets": {"client": sum(side(r) == "client" for r in data),
                              "server": sum(side(r) == "server" for r in data)},
             "syn": [ev(r) for r in rows if r["syn"] and not r["ack"]],
             "synack": [ev(r) for r in rows if r["syn"] and r["ack"]],
             "fin": [ev(r) for r in rows if r["fin"]],
             "rst": [ev(r) for r in rows if r["rst"]],
             "last_data": ev(data[-1]) if data else None,
             "retransmissions": {"client": [r["frame"] for r in rows if r["frame"] in retrans and side(r) == "client"],
                                 "server": [r["frame"] for r in rows if r["frame"] in retrans and side(r) == "server"]}}
        out[(cport, sport)] = f
    return out


def icmp_facts(pcap):
    """ICMP packets: [{"frame", "t", "src", "dst", "type", "code", "what", "quoted": "sport->dport"}]."""
    out = []
    rows = tshark(["-r", pcap, "-Y", "icmp", "-T", "fields", "-E", "separator=|", "-e", "frame.number",
                   "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ip.dst", "-e", "icmp.type", "-e", "icmp.code",
                   "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "_ws.col.Info"])
    for line in rows.splitlines():
        n, t, src, dst, ty, code, sp, dp, info = line.split("|")
        out.append({"frame": int(n), "t": float(t), "src": src.split(",")[0], "dst": dst.split(",")[0],
                    "type": int(ty), "code": int(code), "what": info.strip(), "quoted": "%s->%s" % (sp, dp)})
    return out


def rel(t, t0):
    return None if t is None else round(t - t0, 6)


def write_log(log, expected, **extra):
    """FixtureLog.write with an "expected" object (the ground truth of the setup)."""
    log.write(expected=expected, **extra)
    path = os.path.join(LOG_DIR, log.fixture + ".json")
    with open(path) as f:
        json.load(f)  # it parses
    return path
