"""socketio-websocket.pcap and socketio-polling-upgrade.pcap: python-socketio AsyncServer
(aiohttp web server) and socketio.AsyncClient (aiohttp client) in one process, on lo.

Usage: gen_socketio.py websocket|polling

websocket (server 20000):
  client A 20100 transports=['websocket'], namespaces '/' and '/chat'
  client B 20101 transports=['websocket'], namespace '/chat' (receives the broadcast)
  client C 20102 transports=['websocket'], namespace '/private' (refused: CONNECT_ERROR)
polling (server 20010): client D with default transports; its aiohttp connector binds each
  new TCP connection to the next port of 20110..20119 (long-polling GETs/POSTs, then the
  WebSocket upgrade).

Every Engine.IO / Socket.IO packet is taken from the peers' own loggers
(logger=True-style: socketio and engineio loggers of server and of each client, captured
with a logging handler); the encoded text each peer handed to aiohttp's WebSocket writer
(FrameTap) numbers them (ws_message_index) and must match the log.
"""
import ast
import asyncio
import json
import os
import re
import sys

import aiohttp
from aiohttp import web
import socketio
from socketio import packet as sio_packet
from engineio import packet as eio_packet

import appsfix
from appsfix import AppsCapture, ListHandler, FrameTap, logger, check_port

MODE = sys.argv[1] if len(sys.argv) > 1 else "websocket"
SERVER_PORT = check_port(20000 if MODE == "websocket" else 20010)

EIO_TYPES = {0: "OPEN", 1: "CLOSE", 2: "PING", 3: "PONG", 4: "MESSAGE", 5: "UPGRADE", 6: "NOOP"}
SIO_TYPES = {0: "CONNECT", 1: "DISCONNECT", 2: "EVENT", 3: "ACK", 4: "CONNECT_ERROR",
             5: "BINARY_EVENT", 6: "BINARY_ACK"}


class PortPoolConnector(aiohttp.TCPConnector):
    """TCPConnector that binds each new TCP connection to the next port of a list."""

    def __init__(self, ports, **kw):
        super().__init__(**kw)
        self._ports = list(ports)
        self.used = []

    async def _wrap_create_connection(self, *args, **kwargs):
        import aiohappyeyeballs
        port = self._ports.pop(0)
        self.used.append(port)
        self._local_addr_infos = aiohappyeyeballs.addr_to_addr_infos(("127.0.0.1", port))
        return await super()._wrap_create_connection(*args, **kwargs)


def make_server(srv_handler):
    sio = socketio.AsyncServer(async_mode="aiohttp",
                               logger=logger("server.socketio", srv_handler),
                               engineio_logger=logger("server.engineio", srv_handler),
                               ping_interval=1, ping_timeout=5)

    @sio.event
    async def connect(sid, environ, auth):
        pass

    @sio.event
    async def add(sid, data):
        return data["a"] + data["b"]

    @sio.event
    async def multi(sid, obj, lst, num, text, nothing):
        return {"got": [type(x).__name__ for x in (obj, lst, num, text, nothing)]}, len(lst)

    @sio.event
    async def start(sid):
        # server -> client event with an ack from the client
        answer = await sio.call("question", {"q": "are you there?"}, to=sid, timeout=5)
        return "client answered " + answer

    @sio.event
    async def upload(sid, blob, meta):
        # BINARY_EVENT in; BINARY_ACK out
        return {"size": len(blob) + len(meta["data"]), "echo": blob[:4]}

    @sio.on("chat message", namespace="/chat")
    async def chat_message(sid, text):
        await sio.emit("chat message", {"text": text, "n": 1}, namespace="/chat")  # broadcast

    @sio.on("connect", namespace="/chat")
    async def chat_connect(sid, environ, auth):
        pass

    @sio.on("connect", namespace="/private")
    async def private_connect(sid, environ, auth):
        raise socketio.exceptions.ConnectionRefusedError("authentication failed", {"code": 403})

    return sio


def new_client(name, handler, connector):
    session = aiohttp.ClientSession(connector=connector)
    c = socketio.AsyncClient(logger=logger(name + ".socketio", handler),
                             engineio_logger=logger(name + ".engineio", handler),
                             http_session=session, timestamp_requests=False, reconnection=False)
    return c, session


SEND_RE = re.compile(r"^(?:(?P<sid>[\w-]+): )?Sending packet (?P<type>[A-Z]+) data (?P<data>.*)$", re.S)


