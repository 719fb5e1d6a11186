/// What a connection's payload was recognised as, and on what evidence: shown in the summary so
/// that a reader can judge a guess.
public struct Recognition: Sendable, Equatable {
    public enum Payload: String, Sendable { case websocket, tls, http, unknown }
    /// How the decision was made.
    public enum Method: String, Sendable {
        /// An HTTP Upgrade request and its 101 response were captured.
        case handshake
        /// A TLS ClientHello/ServerHello was captured.
        case tlsHello = "tls-hello"
        /// TLS record headers chaining across the stream (mid-stream).
        case tlsRecords = "tls-records"
        /// An HTTP request or status line.
        case httpStartLine = "http-start-line"
        /// Consecutive well-formed WebSocket frames consuming the stream exactly (mid-stream).
        case frames
        /// Nothing conclusive.
        case none
    }
    public var proto: Payload
    public var method: Method
    /// The evidence in words.
    public var detail: String
    public init(_ proto: Payload, _ method: Method, _ detail: String) {
        self.proto = proto
        self.method = method
        self.detail = detail
    }
}

/// Bytes held for recognition across every connection of a capture: one per capture, shared by
/// its sessions (like `UnmaskScratch`). When it is full, a connection decides on the evidence it
/// has instead of holding more.
public final class RecognitionBudget {
    public let limit: Int
    public private(set) var held = 0
    /// The most bytes held at once (a sharded run checks that no shard's share could have bound).
    public private(set) var peak = 0

    public init(limit: Int = 32 << 20) { self.limit = limit }

    func take(_ n: Int) -> Bool {
        guard held + n <= limit else { return false }
        held += n
        if held > peak { peak = held }
        return true
    }

    func give(_ n: Int) { held -= n }
}

/// Decides what a connection picked up mid-stream carries, from the bytes of both directions,
/// before any of them is interpreted: nothing is called WebSocket on weak evidence.
///
/// Each direction's bytes are held (at most `maxHeld` bytes and `maxChunks` receive calls) with
/// the packet and offset of every chunk, until one of these holds:
/// - **HTTP**: a chunk starts with an HTTP/1.x request line (client) or status line (server);
/// - **TLS**: record headers (content type 20–23, version 3.0–3.4, length 1…2^14+2048) chain:
///   two complete records one after the other from any offset, or one that starts at a chunk
///   start and ends exactly at the end of the bytes at hand;
/// - **WebSocket**: in each direction, a chain of frames a conforming peer on that side would
///   send (`FrameHeader.isPlausible`: masked exactly from the client, no reserved opcode, RSV2/3
///   clear, control frames final and ≤ 125 bytes, minimal length < 2^31), whose final uncompressed
///   text frames are valid UTF-8 and whose close frames carry a code allowed on the wire, running
///   from a chunk start (or any offset of the first chunk, which may begin inside a frame) to the
///   exact end of the bytes at hand; at least `minimumFrames` frames in all, and no direction
///   whose bytes fit no chain at all.
/// Otherwise, when a cap is reached or the stream ends, the payload is **unknown**.
final class MidstreamRecognizer {
    static let maxHeld = 64 << 10
    static let maxChunks = 64
    static let minimumFrames = 3

    struct Chunk {
        var offset: Int
        var packet: Int
    }

    struct Held {
        var bytes: [UInt8] = []
        var chunks: [Chunk] = []
        var ended = false
        /// The last WebSocket evaluation of these bytes.
        var frames = FrameChain.none
    }

    enum FrameChain: Equatable {
        /// No bytes yet.
        case none
        /// `frames` frames from `start` ending exactly at the end of the bytes.
        case exact(start: Int, frames: Int, masked: Bool)
        /// A chain that runs past the end of the bytes (its last frame is incomplete).
        case running
        /// No plausible chain from any permitted start.
        case broken
    }

    enum Verdict {
        case http(side: Side, start: Int)
        case tls(side: Side, start: Int, records: Int)
        case websocket
        case unknown(String)
    }

    private(set) var client = Held()
    private(set) var server = Held()
    private let budget: RecognitionBudget

    init(budget: RecognitionBudget) { self.budget = budget }

    deinit { budget.give(client.bytes.count + server.bytes.count) }

    func held(_ side: Side) -> Held { side == .client ? client : server }

