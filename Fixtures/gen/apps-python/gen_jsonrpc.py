"""jsonrpc-websockets.pcap: a JSON-RPC 2.0 server and client written here on the websockets
library (asyncio API), in one process, on lo.

Server 127.0.0.1:20040.  Connection 1: client port 20140, no subprotocol.  Connection 2:
client port 20141, subprotocol "jsonrpc" offered and accepted (one request).

Each peer logs every JSON text it hands to websockets' send ("SEND <text>") and every text
it receives ("RECV <text>"); websockets' Protocol.send_frame is hooked on both sides to check
the logs against the data messages really sent and to number them.

Client 1 sends: request id 1 (add), request id "abc-1" (echo, unicode), a notification
(log), two concurrent requests id 2 (slow, 300 ms) and id 3 (slow, 10 ms) - the server
answers 3 before 2 -, id 4 (no_such_method: error -32601), id 5 (divide by zero: error
-32602 with data), a batch of 3 (id 6, a notification, id "b-7") answered by a batch of 2,
id 8 eth_subscribe (result: a subscription id; then 3 eth_subscription notifications from
the server), id 9 eth_unsubscribe.
"""
import asyncio
import json
import sys

import websockets
from websockets.asyncio.server import serve
from websockets.asyncio.client import connect

import appsfix
from appsfix import AppsCapture, ListHandler, FrameTap, logger, check_port

NAME = "jsonrpc-websockets"
SERVER_PORT = check_port(20040)
CLIENT_PORTS = [check_port(20140), check_port(20141)]
SUB_ID = "0x9cef478923ff08bf67fde6c64013158d"


class Peer:
    """A JSON-RPC peer's send/receive with its log lines."""

    def __init__(self, ws, lg, cport):
        self.ws, self.lg, self.cport = ws, lg, cport

    async def send(self, obj):
        text = json.dumps(obj, ensure_ascii=False)
        self.lg.info("%d: SEND %s", self.cport, text)
        await self.ws.send(text)

    async def recv(self):
        text = await self.ws.recv()
        self.lg.info("%d: RECV %s", self.cport, text)
        return json.loads(text)


async def server_handler(ws, lg, tap):
    cport = ws.remote_address[1]
    tap.hook_websockets(ws, "server")
    lg.info("%d: connection, subprotocol %s", cport, ws.subprotocol)
    peer = Peer(ws, lg, cport)
    tasks = set()

    async def call(req):
        """The response object for one request (None for a notification)."""
        method, params, rid = req.get("method"), req.get("params"), req.get("id")
        is_notif = "id" not in req
        if method == "add":
            res = sum(params)
        elif method == "echo":
            res = params
        elif method == "slow":
            await asyncio.sleep(params["ms"] / 1000)
            res = {"tag": params["tag"], "slept_ms": params["ms"]}
        elif method == "divide":
            if params.get("b") == 0:
                return {"jsonrpc": "2.0", "id": rid,
                        "error": {"code": -32602, "message": "Invalid params",
                                  "data": {"param": "b", "reason": "must not be zero"}}}
            res = params["a"] / params["b"]
        elif method == "log":
            lg.info("%d: notification log %s", cport, json.dumps(params, ensure_ascii=False))
            return None
        elif method == "eth_subscribe":
            async def stream():
                await asyncio.sleep(0.05)
                for n in range(3):
                    await peer.send({"jsonrpc": "2.0", "method": "eth_subscription",
                                     "params": {"subscription": SUB_ID,
                                                "result": {"number": hex(0x1b4 + n), "hash": "0x%064x" % (n + 1)}}})
                    await asyncio.sleep(0.05)
            t = asyncio.create_task(stream())
            tasks.add(t)
            res = SUB_ID
        elif method == "eth_unsubscribe":
            res = params == [SUB_ID]
        else:
            if is_notif:
                return None
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
        if is_notif:
            return None
        return {"jsonrpc": "2.0", "id": rid, "result": res}

    async def handle(msg):
        if isinstance(msg, list):
            resps = [r for r in await asyncio.gather(*(call(m) for m in msg)) if r is not None]
            if resps:
                await peer.send(resps)
        else:
            r = await call(msg)
            if r is not None:
                await peer.send(r)

    try:
        while True:
            msg = await peer.recv()
            t = asyncio.create_task(handle(msg))   # requests are handled concurrently
            tasks.add(t)
    except websockets.ConnectionClosed:
        pass
    await asyncio.gather(*tasks, return_exceptions=True)


