"""app-keepalive-sigstop: a websockets 17 server's keepalive gives up on a frozen client.

Server (this process): websockets serve(ping_interval=1, ping_timeout=1, close_timeout=1)
on :19700.  Client (child_peers.py ka-client, its own process) on :19800: sends "hello",
gets the echo, then idles; its library answers the server's keepalive pings.  As soon as
the server has received the first pong, the parent freezes the client with SIGSTOP.  The
client's kernel still ACKs everything, but no pong comes back: the next ping times out
after 1 s and websockets fails the connection with Close 1011 "keepalive ping timeout",
half-closes (FIN), waits close_timeout (1 s) for the client's Close / FIN that never come,
and aborts the transport.  The server's socket had already sent its FIN and had nothing
unread, so that abort puts nothing more on the wire (the socket stays in FIN_WAIT_2).
0.5 s later the client is killed (SIGKILL, SIGCONT): its kernel then closes a socket whose
receive queue still holds the unread ping and Close frame, and sends an RST.  That RST is
the consequence of the keepalive failure, not its cause.

Ground truth from the server: every ping it sent (send hook, with times), every pong it
received (receive hook, with times), its close code.
"""
import asyncio
import signal
import time

from appfix import AppCapture, Child, EventLog, hook_recv_times, tshark_fields, write_log
from websockets.asyncio.server import serve

NAME, SPORT, CPORT = "app-keepalive-sigstop", 19700, 19800


async def main():
    ev = EventLog(NAME)
    ev.declare(CPORT, SPORT)
    recv = []          # (t, opcode, hex) received by the server
    done = asyncio.Event()
    result = {}

    async def handler(ws):
        ev.hook(ws, CPORT, SPORT, "server")
        hook_recv_times(ws, recv)
        try:
            async for m in ws:
                await ws.send("echo: " + m)
        except Exception as e:  # ConnectionClosedError after the keepalive failure
            result["exc"] = repr(e)
        result["close_sent"] = ws.protocol.close_sent and ws.protocol.close_sent.code
        result["close_sent_reason"] = ws.protocol.close_sent and ws.protocol.close_sent.reason
        result["close_rcvd"] = ws.protocol.close_rcvd and ws.protocol.close_rcvd.code
        result["closed_at"] = time.time()
        done.set()

    child = None
    async with serve(handler, "127.0.0.1", SPORT, compression=None,
                     ping_interval=1, ping_timeout=1, close_timeout=1):
        try:
            async with AppCapture(NAME, [SPORT]):
                child = Child(["child_peers.py", "ka-client", str(CPORT), str(SPORT)])
                await asyncio.to_thread(child.wait_line, "READY", 10)
                # wait (bounded) for the first answered ping, then freeze the client
                deadline = time.time() + 4
                while not any(op == 0xA for _, op, _ in recv):
                    if time.time() > deadline:
                        raise RuntimeError("no pong within 4 s")
                    await asyncio.sleep(0.02)
                child.signal(signal.SIGSTOP)
                stopped_at = time.time()
                print("client stopped at", stopped_at)
                await asyncio.wait_for(done.wait(), 8)
                await asyncio.sleep(0.5)
                child.kill()
                killed_at = time.time()
        finally:
            if child is not None:
                child.kill()

    ev.add_lines(child.lines)
    log = ev.fixture_log()
    ping_times = [(e[0], e[6].hex()) for e in ev.of(CPORT, SPORT, "server", 0x9)]
    pongs = [(t, h) for t, op, h in recv if op == 0xA]
    answered = {h for _, h in pongs}
    unanswered = [(t, h) for t, h in ping_times if h not in answered]
    last_pong = max(t for t, _ in pongs)

    # facts from the capture (for the README and a cross-check, not the ground truth)
    pcap = AppCapture(NAME, [SPORT]).path
    wire_pings = tshark_fields(pcap, "websocket.opcode == 9", ["frame.number"])
    flags = tshark_fields(pcap, "tcp.flags.fin == 1 or tcp.flags.reset == 1",
                          ["frame.number", "tcp.srcport", "tcp.flags.fin", "tcp.flags.reset"])
    print("server pings", len(ping_times), "pongs", len(pongs), "unanswered", len(unanswered),
          "wire pings", len(wire_pings), "close", result, "FIN/RST", flags)
    assert result["close_sent"] == 1011 and result["close_rcvd"] is None, result
    assert len(wire_pings) == len(ping_times), (wire_pings, ping_times)
    assert len(unanswered) >= 1

    expected = {
        "per_connection": [{
            "client_port": CPORT, "server_port": SPORT,
            "cause": "keepalive_timeout", "by": "server",
            "pings_sent": len(ping_times),
            "pongs_received": len(pongs),
            "pings_unanswered": len(unanswered),
            "last_pong_received_at": last_pong,
            "client_stopped_at": stopped_at,
            "close_code": result["close_sent"],
            "close_reason": result["close_sent_reason"],
            "close_frame_from_client": False,
        }],
        "pattern": None,
        "why": ("The server's websockets keepalive (ping_interval=1 s, ping_timeout=1 s) sent %d pings; "
                "the client process answered %d of them, then was frozen with SIGSTOP: its kernel kept "
                "ACKing, but the last %d ping(s) got no pong, so after ping_timeout the server sent "
                "Close %s \"%s\", half-closed TCP (FIN) and, with no Close frame or FIN back within "
                "close_timeout=1 s, aborted the transport (nothing more on the wire: its FIN was "
                "already sent). The client's RST at the end comes from its kernel when the frozen "
                "process was killed 0.5 s later with the ping and the Close unread."
                % (len(ping_times), len(pongs), len(unanswered), result["close_sent"],
                   result["close_sent_reason"])),
    }
    write_log(log, expected,
              setup={"server": "websockets 17 asyncio serve(ping_interval=1, ping_timeout=1, close_timeout=1)",
                     "client": "websockets 17 asyncio connect(ping_interval=None) in its own process, "
                               "SIGSTOP after the first pong, SIGKILL after the server gave up",
                     "server_pings": [{"t": t, "payload_hex": h, "answered": h in answered}
                                      for t, h in ping_times],
                     "server_pongs_received": [{"t": t, "payload_hex": h} for t, h in pongs],
                     "server_exception": result.get("exc"),
                     "server_gave_up_at": result["closed_at"],
                     "client_killed_at": killed_at})


if __name__ == "__main__":
    asyncio.run(main())