def eio_sends(records, sid=None):
    """(type, data) of every 'Sending packet' line of an engineio logger (server: with sid)."""
    out = []
    for t, name, msg in records:
        if not name.endswith(".engineio"):
            continue
        m = SEND_RE.match(msg)
        if not m:
            continue
        if sid is not None and m.group("sid") != sid:
            continue
        out.append({"seq": t, "type": m.group("type"), "data": m.group("data"), "line": msg})
    return out


def entries_from_sends(sends, side):
    """Log entries (contract format, without ws_message_index) from engineio send lines.
    Binary attachments (logged as '<binary>') are numbered after their BINARY_* header."""
    out = []
    pending_att = 0
    att_num = 0
    for s in sends:
        typ, data = s["type"], s["data"]
        if typ == "MESSAGE" and data == "<binary>":
            assert pending_att > 0, s
            out.append({"from": side, "proto": "socket.io", "type": "attachment", "num": att_num,
                        "id": None, "logged": s["line"], "seq": s["seq"]})
            att_num += 1
            pending_att -= 1
            continue
        if typ == "MESSAGE":
            p = sio_packet.Packet(encoded_packet=data)
            e = {"from": side, "proto": "socket.io", "type": SIO_TYPES[p.packet_type], "id": p.id,
                 "namespace": p.namespace or "/"}
            if p.packet_type in (2, 5):
                e["event"] = p.data[0]
                e["args"] = p.data[1:]
            elif p.packet_type in (3, 6):
                e["args"] = p.data
            elif p.packet_type in (0, 4):
                e["data"] = p.data
            if p.packet_type in (5, 6):
                e["attachments"] = p.attachment_count
                pending_att = p.attachment_count
                att_num = 0
            e["raw"] = "4" + data
            e["logged"] = s["line"]
            e["seq"] = s["seq"]
            out.append(e)
        else:
            code = [k for k, v in EIO_TYPES.items() if v == typ][0]
            e = {"from": side, "proto": "engine.io", "type": typ, "id": None}
            if data not in ("None", ""):
                e["data"] = data
            e["logged"] = s["line"]
            e["raw"] = None   # filled from the frame tap (OPEN's data is logged as a Python dict)
            e["_code"] = code
            e["seq"] = s["seq"]
            out.append(e)
    return out


def match_entry(m, op, payload):
    """Does WebSocket message (op, payload) carry log entry m?  Fills raw where the log
    shows it only in Python repr (OPEN) and raw_hex for attachments."""
    if m["type"] == "attachment":
        if op != 2:
            return False
        m["raw_hex"] = payload.hex()
        m["size"] = len(payload)
        return True
    if op != 1:
        return False
    text = payload.decode()
    if m["proto"] == "engine.io":
        if not text or text[0] != str(m["_code"]):
            return False
        if m["type"] == "OPEN":
            m["data"] = json.loads(text[1:])
        m["raw"] = text
        return True
    return text == m["raw"]


def unlogged_entry(side, op, payload):
    """An Engine.IO packet that engineio sends straight to the WebSocket without logging it
    (the upgrade probe 2probe/3probe/5, the client's OPEN reply...): taken from the frame tap."""
    text = payload.decode()
    code = int(text[0])
    e = {"from": side, "proto": "engine.io", "type": EIO_TYPES[code], "id": None}
    if len(text) > 1:
        e["data"] = text[1:]
    e["raw"] = text
    e["logged"] = None
    e["source"] = ("not in the peer's log: engineio writes the upgrade probe straight to the WebSocket, "
                   "and the server's NOOP that ends a pending poll is queued without a log line; "
                   "taken from the text the peer handed to aiohttp's WebSocket writer")
    return e


