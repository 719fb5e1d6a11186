"""Check every Fixtures/failures/app-*.pcap against its log with tshark.

1. Frames: per connection and side, the WebSocket frames tshark dissects (opcode, MASK bit,
   close code) must be the ones the log lists as sent (app-zero-window: the server's frames
   on the wire are the first `server_frames_on_wire` of those it queued).
2. The "expected" block must agree with what is on the wire:
   keepalive_timeout  Close with close_code from `by`, none from the other side, and
                      exactly pings_unanswered pings from `by` after the last pong;
   clean_close        Close frames both ways, the first from `by`, codes = close_code;
   error_close        the first Close is from `by` with close_code;
   closed_without_close_frame  no Close frame, the first FIN/RST is from `by`;
   reset              no Close frame, an RST from `by`;
   receiver_stalled   tcp.analysis.zero_window packets only from `by`, first at
                      zero_window_first_at;
   pattern mass_disconnect  the listed connections end (first Close / FIN / RST from `by`)
                      within 1 s of each other.
3. Prints, per capture, the facts the README table quotes: packets (tshark -r F | wc -l),
   connections, Close codes per side, FIN/RST per side, zero windows, pings/pongs.
Exits 1 on any mismatch.
"""
import glob
import json
import os
import subprocess
import sys

from appfix import LOG_DIR, OUT_DIR