    /// Adds a chunk of `side`'s bytes; returns the decision once there is one.
    func add(_ bytes: UnsafeRawBufferPointer, from side: Side, packet: Int) -> Verdict? {
        guard budget.take(bytes.count) else {
            return webSocketVerdict() ?? .unknown("the capture-wide budget of \(budget.limit >> 20) MiB for bytes held during recognition was full" + framesWords())
        }
        var h = held(side)
        if side == .client { client = Held() } else { server = Held() }  // unique buffer while appending
        h.chunks.append(Chunk(offset: h.bytes.count, packet: packet))
        h.bytes.append(contentsOf: bytes)
        if let verdict = Self.protocolStart(h, side: side) {
            store(h, side)
            return verdict
        }
        h.frames = Self.frameChain(h, side: side)
        store(h, side)
        if let verdict = webSocketVerdict() { return verdict }
        if h.bytes.count >= Self.maxHeld || h.chunks.count >= Self.maxChunks {
            return .unknown("no protocol recognised in the first \(h.bytes.count) bytes (\(h.chunks.count) segments) from the \(side == .client ? "client" : "server")" + framesWords())
        }
        return nil
    }

    /// `side` sent its last byte: decides with what there is.
    func end(from side: Side) -> Verdict? {
        if side == .client { client.ended = true } else { server.ended = true }
        guard client.ended && server.ended || held(side.peer).bytes.isEmpty && held(side).ended else { return nil }
        if client.bytes.isEmpty && server.bytes.isEmpty { return nil }
        return webSocketVerdict()
            ?? .unknown("the stream ended before the evidence sufficed" + framesWords())
    }

    /// A capture gap in either direction: chains do not cross it, so decide on what came before.
    func interrupted() -> Verdict {
        webSocketVerdict() ?? .unknown("a capture gap came before the evidence sufficed" + framesWords())
    }

    private func store(_ h: Held, _ side: Side) {
        if side == .client { client = h } else { server = h }
    }

    private func webSocketVerdict() -> Verdict? {
        var total = 0
        for chain in [client.frames, server.frames] {
            switch chain {
            case .broken: return nil
            case .exact(_, let n, _): total += n
            case .none, .running: break
            }
        }
        return total >= Self.minimumFrames ? .websocket : nil
    }

    private func framesWords() -> String {
        func words(_ chain: FrameChain, _ name: String) -> String? {
            switch chain {
            case .exact(_, let n, _): return "\(n) plausible frame(s) from the \(name)"
            case .broken: return "bytes from the \(name) that are not frames"
            case .running: return "an unfinished frame from the \(name)"
            case .none: return nil
            }
        }
        let parts = [words(client.frames, "client"), words(server.frames, "server")].compactMap { $0 }
        return parts.isEmpty ? "" : "; seen: " + parts.joined(separator: ", ")
    }

    /// Words for a WebSocket decision, from the chains.
    func webSocketDetail() -> String {
        var parts: [String] = []
        for (chain, name) in [(client.frames, "client"), (server.frames, "server")] {
            if case .exact(let start, let n, let masked) = chain {
                parts.append("\(n) frame(s) from the \(name) (\(masked ? "masked" : "unmasked")"
                             + (start > 0 ? ", after \(start) bytes of an earlier frame" : "") + ")")
            }
        }
        return "recognised mid-stream: " + parts.joined(separator: " and ")
            + ", each side's frames consuming its bytes exactly"
    }

    // MARK: - Evidence

    /// HTTP or TLS in the bytes of one direction.
    static func protocolStart(_ h: Held, side: Side) -> Verdict? {
        h.bytes.withUnsafeBytes { raw -> Verdict? in
            for chunk in h.chunks {
                let rest = UnsafeRawBufferPointer(rebasing: raw[chunk.offset...])
                if looksLikeHTTPStartLine(rest, side: side) { return .http(side: side, start: chunk.offset) }
            }
            if let (start, records) = tlsChain(raw, chunkStarts: h.chunks.map(\.offset)) {
                return .tls(side: side, start: start, records: records)
            }
            return nil
        }
    }

    /// A complete HTTP/1.x start line: "METHOD target HTTP/1.x" (client) or "HTTP/1.x NNN" (server).
    static func looksLikeHTTPStartLine(_ bytes: UnsafeRawBufferPointer, side: Side) -> Bool {
        let limit = min(bytes.count, 8192)
        guard let lineEnd = (0..<limit).first(where: { bytes[$0] == 0x0A }) else { return false }
        let line = UnsafeRawBufferPointer(rebasing: bytes[..<lineEnd])
        func matches(_ text: String, at offset: Int) -> Bool {
            let t = Array(text.utf8)
            guard offset >= 0, offset + t.count <= line.count else { return false }
            return (0..<t.count).allSatisfy { line[offset + $0] == t[$0] }
        }
        if side == .server {
            guard matches("HTTP/1.", at: 0), line.count >= 12, line[8] == 0x20 else { return false }
            return (9..<12).allSatisfy { line[$0] >= 0x30 && line[$0] <= 0x39 }
        }
        guard HTTPHeaderParser.looksLikeRequest(line) == true else { return false }
        var end = line.count
        if end > 0 && line[end - 1] == 0x0D { end -= 1 }
        return matches(" HTTP/1.", at: end - 9) && line[end - 1] >= 0x30 && line[end - 1] <= 0x39
    }

