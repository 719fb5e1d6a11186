"""graphql-transport-ws.pcap and graphql-ws-legacy.pcap: a strawberry-graphql ASGI app on
uvicorn (server) and the gql client (gql.transport.websockets.WebsocketsTransport, on the
websockets library), in one process, on lo.

Usage: gen_graphql.py transport-ws|legacy

transport-ws: server 20020, client 20120, subprotocol graphql-transport-ws (client pings
  every 0.4 s: ping/pong).
legacy:       server 20030, client 20130, subprotocol graphql-ws (subscriptions-transport-ws;
  the server sends "ka" keep-alives every 0.4 s).

Logs:
* client: gql's own logger (gql.transport.common.base at DEBUG: '>>> ' + each text it sent,
  '<<< ' + each text it received; gql.transport.websockets at DEBUG for the rest).
* server: an ASGI middleware around strawberry's app that logs every ASGI
  'websocket.send' text ('SEND ...') and 'websocket.receive' text ('RECV ...') with the
  client's port: strawberry itself does not log its messages.
What each side handed to its WebSocket layer (client: websockets' Protocol.send_frame;
server: the ASGI send) numbers the messages and must match the logs.
"""
import asyncio
import json
import logging
import sys
from typing import AsyncGenerator

import strawberry
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
import uvicorn
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport
from gql.transport.exceptions import TransportQueryError
from websockets.asyncio.client import ClientConnection

import appsfix
from appsfix import AppsCapture, ListHandler, FrameTap, logger, check_port, next_seq

MODE = sys.argv[1] if len(sys.argv) > 1 else "transport-ws"
if MODE == "transport-ws":
    NAME, SERVER_PORT, CLIENT_PORT = "graphql-transport-ws", check_port(20020), check_port(20120)
    SUBPROTO = GRAPHQL_TRANSPORT_WS_PROTOCOL
else:
    NAME, SERVER_PORT, CLIENT_PORT = "graphql-ws-legacy", check_port(20030), check_port(20130)
    SUBPROTO = GRAPHQL_WS_PROTOCOL

BOOKS = {1: "Dune", 2: "Solaris"}


@strawberry.type
class Book:
    id: int
    title: str


@strawberry.type
class Query:
    @strawberry.field
    def book(self, id: int) -> Book:
        return Book(id=id, title=BOOKS[id])

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("resolver failed on purpose")


@strawberry.type
class Mutation:
    @strawberry.mutation
    def add_book(self, title: str) -> Book:
        new_id = max(BOOKS) + 1
        BOOKS[new_id] = title
        return Book(id=new_id, title=title)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self, target: int = 3) -> AsyncGenerator[int, None]:
        for i in range(1, target + 1):
            yield i
            await asyncio.sleep(0.05)

    @strawberry.subscription
    async def failing(self) -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("subscription failed on purpose")

    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[str, None]:
        i = 0
        while True:
            i += 1
            yield "tick %d" % i
            await asyncio.sleep(0.2)


schema = strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)


class LoggingASGI:
    """ASGI middleware: the server's log of every WebSocket text it sends and receives
    (and the server-side FrameTap: the ASGI send is strawberry's WebSocket send)."""

    def __init__(self, app, lg, tap):
        self.app, self.lg, self.tap = app, lg, tap

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        cport = scope["client"][1]
        sport = scope["server"][1]
        self.lg.info("%d: websocket %s subprotocols %s", cport, scope["path"], scope.get("subprotocols"))

        async def rcv():
            ev = await receive()
            if ev["type"] == "websocket.receive":
                self.lg.info("%d: RECV %s", cport, ev.get("text") if ev.get("text") is not None
                             else "<binary %s>" % ev["bytes"].hex())
            else:
                self.lg.info("%d: %s %s", cport, ev["type"], {k: v for k, v in ev.items() if k != "type"})
            return ev

        async def snd(ev):
            if ev["type"] == "websocket.send":
                data = ev.get("text")
                self.lg.info("%d: SEND %s", cport, data if data is not None else "<binary>")
                self.tap.frame(cport, sport, "server", 1 if data is not None else 2, True,
                               data.encode() if data is not None else ev["bytes"])
            else:
                self.lg.info("%d: %s %s", cport, ev["type"], {k: v for k, v in ev.items() if k != "type"})
            return await send(ev)
        return await self.app(scope, rcv, snd)


