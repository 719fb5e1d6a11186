import CIsal

/// Whole-message raw DEFLATE with Intel ISA-L's inflate, about twice as fast as zlib's on
/// WebSocket messages (2.1x on the benchmark's messages, in a C test with the same 16 KiB output
/// steps). One instance serves every connection of an analyzer (its state is 85 KiB): it
/// inflates a message whose compressed bytes are all at hand, from a fresh stream, and holds
/// nothing afterwards.
///
/// It answers for a message only where its answer is certainly zlib's: the stream ended
/// cleanly (at a block boundary after the 00 00 ff ff tail, or after a final block), or the
/// caller stopped it. An error, or an end inside a block (a cut or malformed stream), is
/// `.unsettled`: the caller undoes what it was given and inflates the message again with zlib,
/// whose messages and whose output before an error stay the ones reported.
final class FastInflater {
    enum Outcome: Equatable {
        /// The message inflated to its end (or to a final block), or the caller stopped it.
        case done
        /// ISA-L failed, or the stream ended inside a block: ask zlib.
        case unsettled
    }

    /// Messages answered here, and those handed back to zlib (the tests check both happen).
    private(set) var settled = 0
    private(set) var unsettled = 0

    private let state: UnsafeMutablePointer<inflate_state>
    private let output: UnsafeMutableRawPointer
    private static let outputSize = 16 << 10
    /// The LZ77 window: what a later message may refer back to (context takeover).
    static let windowSize = 32 << 10

    /// The message's last output (at least its last `windowSize` bytes, when `keepWindow`):
    /// `recent[recentStart..<recentEnd]`, in a buffer of twice the window.
    private let recent: UnsafeMutableRawPointer
    private var recentStart = 0
    private var recentEnd = 0

    init() {
        state = .allocate(capacity: 1)
        isal_inflate_init(state)
        output = .allocate(byteCount: Self.outputSize, alignment: 16)
        recent = .allocate(byteCount: 2 * Self.windowSize, alignment: 16)
    }

    deinit {
        state.deallocate()
        output.deallocate()
        recent.deallocate()
    }

    /// Inflates `input` (a message without its 00 00 ff ff tail, RFC 7692 7.2.2) from a fresh
    /// stream whose window holds `dictionary` (context takeover: what the direction's stream
    /// produced before), handing each piece produced to `deliver`, which returns false to stop.
    /// `keepWindow`: remember the output's end, for `window(after:)`.
    func inflateMessage(_ input: UnsafeRawBufferPointer, dictionary: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                        keepWindow: Bool = false, deliver: (UnsafeRawBufferPointer) -> Bool) -> Outcome {
        isal_inflate_reset(state)
        if dictionary.count > 0, let base = dictionary.baseAddress {
            guard isal_inflate_set_dict(state, UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self)),
                                        UInt32(dictionary.count)) == 0 else {
                unsettled += 1
                return .unsettled
            }
        }
        recentStart = 0
        recentEnd = 0
        let outcome = keepWindow
            ? inflate(input) { piece in remember(piece); return deliver(piece) }
            : inflate(input, deliver)
        if outcome == .done { settled += 1 } else { unsettled += 1 }
        return outcome
    }

    /// The window after the last message (inflated with `keepWindow` from `dictionary`): the
    /// last `windowSize` bytes of the dictionary followed by the output, as two parts in order.
    func window(after dictionary: UnsafeRawBufferPointer) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        let fromOutput = min(recentEnd - recentStart, Self.windowSize)
        let fromDictionary = min(dictionary.count, Self.windowSize - fromOutput)
        return (UnsafeRawBufferPointer(rebasing: dictionary[(dictionary.count - fromDictionary)...]),
                UnsafeRawBufferPointer(start: recent + recentEnd - fromOutput, count: fromOutput))
    }

    private func remember(_ piece: UnsafeRawBufferPointer) {
        let n = piece.count
        guard n > 0, let base = piece.baseAddress else { return }
        if n >= Self.windowSize {
            recent.copyMemory(from: base + n - Self.windowSize, byteCount: Self.windowSize)
            recentStart = 0
            recentEnd = Self.windowSize
            return
        }
        if recentEnd + n > 2 * Self.windowSize {
            let keep = min(recentEnd - recentStart, Self.windowSize - n)
            recent.copyMemory(from: recent + recentEnd - keep, byteCount: keep)  // no overlap: keep < window <= recentEnd - keep
            recentStart = 0
            recentEnd = keep
        }
        (recent + recentEnd).copyMemory(from: base, byteCount: n)
        recentEnd += n
    }

    private func inflate(_ input: UnsafeRawBufferPointer, _ deliver: (UnsafeRawBufferPointer) -> Bool) -> Outcome {
        var tail: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0xFF, 0xFF)
        if input.count > 0, let base = input.baseAddress {
            let outcome = run(base, input.count, deliver)
            if outcome != nil { return outcome! }
        }
        if let outcome = withUnsafeBytes(of: &tail, { run($0.baseAddress!, 4, deliver) }) { return outcome }
        // (Field by field: a copy of the state would move its 85 KiB.)
        let block = state.pointee.block_state
        let atBoundary = (block == ISAL_BLOCK_HDR || block == ISAL_BLOCK_NEW_HDR)
            && state.pointee.read_in_length == 0 && state.pointee.tmp_in_size == 0
        return atBoundary ? .done : .unsettled
    }

    /// Feeds `count` bytes. nil when all were taken and the stream goes on; an outcome when the
    /// message is settled (stopped, final block) or unsettled (error, no progress).
    private func run(_ base: UnsafeRawPointer, _ count: Int, _ deliver: (UnsafeRawBufferPointer) -> Bool) -> Outcome? {
        state.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        state.pointee.avail_in = UInt32(count)
        // Each round either fills the output (delivered) or takes all the input: a round with
        // neither is a state ISA-L cannot leave, handed to zlib. Bounded by the output rounds.
        while true {
            let before = state.pointee.avail_in
            state.pointee.next_out = output.assumingMemoryBound(to: UInt8.self)
            state.pointee.avail_out = UInt32(Self.outputSize)
            let status = isal_inflate(state)
            let made = Self.outputSize - Int(state.pointee.avail_out)
            if status < 0 { return .unsettled }
            if made > 0 && !deliver(UnsafeRawBufferPointer(start: output, count: made)) { return .done }
            if state.pointee.block_state == ISAL_BLOCK_FINISH { return .done }  // a final block: the rest is ignored, as zlib does
            if state.pointee.avail_out == 0 { continue }
            if state.pointee.avail_in == 0 { return nil }
            if made == 0 && state.pointee.avail_in == before { return .unsettled }
        }
    }
}
