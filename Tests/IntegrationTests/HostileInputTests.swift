import Foundation
import Testing

/// Hostile captures (issue 7): each case is generated at test time by scripts/hostile/gen.py
/// (hand-built bytes, test-sized with --small) and read by `wstrace read` with a cap set low
/// enough for the small capture to cross it. Each test checks the diagnostic, that the cap held,
/// exit status 0, and that `--format json` is one valid JSON document.
/// The full-size versions and their peak memory are scripts/hostile-memory.sh's job.
@Suite struct HostileInputTests {
    /// The generated captures, made once per test process.
    static let dir: URL? = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wstrace-hostile-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        guard let python = Tools.which("python3"),
              let r = try? Tools.run(python, [Tools.root.appendingPathComponent("scripts/hostile/gen.py").path,
                                               "all", dir.path, "--small"]),
              r.status == 0 else { return nil }
        return dir
    }()

    func capture(_ name: String) throws -> String {
        let dir = try #require(Self.dir, "scripts/hostile/gen.py failed (python3 needed)")
        return dir.appendingPathComponent(name + ".pcap").path
    }

    /// Runs text and JSON with `options`; both exit 0, the JSON parses. Returns (text, json).
    func read(_ name: String, _ options: [String] = []) throws -> (String, [String: Any]) {
        let path = try capture(name)
        let text = try Tools.wstrace(["read", path, "--no-color"] + options)
        #expect(text.status == 0, "\(name): exit \(text.status), stderr \(text.stderr)")
        #expect(!text.stdout.contains(0x1b), "\(name): raw ESC in text output")
        let json = try Tools.wstrace(["read", path, "--format", "json"] + options)
        #expect(json.status == 0, "\(name) json: exit \(json.status), stderr \(json.stderr)")
        #expect(String(validating: json.stdout, as: UTF8.self) != nil, "\(name): JSON output is not UTF-8")
        return (text.text, try Tools.json(json.stdout))
    }

    func events(_ doc: [String: Any]) -> [[String: Any]] { doc["events"] as? [[String: Any]] ?? [] }
    func connections(_ doc: [String: Any]) -> [[String: Any]] { doc["connections"] as? [[String: Any]] ?? [] }
    func capture(_ doc: [String: Any]) -> [String: Any] { doc["capture"] as? [String: Any] ?? [:] }

    /// Every hostile capture and every fuzz regression through the flow workers: no crash, and
    /// the one-thread output byte for byte (default caps, which these small captures stay under).
    @Test func hostileCapturesOnWorkers() throws {
        let dir = try #require(Self.dir, "scripts/hostile/gen.py failed (python3 needed)")
        let regressions = Tools.root.appendingPathComponent("Tests/FuzzRegressions")
        let paths = try FileManager.default.contentsOfDirectory(atPath: dir.path).map { dir.appendingPathComponent($0).path }
            + FileManager.default.contentsOfDirectory(atPath: regressions.path).filter { $0.hasSuffix(".pcap") }
                .map { regressions.appendingPathComponent($0).path }
        #expect(paths.count >= 10)
        for path in paths.sorted() where path.hasSuffix(".pcap") {
            for format in ["ndjson", "text"] {
                let one = try Tools.wstrace(["read", path, "--format", format, "--threads", "1"])
                let three = try Tools.wstrace(["read", path, "--format", format, "--threads", "3"])
                #expect(three.status == one.status && (one.status == 0 || one.status == 1), "\(path) \(format)")
                #expect(three.stdout == one.stdout, "\(path) \(format)")
                #expect(three.stderr == one.stderr, "\(path) \(format)")
            }
        }
    }

    // MARK: - The cases

    /// 64-bit lengths of 2^63-1 and with the high bit set, and a frame longer than the capture:
    /// nothing is allocated for the declared length (only the retention is kept), the missing
    /// bytes are reported at the end of the stream.
    @Test func hugeDeclaredLengths() throws {
        let (text, doc) = try read("len64", ["--payloads", "full", "--max-payload", "32"])
        #expect(text.contains("Binary [FIN] len=9223372036854775807 [incomplete]"))
        #expect(text.contains("[9223372036854775743 bytes not captured: end of stream inside payload of Binary frame"))
        #expect(text.contains("violation length-high-bit-set"))
        #expect(text.contains("[999900 bytes not captured: end of stream inside payload of Binary frame (999900 of 1000000 bytes missing)"))
        let frames = events(doc).compactMap { $0["ws"] as? [String: Any] }
        let hugeFrames = frames.filter { ($0["payload_length"] as? NSNumber)?.uint64Value == UInt64(Int64.max) }
        let huge = try #require(hugeFrames.first)
        #expect(huge["payload_truncated"] as? Bool == true)
        // The cap: at most --max-payload bytes of payload kept, whatever the declared length.
        for f in frames { #expect(((f["payload_text"] as? String) ?? "").utf8.count <= 32 * 4) }
        #expect((capture(doc)["violations"] as? Int) == 1)
    }

    /// One message that never ends: past --max-message it is counted, not kept, and flagged.
    @Test func endlessFragmentedMessage() throws {
        let (text, doc) = try read("fragmented", ["--max-message", "65536"])
        #expect(text.contains("violation message-too-big"))
        #expect(text.contains("end of stream inside a Binary message (17 frame(s) seen, no final frame)"))
        let flagged = events(doc).filter { ($0["info"] as? String)?.contains("message-too-big") == true }
        let first = try #require(flagged.first)
        #expect(first["packet"] as? Int == 7)  // the second fragment crosses 64 KiB: reported there, not at the end
        #expect((capture(doc)["messages"] as? Int) == 0)
        #expect((capture(doc)["frames"] as? Int) == 17)
    }

    /// 2 MiB behind a missing first segment: at --max-buffered the hole is declared a gap and
    /// delivery goes on, instead of holding everything to the end of the capture.
    @Test func outOfOrderFlood() throws {
        let (text, doc) = try read("ooo-flood", ["--max-buffered", "262144"])
        #expect(text.contains("[previous-segment-not-captured]"))
        #expect(text.contains("[31 bytes not captured: 31 bytes at a frame boundary (whole frames); scanning for the next plausible frame header]"))
        let gaps = events(doc).filter { $0["gap"] != nil }
        let gap = try #require(gaps.first)
        // 4 held segments of 64,996 bytes are under 256 KiB, the 5th (packet 10) crosses it.
        #expect(gap["packet"] as? Int == 10)
        #expect((capture(doc)["gaps"] as? Int) == 1)
        #expect((capture(doc)["messages"] as? Int) == 33)  // everything after the hole decoded
    }

    /// 1,000 connections that only send a SYN, with a table of 100: the least recently active
    /// are released and say so.
    @Test func connectionTableFull() throws {
        let (text, doc) = try read("conns", ["--max-connections", "100", "--summary"])
        #expect(text.contains("Teardown                                           no FIN: released early (connection table full)"))
        #expect(text.contains("Verdict                                            TCP only, no WebSocket seen; released early: connection table full"))
        let reasons = connections(doc).map { $0["released"] as? String ?? "" }
        #expect(reasons.count == 1000)
        #expect(reasons.filter { $0 == "connection table full" }.count == 900)
        #expect(reasons.filter { $0 == "end of capture" }.count == 100)
    }

    /// A header block of 256 KiB without CR LF CR LF: past --max-header the direction is given up.
    @Test func endlessHeaderBlock() throws {
        let (text, doc) = try read("header", ["--max-header", "4096"])
        #expect(text.contains("[violation header-too-large: HTTP header block larger than 4096 bytes: rest of this direction not interpreted]"))
        let c = try #require(connections(doc).first)
        #expect(c["websocket"] as? Bool == false)
        #expect((capture(doc)["violations"] as? Int) == 1)
    }

    /// 10,000 empty frames (the full case: 100,000) completed by one packet that fills a hole
    /// in front of 3 held segments: all reported on that packet, no recursion, nothing dropped.
    @Test func manyFramesInOnePacket() throws {
        let (text, doc) = try read("tinyframes")
        let rows = text.split(separator: "\n").filter { $0.contains("Text [FIN] len=0 \"\"") }
        #expect(rows.count == 10_000)
        #expect(rows.allSatisfy { $0.hasPrefix("     6 ") })
        #expect(text.contains("10002 frames, 10000 messages, 0 violation(s)"))
        #expect((capture(doc)["frames"] as? Int) == 10_002)
    }

    /// A deflate bomb: inflation stops at --max-decompressed, flagged, and the next message decodes.
    @Test func deflateBomb() throws {
        let (text, doc) = try read("bomb", ["--max-decompressed", "1048576"])
        #expect(text.contains("inflated 4081→1048576 bytes [incomplete]"))
        #expect(text.contains("[violation message-too-big: decompression cap of 1048576 bytes reached; rest not inflated]"))
        #expect(text.contains("Text [FIN] len=5 \"after\""))
        let messages = events(doc).compactMap { $0["message"] as? [String: Any] }
        let m = try #require(messages.first)
        #expect((m["length"] as? Int) == 1_048_576)  // the cap held: not the 4 MiB the stream holds
        #expect(m["complete"] as? Bool == false)
    }

    /// Garbage between frames is reported as garbage and parsing resumes at the next plausible
    /// frame, in the same segment or the next: no frame after it is swallowed, never a crash (a
    /// 2^64-1 length from 0xff bytes once overflowed a byte counter).
    @Test func garbageBetweenFrames() throws {
        let (text, doc) = try read("garbage")
        for message in ["one", "two", "three"] { #expect(text.contains("Text [FIN] len=\(message.count) \"\(message)\"")) }
        #expect(text.contains("violation garbage: 13 bytes between frames are not a frame"))
        #expect(text.contains("violation garbage: bytes that read as a reserved-15 frame header"))
        #expect(!text.contains("len=18446744073709551615"))
        #expect(text.contains("Close [FIN] [MASKED] len=2 1000 Normal Closure — client initiated"))
        // Two garbage runs, and the 1-byte continuation the scan took for a frame between them.
        #expect((capture(doc)["violations"] as? Int) == 3)
    }

    // MARK: - Terminal safety

    /// ESC, BEL, CR, BS, NUL, DEL, C1 controls and invalid UTF-8 in payloads, the request path,
    /// header values and a close reason: escaped in text, valid UTF-8 JSON with the bytes kept.
    @Test func controlBytesAreEscaped() throws {
        let path = try capture("escapes")
        for options in [[], ["--payloads", "full"], ["--summary"]] {
            let r = try Tools.wstrace(["read", path] + options)
            #expect(r.status == 0)
            for byte: UInt8 in [0x1b, 0x07, 0x08, 0x00, 0x7f, 0x0d] {
                #expect(!r.stdout.contains(byte), "raw byte \(byte) in text output with \(options)")
            }
            #expect(String(validating: r.stdout, as: UTF8.self) != nil, "text output is not UTF-8 with \(options)")
            #expect(!r.text.contains("\u{9b}"), "raw C1 CSI in text output")
        }
        let (text, doc) = try read("escapes")
        #expect(text.contains(#"GET /x\x1b[2J\x07 HTTP/1.1"#))
        #expect(text.contains(#""red \x1b[31mALERT\x1b[0m bell\x07 cr\r back\x08 nul\x00 del\x7f csi\xc2\x9b end""#))
        #expect(text.contains("violation invalid-utf8"))
        #expect(text.contains(#"protocols p\x1b[1m offered"#))
        #expect(text.contains("1b 5b 33 31 6d 20 62 69 6e 61 72 79 20 1b"))  // binary: hex
        let infos = events(doc).compactMap { $0["ws"] as? [String: Any] }.compactMap { $0["payload_text"] as? String }
        #expect(infos.contains { $0.contains("\u{1b}[31mALERT") })  // JSON keeps the text, escaped as \u001b
    }

    // MARK: - Nothing lost on exit

    /// A capture cut in the middle of a record: every packet before the cut is printed, the
    /// JSON document is whole, and the damage is one line on stderr (exit 1, as for any damage).
    @Test func cutMidRecordKeepsWhatCameBefore() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: try capture("escapes")))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("wstrace-cut-\(getpid()).pcap")
        try full.prefix(full.count - 20).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        let r = try Tools.wstrace(["read", cut.path, "--no-color"])
        #expect(r.status == 1)
        #expect(r.text.contains("Close [FIN] [MASKED] len=15 1000 Normal Closure"))  // packet 9, before the cut
        #expect(r.text.contains("9 packets: 9 TCP"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        let j = try Tools.wstrace(["read", cut.path, "--format", "json"])
        let doc = try Tools.json(j.stdout)
        #expect(doc["packets"] as? Int == 9)
        #expect(connections(doc).count == 1)
    }

    /// `| head -1` closes the pipe early: wstrace stops quietly with status 0.
    @Test func closedPipeIsQuiet() throws {
        let path = try capture("tinyframes")
        for format in ["text", "json", "ndjson"] {
            let r = try Tools.run(URL(fileURLWithPath: "/bin/bash"),
                                  ["-c", "'\(Tools.wstrace.path)' read '\(path)' --format \(format) | head -1 >/dev/null; echo ${PIPESTATUS[0]}"])
            #expect(r.text.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(format): \(r.text)")
            #expect(r.stderr.isEmpty, "\(format): \(r.stderr)")
        }
    }
}
