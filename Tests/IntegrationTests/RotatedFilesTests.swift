import Foundation
import Testing

/// Rotated captures (`editcap -c`, as `tcpdump -C` or `dumpcap -b` write them) read as one:
/// connections that span files are one connection, and everything equals the unsplit file.
@Suite struct RotatedFilesTests {
    static let captures = ["websocket/ws-concurrent.pcap", "seed-walkthrough.pcap", "tcp/netem-reorder.pcap",
                           "external/zeek/http__docker-http-upgrade.pcap", "tls/wss-tls13-aes128gcm.pcap", "tls/wss-tls12-resume-ticket.pcap"]
        .map { Tools.fixtures.appendingPathComponent($0).path }
        .filter { FileManager.default.fileExists(atPath: $0) }

    /// editcap (a failure under CI when missing) and a new empty directory named `prefix`-….
    static func editcapAndDirectory(_ prefix: String) throws -> (editcap: URL, dir: URL)? {
        guard let editcap = Tools.which("editcap") else {
            if Tools.isCI { Issue.record("editcap is required under CI (apt-get install tshark brings it)") }
            return nil
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (editcap, dir)
    }

    /// `path` cut by editcap into files of `perFile` packets, in a new directory.
    static func split(_ path: String, perFile: Int) throws -> URL {
        guard let (editcap, dir) = try editcapAndDirectory("rotated") else { throw CancellationError() }
        let r = try Tools.run(editcap, ["-F", "pcap", "-c", "\(perFile)", path, dir.appendingPathComponent("part.pcap").path])
        #expect(r.status == 0, "\(r.stderr)")
        return dir
    }

    static func packets(_ path: String) throws -> Int {
        let r = try Tools.wstrace(["read", path, "--summary", "--format", "json"] + keys(path))
        return try #require((try Tools.json(r.stdout)["capture"] as? [String: Any])?["packets"] as? Int)
    }

    static func keys(_ path: String) -> [String] { Tools.keyLog(for: path).map { ["--keylog", $0] } ?? [] }

    @Test(arguments: captures)
    func directoryOfRotatedFilesIsTheWholeCapture(path: String) throws {
        let total = try Self.packets(path)
        guard let dir = try? Self.split(path, perFile: max(2, total / 4 + 1)) else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        let parts = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(parts.count >= 3, "\(parts)")
        // What else lies in such a directory is not a capture file, and is left out.
        try Data("notes\n".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        try Data("# keys\n".utf8).write(to: dir.appendingPathComponent("part.keys"))
        let keys = Self.keys(path)
        let whole = try Tools.json(try Tools.wstrace(["read", path, "--summary", "--format", "json", "--threads", "1"] + keys).stdout)
        for threads in ["1", "2", "3"] {
            let rotated = try Tools.wstrace(["read", dir.path, "--summary", "--format", "json", "--threads", threads] + keys)
            #expect(rotated.status == 0, "\(rotated.stderr)")
            let joined = try Tools.json(rotated.stdout)
            // Connections, frames, messages, verdicts: the same objects.
            let a = try JSONSerialization.data(withJSONObject: whole["connections"] as Any, options: [.sortedKeys])
            let b = try JSONSerialization.data(withJSONObject: joined["connections"] as Any, options: [.sortedKeys])
            #expect(a == b, "\(path) --threads \(threads)")
            let wc = try #require(whole["capture"] as? [String: Any]), jc = try #require(joined["capture"] as? [String: Any])
            for key in ["packets", "tcp", "connections", "websocket_connections", "frames", "messages", "violations", "gaps"] {
                #expect(wc[key] as? Int == jc[key] as? Int, "\(path) \(key)")
            }
            #expect((jc["files"] as? [String])?.count == parts.count)
        }
        // Every event the same, each saying its file (an index into the capture's files).
        let one = try Tools.wstrace(["read", path, "--format", "ndjson", "--threads", "1"] + keys).text.split(separator: "\n")
        for threads in ["1", "2"] {
            let many = try Tools.wstrace(["read", dir.path, "--format", "ndjson", "--threads", threads] + keys).text.split(separator: "\n")
            #expect(many.count == one.count)
            var lastFile = 0
            for (x, y) in zip(one, many) {
                let o = try Tools.json(Data(x.utf8))
                var m = try Tools.json(Data(y.utf8))
                guard o["type"] as? String == "event" else { continue }
                let file = try #require(m.removeValue(forKey: "file") as? Int)
                // editcap keeps file order: packet n lies in file (n - 1) / perFile.
                #expect(file >= lastFile)
                lastFile = file
                #expect(NSDictionary(dictionary: o) == NSDictionary(dictionary: m), "\(path) \(x)")
            }
            #expect(lastFile == parts.count - 1)
        }
        // follow and report read the set as one capture too.
        let follow = try Tools.wstrace(["follow", dir.path, "--stream", "0"] + keys)
        #expect(follow.stdout == (try Tools.wstrace(["follow", path, "--stream", "0"] + keys)).stdout)
        let pattern = dir.appendingPathComponent("part*").path
        let report = try Tools.wstrace(["report", pattern, "-o", "-"] + keys)
        #expect(report.status == 0 && report.text.contains("<html"))
        // Its title names the first and last file and how many (not the last alone).
        let names = parts.sorted()
        #expect(report.text.contains("<title>wstrace report — \(names[0]) … \(names[names.count - 1]) (\(parts.count) files)</title>"),
                "\(report.text.prefix(400))")
    }

    /// `path` (a little-endian µs classic pcap) with every timestamp cut to its whole second:
    /// records that tie, as a coarse clock writes them. (Real packets; only the times changed.)
    static func coarse(_ path: String, into url: URL) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.starts(with: [0xd4, 0xc3, 0xb2, 0xa1]))
        var at = 24
        while at + 16 <= bytes.count {
            for k in 4..<8 { bytes[at + k] = 0 }  // ts_usec
            let length = Int(bytes[at + 8]) | Int(bytes[at + 9]) << 8 | Int(bytes[at + 10]) << 16 | Int(bytes[at + 11]) << 24
            at += 16 + length
        }
        try Data(bytes).write(to: url)
    }

    /// A set named as `tcpdump -C` names it (`cap`, `cap1` … `cap10` …) is read in that order
    /// (numbers by value, not `cap10` before `cap2`): with timestamps that tie across files,
    /// only the file order puts the packets back, and the set reads as the whole file.
    @Test func tcpdumpNumberedSetIsReadInItsOrder() throws {
        let seed = Tools.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("numbered-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let whole = dir.appendingPathComponent("whole.pcap.orig")
        try Self.coarse(seed, into: whole)
        let parts = dir.appendingPathComponent("parts")
        guard let split = try? Self.split(whole.path, perFile: 3) else { return }
        defer { try? FileManager.default.removeItem(at: split) }
        try FileManager.default.createDirectory(at: parts, withIntermediateDirectories: true)
        let pieces = try FileManager.default.contentsOfDirectory(atPath: split.path).sorted()  // editcap's zero-padded order
        #expect(pieces.count >= 12, "\(pieces.count) files")
        var names: [String] = []
        for (i, piece) in pieces.enumerated() {
            let name = i == 0 ? "cap" : "cap\(i)"
            names.append(parts.appendingPathComponent(name).path)
            try FileManager.default.moveItem(at: split.appendingPathComponent(piece), to: parts.appendingPathComponent(name))
        }
        let one = try Tools.wstrace(["read", whole.path, "--summary", "--format", "json"])
        let set = try Tools.wstrace(["read", parts.path, "--summary", "--format", "json"])
        #expect(set.status == 0, "\(set.stderr)")
        let a = try Tools.json(one.stdout), b = try Tools.json(set.stdout)
        #expect((b["capture"] as? [String: Any])?["files"] as? [String] == names)
        let x = try JSONSerialization.data(withJSONObject: a["connections"] as Any, options: [.sortedKeys])
        let y = try JSONSerialization.data(withJSONObject: b["connections"] as Any, options: [.sortedKeys])
        #expect(x == y)
        // Every packet in the whole file's order.
        let text = try Tools.wstrace(["read", parts.path]).stdout
        #expect(text == (try Tools.wstrace(["read", whole.path]).stdout))
    }

    /// A directory's files that are captures it cannot read (named like a capture but not one,
    /// compressed or not) are named in a warning, stderr and JSON, with exit 1; a key log
    /// (compressed or not), notes and an empty file (tcpdump's file still being written) are
    /// left out quietly; a gzip-compressed capture (`tcpdump -z gzip`) is read.
    @Test func filesLeftOutOfADirectoryAreReported() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        guard let dir = try? Self.split(seed, perFile: 8) else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        let pieces = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(pieces.count >= 3)
        guard let gzip = Tools.which("gzip") else {
            if Tools.isCI { Issue.record("gzip is required under CI") }
            return
        }
        // tcpdump -C -z gzip names its files cap, cap1.gz, cap2.gz …: the content says what they hold.
        let zipped = dir.appendingPathComponent("cap1").path
        try FileManager.default.moveItem(atPath: dir.appendingPathComponent(pieces[1]).path, toPath: zipped)
        #expect(try Tools.run(gzip, [zipped]).status == 0)
        try Data("CLIENT_RANDOM 00 00\n".utf8).write(to: dir.appendingPathComponent("keys.log"))
        try FileManager.default.copyItem(atPath: dir.appendingPathComponent("keys.log").path,
                                         toPath: dir.appendingPathComponent("keys2.log").path)
        #expect(try Tools.run(gzip, [dir.appendingPathComponent("keys2.log").path]).status == 0)
        try Data("notes\n".utf8).write(to: dir.appendingPathComponent("y.pcap"))
        #expect(try Tools.run(gzip, [dir.appendingPathComponent("y.pcap").path]).status == 0)
        try Data().write(to: dir.appendingPathComponent("cap2.pcap"))
        try Data("not a capture\n".utf8).write(to: dir.appendingPathComponent("junk.pcapng"))
        try Data("not a capture either\n".utf8).write(to: dir.appendingPathComponent("x.pcap3"))
        try Data("notes\n".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        for pattern in [dir.path, dir.appendingPathComponent("*").path] {
            let r = try Tools.wstrace(["read", pattern, "--summary", "--format", "json"])
            #expect(r.status == 1)
            #expect(r.stderr.contains("y.pcap.gz: left out: gzip-compressed, no pcap or pcapng inside"), "\(r.stderr)")
            #expect(r.stderr.contains("junk.pcapng: left out: not a pcap") && r.stderr.contains("x.pcap3: left out: not a pcap"))
            for quiet in ["notes.txt", "keys.log", "keys2.log.gz", "cap2.pcap", "cap1.gz"] { #expect(!r.stderr.contains(quiet), "\(quiet)") }
            let capture = try #require(try Tools.json(r.stdout)["capture"] as? [String: Any])
            #expect((capture["warnings"] as? [String])?.count == 3, "\(capture["warnings"] ?? "")")
            // The compressed piece is read: every packet, no gap.
            #expect(capture["packets"] as? Int == 22 && capture["gaps"] as? Int == 0)
            #expect((capture["files"] as? [String])?.contains("\(zipped).gz") == true)
        }
        // More than three for one reason: one line.
        for n in 4...9 { try Data("junk\n".utf8).write(to: dir.appendingPathComponent("more\(n).pcap")) }
        let many = try Tools.wstrace(["read", dir.path, "--summary"])
        #expect(many.stderr.contains("8 files left out: not a pcap or pcapng file: \(dir.path)/junk.pcapng … \(dir.path)/x.pcap3"),
                "\(many.stderr)")
        // A directory with nothing readable says what it left out.
        let only = dir.appendingPathComponent("only")
        try FileManager.default.createDirectory(at: only, withIntermediateDirectories: true)
        try Data("junk\n".utf8).write(to: only.appendingPathComponent("a.pcap"))
        let none = try Tools.wstrace(["read", only.path])
        #expect(none.status == 1 && none.stderr.contains("no capture files in this directory (") && none.stderr.contains("a.pcap: left out: not a pcap"))
    }

    /// A gzip-compressed capture reads as the capture itself (pcap and pcapng, text and JSON);
    /// cut short, it is damage, told as such, with everything before it kept.
    @Test func gzipCompressedCapturesAreRead() throws {
        guard let gzip = Tools.which("gzip") else {
            if Tools.isCI { Issue.record("gzip is required under CI") }
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["websocket/ws-concurrent.pcap", "linktypes/dumpcap.pcapng", "tls/wss-tls13-aes128gcm.pcap"] {
            let plain = Tools.fixtures.appendingPathComponent(name).path
            let copy = dir.appendingPathComponent((name as NSString).lastPathComponent)
            try FileManager.default.copyItem(atPath: plain, toPath: copy.path)
            #expect(try Tools.run(gzip, [copy.path]).status == 0)
            let zipped = copy.path + ".gz"
            let keys = Self.keys(plain)
            for format in [["--format", "text"], ["--format", "ndjson"], ["--summary", "--format", "json"]] {
                let a = try Tools.wstrace(["read", plain] + format + keys), b = try Tools.wstrace(["read", zipped] + format + keys)
                #expect(b.status == 0, "\(b.stderr)")
                #expect(b.text.replacingOccurrences(of: zipped, with: plain) == a.text, "\(name) \(format)")
            }
        }
        // Cut short: the packets before the cut, and the damage told (exit 1).
        let whole = try Data(contentsOf: URL(fileURLWithPath: dir.appendingPathComponent("ws-concurrent.pcap.gz").path))
        let cut = dir.appendingPathComponent("cut.pcap.gz")
        try whole.prefix(whole.count * 2 / 3).write(to: cut)
        let r = try Tools.wstrace(["read", cut.path, "--summary", "--format", "json"])
        #expect(r.status == 1 && r.stderr.contains("capture damaged after packet"), "\(r.stderr)")
        let packets = try #require((try Tools.json(r.stdout)["capture"] as? [String: Any])?["packets"] as? Int)
        #expect(packets > 10 && packets < 75)
    }

    /// A capture read as a stream brings the keys of its pcapng Decryption Secrets Blocks with
    /// it, and is read as the file is: from standard input, gzip-compressed on standard input,
    /// and as a .gz file, the wss fixture decrypts to the same output as the file itself (time
    /// column included: a stream's resolution comes from its own header).
    @Test func aStreamIsReadAsItsFileWithItsOwnKeys() throws {
        guard let gzip = Tools.which("gzip") else {
            if Tools.isCI { Issue.record("gzip is required under CI") }
            return
        }
        let path = Tools.fixtures.appendingPathComponent("tls/wss-tls13-aes128gcm.pcapng").path
        let plain = try Data(contentsOf: URL(fileURLWithPath: path))
        let zipped = try Tools.run(gzip, ["-c", path]).stdout
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let gz = dir.appendingPathComponent("wss.pcapng.gz")
        try zipped.write(to: gz)
        for format in [["--format", "text"], ["--summary", "--format", "json"]] {
            let file = try Tools.wstrace(["read", path] + format)
            #expect(file.status == 0)
            #expect(file.text.contains("1 WebSocket") || file.text.contains("\"websocket_connections\":1"), "\(file.text)")
            let runs = [("stdin", try Tools.wstrace(["read", "-"] + format, stdin: plain), "-"),
                        ("gzip stdin", try Tools.wstrace(["read", "-"] + format, stdin: zipped), "-"),
                        ("gzip file", try Tools.wstrace(["read", gz.path] + format), gz.path)]
            for (name, r, shown) in runs {
                #expect(r.status == 0, "\(name): \(r.stderr)")
                #expect(r.text.replacingOccurrences(of: "\"\(shown)\"", with: "\"\(path)\"") == file.text, "\(name) \(format)")
            }
        }
    }

    /// Damaged compressed data in one file of a set is damage in that file: what was inflated
    /// before it is kept, the reason is told, and the set's other files are read to their end.
    @Test func damagedGzipInASetEndsOnlyThatFile() throws {
        guard let gzip = Tools.which("gzip") else {
            if Tools.isCI { Issue.record("gzip is required under CI") }
            return
        }
        let path = Tools.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        let total = try Self.packets(path)
        guard let dir = try? Self.split(path, perFile: total / 3 + 1) else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        let parts = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(parts.count == 3, "\(parts)")
        for part in parts { #expect(try Tools.run(gzip, [dir.appendingPathComponent(part).path]).status == 0) }
        let first = dir.appendingPathComponent(parts[0] + ".gz")
        var bytes = try Data(contentsOf: first)
        let at = bytes.count / 2
        for i in at..<(at + 16) { bytes[i] ^= 0x5A }
        try bytes.write(to: first)
        let r = try Tools.wstrace(["read", dir.path, "--summary", "--format", "json"])
        #expect(r.status == 1)
        #expect(r.stderr.contains(parts[0] + ".gz: capture damaged") && r.stderr.contains("gzip data damaged"), "\(r.stderr)")
        let packets = try #require((try Tools.json(r.stdout)["capture"] as? [String: Any])?["packets"] as? Int)
        // The two other files whole, and part of the damaged one.
        #expect(packets >= total - (total / 3 + 1) && packets < total, "\(packets) of \(total)")
    }

    /// A pipe named by its path (a shell's `<(tcpdump -w -)`) is read as standard input is:
    /// nothing is looked at before libpcap reads it (looking would lose those bytes).
    @Test func aPipeByItsPathIsRead() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        #expect(try Self.packets(shell: "/bin/bash", "'\(Tools.wstrace.path)' read <(cat '\(seed)') --summary --format json") == 22)
    }

    /// A named pipe (`mkfifo`, a writer such as `tcpdump -w FIFO`) is read to its end, and the
    /// run ends with it: nothing opens the pipe again once its writer is gone (the look for key
    /// logs inside pcapng files did, and waited for a writer that never came).
    @Test func aNamedPipeIsReadAndTheRunEnds() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wstrace-fifo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("capture").path
        // The writer opens the pipe, writes the capture and closes it; it holds none of the
        // test's pipes (their end is what the test waits for) and is bounded too, in case the
        // reader never opens the pipe. Both are bounded by KILL: under the test runner,
        // `timeout`'s TERM did not end a run that hung this way.
        let writer = "timeout -s KILL 30 bash -c \"cat '\(seed)' > '\(fifo)'\" </dev/null >/dev/null 2>&1"
        let command = "mkfifo '\(fifo)' && { \(writer) & } && timeout -s KILL 30 '\(Tools.wstrace.path)' read '\(fifo)' --summary --format json"
        #expect(try Self.packets(shell: "/bin/bash", command) == 22)
    }

    /// The packets a `--summary --format json` run through `shell -c command` counted (nil:
    /// it failed, its stderr recorded).
    static func packets(shell: String, _ command: String) throws -> Int? {
        let r = try Tools.run(URL(fileURLWithPath: shell), ["-c", command])
        #expect(r.status == 0, "\(command): \(r.stderr)")
        return (try? Tools.json(r.stdout))?["capture"].flatMap { ($0 as? [String: Any])?["packets"] as? Int }
    }

    /// A nanosecond capture split by editcap (which writes pcapng unless told otherwise, with
    /// the interfaces' resolution) reads like the whole file: the same nanoseconds shown.
    @Test func nanosecondPcapngSetKeepsItsPrecision() throws {
        let seed = Tools.fixtures.appendingPathComponent("linktypes/nanosecond.pcap").path
        guard let (editcap, dir) = try Self.editcapAndDirectory("ns") else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Tools.run(editcap, ["-c", "5", seed, dir.appendingPathComponent("part.pcapng").path]).status == 0)
        let whole = try Tools.wstrace(["read", seed]).stdout
        #expect(try Tools.wstrace(["read", dir.path]).stdout == whole)
        let json = try Tools.json(try Tools.wstrace(["read", dir.path, "--format", "json"]).stdout)
        let events = try #require(json["events"] as? [[String: Any]])
        let one = try #require((try Tools.json(try Tools.wstrace(["read", seed, "--format", "json"]).stdout))["events"] as? [[String: Any]])
        #expect(events.map { $0["rel"] as? Double } == one.map { $0["rel"] as? Double })
    }

    /// Damage in one file of a set is told in the capture's numbering (the one every other
    /// message uses), with the file's own record beside it; the other files are read to the end.
    /// The two files interleave (odd and even packets), so the numbers differ in kind.
    @Test func damageInASetIsToldInTheCapturesNumbering() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        guard let (editcap, dir) = try Self.editcapAndDirectory("damaged") else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        let odd = dir.appendingPathComponent("a.pcap"), even = dir.appendingPathComponent("b.pcap")
        #expect(try Tools.run(editcap, ["-F", "pcap", "-r", seed, odd.path] + stride(from: 1, to: 23, by: 2).map(String.init)).status == 0)
        #expect(try Tools.run(editcap, ["-F", "pcap", "-r", seed, even.path] + stride(from: 2, to: 23, by: 2).map(String.init)).status == 0)
        // The odd file ends in a record cut short: a header for 100 bytes, 10 of them
        // (hand-built: the damage a writer killed mid-record leaves).
        var bytes = try Data(contentsOf: odd)
        bytes.append(contentsOf: [0x00, 0x00, 0x00, 0x70, 0, 0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 0] + [UInt8](repeating: 0, count: 10))
        try bytes.write(to: odd)
        let r = try Tools.wstrace(["read", dir.path, "--summary", "--format", "json"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(odd.path): capture damaged after packet 21 (this file's record 11): "), "\(r.stderr)")
        #expect((try Tools.json(r.stdout)["capture"] as? [String: Any])?["packets"] as? Int == 22)
        // Every packet where the whole file has it.
        #expect(try Tools.wstrace(["read", dir.path]).stdout == (try Tools.wstrace(["read", seed]).stdout))
    }

    /// A set of more files than the soft limit on open descriptors allows (a day of `tcpdump
    /// -G 60` is 1,440 files; 1,024 is a common soft limit) is read: the limit is raised.
    @Test func moreFilesThanTheSoftDescriptorLimit() throws {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_max >= 1024 else { return }
        let seed = Tools.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        guard let dir = try? Self.split(seed, perFile: 1) else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == 75)
        // Also when a shared limit has the run redone on one thread, the set opened again.
        for extra in ["", " --threads 2 --max-connections 1"] {
            let command = "ulimit -Sn 40 && exec '\(Tools.wstrace.path)' read '\(dir.path)' --summary --format json\(extra)"
            #expect(try Self.packets(shell: "/bin/sh", command) == 75)
        }
    }

    @Test func standardInputOnlyAlone() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        let r = try Tools.wstrace(["read", seed, "-"])
        #expect(r.status == 1 && r.stderr.contains("standard input"))
        let none = try Tools.wstrace(["read", "/nonexistent-dir/*.pcap"])
        #expect(none.status == 1 && none.stderr.contains("no file matches"))
    }
}

