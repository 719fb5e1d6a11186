"""Cross-check the wss captures in Fixtures/tls/ (this folder's fixtures only) against the
peers' logs in Fixtures/logs/, with tshark decrypting through the fixture's own key log
(tshark -o tls.keylog_file:NAME.keys).

Per connection and direction (the peers' logs are the truth):
* the oracle `tshark -Y websocket` must show every frame the log says was sent: opcode,
  FIN, RSV1 of each frame, the MASK bit, the payload length of uncompressed single-frame
  messages, close codes, short printable texts (reusing ../peers/verify.py's expected()
  and frames_of());
* message counts (text, binary, ping, pong, close) from the log == from tshark
  (a data message = its first frame; continuation frames are not counted);
* the TLS facts the log states: version, cipher suite id (ServerHello), SNI (ClientHello),
  ALPN (EncryptedExtensions / ServerHello);
* wss-keyupdate: the KeyUpdate messages (tls.handshake.type == 24) in the order and with
  the request_update flags of the log's key_updates, and the *_TRAFFIC_SECRET_N lines of
  the key log = HKDF-Expand-Label(previous secret, "traffic upd") (RFC 8446 7.2);
* wss-hrr: a HelloRetryRequest (ServerHello with the RFC 8446 4.1.3 random), two
  ClientHellos on the connection, the first with an X25519 key share, the second with
  secp256r1.
Prints the table used in README.md; exits 1 on any mismatch.
"""
import hashlib
import hmac
import importlib.util
import json
import os
import subprocess
import sys

import tlsfix
from tlsfix import LOG_DIR, OUT_DIR

NAMES = ["wss-node-ws", "wss-node-ws-tls12", "wss-chromium", "wss-keyupdate", "wss-hrr"]
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"

spec = importlib.util.spec_from_file_location("peers_verify", os.path.join(tlsfix.HERE, "..", "peers", "verify.py"))
pv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pv)


def tshark(args):
    r = subprocess.run(["tshark"] + args, capture_output=True, text=True)
    return r.stdout


def counts(ops):
    names = {1: "text", 2: "binary", 9: "ping", 10: "pong", 8: "close"}
    return "/".join(str(sum(1 for o in ops if o == k)) for k in names)


def hkdf_expand_label(secret, label, hashname):
    h = getattr(hashlib, hashname)
    n = h().digest_size
    full = b"tls13 " + label
    info = n.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(secret, t + info + bytes([i]), h).digest()
        out += t
        i += 1
    return out[:n]


def check_keylog_updates(keys, suite, problems):
    """*_TRAFFIC_SECRET_N lines (OpenSSL logs each updated secret) must chain from _0."""
    hashname = "sha384" if suite.endswith("SHA384") else "sha256"
    cur, nupd = {}, 0
    for line in open(keys):
        parts = line.split()
        if len(parts) != 3 or line.startswith("#"):
            continue
        label, _, secret = parts
        for d in ("CLIENT", "SERVER"):
            if label == d + "_TRAFFIC_SECRET_0":
                cur[d] = bytes.fromhex(secret)
            elif label == d + "_TRAFFIC_SECRET_N":
                nupd += 1
                want = hkdf_expand_label(cur[d], b"traffic upd", hashname)
                if bytes.fromhex(secret) != want:
                    problems.append("key log: %s is not the next secret" % label)
                cur[d] = bytes.fromhex(secret)
    return nupd