def tapped_connection(tap):
    """websockets ClientConnection class whose data frames go to the tap (as sent)."""
    class Tapped(ClientConnection):
        def __init__(self, protocol, *a, **kw):
            super().__init__(protocol, *a, **kw)
            orig = protocol.send_frame
            conn = self

            def send_frame(frame):
                local = conn.transport.get_extra_info("sockname")[1]
                peer = conn.transport.get_extra_info("peername")[1]
                tap.frame(local, peer, "client", int(frame.opcode), frame.fin, frame.data)
                return orig(frame)
            protocol.send_frame = send_frame
    return Tapped


async def run(tap, srv_h, cli_h):
    app = LoggingASGI(GraphQL(schema, subscription_protocols=(SUBPROTO,),
                              keep_alive=(MODE == "legacy"), keep_alive_interval=0.4),
                      logger("server.asgi", srv_h), tap)
    config = uvicorn.Config(app, host="127.0.0.1", port=SERVER_PORT, ws="websockets-sansio",
                            log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    results = {}
    async with AppsCapture(NAME, [SERVER_PORT]):
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            transport = WebsocketsTransport(
                url="ws://127.0.0.1:%d/graphql" % SERVER_PORT,
                subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL if MODE == "transport-ws"
                              else WebsocketsTransport.APOLLO_SUBPROTOCOL],
                ping_interval=0.4 if MODE == "transport-ws" else None,
                connect_args={"local_addr": ("127.0.0.1", CLIENT_PORT),
                              "create_connection": tapped_connection(tap)})
            async with Client(transport=transport, fetch_schema_from_transport=False) as session:
                results["_extensions"] = transport.adapter.websocket.response.headers.get(
                    "Sec-WebSocket-Extensions")
                async def ex(name, text, **kw):
                    try:
                        results[name] = await session.execute(gql(text), operation_name=name, **kw)
                    except TransportQueryError as e:   # strawberry's graphql-ws allows only subscriptions
                        results[name] = {"TransportQueryError": {"errors": e.errors, "data": e.data}}

                await ex("GetBook", "query GetBook($id: Int!) { book(id: $id) { id title } }",
                         variable_values={"id": 1})
                await ex("AddBook", "mutation AddBook($title: String!) { addBook(title: $title) { id title } }",
                         variable_values={"title": "Neuromancer"})
                items = []
                async for r in session.subscribe(gql("subscription Count { count(target: 3) }"),
                                                 operation_name="Count"):
                    items.append(r)
                results["Count"] = items
                ticks = []
                gen = session.subscribe(gql("subscription Ticks { ticks }"), operation_name="Ticks")
                async for r in gen:
                    ticks.append(r)
                    if len(ticks) == 2:
                        break
                await gen.aclose()   # the client stops the subscription
                results["Ticks"] = ticks
                await asyncio.sleep(0.5)   # keep-alive / ping traffic
                await ex("Broken", "query Broken { broken }")
                await ex("Invalid", "query Invalid { nosuchfield }")
                try:
                    async for r in session.subscribe(gql("subscription Failing { failing }"),
                                                     operation_name="Failing"):
                        results.setdefault("Failing", []).append(r)
                except TransportQueryError as e:
                    results.setdefault("Failing", []).append({"TransportQueryError": {"errors": e.errors}})
            await asyncio.sleep(0.3)
        finally:
            server.should_exit = True
            await task
    return results


def entries(lines_records, side, prefix_send, cport=None):
    """Contract entries from the texts a side logged as sent."""
    out = []
    for seq, name, msg in lines_records:
        if side == "client":
            if not (name == "gql.transport.common.base" and msg.startswith(">>> ")):
                continue
            raw = msg[4:]
        else:
            p = "%d: SEND " % cport
            if not msg.startswith(p):
                continue
            raw = msg[len(p):]
        j = json.loads(raw)
        e = {"from": side, "proto": "graphql-ws", "type": j.get("type"), "id": j.get("id"),
             "seq": seq}
        payload = j.get("payload")
        if isinstance(payload, dict) and "operationName" in payload:
            e["operation_name"] = payload["operationName"]
        e["payload"] = payload
        e["raw"] = raw
        out.append(e)
    return out


