"""json-other.pcap: plain JSON (not JSON-RPC), non-JSON text and one HAND-BUILT invalid JSON
text over a websockets (asyncio API) connection, in one process, on lo.

Server 127.0.0.1:20050, client port 20150, no subprotocol, path /json.

The client sends: an object, an array of scalars, deeply nested values, unicode (raw UTF-8
and \\u escapes), a JSON string, a JSON number, a non-JSON text, a HAND-BUILT text that starts
like JSON but does not parse ('{"a": 1,'), JSON in a binary message, then a last object.
The server answers each message: a JSON object saying what it got (pretty-printed with
indent=2 once, with leading/trailing whitespace once), an error object for the invalid
JSON, a non-JSON text for the non-JSON text.

Each peer logs every text it hands to websockets' send ("SEND <text>" / "SEND-BINARY <hex>")
and what it receives; websockets' Protocol.send_frame is hooked to check and number them.
"""
import asyncio
import json

from websockets.asyncio.server import serve
from websockets.asyncio.client import connect
import websockets

import appsfix
from appsfix import AppsCapture, ListHandler, FrameTap, logger, check_port

NAME = "json-other"
SERVER_PORT = check_port(20050)
CLIENT_PORT = check_port(20150)

HAND_BUILT = '{"a": 1,'

CLIENT_MESSAGES = [
    ("text", json.dumps({"type": "hello", "user": "ana", "tags": ["a", "b"], "active": True})),
    ("text", json.dumps([1, 2.5, -3e-07, True, False, None, "x", 12345678901234567890])),
    ("text", json.dumps({"deep": {"a": [{"b": {"c": [1, {"d": None}, [[[]]]]}}], "e": {}}, "list": [[1, [2, [3]]]]})),
    ("text", json.dumps({"greeting": "こんにちは", "emoji": "😀", "accents": "çéü"}, ensure_ascii=False)),
    ("text", json.dumps({"escaped": "é\n\t\"q\" 😀", "slash": "a/b\\c"})),   # \u escapes, surrogate pair
    ("text", json.dumps("just a JSON string")),
    ("text", json.dumps(42)),
    ("text", "hello, this is not JSON"),
    ("text", HAND_BUILT),
    ("binary", json.dumps({"bin": True, "n": [1, 2]}).encode()),
    ("text", json.dumps({"type": "bye"})),
]


def kind(text):
    try:
        v = json.loads(text)
    except ValueError:
        return None, None
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number"), v


async def server_handler(ws, lg, tap):
    cport = ws.remote_address[1]
    tap.hook_websockets(ws, "server")
    n = 0
    try:
        async for msg in ws:
            n += 1
            if isinstance(msg, bytes):
                lg.info("%d: RECV-BINARY %s", cport, msg.hex())
                reply = json.dumps({"ack": n, "got": "binary", "len": len(msg)})
            else:
                lg.info("%d: RECV %s", cport, msg)
                k, v = kind(msg)
                if k is None:
                    if msg.lstrip().startswith(("{", "[")):
                        reply = json.dumps({"ack": n, "error": "invalid JSON", "prefix": msg[:10]})
                    else:
                        reply = "echo: " + msg   # non-JSON answer to non-JSON
                elif k == "object" and v.get("type") == "hello":
                    reply = json.dumps({"ack": n, "got": k, "welcome": v["user"]}, indent=2)   # multi-line
                elif k == "array":
                    reply = "  " + json.dumps({"ack": n, "got": k, "len": len(v)}) + "\n"   # whitespace around
                else:
                    reply = json.dumps({"ack": n, "got": k}, ensure_ascii=False)
            lg.info("%d: SEND %s", cport, reply)
            await ws.send(reply)
    except websockets.ConnectionClosed:
        pass


async def run(tap, srv_lg, cli_lg):
    results = []
    async with AppsCapture(NAME, [SERVER_PORT]):
        async with serve(lambda ws: server_handler(ws, srv_lg, tap), "127.0.0.1", SERVER_PORT):
            async with connect("ws://127.0.0.1:%d/json" % SERVER_PORT,
                               local_addr=("127.0.0.1", CLIENT_PORT)) as ws:
                tap.hook_websockets(ws, "client")
                ext = ws.response.headers.get("Sec-WebSocket-Extensions")
                for op, data in CLIENT_MESSAGES:
                    if op == "binary":
                        cli_lg.info("%d: SEND-BINARY %s", CLIENT_PORT, data.hex())
                    else:
                        cli_lg.info("%d: SEND %s", CLIENT_PORT, data)
                    await ws.send(data)
                    r = await ws.recv()
                    cli_lg.info("%d: RECV %s", CLIENT_PORT, r)
                    results.append(r)
            await asyncio.sleep(0.3)
    return results, ext


