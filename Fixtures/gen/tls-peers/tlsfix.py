"""Shared helpers for the real-peer wss (WebSocket over TLS) fixtures in Fixtures/tls/.

Reuses (by import, not copies):
* ../websocket/wsfix.py - FixtureLog/ConnLog (Fixtures/logs/<name>.json), hook_websockets
  (logs at websockets' Protocol.send_frame), client_socket (explicit source ports);
* ../peers/peerfix.py   - PeerCapture (tcpdump -i lo -U --immediate-mode -B 32768 with a
  port filter, stopped once every connection's FIN/RST is in the file, fails on kernel
  drops), frames_from_lines (the `SENT {json}` lines of the Node helper), Proc,
  hook_websockets_recv (logs what a websockets peer receives).

Adds:
* TlsCapture        - PeerCapture writing Fixtures/tls/<name>.pcap.
* make_cert         - a self-signed certificate for ws.test (openssl req).
* suite_id / iana   - IANA cipher-suite names and ids from `openssl ciphers -V -stdname`.
* tls_info_py       - the "tls" dict of a connection as Python's ssl module reports it.
* ssl_ptr / libssl  - the SSL* behind a Python ssl object, for OpenSSL calls that the
                      ssl module does not expose (SSL_key_update, the negotiated group).

Ports: 19500-19599 only (servers 195x0, clients 195x1/195x2; Chromium's ephemeral ports
19570-19579 inside its own network namespace).
"""
import ctypes
import ctypes.util
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "peers"))
sys.path.insert(0, os.path.join(HERE, "..", "websocket"))

import wsfix  # noqa: E402
import peerfix  # noqa: E402
from wsfix import FixtureLog, client_socket, hook_websockets  # noqa: E402,F401
from peerfix import PeerCapture, Proc, frames_from_lines, hook_websockets_recv  # noqa: E402,F401

FIXTURES = wsfix.FIXTURES
OUT_DIR = os.path.join(FIXTURES, "tls")
LOG_DIR = wsfix.LOG_DIR
TMP = os.path.join(HERE, "tmp")
PORTS = range(19500, 19600)


class TlsCapture(PeerCapture):
    def __init__(self, name, ports, iface="lo"):
        assert all(p in PORTS for p in ports), ports
        super().__init__(name, ports, iface)
        os.makedirs(OUT_DIR, exist_ok=True)
        self.path = os.path.join(OUT_DIR, name + ".pcap")


def keys_path(name):
    return os.path.join(OUT_DIR, name + ".keys")


def fresh(path):
    if os.path.exists(path):
        os.unlink(path)
    return path


def make_cert(kind="ec"):
    """Self-signed cert for ws.test (SAN DNS:ws.test). kind: 'ec' (P-256) or 'rsa' (2048).
    Returns (cert_path, key_path) in tmp/."""
    os.makedirs(TMP, exist_ok=True)
    cert, key = os.path.join(TMP, "ws.test-%s.crt" % kind), os.path.join(TMP, "ws.test-%s.key" % kind)
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec" \
        else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509"] + newkey + ["-nodes", "-keyout", key, "-out", cert,
                    "-days", "3650", "-subj", "/CN=ws.test", "-addext", "subjectAltName=DNS:ws.test"],
                   check=True, capture_output=True)
    return cert, key


_SUITES = None


