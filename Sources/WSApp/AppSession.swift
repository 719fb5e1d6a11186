// The App stage's per-connection state: which application protocol a WebSocket connection
// carries (--decode-as, the negotiated subprotocol, the Upgrade path, or the first messages'
// content), the decoders' per-side state, and request/response pairing with latencies.
// Pure and single-threaded: one AppSession per connection, fed its data messages in order.

/// Per-connection application-protocol state. One per WebSocket connection, fed every complete
/// data message in capture order.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class AppSession {
    /// Detection gives up after this many data messages without a match.
    static let detectionWindow = 8
    /// Bounds: answered requests kept, pending requests per connection, per-side stream buffers.
    static let maxLatencies = 65536
    static let maxPending = 4096
    static let maxBuffer = 16 << 20

    let subprotocol: String?
    let path: String?
    let decodeAs: AppProtocol?

    /// The protocol chosen so far (nil: none yet).
    public internal(set) var chosen: AppProtocol?
    /// Still looking at content (nothing chosen by decodeAs/subprotocol/path; within the window).
    var detecting: Bool
    /// `chosen == .json` came from content (the fallback); a stronger match may still replace it
    /// while detecting.
    var jsonByFallback = false
    /// Other JSON is reported (`proto: json`). Off when nothing shows it (`--summary`, `stats`,
    /// `--payloads none`): it is the payload itself, and no request pairs with it. Content
    /// detection of the JSON protocols still runs. `decodeAs: .json` reports it whatever this says.
    public var jsonFallback = true
    var dataMessages = 0

    /// Requests answered so far, in the order their responses came (at most 65536 kept).
    public private(set) var latencies: [AppLatency] = []
    public private(set) var latenciesDropped: Int = 0
    var pending = PendingTable(capacity: AppSession.maxPending)

    // Per-protocol state (see the decoders' files).
    var engine = EngineIOState()
    var mqtt = MQTTState()
    var stomp = STOMPState()
    /// GraphQL without a subprotocol: which of the two the message types showed (nil: not yet).
    var graphqlInferred: String?

    /// subprotocol: the negotiated Sec-WebSocket-Protocol (nil if none); path: the Upgrade
    /// request target (e.g. "/socket.io/?EIO=4&transport=websocket"); decodeAs: the user's
    /// --decode-as (overrides detection).
    public init(subprotocol: String?, path: String?, decodeAs: AppProtocol?) {
        self.subprotocol = subprotocol
        self.path = path
        self.decodeAs = decodeAs
        if let d = decodeAs {
            chosen = d
        } else if let s = subprotocol, let p = AppSession.protocolFor(subprotocol: s) {
            chosen = p
        } else if let path, AppSession.isEngineIOPath(path) {
            chosen = .engineIO
        }
        detecting = chosen == nil
        if decodeAs == .socketIO { engine.socketIO = true }
    }

    /// An Upgrade target of Engine.IO (`/socket.io/?EIO=4&transport=websocket`). Searched as
    /// bytes: a generic `String.contains` costs a protocol-conformance lookup per connection.
    static func isEngineIOPath(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { u in
            let b = UnsafeRawBufferPointer(u)
            return bytesContain(b, "EIO=") || bytesContain(b, "/socket.io/")
        }
    }

    /// The protocol a Sec-WebSocket-Protocol value names (nil: none of ours).
    public static func protocolFor(subprotocol: String) -> AppProtocol? {
        var s = Substring(subprotocol)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        switch s.lowercased() {
        case "mqtt", "mqttv3.1": return .mqtt
        case "v10.stomp", "v11.stomp", "v12.stomp", "stomp": return .stomp
        case "graphql-transport-ws", "graphql-ws": return .graphqlWS
        case "jsonrpc", "json-rpc", "jsonrpc-2.0": return .jsonrpc
        default: return nil
        }
    }

    /// True while the session wants message bytes: a protocol is chosen, or it is still detecting.
    public var wantsPayload: Bool { chosen != nil || detecting }

    /// Still reading messages' content for a protocol (a plain JSON fallback may be chosen).
    public var isDetecting: Bool { detecting }

    /// Bytes of a message that detection reads: its opening. Every match looks at the start
    /// (an Engine.IO open packet, MQTT's and STOMP's CONNECT, the JSON keys of JSON-RPC and
    /// GraphQL), so the bytes kept for detection are bounded in every output mode alike.
    public static let detectionPrefix = 4096

    /// Requests still unanswered.
    public var pendingRequests: Int { pending.unansweredCount }

    /// One complete WebSocket data message (continuations joined, decompressed). See the type's
    /// documentation; returns the message's application messages (empty when nothing applies).
    public func message(fromClient: Bool, text: Bool, payload: UnsafeRawBufferPointer, length: UInt64,
                        payloadComplete: Bool, packet: Int, time: Int64) -> [AppMessage] {
        let m = Msg(fromClient: fromClient, text: text, bytes: payload, length: length,
                    complete: payloadComplete && UInt64(payload.count) >= length, packet: packet, time: time)
        if detecting {
            dataMessages += 1
            var opening = m
            if m.bytes.count > AppSession.detectionPrefix {
                opening.bytes = UnsafeRawBufferPointer(rebasing: m.bytes[..<AppSession.detectionPrefix])
                opening.complete = false
            }
            if let p = detect(opening) {
                chosen = p
                jsonByFallback = false
                detecting = false
            } else if dataMessages >= AppSession.detectionWindow {
                detecting = false
            }
        }
        var out: [AppMessage]
        switch chosen {
        case .engineIO?, .socketIO?: out = engineIOMessage(m)
        case .mqtt?: out = mqttMessage(m)
        case .stomp?: out = stompMessage(m)
        case .graphqlWS?: out = graphqlMessage(m)
        case .jsonrpc?: out = jsonrpcMessage(m)
        case .json?, nil: out = jsonFallback || decodeAs == .json ? jsonMessage(m) : []
        }
        if let s = subprotocol {
            for k in out.indices where out[k].subprotocol == nil { out[k].subprotocol = s }
        }
        return out
    }

    /// A content match for the message (nil: none). Sets the JSON fallback on the way.
    func detect(_ m: Msg) -> AppProtocol? {
        let b = m.bytes
        if m.text {
            var k = 0
            while k < b.count, isJSONSpace(b[k]) { k += 1 }
            if b.count >= 2, b[0] == 0x30, b[1] == 0x7B {
                if case .value(let v) = JSONParser.parse(UnsafeRawBufferPointer(rebasing: b[1...]), expand: 1), v["sid"] != nil {
                    return .engineIO
                }
            }
            if b.count == 6, b[0] == 0x32 || b[0] == 0x33, bytesEqual(b, from: 1, "probe") { return .engineIO }
            if k < b.count, b[k] == 0x7B || b[k] == 0x5B {
                // Without the fallback only JSON-RPC and GraphQL are looked for: their words first.
                if !jsonFallback && !bytesContain(b, "jsonrpc") && !bytesContain(b, "connection_init") { return nil }
                switch JSONParser.parse(b, partial: !m.complete, expand: 2) {
                case .value(let v), .partial(let v):
                    if isJSONRPC(v) { return .jsonrpc }
                    // Both GraphQL subprotocols open with the client's connection_init.
                    if m.fromClient, v["type"]?.stringValue == "connection_init" { return .graphqlWS }
                    if chosen == nil && jsonFallback { chosen = .json; jsonByFallback = true }
                case .failure: break
                }
                return nil
            }
            if fromClientSTOMPConnect(m) { return .stomp }
        } else {
            if m.fromClient, looksLikeMQTTConnect(b) { return .mqtt }
            if fromClientSTOMPConnect(m) { return .stomp }
        }
        return nil
    }

    func isJSONRPC(_ v: JSONValue) -> Bool {
        if v["jsonrpc"]?.stringValue == "2.0" { return true }
        if case .array(let a) = v, let first = a.first, first["jsonrpc"]?.stringValue == "2.0" { return true }
        return false
    }

    func fromClientSTOMPConnect(_ m: Msg) -> Bool {
        guard m.fromClient else { return false }
        let b = m.bytes
        for word in ["CONNECT", "STOMP"] {
            let n = word.utf8.count
            if b.count > n, bytesEqual(b, from: 0, word), b[n] == 0x0A || (b[n] == 0x0D && b.count > n + 1 && b[n + 1] == 0x0A) {
                // A header block must follow: accept-version or host.
                return containsASCII(b, "accept-version:") || containsASCII(b, "host:")
            }
        }
        return false
    }

    /// An MQTT CONNECT: type 1, a valid remaining length, then the protocol name MQTT or MQIsdp.
    func looksLikeMQTTConnect(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 8, b[0] == 0x10 else { return false }
        var k = 1
        var n = 0
        while k < b.count, n < 4 {
            let c = b[k]
            k += 1
            n += 1
            if c & 0x80 == 0 { break }
        }
        guard k + 6 <= b.count else { return false }
        if b[k] == 0, b[k + 1] == 4, bytesEqual(b, from: k + 2, "MQTT") { return true }
        if b[k] == 0, b[k + 1] == 6, k + 8 <= b.count, bytesEqual(b, from: k + 2, "MQIsdp") { return true }
        return false
    }

    // MARK: JSON fallback

    /// Objects and arrays in text messages are JSON wherever they parse. Scalars ("42",
    /// "\"hi\"", true) and binary messages are JSON only when they parse whole, and scalars only
    /// in a connection that has carried JSON already: plain text is not invented into JSON.
    func jsonMessage(_ m: Msg) -> [AppMessage] {
        let b = m.bytes
        var k = 0
        while k < b.count, isJSONSpace(b[k]) { k += 1 }
        guard k < b.count else { return [] }
        let structured = b[k] == 0x7B || b[k] == 0x5B
        guard structured || (m.text && chosen == .json) else { return [] }
        switch JSONParser.parse(b, expand: 0) {
        case .value(let v):
            let kind: String
            switch v {
            case .object: kind = "object"
            case .array: kind = "array"
            case .string: kind = "string"
            case .number: kind = "number"
            case .bool: kind = "boolean"
            case .null: kind = "null"
            case .raw: kind = b[k] == 0x7B ? "object" : (b[k] == 0x5B ? "array" : "value")
            }
            let c = v.compact
            return [AppMessage(proto: .json, type: kind, fields: [AppField("value", .json(c))],
                               info: "JSON " + clip(c))]
        case .partial:
            return [] // not asked for
        case .failure(let e):
            guard m.text, structured else { return [] }
            // Cut where the kept bytes end (a display preview, a cap): nothing to say about the
            // rest; the row shows the payload as it is.
            if !m.complete && e.offset >= b.count { return [] }
            // Text that only starts like JSON ("[m4] hello") is plain text, unless this connection
            // has carried JSON already (or was decoded as JSON): then it is bad application data.
            guard chosen == .json else { return [] }
            var problem = e.description
            if !m.complete { problem += "; " + m.cutText(nil) }
            return [AppMessage(proto: .json, type: "malformed", info: "JSON malformed", problem: problem)]
        }
    }

    // MARK: Pairing

    /// Records a request awaiting its response.
    func expect(_ key: String, proto: AppProtocol, what: String, requestType: String, m: Msg) {
        pending.insert(key, PendingRequest(proto: proto, key: what, requestType: requestType, packet: m.packet,
                                           time: m.time, fromClient: m.fromClient))
    }

    /// A response for `key`: removes the request (unless `keep`), records the latency and returns
    /// the reply. With `keep`, a request already answered once is not answered again.
    func answer(_ key: String, responseType: String, m: Msg, keep: Bool = false) -> AppReply? {
        let req: PendingRequest
        if keep {
            guard let r = pending.get(key), !r.answered else { return nil }
            var r2 = r
            r2.answered = true
            pending.update(key, r2)
            req = r
        } else {
            guard let r = pending.remove(key) else { return nil }
            req = r
        }
        let latency = m.time &- req.time
        if latencies.count < AppSession.maxLatencies {
            latencies.append(AppLatency(proto: req.proto, key: req.key, requestType: req.requestType,
                                        responseType: responseType, requestPacket: req.packet,
                                        responsePacket: m.packet, latency: latency, fromClient: req.fromClient))
        } else {
            latenciesDropped += 1
        }
        return AppReply(packet: req.packet, latency: latency)
    }
}