OPC = {"continuation": 0, "text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}


def tshark(args):
    return subprocess.run(["tshark"] + args, capture_output=True, text=True).stdout


def frames_of(pcap):
    """[(frame, t, sport, dport, opcode, mask, close_code)] one per WebSocket frame."""
    out = tshark(["-r", pcap, "-Y", "websocket", "-T", "fields", "-E", "occurrence=a",
                  "-e", "frame.number", "-e", "frame.time_epoch", "-e", "tcp.srcport", "-e", "tcp.dstport",
                  "-e", "websocket.opcode", "-e", "websocket.mask",
                  "-e", "websocket.payload.close.status_code"])
    frames = []
    for line in out.splitlines():
        num, t, sp, dp, ops, masks, codes = (line.split("\t") + [""] * 7)[:7]
        codes = iter(codes.split(","))
        for op, mask in zip(ops.split(","), masks.split(",")):
            op = int(op, 0)
            frames.append((int(num), float(t), int(sp), int(dp), op, mask in ("1", "True"),
                           int(next(codes)) if op == 8 else None))
    return frames


def tcp_ends(pcap):
    """[(frame, t, sport, dport, 'FIN'|'RST')]"""
    out = tshark(["-r", pcap, "-Y", "tcp.flags.fin == 1 or tcp.flags.reset == 1", "-T", "fields",
                  "-e", "frame.number", "-e", "frame.time_epoch", "-e", "tcp.srcport", "-e", "tcp.dstport",
                  "-e", "tcp.flags.reset"])
    rows = []
    for line in out.splitlines():
        n, t, sp, dp, rst = line.split("\t")
        rows.append((int(n), float(t), int(sp), int(dp), "RST" if rst in ("1", "True") else "FIN"))
    return rows


def zero_windows(pcap):
    out = tshark(["-r", pcap, "-Y", "tcp.analysis.zero_window", "-T", "fields",
                  "-e", "frame.time_epoch", "-e", "tcp.srcport"])
    return [(float(t), int(s)) for t, s in (l.split("\t") for l in out.splitlines())]


def check(name):
    pcap = os.path.join(OUT_DIR, name + ".pcap")
    log = json.load(open(os.path.join(LOG_DIR, name + ".json")))
    errs = []
    npk = len(tshark(["-r", pcap]).splitlines())
    frames = frames_of(pcap)
    ends = tcp_ends(pcap)
    zw = zero_windows(pcap)

    def side_of(c, sport):
        return "server" if sport == c["server_port"] else "client"

    def conn_frames(c):
        return [f for f in frames if {f[2], f[3]} == {c["client_port"], c["server_port"]}]

    def conn_ends(c):
        return [e for e in ends if {e[2], e[3]} == {c["client_port"], c["server_port"]}]

    conns = {c["client_port"]: c for c in log["connections"]}
    # 1. frames vs log
    for c in log["connections"]:
        cf = conn_frames(c)
        for side in ("client", "server"):
            want = [(OPC.get(e["opcode"], int(e["opcode"], 16) if e["opcode"].startswith("0x") else -1),
                     e["close_code"]) for e in c["sent"] if e["from"] == side]
            got = [(f[4], f[6]) for f in cf if side_of(c, f[2]) == side]
            if side == "server" and "server_frames_on_wire" in c:
                want = want[:c["server_frames_on_wire"]]
            if want != got:
                errs.append("%d %s frames: log %s, wire %s" % (c["client_port"], side, want, got))
            masks = {f[5] for f in cf if side_of(c, f[2]) == side}
            if masks and masks != {side == "client"}:
                errs.append("%d %s: MASK bits %s" % (c["client_port"], side, masks))
    # 2. expected vs wire
    exp = log["expected"]
    for pc in exp["per_connection"]:
        c = conns.get(pc["client_port"])
        cause, by = pc["cause"], pc["by"]
        if c is None:
            if cause != "upgrade_refused":
                errs.append("%d: no connection in the log" % pc["client_port"])
            continue
        cf, ce = conn_frames(c), conn_ends(c)
        closes = [f for f in cf if f[4] == 8]
        tag = "%d %s" % (pc["client_port"], cause)
        if cause in ("clean_close", "error_close", "keepalive_timeout"):
            if not closes or side_of(c, closes[0][2]) != by or closes[0][6] != pc["close_code"]:
                errs.append("%s: first Close %s" % (tag, closes[:1]))
        if cause == "clean_close":
            if {side_of(c, f[2]) for f in closes} != {"client", "server"}:
                errs.append("%s: Close frames not both ways" % tag)
        if cause == "keepalive_timeout":
            if any(side_of(c, f[2]) != by for f in closes):
                errs.append("%s: a Close came back" % tag)
            pongs = [f for f in cf if f[4] == 10]
            last = pongs[-1][0] if pongs else 0
            un = [f for f in cf if f[4] == 9 and side_of(c, f[2]) == by and f[0] > last]
            if len(un) != pc["pings_unanswered"]:
                errs.append("%s: %d pings after the last pong, log %d" % (tag, len(un), pc["pings_unanswered"]))
        if cause in ("closed_without_close_frame", "reset"):
            if closes:
                errs.append("%s: Close frames present" % tag)
            first = ce[0] if ce else None
            if first is None or side_of(c, first[2]) != by:
                errs.append("%s: first FIN/RST %s" % (tag, first))
            if cause == "reset" and not any(e[4] == "RST" and side_of(c, e[2]) == by for e in ce):
                errs.append("%s: no RST from %s" % (tag, by))
        if cause == "receiver_stalled":
            adv = {s for _, s in zw}
            want = c["client_port"] if by == "client" else c["server_port"]
            if adv != {want} or abs(zw[0][0] - pc["zero_window_first_at"]) > 1e-5:
                errs.append("%s: zero windows from %s first %s" % (tag, adv, zw[:1]))
    pat = exp.get("pattern")
    if pat and pat.get("kind") == "mass_disconnect":
        times = []
        for p in pat["client_ports"]:
            c = conns[p]
            evs = [f[1] for f in conn_frames(c) if f[4] == 8 and side_of(c, f[2]) == pat["by"]] + \
                  [e[1] for e in conn_ends(c) if side_of(c, e[2]) == pat["by"]]
            times.append(min(evs))
        if len(times) != pat["connections"] or max(times) - min(times) > 1.0:
            errs.append("mass_disconnect: %d ends over %.3f s" % (len(times), max(times) - min(times)))
    # 3. facts
    def per_side(items, fmt):
        d = {"client": [], "server": []}
        for it in items:
            c = conns.get(it[2]) or conns.get(it[3])
            if c is not None:
                d[side_of(c, it[2])].append(fmt(it))
        return d
    cl = per_side([f for f in frames if f[4] == 8], lambda f: str(f[6]))
    fr = per_side(ends, lambda e: e[4])
    facts = {"packets": npk, "connections": len(log["connections"]),
             "close_codes": {k: sorted(set(v)) for k, v in cl.items()},
             "close_frames": {k: len(v) for k, v in cl.items()},
             "FIN": {k: v.count("FIN") for k, v in fr.items()},
             "RST": {k: v.count("RST") for k, v in fr.items()},
             "pings": sum(1 for f in frames if f[4] == 9), "pongs": sum(1 for f in frames if f[4] == 10),
             "zero_window_packets": len(zw)}
    return errs, facts


def main():
    pcaps = sorted(glob.glob(os.path.join(OUT_DIR, "app-*.pcap")))
    if not pcaps:
        print("no app-*.pcap in", OUT_DIR)
        return 1
    ok = True
    for pcap in pcaps:
        name = os.path.basename(pcap)[:-5]
        errs, facts = check(name)
        print("%-28s %s %s" % (name + ".pcap", "OK " if not errs else "BAD", json.dumps(facts)))
        for e in errs:
            print("    " + e)
        ok = ok and not errs
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
