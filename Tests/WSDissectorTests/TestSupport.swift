// Test helpers. The byte arrays in these tests are built by hand on purpose: they are unit and
// malformed-input cases (every violation code, split positions, huge lengths) that real peers
// will not produce. Real-peer fixtures are tested elsewhere.
@testable import WSDissector

struct RecordedMessage: Equatable {
    var opcode: UInt8
    var length: UInt64
    var wireLength: UInt64
    var compressed: Bool
    var frames: Int
    var complete: Bool
    var utf8Valid: Bool?
    var payload: [UInt8]
    var truncated: Bool
    var inflateError: String?
}

struct RecordedFrame: Equatable {
    var side: Side
    var fin: Bool
    var rsv: UInt8
    var opcode: UInt8
    var masked: Bool
    var payloadLength: UInt64
    var headerLength: Int
    var payload: [UInt8]
    var truncated: Bool
    var closeCode: UInt16?
    var closeReason: String?
    var message: RecordedMessage?
    var violations: [ViolationCode]
    var violationMessages: [String]
    var firstPacket: Int
    var packet: Int
}

enum Recorded {
    case request(HTTPRequestInfo)
    case response(HTTPResponseInfo)
    case frame(RecordedFrame)
    case progress(Progress)
    case tls(TLSInfo)
    case opaque(OpaqueInfo)
    case gap(GapInfo)
    case violation(Violation)
}

/// Feeds a session and keeps copies of everything it emitted.
final class Recorder {
    let session: WebSocketSession
    var events: [Recorded] = []
    var packet = 0

    init(limits: DissectorLimits = DissectorLimits(), midstream: Bool = false) {
        session = WebSocketSession(limits: limits, midstream: midstream)
    }

    func record(_ event: DissectorEvent, packet: Int) {
        switch event {
        case .httpRequest(let r): events.append(.request(r))
        case .httpResponse(let r): events.append(.response(r))
        case .progress(let p): events.append(.progress(p))
        case .tls(let t): events.append(.tls(t))
        case .opaque(let o): events.append(.opaque(o))
        case .gap(let g): events.append(.gap(g))
        case .violation(let v): events.append(.violation(v))
        case .frame(let f):
            let m = f.message.map {
                RecordedMessage(opcode: $0.opcode, length: $0.length, wireLength: $0.wireLength, compressed: $0.compressed,
                                frames: $0.frames, complete: $0.complete, utf8Valid: $0.utf8Valid,
                                payload: Array($0.payload), truncated: $0.truncated, inflateError: $0.inflateError)
            }
            events.append(.frame(RecordedFrame(
                side: f.side, fin: f.fin, rsv: f.rsv, opcode: f.opcode, masked: f.masked, payloadLength: f.payloadLength,
                headerLength: f.headerLength, payload: Array(f.payload), truncated: f.payloadTruncated,
                closeCode: f.closeCode, closeReason: f.closeReason, message: m, violations: f.violations.map(\.code),
                violationMessages: f.violations.map(\.message), firstPacket: f.firstPacket, packet: packet)))
        }
    }

    /// Feeds `bytes` as one packet; returns the number of events it produced.
    @discardableResult
    func feed(_ bytes: [UInt8], _ side: Side) -> Int {
        packet += 1
        let before = events.count
        let number = packet
        bytes.withUnsafeBytes { session.receive($0, from: side, packet: number) { record($0, packet: number) } }
        return events.count - before
    }

    func feed(_ text: String, _ side: Side) { feed(Array(text.utf8), side) }

    func gap(_ size: UInt64, _ side: Side) {
        packet += 1
        let number = packet
        session.gap(size, from: side, packet: number) { record($0, packet: number) }
    }

    func end(_ side: Side) {
        packet += 1
        let number = packet
        session.end(from: side, packet: number) { record($0, packet: number) }
    }

    var frames: [RecordedFrame] { events.compactMap { if case .frame(let f) = $0 { f } else { nil } } }
    var messages: [RecordedMessage] { frames.compactMap(\.message) }
    var gaps: [GapInfo] { events.compactMap { if case .gap(let g) = $0 { g } else { nil } } }
    var requests: [HTTPRequestInfo] { events.compactMap { if case .request(let r) = $0 { r } else { nil } } }
    var responses: [HTTPResponseInfo] { events.compactMap { if case .response(let r) = $0 { r } else { nil } } }
    var tlsEvents: [TLSInfo] { events.compactMap { if case .tls(let t) = $0 { t } else { nil } } }
    var opaque: [OpaqueInfo] { events.compactMap { if case .opaque(let o) = $0 { o } else { nil } } }

    /// Every violation code, wherever it was attached.
    var violations: [ViolationCode] {
        events.flatMap { event -> [ViolationCode] in
            switch event {
            case .request(let r): return r.violations.map(\.code)
            case .response(let r): return r.violations.map(\.code)
            case .frame(let f): return f.violations
            case .violation(let v): return [v.code]
            default: return []
            }
        }
    }
}

enum Length { case auto, sixteen, sixtyFour }

/// A hand-built frame. `mask: nil` sends it unmasked.
func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: [UInt8]? = [0x37, 0xfa, 0x21, 0x3d],
           length: Length = .auto, declaredLength: UInt64? = nil) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0xF)]
    let n = declaredLength ?? UInt64(payload.count)
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    switch length {
    case .auto where n < 126: out.append(maskBit | UInt8(n))
    case .auto where n <= 0xFFFF:
        out.append(maskBit | 126)
        out += [UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
    case .sixteen:
        out.append(maskBit | 126)
        out += [UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
    default:
        out.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(n >> UInt64(shift) & 0xFF)) }
    }
    if let mask {
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    } else {
        out += payload
    }
    return out
}

func clientFrame(_ opcode: UInt8, _ text: String, fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
    frame(opcode, Array(text.utf8), fin: fin, rsv: rsv)
}

func serverFrame(_ opcode: UInt8, _ text: String, fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
    frame(opcode, Array(text.utf8), fin: fin, rsv: rsv, mask: nil)
}

func closeBody(_ code: UInt16, _ reason: String = "") -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
}

let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="
let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

func upgradeRequest(extensions: String? = nil, protocols: String? = nil, key: String? = sampleKey,
                    version: String = "13") -> String {
    var text = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    if let key { text += "Sec-WebSocket-Key: \(key)\r\n" }
    text += "Origin: http://example.com\r\nSec-WebSocket-Version: \(version)\r\n"
    if let extensions { text += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
    if let protocols { text += "Sec-WebSocket-Protocol: \(protocols)\r\n" }
    return text + "\r\n"
}

func upgradeResponse(extensions: String? = nil, protocols: String? = nil, accept: String? = sampleAccept) -> String {
    var text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    if let accept { text += "Sec-WebSocket-Accept: \(accept)\r\n" }
    if let extensions { text += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
    if let protocols { text += "Sec-WebSocket-Protocol: \(protocols)\r\n" }
    return text + "\r\n"
}

/// A session past a clean handshake.
func upgraded(extensions: String? = nil, limits: DissectorLimits = DissectorLimits()) -> Recorder {
    let r = Recorder(limits: limits)
    r.feed(upgradeRequest(extensions: extensions), .client)
    r.feed(upgradeResponse(extensions: extensions), .server)
    r.events.removeAll()
    return r
}

func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}
