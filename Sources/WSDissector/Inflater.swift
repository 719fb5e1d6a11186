import CZlib

/// Why inflating failed.
struct InflateError: Error, Sendable, Equatable {
    var message: String
}

/// Raw DEFLATE decompression for permessage-deflate (RFC 7692), one per direction. The window
/// is kept across messages (context takeover) until `reset()`. Output goes through a fixed
/// 16 KiB scratch buffer: the decompressed size is never allocated. The buffer holds nothing
/// between calls (each piece is handed on before the next is made), so the inflaters of one
/// analyzer share theirs (`UnmaskScratch.inflateOutput`): with context takeover every
/// direction keeps an inflater between messages, and its own buffer was a third of that.
final class Inflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let scratch: UnsafeMutableRawPointer
    private let ownsScratch: Bool
    static let scratchSize = 16 << 10
    private var initialized = false
    /// True after a stream end (BFINAL): the next input needs a reset that keeps the window.
    private var ended = false
    /// Nothing fed since the stream (re)started: at a block boundary.
    private var fresh = true
    /// The sender's negotiated LZ77 window (RFC 7692 *_max_window_bits), 8...15.
    let windowBits: Int
    /// Output per zlib call. zlib checks a back-reference against its window plus what the
    /// current call produced, so with a narrowed window the calls produce little (a reference
    /// beyond the window is caught to within this many bytes); the full window needs no check.
    private let outputStep: Int

    /// `sharedOutput`: a buffer of `scratchSize` bytes that outlives every call of this
    /// inflater and that no other inflation writes while one of its calls runs (nil: its own).
    init(windowBits: Int = 15, sharedOutput: UnsafeMutableRawPointer? = nil) {
        self.windowBits = min(max(windowBits, 8), 15)
        outputStep = self.windowBits < 15 ? 32 : Self.scratchSize
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        ownsScratch = sharedOutput == nil
        scratch = sharedOutput ?? .allocate(byteCount: Self.scratchSize, alignment: 16)
        start()
    }

    deinit {
        if initialized { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        if ownsScratch { scratch.deallocate() }
    }

    private func start() {
        stream.pointee = z_stream()
        initialized = wstrace_inflate_init_raw(stream, Int32(-windowBits)) == Z_OK
        ended = false
        fresh = true
    }

    /// Forgets the window (no context takeover, or context lost). inflateReset keeps zlib's
    /// allocations: inflateEnd + inflateInit per message cost more than the inflating.
    func reset() {
        if initialized {
            inflateReset(stream)
            ended = false
            fresh = true
        } else {
            start()
        }
    }

    /// Call before each message: after a final block (BFINAL) in the previous message, starts
    /// a new raw stream that keeps the window (context takeover).
    func prepareForMessage() {
        if ended { restartKeepingWindow() }
    }

    /// Inflates `input`; calls `output` for each piece produced, which returns false to stop.
    /// `finish` appends the 00 00 ff ff tail and flushes (end of message).
    func inflate(_ input: UnsafeRawBufferPointer, finish: Bool,
                 output: (UnsafeRawBufferPointer) -> Bool) -> Result<Void, InflateError> {
        if !initialized { return .failure(InflateError(message: "zlib could not be initialized")) }
        if input.count > 0, let base = input.baseAddress {
            if case .failure(let error) = run(base, input.count, flush: Z_NO_FLUSH, output) { return .failure(error) }
        }
        if finish {
            let tail: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0xFF, 0xFF)
            return withUnsafeBytes(of: tail) { run($0.baseAddress!, 4, flush: Z_SYNC_FLUSH, output) }
        }
        return .success(())
    }

    private func run(_ base: UnsafeRawPointer, _ count: Int, flush: Int32,
                     _ output: (UnsafeRawBufferPointer) -> Bool) -> Result<Void, InflateError> {
        // After a final block (BFINAL) the rest of the message (tail included) is ignored.
        if ended { return .success(()) }
        fresh = false
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(count)
        while true {
            stream.pointee.next_out = scratch.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(outputStep)
            let status = CZlib.inflate(stream, flush)
            let produced = outputStep - Int(stream.pointee.avail_out)
            if produced > 0 && !output(UnsafeRawBufferPointer(start: scratch, count: produced)) {
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
                return .success(())
            }
            switch status {
            case Z_OK:
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 { return finishRun() }
            case Z_BUF_ERROR:
                return finishRun() // no progress possible: all input consumed
            case Z_STREAM_END:
                // A final block: whatever follows (the 00 00 ff ff tail) belongs to no stream.
                ended = true
                return finishRun()
            default:
                let text = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                reset()
                return .failure(InflateError(message: text))
            }
        }
    }

    private func finishRun() -> Result<Void, InflateError> {
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        stream.pointee.next_out = nil
        stream.pointee.avail_out = 0
        return .success(())
    }

    /// The stream stands between blocks with no bit of input held (or it ended, or never
    /// began): a new message may start from its window alone, by another inflater.
    var settled: Bool {
        // zlib's data_type: bits held + 64 (last block) + 128 (waiting for a block header) + 256.
        initialized && (fresh || ended || stream.pointee.data_type == 128)
    }

    /// Copies the window (at most 32 KiB: the last output) to `buffer`; returns its length.
    func window(into buffer: UnsafeMutableRawPointer) -> Int {
        guard initialized else { return 0 }
        var length: uInt = 0
        _ = inflateGetDictionary(stream, buffer.assumingMemoryBound(to: Bytef.self), &length)
        return Int(length)
    }

    /// Starts afresh at a block boundary with a window of `first` then `second` (another
    /// inflater took one message: this is the window it left).
    func restart(window first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) {
        reset()
        guard initialized else { return }
        // Each call appends to the window (a raw stream takes a dictionary at any time).
        if first.count > 0 { _ = inflateSetDictionary(stream, first.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(first.count)) }
        if second.count > 0 { _ = inflateSetDictionary(stream, second.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(second.count)) }
    }

    /// After BFINAL, start a new raw stream seeded with the last 32 KiB of output.
    private func restartKeepingWindow() {
        var saved = [UInt8](repeating: 0, count: 1 << windowBits)
        saved.withUnsafeMutableBytes { buffer in
            let length = window(into: buffer.baseAddress!)
            restart(window: UnsafeRawBufferPointer(rebasing: buffer[..<length]), UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
}
