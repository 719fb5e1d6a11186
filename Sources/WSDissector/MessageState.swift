/// The message being assembled on one direction: continuation frames joined, payload
/// decompressed (when RSV1 marked it), UTF-8 checked, a bounded prefix kept.
struct MessageState {
    var active = false
    var opcode: UInt8 = 0
    var compressed = false
    var frames = 0
    var wireLength: UInt64 = 0
    /// Bytes after decompression, counted also past every cap.
    var length: UInt64 = 0
    var complete = true
    var truncated = false
    var tooBig = false
    /// Inflating stopped (error, cap or lost bytes): the rest is only counted on the wire.
    var inflateStopped = false
    var inflateError: String?
    var validator = UTF8Validator()
    var utf8Reported = false
    /// Bytes were lost (gap, end of stream): UTF-8 validity is unknown.
    var bytesLost = false
    var retention: [UInt8] = []

    /// Starts a new message, keeping the retention buffer's capacity.
    mutating func start(opcode: UInt8, compressed: Bool, wireLength: UInt64) {
        active = true
        self.opcode = opcode
        self.compressed = compressed
        frames = 1
        self.wireLength = wireLength
        length = 0
        complete = true
        truncated = false
        tooBig = false
        inflateStopped = false
        inflateError = nil
        validator.reset()
        utf8Reported = false
        bytesLost = false
        retention.removeAll(keepingCapacity: true)
    }

    /// Forgets the message, releasing its retention buffer when it grew past 4 KiB or when
    /// nothing is kept any more (`keep`: the bytes a message may keep now): an idle connection
    /// holds at most a small buffer, and one whose messages stopped being read (the application
    /// stage gave up detecting) none. (A buffer of the largest message so far, kept for each
    /// side of every connection the App stage was reading: releasing it took the heap peak of a
    /// `--summary` of the 100 MiB benchmark capture from 21.4 to 18.7 MB, massif.)
    mutating func clear(keep: Int) {
        active = false
        if keep == 0 || retention.capacity > 4096 {
            if retention.capacity > 0 { retention = [] }
        } else {
            retention.removeAll(keepingCapacity: true)
        }
    }

    var kindName: String { opcode == 1 ? "Text" : opcode == 2 ? "Binary" : opcodeName(opcode) }
}
