// The App stage's values: what an application protocol said inside one WebSocket message.
// Pure: bytes and packet numbers in, values out. No Foundation in the decoders (per-message
// code), no I/O, no clocks (time comes from packets).

/// Application protocols decoded inside WebSocket messages. The raw value is the JSON `proto`.
public enum AppProtocol: String, Sendable, CaseIterable, Hashable {
    case engineIO = "engine.io"
    case socketIO = "socket.io"
    case mqtt
    case stomp
    /// Either GraphQL subprotocol: `graphql-transport-ws` or the legacy `graphql-ws`
    /// (subscriptions-transport-ws); `AppMessage.subprotocol` says which.
    case graphqlWS = "graphql-ws"
    case jsonrpc
    /// Any other text message that is JSON.
    case json

    /// `--decode-as` names (and the JSON names): "socket.io", "engine.io", "mqtt", "stomp",
    /// "graphql-ws", "graphql-transport-ws", "jsonrpc", "json".
    public init?(decodeAs name: String) {
        switch name.lowercased() {
        case "engine.io", "engineio": self = .engineIO
        case "socket.io", "socketio": self = .socketIO
        case "mqtt": self = .mqtt
        case "stomp": self = .stomp
        case "graphql-ws", "graphql-transport-ws", "graphql": self = .graphqlWS
        case "jsonrpc", "json-rpc": self = .jsonrpc
        case "json": self = .json
        default: return nil
        }
    }

    /// Name in the Info column: "Socket.IO", "Engine.IO", "MQTT", "STOMP", "GraphQL", "JSON-RPC", "JSON".
    public var displayName: String {
        switch self {
        case .engineIO: return "Engine.IO"
        case .socketIO: return "Socket.IO"
        case .mqtt: return "MQTT"
        case .stomp: return "STOMP"
        case .graphqlWS: return "GraphQL"
        case .jsonrpc: return "JSON-RPC"
        case .json: return "JSON"
        }
    }
}

/// A value of an application message's field, as it goes into JSON.
public indirect enum AppValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    /// Compact JSON text taken from the message (re-serialized by the stage's JSON parser, so
    /// always valid JSON); written verbatim into JSON output.
    case json(String)
    case list([AppValue])
    case object([AppField])
}

/// A named field, in the order the protocol has it.
public struct AppField: Sendable, Equatable {
    public var name: String
    public var value: AppValue
    public init(_ name: String, _ value: AppValue) { self.name = name; self.value = value }
}

/// On a response: the request it answers.
public struct AppReply: Sendable, Equatable {
    /// Packet number of the request (the packet its WebSocket message was reported on).
    public var packet: Int
    /// Response time minus request time, in ns (capture timestamps of the two packets).
    public var latency: Int64
    public init(packet: Int, latency: Int64) { self.packet = packet; self.latency = latency }
}

/// One application-level message. A WebSocket message may hold several (MQTT packets, a
/// JSON-RPC batch); one MQTT packet may span several WebSocket messages (it is reported on the
/// message that completes it).
public struct AppMessage: Sendable, Equatable {
    public var proto: AppProtocol
    /// The negotiated Sec-WebSocket-Protocol, if any (for GraphQL: which of the two).
    public var subprotocol: String?
    /// The protocol's own name for the message: EVENT, ACK, CONNECT, PUBLISH, PUBACK, SEND,
    /// MESSAGE, subscribe, next, complete, request, response, notification, error, ...
    public var type: String
    /// Request/ack/packet/subscription id: `.null`, `.int` or `.string`.
    public var id: AppValue
    /// The protocol's own fields, JSON names (namespace, event, args; topic, qos, retain,
    /// payload_length; command, headers, body_length; operation_name; method, params, error).
    public var fields: [AppField]
    /// The Info column's words, e.g. `MQTT PUBLISH qos=1 id=3 topic=sensors/t1 5 bytes`.
    public var info: String
    /// On a response: the packet of its request and the latency.
    public var replyTo: AppReply?
    /// Bad application data (JSON that does not parse, an MQTT length that overruns), in
    /// words; the message is still reported (type says what could be read, or "malformed").
    public var problem: String?

    public init(proto: AppProtocol, subprotocol: String? = nil, type: String, id: AppValue = .null,
                fields: [AppField] = [], info: String, replyTo: AppReply? = nil, problem: String? = nil) {
        self.proto = proto
        self.subprotocol = subprotocol
        self.type = type
        self.id = id
        self.fields = fields
        self.info = info
        self.replyTo = replyTo
        self.problem = problem
    }

    /// The value of a field by its JSON name (nil when absent).
    public func field(_ name: String) -> AppValue? {
        for f in fields where f.name == name { return f.value }
        return nil
    }
}

/// One request answered, for the summary's slowest requests and `stats` percentiles.
public struct AppLatency: Sendable, Equatable {
    public var proto: AppProtocol
    /// What the request was about: the JSON-RPC method, the Socket.IO event, the MQTT topic
    /// (or the packet type where it has no topic: SUBSCRIBE's filters joined by ",", PINGREQ),
    /// the GraphQL operation name (or "subscribe"), the STOMP command and destination.
    public var key: String
    /// The request's type and the response's type, e.g. "PUBLISH" → "PUBACK".
    public var requestType: String
    public var responseType: String
    public var requestPacket: Int
    public var responsePacket: Int
    public var latency: Int64
    /// Which side asked: true when the client sent the request.
    public var fromClient: Bool

    public init(proto: AppProtocol, key: String, requestType: String, responseType: String,
                requestPacket: Int, responsePacket: Int, latency: Int64, fromClient: Bool) {
        self.proto = proto
        self.key = key
        self.requestType = requestType
        self.responseType = responseType
        self.requestPacket = requestPacket
        self.responsePacket = responsePacket
        self.latency = latency
        self.fromClient = fromClient
    }
}
