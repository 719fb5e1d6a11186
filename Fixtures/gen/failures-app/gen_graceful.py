"""app-graceful-1001: a websockets server shuts down gracefully with 4 clients connected.

Server: websockets 17 serve() on :19720 (no keepalive).  Four websockets clients (this
process) bound to :19820..19823 each get a greeting, send two messages and read the echoes.
Then the server calls server.close() (close_connections=True, code 1001 Going Away, reason
"server restart"): websockets sends Close 1001 on every connection, each client's library
echoes Close 1001, and the server closes TCP first (FIN), as RFC 6455 §7.1.1 says.
"""
import asyncio
import time

from appfix import AppCapture, EventLog, check_port, client_socket, tshark_fields, write_log
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedOK

NAME, SPORT = "app-graceful-1001", 19720
N = 4
CPORTS = [19820 + i for i in range(N)]
REASON = "server restart"


async def main():
    ev = EventLog(NAME)
    for p in CPORTS:
        ev.declare(p, SPORT)
    ready = [asyncio.Event() for _ in range(N)]
    seen = [{} for _ in range(N)]
    server_side = {}

    async def handler(ws):
        cport = ws.remote_address[1]
        ev.hook(ws, cport, SPORT, "server")
        await ws.send("hello %d" % cport)
        async for m in ws:
            await ws.send("echo: " + m)
        server_side[cport] = {"close_sent": int(ws.protocol.close_sent.code),
                              "close_rcvd": int(ws.protocol.close_rcvd.code),
                              "close_rcvd_then_sent": ws.protocol.close_rcvd_then_sent}

    async def client(i):
        cport = CPORTS[i]
        s = client_socket(check_port(cport), dst=("127.0.0.1", SPORT), blocking=False)
        async with connect("ws://127.0.0.1:%d/chat" % SPORT, sock=s, compression=None,
                           ping_interval=None, close_timeout=2) as ws:
            ev.hook(ws, cport, SPORT, "client")
            await ws.recv()
            for k in range(2):
                await ws.send("c%d msg %d" % (i, k))
                await ws.recv()
            ready[i].set()
            try:
                await asyncio.wait_for(ws.recv(), 8)
                raise RuntimeError("unexpected message")
            except ConnectionClosedOK:
                pass
            await ws.wait_closed()
            seen[i] = {"close_rcvd": int(ws.protocol.close_rcvd.code),
                       "close_rcvd_reason": ws.protocol.close_rcvd.reason,
                       "close_sent": int(ws.protocol.close_sent.code)}

    async with AppCapture(NAME, [SPORT]):
        server = await serve(handler, "127.0.0.1", SPORT, compression=None, ping_interval=None,
                             close_timeout=2)
        try:
            tasks = [asyncio.create_task(client(i)) for i in range(N)]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)
            await asyncio.sleep(0.3)
            close_at = time.time()
            server.close(close_connections=True, code=1001, reason=REASON)
            await asyncio.wait_for(server.wait_closed(), 10)
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
        finally:
            server.close()
    log = ev.fixture_log()

    pcap = AppCapture(NAME, [SPORT]).path
    closes = tshark_fields(pcap, "websocket.opcode == 8", ["frame.time_epoch", "tcp.srcport",
                                                           "websocket.payload.close.status_code"])
    server_closes = [float(t) for t, sp, c in closes if int(sp) == SPORT]
    assert len(closes) == 2 * N and all(int(c) == 1001 for _, _, c in closes), closes
    window = max(server_closes) - min(server_closes)
    print("4 server Close 1001 within %.6f s; client echoes" % window, seen)
    per = [{"client_port": p, "server_port": SPORT, "cause": "clean_close", "by": "server",
            "close_code": 1001, "close_reason": REASON, "client_echoed": seen[i]["close_sent"]}
           for i, p in enumerate(CPORTS)]
    expected = {
        "per_connection": per,
        "pattern": {"kind": "mass_disconnect", "graceful": True, "connections": N,
                    "client_ports": CPORTS, "cause": "clean_close", "by": "server", "close_code": 1001,
                    "server_close_called_at": close_at,
                    "server_close_frames_within_s": round(window, 6)},
        "why": ("The server called websockets' server.close(close_connections=True, code=1001, "
                "reason=%r) at %.6f: it sent Close 1001 on all %d connections, every client "
                "library echoed Close 1001, and the server closed TCP first: %d completed closing "
                "handshakes started by the server at the same moment." % (REASON, close_at, N, N)),
    }
    write_log(log, expected,
              setup={"server": "websockets 17 asyncio serve(); Server.close(close_connections=True, "
                               "code=1001, reason=%r)" % REASON,
                     "clients": "4 websockets 17 asyncio clients in the same process",
                     "server_close_called_at": close_at,
                     "server_saw": {str(k): v for k, v in sorted(server_side.items())},
                     "clients_saw": [{"client_port": CPORTS[i], **seen[i]} for i in range(N)]})


if __name__ == "__main__":
    asyncio.run(main())
