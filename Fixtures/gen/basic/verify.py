#!/usr/bin/env python3
"""Checks the gen/basic fixtures with tshark.

  verify.py --seed FILE   only the seed-walkthrough structure check (exit 1 on failure)
  verify.py FIXTURES_DIR  full check: every file opens in tshark (except the
                          deliberately damaged ones), packet counts, sizes, logs,
                          seed structure; prints a summary table.
"""
import json
import os
import subprocess
import sys

BASIC = ["seed-walkthrough.pcap"] + ["linktypes/" + n for n in [
    "sll.pcap", "sll2.pcap", "dumpcap.pcapng", "ipv6.pcap", "snaplen96.pcap", "nanosecond.pcap",
    "bigendian-usec.pcap", "bigendian-nsec.pcap", "null-le.pcap", "null-be.pcap", "loop.pcap",
    "raw.pcap", "ipv4-linktype.pcap", "ipv6-linktype.pcap", "vlan-8021q.pcap", "qinq-8021ad.pcap",
    "ipv4-fragments.pcap", "ipv6-exthdr.pcap", "mixed-nontcp.pcap",
    "truncated-mid-record.pcap", "not-a-capture.pcap", "dumpcap-two-interfaces.pcapng"]]
DAMAGED = {"linktypes/truncated-mid-record.pcap", "linktypes/not-a-capture.pcap"}


def tshark(*args):
    p = subprocess.run(["tshark", *args], capture_output=True, text=True)
    err = "\n".join(l for l in p.stderr.splitlines()
                    if not l.startswith("Running as user \"root\""))
    return p.returncode, p.stdout, err


def check_session(path, port, full=True, quiet=False):
    """One WebSocket session on `port`: SYN/SYN-ACK/ACK first, FIN/ACK/FIN/ACK
    (server FIN first) as the last four TCP packets, no RST, 2 FINs; with
    full=True also the handshake and frame types.  Non-TCP packets (mixed
    capture) and non-final IP fragments are ignored (-Y tcp)."""
    port = str(port)
    rc, out, err = tshark("-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=|",
                          "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport",
                          "-e", "tcp.flags", "-e", "tcp.len", "-e", "_ws.col.Info")
    rows = [l.split("|") for l in out.splitlines()]
    problems = []
    if rc != 0 or err.strip():
        problems.append("tshark error: " + err.strip())
    if any(r[0] != "0" for r in rows):
        problems.append("more than one TCP stream")
    if any(port not in (r[1], r[2]) for r in rows):
        problems.append("packet not on port " + port)
    flags = [int(r[3], 16) for r in rows]
    if [f & 0x07 for f in flags[:3]] != [0x02, 0x02, 0x00] or flags[1] != 0x012:
        problems.append("does not start with SYN, SYN/ACK, ACK")
    want = [(0x011, True), (0x010, False), (0x011, False), (0x010, True)]
    for r, (fl, from_server) in zip(rows[-4:], want):
        if int(r[3], 16) != fl or r[4] != "0" or (r[1] == port) != from_server:
            problems.append("teardown mismatch: %s" % r[:5])
    if sum(1 for f in flags if f & 0x01) != 2 or any(f & 0x04 for f in flags):
        problems.append("unexpected FIN/RST count")
    if full:
        info = " ".join(r[5] for r in rows)
        for needle in ["GET /chat", "101 Switching Protocols", "Text", "Binary", "Ping", "Pong",
                       "Connection Close"]:
            if needle not in info:
                problems.append("missing " + needle)
        rc, out, _ = tshark("-r", path, "-Y", "http.request", "-T", "fields",
                            "-e", "http.request.line")
        for h in ["Host:", "Origin:", "Sec-WebSocket-Key:", "Sec-WebSocket-Version: 13"]:
            if h not in out:
                problems.append("GET lacks " + h)
        if "permessage-deflate" in out:
            problems.append("permessage-deflate offered")
        rc, out, _ = tshark("-r", path, "-Y", "websocket", "-T", "fields", "-e", "websocket.opcode")
        if sorted(out.split()) != sorted("1 1 1 1 2 2 9 10 8 8".split()):
            problems.append("unexpected websocket opcodes: %s" % out.split())
    for p in problems:
        print("SESSION CHECK %s: %s" % (path, p), file=sys.stderr)
    if not problems and not quiet:
        print("session check OK: %s (%d TCP packets, ends FIN/ACK/FIN/ACK)" % (path, len(rows)))
    return not problems


OPS = {"1": "text", "2": "binary", "8": "close", "9": "ping", "10": "pong"}