def _suites():
    """{name: (iana_name, id)} for both the OpenSSL and the IANA spelling."""
    global _SUITES
    if _SUITES is None:
        _SUITES = {}
        out = subprocess.run(["openssl", "ciphers", "-V", "-stdname", "ALL:@SECLEVEL=0"],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            # 0x13,0x02 - TLS_AES_256_GCM_SHA384 - TLS_AES_256_GCM_SHA384 TLSv1.3 ...
            if len(parts) >= 5 and parts[1] == "-" and parts[3] == "-":
                hi, lo = parts[0].split(",")
                ent = (parts[2], "0x%02X%02X" % (int(hi, 16), int(lo, 16)))
                _SUITES[parts[2]] = ent
                _SUITES[parts[4]] = ent
    return _SUITES


def iana(name):
    """(IANA name, '0xHHHH') of a suite given its OpenSSL or IANA name."""
    return _suites()[name]


VERSIONS = {"TLSv1.3": "TLS 1.3", "TLSv1.2": "TLS 1.2"}


def tls_dict(version, suite, sni, alpn, resumed, reported_by, **extra):
    name, sid = iana(suite)
    d = {"version": VERSIONS.get(version, version), "cipher_suite": name, "cipher_suite_id": sid,
         "sni": sni, "alpn": alpn, "resumed": bool(resumed), "reported_by": reported_by}
    d.update(extra)
    return d


# --------------------------------------------------------------------------- OpenSSL via ctypes
libssl = ctypes.CDLL(ctypes.util.find_library("ssl") or "libssl.so.3")
libssl.SSL_key_update.argtypes = [ctypes.c_void_p, ctypes.c_int]
libssl.SSL_key_update.restype = ctypes.c_int
libssl.SSL_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
libssl.SSL_ctrl.restype = ctypes.c_long
libssl.SSL_get_servername.argtypes = [ctypes.c_void_p, ctypes.c_int]
libssl.SSL_get_servername.restype = ctypes.c_char_p
libssl.SSL_version.argtypes = [ctypes.c_void_p]
libssl.SSL_version.restype = ctypes.c_int
libssl.SSL_get_key_update_type.argtypes = [ctypes.c_void_p]
libssl.SSL_get_key_update_type.restype = ctypes.c_int
libcrypto = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
libcrypto.OBJ_nid2sn.argtypes = [ctypes.c_int]
libcrypto.OBJ_nid2sn.restype = ctypes.c_char_p
SSL_CTRL_GET_NEGOTIATED_GROUP = 134
SSL_KEY_UPDATE_NOT_REQUESTED, SSL_KEY_UPDATE_REQUESTED = 0, 1


def ssl_ptr(sslobj):
    """The SSL* of an ssl.SSLObject / ssl.SSLSocket: CPython 3.11's PySSLSocket is
    {PyObject_HEAD; PyObject *Socket; SSL *ssl; ...}, so SSL* sits 3 pointers into
    the _ssl._SSLSocket object.  Checked: SSL_version and SSL_get_servername through
    this pointer must equal what the ssl module reports, else we refuse to use it."""
    inner = sslobj._sslobj
    p = ctypes.c_void_p.from_address(id(inner) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
    ver = {0x0304: "TLSv1.3", 0x0303: "TLSv1.2"}.get(libssl.SSL_version(p))
    if ver != sslobj.version():
        raise RuntimeError("SSL* lookup failed: %r != %r" % (ver, sslobj.version()))
    sn = libssl.SSL_get_servername(p, 0)
    if sslobj.server_side is False and (sn.decode() if sn else None) != sslobj.server_hostname:
        raise RuntimeError("SSL* lookup failed: servername %r" % sn)
    return p


def negotiated_group(sslobj):
    nid = libssl.SSL_ctrl(ssl_ptr(sslobj), SSL_CTRL_GET_NEGOTIATED_GROUP, 0, None)
    sn = libcrypto.OBJ_nid2sn(int(nid)) if nid > 0 else None
    return sn.decode() if sn else None


def key_update(sslobj, requested):
    """Schedule a TLS 1.3 KeyUpdate on this connection; OpenSSL sends it before the next
    application data record written on it."""
    r = libssl.SSL_key_update(ssl_ptr(sslobj), SSL_KEY_UPDATE_REQUESTED if requested
                              else SSL_KEY_UPDATE_NOT_REQUESTED)
    if r != 1:
        raise RuntimeError("SSL_key_update failed")


def tls_info_py(sslobj, reported_by, sni=None, **extra):
    """The "tls" dict from Python's ssl object (the server passes the SNI its
    sni_callback saw; a client reports the name it sent)."""
    suite = sslobj.cipher()[0]
    if sni is None and not sslobj.server_side:
        sni = sslobj.server_hostname
    return tls_dict(sslobj.version(), suite, sni, sslobj.selected_alpn_protocol(),
                    sslobj.session_reused, reported_by, group=negotiated_group(sslobj), **extra)


def node_env():
    return dict(os.environ, NODE_PATH="/usr/share/nodejs")


def node_versions():
    return subprocess.run(["node", "-e", "console.log(process.version + ' ws ' + require('ws/package.json').version"
                           " + ' ' + process.versions.openssl)"],
                          env=node_env(), capture_output=True, text=True, check=True).stdout.split()
