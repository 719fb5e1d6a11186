// The values the WebSocket dissector emits. Payload views (`UnsafeRawBufferPointer`) inside an
// event borrow the dissector's buffers: they are valid only during the `emit` call that hands
// the event out. Copy what must outlive it.

/// Which peer of a connection sent some bytes.
public enum Side: UInt8, Sendable, Hashable {
    case client
    case server

    /// The other peer.
    public var peer: Side { self == .client ? .server : .client }

    /// "client" or "server", as the summaries and JSON spell it.
    public var name: String { self == .client ? "client" : "server" }
}

/// Caps on what one connection may make the dissector hold. Every cap has a reported consequence.
public struct DissectorLimits: Sendable, Equatable {
    /// Bytes of each frame's and each message's payload kept for display (`payload` views).
    public var payloadRetention: Int
    /// Largest HTTP header block accepted before giving up on HTTP for that direction.
    public var maxHeaderBlock: Int
    /// Largest message (after decompression) counted as one message; past it the message is
    /// reported as truncated and the rest is only counted.
    public var maxMessageSize: UInt64
    /// Largest decompressed size inflated per message (deflate-bomb cap).
    public var maxDecompressedSize: UInt64
    /// Compressed messages of one frame are inflated whole by ISA-L (`FastInflater`); false
    /// sends every message through zlib as its bytes come. The output is the same either way
    /// (the tests compare the two).
    public var wholeMessageInflate: Bool
    /// Compressed frames shorter than this (bytes on the wire) go through zlib as they come even
    /// with `wholeMessageInflate`: ISA-L builds larger decoding tables for each block than zlib
    /// does, which costs more than zlib's slower decoding on a small message. With context
    /// takeover, ISA-L also takes zlib's 32 KiB window and hands it back.
    public var wholeMessageMinimum: UInt64

    public init(payloadRetention: Int = 1 << 20, maxHeaderBlock: Int = 64 << 10,
                maxMessageSize: UInt64 = 256 << 20, maxDecompressedSize: UInt64 = 64 << 20,
                wholeMessageInflate: Bool = true, wholeMessageMinimum: UInt64 = 1024) {
        self.payloadRetention = payloadRetention
        self.maxHeaderBlock = maxHeaderBlock
        self.maxMessageSize = maxMessageSize
        self.maxDecompressedSize = maxDecompressedSize
        self.wholeMessageInflate = wholeMessageInflate
        self.wholeMessageMinimum = wholeMessageMinimum
    }
}

/// One event of a connection's application layer.
public enum DissectorEvent {
    /// A complete HTTP request header block (Upgrade or not).
    case httpRequest(HTTPRequestInfo)
    /// A complete HTTP response header block.
    case httpResponse(HTTPResponseInfo)
    /// A WebSocket frame completed by this packet.
    case frame(FrameInfo)
    /// This packet carried part of a frame (or HTTP header block) that is not complete yet.
    case progress(Progress)
    /// A TLS ClientHello / ServerHello, or TLS records after them.
    case tls(TLSInfo)
    /// Bytes the dissector does not interpret (HTTP body, unknown protocol, TLS records).
    case opaque(OpaqueInfo)
    /// Bytes lost in the capture, with what they belonged to.
    case gap(GapInfo)
    /// A rule broken outside any frame (e.g. header block too large, garbage between frames).
    case violation(Violation)
}

/// An HTTP header field as it appeared on the wire.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// One extension of a Sec-WebSocket-Extensions header, with its parameters.
public struct ExtensionOffer: Sendable, Equatable {
    public var name: String
    public var parameters: [ExtensionParameter]
    public init(name: String, parameters: [ExtensionParameter]) { self.name = name; self.parameters = parameters }
}

/// `name` or `name=value` in an extension offer.
public struct ExtensionParameter: Sendable, Equatable {
    public var name: String
    public var value: String?
    public init(name: String, value: String?) { self.name = name; self.value = value }
}

/// Negotiated permessage-deflate parameters (RFC 7692 section 7.1).
public struct DeflateParameters: Sendable, Equatable {
    public var serverNoContextTakeover = false
    public var clientNoContextTakeover = false
    public var serverMaxWindowBits: Int? = nil
    public var clientMaxWindowBits: Int? = nil
    public init() {}
}

public struct HTTPRequestInfo: Sendable {
    public var side: Side
    public var method: String
    public var target: String
    public var version: String
    public var headers: [HTTPHeader]
    /// `Upgrade: websocket` and `Connection: upgrade` present.
    public var isWebSocketUpgrade: Bool
    public var host: String?
    public var origin: String?
    public var key: String?
    public var webSocketVersion: String?
    public var offeredProtocols: [String]
    public var offeredExtensions: [ExtensionOffer]
    public var violations: [Violation]
}

public struct HTTPResponseInfo: Sendable {
    public var side: Side
    public var version: String
    public var status: Int
    public var reason: String
    public var headers: [HTTPHeader]
    /// The connection switched to WebSocket framing (101 with Upgrade: websocket).
    public var upgraded: Bool
    /// Sec-WebSocket-Accept matches the request's key; nil when there is nothing to check.
    public var acceptValid: Bool?
    public var selectedProtocol: String?
    public var selectedExtensions: [ExtensionOffer]
    /// Set when permessage-deflate was negotiated.
    public var deflate: DeflateParameters?
    public var violations: [Violation]
}

