import CZlib
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A capture that can be read only once, front to back: standard input, a pipe, a
/// gzip-compressed file. libpcap reads it through a stdio stream (`fopencookie`) whose reads
/// come from here:
/// - gzip is found by its first two bytes, whatever the input (`gzip -c f | wstrace read -`);
///   each read inflates what one `read` of the input brings, so a pipe fed as packets come is
///   read as they come, and damaged compressed data ends the capture where it is damaged,
///   with what was inflated before it handed on and the reason kept (`failure`);
/// - the pcapng blocks going by are watched for Decryption Secrets Blocks, whose key logs
///   go to `onKeyLog` as soon as they are read: before the packets after them are analysed
///   (a regular file's are read before the analysis, by `PcapngSecrets`).
final class StreamInput {
    private let fd: Int32
    private var mode = Mode.undecided
    private enum Mode { case undecided, plain, gzip, ended }
    private var z = z_stream()
    private var inflating = false
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCapacity = 256 << 10
    private var inputStart = 0, inputEnd = 0
    /// Bytes read from the input (compressed bytes for gzip): the reading's progress.
    private(set) var consumed = 0
    /// Why the input ended early (damaged or cut-short gzip data), when it did.
    private(set) var failure: String?
    private var sniffer = SecretsSniffer()
    /// The first bytes handed on (up to 64 KiB): what libpcap read to open the capture.
    private(set) var opening: [UInt8] = []
    private let onKeyLog: ((String) -> Void)?

    /// Takes `fd` over (closed with the stream).
    init(fd: Int32, onKeyLog: ((String) -> Void)?) {
        self.fd = fd
        self.onKeyLog = onKeyLog
        input = .allocate(capacity: inputCapacity)
    }

    deinit {
        if inflating { inflateEnd(&z) }
        input.deallocate()
        close(fd)
    }

    /// A stdio stream reading from `self` (which it keeps alive until it is closed).
    func stream() -> UnsafeMutablePointer<FILE>? {
        let cookie = Unmanaged.passRetained(self).toOpaque()
        let io = wstrace_cookie_io_functions(
            read: { cookie, buffer, size in
                guard let cookie, let buffer else { return -1 }
                return Unmanaged<StreamInput>.fromOpaque(cookie).takeUnretainedValue().read(into: buffer, size: size)
            },
            write: nil, seek: nil,
            close: { cookie in
                if let cookie { Unmanaged<StreamInput>.fromOpaque(cookie).release() }
                return 0
            })
        guard let file = fopencookie(cookie, "r", io) else {
            Unmanaged<StreamInput>.fromOpaque(cookie).release()
            return nil
        }
        return file
    }

