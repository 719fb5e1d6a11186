"""Shared helpers for the wss (WebSocket over TLS) decryption fixtures.

Extends ../websocket/wsfix.py (imported, not copied): Capture, FixtureLog,
hook_websockets and client_socket come from there.  This module adds

* the fixture table (FIXTURES): TLS version, cipher, options, ports, close;
* CIPHERS: OpenSSL cipher name -> (IANA name, IANA id);
* make_certs(): a self-signed RSA 2048 and an EC P-256 cert for wss.test;
* tls_view(): what a peer's ssl object reports (version, cipher, ALPN, reuse);
* keylog helpers (split a key log by connection);
* tshark helpers used by the generators and verify.py.

All ports are in 19400-19499 (servers 194xx below 19450, clients 19450+).
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "websocket"))

import wsfix  # noqa: E402
from wsfix import Capture, FixtureLog, client_socket, hook_websockets  # noqa: E402,F401

FIXTURES_DIR = wsfix.FIXTURES
OUT_DIR = os.path.join(FIXTURES_DIR, "tls")
LOG_DIR = wsfix.LOG_DIR
TMP = os.path.join(HERE, "tmp")
SNI = "wss.test"

# OpenSSL name -> (IANA name, IANA id).  Ids checked against `openssl ciphers -V`.
CIPHERS = {
    "TLS_AES_128_GCM_SHA256": ("TLS_AES_128_GCM_SHA256", 0x1301),
    "TLS_AES_256_GCM_SHA384": ("TLS_AES_256_GCM_SHA384", 0x1302),
    "TLS_CHACHA20_POLY1305_SHA256": ("TLS_CHACHA20_POLY1305_SHA256", 0x1303),
    "ECDHE-ECDSA-AES128-SHA": ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC009),
    "ECDHE-ECDSA-AES256-SHA": ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xC00A),
    "ECDHE-RSA-AES128-SHA": ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC013),
    "ECDHE-RSA-AES256-SHA": ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xC014),
    "ECDHE-ECDSA-AES128-SHA256": ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xC023),
    "ECDHE-ECDSA-AES256-SHA384": ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 0xC024),
    "ECDHE-RSA-AES128-SHA256": ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC027),
    "ECDHE-RSA-AES256-SHA384": ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 0xC028),
    "ECDHE-ECDSA-AES128-GCM-SHA256": ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02B),
    "ECDHE-ECDSA-AES256-GCM-SHA384": ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xC02C),
    "ECDHE-RSA-AES128-GCM-SHA256": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F),
    "ECDHE-RSA-AES256-GCM-SHA384": ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xC030),
    "ECDHE-RSA-CHACHA20-POLY1305": ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA8),
    "ECDHE-ECDSA-CHACHA20-POLY1305": ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9),
}

# name -> spec.  ver: 13 or 12.  suite: TLS 1.3 ciphersuite (set through an
# OPENSSL_CONF file, Python 3.11 has no set_ciphersuites) or the TLS 1.2
# OpenSSL cipher (set_ciphers).  etm: False -> SSL_OP_NO_ENCRYPT_THEN_MAC on
# the server.  conns: 2 = a second connection resuming the first's session.
# resume: "id" (server OP_NO_TICKET) | "ticket" | "psk" (TLS 1.3).
# close: (side that closes, code, reason).
FIXTURES = {
    "wss-tls13-aes128gcm": dict(ver=13, suite="TLS_AES_128_GCM_SHA256", cert="rsa", port=19401,
                                close=("client", 1000, "client done")),
    "wss-tls13-aes256gcm": dict(ver=13, suite="TLS_AES_256_GCM_SHA384", cert="ec", port=19402,
                                deflate=True, close=("server", 1001, "server going away")),
    "wss-tls13-chacha20": dict(ver=13, suite="TLS_CHACHA20_POLY1305_SHA256", cert="ec", port=19403,
                               alpn=False, close=("client", 4000, "chacha done")),
    "wss-tls13-large": dict(ver=13, suite="TLS_AES_128_GCM_SHA256", cert="rsa", port=19404,
                            large=True, close=("client", 1000, "large done")),
    "wss-tls12-aes128gcm": dict(ver=12, suite="ECDHE-RSA-AES128-GCM-SHA256", cert="rsa", port=19405,
                                close=("client", 1000, "client done")),
    "wss-tls12-aes256gcm": dict(ver=12, suite="ECDHE-ECDSA-AES256-GCM-SHA384", cert="ec", port=19406,
                                deflate=True, close=("server", 1001, "server going away")),
    "wss-tls12-chacha20": dict(ver=12, suite="ECDHE-RSA-CHACHA20-POLY1305", cert="rsa", port=19407,
                               close=("client", 1000, "client done")),
    "wss-tls12-cbc-sha1-etm": dict(ver=12, suite="ECDHE-RSA-AES128-SHA", cert="rsa", port=19408,
                                   etm=True, close=("client", 1000, "client done")),
    "wss-tls12-cbc-sha1": dict(ver=12, suite="ECDHE-RSA-AES128-SHA", cert="rsa", port=19409,
                               etm=False, close=("server", 1000, "server done")),
    "wss-tls12-cbc-sha256": dict(ver=12, suite="ECDHE-RSA-AES128-SHA256", cert="rsa", port=19410,
                                 etm=False, alpn=False, close=("client", 1000, "client done")),
    "wss-tls12-cbc-sha384": dict(ver=12, suite="ECDHE-ECDSA-AES256-SHA384", cert="ec", port=19411,
                                 etm=True, close=("client", 1000, "client done")),
    "wss-tls12-resume-id": dict(ver=12, suite="ECDHE-RSA-AES128-GCM-SHA256", cert="rsa", port=19412,
                                conns=2, resume="id", close=("client", 1000, "client done")),
    "wss-tls12-resume-ticket": dict(ver=12, suite="ECDHE-RSA-AES256-GCM-SHA384", cert="rsa", port=19413,
                                    conns=2, resume="ticket", close=("client", 1000, "client done")),
    "wss-tls13-psk": dict(ver=13, suite="TLS_AES_128_GCM_SHA256", cert="rsa", port=19414,
                          conns=2, resume="psk", close=("client", 1000, "client done")),
}
for _i, (_n, _s) in enumerate(FIXTURES.items()):
    _s.setdefault("deflate", False)
    _s.setdefault("alpn", True)
    _s.setdefault("conns", 1)
    _s.setdefault("large", False)
    # client ports: first connection port+50, second port+70 (19451..19484)
    _s["client_ports"] = [_s["port"] + 50, _s["port"] + 70][:_s["conns"]]
    assert all(19400 <= p <= 19499 for p in [_s["port"]] + _s["client_ports"])

class TlsCapture(Capture):
    """wsfix.Capture writing to Fixtures/tls/, with a 64 MiB capture buffer
    (tcpdump -B): with the default 2 MiB and snaplen 262144 the ring holds only
    a few frames, and a burst of 64 KB loopback segments (wss-tls13-large) lost
    a segment in one run.  Same tcpdump command otherwise, port filter included."""

    def __init__(self, name, ports):
        super().__init__(name, ports)
        self.path = os.path.join(OUT_DIR, name + ".pcap")

    def start(self):
        real_popen = subprocess.Popen

        def popen(args, *a, **kw):
            if args and args[0] == "tcpdump":
                args = args[:1] + ["-B", "65536"] + args[1:]
            return real_popen(args, *a, **kw)

        wsfix.subprocess.Popen = popen
        try:
            return super().start()
        finally:
            wsfix.subprocess.Popen = real_popen


def lost_segments(pcap):
    """Frames where tshark sees a segment missing from the capture."""
    return tshark(["-r", pcap, "-Y", "tcp.analysis.lost_segment or tcp.analysis.ack_lost_segment",
                   "-T", "fields", "-e", "frame.number"]).split()


SSL_OP_NO_ENCRYPT_THEN_MAC = 1 << 19   # OpenSSL 3 ssl.h; not exported by Python 3.11's ssl


def openssl_conf_text(spec):
    """OPENSSL_CONF for the process: TLS 1.3 ciphersuites (system_default)."""
    if spec["ver"] != 13:
        return None
    return ("openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
            "[ssl_sect]\nsystem_default = system_default_sect\n"
            "[system_default_sect]\nCiphersuites = %s\n" % spec["suite"])


def make_certs():
    """Self-signed certs for wss.test (RSA 2048 and EC P-256), made by openssl
    on every run into tmp/ (not committed)."""
    os.makedirs(TMP, exist_ok=True)
    out = {}
    for kind, newkey in (("rsa", ["-newkey", "rsa:2048"]),
                         ("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])):
        crt, key = os.path.join(TMP, "wss.test-%s.crt" % kind), os.path.join(TMP, "wss.test-%s.key" % kind)
        if not (os.path.exists(crt) and os.path.exists(key)):
            subprocess.run(["openssl", "req", "-x509"] + newkey + [
                "-nodes", "-keyout", key, "-out", crt, "-days", "3650", "-subj", "/CN=" + SNI,
                "-addext", "subjectAltName=DNS:" + SNI], check=True, capture_output=True)
        out[kind] = (crt, key)
    return out


def tls_view(sslobj):
    """What the peer's ssl object reports."""
    name, proto, bits = sslobj.cipher()
    iana, cid = CIPHERS[name]
    return {"version": {"TLSv1.3": "TLS 1.3", "TLSv1.2": "TLS 1.2"}[sslobj.version()],
            "cipher_suite": iana, "cipher_suite_id": cid, "openssl_cipher": name,
            "secret_bits": bits, "alpn": sslobj.selected_alpn_protocol(),
            "resumed": bool(sslobj.session_reused)}