async def client1(lg, tap, results):
    async with connect("ws://127.0.0.1:%d/rpc" % SERVER_PORT, local_addr=("127.0.0.1", CLIENT_PORTS[0])) as ws:
        tap.hook_websockets(ws, "client")
        results["_ext %d" % CLIENT_PORTS[0]] = ws.response.headers.get("Sec-WebSocket-Extensions")
        p = Peer(ws, lg, CLIENT_PORTS[0])
        await p.send({"jsonrpc": "2.0", "id": 1, "method": "add", "params": [2, 3]})
        results["1"] = await p.recv()
        await p.send({"jsonrpc": "2.0", "id": "abc-1", "method": "echo", "params": {"text": "héllo wörld ✓"}})
        results["abc-1"] = await p.recv()
        await p.send({"jsonrpc": "2.0", "method": "log", "params": {"level": "info", "msg": "client started"}})
        # two concurrent requests; the server answers the second first
        await p.send({"jsonrpc": "2.0", "id": 2, "method": "slow", "params": {"ms": 300, "tag": "first"}})
        await p.send({"jsonrpc": "2.0", "id": 3, "method": "slow", "params": {"ms": 10, "tag": "second"}})
        results["out of order"] = [await p.recv(), await p.recv()]
        await p.send({"jsonrpc": "2.0", "id": 4, "method": "no_such_method", "params": []})
        results["4"] = await p.recv()
        await p.send({"jsonrpc": "2.0", "id": 5, "method": "divide", "params": {"a": 1, "b": 0}})
        results["5"] = await p.recv()
        await p.send([{"jsonrpc": "2.0", "id": 6, "method": "add", "params": [1, 1]},
                      {"jsonrpc": "2.0", "method": "log", "params": {"level": "debug", "msg": "in a batch"}},
                      {"jsonrpc": "2.0", "id": "b-7", "method": "echo", "params": ["x"]}])
        results["batch"] = await p.recv()
        await p.send({"jsonrpc": "2.0", "id": 8, "method": "eth_subscribe", "params": ["newHeads"]})
        results["8"] = await p.recv()
        results["notifications"] = [await p.recv() for _ in range(3)]
        await p.send({"jsonrpc": "2.0", "id": 9, "method": "eth_unsubscribe", "params": [SUB_ID]})
        results["9"] = await p.recv()


async def client2(lg, tap, results):
    async with connect("ws://127.0.0.1:%d/rpc" % SERVER_PORT, local_addr=("127.0.0.1", CLIENT_PORTS[1]),
                       subprotocols=["jsonrpc"]) as ws:
        tap.hook_websockets(ws, "client")
        results["_ext %d" % CLIENT_PORTS[1]] = ws.response.headers.get("Sec-WebSocket-Extensions")
        results["conn2 subprotocol"] = ws.subprotocol
        p = Peer(ws, lg, CLIENT_PORTS[1])
        await p.send({"jsonrpc": "2.0", "id": 1, "method": "add", "params": [40, 2]})
        results["conn2 1"] = await p.recv()


def select_subprotocol(conn, offered):
    """'jsonrpc' if the client offers it, else no subprotocol (websockets' default with
    subprotocols=[...] answers a client that offers none with HTTP 400)."""
    return "jsonrpc" if "jsonrpc" in offered else None


async def run(tap, srv_lg, cli_lg):
    results = {}
    async with AppsCapture(NAME, [SERVER_PORT]):
        async with serve(lambda ws: server_handler(ws, srv_lg, tap), "127.0.0.1", SERVER_PORT,
                         select_subprotocol=select_subprotocol):
            await client1(cli_lg, tap, results)
            await client2(cli_lg, tap, results)
            await asyncio.sleep(0.3)
    return results


