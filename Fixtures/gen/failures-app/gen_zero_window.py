"""app-zero-window: a client stops reading; its TCP window closes; the server gives up.

Server: websockets 17 serve() on :19730 (no keepalive, write_limit=4096).  After the
handshake it sets SO_SNDBUF 4096 on its socket (so the backlog stays small: the log then
lists only the messages that could be queued) and pushes 1 KiB binary messages in a loop
(at most 2000), each ws.send() under a 3.5 s write timeout.  When one send has waited 3.5 s
for the buffers to drain, the server gives up the way nginx's `reset_timedout_connection`
does: SO_LINGER {1, 0} and abort, i.e. an RST.

Client: a raw socket (this process, a thread) bound to :19830 with SO_RCVBUF 4096 set
before connect(); it writes the HTTP upgrade request by hand, reads the 101 response byte
by byte up to the blank line, and then never calls recv() again.  Its receive buffer
fills, its kernel advertises a zero window, the server's kernel sends zero-window probes.
After the server's RST the client closes its socket (nothing more on the wire).

Why "by client": the stalled party is the receiver that stopped reading, the client; the
server is the one that ended the connection, and did so because of that stall.
"""
import asyncio
import base64
import os
import socket
import struct
import threading
import time

from appfix import AppCapture, EventLog, check_port, client_socket, tshark_fields, write_log, zero_windows
from websockets.asyncio.server import serve

NAME, SPORT, CPORT = "app-zero-window", 19730, 19830
WRITE_TIMEOUT = 3.5
MSG = 1024
RCVBUF = 4096


def raw_client(stop):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        s.bind(("127.0.0.1", check_port(CPORT)))
        s.connect(("127.0.0.1", SPORT))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "User-Agent: raw-socket-stalled-reader\r\n\r\n" % (SPORT, key)).encode())
        resp = b""
        s.settimeout(5)
        while not resp.endswith(b"\r\n\r\n") and len(resp) < 4096:
            b = s.recv(1)
            if not b:
                raise RuntimeError("server closed during the handshake")
            resp += b
        assert resp.startswith(b"HTTP/1.1 101"), resp
        info = {"handshake_done_at": time.time(),
                "rcvbuf_effective": s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}
        # never read again: wait (bounded) until the server has given up
        stop.wait(15)
        time.sleep(0.3)
        info["closed_at"] = time.time()
        return info
    finally:
        s.close()