def build_conn(side_entries, tap, cport, sport, path):
    """side_entries: {"client": [...], "server": [...]} in each side's log order (only packets
    meant for this WebSocket).  Unlogged WebSocket messages (upgrade probe) are inserted from
    the tap.  Entries a peer logged as sent after the last WebSocket message it wrote (the
    client's disconnect: the WebSocket is closed before its write loop sent them) go to
    "logged_not_sent".  Returns the connection dict."""
    msgs, unsent = [], []
    for side in ("client", "server"):
        frames = tap.data(cport, sport, side)
        ents = list(side_entries[side])
        out = []
        i = 0
        for op, payload in frames:
            if i < len(ents) and match_entry(ents[i], op, payload):
                ents[i]["ws_message_index"] = len(out)
                out.append(ents[i])
                i += 1
            elif op == 1 and payload.decode() in ("2probe", "3probe", "5", "6"):
                e = unlogged_entry(side, op, payload)
                e["ws_message_index"] = len(out)
                e["seq"] = (out[-1]["seq"] + 0.5) if out else 0
                out.append(e)
            else:
                raise RuntimeError("%s %d->%d: WebSocket message %r not in the log (next log entry %r)" %
                                   (side, cport, sport, payload[:100], ents[i] if i < len(ents) else None))
        if i != len(ents):
            if not tap.conns[(cport, sport)]["control"][side]:
                raise RuntimeError("%s %d->%d: logged but not sent: %r" % (side, cport, sport, ents[i:]))
            for e in ents[i:]:
                e["ws_message_index"] = None
                e.pop("_code", None)
                unsent.append(e)
        msgs.extend(out)
    for m in msgs:
        m.pop("_code", None)
    # one list, both sides interleaved in the order the peers logged (each side's own order kept)
    msgs.sort(key=lambda m: m["seq"])
    for m in msgs + unsent:
        m.pop("seq", None)
    c = {"client_port": cport, "server_port": sport, "subprotocol": None, "path": path,
         "extensions": None, "messages": msgs}
    if unsent:
        c["logged_not_sent"] = unsent
        failed = tap.conns[(cport, sport)].get("failed", {})
        c["logged_not_sent_note"] = ("logged by the peer's engineio logger as 'Sending packet' but never on the "
                                     "wire: AsyncClient.disconnect() queues them and starts closing the "
                                     "WebSocket; the write loop's send of the first of them was refused by "
                                     "aiohttp ('Cannot write to closing transport': %d refused) and the loop "
                                     "stopped ('Write loop: WebSocket connection was closed, aborting'); the "
                                     "server logged no 'Received packet' for them"
                                     % sum(len(v) for v in failed.values()))
    return c


def pair_requests(conn):
    """Socket.IO: an EVENT/BINARY_EVENT with an id is answered by the ACK/BINARY_ACK with the
    same id and namespace from the other side.  Engine.IO: a PING is answered by the other
    side's next PONG (with the same data: '2probe' -> '3probe')."""
    reqs = []
    ms = conn["messages"]

    def ref(m):
        return {k: m[k] for k in ("from", "type", "id", "ws_message_index")}
    used = set()
    for m in ms:
        if m["proto"] == "socket.io" and m["type"] in ("EVENT", "BINARY_EVENT") and m["id"] is not None:
            for r in ms:
                if r["proto"] == "socket.io" and r["type"] in ("ACK", "BINARY_ACK") and r["from"] != m["from"] \
                        and r["id"] == m["id"] and r["namespace"] == m["namespace"] and id(r) not in used:
                    reqs.append({"request": ref(m), "response": ref(r)})
                    used.add(id(r))
                    break
            else:
                raise RuntimeError("no ack for %r" % m)
        if m["proto"] == "engine.io" and m["type"] == "PING":
            for r in ms:
                if r["proto"] == "engine.io" and r["type"] == "PONG" and r["from"] != m["from"] \
                        and r.get("data") == m.get("data") and id(r) not in used:
                    reqs.append({"request": ref(m), "response": ref(r)})
                    used.add(id(r))
                    break
    return reqs


