"""Check every Fixtures/apps/mqtt-*.pcap and stomp-*.pcap against its log
Fixtures/logs/<name>.json with tshark.

For every capture:
* size < 300 KB; tshark reads it; its TCP connections are exactly the logged ones, each
  complete (the client's SYN, then FIN from both sides or an RST);
* MQTT (brokerfix.check_mqtt): per connection and side, the MQTT packets parsed from the
  unmasked WebSocket payloads (tshark data.data; tshark 4.0 does not dissect MQTT inside
  WebSocket itself) equal the logged entries in order: type, packet id, topic, QoS, retain,
  payload length, and the WebSocket data message that carries (completes) each; the count of
  WebSocket data messages per side equals the log's;
* STOMP: per connection and side, the count of WebSocket data messages equals the log's,
  each message's length equals the logged ws_message_length, each is a single-frame text
  message, and each that holds a frame starts with the logged command (heart-beats: "\\n").
* the logged subprotocol is the one in the server's 101 response, the logged path the one
  in the client's GET;
* the "requests" pairs point at entries that exist (same id, opposite sides).
Prints per capture: packets, connections (ports, subprotocol), WebSocket data messages and
application messages per side, packing seen.  Exits 1 on any mismatch.
"""
import glob
import json
import os
import subprocess
import sys

import brokerfix as bf


def tcp_conns(pcap):
    rows = bf.tshark_rows(pcap, "tcp.flags.syn == 1 and tcp.flags.ack == 0", ["tcp.srcport", "tcp.dstport"])
    return sorted((int(a), int(b)) for a, b in rows)


def check_stomp(pcap, conns):
    problems, facts = [], {}
    sport = conns[0]["server_port"]
    frames = bf.ws_frames(pcap, sport)
    for c in conns:
        for side in ("client", "server"):
            mine = [e for e in c["messages"] if e["from"] == side]
            n_log = (max(e["ws_message_index"] for e in mine) + 1) if mine else 0
            wire = bf.data_messages(frames.get((c["client_port"], side), []))
            key = "%d:%s" % (c["client_port"], side)
            if len(wire) != n_log:
                problems.append("%s: %d WebSocket data messages on the wire, %d logged" % (key, len(wire), n_log))
            by_idx = {}
            for e in mine:
                by_idx.setdefault(e["ws_message_index"], []).append(e)
            for k, w in enumerate(wire):
                ents = by_idx.get(k, [])
                if not ents:
                    problems.append("%s: message %d not logged" % (key, k))
                    continue
                if w["opcode"] != 1 or w["frames"] != 1:
                    problems.append("%s: message %d opcode %d in %d frames" % (key, k, w["opcode"], w["frames"]))
                if w["length"] != ents[0]["ws_message_length"]:
                    problems.append("%s: message %d is %d bytes, logged %d" % (key, k, w["length"],
                                                                              ents[0]["ws_message_length"]))
                e = ents[0]
                want = "\n" if e["type"] == "heartbeat" else e["command"]
                if not (w["text"] or "").replace("\\n", "\n").startswith(want):
                    problems.append("%s: message %d starts %r, logged %r" % (key, k, (w["text"] or "")[:20], want))
            facts[key] = {"ws_data_messages": len(wire),
                          "stomp_frames": sum(e["type"] != "heartbeat" for e in mine),
                          "heartbeats": sum(e["type"] == "heartbeat" for e in mine),
                          "messages_with_several_frames": sum(
                              1 for v in by_idx.values() if sum(e["type"] != "heartbeat" for e in v) > 1)}
        t = bf.conn_complete(pcap, c["client_port"], sport)
        if not t["complete"]:
            problems.append("%d: TCP connection not complete: %s" % (c["client_port"], t))
    return problems, facts


def check_requests(conns):
    problems = []
    for c in conns:
        for r in c["requests"]:
            q, a = r["request"], r["response"]
            if a is not None and (a["id"] != q["id"] or a["from"] == q["from"]):
                problems.append("%d: bad pair %s" % (c["client_port"], r))
    return problems


def main():
    status = 0
    caps = sorted(glob.glob(os.path.join(bf.OUT_DIR, "mqtt-*.pcap")) + glob.glob(os.path.join(bf.OUT_DIR, "stomp-*.pcap")))
    if not caps:
        print("no captures")
        return 1
    for pcap in caps:
        name = os.path.basename(pcap)[:-5]
        logp = os.path.join(bf.LOG_DIR, name + ".json")
        problems = []
        if not os.path.exists(logp):
            print("%s: no log" % name)
            status = 1
            continue
        with open(logp) as f:
            doc = json.load(f)
        conns = doc["connections"]
        size = os.path.getsize(pcap)
        if size >= 300 * 1024:
            problems.append("%d bytes, over 300 KB" % size)
        npk = len(subprocess.run(["tshark", "-r", pcap], capture_output=True, text=True, check=True).stdout.splitlines())
        syns = tcp_conns(pcap)
        logged = sorted((c["client_port"], c["server_port"]) for c in conns)
        if syns != logged:
            problems.append("TCP connections in the capture %s, logged %s" % (syns, logged))
        # the subprotocol each server accepted (its 101 response) and the path each client asked for
        for dport, line in bf.tshark_rows(pcap, "http.response.code == 101", ["tcp.dstport", "http.response.line"]):
            got = [h.split(":", 1)[1].replace("\\r\\n", "").strip() for h in line.split(",") if h.lower().startswith("sec-websocket-protocol:")]
            for c in conns:
                if c["client_port"] == int(dport) and got != [c["subprotocol"]]:
                    problems.append("%s: 101 response subprotocol %s, logged %s" % (dport, got, c["subprotocol"]))
        for sport, uri in bf.tshark_rows(pcap, "http.request.method == \"GET\"", ["tcp.srcport", "http.request.uri"]):
            for c in conns:
                if c["client_port"] == int(sport) and uri != c["path"]:
                    problems.append("%s: GET %s, logged path %s" % (sport, uri, c["path"]))
        if conns[0]["messages"][0]["proto"] == "mqtt":
            p, facts = bf.check_mqtt(pcap, conns, v5=any(c.get("mqtt_version") == "5.0" for c in conns))
        else:
            p, facts = check_stomp(pcap, conns)
        problems += p + check_requests(conns)
        print("%s: %d packets, %d bytes" % (os.path.basename(pcap), npk, size))
        for c in conns:
            per = {s: sum(e["from"] == s for e in c["messages"]) for s in ("client", "server")}
            print("  %d -> %d subprotocol %s path %s: entries client %d / server %d, requests %d (%d answered)"
                  % (c["client_port"], c["server_port"], c["subprotocol"], c["path"], per["client"], per["server"],
                     len(c["requests"]), sum(r["response"] is not None for r in c["requests"])))
            for s in ("client", "server"):
                print("    %s: %s" % (s, facts.get("%d:%s" % (c["client_port"], s))))
        for p in problems:
            print("  MISMATCH " + p)
        status |= bool(problems)
    print("OK" if status == 0 else "FAILED")
    return status


if __name__ == "__main__":
    sys.exit(main())
