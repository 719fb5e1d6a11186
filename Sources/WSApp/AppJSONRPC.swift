// JSON-RPC 2.0 over WebSocket: a text message is one object or a batch array; each element is a
// request (method, id), a notification (method, no id), a response (result) or an error. A request
// pairs with the other side's response or error carrying the same id (1 and "1" differ).

extension AppSession {
    func jsonrpcMessage(_ m: Msg) -> [AppMessage] {
        guard let parsed = parseJSONMessage(m, proto: .jsonrpc) else { return [] }
        switch parsed {
        case .message(let msg): return [msg]
        case .value(let v, let problem):
            if case .array(let elements) = v {
                if elements.isEmpty {
                    return [AppMessage(proto: .jsonrpc, type: "invalid", info: "JSON-RPC invalid",
                                       problem: joinProblems("an empty batch", problem))]
                }
                var out: [AppMessage] = []
                out.reserveCapacity(elements.count)
                for (k, e) in elements.enumerated() {
                    out.append(jsonrpcElement(e, batchIndex: k, m: m, problem: problem))
                }
                return out
            }
            return [jsonrpcElement(v, batchIndex: nil, m: m, problem: problem)]
        }
    }

    /// The pairing key of an id (nil: null or not an id).
    func jsonrpcIDKey(_ v: JSONValue?) -> String? {
        switch v {
        case .number(let n)?: return "n:" + n
        case .string(let s)?: return "s:" + s
        default: return nil
        }
    }

    func jsonrpcIDText(_ v: JSONValue?) -> String? {
        switch v {
        case .number(let n)?: return n
        case .string(let s)?: return clip(jsonQuoted(s), 40)
        case .null?: return "null"
        default: return nil
        }
    }

    func jsonrpcElement(_ v: JSONValue, batchIndex: Int?, m: Msg, problem: String?) -> AppMessage {
        var fields: [AppField] = []
        if let batchIndex {
            fields.append(AppField("batch", .bool(true)))
            fields.append(AppField("batch_index", .int(Int64(batchIndex))))
        }
        guard v.isObject else {
            return AppMessage(proto: .jsonrpc, type: "invalid", fields: fields, info: "JSON-RPC invalid",
                              problem: joinProblems("not a JSON object", problem))
        }
        let idJSON = v["id"]
        let id = idJSON?.idValue ?? .null
        let idKey = jsonrpcIDKey(idJSON)
        let idText = jsonrpcIDText(idJSON)
        var problem = problem
        if v["jsonrpc"]?.stringValue != "2.0" {
            problem = joinProblems("no \"jsonrpc\":\"2.0\" member", problem)
        }
        if let method = v["method"] {
            let name = method.stringValue ?? method.compact
            if method.stringValue == nil { problem = joinProblems("the method is not a string", problem) }
            let type = idJSON == nil ? "notification" : "request"
            fields.insert(AppField("method", .string(name)), at: 0)
            if let params = v["params"] { fields.insert(AppField("params", .json(params.compact)), at: 1) }
            var info = "JSON-RPC " + type
            if let idText { info += " id=" + idText }
            info += " " + clip(name, 60)
            if let idKey {
                expect("rpc|\(m.side)|\(idKey)", proto: .jsonrpc, what: name, requestType: type, m: m)
            }
            return AppMessage(proto: .jsonrpc, type: type, id: id, fields: fields, info: info, problem: problem)
        }
        if let result = v["result"] {
            fields.insert(AppField("result", .json(result.compact)), at: 0)
            var info = "JSON-RPC response"
            if let idText { info += " id=" + idText }
            let reply = idKey.flatMap { answer("rpc|\(m.otherSide)|\($0)", responseType: "response", m: m) }
            return AppMessage(proto: .jsonrpc, type: "response", id: id, fields: fields, info: info, replyTo: reply, problem: problem)
        }
        if let error = v["error"] {
            fields.insert(AppField("error", .json(error.compact)), at: 0)
            var info = "JSON-RPC error"
            if let idText { info += " id=" + idText }
            if let code = error["code"], case .number(let c) = code { info += " " + c }
            if let msg = error["message"]?.stringValue { info += " " + clip(msg, 60) }
            if !error.isObject { problem = joinProblems("the error is not an object", problem) }
            let reply = idKey.flatMap { answer("rpc|\(m.otherSide)|\($0)", responseType: "error", m: m) }
            return AppMessage(proto: .jsonrpc, type: "error", id: id, fields: fields, info: info, replyTo: reply, problem: problem)
        }
        return AppMessage(proto: .jsonrpc, type: "invalid", id: id, fields: fields, info: "JSON-RPC invalid",
                          problem: joinProblems("neither a request (method) nor a response (result or error)", problem))
    }
}

/// How a JSON protocol's message parsed.
enum ParsedJSONMessage {
    /// A value (cut messages: the complete members kept), with a problem to report.
    case value(JSONValue, String?)
    /// Nothing to decode: the message to report instead (malformed, cut).
    case message(AppMessage)
}

extension AppSession {
    /// Parses a JSON protocol's message (text, or binary that starts like JSON). nil: nothing to
    /// report (binary non-JSON, empty).
    func parseJSONMessage(_ m: Msg, proto: AppProtocol) -> ParsedJSONMessage? {
        let b = m.bytes
        var k = 0
        while k < b.count, isJSONSpace(b[k]) { k += 1 }
        if !m.text && (k >= b.count || (b[k] != 0x7B && b[k] != 0x5B)) { return nil }
        if k >= b.count && m.complete && b.count == 0 { return nil }
        let cut: String? = m.complete ? nil : m.cutText(nil)
        // Members are looked up down to depth 3 (a batch element's error object).
        switch JSONParser.parse(b, partial: !m.complete, expand: 3) {
        case .value(let v): return .value(v, cut)
        case .partial(let v): return .value(v, m.cutText("decoded from the members kept"))
        case .failure(let e):
            if cut != nil && e.offset >= b.count {
                return .message(AppMessage(proto: proto, type: "malformed", info: "\(proto.displayName) cut",
                                           problem: m.cutText("the JSON text is incomplete")))
            }
            return .message(AppMessage(proto: proto, type: "malformed", info: "\(proto.displayName) malformed",
                                       problem: joinProblems(e.description, cut)))
        }
    }
}

func joinProblems(_ a: String, _ b: String?) -> String {
    guard let b else { return a }
    return a + "; " + b
}
