import Foundation
import Testing

/// The command line behaves like a good Unix tool: exit codes, filters, streams, time formats,
/// payload modes, colors, closed pipes, follow.
@Suite struct CommandLineTests {
    let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path

    func rows(_ r: Tools.Result) -> [Substring] {
        r.text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().prefix { !$0.isEmpty }.map { $0 }
    }

    @Test func missingFileExitsOneWithOneLine() throws {
        let r = try Tools.wstrace(["read", "/nonexistent.pcap"])
        #expect(r.status == 1)
        #expect(r.stderr == "wstrace: /nonexistent.pcap: cannot open: No such file or directory\n")
        #expect(r.stdout.isEmpty)
    }

    @Test func notACaptureFile() throws {
        let path = Tools.fixtures.appendingPathComponent("linktypes/not-a-capture.pcap").path
        let r = try Tools.wstrace(["read", path])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("wstrace: \(path): not a pcap or pcapng capture file"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func cutFilePrintsWhatCameBeforeAndWarns() throws {
        let path = Tools.fixtures.appendingPathComponent("linktypes/truncated-mid-record.pcap").path
        let r = try Tools.wstrace(["read", path, "--no-color"])
        #expect(r.status == 1)
        #expect(rows(r).count >= 9)
        #expect(rows(r).last?.hasPrefix("     9") == true)
        #expect(r.stderr.contains("capture damaged after packet 9"))
        let j = try Tools.wstrace(["read", path, "--format", "json"])
        let doc = try Tools.json(j.stdout)  // still a whole, valid document
        #expect(doc["packets"] as? Int == 9)
        let warnings = (doc["capture"] as? [String: Any])?["warnings"] as? [String]
        #expect(warnings?.first?.contains("truncated") == true)
    }

    @Test func unsupportedLinkType() throws {
        // Hand-made: a pcap header with link type 147 (USER0) and one 4-byte record.
        var bytes: [UInt8] = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 8) + [0xff, 0xff, 0, 0, 147, 0, 0, 0]
        bytes += [0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("user0-\(getpid()).pcap")
        try Data(bytes).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let r = try Tools.wstrace(["read", path.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("unsupported link type"))
    }

    @Test func badUsageExits64() throws {
        #expect(try Tools.wstrace(["read"]).status == 64)
        #expect(try Tools.wstrace(["read", seed, "--format", "xml"]).status == 64)
        #expect(try Tools.wstrace(["read", seed, "-t", "x"]).status == 64)
        // Checked before any capture starts (no privileges needed): a duration the nanosecond
        // deadline cannot hold trapped before it was bounded.
        for duration in ["0", "-1", "inf", "nan", "1e300", "1000000001"] {
            let r = try Tools.wstrace(["capture", "-i", "lo", "--duration=\(duration)"])
            #expect(r.status == 64, "--duration \(duration): exit \(r.status)")
            #expect(r.stderr.contains("--duration must be positive and at most 1000000000 seconds"), "\(duration): \(r.stderr)")
        }
        for timeout in ["0", "1000000001", "10000000000000"] {
            let r = try Tools.wstrace(["read", seed, "--idle-timeout=\(timeout)"])
            #expect(r.status == 64, "--idle-timeout \(timeout): exit \(r.status)")
            #expect(r.stderr.contains("--idle-timeout must be positive and at most 1000000000 seconds"), "\(timeout): \(r.stderr)")
        }
        #expect(try Tools.wstrace(["read", seed, "--idle-timeout=1000000000"]).status == 0)
    }

    @Test func badFilterPrintsLibpcapsError() throws {
        let r = try Tools.wstrace(["read", seed, "-f", "tcp port banana"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("wstrace: bad filter 'tcp port banana':"))
    }

    @Test func filterKeepsFileNumbers() throws {
        let r = try Tools.wstrace(["read", seed, "--no-color", "-f", "tcp[tcpflags] & tcp-fin != 0"])
        #expect(r.status == 0)
        let numbers = rows(r).map { Int($0.prefix(6).trimmingCharacters(in: .whitespaces)) }
        #expect(numbers == [19, 21])
    }

    @Test func streamSelectsOneConnection() throws {
        let path = Tools.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        let all = try Tools.json(try Tools.wstrace(["read", path, "--format", "json"]).stdout)
        let one = try Tools.json(try Tools.wstrace(["read", path, "--format", "json", "--stream", "1"]).stdout)
        let events = one["events"] as! [[String: Any]]
        #expect(!events.isEmpty)
        #expect(events.allSatisfy { $0["stream"] as? Int == 1 })
        #expect(events.count < (all["events"] as! [Any]).count)
        #expect((one["connections"] as! [[String: Any]]).map { $0["stream"] as! Int } == [1])
    }

    @Test func timeFormats() throws {
        let relative = rows(try Tools.wstrace(["read", seed, "--no-color", "-t", "r"]))
        let absolute = rows(try Tools.wstrace(["read", seed, "--no-color", "-t", "a"]))
        let delta = rows(try Tools.wstrace(["read", seed, "--no-color", "-t", "d"]))
        #expect(relative[0].contains("0.000000 "))
        #expect(absolute[0].contains(" 20"))  // a date: 20xx-
        #expect(absolute[0].range(of: #"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"#, options: .regularExpression) != nil)
        // Delta of row 2 = relative of row 2 - relative of row 1; relative of the last row is the largest.
        func time(_ row: Substring) -> Double { Double(row.split(separator: " ", omittingEmptySubsequences: true)[1])! }
        #expect(abs(time(delta[1]) - (time(relative[1]) - time(relative[0]))) < 1e-6)
        #expect(time(relative.last!) > time(delta.last!))
    }

    @Test func payloadModes() throws {
        func firstText(_ mode: String) throws -> [String: Any] {
            let doc = try Tools.json(try Tools.wstrace(["read", seed, "--format", "json", "--payloads", mode]).stdout)
            let events = doc["events"] as! [[String: Any]]
            return events.first { ($0["ws"] as? [String: Any])?["opcode_name"] as? String == "text" }!["ws"] as! [String: Any]
        }
        #expect(try firstText("full")["payload_text"] as? String == "hello")
        #expect(try firstText("none")["payload_text"] == nil)
        #expect(try firstText("none")["payload_base64"] == nil)
        #expect(try firstText("preview")["payload_text"] as? String == "hello")
        // --max-payload cuts to an exact prefix and says so.
        let doc = try Tools.json(try Tools.wstrace(["read", seed, "--format", "json", "--max-payload", "3"]).stdout)
        let ws = (doc["events"] as! [[String: Any]]).compactMap { $0["ws"] as? [String: Any] }.first { $0["opcode_name"] as? String == "text" }!
        #expect(ws["payload_text"] as? String == "hel")
        #expect(ws["payload_truncated"] as? Bool == true)
    }

    @Test func colorsFollowTheFlagsAndNO_COLOR() throws {
        let forced = try Tools.wstrace(["read", seed, "--color"])
        #expect(forced.text.contains("\u{1b}["))
        let noColorEnv = try Tools.wstrace(["read", seed], environment: ["NO_COLOR": "1"])
        #expect(!noColorEnv.text.contains("\u{1b}["))
        let pipe = try Tools.wstrace(["read", seed])  // not a TTY
        #expect(!pipe.text.contains("\u{1b}["))
        let off = try Tools.wstrace(["read", seed, "--no-color"])
        #expect(!off.text.contains("\u{1b}["))
    }

    @Test func closedPipeEndsQuietly() throws {
        let big = Tools.fixtures.appendingPathComponent("external/zeek/websocket__wstunnel-https.pcap").path
        let sh = URL(fileURLWithPath: "/bin/sh")
        let r = try Tools.run(sh, ["-c", "'\(Tools.wstrace.path)' read '\(big)' --no-color | head -n 2; echo \"status=${PIPESTATUS:-}\""])
        #expect(r.text.split(separator: "\n").count == 3)
        #expect(r.stderr.isEmpty, "stderr: \(r.stderr)")
        let status = try Tools.run(URL(fileURLWithPath: "/bin/bash"), ["-c", "'\(Tools.wstrace.path)' read '\(big)' --format ndjson | head -c 100 >/dev/null; echo ${PIPESTATUS[0]}"])
        #expect(status.text.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(status.stderr.isEmpty)
    }

    @Test func standardInput() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: seed))
        let r = try Tools.wstrace(["read", "-", "--no-color"], stdin: data)
        #expect(r.status == 0)
        #expect(rows(r).count == 22)
    }

    @Test func summaryOnly() throws {
        let r = try Tools.wstrace(["read", seed, "--summary", "--no-color"])
        #expect(r.text.hasPrefix("Stream 0  "))
        #expect(r.text.contains("Verdict"))
        #expect(r.text.contains("closed cleanly by client, 1000"))
        #expect(!r.text.contains("[handshake 1/3]"))
    }

    @Test func followPrintsTheConversation() throws {
        let r = try Tools.wstrace(["follow", seed, "--stream", "0"])
        #expect(r.status == 0)
        let lines = r.text.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("Stream 0: client 127.0.0.1:") == true)
        #expect(lines.contains { $0.contains("client → server  GET /chat HTTP/1.1 (Upgrade: websocket)") })
        #expect(lines.contains { $0.contains("client → server  text   \"hello\"") })
        #expect(lines.contains { $0.contains("server → client  text   \"hello back\"") })
        #expect(lines.contains { $0.contains("client → server  binary 00 01 02 03 fe ff") })
        #expect(lines.contains { $0.contains("client → server  close  1000 Normal Closure \"bye\"") })
        #expect(lines.dropLast().last == "Verdict: closed cleanly by client, 1000")
        #expect(lines.last == "Diagnosis: [clean_close by client] closed cleanly by client, 1000 (Normal Closure)")
        let missing = try Tools.wstrace(["follow", seed, "--stream", "7"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no stream 7"))
    }
}