def entries(records, side):
    out = []
    for seq, _, msg in records:
        cport, _, rest = msg.partition(": ")
        if rest.startswith("SEND-BINARY "):
            data = bytes.fromhex(rest[len("SEND-BINARY "):])
            k, v = kind(data.decode())
            e = {"from": side, "proto": "json", "type": k, "id": None, "ws_opcode": "binary",
                 "value": v, "raw_hex": data.hex()}
        elif rest.startswith("SEND "):
            raw = rest[len("SEND "):]
            k, v = kind(raw)
            if k is not None:
                e = {"from": side, "proto": "json", "type": k, "id": None, "value": v}
            elif raw == HAND_BUILT:
                e = {"from": side, "proto": "json", "type": "invalid", "id": None, "hand_built": True,
                     "note": "HAND-BUILT bad application data: starts like a JSON object but does not parse "
                             "(json.loads raises); sent as an ordinary text message"}
            else:
                e = {"from": side, "proto": "text", "type": "text", "id": None}
            e["ws_opcode"] = "text"
            e["raw"] = raw
        else:
            continue
        e["seq"] = seq
        out.append(e)
    return out


def main():
    tap = FrameTap()
    srv_h, cli_h = ListHandler(), ListHandler()
    results, ext = asyncio.run(run(tap, logger("server", srv_h), logger("client", cli_h)))
    assert tap.order == [(CLIENT_PORT, SERVER_PORT)], tap.order
    msgs = entries(cli_h.records, "client") + entries(srv_h.records, "server")

    def match(m, op, payload):
        if m["ws_opcode"] == "binary":
            return op == 2 and payload.hex() == m["raw_hex"]
        return op == 1 and payload.decode() == m["raw"]
    appsfix.assign_indexes(msgs, tap, CLIENT_PORT, SERVER_PORT, match)
    msgs.sort(key=lambda m: m["seq"])
    reqs = []
    cl = [m for m in msgs if m["from"] == "client"]
    sv = [m for m in msgs if m["from"] == "server"]
    for a, b in zip(cl, sv):   # the server answers each message, in order
        reqs.append({"request": {k: a[k] for k in ("from", "type", "id", "ws_message_index")},
                     "response": {k: b[k] for k in ("from", "type", "id", "ws_message_index")}})
    for m in msgs:
        del m["seq"]
    conn = {"client_port": CLIENT_PORT, "server_port": SERVER_PORT, "subprotocol": None, "path": "/json",
            "extensions": ext,
            "messages": msgs, "requests": reqs,
            "requests_note": "no ids: the server answers every message with exactly one message, in order"}
    setup = {"versions": appsfix.versions("websockets"),
             "server": "websockets.asyncio.server.serve on 127.0.0.1:%d; answers each message (gen_json.py)" % SERVER_PORT,
             "client": "websockets.asyncio.client.connect(local_addr=('127.0.0.1', %d)); sends the list in "
                       "gen_json.py, waiting for each answer" % CLIENT_PORT,
             "hand_built": "client ws_message_index 8: the text %r, written on purpose (not produced by any "
                           "JSON encoder); everything else is real peer output" % HAND_BUILT,
             "types": "proto json: type object|array|string|number|boolean|null (the top-level JSON value, "
                      "'value' is it parsed) or invalid (hand_built); proto text: a text that is not JSON",
             "log_source": "each peer's 'SEND ' / 'SEND-BINARY ' log lines, checked against websockets' "
                           "Protocol.send_frame",
             "results": results}
    appsfix.write_log(NAME, setup, [conn], {"server": srv_h.lines, "client": cli_h.lines})
    n = {s: sum(1 for m in msgs if m["from"] == s) for s in ("client", "server")}
    print("  %d->%d messages %s" % (CLIENT_PORT, SERVER_PORT, n))


if __name__ == "__main__":
    main()