async def run_websocket(cap_name):
    tap = FrameTap()
    tap.patch_aiohttp({SERVER_PORT})
    srv_h, ha, hb, hc = ListHandler(), ListHandler(), ListHandler(), ListHandler()
    sio = make_server(srv_h)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", SERVER_PORT)
    url = "http://127.0.0.1:%d" % SERVER_PORT
    PA, PB, PC = check_port(20100), check_port(20101), check_port(20102)
    events = {}
    async with AppsCapture(cap_name, [SERVER_PORT]):
        await site.start()
        try:
            b, sb = new_client("clientB", hb, aiohttp.TCPConnector(local_addr=("127.0.0.1", PB)))
            got_b = asyncio.Event()

            @b.on("chat message", namespace="/chat")
            async def b_chat(data):
                events["B chat message"] = data
                got_b.set()

            await b.connect(url, transports=["websocket"], namespaces=["/chat"])

            a, sa = new_client("clientA", ha, aiohttp.TCPConnector(local_addr=("127.0.0.1", PA)))
            got_a = asyncio.Event()

            @a.event
            async def question(data):
                return "yes"

            @a.on("chat message", namespace="/chat")
            async def a_chat(data):
                events["A chat message"] = data
                got_a.set()

            await a.connect(url, transports=["websocket"], namespaces=["/", "/chat"])
            events["add"] = await a.call("add", {"a": 2, "b": 3})
            events["multi"] = await a.call("multi", ({"k": "v", "nested": {"x": [1, 2.5, True]}},
                                                     [1, "two", None], 42, "text", None))
            events["start"] = await a.call("start")
            events["upload"] = await a.call("upload", (b"\x00\x01\x02\x03binary\xff",
                                                       {"name": "blob.bin", "data": b"\xfe\xed"}))
            await a.emit("chat message", "hi", namespace="/chat")
            await asyncio.wait_for(got_a.wait(), 5)
            await asyncio.wait_for(got_b.wait(), 5)
            await asyncio.sleep(1.4)   # one Engine.IO PING/PONG (ping_interval=1)

            c, sc = new_client("clientC", hc, aiohttp.TCPConnector(local_addr=("127.0.0.1", PC)))

            @c.event(namespace="/private")
            async def connect_error(data):
                events["C connect_error"] = data
            try:
                await c.connect(url, transports=["websocket"], namespaces=["/private"])
                raise RuntimeError("/private accepted the connection")
            except socketio.exceptions.ConnectionError as e:
                events["C ConnectionError"] = str(e)

            # the server ends client B's /chat session (a DISCONNECT packet from the server); B, left
            # without namespaces, closes its Engine.IO connection
            b_gone = asyncio.Event()

            @b.event(namespace="/chat")
            async def disconnect(reason=None):
                events["B disconnect reason"] = str(reason)
                b_gone.set()
            await sio.disconnect(b.get_sid("/chat"), namespace="/chat")
            await asyncio.wait_for(b_gone.wait(), 5)
            await asyncio.sleep(0.3)
            await a.disconnect()   # client-side disconnect
            for _ in range(50):
                if not b.connected and b.eio.state == "disconnected":
                    break
                await asyncio.sleep(0.05)
            if b.eio.state != "disconnected":
                await b.disconnect()
            await asyncio.sleep(0.5)
            for s in (sa, sb, sc):
                await s.close()
            await asyncio.sleep(0.3)
        finally:
            await runner.cleanup()
    return tap, srv_h, {"clientA": (ha, PA), "clientB": (hb, PB), "clientC": (hc, PC)}, events


def ws_path(records, sid=None):
    """The request target of the WebSocket handshake, from the client's engineio log line
    'Attempting WebSocket connection to URL' (an upgrade: 'Attempting WebSocket upgrade to
    URL', to which engineio appends '&sid=' + the session id)."""
    from urllib.parse import urlsplit
    for _, _, msg in records:
        for pre in ("Attempting WebSocket connection to ", "Attempting WebSocket upgrade to "):
            if msg.startswith(pre):
                u = urlsplit(msg[len(pre):])
                path = u.path + "?" + u.query
                return path + ("&sid=" + sid if pre.endswith("upgrade to ") else "")
    raise RuntimeError("no WebSocket URL in the client log")


def server_sid_for(tap, cport, sport, srv_records):
    """The engineio sid of connection (cport, sport): from the OPEN packet the server sent."""
    first = tap.data(cport, sport, "server")[0][1].decode()
    assert first[0] == "0", first
    return json.loads(first[1:])["sid"]