def entries_of(records, side, cport):
    out = []
    p = "%d: SEND " % cport
    for seq, _, msg in records:
        if not msg.startswith(p):
            continue
        raw = msg[len(p):]
        j = json.loads(raw)
        members = j if isinstance(j, list) else [j]
        for i, m in enumerate(members):
            e = {"from": side, "proto": "jsonrpc"}
            if "method" in m:
                e["type"] = "request" if "id" in m else "notification"
            elif "error" in m:
                e["type"] = "error"
            else:
                e["type"] = "response"
            e["id"] = m.get("id")
            if "method" in m:
                e["method"] = m["method"]
                e["params"] = m.get("params")
            if "result" in m:
                e["result"] = m["result"]
            if "error" in m:
                e["error"] = m["error"]
            if isinstance(j, list):
                e["batch"] = True
                e["batch_index"] = i
                e["batch_size"] = len(members)
            e["raw"] = raw
            e["seq"] = seq
            out.append(e)
    return out


def pair(msgs):
    reqs = []

    def ref(m):
        return {k: m[k] for k in ("from", "type", "id", "ws_message_index")}
    for m in msgs:
        if m["type"] == "request":
            r = next((r for r in msgs if r["from"] != m["from"] and r["type"] in ("response", "error")
                      and r["id"] == m["id"] and type(r["id"]) is type(m["id"])), None)
            if r is None:
                raise RuntimeError("no response for %r" % m)
            reqs.append({"request": ref(m), "response": ref(r)})
    return reqs


def main():
    tap = FrameTap()
    srv_h, cli_h = ListHandler(), ListHandler()
    results = asyncio.run(run(tap, logger("server", srv_h), logger("client", cli_h)))
    conns = []
    for cport in CLIENT_PORTS:
        msgs = entries_of(cli_h.records, "client", cport) + entries_of(srv_h.records, "server", cport)

        # one WebSocket message may carry several entries (a batch): match per message
        def match(m, op, payload):
            return op == 1 and payload.decode() == m["raw"]
        grouped = []
        for m in msgs:
            if m.get("batch") and m["batch_index"] > 0:
                continue
            grouped.append(m)
        appsfix.assign_indexes(grouped, tap, cport, SERVER_PORT, match)
        last = None
        for m in msgs:
            if m.get("batch") and m["batch_index"] > 0:
                m["ws_message_index"] = last["ws_message_index"]
            else:
                last = m
        # cross-check with what the other side logged as received
        for side, other_h in (("client", srv_h), ("server", cli_h)):
            recv = [msg.split(": RECV ", 1)[1] for _, _, msg in other_h.records if msg.startswith("%d: RECV " % cport)]
            sent = [m["raw"] for m in grouped if m["from"] == side]
            assert recv == sent, (side, recv, sent)
        msgs.sort(key=lambda m: (m["seq"], m.get("batch_index", 0)))
        for m in msgs:
            del m["seq"]
        conns.append({"client_port": cport, "server_port": SERVER_PORT,
                      "subprotocol": "jsonrpc" if cport == CLIENT_PORTS[1] else None, "path": "/rpc",
                      "extensions": results.pop("_ext %d" % cport),
                      "messages": msgs, "requests": pair(msgs)})
    setup = {"versions": appsfix.versions("websockets"),
             "server": "websockets.asyncio.server.serve on 127.0.0.1:%d, select_subprotocol: 'jsonrpc' if offered, "
                       "else none; a JSON-RPC 2.0 dispatcher written in gen_jsonrpc.py that handles "
                       "each received message in its own task (so responses can leave out of order) and answers "
                       "a batch with one array" % SERVER_PORT,
             "client": "websockets.asyncio.client.connect(local_addr=('127.0.0.1', port)): connection 1 port %d "
                       "without subprotocol, connection 2 port %d with subprotocols=['jsonrpc']" % tuple(CLIENT_PORTS),
             "log_source": "each peer's 'SEND ' log lines (the JSON text it passes to websockets' send); a batch "
                           "is one WebSocket message and one log line, listed as one entry per member (batch: true, "
                           "batch_index, the same ws_message_index and raw); checked against websockets' "
                           "Protocol.send_frame and the other peer's 'RECV ' lines",
             "results": results}
    appsfix.write_log(NAME, setup, conns, {"server": srv_h.lines, "client": cli_h.lines})
    for c in conns:
        n = {s: sum(1 for m in c["messages"] if m["from"] == s) for s in ("client", "server")}
        w = {s: len(tap.data(c["client_port"], SERVER_PORT, s)) for s in ("client", "server")}
        print("  %d->%d entries %s ws messages %s requests %d" % (c["client_port"], SERVER_PORT, n, w,
                                                                  len(c["requests"])))


if __name__ == "__main__":
    main()
