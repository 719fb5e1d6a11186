"""ws-fragmented.pcap: fragmented text + binary messages with pings between
fragments, in both directions, no compression.

server: websockets 17 (auto-pong; sends its own fragmented messages from an
        async generator and pings in the middle of them)
client: websocket-client 1.9 (raw ABNF frames via send_frame; auto-pong)
"""
import asyncio
import time

import websocket  # websocket-client
from websocket import ABNF
from websockets.asyncio.server import serve

from wsfix import Capture, FixtureLog, client_socket, hook_websocket_client, hook_websockets


async def main():
    name, sport, cport = "ws-fragmented", 19030, 19530
    log = FixtureLog(name)
    cl = log.conn(cport, sport)
    done = asyncio.Event()

    async def handler(ws):
        hook_websockets(ws, cl, "server")
        # 1) client's fragmented text (with a ping between fragments)
        text = await ws.recv()

        async def text_parts():
            yield "Echo: "
            await ws.ping(b"srv-ping-in-text")
            await asyncio.sleep(0.05)
            yield text[:10]
            yield text[10:]

        await ws.send(text_parts())
        # 2) client's fragmented binary
        data = await ws.recv()

        async def bin_parts():
            yield b"\x00\x01"
            yield data[:100]
            await ws.ping(b"srv-ping-in-binary")
            await asyncio.sleep(0.05)
            yield data[100:]

        await ws.send(bin_parts())
        await ws.wait_closed()
        done.set()

    def client():
        s = client_socket(cport, dst=("127.0.0.1", sport))
        ws = websocket.WebSocket()
        hook_websocket_client(ws, cl)
        ws.connect("ws://127.0.0.1:%d/frag" % sport, socket=s)
        # fragmented text: 3 frames, ping after the first one
        ws.send_frame(ABNF.create_frame("Hello, fragmented ", ABNF.OPCODE_TEXT, fin=0))
        ws.ping(b"cli-ping-in-text")
        time.sleep(0.1)   # let the server's pong land between the fragments
        ws.send_frame(ABNF.create_frame("WebSocket ".encode(), ABNF.OPCODE_CONT, fin=0))
        ws.send_frame(ABNF.create_frame("wörld \u2713".encode("utf-8"), ABNF.OPCODE_CONT, fin=1))
        print("client got:", ws.recv())
        # fragmented binary: 4 frames, ping after the second one
        blob = bytes(range(256)) * 2
        ws.send_frame(ABNF.create_frame(blob[:64], ABNF.OPCODE_BINARY, fin=0))
        ws.send_frame(ABNF.create_frame(blob[64:200], ABNF.OPCODE_CONT, fin=0))
        ws.ping(b"cli-ping-in-binary")
        time.sleep(0.1)
        ws.send_frame(ABNF.create_frame(blob[200:300], ABNF.OPCODE_CONT, fin=0))
        ws.send_frame(ABNF.create_frame(blob[300:], ABNF.OPCODE_CONT, fin=1))
        print("client got %d bytes" % len(ws.recv()))
        ws.close(status=1000, reason=b"fragments done")

    async with serve(handler, "127.0.0.1", sport, compression=None):
        async with Capture(name, [sport]):
            await asyncio.to_thread(client)
            await asyncio.wait_for(done.wait(), 5)
    log.write()


if __name__ == "__main__":
    asyncio.run(main())