def main_websocket():
    name = "socketio-websocket"
    tap, srv_h, clients, events = asyncio.run(run_websocket(name))
    conns = []
    for cname, (h, cport) in clients.items():
        sid = server_sid_for(tap, cport, SERVER_PORT, srv_h.records)
        sends = {"client": entries_from_sends(eio_sends(h.records), "client"),
                 "server": entries_from_sends(eio_sends(srv_h.records, sid), "server")}
        c = build_conn(sends, tap, cport, SERVER_PORT, ws_path(h.records))
        c["client"] = cname
        c["engineio_sid"] = sid
        c["requests"] = pair_requests(c)
        conns.append(c)
    setup = {"versions": appsfix.versions("python-socketio", "python-engineio", "aiohttp"),
             "server": "socketio.AsyncServer(async_mode='aiohttp', logger=..., engineio_logger=..., "
                       "ping_interval=1, ping_timeout=5) attached to an aiohttp web.Application on "
                       "127.0.0.1:%d; namespaces '/', '/chat', '/private' (its connect handler raises "
                       "ConnectionRefusedError('authentication failed', {'code': 403}))" % SERVER_PORT,
             "client": "socketio.AsyncClient(logger=..., engineio_logger=..., http_session=aiohttp.ClientSession("
                       "connector=TCPConnector(local_addr=(127.0.0.1, port))), timestamp_requests=False, "
                       "reconnection=False), connect(transports=['websocket'])",
             "clients": {"clientA": "port 20100, namespaces '/' and '/chat': calls add, multi (5 args), start "
                                    "(server calls back 'question' with an ack), upload (2 binary attachments, "
                                    "binary ack), emits 'chat message' on /chat (server broadcasts to /chat)",
                         "clientB": "port 20101, namespace '/chat' only: receives the broadcast, then the server "
                                    "disconnects it from /chat (sio.disconnect(sid, namespace='/chat'))",
                         "clientC": "port 20102, namespace '/private' only: CONNECT_ERROR, then the client "
                                    "disconnects"},
             "log_source": "each side's 'messages' are the 'Sending packet TYPE data ...' lines of its own "
                           "engineio logger (the Socket.IO packet text is the data of a MESSAGE); 'raw' is the "
                           "Engine.IO-encoded text (engineio's type digit + the logged data), checked equal to "
                           "the text the peer handed to aiohttp's WebSocket writer; OPEN is logged as a Python "
                           "dict, its raw/data are that text; binary attachments are logged as '<binary>', "
                           "raw_hex is what was handed to the writer",
             "results": events}
    # one "client" list: the three clients' lines in the order they were logged (their logger
    # names, clientA.* / clientB.* / clientC.*, tell them apart)
    merged = sorted((seq, line) for h, _ in clients.values() for (seq, _, _), line in zip(h.records, h.lines))
    peer_logs = {"server": srv_h.lines, "client": [line for _, line in merged]}
    appsfix.write_log(name, setup, conns, peer_logs)
    for c in conns:
        n = {s: sum(1 for m in c["messages"] if m["from"] == s) for s in ("client", "server")}
        print("  %s %d->%d messages %s requests %d" % (c["client"], c["client_port"], c["server_port"], n,
                                                        len(c["requests"])))


async def run_polling(cap_name):
    tap = FrameTap()
    tap.patch_aiohttp({SERVER_PORT})
    srv_h, hd = ListHandler(), ListHandler()
    sio = make_server(srv_h)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", SERVER_PORT)
    url = "http://127.0.0.1:%d" % SERVER_PORT
    pool = [check_port(p) for p in range(20110, 20120)]
    connector = PortPoolConnector(pool)
    events = {}
    async with AppsCapture(cap_name, [SERVER_PORT]):
        await site.start()
        try:
            d, sd = new_client("clientD", hd, connector)
            await d.connect(url, namespaces=["/"])
            for _ in range(50):
                if d.transport() == "websocket":
                    break
                await asyncio.sleep(0.05)
            events["transport after connect"] = d.transport()
            events["add 1"] = await d.call("add", {"a": 1, "b": 2})
            events["add 2"] = await d.call("add", {"a": 40, "b": 2})
            await d.disconnect()
            await asyncio.sleep(0.5)
            await sd.close()
            await asyncio.sleep(0.3)
        finally:
            await runner.cleanup()
    return tap, srv_h, hd, connector.used, events


def split_polling(entries, tap, cport, sport, side):
    """The entries of one side that went over the WebSocket are a suffix of its log: the
    smallest k for which entries[k:] matches what the side handed to the WebSocket writer."""
    for k in range(len(entries) + 1):
        try:
            trial = [dict(e) for e in entries[k:]]
            other = "server" if side == "client" else "client"
            build_conn({side: trial, other: []}, _OneSideTap(tap, cport, sport, side), cport, sport, "")
            return entries[:k], entries[k:]
        except RuntimeError:
            continue
    raise RuntimeError("no split of the %s log matches its WebSocket messages" % side)


