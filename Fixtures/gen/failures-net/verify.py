"""Check every Fixtures/failures/net-*.pcap against its log with tshark, and print the facts
the README table quotes.

Per capture:
* the WebSocket frames of every logged connection and direction are the ones its log implies
  (the comparison of ../peers/verify.py: opcode, FIN, RSV1, MASK, lengths), leaving out
  packets tshark marks tcp.analysis.retransmission (it dissects their frames again; their
  number is printed apart);
* every TCP connection in the capture is in the log and has an "expected" entry, every
  expected cause is one of CAUSES, and the wire agrees with it (check_expected):
  idle_timeout = no Close frame, the first FIN/RST from the proxy's end of the leg
  (`by_endpoint_of_this_leg`), `idle_s` (±0.25 s) after the leg's last data packet, a FIN or RST
  as `teardown_by_proxy` says; peer_unreachable = no FIN/RST, exactly `retransmissions`
  retransmitted packets from `by` and none from `unreachable`, the last data packet `by`'s and
  after the vanish; handshake_failed = no SYN-ACK, no data, `syns` SYNs, an RST from the
  server only for `tcp_refused`;
* printed: packets (tshark -r F | wc -l), TCP connections, FIN and RST packets,
  retransmissions (tcp.analysis.retransmission), ICMP packets, and per connection the
  expected cause, who, and the key figure.
Exits 1 on any mismatch.
"""
import glob
import importlib.util
import json
import os
import sys

import netfix
from netfix import LOG_DIR, OUT_DIR, tcp_facts, tshark

CAUSES = {"clean_close", "error_close", "idle_timeout", "keepalive_timeout", "peer_unreachable", "reset",
          "closed_without_close_frame", "receiver_stalled", "upgrade_refused", "handshake_failed", "tls_alert",
          "open_at_end", "not_websocket"}

_spec = importlib.util.spec_from_file_location("peers_verify", os.path.join(netfix.HERE, "..", "peers", "verify.py"))
peers_verify = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peers_verify)


def frames_of(pcap, flt):
    """peers_verify.frames_of with another display filter: tshark dissects a retransmitted
    segment's WebSocket frame again, so retransmissions are counted apart."""
    orig = peers_verify.tshark
    peers_verify.tshark = lambda args: orig([a if a != "websocket" else flt for a in args])
    try:
        return peers_verify.frames_of(pcap)
    finally:
        peers_verify.tshark = orig


def count(pcap, flt):
    return len(tshark(["-r", pcap, "-Y", flt]).splitlines())


def key_figure(e):
    m = e.get("measured", {})
    if e["cause"] == "idle_timeout":
        return "idle %.3f s on the wire (configured %.1f s), proxy %s" % (m["idle_s_wire"], e["idle_s"],
                                                                         e["teardown_by_proxy"])
    if e["cause"] == "peer_unreachable":
        return "%d retransmissions by the %s, gave up after %.2f s" % (
            e["retransmissions"], e["by"], m["%s_gave_up_after_s" % e["by"]])
    if e["cause"] == "handshake_failed":
        return "%d SYN, RST from %s, client gave up after %.3f s" % (
            e["syns"], [r["from"] for r in m["rst"]] or "nobody", m["client_gave_up_after_s"])
    return ""


def check_expected(e, f, closes, k):
    """Does the wire agree with the expected entry?  Returns problems."""
    out = []
    ends = sorted(f["fin"] + f["rst"], key=lambda x: x["frame"])
    if e["cause"] == "idle_timeout":
        if (k[0], k[1]) in closes or (k[1], k[0]) in closes:
            out.append("a Close frame on an idle_timeout connection")
        who = e["by_endpoint_of_this_leg"]
        if not ends or ends[0]["from"] != who:
            out.append("first FIN/RST not from the %s: %s" % (who, ends[:1]))
        elif not f["last_data"] or abs(ends[0]["t"] - f["last_data"]["t"] - e["idle_s"]) > 0.25:
            out.append("idle on the wire is not %.1f s" % e["idle_s"])
        elif ("RST" if ends[0] in f["rst"] else "FIN") != e["teardown_by_proxy"]:
            out.append("teardown is not %s" % e["teardown_by_proxy"])
    elif e["cause"] == "peer_unreachable":
        if ends:
            out.append("FIN/RST on a peer_unreachable connection: %s" % ends)
        if len(f["retransmissions"][e["by"]]) != e["retransmissions"] or f["retransmissions"][e["unreachable"]]:
            out.append("retransmissions %s, expected %d from the %s" % (f["retransmissions"], e["retransmissions"],
                                                                        e["by"]))
        t_gone = f["first_t"] + e["measured"]["vanished_at_rel"]
        if f["last_data"] is None or f["last_data"]["from"] != e["by"] or f["last_data"]["t"] < t_gone:
            out.append("the last data is not the %s's, after the vanish" % e["by"])
    elif e["cause"] == "handshake_failed":
        if f["synack"] or f["data_packets"]["client"] or f["data_packets"]["server"]:
            out.append("a SYN-ACK or data on a handshake_failed connection")
        if len(f["syn"]) != e["syns"]:
            out.append("%d SYNs, expected %d" % (len(f["syn"]), e["syns"]))
        want_rst = ["server"] if e["stage"] == "tcp_refused" else []
        if [x["from"] for x in f["rst"]] != want_rst:
            out.append("RST from %s, expected %s" % ([x["from"] for x in f["rst"]], want_rst))
    else:
        out.append("no wire check for %s" % e["cause"])
    return out


