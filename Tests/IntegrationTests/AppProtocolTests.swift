import Foundation
import Testing

/// The application messages wstrace decodes in the real peers' captures (Fixtures/apps) equal
/// what the peers logged (types, ids, topics, events, methods, lengths), message by message;
/// every request/response pair the peers' logic defines is paired, and its latency is the
/// difference of the two packets' capture timestamps as tshark reads them.
@Suite struct AppProtocolTests {
    static let fixtures = ["socketio-websocket", "socketio-polling-upgrade", "graphql-transport-ws", "graphql-ws-legacy",
                           "jsonrpc-websockets", "json-other", "mqtt-v311", "mqtt-v5", "mqtt-split", "mqtt-rabbitmq",
                           "stomp-rabbitmq"]

    /// One WebSocket data message as wstrace reports it: its packet and its app entries.
    struct Message {
        var packet: Int
        var app: [[String: Any]]
    }

    /// Per connection (client port) and side, the data messages in order.
    static func messages(_ path: String) throws -> [Int: [String: [Message]]] {
        let r = try Tools.wstrace(["read", path, "--format", "ndjson", "--threads", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        var out: [Int: [String: [Message]]] = [:]
        for line in r.text.split(separator: "\n") {
            guard let e = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  e["type"] as? String == "event", e["message"] != nil,
                  let src = e["src"] as? String, let dst = e["dst"] as? String,
                  let direction = e["direction"] as? String else { continue }
            let fromClient = direction == "client-to-server"
            let clientPort = Int((fromClient ? src : dst).split(separator: ":").last!)!
            let side = fromClient ? "client" : "server"
            out[clientPort, default: [:]][side, default: []].append(
                Message(packet: e["packet"] as! Int, app: e["app"] as? [[String: Any]] ?? []))
        }
        return out
    }

    static func tsharkTimes(_ tshark: URL, _ path: String) throws -> [Int: Double] {
        let r = try Tools.run(tshark, ["-r", path, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch"])
        var times: [Int: Double] = [:]
        for line in r.text.split(separator: "\n") {
            let f = line.split(separator: "\t")
            if f.count == 2, let n = Int(f[0]), let t = Double(f[1]) { times[n] = t }
        }
        return times
    }

    /// "3" and 3 and nil/NSNull compare as the peers logged them.
    static func same(_ a: Any?, _ b: Any?) -> Bool {
        func norm(_ v: Any?) -> String? {
            guard let v, !(v is NSNull) else { return nil }
            if let n = v as? NSNumber {
                let s = n.stringValue
                return s == "true" ? "1" : (s == "false" ? "0" : s)
            }
            if let s = v as? String { return "s:" + s }
            return "\(v)"
        }
        return norm(a) == norm(b)
    }

    /// The log's name for the message's type, as wstrace's `proto`/`type` spell it.
    static func expectedKind(_ m: [String: Any]) -> (proto: String, type: String)? {
        let proto = m["proto"] as? String ?? ""
        let type = m["type"] as? String ?? ""
        switch (proto, type) {
        case ("text", _): return nil  // not JSON: no application data
        case ("json", "invalid"): return ("json", "malformed")
        default: return (proto, type)
        }
    }

    /// Fields compared when both the log and wstrace have them.
    static let compared = ["namespace", "event", "topic", "qos", "retain", "payload_length", "method", "operation_name",
                           "num", "body_length", "command"]

    @Test(arguments: fixtures)
    func messagesAsThePeersLogged(_ name: String) throws {
        let path = Tools.fixtures.appendingPathComponent("apps/\(name).pcap").path
        let log = try Tools.json(try Data(contentsOf: Tools.fixtures.appendingPathComponent("logs/\(name).json")))
        let ours = try Self.messages(path)
        let connections = try #require(log["connections"] as? [[String: Any]])
        var checked = 0
        for c in connections {
            let port = try #require(c["client_port"] as? Int)
            let sides = try #require(ours[port], "\(name): no messages for client port \(port)")
            let logged = (c["messages"] as? [[String: Any]] ?? []).filter { $0["ws_message_index"] is Int }
            // Every logged message is among the app entries of the WebSocket message that carried it.
            var perMessage: [String: Int] = [:]
            for m in logged {
                let side = m["from"] as! String, index = m["ws_message_index"] as! Int
                let list = sides[side] ?? []
                guard index < list.count else {
                    Issue.record("\(name) :\(port) \(side) message \(index) missing (\(list.count) seen)")
                    continue
                }
                guard let kind = Self.expectedKind(m) else {
                    #expect(list[index].app.isEmpty, "\(name) :\(port) \(side) #\(list[index].packet): not JSON, yet \(list[index].app)")
                    continue
                }
                perMessage["\(side)|\(index)", default: 0] += 1
                let candidates = list[index].app.filter { ($0["proto"] as? String) == kind.proto && ($0["type"] as? String) == kind.type }
                let match = candidates.first { a in
                    (m["id"] == nil || Self.same(a["id"], m["id"])) &&
                        Self.compared.allSatisfy { k in m[k] == nil || m[k] is NSNull || a[k] == nil || Self.same(a[k], m[k]) }
                }
                #expect(match != nil, "\(name) :\(port) \(side) #\(list[index].packet): logged \(kind) id \(m["id"] ?? "-") \(Self.compared.compactMap { k in m[k].flatMap { $0 is NSNull ? nil : "\(k)=\($0)" } }), decoded \(list[index].app.map { "\($0["proto"] ?? "")/\($0["type"] ?? "") id \($0["id"] ?? "-")" })")
                if let match {
                    for k in Self.compared where m[k] != nil && !(m[k] is NSNull) {
                        #expect(match[k] != nil, "\(name) :\(port) \(side) #\(list[index].packet) \(kind.type): no \(k)")
                    }
                }
                checked += 1
            }
            // No more app entries than the peers logged, message by message.
            for (key, n) in perMessage {
                let parts = key.split(separator: "|")
                let app = sides[String(parts[0])]![Int(parts[1])!].app
                #expect(app.count == n, "\(name) :\(port) \(key): \(app.count) decoded, \(n) logged")
            }
        }
        #expect(checked > 5, "\(name): only \(checked) messages compared")
    }

    /// json-other's acks are the test peers' own convention, not a protocol's: nothing to pair.
    @Test(arguments: fixtures.filter { $0 != "json-other" })
    func requestsPairedWithExactLatency(_ name: String) throws {
        guard let tshark = Tools.tshark() else { return }
        let path = Tools.fixtures.appendingPathComponent("apps/\(name).pcap").path
        let log = try Tools.json(try Data(contentsOf: Tools.fixtures.appendingPathComponent("logs/\(name).json")))
        let ours = try Self.messages(path)
        let times = try Self.tsharkTimes(tshark, path)
        var pairs = 0
        for c in try #require(log["connections"] as? [[String: Any]]) {
            let port = c["client_port"] as! Int
            guard let sides = ours[port] else { continue }
            for pair in c["requests"] as? [[String: Any]] ?? [] {
                guard let request = pair["request"] as? [String: Any], let response = pair["response"] as? [String: Any],
                      let qi = request["ws_message_index"] as? Int, let ri = response["ws_message_index"] as? Int,
                      let qs = request["from"] as? String, let rs = response["from"] as? String,
                      let rtype = response["type"] as? String else { continue }
                // Engine.IO ping/pong is not a request of the application (not paired, by design).
                if (request["type"] as? String) == "PING" { continue }
                guard let q = sides[qs]?[safe: qi], let r = sides[rs]?[safe: ri] else {
                    Issue.record("\(name) :\(port): request or response message missing")
                    continue
                }
                let answer = r.app.first { ($0["type"] as? String) == rtype && (response["id"] == nil || Self.same($0["id"], response["id"])) }
                let reply = answer?["reply_to"] as? [String: Any]
                #expect(reply?["packet"] as? Int == q.packet, "\(name) :\(port) \(rtype) #\(r.packet) should answer #\(q.packet): \(answer ?? [:])")
                if let latency = reply?["latency_s"] as? Double, let tq = times[q.packet], let tr = times[r.packet] {
                    #expect(abs(latency - (tr - tq)) < 1.5e-6, "\(name) #\(q.packet)→#\(r.packet): \(latency) s, capture says \(tr - tq) s")
                }
                pairs += 1
            }
        }
        #expect(pairs > 0, "\(name): no request/response pair compared")
    }

    /// The filter fields of the application protocols choose the rows the logs say they should.
    @Test func applicationFilterFields() throws {
        func packets(_ capture: String, _ expression: String) throws -> [Int] {
            try DisplayFilterTests.rows(Tools.fixtures.appendingPathComponent("apps/\(capture).pcap").path, expression)
                .map(DisplayFilterTests.packet)
        }
        func logged(_ capture: String, _ test: ([String: Any]) -> Bool) throws -> Int {
            let log = try Tools.json(try Data(contentsOf: Tools.fixtures.appendingPathComponent("logs/\(capture).json")))
            return (log["connections"] as! [[String: Any]]).reduce(0) { n, c in
                n + (c["messages"] as? [[String: Any]] ?? []).filter { $0["ws_message_index"] is Int && test($0) }.count
            }
        }
        let publishes = try logged("mqtt-v311") { $0["type"] as? String == "PUBLISH" }
        #expect(try packets("mqtt-v311", "mqtt.msgtype == 3").count == publishes)
        let qos2 = try logged("mqtt-v311") { $0["type"] as? String == "PUBLISH" && $0["qos"] as? Int == 2 }
        #expect(try packets("mqtt-v311", "mqtt.qos == 2 && app.type == \"PUBLISH\"").count == qos2)
        let subscribe = try logged("jsonrpc-websockets") { $0["method"] as? String == "eth_subscribe" }
        #expect(subscribe > 0)
        #expect(try packets("jsonrpc-websockets", "jsonrpc.method == \"eth_subscribe\"").count == subscribe)
        let events = try logged("socketio-websocket") { $0["event"] as? String == "chat message" }
        #expect(try packets("socketio-websocket", "socketio.event == \"chat message\"").count == events)
        let sends = try logged("stomp-rabbitmq") { $0["type"] as? String == "SEND" }
        #expect(try packets("stomp-rabbitmq", "stomp.command == \"SEND\"").count == sends)
        let nexts = try logged("graphql-transport-ws") { $0["type"] as? String == "next" }
        #expect(try packets("graphql-transport-ws", "graphql.type == \"next\"").count == nexts)
        // Responses carry their latency: every answered MQTT request is a row with app.latency.
        #expect(try packets("mqtt-v311", "app.latency >= 0").count > 0)
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}