class _OneSideTap:
    def __init__(self, tap, cport, sport, side):
        self.tap, self.side = tap, side
        c = tap.conns[(cport, sport)]
        self.conns = {(cport, sport): {"client": [], "server": [], "control": {"client": [], "server": []}}}
        self.conns[(cport, sport)][side] = c[side]
        self.conns[(cport, sport)]["control"][side] = c["control"][side]

    def data(self, cport, sport, side):
        return self.conns[(cport, sport)][side]


def main_polling():
    name = "socketio-polling-upgrade"
    tap, srv_h, hd, used, events = asyncio.run(run_polling(name))
    assert len(tap.order) == 1, tap.order
    cport, sport = tap.order[0]
    sid = server_sid_for_polling(srv_h.records)
    cl = entries_from_sends(eio_sends(hd.records), "client")
    sv = entries_from_sends(eio_sends(srv_h.records, sid), "server")
    cl_poll, cl_ws = split_polling(cl, tap, cport, sport, "client")
    sv_poll, sv_ws = split_polling(sv, tap, cport, sport, "server")
    c = build_conn({"client": cl_ws, "server": sv_ws}, tap, cport, sport, ws_path(hd.records, sid))
    c["client"] = "clientD"
    c["engineio_sid"] = sid
    c["requests"] = pair_requests(c)
    polling = []
    for e in sorted(cl_poll + sv_poll, key=lambda e: e["seq"]):
        e.pop("seq", None)
        e.pop("_code", None)
        e["ws_message_index"] = None
        e["transport"] = "polling"
        if e["proto"] == "engine.io" and e["type"] == "OPEN":
            e["data"] = ast.literal_eval(e["logged"].split(" data ", 1)[1])   # logged as a Python dict
            e["raw"] = eio_packet.Packet(eio_packet.OPEN, e["data"]).encode()
            e["raw_source"] = "engineio's packet.Packet(OPEN, data).encode() of the logged data (the HTTP body)"
        polling.append(e)
    setup = {"versions": appsfix.versions("python-socketio", "python-engineio", "aiohttp"),
             "server": "socketio.AsyncServer(async_mode='aiohttp', logger=..., engineio_logger=..., "
                       "ping_interval=1, ping_timeout=5) attached to an aiohttp web.Application on "
                       "127.0.0.1:%d" % SERVER_PORT,
             "client": "socketio.AsyncClient(logger=..., engineio_logger=..., http_session=aiohttp.ClientSession("
                       "connector=a TCPConnector that binds each new TCP connection to the next port of "
                       "20110..20119), timestamp_requests=False, reconnection=False), connect() with the default "
                       "transports (polling, then the websocket upgrade); then call('add') twice over the "
                       "WebSocket and disconnect()",
             "client_ports_used": used,
             "log_source": "as socketio-websocket.json; the upgrade probe 2probe/3probe and the UPGRADE packet '5' "
                           "are not in engineio's log (it writes them straight to the WebSocket): those entries "
                           "have logged null and come from the text handed to aiohttp's WebSocket writer",
             "results": events}
    polling_conns = [{"client_port": p, "server_port": SERVER_PORT, "transport": "http long-polling"}
                     for p in used if p != cport]
    if cport in used:
        c["http_before_upgrade"] = ("this TCP connection first carried the Engine.IO polling handshake "
                                    "(GET /socket.io/?transport=polling&EIO=4 -> the OPEN packet), then aiohttp "
                                    "reused it (keep-alive) for the WebSocket upgrade request")
    appsfix.write_log(name, setup, [c], {"server": srv_h.lines, "client": hd.lines},
                      polling_connections=polling_conns,
                      polling_messages=polling,
                      polling_note="Engine.IO packets the peers logged that went in HTTP long-polling bodies "
                                   "(not WebSocket messages), in the order the peers logged them; their TCP "
                                   "connections are listed in polling_connections")
    n = {s: sum(1 for m in c["messages"] if m["from"] == s) for s in ("client", "server")}
    print("  clientD %d->%d messages %s requests %d; polling: %d packets on ports %s" %
          (cport, sport, n, len(c["requests"]), len(polling), [p["client_port"] for p in polling_conns]))


def server_sid_for_polling(records):
    for _, name, msg in records:
        m = re.match(r"^([\w-]+): Sending packet OPEN", msg)
        if m:
            return m.group(1)
    raise RuntimeError("no OPEN in the server log")


if __name__ == "__main__":
    if MODE == "websocket":
        main_websocket()
    else:
        main_polling()