/// One data message as the decoders see it.
struct Msg {
    var fromClient: Bool
    var text: Bool
    var bytes: UnsafeRawBufferPointer
    var length: UInt64
    /// All of the message's bytes are in `bytes`.
    var complete: Bool
    var packet: Int
    var time: Int64

    var side: String { fromClient ? "C" : "S" }
    var otherSide: String { fromClient ? "S" : "C" }

    /// "message cut: N of L bytes kept" (+ "; what").
    func cutText(_ what: String?) -> String {
        var s = "message cut: \(bytes.count) of \(length) bytes kept"
        if let what { s += "; " + what }
        return s
    }
}

/// A request awaiting its response.
struct PendingRequest {
    var proto: AppProtocol
    var key: String
    var requestType: String
    var packet: Int
    var time: Int64
    var fromClient: Bool
    /// Answered once (a GraphQL subscription's first `next`), still open for its end.
    var answered = false
}

/// Pending requests by key, bounded: past `capacity` the oldest is dropped. Inserting a key
/// already present replaces it (and makes it the newest).
struct PendingTable {
    let capacity: Int
    private var entries: [String: (request: PendingRequest, seq: UInt64)] = [:]
    private var order: [(key: String, seq: UInt64)] = []
    private var head = 0
    private var seq: UInt64 = 0

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { entries.count }
    var unansweredCount: Int { entries.values.reduce(0) { $0 + ($1.request.answered ? 0 : 1) } }

