"""Record one wss handshake that ends with a fatal alert:
python3 gen_tls_alert.py NAME (NAME from ALERTS below).

Server: websockets 17 (asyncio) on 127.0.0.1:PORT with TLS (ssl.SSLContext) and
        a self-signed cert for wss.test (tlsfix.make_certs(), RSA 2048).
Client: websockets 17's sync client (websockets.sync.client, in a thread) from
        127.0.0.1:CPORT, SNI wss.test, with
        ssl.create_default_context(): it VERIFIES the cert against the default
        CA store (and the host name), so verification fails and the client
        sends a fatal alert.  No WebSocket message is sent.
Writes Fixtures/tls/NAME.pcap, Fixtures/tls/NAME.keys (the client's
SSLContext.keylog_filename; the server writes its own to tmp/) and
Fixtures/logs/NAME.json.

Why the sync client: an asyncio TLS client (websockets.asyncio.client) sends
NO alert.  On a failed handshake asyncio's SSLProtocol drops what OpenSSL wrote
into its outgoing memory BIO and just closes (FIN), as a first recording
showed.  The sync client's ssl.SSLSocket lets OpenSSL write the alert to the
socket itself.  The server's handshake exception is recorded by an
ssl.SSLObject subclass (sslobject_class) whose do_handshake() keeps what
OpenSSL raised (asyncio reports it only in debug mode); the client's is what
connect() raised.  The alert itself (frame, level,
description, encrypted or not) is read back with tshark and the key log, and
the script fails unless it is a fatal alert from the client that matches the
exceptions.  Ports 19601/19602 (servers) and 19611/19612 (clients).
"""
import asyncio
import os
import ssl
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tlsfix  # noqa: E402
from tlsfix import SNI, FixtureLog, client_socket, \
    key_lines_only, keylog_lines, make_certs, tshark  # noqa: E402

from websockets.asyncio.server import serve  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

STEP = 10  # seconds: bound for every single wait

ALERTS = {
    "wss-tls13-alert": dict(ver=13, port=19601, cport=19611),
    "wss-tls12-alert": dict(ver=12, port=19602, cport=19612),
}
for _s in ALERTS.values():
    assert all(19600 <= p <= 19620 for p in (_s["port"], _s["cport"]))

# RFC 8446 section 6 AlertDescription names (plus the TLS 1.2 ones tshark may show)
ALERT_NAMES = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
    80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
    109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 115: "unknown_psk_identity",
    116: "certificate_required", 120: "no_application_protocol",
}
LEVELS = {1: "warning", 2: "fatal"}
BY_ID = {cid: iana for iana, cid in tlsfix.CIPHERS.values()}


def recording_sslobject(errors, side):
    class RecordingSSLObject(ssl.SSLObject):
        def do_handshake(self):
            try:
                return super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except Exception as e:
                errors.append((side, e))
                raise
    return RecordingSSLObject


def describe(e):
    d = {"type": "%s.%s" % (type(e).__module__, type(e).__qualname__), "message": str(e)}
    for k in ("library", "reason", "verify_code", "verify_message"):
        if getattr(e, k, None) is not None:
            d[k] = getattr(e, k)
    return d


def alerts_on_wire(pcap, keys):
    """[(frame, level, desc, tcp.srcport)] of every alert tshark shows."""
    args = ["-r", pcap, "-Y", "tls.alert_message", "-T", "fields", "-e", "frame.number",
            "-e", "tls.alert_message.level", "-e", "tls.alert_message.desc", "-e", "tcp.srcport"]
    if keys:
        args[2:2] = ["-o", "tls.keylog_file:" + keys]
    return [tuple(int(x) for x in l.split("\t")) for l in tshark(args).splitlines() if l.strip()]


def frame_fields(pcap, frame, fields, keys=None):
    args = ["-r", pcap, "-Y", "frame.number == %d" % frame, "-T", "fields", "-E", "occurrence=a"]
    if keys:
        args += ["-o", "tls.keylog_file:" + keys]
    for f in fields:
        args += ["-e", f]
    return (tshark(args).rstrip("\n").split("\t") + [""] * len(fields))[:len(fields)]


def server_hello(pcap):
    """(version, cipher suite id) from the ServerHello."""
    out = tshark(["-r", pcap, "-Y", "tls.handshake.type == 2", "-T", "fields", "-e", "frame.number",
                  "-e", "tls.handshake.ciphersuite", "-e", "tls.handshake.extensions.supported_version"])
    frame, suite, sv = (out.splitlines()[0].split("\t") + ["", ""])[:3]
    version = "TLS 1.3" if sv and int(sv, 16) == 0x0304 else "TLS 1.2"
    return int(frame), version, int(suite, 16)


