// GraphQL over WebSocket, both subprotocols: types, ids, operation names (given or parsed from the
// query), and pairing: connection_init→ack, subscribe→first next and →complete, error. Hand-written.
import Testing
@testable import WSApp

@Test func graphqlTransportWS() {
    let s = AppSession(subprotocol: "graphql-transport-ws", path: "/graphql", decodeAs: nil)
    #expect(s.chosen == .graphqlWS)
    let i = feed(s, client: true, #"{"type":"connection_init","payload":{}}"#, packet: 1, time: 100)
    #expect(i[0].type == "connection_init" && i[0].subprotocol == "graphql-transport-ws" && i[0].info == "GraphQL connection_init")
    let a = feed(s, client: false, #"{"type":"connection_ack"}"#, packet: 2, time: 150)
    #expect(a[0].replyTo == AppReply(packet: 1, latency: 50))
    let sub = feed(s, client: true, #"{"id":"1","type":"subscribe","payload":{"query":"subscription OnMessage($c: ID!) { messages(c: $c) { text } }","variables":{"c":"x"}}}"#,
                   packet: 3, time: 1_000)
    #expect(sub[0].type == "subscribe" && sub[0].id == .string("1"))
    #expect(sub[0].string("operation_name") == "OnMessage" && sub[0].string("operation") == "subscription")
    #expect(sub[0].info == "GraphQL subscribe id=1 OnMessage")
    #expect(s.pendingRequests == 1)
    let n1 = feed(s, client: false, #"{"id":"1","type":"next","payload":{"data":{"messages":{"text":"hi"}}}}"#, packet: 4, time: 1_300)
    #expect(n1[0].type == "next" && n1[0].info == "GraphQL next id=1" && n1[0].replyTo == AppReply(packet: 3, latency: 300))
    #expect(s.pendingRequests == 0)
    let n2 = feed(s, client: false, #"{"id":"1","type":"next","payload":{"data":null}}"#, packet: 5, time: 1_400)
    #expect(n2[0].replyTo == nil)
    let done = feed(s, client: false, #"{"id":"1","type":"complete"}"#, packet: 6, time: 9_000)
    #expect(done[0].replyTo == AppReply(packet: 3, latency: 8_000))
    #expect(s.latencies.map(\.responseType) == ["connection_ack", "next", "complete"])
    #expect(s.latencies[1].key == "OnMessage" && s.latencies[2].requestType == "subscribe")
    // An error answers; operationName wins over the query's name; an anonymous query.
    feed(s, client: true, #"{"id":"2","type":"subscribe","payload":{"operationName":"Given","query":"query Other { a }"}}"#, packet: 7, time: 0)
    let err = feed(s, client: false, #"{"id":"2","type":"error","payload":[{"message":"bad field"}]}"#, packet: 8, time: 70)
    #expect(err[0].replyTo == AppReply(packet: 7, latency: 70) && err[0].info == "GraphQL error id=2 bad field")
    #expect(s.latencies.last?.key == "Given" && s.latencies.last?.responseType == "error")
    let anon = feed(s, client: true, ##"{"id":"3","type":"subscribe","payload":{"query":"# c\n{ a }"}}"##, packet: 9, time: 0)
    #expect(anon[0].string("operation") == "query" && anon[0].field("operation_name") == nil)
    // The client's complete cancels without a latency.
    feed(s, client: true, #"{"id":"3","type":"complete"}"#, packet: 10, time: 0)
    #expect(s.pendingRequests == 0 && s.latencies.count == 4)
    // Not a JSON object / malformed.
    #expect(feed(s, client: true, "[1]", packet: 11, time: 0)[0].type == "invalid")
    #expect(feed(s, client: true, "{\"type\":", packet: 12, time: 0)[0].type == "malformed")
}

@Test func graphqlLegacyWS() {
    let s = AppSession(subprotocol: "graphql-ws", path: "/subscriptions", decodeAs: nil)
    feed(s, client: true, #"{"type":"connection_init","payload":{}}"#, packet: 1, time: 0)
    let ka = feed(s, client: false, #"{"type":"ka"}"#, packet: 2, time: 5)
    #expect(ka[0].type == "ka" && ka[0].problem == nil && ka[0].subprotocol == "graphql-ws")
    let st = feed(s, client: true, #"{"id":"7","type":"start","payload":{"query":"mutation AddIt { add }"}}"#, packet: 3, time: 10)
    #expect(st[0].string("operation") == "mutation" && st[0].string("operation_name") == "AddIt")
    let d = feed(s, client: false, #"{"id":"7","type":"data","payload":{"data":{"add":1}}}"#, packet: 4, time: 25)
    #expect(d[0].replyTo == AppReply(packet: 3, latency: 15))
    let c = feed(s, client: false, #"{"id":"7","type":"complete"}"#, packet: 5, time: 40)
    #expect(c[0].replyTo == AppReply(packet: 3, latency: 30))
    #expect(s.latencies.last?.responseType == "complete")
    // A graphql-transport-ws type under graphql-ws is labelled.
    #expect(feed(s, client: false, #"{"id":"8","type":"next"}"#, packet: 6, time: 0)[0].problem != nil)
}

@Test func graphqlWithoutSubprotocol() {
    // --decode-as graphql and no subprotocol: the message types say which protocol.
    let s = AppSession(subprotocol: nil, path: "/", decodeAs: .graphqlWS)
    let i = feed(s, client: true, #"{"type":"connection_init"}"#, packet: 1, time: 0)
    #expect(i[0].subprotocol == nil && i[0].problem == nil)
    let st = feed(s, client: true, #"{"id":"1","type":"start","payload":{"query":"{ a }"}}"#, packet: 2, time: 0)
    #expect(st[0].subprotocol == "graphql-ws" && st[0].problem == nil)
    let n = feed(s, client: false, #"{"id":"1","type":"next"}"#, packet: 3, time: 0)
    #expect(n[0].subprotocol == "graphql-ws" && n[0].problem != nil)
}
