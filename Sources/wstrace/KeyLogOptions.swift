import ArgumentParser
import Dispatch
import WSCapture
import WSTLS
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `--keylog FILE`: the NSS key log that decrypts wss. Keys in a pcapng's Decryption Secrets
/// Blocks are used without it.
struct KeyLogOptions: ParsableArguments {
    @Option(name: .customLong("keylog"), help: ArgumentHelp(
        "TLS key log (NSS format, as SSLKEYLOGFILE writes it) to decrypt wss; pcapng Decryption Secrets Blocks are read without it.",
        valueName: "file"))
    var keylog: String?

    /// The key log for a capture file: the option's file and the file's own DSBs; nil when there
    /// are none. Bad lines are reported on stderr with their line numbers; the others are used.
    func load(captures paths: [String]) throws -> TLSKeyLog? {
        let log = TLSKeyLog()
        var any = false
        if let keylog {
            guard let text = KeyLogOptions.readText(keylog) else {
                Terminal.warn("\(keylog): cannot read the key log: \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
            log.add(text, source: keylog)
            any = true
        }
        for (path, texts) in zip(paths, KeyLogOptions.embeddedKeyLogs(paths)) {
            for (i, text) in texts.enumerated() {
                log.add(text, source: "\(path) (Decryption Secrets Block \(i + 1))")
                any = true
            }
        }
        for w in log.warnings.prefix(20) { Terminal.warn("key log line skipped: \(w)") }
        if log.warnings.count > 20 { Terminal.warn("key log: \(log.warnings.count - 20) more line(s) skipped") }
        // A file read as a stream may still bring key logs of its own (`embedded(into:paths:)`).
        return any || paths.contains(where: CaptureProbe.isReadAsStream) ? log : nil
    }

    /// Where the Decryption Secrets Blocks of files read as streams (standard input, a pipe,
    /// gzip) add their key logs as the reading comes to them, named as `load` names a regular
    /// file's; their bad lines are warned about as they come.
    static func embedded(into log: TLSKeyLog?, paths: [String]) -> ((Int, String) -> Void)? {
        guard let log else { return nil }
        var blocks = Array(repeating: 0, count: paths.count)
        return { file, text in
            blocks[file] += 1
            let reported = log.warnings.count
            log.add(text, source: "\(paths[file]) (Decryption Secrets Block \(blocks[file]))")
            for w in log.warnings[reported...] { Terminal.warn("key log line skipped: \(w)") }
        }
    }

    /// The key logs in each file's Decryption Secrets Blocks, in the files' order. A set's files
    /// are walked four at a time: each pcapng file up to 256 MiB is read whole for them, before
    /// the analysis (a set of dumpcap ring files is read once for this).
    static func embeddedKeyLogs(_ paths: [String]) -> [[String]] {
        var texts = Array(repeating: [String](), count: paths.count)
        let lanes = min(4, paths.count)
        texts.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            // Each lane writes its own files' slots only.
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                for i in stride(from: lane, to: paths.count, by: lanes) where paths[i] != "-" {
                    out[i] = PcapngSecrets.tlsKeyLogs(path: paths[i])
                }
            }
        }
        return texts
    }

    /// A key log that a live capture re-reads when a lookup misses (the browser or server
    /// appends to it as it connects), at most every 50 ms of wall time. The file is opened now,
    /// before privileges are dropped; a file that does not exist yet is opened when it appears.
    func loadGrowing() throws -> TLSKeyLog? {
        guard let keylog else { return nil }
        let log = TLSKeyLog()
        var file: UnsafeMutablePointer<FILE>? = fopen(keylog, "rb")
        if file == nil && errno != ENOENT {
            Terminal.warn("\(keylog): cannot read the key log: \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        var partial: [UInt8] = []
        var lines = 1
        var lastRead: Double = 0
        func readMore() -> Bool {
            if file == nil { file = fopen(keylog, "rb") }
            guard let f = file else { return false }
            clearerr(f)
            partial += KeyLogOptions.readAvailable(f, limit: 64 << 20)
            // Only whole lines: the writer may be mid-line.
            guard let end = partial.lastIndex(of: 0x0A) else { return false }
            let text = String(decoding: partial[...end], as: UTF8.self)
            partial.removeFirst(end + 1)
            let before = log.count
            log.add(text, source: keylog, firstLine: lines)
            lines += text.utf8.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            return log.count > before
        }
        _ = readMore()
        for w in log.warnings { Terminal.warn("key log line skipped: \(w)") }
        log.refresh = {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let t = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
            guard t - lastRead >= 0.05 else { return false }
            lastRead = t
            let reported = log.warnings.count
            let grew = readMore()
            for w in log.warnings[reported...] { Terminal.warn("key log line skipped: \(w)") }
            return grew
        }
        return log
    }

    static func readText(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        return String(decoding: readAvailable(f, limit: 256 << 20), as: UTF8.self)
    }

    /// What `f` holds from its position to its current end; reading stops once `limit` bytes are in.
    static func readAvailable(_ f: UnsafeMutablePointer<FILE>, limit: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count < limit {
            let n = fread(&chunk, 1, chunk.count, f)
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count { break }
        }
        return bytes
    }
}
