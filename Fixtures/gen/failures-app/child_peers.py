"""Peers that run in their own process (started by the generators through appfix.Child).

  child_peers.py ka-client CPORT SPORT
      websockets client (no keepalive of its own): sends "hello", reads the echo, prints
      READY, then idles (its library still answers pings automatically) until the parent
      freezes it with SIGSTOP and later kills it.  Exits by itself after 20 s at most.

  child_peers.py echo-server SPORT TAG
      websockets echo server (no keepalive) for the server-killed capture; greets each
      client with "TAG hello", echoes text; prints LISTENING once bound.  The parent kills
      it with SIGKILL.  Exits by itself after 20 s at most.

Every frame handed to websockets' Protocol.send_frame is printed as "SENT {json}" (with
the time of the send) and flushed, so nothing is lost when the process is killed.
"""
import asyncio
import sys
import time

from appfix import SentPrinter, check_port, client_socket, hook_websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve


async def ka_client(cport, sport):
    s = client_socket(check_port(cport), dst=("127.0.0.1", check_port(sport)), blocking=False)
    async with connect("ws://127.0.0.1:%d/feed" % sport, sock=s, compression=None,
                       ping_interval=None, close_timeout=1) as ws:
        hook_websockets(ws, SentPrinter(cport, sport), "client")
        await ws.send("hello")
        print("GOT", await ws.recv(), flush=True)
        print("READY", time.time(), flush=True)
        # Idle: pings are answered by the library inside data_received().
        await asyncio.sleep(20)


async def echo_server(sport, tag):
    async def handler(ws):
        cport = ws.remote_address[1]
        hook_websockets(ws, SentPrinter(cport, sport), "server")
        print("OPEN", cport, time.time(), flush=True)
        await ws.send("%s hello %d" % (tag, cport))
        async for m in ws:
            await ws.send("%s echo: %s" % (tag, m))
        print("CLOSED", cport, ws.close_code, time.time(), flush=True)

    async with serve(handler, "127.0.0.1", check_port(sport), compression=None,
                     ping_interval=None, close_timeout=1):
        print("LISTENING", time.time(), flush=True)
        await asyncio.sleep(20)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "ka-client":
        asyncio.run(ka_client(int(sys.argv[2]), int(sys.argv[3])))
    elif what == "echo-server":
        asyncio.run(echo_server(int(sys.argv[2]), sys.argv[3]))
    else:
        sys.exit("unknown peer " + what)
