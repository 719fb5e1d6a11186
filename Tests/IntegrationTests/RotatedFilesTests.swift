import Foundation
import Testing

/// Rotated captures (`editcap -c`, as `tcpdump -C` or `dumpcap -b` write them) read as one:
/// connections that span files are one connection, and everything equals the unsplit file.
@Suite struct RotatedFilesTests {
    static let captures = ["websocket/ws-concurrent.pcap", "seed-walkthrough.pcap", "tcp/netem-reorder.pcap",
                           "external/zeek/http__docker-http-upgrade.pcap", "tls/wss-tls13-aes128gcm.pcap", "tls/wss-tls12-resume-ticket.pcap"]
        .map { Tools.fixtures.appendingPathComponent($0).path }
        .filter { FileManager.default.fileExists(atPath: $0) }

    /// `path` cut by editcap into files of `perFile` packets, in a new directory.
    static func split(_ path: String, perFile: Int) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rotated-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        guard let editcap = Tools.which("editcap") else {
            if Tools.isCI { Issue.record("editcap is required under CI (apt-get install tshark brings it)") }
            throw CancellationError()
        }
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
}
