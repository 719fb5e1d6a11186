/// A buffer that masked frame payload is unmasked into before it is read. It holds nothing
/// between calls, so one instance can serve every connection of a capture: it then stays in
/// cache instead of each connection writing to its own cold copy.
public final class UnmaskScratch {
    static let size = 4 << 10
    let bytes: UnsafeMutableRawPointer

    public init() {
        bytes = .allocate(byteCount: Self.size, alignment: 16)
    }

    deinit { bytes.deallocate() }
}