    /// Largest TLS record length: 2^14 plus the 2048 bytes of expansion RFC 5246 allows.
    static let maxRecord = (1 << 14) + 2048

    /// Whether a valid TLS record header starts at `j`; returns the record's total length.
    static func tlsRecord(_ b: UnsafeRawBufferPointer, at j: Int) -> Int? {
        guard j + 5 <= b.count else { return nil }
        guard b[j] >= 20 && b[j] <= 23, b[j + 1] == 3, b[j + 2] <= 4 else { return nil }
        let length = Int(b[j + 3]) << 8 | Int(b[j + 4])
        guard length > 0 && length <= maxRecord else { return nil }
        return 5 + length
    }

    /// A chain of TLS records: the start and the number of complete records, when the chain is
    /// conclusive (see the type's comment).
    static func tlsChain(_ b: UnsafeRawBufferPointer, chunkStarts: [Int]) -> (Int, Int)? {
        let lastStart = min(b.count - 5, maxRecord + 5)
        guard lastStart >= 0 else { return nil }
        for j in 0...lastStart {
            guard let length = tlsRecord(b, at: j), j + length <= b.count else { continue }
            let end = j + length
            if end == b.count {
                if chunkStarts.contains(j) { return (j, 1) }
                continue
            }
            // Two valid headers exactly one record apart: random bytes do that about once in
            // 10^12 tries. Count the records the chain goes on with, for the words.
            guard tlsRecord(b, at: end) != nil else { continue }
            var records = 1
            var position = end
            while let next = tlsRecord(b, at: position), position + next <= b.count {
                records += 1
                position += next
            }
            return (j, records)
        }
        return nil
    }

    /// The best WebSocket frame chain of one direction's bytes.
    static func frameChain(_ h: Held, side: Side) -> FrameChain {
        guard !h.bytes.isEmpty else { return .none }
        return h.bytes.withUnsafeBytes { raw -> FrameChain in
            var starts = h.chunks.map(\.offset)
            // The first chunk may begin inside a frame sent before the capture.
            let firstEnd = h.chunks.count > 1 ? h.chunks[1].offset : raw.count
            if firstEnd > 1 { starts += Array(1..<min(firstEnd, 1 << 16)) }
            // The earliest start whose chain consumes the bytes exactly (most bytes explained).
            var running = false
            for start in starts.sorted() where start < raw.count {
                switch chain(raw, from: start, side: side) {
                case let .exact(s, n, m): return .exact(start: s, frames: n, masked: m)
                case .running: running = true
                default: break
                }
            }
            return running ? .running : .broken
        }
    }

    /// The chain of plausible, well-formed frames starting at `start`.
    static func chain(_ b: UnsafeRawBufferPointer, from start: Int, side: Side) -> FrameChain {
        var position = start
        var frames = 0
        while true {
            if position == b.count {
                return frames > 0 ? .exact(start: start, frames: frames, masked: side == .client) : .broken
            }
            guard position + 2 <= b.count else { return .running }
            let headerLength = FrameHeader.length(byte1: b[position + 1])
            guard position + headerLength <= b.count else { return .running }
            let header = FrameHeader.decode(b.baseAddress! + position)
            guard header.isPlausible(from: side) else { return .broken }
            let end = UInt64(position + headerLength) + header.payloadLength
            guard end <= UInt64(b.count) else { return .running }
            let payload = UnsafeRawBufferPointer(rebasing: b[(position + headerLength)..<Int(end)])
            guard wellFormed(header, payload) else { return .broken }
            frames += 1
            position = Int(end)
        }
    }

    /// Payload checks a conforming peer passes: final uncompressed text is UTF-8; a close body
    /// is empty or a code allowed on the wire with a UTF-8 reason.
    static func wellFormed(_ header: FrameHeader, _ payload: UnsafeRawBufferPointer) -> Bool {
        let checksText = header.opcode == 1 && header.fin && header.rsv & 0x4 == 0
        guard checksText || header.opcode == 8 else { return true }
        var bytes = [UInt8](payload)
        if header.masked && !bytes.isEmpty {
            bytes.withUnsafeMutableBytes { out in
                _ = unmask(payload.baseAddress!, into: out.baseAddress!,
                           count: out.count, mask: header.maskBytes, phase: 0)
            }
        }
        if header.opcode == 8 {
            if bytes.isEmpty { return true }
            guard bytes.count >= 2, closeCodeAllowedOnWire(UInt16(bytes[0]) << 8 | UInt16(bytes[1])) else { return false }
            return bytes[2...].withUnsafeBytes { UTF8Validator.isValid($0) }
        }
        return bytes.withUnsafeBytes { UTF8Validator.isValid($0) }
    }
}
