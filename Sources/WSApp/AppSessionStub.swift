// TEMPORARY stand-in for the App stage's session while it is written (branch y18 only).
public final class AppSession {
    public init(subprotocol: String?, path: String?, decodeAs: AppProtocol?) {}
    public func message(fromClient: Bool, text: Bool, payload: UnsafeRawBufferPointer, length: UInt64, payloadComplete: Bool,
                        packet: Int, time: Int64) -> [AppMessage] {
        guard text, payload.first == UInt8(ascii: "{") else { return [] }
        return [AppMessage(proto: .json, type: "object", fields: [AppField("value", .json(String(decoding: payload, as: UTF8.self)))],
                           info: "JSON " + String(decoding: payload.prefix(40), as: UTF8.self))]
    }
    public var wantsPayload: Bool { true }
    public var chosen: AppProtocol? { nil }
    public private(set) var latencies: [AppLatency] = []
    public private(set) var latenciesDropped = 0
    public var pendingRequests: Int { 0 }
}