def pair(msgs):
    """A subscribe/start with id X is answered by the other side's first next/data (or
    error) with id X, and ended by the complete with id X (from either side: the client's
    complete/stop for a subscription it stopped)."""
    reqs = []

    def ref(m):
        return {k: m[k] for k in ("from", "type", "id", "ws_message_index")}
    for m in msgs:
        if m["type"] in ("subscribe", "start"):
            first = next((r for r in msgs if r["from"] != m["from"] and r["id"] == m["id"]
                          and r["type"] in ("next", "data", "error")), None)
            done = next((r for r in msgs if r["id"] == m["id"] and r["type"] in ("complete", "stop")
                         and r is not m), None)
            reqs.append({"request": ref(m), "response": ref(first) if first else None,
                         "complete": ref(done) if done else None, "operation_name": m.get("operation_name")})
        if m["type"] in ("connection_init",):
            ack = next((r for r in msgs if r["type"] == "connection_ack"), None)
            reqs.append({"request": ref(m), "response": ref(ack)})
    # ping -> the next pong of the other side
    used = set()
    for m in msgs:
        if m["type"] == "ping":
            r = next((r for r in msgs if r["type"] == "pong" and r["from"] != m["from"] and id(r) not in used
                      and msgs.index(r) > msgs.index(m)), None)
            if r:
                used.add(id(r))
                reqs.append({"request": ref(m), "response": ref(r)})
    return reqs


def main():
    tap = FrameTap()
    srv_h, cli_h = ListHandler(), ListHandler()
    logger("gql", cli_h)
    logger("strawberry", srv_h)
    results = asyncio.run(run(tap, srv_h, cli_h))
    assert len(tap.order) == 1, tap.order
    cport, sport = tap.order[0]
    assert (cport, sport) == (CLIENT_PORT, SERVER_PORT), tap.order
    msgs = entries(cli_h.records, "client", ">>> ") + entries(srv_h.records, "server", None, cport)
    appsfix.assign_indexes(msgs, tap, cport, sport)
    # cross-check: every text the client logged as received ('<<< ') is a text the server sent
    got = [msg[4:] for _, n, msg in cli_h.records if n == "gql.transport.common.base" and msg.startswith("<<< ")]
    sent = [m["raw"] for m in msgs if m["from"] == "server"]
    assert got == sent[:len(got)], (got, sent)
    recv = [msg.split(": RECV ", 1)[1] for _, n, msg in srv_h.records if ": RECV " in msg]
    assert recv == [m["raw"] for m in msgs if m["from"] == "client"], recv
    msgs.sort(key=lambda m: m["seq"])
    for m in msgs:
        del m["seq"]
    conn = {"client_port": cport, "server_port": sport, "subprotocol": SUBPROTO, "path": "/graphql",
            "extensions": results.pop("_extensions"),
            "messages": msgs, "requests": pair(msgs)}
    if len(got) < len(sent):
        conn["server_sent_not_logged_by_client"] = len(sent) - len(got)
    setup = {"versions": appsfix.versions("strawberry-graphql", "graphql-core", "uvicorn", "starlette", "gql",
                                          "websockets"),
             "server": "strawberry.asgi.GraphQL(schema, subscription_protocols=(%r,), keep_alive=%s, "
                       "keep_alive_interval=0.4) behind a logging ASGI middleware, on uvicorn (ws='websockets-sansio') "
                       "127.0.0.1:%d" % (SUBPROTO, MODE == "legacy", SERVER_PORT),
             "client": "gql Client(WebsocketsTransport(url='ws://127.0.0.1:%d/graphql', subprotocols=[%r], "
                       "ping_interval=%s, connect_args={'local_addr': ('127.0.0.1', %d)})): query GetBook, "
                       "mutation AddBook, subscription Count (3 items then complete), subscription Ticks "
                       "(stopped by the client after 2 items), query Broken (resolver error), query Invalid "
                       "(validation error), subscription Failing (1 item, then its generator raises)" % (SERVER_PORT, SUBPROTO, 0.4 if MODE == "transport-ws" else None,
                                               CLIENT_PORT),
             "log_source": "client: gql's '>>> ' log lines (logger gql.transport.common.base, DEBUG); server: the "
                           "'SEND ' lines of the ASGI middleware (strawberry logs no messages); both checked equal "
                           "to what was handed to the WebSocket layer, and to the other side's received log",
             "results": results}
    appsfix.write_log(NAME, setup, [conn], {"server": srv_h.lines, "client": cli_h.lines})
    n = {s: sum(1 for m in msgs if m["from"] == s) for s in ("client", "server")}
    print("  %s %d->%d messages %s types %s" % (NAME, cport, sport, n,
                                                 sorted({(m["from"], m["type"]) for m in msgs})))


if __name__ == "__main__":
    main()