def main():
    ok = True
    rows = []
    for name in NAMES:
        pcap, keys = os.path.join(OUT_DIR, name + ".pcap"), os.path.join(OUT_DIR, name + ".keys")
        logp = os.path.join(LOG_DIR, name + ".json")
        if not (os.path.exists(pcap) and os.path.exists(keys) and os.path.exists(logp)):
            print("MISSING %s" % name)
            ok = False
            continue
        kl = ["-o", "tls.keylog_file:" + keys]
        pv.tshark = lambda args: tshark(args[:2] + kl + args[2:])
        log = json.load(open(logp))
        problems = []
        npk = len(tshark(["-r", pcap]).splitlines())
        frames = pv.frames_of(pcap)
        text_blob = tshark(["-r", pcap] + kl + ["-Y", "websocket", "-T", "fields", "-e", "websocket.payload.text"])
        oracle = tshark(["-r", pcap] + kl + ["-Y", "websocket", "-T", "fields", "-e", "frame.number",
                                             "-e", "websocket.opcode", "-e", "websocket.payload_length"])
        if sum(len(l.split("\t")[1].split(",")) for l in oracle.splitlines()) != len(frames):
            problems.append("oracle row count differs from the detailed frame list")
        for c in log["connections"]:
            cp, sp = c["client_port"], c["server_port"]
            for side, (src, dst) in (("client", (cp, sp)), ("server", (sp, cp))):
                got = [f for f in frames if (f[0], f[1]) == (src, dst)]
                if any(f[5] != (side == "client") for f in got):
                    problems.append("%s %d->%d: wrong MASK bit" % (side, src, dst))
                exp = pv.expected(c["sent"], side)
                g2 = [g for g in got if g[2] < 8] + [g for g in got if g[2] >= 8]
                e2 = [e for e in exp if e[0] < 8] + [e for e in exp if e[0] >= 8]
                if [g[2:5] for g in g2] != [e[:3] for e in e2]:
                    problems.append("%s %d->%d frames %s != log %s" % (side, src, dst, [g[2:5] for g in g2],
                                                                      [e[:3] for e in e2]))
                else:
                    for g, e in zip(g2, e2):
                        if e[3] is not None and g[6] != len(e[3]) // 2:
                            problems.append("%s payload length %d != logged %d" % (side, g[6], len(e[3]) // 2))
                        if g[2] == 8 and g[7] != e[4]:
                            problems.append("%s close code %s != logged %s" % (side, g[7], e[4]))
                        if e[3] is not None and g[2] == 1 and 0 < len(e[3]) < 2000:
                            t = bytes.fromhex(e[3]).decode()
                            if t.isprintable() and t not in text_blob:
                                problems.append("%s text %r not seen by tshark" % (side, t[:30]))
                logc = counts([pv.OPC[e["opcode"]] for e in c["sent"] if e["from"] == side])
                tsc = counts([g[2] for g in got])
                if logc != tsc:
                    problems.append("%s %d->%d message counts log %s != tshark %s" % (side, src, dst, logc, tsc))
                rows.append((name, "%d->%d" % (src, dst), side, logc, tsc))
            # TLS facts
            t = c.get("tls") or {}
            hs = tshark(["-r", pcap] + kl + ["-Y", "tcp.port == %d and tls.handshake" % cp, "-T", "fields",
                                             "-E", "occurrence=a", "-e", "tcp.srcport", "-e", "tls.handshake.type",
                                             "-e", "tls.handshake.random", "-e", "tls.handshake.ciphersuite",
                                             "-e", "tls.handshake.extensions.supported_version",
                                             "-e", "tls.handshake.extensions_server_name",
                                             "-e", "tls.handshake.extensions_alpn_str",
                                             "-e", "tls.handshake.extensions_key_share_group",
                                             "-e", "tls.handshake.key_update.request_update"])
            sh = [l.split("\t") for l in hs.splitlines() if l.split("\t")[0] == str(sp) and
                  "2" in l.split("\t")[1].split(",")]
            ch = [l.split("\t") for l in hs.splitlines() if l.split("\t")[0] == str(cp) and
                  "1" in l.split("\t")[1].split(",")]
            if not sh or not ch:
                problems.append("no ClientHello/ServerHello for :%d" % cp)
                continue
            last = sh[-1]
            suite_ids = last[3].split(",")
            if "0x%04x" % int(t["cipher_suite_id"], 16) not in [s.lower() for s in suite_ids]:
                problems.append("suite %s not in ServerHello %s" % (t["cipher_suite_id"], suite_ids))
            ver = "TLS 1.3" if "0x0304" in last[4] else "TLS 1.2"
            if ver != t["version"]:
                problems.append("version %s != logged %s" % (ver, t["version"]))
            if ch[0][5] != (t["sni"] or ""):
                problems.append("SNI %r != logged %r" % (ch[0][5], t["sni"]))
            alpn_srv = [l.split("\t")[6] for l in hs.splitlines() if l.split("\t")[0] == str(sp) and l.split("\t")[6]]
            if (alpn_srv[0] if alpn_srv else None) != t["alpn"]:
                problems.append("ALPN %r != logged %r" % (alpn_srv, t["alpn"]))
            if name == "wss-hrr":
                hrr = [l for l in sh if HRR_RANDOM in l[2]]
                groups = [l[7] for l in ch]
                if len(hrr) != 1 or len(ch) != 2 or groups[0] != "29" or groups[1] != "23":
                    problems.append("no HelloRetryRequest: HRR %d, ClientHellos %d, key shares %s" % (
                        len(hrr), len(ch), groups))
            if name == "wss-keyupdate":
                ku = [(("client" if l.split("\t")[0] == str(cp) else "server"), l.split("\t")[8] == "1")
                      for l in hs.splitlines() if "24" in l.split("\t")[1].split(",")]
                want = [(k["from"], k["update_requested"]) for k in c["key_updates"]]
                if ku != want:
                    problems.append("KeyUpdates in tshark %s != log %s" % (ku, want))
                nupd = check_keylog_updates(keys, t["cipher_suite"], problems)
                if nupd != len(want):
                    problems.append("key log has %d *_TRAFFIC_SECRET_N lines for %d KeyUpdates" % (nupd, len(want)))
        if os.path.getsize(pcap) >= 1 << 20:
            problems.append("over 1 MiB")
        ok &= not problems
        print("%s %-24s %4d packets %3d ws frames %7d bytes" % ("OK " if not problems else "BAD", name + ".pcap", npk,
                                                               len(frames), os.path.getsize(pcap)))
        for p in problems:
            print("      " + p)
    print()
    print("| fixture | connection | from | log text/binary/ping/pong/close | tshark |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| `%s` | %s | %s | %s | %s |" % r)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
