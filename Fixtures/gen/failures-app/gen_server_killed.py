"""app-server-killed: kill -9 of a websockets server with 5 clients, then reconnection.

Server: child_peers.py echo-server on :19710 in its own process (websockets 17, no
keepalive).  Five websockets clients in this process, bound to :19810..19814, each get the
greeting, send two messages and read the echoes.  Then the server process is killed with
SIGKILL: the kernel closes its five sockets (nothing unread in them, so a FIN each) and no
Close frame is sent.  A new server process (tag B) is started at once on the same port.
Each client sees EOF without a Close frame (websockets: ConnectionClosedError, code 1006),
closes its side, waits a backoff of 1.0 s + 0.05 s x index, reconnects from :19815..19819
(another port per attempt, at most 3 attempts: a refused attempt would show as SYN/RST and
be recorded), exchanges one message and closes cleanly with 1000.
"""
import asyncio
import signal
import time

from appfix import AppCapture, Child, EventLog, check_port, client_socket, tshark_fields, \
    wait_port, write_log
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

NAME, SPORT = "app-server-killed", 19710
N = 5
FIRST = [19810 + i for i in range(N)]
BACKOFF = 1.0


async def main():
    ev = EventLog(NAME)
    for p in FIRST:
        ev.declare(p, SPORT)
    ready = [asyncio.Event() for _ in range(N)]
    info = [{} for _ in range(N)]
    servers = []

    async def client(i):
        cport = FIRST[i]
        s = client_socket(check_port(cport), dst=("127.0.0.1", SPORT), blocking=False)
        ws = await connect("ws://127.0.0.1:%d/chat" % SPORT, sock=s, compression=None,
                           ping_interval=None, close_timeout=1)
        ev.hook(ws, cport, SPORT, "client")
        await ws.recv()
        for k in range(2):
            await ws.send("c%d msg %d" % (i, k))
            await ws.recv()
        ready[i].set()
        try:
            await asyncio.wait_for(ws.recv(), 8)
            raise RuntimeError("client %d: unexpected message" % i)
        except ConnectionClosedError as e:
            info[i]["noticed_at"] = time.time()
            info[i]["client_saw"] = {"close_code": int(ws.protocol.close_code),
                                     "close_frame_received": ws.protocol.close_rcvd is not None,
                                     "exception": repr(e)}
        await ws.wait_closed()
        await asyncio.sleep(BACKOFF + 0.05 * i)
        info[i]["refused"] = []
        for k in range(3):
            cport2 = check_port(19815 + i + 5 * k)
            try:
                s = client_socket(cport2, dst=("127.0.0.1", SPORT), blocking=False)
            except ConnectionRefusedError:
                info[i]["refused"].append(cport2)
                await asyncio.sleep(0.5)
                continue
            ev.declare(cport2, SPORT)
            info[i]["reconnect_port"] = cport2
            async with connect("ws://127.0.0.1:%d/chat" % SPORT, sock=s, compression=None,
                               ping_interval=None, close_timeout=1) as ws2:
                ev.hook(ws2, cport2, SPORT, "client")
                await ws2.recv()
                await ws2.send("c%d back" % i)
                await ws2.recv()
                await ws2.close(1000, "bye")
            info[i]["reconnect_close"] = {"sent": ws2.protocol.close_sent.code,
                                          "rcvd": ws2.protocol.close_rcvd.code}
            return
        raise RuntimeError("client %d could not reconnect" % i)

    try:
        async with AppCapture(NAME, [SPORT]):
            servers.append(Child(["child_peers.py", "echo-server", str(SPORT), "A"]))
            await asyncio.to_thread(servers[0].wait_line, "LISTENING", 10)
            tasks = [asyncio.create_task(client(i)) for i in range(N)]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)
            await asyncio.sleep(0.3)
            kill_at = time.time()
            servers[0].kill()                 # SIGKILL (the process group)
            print("server A killed at", kill_at)
            servers.append(Child(["child_peers.py", "echo-server", str(SPORT), "B"]))
            await asyncio.to_thread(servers[1].wait_line, "LISTENING", 10)
            b_up = time.time()
            await asyncio.wait_for(asyncio.gather(*tasks), 15)
            await asyncio.sleep(0.3)
    finally:
        for s in servers:
            s.kill()
    for s in servers:
        ev.add_lines(s.lines)
    log = ev.fixture_log()

    pcap = AppCapture(NAME, [SPORT]).path
    ends = {}
    for num, t, sp, dp, fin, rst in tshark_fields(pcap, "tcp.flags.fin == 1 or tcp.flags.reset == 1",
                                                  ["frame.number", "frame.time_epoch", "tcp.srcport",
                                                   "tcp.dstport", "tcp.flags.fin", "tcp.flags.reset"]):
        cport = int(dp) if int(sp) == SPORT else int(sp)
        ends.setdefault(cport, []).append({"frame": int(num), "t": float(t),
                                           "from": "server" if int(sp) == SPORT else "client",
                                           "flag": "RST" if rst in ("1", "True") else "FIN"})
    closes = tshark_fields(pcap, "websocket.opcode == 8", ["tcp.srcport", "tcp.dstport"])
    for i in range(N):
        first_server_end = [e for e in ends[FIRST[i]] if e["from"] == "server"]
        assert first_server_end and first_server_end[0]["t"] >= kill_at, (i, ends[FIRST[i]])
        assert not any(FIRST[i] in (int(a), int(b)) for a, b in closes), "close frame on a killed conn"
        info[i]["server_tcp_end"] = first_server_end[0]["flag"]
    server_end_times = [[e for e in ends[p] if e["from"] == "server"][0]["t"] for p in FIRST]
    window = max(server_end_times) - min(server_end_times)
    print("server ends within %.6f s; refused attempts: %s" % (window, [x["refused"] for x in info]))

    per = []
    for i in range(N):
        per.append({"client_port": FIRST[i], "server_port": SPORT,
                    "cause": "closed_without_close_frame", "by": "server",
                    "server_tcp_end": info[i]["server_tcp_end"],
                    "close_code": None,
                    "client_noticed_at": info[i]["noticed_at"]})
    for i in range(N):
        per.append({"client_port": info[i]["reconnect_port"], "server_port": SPORT,
                    "cause": "clean_close", "by": "client", "close_code": 1000,
                    "reconnect_of": FIRST[i]})
    for i in range(N):
        for p in info[i]["refused"]:
            per.append({"client_port": p, "server_port": SPORT, "cause": "upgrade_refused",
                        "by": "server", "note": "TCP connection refused (SYN answered by RST)"})
    expected = {
        "per_connection": per,
        "pattern": {"kind": "mass_disconnect", "graceful": False, "connections": N,
                    "client_ports": FIRST, "cause": "closed_without_close_frame", "by": "server",
                    "server_killed_at": kill_at,
                    "server_tcp_ends_within_s": round(window, 6),
                    "reconnections": [info[i]["reconnect_port"] for i in range(N)]},
        "why": ("The server process holding all %d connections was killed with SIGKILL at %.6f: "
                "its kernel closed each socket (FIN, nothing was unread) and no Close frame was sent; "
                "each client saw EOF without a Close frame (websockets 1006). A new server process "
                "was listening on the same port %.3f s after the kill; the clients reconnected after "
                "a %.1f s backoff, exchanged a message and closed with 1000 (echoed by the server)."
                % (N, kill_at, b_up - kill_at, BACKOFF)),
    }
    write_log(log, expected,
              setup={"server": "child_peers.py echo-server (websockets 17) in its own process, "
                               "killed with SIGKILL; a second process started on the same port",
                     "clients": "5 websockets 17 asyncio clients in the generator process",
                     "server_killed_at": kill_at, "server_b_listening_at": b_up,
                     "clients_saw": [{"client_port": FIRST[i], **info[i]} for i in range(N)]})


if __name__ == "__main__":
    asyncio.run(main())
