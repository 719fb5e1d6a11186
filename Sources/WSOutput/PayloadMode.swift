/// How much payload the output carries.
public enum PayloadMode: String, Sendable, CaseIterable {
    /// About 60 characters (the text view's default).
    case preview
    /// Whole payloads up to `--max-payload` (the JSON default).
    case full
    /// No payload fields at all.
    case none
}

/// Output settings shared by the renderers.
public struct RenderOptions: Sendable {
    public var payloads: PayloadMode
    /// Bytes of payload kept per frame or message in `full` mode.
    public var maxPayload: Int
    /// Characters in previews.
    public var previewLimit: Int
    public var timeFormat: TimeFormat
    public var color: Bool
    /// Decimal places of times (6 for microsecond captures, 9 for nanosecond ones).
    public var timeDecimals: Int
    /// Only this stream's events and summary.
    public var stream: Int?
    /// A capture read from several files: their paths, and the file of each packet number
    /// (JSON events then say `file`, an index into the capture object's `files`).
    public var files: [String] = []
    public var fileOfPacket: (@Sendable (Int) -> Int)?
    /// The display filter (-Y) the rows were chosen by, as typed (JSON: `capture.filter`).
    public var displayFilter: String?

    public init(payloads: PayloadMode = .preview, maxPayload: Int = 1 << 20, previewLimit: Int = 60,
                timeFormat: TimeFormat = .relative, color: Bool = false, timeDecimals: Int = 6, stream: Int? = nil) {
        self.payloads = payloads
        self.maxPayload = maxPayload
        self.previewLimit = previewLimit
        self.timeFormat = timeFormat
        self.color = color
        self.timeDecimals = timeDecimals
        self.stream = stream
    }

    /// Bytes of each payload the dissector should keep for these settings.
    public var retention: Int {
        switch payloads {
        case .none: return 0
        case .preview: return max(previewLimit * 4, 256)
        case .full: return maxPayload
        }
    }
}

/// A prefix of `bytes` no longer than `limit` that does not split a UTF-8 sequence.
func utf8SafePrefix(_ bytes: UnsafeRawBufferPointer, _ limit: Int) -> UnsafeRawBufferPointer {
    guard bytes.count > limit else { return bytes }
    var end = limit
    while end > 0 && bytes[end] & 0xc0 == 0x80 { end -= 1 }
    return UnsafeRawBufferPointer(rebasing: bytes[0..<end])
}
