"""ws-ipv6.pcap: one session over ::1.

server: tornado (listening on ::1, permessage-deflate enabled)
client: websockets 17 (default permessage-deflate offer), source [::1]:19660
"""
import asyncio
import socket

import tornado.web
import tornado.websocket
from websockets.asyncio.client import connect

from wsfix import Capture, FixtureLog, client_socket, hook_tornado, hook_websockets


async def main():
    name, sport, cport = "ws-ipv6", 19160, 19660
    log = FixtureLog(name)
    cl = log.conn(cport, sport, address_family="ipv6", server_addr="::1")
    done = asyncio.Event()

    class H(tornado.websocket.WebSocketHandler):
        def get_compression_options(self):
            return {}

        def open(self):
            hook_tornado(self, cl, "server")
            self.write_message("hello over IPv6, %s" % self.request.remote_ip)

        def on_message(self, message):
            if isinstance(message, bytes):
                self.write_message(message[::-1], binary=True)
            else:
                self.write_message("v6 echo: " + message)

        def on_close(self):
            done.set()

    server = tornado.web.Application([(r"/v6", H)]).listen(sport, address="::1")
    try:
        async with Capture(name, [sport]):
            s = client_socket(cport, host="::1", dst=("::1", sport), family=socket.AF_INET6,
                              blocking=False)
            async with connect("ws://[::1]:%d/v6" % sport, sock=s) as ws:
                hook_websockets(ws, cl, "client")
                print(await ws.recv())
                await ws.send("ping me back over ::1")
                await ws.recv()
                await ws.send(bytes(range(40)))
                await ws.recv()
                await ws.ping(b"v6-ping")
                await asyncio.sleep(0.05)
                await ws.close(1000, "v6 done")
            await asyncio.wait_for(done.wait(), 5)
    finally:
        server.stop()
    log.write()


if __name__ == "__main__":
    asyncio.run(main())
