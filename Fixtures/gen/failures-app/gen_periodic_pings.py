"""app-periodic-pings: a healthy ~6 s connection kept alive by the client's pings.

Server: websockets 17 serve() on :19750 (no keepalive of its own), echoes text.  Client:
websockets 17 connect(ping_interval=0.5, ping_timeout=0.5) from :19850: its keepalive task
pings every 0.5 s and the server's library answers each with a pong.  The client sends a
text message every 1.5 s (4 in all, each echoed), waits until 6 s have passed since the
handshake and closes with 1000 "done"; the server echoes the Close.
"""
import asyncio
import time

from appfix import AppCapture, EventLog, check_port, client_socket, hook_recv_times, tshark_fields, \
    write_log
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

NAME, SPORT, CPORT = "app-periodic-pings", 19750, 19850
DURATION = 6.0


async def main():
    ev = EventLog(NAME)
    ev.declare(CPORT, SPORT)
    recv = []
    done = asyncio.Event()

    async def handler(ws):
        ev.hook(ws, CPORT, SPORT, "server")
        async for m in ws:
            await ws.send("echo: " + m)
        done.set()

    async with serve(handler, "127.0.0.1", SPORT, compression=None, ping_interval=None, close_timeout=1):
        async with AppCapture(NAME, [SPORT]):
            s = client_socket(check_port(CPORT), dst=("127.0.0.1", SPORT), blocking=False)
            async with connect("ws://127.0.0.1:%d/health" % SPORT, sock=s, compression=None,
                               ping_interval=0.5, ping_timeout=0.5, close_timeout=1) as ws:
                opened = time.time()
                ev.hook(ws, CPORT, SPORT, "client")
                hook_recv_times(ws, recv)
                for k in range(4):
                    await ws.send("status %d" % k)
                    await ws.recv()
                    await asyncio.sleep(1.5)
                await asyncio.sleep(max(0.0, DURATION - (time.time() - opened)))
                await ws.close(1000, "done")
                closed = time.time()
            await asyncio.wait_for(done.wait(), 5)
    log = ev.fixture_log()
    pings = ev.of(CPORT, SPORT, "client", 0x9)
    pongs = ev.of(CPORT, SPORT, "server", 0xA)
    pongs_rcvd = [r for r in recv if r[1] == 0xA]
    assert {p[6] for p in pings} == {p[6] for p in pongs} and len(pongs_rcvd) == len(pings), \
        (len(pings), len(pongs), len(pongs_rcvd))
    pcap = AppCapture(NAME, [SPORT]).path
    wire = tshark_fields(pcap, "websocket.opcode == 9 or websocket.opcode == 10",
                         ["tcp.srcport", "websocket.opcode"])
    assert len(wire) == 2 * len(pings), wire
    gaps = [b[0] - a[0] for a, b in zip(pings, pings[1:])]
    print("client pings %d, pongs %d, intervals %.3f..%.3f s" % (len(pings), len(pongs), min(gaps), max(gaps)))
    expected = {
        "per_connection": [{
            "client_port": CPORT, "server_port": SPORT,
            "cause": "clean_close", "by": "client", "close_code": 1000, "close_reason": "done",
            "health": {"pings": len(pings), "pings_from": "client", "pongs": len(pongs),
                       "pings_unanswered": 0, "ping_interval_s": 0.5,
                       "max_ping_gap_s": round(max(gaps), 6)},
        }],
        "pattern": None,
        "why": ("The client's websockets keepalive (ping_interval=0.5 s) sent %d pings over %.1f s, every "
                "one answered by the server's automatic pong; the client then closed with 1000 \"done\" "
                "and the server echoed it: a healthy connection and a completed close handshake."
                % (len(pings), closed - opened)),
    }
    write_log(log, expected,
              setup={"server": "websockets 17 serve(ping_interval=None)",
                     "client": "websockets 17 connect(ping_interval=0.5, ping_timeout=0.5)",
                     "client_ping_times": [p[0] for p in pings],
                     "opened_at": opened, "closed_at": closed})


if __name__ == "__main__":
    asyncio.run(main())