async def main(name):
    spec = ALERTS[name]
    crt, key = make_certs()["rsa"]
    keys, skeys = tlsfix.fresh_key_paths(name)
    errors = []
    sni = []

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(crt, key)
    cctx = ssl.create_default_context()   # CERT_REQUIRED, check_hostname, default CA store
    assert cctx.verify_mode == ssl.CERT_REQUIRED and cctx.check_hostname
    for ctx in (sctx, cctx):
        if spec["ver"] == 12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_alpn_protocols(["http/1.1"])
    sctx.sslobject_class = recording_sslobject(errors, "server")
    sctx.keylog_filename = skeys
    cctx.keylog_filename = keys
    sctx.sni_callback = lambda sslobj, server_name, ctx: sni.append(server_name)

    async def handler(ws):   # never reached: the handshake fails
        errors.append(("server", RuntimeError("WebSocket handler reached")))

    sport, cport = spec["port"], spec["cport"]
    client_exc = None
    async with serve(handler, "127.0.0.1", sport, ssl=sctx, ping_interval=None, close_timeout=STEP):
        cap = tlsfix.TlsCapture(name, [sport, cport])
        async with cap:
            s = client_socket(cport, dst=("127.0.0.1", sport))

            def client():
                with connect("wss://%s:%d/alert" % (SNI, sport), sock=s, ssl=cctx,
                             server_hostname=SNI, proxy=None, open_timeout=STEP, close_timeout=STEP):
                    pass
            try:
                await asyncio.wait_for(asyncio.to_thread(client), STEP)
            except Exception as e:
                client_exc = e
            finally:
                s.close()
            for _ in range(STEP * 10):   # bounded: until the server has seen the failure
                if any(side == "server" for side, _ in errors):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)

    serrs = [e for side, e in errors if side == "server"]
    if not isinstance(client_exc, ssl.SSLCertVerificationError):
        raise SystemExit("%s: client got %r, not SSLCertVerificationError" % (name, client_exc))
    if len(errors) != 1 or len(serrs) != 1 or not isinstance(serrs[0], ssl.SSLError):
        raise SystemExit("%s: handshake errors %r (client raised %r)" % (name, errors, client_exc))
    if tlsfix.lost_segments(cap.path):
        print("  %s: capture misses TCP segments; run again" % name)
        sys.exit(3)

    # the alert, as tshark shows it with the client's key log (and without it)
    with_keys = alerts_on_wire(cap.path, keys)
    no_keys = alerts_on_wire(cap.path, None)
    if len(with_keys) != 1:
        raise SystemExit("%s: tshark shows alerts %r" % (name, with_keys))
    frame, level, code, srcport = with_keys[0]
    if srcport != cport or LEVELS.get(level) != "fatal":
        raise SystemExit("%s: alert %r is not a fatal one from the client" % (name, with_keys[0]))
    encrypted = not no_keys
    rec_type, alert_len = frame_fields(cap.path, frame, ["tls.record.content_type", "tls.record.length"])
    desc = ALERT_NAMES[code]
    sreason = getattr(serrs[0], "reason", "") or ""
    if desc.upper() not in sreason.replace("TLSV1_ALERT_", "").replace("SSLV3_ALERT_", ""):
        raise SystemExit("%s: server reason %r does not name %s" % (name, sreason, desc))
    sh_frame, version, suite_id = server_hello(cap.path)
    want_version = "TLS 1.3" if spec["ver"] == 13 else "TLS 1.2"
    if version != want_version:
        raise SystemExit("%s: ServerHello says %s" % (name, version))
    # OpenSSL's TLS 1.3 client checks the cert when it reads the Certificate
    # message, before it switches its write side to the client handshake key
    # (that happens only when it is about to send its Finished), so its alert
    # goes out as a plaintext record (content type 21), as in TLS 1.2.
    if encrypted:
        raise SystemExit("%s: the alert is hidden without the key log (expected plaintext)" % name)

    lines = keylog_lines(keys)
    kl = key_lines_only(lines)
    skl = key_lines_only(keylog_lines(skeys)) if os.path.exists(skeys) else []
    if not set(kl) <= set(skl):
        raise SystemExit("%s: a client key-log line is missing from the server's" % name)
    randoms = sorted({l.split()[1] for l in kl})
    chello_random = frame_fields(cap.path, _client_hello_frame(cap.path), ["tls.handshake.random"])[0]

    log = FixtureLog(name)
    tls = {"version": version, "cipher_suite": BY_ID.get(suite_id), "cipher_suite_id": suite_id,
           "sni": sni[0] if sni else None, "alpn": None, "handshake_completed": False,
           "server_hello_packet": sh_frame,
           "client_random": chello_random.replace(":", ""),
           "keylog_labels": [l.split()[0] for l in kl],
           "server_keylog_labels": [l.split()[0] for l in skl],
           "cert": "RSA 2048, self-signed for %s (not in the client's CA store)" % SNI,
           "alert": {"from": "client", "level": LEVELS[level], "description": desc, "code": code,
                     "packet": frame, "encrypted": encrypted,
                     "visible_without_keylog": bool(no_keys),
                     "record_content_type": int(rec_type) if rec_type else None,
                     "record_length": int(alert_len.split(",")[0]) if alert_len else None}}
    if kl and randoms != [tls["client_random"]]:
        raise SystemExit("%s: key log randoms %r != ClientHello %s" % (name, randoms, tls["client_random"]))
    log.conn(cport, sport, tls=tls,
             client_error=describe(client_exc), server_error=describe(serrs[0]),
             websocket_opened=False)
    log.write(generator="Fixtures/gen/tls/gen_tls_alert.py " + name,
              server="websockets 17 (asyncio) + Python %s ssl (%s)" % (sys.version.split()[0], ssl.OPENSSL_VERSION),
              client="websockets 17 sync client (websockets.sync.client.connect in a thread), same process, ssl.create_default_context() (verifies)",
              tls={k: tls[k] for k in ("version", "cipher_suite", "cipher_suite_id", "sni", "alpn")},
              tls_keylog=name + ".keys (the client's key log)")
    print("  %s :%d->:%d %s %s (0x%04X) alert frame %d %s %s (%d) encrypted=%s keylog=%s" % (
        name, cport, sport, version, tls["cipher_suite"], suite_id, frame, LEVELS[level], desc, code,
        encrypted, tls["keylog_labels"]))
    print("  client: %s" % describe(client_exc))
    print("  server: %s" % describe(serrs[0]))


def _client_hello_frame(pcap):
    return int(tshark(["-r", pcap, "-Y", "tls.handshake.type == 1", "-T", "fields",
                       "-e", "frame.number"]).split()[0])


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))