    /// Up to `size` bytes of the capture; 0 at its end, -1 on an error (errno set).
    func read(into buffer: UnsafeMutablePointer<CChar>, size: Int) -> Int {
        let n = fill(UnsafeMutableRawPointer(buffer), size: max(0, min(size, 1 << 30)))
        if n > 0 && opening.count < 64 << 10 {
            opening.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: min(n, (64 << 10) - opening.count)))
        }
        if n > 0, let onKeyLog {
            sniffer.feed(UnsafeRawBufferPointer(start: buffer, count: n), onKeyLog)
        }
        return n
    }

    private func fill(_ buffer: UnsafeMutableRawPointer, size: Int) -> Int {
        if mode == .undecided {
            while inputEnd < 2 {
                let got = readInput()
                if got < 0 { return -1 }
                if got == 0 { break }
            }
            mode = inputEnd >= 2 && input[0] == 0x1F && input[1] == 0x8B ? .gzip : .plain
        }
        switch mode {
        case .undecided:
            return 0
        case .ended:
            // Damage found after the bytes before it were handed on: told now.
            if failure != nil {
                errno = EIO
                return -1
            }
            return 0
        case .plain:
            if inputStart < inputEnd {
                let n = min(size, inputEnd - inputStart)
                buffer.copyMemory(from: input + inputStart, byteCount: n)
                inputStart += n
                return n
            }
            while true {
                let n = Glibc.read(fd, buffer, size)
                if n < 0 && errno == EINTR { continue }
                if n > 0 { consumed += n }
                return n
            }
        case .gzip:
            return inflateSome(buffer, size: size)
        }
    }

    /// Reads what the input has (one `read`) after what is left of it; -1 on an error.
    private func readInput() -> Int {
        if inputStart == inputEnd {
            inputStart = 0
            inputEnd = 0
        } else if inputStart > 0 {
            (input).update(from: input + inputStart, count: inputEnd - inputStart)
            inputEnd -= inputStart
            inputStart = 0
        }
        guard inputEnd < inputCapacity else { return 0 }
        while true {
            let n = Glibc.read(fd, input + inputEnd, inputCapacity - inputEnd)
            if n < 0 && errno == EINTR { continue }
            if n > 0 {
                inputEnd += n
                consumed += n
            }
            return n
        }
    }

    /// Inflates into `buffer` until something comes out, the input ends or is damaged.
    private func inflateSome(_ buffer: UnsafeMutableRawPointer, size: Int) -> Int {
        guard size > 0 else { return 0 }
        while true {
            if !inflating {
                // A member begins (a gzip file may hold several, one after another).
                guard wstrace_inflate_init_raw(&z, 15 + 16) == Z_OK else { return fail("cannot start inflating") }
                inflating = true
            }
            if inputStart == inputEnd {
                let got = readInput()
                if got < 0 { return -1 }
                if got == 0 { return fail("gzip data cut short") }
            }
            z.next_in = input + inputStart
            z.avail_in = UInt32(inputEnd - inputStart)
            z.next_out = buffer.assumingMemoryBound(to: UInt8.self)
            z.avail_out = UInt32(min(size, Int(UInt32.max)))
            let status = inflate(&z, Z_NO_FLUSH)
            inputStart = inputEnd - Int(z.avail_in)
            let produced = min(size, Int(UInt32.max)) - Int(z.avail_out)
            if status == Z_STREAM_END {
                inflateEnd(&z)
                inflating = false
                // Another member follows only where its magic does; anything else after the
                // last one (zero padding) is not capture data.
                if inputEnd - inputStart < 2 { _ = readInput() }
                if !(inputEnd - inputStart >= 2 && input[inputStart] == 0x1F && input[inputStart + 1] == 0x8B) {
                    mode = .ended
                    return produced
                }
            } else if status != Z_OK && status != Z_BUF_ERROR {
                let reason = z.msg.map { String(cString: $0) } ?? "inflate error \(status)"
                if produced > 0 {
                    // What came out before the damage first; the damage with the next read.
                    failure = "gzip data damaged (\(reason))"
                    mode = .ended
                    return produced
                }
                return fail("gzip data damaged (\(reason))")
            }
            if produced > 0 { return produced }
        }
    }

    private func fail(_ reason: String) -> Int {
        failure = reason
        mode = .ended
        errno = EIO
        return -1
    }
}

/// Watches pcapng blocks go by, in pieces of any size, for Decryption Secrets Blocks of TLS key
/// log lines (what `PcapngSecrets` finds in a regular file). Anything that is not pcapng, or
/// a block whose length is malformed, ends the watch.
struct SecretsSniffer {
    private var header: [UInt8] = []
    private var little = true
    private var started = false
    private var skip = 0
    private var block: [UInt8]?
    private var blockLength = 0
    private var off = false
    /// A secrets block larger than this is skipped (the key logs of a capture are far smaller).
    static let largestBlock = 64 << 20

    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ found: (String) -> Void) {
        var at = 0
        while at < bytes.count && !off {
            if skip > 0 {
                let n = min(skip, bytes.count - at)
                skip -= n
                at += n
                continue
            }
            if block != nil {
                let n = min(blockLength - block!.count, bytes.count - at)
                block!.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)]))
                at += n
                if block!.count == blockLength {
                    let whole = block!
                    block = nil
                    whole.withUnsafeBytes { raw in
                        if let text = PcapngSecrets.tlsKeyLog(PcapngBlocks.Block(type: 0x0000_000A, bytes: raw, little: little)) {
                            found(text)
                        }
                    }
                }
                continue
            }
            // A block's first 12 bytes: type, length, and (a section header) the byte order.
            let n = min(12 - header.count, bytes.count - at)
            header.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)]))
            at += n
            guard header.count == 12 else { continue }
            let isSection = header[0] == 0x0A && header[1] == 0x0D && header[2] == 0x0D && header[3] == 0x0A
            if isSection {
                guard let order = PcapngBlocks.littleEndian(header[8], header[9], header[10], header[11]) else {
                    off = true
                    continue
                }
                little = order
            } else if !started {
                off = true  // not a pcapng file
                continue
            }
            started = true
            let (type, length) = header.withUnsafeBytes { raw -> (UInt32, Int) in
                let b = PcapngBlocks.Block(type: 0, bytes: raw, little: little)
                return (b.u32(0), Int(b.u32(4)))
            }
            guard length >= 12, length % 4 == 0 else { off = true; continue }
            if type == 0x0000_000A && length >= 20 && length <= Self.largestBlock {
                block = header
                block!.reserveCapacity(length)
                blockLength = length
            } else {
                skip = length - 12
            }
            header.removeAll(keepingCapacity: true)
        }
    }
}
