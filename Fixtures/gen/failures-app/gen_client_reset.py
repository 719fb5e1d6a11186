"""app-client-reset: a websockets client aborts with an RST while a reply sits unread.

Server: websockets 17 serve() on :19770 (no keepalive), echoes text.  Client: websockets 17
connect() from :19870: "hello" (echo read), then it stops reading its socket
(transport.pause_reading()), sends "request 2", waits 0.3 s while the server's echo arrives
in its kernel receive queue unread, sets SO_LINGER {1, 0} and aborts the transport: its
kernel sends an RST; no Close frame from either side.  The server's library reports 1006.
"""
import asyncio
import fcntl
import socket
import struct
import termios
import time

from appfix import AppCapture, EventLog, check_port, client_socket, tshark_fields, write_log
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError

NAME, SPORT, CPORT = "app-client-reset", 19770, 19870


async def main():
    ev = EventLog(NAME)
    ev.declare(CPORT, SPORT)
    srv, cli = {}, {}
    done = asyncio.Event()

    async def handler(ws):
        ev.hook(ws, CPORT, SPORT, "server")
        try:
            async for m in ws:
                await ws.send("echo: " + m)
        except ConnectionClosedError as e:
            srv["exception"] = repr(e)
        srv["close_code"] = int(ws.protocol.close_code)
        srv["close_sent"] = ws.protocol.close_sent and int(ws.protocol.close_sent.code)
        srv["close_rcvd"] = ws.protocol.close_rcvd and int(ws.protocol.close_rcvd.code)
        done.set()

    async with serve(handler, "127.0.0.1", SPORT, compression=None, ping_interval=None, close_timeout=1):
        async with AppCapture(NAME, [SPORT]):
            s = client_socket(check_port(CPORT), dst=("127.0.0.1", SPORT), blocking=False)
            ws = await connect("ws://127.0.0.1:%d/echo" % SPORT, sock=s, compression=None,
                               ping_interval=None, close_timeout=1)
            ev.hook(ws, CPORT, SPORT, "client")
            await ws.send("hello")
            await ws.recv()
            ws.transport.pause_reading()
            await ws.send("request 2")
            await asyncio.sleep(0.3)
            sock = ws.transport.get_extra_info("socket")
            unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
            cli["unread_bytes_in_kernel"] = unread
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            cli["aborted_at"] = time.time()
            ws.transport.abort()
            await asyncio.wait_for(done.wait(), 5)
    log = ev.fixture_log()
    pcap = AppCapture(NAME, [SPORT]).path
    rst = tshark_fields(pcap, "tcp.flags.reset == 1", ["frame.number", "tcp.srcport"])
    closes = tshark_fields(pcap, "websocket.opcode == 8", ["frame.number"])
    print("client", cli, "server", srv, "RST", rst, "closes", closes)
    assert [int(r[1]) for r in rst] == [CPORT] and not closes
    assert cli["unread_bytes_in_kernel"] > 0
    expected = {
        "per_connection": [{
            "client_port": CPORT, "server_port": SPORT, "cause": "reset", "by": "client",
            "close_code": None, "unread_bytes_at_client": cli["unread_bytes_in_kernel"],
        }],
        "pattern": None,
        "why": ("The client stopped reading, sent a request, and with the %d-byte echo frame unread in its "
                "receive queue aborted with SO_LINGER 0: its kernel sent an RST, no Close frame was sent "
                "by either side; the server's websockets saw 1006." % cli["unread_bytes_in_kernel"]),
    }
    write_log(log, expected, setup={"server": "websockets 17 serve()",
                                    "client": "websockets 17 connect(); transport.pause_reading(), "
                                              "SO_LINGER {1,0}, transport.abort()",
                                    "client_saw": cli, "server_saw": srv})


if __name__ == "__main__":
    asyncio.run(main())
