import Foundation
import Testing

/// `wstrace report` (the HTML lifecycle report) rendered in headless Chromium, and
/// `read --format mermaid` checked against a golden file.
@Suite struct ReportTests {
    /// Fixtures whose report is loaded in Chromium: the walk-through, three concurrent
    /// connections, a long fragmented run (collapsed), rejected upgrades (violations), an RST,
    /// and a capture gap.
    static let fixtures = [
        "seed-walkthrough.pcap",
        "websocket/ws-concurrent.pcap",
        "websocket/ws-fragmented.pcap",
        "websocket/ws-rejected-upgrade.pcap",
        "websocket/ws-rst-no-close.pcap",
        "tcp/tcp-missing-segment.pcap",
    ]

    // MARK: - Helpers

    /// Chromium, or nil when absent outside CI. Under CI a missing Chromium is a failure, never a skip.
    static func chromium() -> URL? {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            if let url = Tools.which(name) { return url }
        }
        if Tools.isCI { Issue.record("chromium is required under CI (apt-get install chromium)") }
        return nil
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wstrace-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes the report of a fixture and returns its path.
    static func report(_ fixture: String, into dir: URL) throws -> URL {
        let html = dir.appendingPathComponent("report.html")
        let r = try Tools.wstrace(["report", Tools.fixtures.appendingPathComponent(fixture).path, "-o", html.path])
        #expect(r.status == 0, "report exited \(r.status): \(r.stderr)")
        #expect(r.stdout.isEmpty)
        return html
    }

    /// The arrows each connection's diagram must stand for, derived from wstrace's own JSON of
    /// the file: one per HTTP request or response, WebSocket frame, TLS record or other payload
    /// event, plus one per packet that is a step of the TCP handshake or teardown, or an RST.
    static func expectedArrows(_ fixture: String) throws -> [Int: Int] {
        let r = try Tools.wstrace(["read", Tools.fixtures.appendingPathComponent(fixture).path, "--format", "json"])
        #expect(r.status == 0)
        let doc = try Tools.json(r.stdout)
        let events = try #require(doc["events"] as? [[String: Any]])
        var arrows: [Int: Int] = [:]
        var lifecyclePackets = Set<Int>()
        for e in events {
            guard let stream = e["stream"] as? Int, let packet = e["packet"] as? Int else { continue }
            arrows[stream, default: 0] += 0
            let info = e["info"] as? String ?? ""
            let payload = e["http"] != nil || e["ws"] != nil || e["tls"] != nil
                || info.hasPrefix("HTTP body, ") || info.hasPrefix("Data, ") || info.hasPrefix("Data after close, ")
            if payload { arrows[stream, default: 0] += 1 }
            if let tcp = e["tcp"] as? [String: Any],
               tcp["handshake_step"] != nil || tcp["teardown_steps"] != nil || (tcp["reset"] as? Bool) == true,
               lifecyclePackets.insert(packet).inserted {
                arrows[stream, default: 0] += 1
            }
        }
        return arrows
    }

    /// Per stream, the arrows a report's HTML (or DOM) stands for: drawn `<g class="arrow …">`
    /// plus, for collapsed runs and omitted rows, the frames they stand for beyond those drawn.
    static func arrowsInPage(_ html: String) -> [Int: Int] {
        var out: [Int: Int] = [:]
        let sections = html.components(separatedBy: "<section class=\"conn").dropFirst()
        for section in sections {
            guard let idRange = section.range(of: "id=\"stream-") else { continue }
            let digits = section[idRange.upperBound...].prefix { $0.isNumber }
            guard let stream = Int(digits) else { continue }
            var count = section.components(separatedBy: "<g class=\"arrow ").count - 1
            for piece in section.components(separatedBy: "data-frames=\"").dropFirst() {
                let frames = Int(piece.prefix { $0.isNumber }) ?? 0
                let drawn = piece.range(of: "data-drawn=\"").map { Int(piece[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
                count += frames - drawn
            }
            out[stream] = count
        }
        return out
    }

    /// Console messages Chromium logged for the page (errors, CSP refusals, failed loads).
    static func consoleProblems(_ stderr: String) -> [String] {
        stderr.split(separator: "\n").map(String.init).filter {
            $0.contains("CONSOLE") || $0.contains("Uncaught") || $0.contains("net::ERR_") || $0.contains("Refused to")
        }
    }

    static func chromiumArguments(profile: URL) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)", "--enable-logging=stderr",
         "--v=0", "--hide-scrollbars", "--no-first-run", "--disable-extensions"]
    }

    // MARK: - HTML report

