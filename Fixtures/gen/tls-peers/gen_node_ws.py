"""wss-node-ws.pcap and wss-node-ws-tls12.pcap: Node's `ws` (Debian node-ws) as wss server
and client, in one Node process (node_wss_peer.js), over https/tls with a self-signed RSA
certificate for ws.test made by tlsfix.make_cert.

wss-node-ws:       server :19500, clients :19501 (permessage-deflate offered and accepted)
                   then :19502 (perMessageDeflate: false, no extension).  Node's TLS
                   defaults: TLS 1.3, TLS_AES_256_GCM_SHA384.
wss-node-ws-tls12: server :19510, clients :19511 (deflate) then :19512 (no deflate);
                   maxVersion 'TLSv1.2' on both sides, client ciphers ECDHE-*-AES128-GCM-SHA256.

Key log: `node --tls-keylog=FILE` (Node's own keylog callback).  Since client and server
are in the same process, every secret is written twice (once per side); the .keys file is
that log with repeated lines dropped (order kept).
"""
import json
import os
import sys

import tlsfix
from tlsfix import TMP, FixtureLog, Proc, TlsCapture, frames_from_lines, keys_path, fresh

FIXTURES = {"wss-node-ws": ("both", 19500, [19501, 19502]),
            "wss-node-ws-tls12": ("both-tls12", 19510, [19511, 19512])}


def run(name, mode, sport, cports, cert, key):
    raw = fresh(os.path.join(TMP, name + ".keys.raw"))
    cap = TlsCapture(name, [sport]).start()
    try:
        node = Proc(["node", "--tls-keylog=" + raw, os.path.join(tlsfix.HERE, "node_wss_peer.js"), mode, str(sport),
                     ",".join(map(str, cports)), cert, key], env=tlsfix.node_env())
        out, err = node.wait(40)
    finally:
        cap.stop()
    if node.p.returncode != 0:
        raise SystemExit("node failed (%s): %s\n%s" % (node.p.returncode, err, out))
    seen, lines = set(), []
    for line in open(raw):
        if line not in seen:
            seen.add(line)
            lines.append(line)
    with open(fresh(keys_path(name)), "w") as f:
        f.writelines(lines)
    log = FixtureLog(name)
    for cp in cports:
        log.conn(cp, sport)
    rest = frames_from_lines(log, out.splitlines())
    ver = " ".join(tlsfix.node_versions())
    for line in rest:
        if line.startswith("TLS "):
            t = json.loads(line[4:])
            c = log.find(t["cport"], t["sport"])
            d = tlsfix.tls_dict(t["version"], t["cipher"], t["sni"], t["alpn"], t["resumed"], t["side"],
                                openssl_cipher=t["openssl_cipher"], group=t["group"])
            c.extra["tls" if t["side"] == "client" else "tls_server"] = d
        elif line.startswith("EXT "):
            side, js = line[4:].split(" ", 1)
            e = json.loads(js)
            c = log.find(e["cport"], sport)
            if side == "client":
                c.extra["negotiated_extensions"] = e["negotiated"]
            else:
                c.extra["offered_extensions"] = e["offered"]
    for c in log.conns:
        c.extra["server"] = c.extra["client"] = "node %s (ws %s, OpenSSL %s)" % tuple(ver.replace(" ws ", " ").split())
        for s in c.sent:
            s.pop("t", None)
    log.write(tls_keylog=name + ".keys",
              keylog_written_by="node --tls-keylog (client and server in one process; repeated lines dropped)",
              note="entries logged by wrapping ws's Sender.prototype.send/ping/pong/close in node_wss_peer.js; "
                   "tls = what the client's TLSSocket reports, tls_server = the server's")
    print("  " + " | ".join(l for l in rest if not l.startswith("TLS ")))


def main():
    cert, key = tlsfix.make_cert("rsa")
    for name in sys.argv[1:] or FIXTURES:
        mode, sport, cports = FIXTURES[name]
        print("--- " + name)
        run(name, mode, sport, cports, cert, key)


if __name__ == "__main__":
    main()