/// One complete WebSocket frame.
public struct FrameInfo {
    public var side: Side
    public var fin: Bool
    /// RSV1 = 4, RSV2 = 2, RSV3 = 1, as on the wire.
    public var rsv: UInt8
    public var opcode: UInt8
    public var masked: Bool
    public var maskKey: UInt32?
    /// The length as declared in the header.
    public var payloadLength: UInt64
    public var headerLength: Int
    /// Unmasked payload prefix, at most `DissectorLimits.payloadRetention` bytes.
    public var payload: UnsafeRawBufferPointer
    /// True when `payload` holds less than `payloadLength` bytes.
    public var payloadTruncated: Bool
    /// Close frames: status code and reason, when the body has them.
    public var closeCode: UInt16?
    public var closeReason: String?
    /// Set on the frame that completes a text or binary message.
    public var message: MessageInfo?
    /// Packet number where the frame's first byte was seen.
    public var firstPacket: Int
    /// Packet number whose bytes completed the frame: the packet the frame is reported on,
    /// except for bytes held while a mid-stream connection was being recognised.
    public var completedPacket: Int
    public var violations: [Violation]
}

/// A completed text or binary message (continuations joined, decompressed).
public struct MessageInfo {
    public var side: Side
    /// 1 (text) or 2 (binary).
    public var opcode: UInt8
    /// Length after decompression (counted also past the retention).
    public var length: UInt64
    /// Sum of the frames' payload lengths on the wire.
    public var wireLength: UInt64
    public var compressed: Bool
    public var frames: Int
    /// False when bytes were lost to a gap, cut by a cap, or could not be inflated.
    public var complete: Bool
    /// Text messages: whether the (decompressed) payload is valid UTF-8. Nil for binary.
    public var utf8Valid: Bool?
    /// Message payload prefix (decompressed), at most `payloadRetention` bytes.
    public var payload: UnsafeRawBufferPointer
    public var truncated: Bool
    /// Why the message could not be inflated, if it could not.
    public var inflateError: String?
}

/// A packet carried part of a unit that is not complete yet.
public struct Progress: Sendable {
    public enum Unit: Sendable { case frame(opcode: UInt8), frameHeader, httpHeader }
    public var side: Side
    public var unit: Unit
    /// Bytes of the unit seen so far (payload bytes for frames).
    public var received: UInt64
    /// Total expected, when known (frame payload length).
    public var expected: UInt64?
}

public struct TLSInfo: Sendable {
    public enum Kind: Sendable { case clientHello, serverHello, records }
    public var side: Side
    public var kind: Kind
    public var serverName: String?
    public var alpn: [String]
    public var bytes: Int
}

public struct OpaqueInfo: Sendable {
    public enum Kind: Sendable {
        case httpBody, unknown, afterClose
        /// Held until the connection's protocol is recognised (mid-stream); interpreted later.
        case held
    }
    public var side: Side
    public var kind: Kind
    public var bytes: Int
}

public struct GapInfo: Sendable {
    public var side: Side
    public var size: UInt64
    /// What the lost bytes belonged to, in words (e.g. "payload of Binary frame (1448 of 65536 bytes lost)").
    public var lost: String
    /// How parsing resumed.
    public var resync: String
}

/// A stable code for each rule of RFC 6455 / RFC 7692 a peer broke.
public enum ViolationCode: String, Sendable, CaseIterable {
    // framing
    case clientFrameUnmasked = "client-frame-unmasked"
    case serverFrameMasked = "server-frame-masked"
    case reservedOpcode = "reserved-opcode"
    case rsvWithoutExtension = "rsv-without-extension"
    case nonMinimalLength = "non-minimal-length"
    case lengthHighBitSet = "length-high-bit-set"
    // control frames
    case controlFrameTooLong = "control-frame-too-long"
    case controlFrameFragmented = "control-frame-fragmented"
    case controlFrameCompressed = "control-frame-compressed"
    // messages
    case invalidUTF8 = "invalid-utf8"
    case unexpectedContinuation = "unexpected-continuation"
    case missingContinuation = "missing-continuation"
    case rsv1OnContinuation = "rsv1-on-continuation"
    case inflateFailed = "inflate-failed"
    /// A back-reference reaches beyond the LZ77 window the handshake allowed this sender.
    case deflateWindowExceeded = "deflate-window-exceeded"
    case messageTooBig = "message-too-big"
    // close
    case invalidCloseCode = "invalid-close-code"
    case closeBodyOneByte = "close-body-one-byte"
    case invalidCloseReason = "invalid-close-reason"
    case dataAfterClose = "data-after-close"
    // handshake
    case badAcceptKey = "bad-accept-key"
    case missingAcceptKey = "missing-accept-key"
    case badWebSocketVersion = "bad-websocket-version"
    case missingKey = "missing-key"
    case extensionNotOffered = "extension-not-offered"
    case protocolNotOffered = "protocol-not-offered"
    case dataBeforeUpgrade = "data-before-upgrade"
    case headerTooLarge = "header-too-large"
    case garbage = "garbage"
}

/// One broken rule, with words for humans.
public struct Violation: Sendable, Equatable {
    public var code: ViolationCode
    public var message: String
    public init(_ code: ViolationCode, _ message: String) { self.code = code; self.message = message }
}