/// Progress of a long read: on a terminal's stderr only, cleared at the end.
@Suite struct ProgressTests {
    @Test func progressOnATerminalOnly() throws {
        let capture = Tools.fixtures.appendingPathComponent("tls/wss-tls13-large.pcap").path
        let keys = Tools.fixtures.appendingPathComponent("tls/wss-tls13-large.keys").path
        // Not a terminal: nothing on stderr.
        let plain = try Tools.wstrace(["read", capture, "--keylog", keys, "--summary", "--threads", "2"],
                                      environment: ["WSTRACE_PROGRESS_DELAY": "0"])
        #expect(plain.status == 0 && plain.stderr.isEmpty, "\(plain.stderr)")
        // A terminal (script(1) gives the command one): lines with the total, percent, rate and
        // time left, redrawn in place, then cleared.
        guard let script = Tools.which("script") else {
            if Tools.isCI { Issue.record("script (util-linux) is required under CI") }
            return
        }
        let command = "'\(Tools.wstrace.path)' read '\(capture)' --keylog '\(keys)' --summary --threads 2 >/dev/null"
        let tty = try Tools.run(script, ["-qec", command, "/dev/null"], environment: ["WSTRACE_PROGRESS_DELAY": "0"])
        #expect(tty.status == 0)
        let shown = tty.text
        #expect(shown.contains(" of 1.8 MiB  "), "\(shown)")
        #expect(shown.contains("%  ") && shown.contains("/s  ") && shown.contains(" left"), "\(shown)")
        #expect(shown.hasSuffix("\r\u{1b}[K"), "\(shown.debugDescription)")
    }

