/// A SACK block: [left, right) in sequence space.
public struct SACKBlock: Sendable, Hashable {
    public var left: UInt32
    public var right: UInt32
}

/// The TCP options wstrace understands. Stored inline: no heap use per packet.
public struct TCPOptions: Sendable, Hashable {
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted = false
    public var timestamp: (value: UInt32, echo: UInt32)? {
        get { hasTimestamp ? (tsValue, tsEcho) : nil }
        set {
            hasTimestamp = newValue != nil
            tsValue = newValue?.value ?? 0
            tsEcho = newValue?.echo ?? 0
        }
    }
    /// Up to four SACK blocks.
    public private(set) var sackCount = 0
    private var sack0 = SACKBlock(left: 0, right: 0), sack1 = SACKBlock(left: 0, right: 0)
    private var sack2 = SACKBlock(left: 0, right: 0), sack3 = SACKBlock(left: 0, right: 0)
    private var hasTimestamp = false
    private var tsValue: UInt32 = 0
    private var tsEcho: UInt32 = 0
    /// The option bytes were cut or malformed; what came before is kept.
    public var malformed = false

    public init() {}

    public var sackBlocks: [SACKBlock] {
        Array([sack0, sack1, sack2, sack3].prefix(sackCount))
    }

    mutating func appendSACK(_ block: SACKBlock) {
        switch sackCount {
        case 0: sack0 = block
        case 1: sack1 = block
        case 2: sack2 = block
        case 3: sack3 = block
        default: return
        }
        sackCount += 1
    }

    /// Parses the options area of a TCP header.
    public init(parsing bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i < bytes.count {
            let kind = bytes[i]
            if kind == 0 { break }  // end of options
            if kind == 1 { i += 1; continue }  // no-op
            guard i + 1 < bytes.count else { malformed = true; break }
            let length = Int(bytes[i + 1])
            guard length >= 2, i + length <= bytes.count else { malformed = true; break }
            switch (kind, length) {
            case (2, 4): mss = bytes.u16(i + 2)
            case (3, 3): windowScale = bytes[i + 2]
            case (4, 2): sackPermitted = true
            case (5, _) where (length - 2) % 8 == 0:
                var j = i + 2
                while j + 8 <= i + length {
                    appendSACK(SACKBlock(left: bytes.u32(j), right: bytes.u32(j + 4)))
                    j += 8
                }
            case (8, 10):
                timestamp = (bytes.u32(i + 2), bytes.u32(i + 6))
            default: break
            }
            i += length
        }
    }

    public static func == (a: TCPOptions, b: TCPOptions) -> Bool {
        a.mss == b.mss && a.windowScale == b.windowScale && a.sackPermitted == b.sackPermitted
            && a.sackBlocks == b.sackBlocks && a.hasTimestamp == b.hasTimestamp
            && a.tsValue == b.tsValue && a.tsEcho == b.tsEcho && a.malformed == b.malformed
    }

    public func hash(into h: inout Hasher) {
        h.combine(mss); h.combine(windowScale); h.combine(sackPermitted); h.combine(tsValue)
    }
}