def fresh_key_paths(name):
    """Makes the output and log folders, and returns the paths of NAME's client key log
    (beside the capture) and server key log (in TMP), each removed if a run left one."""
    os.makedirs(OUT_DIR, exist_ok=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    keys = os.path.join(OUT_DIR, name + ".keys")
    skeys = os.path.join(TMP, name + ".server.keys")
    for p in (keys, skeys):
        if os.path.exists(p):
            os.unlink(p)
    return keys, skeys


def keylog_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def key_lines_only(lines):
    return [l for l in lines if l.strip() and not l.startswith("#")]


def tshark(args, check=False):
    r = subprocess.run(["tshark"] + args, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("tshark %s: %s" % (args, r.stderr))
    return r.stdout


def server_hello_extensions(pcap, keys=None):
    """[(tcp.stream, [extension types])] of every ServerHello."""
    args = ["-r", pcap, "-Y", "tls.handshake.type == 2", "-T", "fields", "-E", "occurrence=a",
            "-e", "tcp.stream", "-e", "tls.handshake.extension.type"]
    if keys:
        args += ["-o", "tls.keylog_file:" + keys]
    out = []
    for line in tshark(args).splitlines():
        st, ext = (line.split("\t") + [""])[:2]
        out.append((int(st), [int(x) for x in ext.split(",") if x]))
    return out