    /// The seed's diagram holds the walk-through: 3 handshake segments, the Upgrade request and
    /// the 101, 8 data frames (text, binary, ping, pong), 2 close frames and 4 teardown segments.
    @Test func seedDiagramHoldsTheWalkthrough() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = try String(contentsOf: Self.report("seed-walkthrough.pcap", into: dir), encoding: .utf8)
        let walkthrough = 3 + 2 + 8 + 2 + 4
        #expect(Self.arrowsInPage(html) == [0: walkthrough])
        #expect(try Self.expectedArrows("seed-walkthrough.pcap") == [0: walkthrough])
        #expect(html.components(separatedBy: "class=\"arrow c2s k-handshake\"").count - 1 == 2)
        #expect(html.components(separatedBy: "class=\"arrow s2c k-handshake\"").count - 1 == 1)
        #expect(html.components(separatedBy: " k-teardown\"").count - 1 == 4)
        #expect(html.components(separatedBy: " k-close\"").count - 1 == 2)
        #expect(html.components(separatedBy: " k-http\"").count - 1 == 2)
        // Self-contained: no script, no external resource, escaped payloads.
        #expect(!html.contains("<script"))
        #expect(!html.contains("src=\""))
        #expect(!html.contains("<link"))
        #expect(html.contains("&quot;are you there?&quot;"))
        #expect(html.contains("closed cleanly by client, 1000"))
    }

    @Test(arguments: fixtures)
    func reportLoadsInChromium(fixture: String) throws {
        guard let chromium = Self.chromium() else { return }
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = try Self.report(fixture, into: dir)
        let source = try String(contentsOf: html, encoding: .utf8)
        let expected = try Self.expectedArrows(fixture)
        #expect(!expected.isEmpty)
        #expect(Self.arrowsInPage(source) == expected)

        let r = try Tools.run(chromium, Self.chromiumArguments(profile: dir.appendingPathComponent("profile"))
                              + ["--dump-dom", html.absoluteString])
        #expect(r.status == 0, "chromium exited \(r.status)")
        #expect(Self.consoleProblems(r.stderr).isEmpty, "console: \(Self.consoleProblems(r.stderr))")
        let dom = r.text
        #expect(dom.contains("WebSocket lifecycle report"))
        // The parsed DOM holds every diagram and every arrow (collapsed groups included).
        #expect(Self.arrowsInPage(dom) == expected)
        #expect(dom.components(separatedBy: "<svg class=\"seg head\"").count - 1 == expected.count)
        if fixture.contains("fragmented") {
            #expect(dom.contains("<details class=\"run\""), "a long data run should collapse")
        }
        if fixture.contains("rejected") {
            #expect(dom.contains("<tr class=\"bad\">"), "violations are marked in the index")
        }
    }

    /// The charts (issue 17): the Gantt has one bar per connection, coloured by the cause the
    /// JSON gives it; the close-code chart counts the first close frames of the JSON.
    @Test(arguments: ["failures/net-nginx-idle.pcap", "failures/app-graceful-1001.pcap", "failures/app-server-killed.pcap",
                      "failures/app-periodic-pings.pcap"])
    func chartsAgreeWithTheJSON(fixture: String) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = try Self.report(fixture, into: dir)
        var page = try String(contentsOf: html, encoding: .utf8)
        if let chromium = Self.chromium() {
            let r = try Tools.run(chromium, Self.chromiumArguments(profile: dir.appendingPathComponent("profile"))
                                  + ["--dump-dom", html.absoluteString])
            #expect(r.status == 0)
            #expect(Self.consoleProblems(r.stderr).isEmpty, "console: \(Self.consoleProblems(r.stderr))")
            page = r.text  // what the browser parsed
        }
        let r = try Tools.wstrace(["read", Tools.fixtures.appendingPathComponent(fixture).path, "--format", "json", "--summary"])
        let doc = try Tools.json(r.stdout)
        let connections = try #require(doc["connections"] as? [[String: Any]])
        for c in connections {
            let stream = c["stream"] as! Int
            let cause = (c["diagnosis"] as? [String: Any])?["cause"] as? String ?? "?"
            #expect(page.contains("data-stream=\"\(stream)\" data-cause=\"\(cause)\""), "stream \(stream): \(cause)")
        }
        #expect(page.components(separatedBy: "<rect class=\"bar cause-").count - 1 == connections.count)
        var codes: [String: Int] = [:]
        for c in connections {
            if let close = c["close"] as? [String: Any] { codes[(close["code"] as? Int).map(String.init) ?? "none", default: 0] += 1 }
        }
        for (code, n) in codes { #expect(page.contains("data-code=\"\(code)\" data-count=\"\(n)\""), "code \(code) ×\(n)") }
        #expect(page.contains("<svg class=\"chart gantt\""))
        if fixture.contains("pings") {
            let pongs = (connections.first?["health"] as? [String: Any])?["pongs"] as? Int ?? -1
            #expect(page.components(separatedBy: "<circle class=\"rtt\"").count - 1 == pongs)
        }
        if fixture.contains("idle") { #expect(page.contains("Across connections")) }
        #expect(!page.contains("<script"))
    }

    /// The capture-wide notes of a connection (its diagnosis across connections, its pattern,
    /// its proxy pair) sit in its own section, right after its summary line, and the rest of
    /// the section follows them whole: on the nginx capture every connection has notes.
    @Test func crossConnectionNotesFollowTheirSummaryLine() throws {
        let fixture = "failures/net-nginx-idle.pcap"
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = try String(contentsOf: try Self.report(fixture, into: dir), encoding: .utf8)
        let r = try Tools.wstrace(["read", Tools.fixtures.appendingPathComponent(fixture).path, "--format", "json", "--summary"])
        let connections = try #require(try Tools.json(r.stdout)["connections"] as? [[String: Any]])
        #expect(connections.count == 8)
        for c in connections {
            let stream = try #require(c["stream"] as? Int)
            let start = try #require(page.range(of: "<section class=\"conn bad\" id=\"stream-\(stream)\">")
                                     ?? page.range(of: "<section class=\"conn\" id=\"stream-\(stream)\">"))
            let end = try #require(page.range(of: "</section>\n", range: start.upperBound..<page.endIndex))
            let section = String(page[start.upperBound..<end.lowerBound])
            #expect(section.components(separatedBy: "</summary>").count == 2, "stream \(stream): one summary line")
            let afterSummary = try #require(section.range(of: "</summary>\n")).upperBound
            var rest = section[afterSummary...]
            var notes = 0
            while rest.hasPrefix("<p class=\"pattern\">"), let lineEnd = rest.range(of: "</p>\n") {
                notes += 1
                rest = rest[lineEnd.upperBound...]
            }
            #expect(notes >= 2, "stream \(stream): its notes after the summary line")
            #expect(rest.hasPrefix("<div class=\"ladder\">"), "stream \(stream): the ladder after the notes")
            #expect(rest.hasSuffix("↑ index</a></p>\n</details>\n"), "stream \(stream): the section whole to its end")
        }
    }

    /// The screenshot of the seed report renders (the committed docs/report-seed.png is made the same way).
    @Test func seedScreenshotRenders() throws {
        guard let chromium = Self.chromium() else { return }
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = try Self.report("seed-walkthrough.pcap", into: dir)
        let png = dir.appendingPathComponent("seed.png")
        let r = try Tools.run(chromium, Self.chromiumArguments(profile: dir.appendingPathComponent("profile"))
                              + ["--window-size=1200,1600", "--screenshot=\(png.path)", html.absoluteString])
        #expect(r.status == 0)
        #expect(Self.consoleProblems(r.stderr).isEmpty, "console: \(Self.consoleProblems(r.stderr))")
        let data = try Data(contentsOf: png)
        #expect(data.count > 20_000)
        #expect(data.prefix(8) == Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    }

    @Test func reportErrors() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        #expect(try Tools.wstrace(["report", seed]).status == 64)
        #expect(try Tools.wstrace(["report", seed, "-o", "/nonexistent-dir/x.html"]).status == 1)
        #expect(try Tools.wstrace(["report", "/nonexistent.pcap", "-o", "/dev/null"]).status == 1)
        let stdout = try Tools.wstrace(["report", seed, "-o", "-"])
        #expect(stdout.status == 0)
        #expect(stdout.text.hasPrefix("<!DOCTYPE html>"))
        #expect(stdout.text.hasSuffix("</html>\n"))
    }

    // MARK: - Mermaid

    @Test func mermaidMatchesGolden() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        let r = try Tools.wstrace(["read", seed, "--stream", "0", "--format", "mermaid"])
        #expect(r.status == 0)
        #expect(r.text.hasPrefix("sequenceDiagram\n"))
        let golden = Tools.root.appendingPathComponent("Tests/Golden/seed-walkthrough.mmd")
        if ProcessInfo.processInfo.environment["WSTRACE_UPDATE_GOLDEN"] == "1" {
            try r.stdout.write(to: golden)
            return
        }
        #expect(r.text == (try String(contentsOf: golden, encoding: .utf8)))
    }

    /// Mermaid draws the same steps as the HTML diagram: one message per arrow.
    @Test(arguments: ["websocket/ws-concurrent.pcap", "websocket/ws-rst-no-close.pcap"])
    func mermaidHasOneMessagePerArrow(fixture: String) throws {
        let path = Tools.fixtures.appendingPathComponent(fixture).path
        for (stream, arrows) in try Self.expectedArrows(fixture) {
            let r = try Tools.wstrace(["read", path, "--stream", String(stream), "--format", "mermaid"])
            #expect(r.status == 0)
            let lines = r.text.split(separator: "\n")
            #expect(lines.first == "sequenceDiagram")
            #expect(lines[1].hasPrefix("    participant Client as Client "))
            #expect(lines[2].hasPrefix("    participant Server as Server "))
            let messages = lines.filter { $0.hasPrefix("    Client-") || $0.hasPrefix("    Server-") }
            #expect(messages.count == arrows, "stream \(stream)")
            // Nothing that would end a Mermaid statement or start a comment inside a message.
            for m in messages {
                var bare = String(m)
                for entity in ["#35;", "#59;", "#37;", "#lt;", "#gt;"] { bare = bare.replacingOccurrences(of: entity, with: "") }
                #expect(!bare.contains("#") && !bare.contains(";") && !bare.contains("%%"), "\(m)")
            }
        }
    }

    @Test func mermaidNeedsAStream() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        let r = try Tools.wstrace(["read", seed, "--format", "mermaid"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--stream"))
        #expect(try Tools.wstrace(["read", seed, "--format", "mermaid", "--stream", "7"]).status == 1)
    }
}