    /// Ctrl-C (SIGINT) while the line is shown clears it, and the process still ends by the
    /// signal. (The output is a pipe nobody reads, so the read waits with its line on screen.
    /// The test runner's children inherit a mask that blocks signals: python3 clears it for
    /// wstrace, as a shell's job would have it.)
    @Test func interruptClearsTheLine() throws {
        guard let script = Tools.which("script"), let timeout = Tools.which("timeout"), let python = Tools.which("python3") else {
            if Tools.isCI { Issue.record("script (util-linux), timeout (coreutils) and python3 are required under CI") }
            return
        }
        let capture = Tools.fixtures.appendingPathComponent("tls/wss-tls13-large.pcap").path
        let keys = Tools.fixtures.appendingPathComponent("tls/wss-tls13-large.keys").path
        let unblocked = "'\(python.path)' -c 'import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
            + "os.execv(sys.argv[1], sys.argv[1:])'"
        // timeout --preserve-status: 130 (128 + SIGINT) when the signal ended wstrace.
        let command = "{ '\(timeout.path)' --preserve-status -s INT 1 \(unblocked) '\(Tools.wstrace.path)' read '\(capture)' "
            + "--keylog '\(keys)' --format ndjson --threads 2; echo \" status=$?\" >&2; } | sleep 2"
        let tty = try Tools.run(script, ["-qec", command, "/dev/null"], environment: ["WSTRACE_PROGRESS_DELAY": "0"])
        let shown = tty.text
        #expect(shown.contains(" of 1.8 MiB  "), "\(shown.debugDescription)")
        #expect(shown.contains(" left\u{1b}[K\r\u{1b}[K status=130"), "\(shown.debugDescription)")
    }
}