def main():
    ok = True
    pcaps = sorted(glob.glob(os.path.join(OUT_DIR, "net-*.pcap")))
    if not pcaps:
        print("no captures in", OUT_DIR)
        return 1
    for pcap in pcaps:
        name = os.path.basename(pcap)[:-5]
        problems = []
        log = json.load(open(os.path.join(LOG_DIR, name + ".json")))
        # not icmp: an ICMP error quotes the segment it answers, which tshark dissects again
        frames = frames_of(pcap, "websocket and not icmp and not tcp.analysis.retransmission")
        frames_rtx = frames_of(pcap, "websocket and not icmp and tcp.analysis.retransmission")
        frames_icmp = frames_of(pcap, "websocket and icmp")
        for c in log["connections"]:
            for side, (src, dst) in (("client", (c["client_port"], c["server_port"])),
                                     ("server", (c["server_port"], c["client_port"]))):
                got = [f for f in frames if (f[0], f[1]) == (src, dst)]
                if any(f[5] != (side == "client") for f in got):
                    problems.append("%s %d->%d: wrong MASK bit" % (side, src, dst))
                exp = peers_verify.expected(c["sent"], side)
                got = [g for g in got if g[2] < 8] + [g for g in got if g[2] >= 8]
                exp = [x for x in exp if x[0] < 8] + [x for x in exp if x[0] >= 8]
                if [g[2:5] for g in got] != [x[:3] for x in exp]:
                    problems.append("%s %d->%d frames %s != log %s" % (side, src, dst, [g[2:5] for g in got],
                                                                      [x[:3] for x in exp]))
                    continue
                for g, x in zip(got, exp):
                    if x[3] is not None and g[6] != len(x[3]) // 2:
                        problems.append("%s payload length %d != logged %d" % (side, g[6], len(x[3]) // 2))
        facts = tcp_facts(pcap)
        logged = {(c["client_port"], c["server_port"]) for c in log["connections"]}
        exp = {(e["client_port"], e["server_port"]): e for e in log["expected"]["per_connection"]}
        if set(facts) != logged or logged != set(exp):
            problems.append("connections: capture %s, log %s, expected %s" % (sorted(facts), sorted(logged),
                                                                           sorted(exp)))
        closes = {(f[0], f[1]) for f in frames if f[2] == 8}
        for k, e in exp.items():
            if e["cause"] not in CAUSES:
                problems.append("unknown cause %s" % e["cause"])
            if k in facts:
                problems += ["%d->%d: %s" % (k[0], k[1], p) for p in check_expected(e, facts[k], closes, k)]
        npk = len(tshark(["-r", pcap]).splitlines())
        if log.get("packets") != npk:
            problems.append("log says %s packets, tshark %d" % (log.get("packets"), npk))
        fin, rst = count(pcap, "tcp.flags.fin == 1 and not icmp"), count(pcap, "tcp.flags.reset == 1 and not icmp")
        rtx, icmp = count(pcap, "tcp.analysis.retransmission and not icmp"), count(pcap, "icmp")
        status = "OK " if not problems else "BAD"
        ok &= not problems
        print("%s %-30s %3d packets, %d TCP connections, FIN %d, RST %d, retransmissions %d, ICMP %d, "
              "%d ws frames (tshark also dissects %d on retransmissions, %d quoted in ICMP), %d bytes" % (
                  status, name + ".pcap", npk, len(facts), fin, rst, rtx, icmp, len(frames), len(frames_rtx),
                  len(frames_icmp), os.path.getsize(pcap)))
        for k in sorted(exp):
            e = exp[k]
            print("      %d->%d %-12s %s by %s: %s" % (k[0], k[1], e.get("leg", ""), e["cause"], e["by"], key_figure(e)))
        for p in problems:
            print("      " + p)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