def check_log_matches(path, log_path, port, connection=0):
    """The frames tshark decodes must equal, per side and in order, what the
    peers logged as sent (connection `connection` of the log)."""
    rc, out, _ = tshark("-r", path, "-Y", "websocket", "-T", "fields", "-E", "separator=|",
                        "-e", "tcp.srcport", "-e", "websocket.opcode", "-e", "websocket.payload.text",
                        "-e", "data.data", "-e", "websocket.payload.ping", "-e", "websocket.payload.pong",
                        "-e", "websocket.payload.close.status_code",
                        "-e", "websocket.payload.close.reason")
    seen = {"client": [], "server": []}
    for l in out.splitlines():
        src, op, text, data, ping, pong, code, reason = l.split("|")
        side = "server" if src == str(port) else "client"
        if op == "8":
            seen[side].append(("close", int(code), reason))
        else:
            payload = text.encode().hex() if op == "1" else (data or ping or pong)
            seen[side].append((OPS[op], payload))
    logged = {"client": [], "server": []}
    conn = json.load(open(log_path))["connections"][connection]
    for e in conn["sent"]:
        if e["opcode"] == "close":
            logged[e["from"]].append(("close", e["close_code"], e["close_reason"]))
        else:
            logged[e["from"]].append((e["opcode"], e["payload_hex"]))
    if seen != logged:
        print("LOG MISMATCH %s:\n  capture %s\n  log     %s" % (path, seen, logged), file=sys.stderr)
        return False
    return True


PORTS = {"linktypes/sll.pcap": 18001, "linktypes/sll2.pcap": 18002,
         "linktypes/dumpcap.pcapng": 18003, "linktypes/ipv6.pcap": 18004,
         "linktypes/snaplen96.pcap": 18005, "linktypes/nanosecond.pcap": 18006,
         "linktypes/mixed-nontcp.pcap": 18007, "linktypes/ipv6-linktype.pcap": 18004,
         "linktypes/ipv6-exthdr.pcap": 18004, "linktypes/bigendian-nsec.pcap": 18006}


def main():
    if sys.argv[1] == "--seed":
        sys.exit(0 if check_session(sys.argv[2], 18000) else 1)
    fx = sys.argv[1]
    ok = True
    for rel in BASIC:
        if rel not in DAMAGED and rel != "linktypes/dumpcap-two-interfaces.pcapng":
            full = rel != "linktypes/snaplen96.pcap"
            port = PORTS.get(rel, 18000)
            ok &= check_session(os.path.join(fx, rel), port, full=full)
            if full:
                log = os.path.join(fx, "logs", os.path.splitext(os.path.basename(rel))[0] + ".json")
                ok &= check_log_matches(os.path.join(fx, rel), log, port)
    # Two interfaces in one pcapng: each interface's packets alone are one whole session, the
    # one its peers logged as the log's connection of that index.
    two = os.path.join(fx, "linktypes/dumpcap-two-interfaces.pcapng")
    for index, port in ((0, 18008), (1, 18009)):
        part = "/tmp/wstrace-two-interfaces-%d.pcapng" % index
        tshark("-r", two, "-Y", "frame.interface_id == %d" % index, "-w", part)
        ok &= check_session(part, port)
        ok &= check_log_matches(part, os.path.join(fx, "logs/dumpcap-two-interfaces.json"), port, index)
        os.remove(part)
    if ok:
        print("peer logs match the decoded frames of every fully captured fixture")
    # checksums must be valid in the fragment fixture (IPv4 header + reassembled TCP)
    rc, out, _ = tshark("-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                        "-r", os.path.join(fx, "linktypes/ipv4-fragments.pcap"),
                        "-Y", "ip.checksum.status!=1 || (tcp && tcp.checksum.status!=1)")
    if out.strip():
        ok = False
        print("ipv4-fragments: bad checksum in\n" + out, file=sys.stderr)
    else:
        print("ipv4-fragments: all IPv4 header and TCP checksums valid")
    total = 0
    print("%-36s %8s %7s %-28s %s" % ("fixture", "bytes", "packets", "encapsulation", "tshark"))
    for rel in BASIC:
        path = os.path.join(fx, rel)
        size = os.path.getsize(path)
        total += size
        rc, out, err = tshark("-r", path)
        n = len(out.splitlines())
        _, enc, _ = tshark("-r", path, "-T", "fields", "-e", "frame.encap_type", "-c", "1")
        status = "ok" if rc == 0 and not err.strip() else "ERR: " + " ".join(err.split())[:90]
        if (rel in DAMAGED) == (status == "ok"):
            ok = False
            status += "  <-- UNEXPECTED"
        if size >= 200 * 1024:
            ok = False
            status += "  <-- TOO BIG"
        log = os.path.join(fx, "logs", os.path.splitext(os.path.basename(rel))[0] + ".json")
        if not os.path.exists(log) or json.load(open(log))["fixture"] != rel:
            ok = False
            status += "  <-- LOG MISSING/WRONG"
        print("%-36s %8d %7d %-28s %s" % (rel, size, n, enc.strip(), status))
    print("total bytes: %d" % total)
    if total >= 2 * 1024 * 1024:
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
