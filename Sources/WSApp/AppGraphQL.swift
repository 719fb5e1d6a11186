// GraphQL over WebSocket: `graphql-transport-ws` (graphql-ws library) and the legacy
// `graphql-ws` (subscriptions-transport-ws). Each text message is a JSON object with `type`, an
// optional `id` and `payload`. subscribe/start pairs with the first next/data of its id and with
// its complete (or error); connection_init pairs with connection_ack.

let graphqlTransportTypes: Set<String> = ["connection_init", "connection_ack", "ping", "pong", "subscribe", "next", "error", "complete"]
let graphqlLegacyTypes: Set<String> = ["connection_init", "connection_ack", "connection_error", "ka", "start", "data", "error",
                                       "complete", "stop", "connection_terminate"]

extension AppSession {
    func graphqlMessage(_ m: Msg) -> [AppMessage] {
        guard let parsed = parseJSONMessage(m, proto: .graphqlWS) else { return [] }
        let v: JSONValue
        var problem: String?
        switch parsed {
        case .message(let msg): return [msg]
        case .value(let x, let p): v = x; problem = p
        }
        guard v.isObject else {
            return [AppMessage(proto: .graphqlWS, type: "invalid", info: "GraphQL invalid",
                               problem: joinProblems("not a JSON object", problem))]
        }
        guard let type = v["type"]?.stringValue else {
            return [AppMessage(proto: .graphqlWS, type: "invalid", info: "GraphQL invalid",
                               problem: joinProblems("no \"type\" member", problem))]
        }
        let sub = subprotocol?.lowercased()
        let legacy: Bool
        var inferred: String?
        if sub == "graphql-ws" { legacy = true } else if sub == "graphql-transport-ws" { legacy = false } else {
            // No subprotocol (--decode-as): a type only one of the two has says which, for the
            // rest of the connection.
            let onlyLegacy = !graphqlTransportTypes.contains(type) && graphqlLegacyTypes.contains(type)
            let onlyTransport = graphqlTransportTypes.contains(type) && !graphqlLegacyTypes.contains(type)
            if graphqlInferred == nil && (onlyLegacy || onlyTransport) {
                graphqlInferred = onlyLegacy ? "graphql-ws" : "graphql-transport-ws"
            }
            inferred = graphqlInferred
            legacy = inferred == "graphql-ws" || (inferred == nil && onlyLegacy)
        }
        if !(legacy ? graphqlLegacyTypes : graphqlTransportTypes).contains(type) {
            problem = joinProblems("not a \(legacy ? "graphql-ws" : "graphql-transport-ws") message type", problem)
        }
        let idJSON = v["id"]
        let id = idJSON?.idValue ?? .null
        let idText: String? = {
            switch id {
            case .int(let i): return String(i)
            case .string(let s): return s
            default: return nil
            }
        }()
        var fields: [AppField] = []
        var info = "GraphQL " + clip(type, 40)
        if let idText { info += " id=" + clip(idText, 40) }
        let payload = v["payload"]
        var opName: String?
        if type == "subscribe" || type == "start", let p = payload {
            opName = p["operationName"]?.stringValue
            var op: String?
            if let q = p["query"]?.stringValue {
                let parsedOp = graphqlOperation(q)
                op = parsedOp.operation
                if opName == nil { opName = parsedOp.name }
            }
            if let opName { fields.append(AppField("operation_name", .string(opName))) }
            if let op { fields.append(AppField("operation", .string(op))) }
            if let opName { info += " " + clip(opName, 60) }
        }
        if let p = payload { fields.append(AppField("payload", .json(p.compact))) }
        if type == "error" || type == "connection_error", let p = payload {
            let first = p.arrayValue?.first ?? p
            if let msg = first["message"]?.stringValue { info += " " + clip(msg, 60) }
        }
        var reply: AppReply?
        let key = idText.map { jsonQuoted($0) } ?? ""
        switch type {
        case "connection_init":
            expect("gq|\(m.side)|init", proto: .graphqlWS, what: type, requestType: type, m: m)
        case "connection_ack", "connection_error":
            reply = answer("gq|\(m.otherSide)|init", responseType: type, m: m)
        case "ping":
            // graphql-transport-ws: either side pings, the other answers with pong.
            expect("gq|\(m.side)|ping", proto: .graphqlWS, what: type, requestType: type, m: m)
        case "pong":
            reply = answer("gq|\(m.otherSide)|ping", responseType: type, m: m)
        case "subscribe", "start":
            if idText != nil {
                expect("gq|\(m.side)|op|\(key)", proto: .graphqlWS, what: opName ?? "subscribe", requestType: type, m: m)
            }
        case "next", "data":
            if idText != nil { reply = answer("gq|\(m.otherSide)|op|\(key)", responseType: type, m: m, keep: true) }
        case "complete", "error":
            if idText != nil {
                reply = answer("gq|\(m.otherSide)|op|\(key)", responseType: type, m: m)
                // A client's complete (or legacy stop) cancels its own subscription.
                if reply == nil { _ = pending.remove("gq|\(m.side)|op|\(key)") }
            }
        case "stop":
            if idText != nil { _ = pending.remove("gq|\(m.side)|op|\(key)") }
        default:
            break
        }
        return [AppMessage(proto: .graphqlWS, subprotocol: inferred, type: type, id: id, fields: fields, info: info,
                           replyTo: reply, problem: problem)]
    }

    /// The first `query|mutation|subscription [Name]` of a GraphQL document (skipping comments
    /// and strings); a document starting with `{` is an anonymous query.
    func graphqlOperation(_ q: String) -> (operation: String?, name: String?) {
        let u = Array(q.utf8.prefix(65536))
        var i = 0
        func isNameStart(_ c: UInt8) -> Bool { c == 0x5F || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        func isName(_ c: UInt8) -> Bool { isNameStart(c) || (c >= 0x30 && c <= 0x39) }
        func skipIgnored() {
            while i < u.count {
                let c = u[i]
                if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x2C || c == 0xEF || c == 0xBB || c == 0xBF { i += 1; continue }
                if c == 0x23 { while i < u.count, u[i] != 0x0A { i += 1 }; continue }
                break
            }
        }
        var depth = 0
        let start = firstSignificant(u)
        while i < u.count {
            skipIgnored()
            guard i < u.count else { break }
            let c = u[i]
            if c == 0x7B {
                if depth == 0 && i == start { return ("query", nil) }
                depth += 1; i += 1; continue
            }
            if c == 0x7D { depth = max(0, depth - 1); i += 1; continue }
            if c == 0x22 {
                i += 1
                while i < u.count, u[i] != 0x22 { if u[i] == 0x5C { i += 1 }; i += 1 }
                i += 1
                continue
            }
            if isNameStart(c) {
                let s = i
                while i < u.count, isName(u[i]) { i += 1 }
                let word = String(decoding: u[s..<i], as: UTF8.self)
                if depth == 0 && (word == "query" || word == "mutation" || word == "subscription") {
                    skipIgnored()
                    if i < u.count, isNameStart(u[i]) {
                        let ns = i
                        while i < u.count, isName(u[i]) { i += 1 }
                        return (word, String(decoding: u[ns..<i], as: UTF8.self))
                    }
                    return (word, nil)
                }
                continue
            }
            i += 1
        }
        return (nil, nil)
    }

    private func firstSignificant(_ u: [UInt8]) -> Int {
        var i = 0
        while i < u.count {
            let c = u[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x2C { i += 1; continue }
            if c == 0x23 { while i < u.count, u[i] != 0x0A { i += 1 }; continue }
            break
        }
        return i
    }
}
