/// A buffer that masked frame payload is unmasked into before it is read. It holds nothing
/// between calls, so one instance can serve every connection of a capture: it then stays in
/// cache instead of each connection writing to its own cold copy.
public final class UnmaskScratch {
    static let size = 4 << 10
    let bytes: UnsafeMutableRawPointer

    public init() {
        bytes = .allocate(byteCount: Self.size, alignment: 16)
    }

    deinit {
        bytes.deallocate()
        windowStorage?.deallocate()
        inflateOutputStorage?.deallocate()
    }

    /// The output buffer every zlib inflater of this analyzer writes into (each piece is
    /// handed on before the next is made, and inflations never nest), made at first use. The
    /// inflaters that use it are reached only through frame parsers that hold this scratch, or
    /// wait in `idle` here.
    var inflateOutput: UnsafeMutableRawPointer { Self.buffer(&inflateOutputStorage, bytes: Inflater.scratchSize) }
    private var inflateOutputStorage: UnsafeMutableRawPointer?

    /// ISA-L's inflate for whole messages (`FrameStream` gathers a compressed frame first):
    /// one for every connection of the capture, made at the first compressed message.
    private(set) lazy var fastInflater = FastInflater()
    /// Where a zlib stream's window is copied for `fastInflater` (context takeover), made at
    /// first use.
    var window: UnsafeMutableRawPointer { Self.buffer(&windowStorage, bytes: FastInflater.windowSize) }
    private var windowStorage: UnsafeMutableRawPointer?

    /// The buffer in `storage`, allocated on first use (freed by `deinit`).
    private static func buffer(_ storage: inout UnsafeMutableRawPointer?, bytes: Int) -> UnsafeMutableRawPointer {
        if let storage { return storage }
        let made = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        storage = made
        return made
    }

    /// Inflaters between messages, by window size, for connections without context takeover:
    /// such a connection needs zlib only while a message lasts, and setting up a new inflater
    /// (zlib's state, its window, the output buffer) per message cost more than the inflating
    /// of a small message. At most `idleInflaters` wait here; the rest are freed, so memory
    /// still follows the messages in progress.
    private var idle: [[Inflater]] = Array(repeating: [], count: 16)
    static let idleInflaters = 16

    /// A reset inflater for a `windowBits` window, reused or new.
    func inflater(windowBits: Int) -> Inflater {
        let bits = min(max(windowBits, 8), 15)
        return idle[bits].popLast() ?? Inflater(windowBits: bits, sharedOutput: inflateOutput)
    }

    /// Hands back an inflater whose message is over (its window is forgotten).
    func recycle(_ inflater: Inflater) {
        guard idle[inflater.windowBits].count < Self.idleInflaters else { return }
        inflater.reset()
        idle[inflater.windowBits].append(inflater)
    }
}
