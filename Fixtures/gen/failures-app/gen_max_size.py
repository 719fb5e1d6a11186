"""app-max-size-1009: a websockets server with max_size=1024 refuses a 4000-byte message.

Server: websockets 17 serve(max_size=1024) on :19740, echoes text.  Client: websockets 17
connect() from :19840: three small text messages (each echoed), then one 4000-byte text
message, sent in one frame.  The server's parser sees the 4000-byte length, fails the
connection with Close 1009 "frame with 4000 bytes exceeds limit of 1024 bytes" and
half-closes at once (a server failing the connection closes TCP without waiting);
the client's library answers with its own Close.
"""
import asyncio

from appfix import AppCapture, EventLog, check_port, client_socket, tshark_fields, write_log
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError

NAME, SPORT, CPORT = "app-max-size-1009", 19740, 19840
MAX = 1024
BIG = 4000
SMALL = ["small one", "small two", "small three"]


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
        srv["close_sent"] = int(ws.protocol.close_sent.code)
        srv["close_sent_reason"] = ws.protocol.close_sent.reason
        srv["close_rcvd"] = ws.protocol.close_rcvd and int(ws.protocol.close_rcvd.code)
        done.set()

    async with serve(handler, "127.0.0.1", SPORT, compression=None, ping_interval=None,
                     max_size=MAX, close_timeout=1):
        async with AppCapture(NAME, [SPORT]):
            s = client_socket(check_port(CPORT), dst=("127.0.0.1", SPORT), blocking=False)
            async with connect("ws://127.0.0.1:%d/upload" % SPORT, sock=s, compression=None,
                               ping_interval=None, close_timeout=1) as ws:
                ev.hook(ws, CPORT, SPORT, "client")
                for m in SMALL:
                    await ws.send(m)
                    await ws.recv()
                await ws.send("B" * BIG)
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                    raise RuntimeError("the server accepted the big message")
                except ConnectionClosedError as e:
                    cli["exception"] = repr(e)
                cli["close_rcvd"] = int(ws.protocol.close_rcvd.code)
                cli["close_sent"] = ws.protocol.close_sent and int(ws.protocol.close_sent.code)
            await asyncio.wait_for(done.wait(), 5)
    log = ev.fixture_log()
    sent = log.conns[0].sent
    client_data = [i for i, e in enumerate(sent) if e["from"] == "client" and e["opcode"] in ("text", "binary")]
    big_idx = [i for i in client_data if sent[i]["payload_len"] == BIG]
    assert len(big_idx) == 1 and client_data.index(big_idx[0]) == 3, (client_data, big_idx)

    pcap = AppCapture(NAME, [SPORT]).path
    cframes = tshark_fields(pcap, "websocket and tcp.srcport == %d" % CPORT,
                            ["frame.number", "websocket.opcode", "websocket.payload_length",
                             "websocket.payload_length_ext_16"])
    closes = tshark_fields(pcap, "websocket.opcode == 8", ["frame.number", "tcp.srcport",
                                                           "websocket.payload.close.status_code"])
    print("server", srv, "client", cli, "client frames", cframes, "closes", closes)
    assert srv["close_sent"] == 1009
    expected = {
        "per_connection": [{
            "client_port": CPORT, "server_port": SPORT,
            "cause": "error_close", "by": "server", "close_code": 1009,
            "close_reason": srv["close_sent_reason"],
            "client_replied_close": cli["close_sent"],
            "offending": {"from": "client", "opcode": "text", "payload_len": BIG,
                          "client_data_message_number": 4, "client_frame_number": 4,
                          "sent_index": big_idx[0],
                          "limit": MAX,
                          "note": "the 4th message (and 4th frame) the client sent; sent_index is its "
                                  "position (0-based) in this connection's \"sent\" list"},
        }],
        "pattern": None,
        "why": ("The server runs websockets with max_size=%d. The client's 4th message, a %d-byte text "
                "frame, exceeds it: the server failed the connection with Close %d \"%s\" and closed "
                "TCP; the client's library answered with Close %s."
                % (MAX, BIG, srv["close_sent"], srv["close_sent_reason"], cli["close_sent"])),
    }
    write_log(log, expected,
              setup={"server": "websockets 17 serve(max_size=%d)" % MAX,
                     "client": "websockets 17 connect(); 3 small texts, then one %d-byte text" % BIG,
                     "server_saw": srv, "client_saw": cli})


if __name__ == "__main__":
    asyncio.run(main())