async def main():
    ev = EventLog(NAME)
    ev.declare(CPORT, SPORT, client="raw socket: hand-written upgrade request, then no recv()")
    gave_up = threading.Event()
    srv = {}

    async def handler(ws):
        cport = ws.remote_address[1]
        ev.hook(ws, cport, SPORT, "server")
        sock = ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        srv["sndbuf_effective"] = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        srv["first_send_at"] = time.time()
        n = 0
        try:
            for n in range(1, 2001):
                payload = bytes([n & 0xFF]) * MSG
                started = time.time()
                async with asyncio.timeout(WRITE_TIMEOUT):
                    await ws.send(payload)
            raise RuntimeError("the client's window never closed")
        except TimeoutError:
            srv["blocked_send"] = n
            srv["blocked_send_started_at"] = started
            srv["gave_up_at"] = time.time()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            ws.transport.abort()
            # wait for connection_lost: otherwise returning from the handler makes websockets
            # queue a Close 1000 that would never reach the wire (the transport is gone)
            await ws.wait_closed()
        finally:
            gave_up.set()

    async with serve(handler, "127.0.0.1", SPORT, compression=None, ping_interval=None,
                     write_limit=4096, close_timeout=1):
        async with AppCapture(NAME, [SPORT]):
            try:
                cinfo = await asyncio.wait_for(asyncio.to_thread(raw_client, gave_up), 20)
            finally:
                gave_up.set()
    pcap = AppCapture(NAME, [SPORT]).path
    zw = zero_windows(pcap)
    assert zw, "no zero window in the capture"
    advertisers = sorted({s for _, s, _ in zw})
    zw_first, zw_last = zw[0][0], zw[-1][0]
    rst = tshark_fields(pcap, "tcp.flags.reset == 1", ["frame.time_epoch", "tcp.srcport"])
    probes = tshark_fields(pcap, "tcp.analysis.zero_window_probe", ["frame.number"])
    s2c = tshark_fields(pcap, "tcp.srcport == %d and tcp.len > 0" % SPORT, ["tcp.len"])
    ws_frames = tshark_fields(pcap, "websocket and tcp.srcport == %d" % SPORT, ["frame.number"])
    assert advertisers == [CPORT], advertisers
    assert len(rst) == 1 and int(rst[0][1]) == SPORT, rst
    rst_t = float(rst[0][0])
    queued = len(ev.of(CPORT, SPORT, "server", 0x2))
    assert len(ev.of(CPORT, SPORT)) == queued, "only binary messages expected in the log"
    ev.declare(CPORT, SPORT, server_frames_on_wire=len(ws_frames),
               note="the server handed %d messages to websockets; only the first %d reached the wire "
                    "(tshark), the rest were still in its buffers at the RST" % (queued, len(ws_frames)))
    log = ev.fixture_log()
    print("zero window advertised by %s from %.6f to %.6f (%.3f s, %d packets), %d probes, RST at "
          "+%.3f s after the last zero window; server queued %d messages, blocked on #%d, %s"
          % (advertisers, zw_first, zw_last, zw_last - zw_first, len(zw), len(probes),
             rst_t - zw_last, queued, srv["blocked_send"], srv))
    expected = {
        "per_connection": [{
            "client_port": CPORT, "server_port": SPORT,
            "cause": "receiver_stalled", "by": "client",
            "ended_by": "server", "tcp_end": "RST",
            "zero_window_s": round(rst_t - zw_first, 6),
            "zero_window_first_at": zw_first, "zero_window_last_at": zw_last,
            "zero_window_first_to_last_advert_s": round(zw_last - zw_first, 6),
            "window_reopened": False, "rst_at": rst_t,
            "zero_window_advertised_by": "client",
            "server_write_timeout_s": WRITE_TIMEOUT,
            "close_code": None,
        }],
        "pattern": None,
        "why": ("The client (a raw socket with SO_RCVBUF %d) completed the upgrade and never read "
                "again; the server pushed %d-byte messages until its buffers were full, so the "
                "client's kernel advertised a zero window (tshark's tcp.analysis.zero_window: first "
                "%.6f, last %.6f) and never reopened it; the server's kernel probed it. The "
                "window stayed zero %.3f s, from the first zero-window ACK to the server's RST. Server "
                "message #%d waited %.1f s for the window to open; the server then gave up with "
                "SO_LINGER 0 + abort (RST), no Close frame. The stall is the client's (it stopped "
                "reading); the server ended the connection because of it."
                % (RCVBUF, MSG, zw_first, zw_last, rst_t - zw_first, srv["blocked_send"],
                   WRITE_TIMEOUT)),
    }
    write_log(log, expected,
              setup={"server": "websockets 17 serve(write_limit=4096), SO_SNDBUF 4096, 1 KiB binary "
                               "messages, each send under a %.0f s timeout, then SO_LINGER 0 + "
                               "transport.abort()" % WRITE_TIMEOUT,
                     "client": "raw socket, SO_RCVBUF %d before connect, no recv() after the 101" % RCVBUF,
                     "server_messages_queued": queued,
                     "server": srv, "client_info": cinfo,
                     "tshark_zero_window": {"packets": len(zw), "first_at": zw_first, "last_at": zw_last,
                                            "advertised_by_port": advertisers,
                                            "zero_window_probes": len(probes),
                                            "server_payload_bytes_on_wire": sum(int(x[0]) for x in s2c),
                                            "server_websocket_frames_dissected": len(ws_frames),
                                            "rst_at": rst_t}})


if __name__ == "__main__":
    asyncio.run(main())