    func get(_ key: String) -> PendingRequest? { entries[key]?.request }

    mutating func update(_ key: String, _ r: PendingRequest) {
        if let e = entries[key] { entries[key] = (r, e.seq) }
    }

    mutating func remove(_ key: String) -> PendingRequest? {
        entries.removeValue(forKey: key)?.request
    }

    mutating func insert(_ key: String, _ r: PendingRequest) {
        seq &+= 1
        entries[key] = (r, seq)
        order.append((key, seq))
        while entries.count > capacity, head < order.count {
            let o = order[head]
            head += 1
            if let e = entries[o.key], e.seq == o.seq { entries[o.key] = nil }
        }
        // Keep `order` proportional to the live entries (removed and replaced keys leave stale rows).
        if order.count - head > 2 * capacity + 64 {
            var live: [(key: String, seq: UInt64)] = []
            live.reserveCapacity(entries.count)
            for k in head..<order.count {
                let o = order[k]
                if let e = entries[o.key], e.seq == o.seq { live.append(o) }
            }
            order = live
            head = 0
        } else if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}

// MARK: Byte helpers

@inline(__always) func isJSONSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

/// `b[from...]` starts with the ASCII text `s`.
/// Whether `s` occurs in `b`.
func bytesContain(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
    let n = s.utf8CodeUnitCount
    guard n > 0, b.count >= n, let base = b.baseAddress else { return false }
    let needle = UnsafeRawPointer(s.utf8Start)
    let first = Int32(s.utf8Start[0])
    var i = 0
    while i <= b.count - n {
        guard let hit = memchr(base + i, first, b.count - n - i + 1) else { return false }
        if memcmp(hit, needle, n) == 0 { return true }
        i = base.distance(to: UnsafeRawPointer(hit)) + 1
    }
    return false
}

func bytesEqual(_ b: UnsafeRawBufferPointer, from: Int, _ s: String) -> Bool {
    var k = from
    for c in s.utf8 {
        guard k >= 0, k < b.count, b[k] == c else { return false }
        k += 1
    }
    return true
}

/// `b` contains the ASCII text `s` within its first 4 KiB (case-sensitive).
func containsASCII(_ b: UnsafeRawBufferPointer, _ s: String) -> Bool {
    let n = min(b.count, 4096)
    let needle = Array(s.utf8)
    guard let f = needle.first, needle.count <= n else { return false }
    var k = 0
    while k + needle.count <= n {
        if b[k] == f {
            var ok = true
            for j in 1..<needle.count where b[k + j] != needle[j] { ok = false; break }
            if ok { return true }
        }
        k += 1
    }
    return false
}
