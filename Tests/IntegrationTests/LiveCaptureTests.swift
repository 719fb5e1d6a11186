import Foundation
import Testing

/// `wstrace capture` and `wstrace interfaces` on the real loopback interface (issue 9).
///
/// Capturing needs root: outside CI a non-root run skips these tests by returning early; under CI
/// (which runs as root) they must run, and a missing prerequisite is a failure. Every wait is
/// bounded; the suite takes a few seconds.
@Suite(.serialized)
struct LiveCaptureTests {
    // MARK: - interfaces

    @Test func interfacesListsLoopbackWithAddressesAndFlags() throws {
        let r = try Tools.wstrace(["interfaces"])
        #expect(r.status == 0, "\(r.stderr)")
        let lo = r.text.split(separator: "\n").first { $0.contains(" lo [") }
        #expect(lo?.contains("loopback") == true, "no loopback line for lo in:\n\(r.text)")
        #expect(lo?.contains("up") == true)
        #expect(r.text.contains("127.0.0.1/8"), "lo's address missing:\n\(r.text)")
    }

    // MARK: - errors

    @Test func unknownInterfaceListsTheValidOnes() throws {
        let r = try Tools.wstrace(["capture", "-i", "wstrace-nosuch0", "-c", "1"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("wstrace-nosuch0: no such interface"), "\(r.stderr)")
        #expect(r.stderr.contains("lo"), "valid interfaces not listed: \(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func badFilterPrintsLibpcapsText() throws {
        guard LiveCaptureTests.canCapture() else { return }
        let r = try Tools.wstrace(["capture", "-i", "lo", "-f", "tcp port", "-c", "1"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("bad filter 'tcp port'"), "\(r.stderr)")
        #expect(r.stderr.contains("syntax error"), "libpcap's text missing: \(r.stderr)")
    }

    @Test func withoutPrivilegesSaysSudoOrSetcap() throws {
        guard LiveCaptureTests.canCapture() else { return }
        guard let setpriv = Tools.which("setpriv") else {
            if Tools.isCI { Issue.record("setpriv (util-linux) is required under CI") }
            return
        }
        // The build folder may not be readable by nobody: run a world-readable copy.
        let dir = try LiveCaptureTests.temporaryDirectory(mode: 0o755)
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("wstrace")
        try FileManager.default.copyItem(at: Tools.wstrace, to: copy)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
        let r = try Tools.run(setpriv, ["--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                        copy.path, "capture", "-i", "lo", "-c", "1"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("permission"), "\(r.stderr)")
        #expect(r.stderr.contains("sudo"), "\(r.stderr)")
        #expect(r.stderr.contains("setcap cap_net_raw,cap_net_admin=eip"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    // MARK: - least privilege

    @Test func dropsRootToTheSudoUserBeforeDissecting() throws {
        guard LiveCaptureTests.canCapture() else { return }
        let (uid, gid) = try #require(LiveCaptureTests.nobodyIDs())
        let dir = try LiveCaptureTests.temporaryDirectory(mode: 0o700)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("dropped.pcap")
        let r = try Tools.wstrace(["capture", "-i", "lo", "-f", "tcp port 9", "--duration", "0.3", "--verbose",
                                   "-w", out.path, "--format", "ndjson"],
                                  environment: ["SUDO_UID": "\(uid)", "SUDO_GID": "\(gid)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("dissecting as uid=\(uid) euid=\(uid) gid=\(gid) egid=\(gid)"),
                "effective ids during dissection not reported as the sudo user's: \(r.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: out.path)
        #expect((attributes[.ownerAccountID] as? NSNumber)?.uint32Value == uid, "the -w file is not the sudo user's")
        #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value == gid)
    }

    @Test func dropsRootToNobodyWithoutSudo() throws {
        guard LiveCaptureTests.canCapture() else { return }
        let (uid, _) = try #require(LiveCaptureTests.nobodyIDs())
        let r = try Tools.wstrace(["capture", "-i", "lo", "-f", "tcp port 9", "--duration", "0.2", "--verbose"],
                                  environment: ["SUDO_UID": "", "SUDO_GID": ""])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("euid=\(uid) "), "\(r.stderr)")
        let kept = try Tools.wstrace(["capture", "-i", "lo", "-f", "tcp port 9", "--duration", "0.2", "--verbose",
                                      "--no-drop-privileges"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(kept.stderr.contains("euid=0 "), "\(kept.stderr)")
    }

    /// A kernel buffer asked for beyond what libpcap takes (32 bits of bytes) is held at its
    /// limit: 10^16 KiB trapped multiplying to bytes before.
    @Test func hugeBufferIsHeldAtLibpcapsLimit() throws {
        guard LiveCaptureTests.canCapture() else { return }
        for kib in ["10000000000000000", "4194304"] {
            let r = try Tools.wstrace(["capture", "-i", "lo", "-f", "tcp port 9", "--duration", "0.2", "-B", kib])
            #expect(r.status == 0, "-B \(kib): exit \(r.status), \(r.stderr)")
        }
    }

    // MARK: - stopping

    @Test func sigtermStopsCleanlyAndLeavesAValidFile() throws {
        guard LiveCaptureTests.canCapture() else { return }
        let dir = try LiveCaptureTests.temporaryDirectory(mode: 0o700)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("term.pcap")
        let port = 20_000 + Int(getpid() % 20_000)
        let capture = try Streamed(Tools.wstrace, ["capture", "-i", "lo", "-f", "udp port \(port)", "-w", out.path,
                                                  "--format", "ndjson", "--no-drop-privileges", "--immediate-mode"])
        defer { capture.kill() }
        #expect(Streamed.wait(seconds: 10) { capture.stderr.contains("listening on lo") }, "\(capture.stderr)")
        let python = try #require(Tools.which("python3"))
        let send = try Tools.run(python, ["-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(3): s.sendto(b"x%d" % i, ("127.0.0.1", \(port)))
            """])
        #expect(send.status == 0)
        #expect(Streamed.wait(seconds: 10) { capture.stdout.components(separatedBy: "\"UDP\"").count - 1 >= 3 },
                "datagrams not streamed: \(capture.stdout)")
        capture.process.terminate()  // SIGTERM
        #expect(capture.waitForExit(seconds: 10), "wstrace did not stop on SIGTERM")
        #expect(capture.process.terminationStatus == 0, "\(capture.stderr)")
        #expect(capture.stderr.contains("3 packets captured"), "\(capture.stderr)")
        #expect(capture.stderr.contains("dropped by kernel"), "\(capture.stderr)")
        #expect(capture.stdout.split(separator: "\n").last?.contains("\"type\":\"capture\"") == true)
        let back = try Tools.wstrace(["read", out.path, "--format", "ndjson"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(back.text.components(separatedBy: "\"UDP\"").count - 1 == 3)
    }

    // MARK: - end to end

    /// A real websockets server and client on loopback; wstrace streams the walk-through as it
    /// happens, stops on SIGINT, and the -w file reads back to the same events: on one thread,
    /// and with a capture thread feeding three flow workers.
    @Test(arguments: ["1", "3"])
    func capturesAWebSocketSessionEndToEnd(threads: String) throws {
        guard LiveCaptureTests.canCapture(), let python = LiveCaptureTests.pythonWithWebsockets() else { return }
        let dir = try LiveCaptureTests.temporaryDirectory(mode: 0o700)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (capture, out, port) = try LiveCaptureTests.captureOneSession(python, in: dir, arguments: ["--threads", threads])
        defer { capture.kill() }

        let lines = capture.stdout.split(separator: "\n").map(String.init)
        let objects = try lines.map { try Tools.json(Data($0.utf8)) }
        let events = objects.filter { $0["type"] as? String == "event" }
        try LiveCaptureTests.checkWalkThrough(events: events, port: port)
        let connection = try #require(objects.first { $0["type"] as? String == "connection" })
        #expect(connection["verdict"] as? String == "closed cleanly by client, 1000")
        #expect((connection["teardown"] as? [String: Any])?["complete"] as? Bool == true)
        let last = try #require(objects.last)
        #expect(last["type"] as? String == "capture")
        let packets = try #require(last["packets"] as? Int)
        #expect(capture.stderr.contains("\(packets) packets captured"), "\(capture.stderr)")
        #expect(capture.stderr.contains("0 packets dropped by kernel"), "\(capture.stderr)")

        // The stream follows the output contract (schema 2).
        let streamed = dir.appendingPathComponent("live.ndjson")
        try Data(capture.stdout.utf8).write(to: streamed)
        let validator = Tools.root.appendingPathComponent("scripts/validate-json.py")
        let valid = try Tools.run(python, [validator.path, Tools.root.appendingPathComponent("docs/schema.json").path,
                                           streamed.path])
        #expect(valid.status == 0, "schema: \(valid.text) \(valid.stderr)")

        // The -w file reads back to the same timeline: same packets, same events, same summary.
        let back = try Tools.wstrace(["read", out.path, "--format", "ndjson"])
        #expect(back.status == 0, "\(back.stderr)")
        let backLines = back.text.split(separator: "\n").map(String.init)
        #expect(backLines.dropLast() == lines.dropLast(), "read-back differs from the live stream")
        let backCapture = try Tools.json(Data(try #require(backLines.last).utf8))
        #expect(backCapture["packets"] as? Int == packets)
        #expect(backCapture["frames"] as? Int == last["frames"] as? Int)
        #expect(backCapture["messages"] as? Int == last["messages"] as? Int)
    }

    /// `capture -Y`: live rows through the display filter (one thread and three workers) equal
    /// `read -Y` of the -w file, and the capture object says the filter and the rows kept.
    @Test(arguments: ["1", "3"])
    func displayFilterOnALiveCapture(threads: String) throws {
        guard LiveCaptureTests.canCapture(), let python = LiveCaptureTests.pythonWithWebsockets() else { return }
        let dir = try LiveCaptureTests.temporaryDirectory(mode: 0o700)
        defer { try? FileManager.default.removeItem(at: dir) }
        let filter = "websocket.opcode == 8 || tcp.flags.syn == 1"
        let (capture, out, _) = try LiveCaptureTests.captureOneSession(python, in: dir,
                                                                       arguments: ["--threads", threads, "-Y", filter])
        defer { capture.kill() }
        let lines = capture.stdout.split(separator: "\n").map(String.init)
        let events = lines.filter { $0.hasPrefix("{\"type\":\"event\"") }
        // SYN, SYN-ACK, and the two close frames.
        #expect(events.count == 4, "\(events)")
        let last = try Tools.json(Data(try #require(lines.last).utf8))
        #expect(last["filter"] as? String == filter)
        #expect(last["matched"] as? Int == events.count)
        let back = try Tools.wstrace(["read", out.path, "--format", "ndjson", "-Y", filter])
        #expect(back.text.split(separator: "\n").map(String.init).dropLast() == lines.dropLast())
    }

    /// One session of the peers under `wstrace capture -i lo -f "tcp port P" --format ndjson
    /// -w out.pcap` plus `arguments`: wstrace listens, the peers talk and finish, the connection's
    /// summary is streamed while wstrace still runs (as it happens, not at the stop), then SIGINT
    /// (as Ctrl-C) stops it cleanly. Returns the stopped capture, its -w file and the port.
    static func captureOneSession(_ python: URL, in dir: URL, arguments: [String]) throws
        -> (capture: Streamed, out: URL, port: Int) {
        let out = dir.appendingPathComponent("out.pcap")
        let (peer, port) = try startPeers(python, in: dir)
        defer { peer.kill() }
        let capture = try Streamed(Tools.wstrace, ["capture", "-i", "lo", "-f", "tcp port \(port)",
                                                  "--format", "ndjson", "-w", out.path] + arguments)
        #expect(Streamed.wait(seconds: 10) { capture.stderr.contains("listening on lo") }, "\(capture.stderr)")
        peer.send("go\n")
        #expect(peer.waitForExit(seconds: 20), "the peers did not finish: \(peer.stdout) \(peer.stderr)")
        #expect(peer.process.terminationStatus == 0, "peer failed: \(peer.stderr)")
        #expect(peer.stdout.contains("DONE"))
        #expect(Streamed.wait(seconds: 10) { capture.stdout.contains("\"type\":\"connection\"") },
                "connection not streamed before the stop: \(capture.stdout)")
        #expect(capture.process.isRunning)
        capture.process.interrupt()  // SIGINT, as Ctrl-C
        #expect(capture.waitForExit(seconds: 10), "wstrace did not stop on SIGINT")
        #expect(capture.process.terminationStatus == 0, "\(capture.stderr)")
        return (capture, out, port)
    }

    /// The peers of `peerScript`: the server picks a free port and waits for "go" before the
    /// client connects. Returns them and the port.
    static func startPeers(_ python: URL, in dir: URL) throws -> (Streamed, Int) {
        let script = dir.appendingPathComponent("peer.py")
        try peerScript.write(to: script, atomically: true, encoding: .utf8)
        let peer = try Streamed(python, [script.path])
        #expect(Streamed.wait(seconds: 15) { peer.stdout.contains("\n") }, "peer did not start: \(peer.stderr)")
        guard let portLine = peer.stdout.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }),
              let port = Int(portLine.dropFirst(5)) else {
            peer.kill()
            throw PeerFailure(output: peer.stdout + peer.stderr)
        }
        return (peer, port)
    }

    struct PeerFailure: Error { var output: String }

    /// Handshake, upgrade, the three messages and their echoes, the close both ways, the teardown.
    static func checkWalkThrough(events: [[String: Any]], port: Int) throws {
        func info(_ e: [String: Any]) -> String { e["info"] as? String ?? "" }
        for step in 1...3 {
            #expect(events.contains { $0["phase"] as? String == "handshake" && info($0).contains("[handshake \(step)/3]") },
                    "handshake \(step)/3 missing")
        }
        let request = events.first { ($0["http"] as? [String: Any])?["method"] as? String == "GET" }
        #expect((request?["http"] as? [String: Any])?["path"] as? String == "/live")
        #expect(request?["dst"] as? String == "127.0.0.1:\(port)")
        let response = events.first { ($0["http"] as? [String: Any])?["status"] as? Int == 101 }
        #expect((response?["http"] as? [String: Any])?["accept_valid"] as? Bool == true)
        #expect(response?["phase"] as? String == "upgrade")

        let texts = events.compactMap { e -> (String, String)? in
            guard let m = e["message"] as? [String: Any], let text = m["text"] as? String,
                  let direction = e["direction"] as? String else { return nil }
            return (direction, text)
        }
        let expected = ["alpha", "beta", "gamma"].flatMap {
            [("client-to-server", $0), ("server-to-client", "echo: " + $0)]
        }
        #expect(texts.map { "\($0.0) \($0.1)" } == expected.map { "\($0.0) \($0.1)" })

        let closes = events.filter { ($0["ws"] as? [String: Any])?["opcode_name"] as? String == "close" }
        #expect(closes.count == 2)
        #expect(closes.map { ($0["ws"] as? [String: Any])?["close_code"] as? Int } == [1000, 1000])
        #expect(closes.map { ($0["ws"] as? [String: Any])?["close_reason"] as? String } == ["done", "done"])
        #expect(closes.first?["direction"] as? String == "client-to-server")

        let teardown = events.filter { $0["phase"] as? String == "teardown" }.map(info).joined(separator: " | ")
        for step in ["1/4", "4/4"] {
            #expect(teardown.contains(step), "teardown \(step) missing: \(teardown)")
        }
        let phases = events.compactMap { $0["phase"] as? String }
        #expect(phases.first == "handshake" && phases.last == "teardown", "\(phases)")
    }

    /// wss live: the client writes its key log while wstrace captures, so the key of the
    /// connection appears only after its ServerHello has been dissected; the records held
    /// meanwhile are decrypted once it shows up (issue 15), and the whole WebSocket is seen.
    @Test func wssCaptureDecryptsWithAKeyLogThatGrows() throws {
        guard LiveCaptureTests.canCapture(), let python = LiveCaptureTests.pythonWithWebsockets() else { return }
        guard let openssl = Tools.which("openssl") else {
            if Tools.isCI { Issue.record("openssl is required under CI") }
            return
        }
        let dir = try LiveCaptureTests.temporaryDirectory(mode: 0o700)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
        let made = try Tools.run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                           "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=wss.test"])
        #expect(made.status == 0, "\(made.stderr)")
        // Empty at the start: wstrace opens it before dropping root, the client appends to it.
        let keys = dir.appendingPathComponent("keys.txt")
        try Data().write(to: keys)
        let script = dir.appendingPathComponent("peer.py")
        try LiveCaptureTests.wssPeerScript.write(to: script, atomically: true, encoding: .utf8)
        let peer = try Streamed(python, [script.path, cert, key, keys.path])
        defer { peer.kill() }
        #expect(Streamed.wait(seconds: 15) { peer.stdout.contains("\n") }, "peer did not start: \(peer.stderr)")
        let portLine = try #require(peer.stdout.split(separator: "\n").first { $0.hasPrefix("PORT ") })
        let port = try #require(Int(portLine.dropFirst(5)))

        let capture = try Streamed(Tools.wstrace, ["capture", "-i", "lo", "-f", "tcp port \(port)", "--format", "ndjson",
                                                  "--keylog", keys.path])
        defer { capture.kill() }
        #expect(Streamed.wait(seconds: 10) { capture.stderr.contains("listening on lo") }, "\(capture.stderr)")
        peer.send("go\n")
        #expect(peer.waitForExit(seconds: 20), "the peers did not finish: \(peer.stdout) \(peer.stderr)")
        #expect(peer.process.terminationStatus == 0, "peer failed: \(peer.stderr)")
        #expect(Streamed.wait(seconds: 10) { capture.stdout.contains("\"type\":\"connection\"") }, "\(capture.stdout)")
        capture.process.interrupt()
        #expect(capture.waitForExit(seconds: 10), "wstrace did not stop on SIGINT")
        let objects = try capture.stdout.split(separator: "\n").map { try Tools.json(Data($0.utf8)) }
        let connection = try #require(objects.first { $0["type"] as? String == "connection" })
        let tls = try #require(connection["tls"] as? [String: Any])
        #expect(tls["decryption"] as? String == "decrypted", "\(tls)")
        #expect((tls["detail"] as? String ?? "").contains("appeared in the key log after the ServerHello"), "\(tls)")
        #expect(tls["version"] as? String == "TLS 1.3" && tls["sni"] as? String == "wss.test")
        #expect(connection["verdict"] as? String == "TLS 1.3 to wss.test (decrypted); closed cleanly by client, 1000")
        let texts = objects.compactMap { ($0["message"] as? [String: Any])?["text"] as? String }
        #expect(texts == ["alpha", "echo: alpha", "beta", "echo: beta", "gamma", "echo: gamma"])
    }

    static let wssPeerScript = """
        import asyncio, ssl, sys
        import websockets

        cert, key, keylog = sys.argv[1], sys.argv[2], sys.argv[3]

        async def echo(ws):
            async for message in ws:
                await ws.send("echo: " + message)

        async def main():
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain(cert, key)
            client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            client_ctx.check_hostname = False
            client_ctx.verify_mode = ssl.CERT_NONE
            # The client logs to a file of its own; its lines reach the watched key log only
            # after the first message, as when a browser's key log lags behind the capture.
            client_ctx.keylog_filename = keylog + ".private"
            async with websockets.serve(echo, "127.0.0.1", 0, ssl=server_ctx, compression=None) as server:
                port = server.sockets[0].getsockname()[1]
                print(f"PORT {port}", flush=True)
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                async with websockets.connect(f"wss://127.0.0.1:{port}/live", ssl=client_ctx, server_hostname="wss.test",
                                              compression=None) as ws:
                    for text in ["alpha", "beta", "gamma"]:
                        await ws.send(text)
                        print("GOT", await ws.recv(), flush=True)
                        await asyncio.sleep(0.3)
                        if text == "alpha":
                            with open(keylog + ".private") as src, open(keylog, "a") as dst:
                                dst.write(src.read())
                    await ws.close(1000, "done")
                await asyncio.sleep(0.2)
            print("DONE", flush=True)

        asyncio.run(asyncio.wait_for(main(), 20))
        """

    static let peerScript = """
        import asyncio, sys
        import websockets

        async def echo(ws):
            async for message in ws:
                await ws.send("echo: " + message)

        async def main():
            async with websockets.serve(echo, "127.0.0.1", 0, compression=None) as server:
                port = server.sockets[0].getsockname()[1]
                print(f"PORT {port}", flush=True)
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                async with websockets.connect(f"ws://127.0.0.1:{port}/live", compression=None) as ws:
                    for text in ["alpha", "beta", "gamma"]:
                        await ws.send(text)
                        print("GOT", await ws.recv(), flush=True)
                    await ws.close(1000, "done")
                await asyncio.sleep(0.2)
            print("DONE", flush=True)

        asyncio.run(asyncio.wait_for(main(), 20))
        """

    // MARK: - helpers

    /// Root can capture on lo; otherwise skip, except under CI where it is a failure.
    static func canCapture() -> Bool {
        if getuid() == 0 { return true }
        if Tools.isCI { Issue.record("live-capture tests need root under CI") }
        return false
    }

    /// python3 with PyPI's websockets, or nil (a failure under CI).
    static func pythonWithWebsockets() -> URL? {
        guard let python = Tools.which("python3"),
              let r = try? Tools.run(python, ["-c", "import websockets"]), r.status == 0 else {
            if Tools.isCI { Issue.record("python3 with websockets is required under CI (pip install websockets)") }
            return nil
        }
        return python
    }

    static func nobodyIDs() -> (UInt32, UInt32)? {
        guard let pw = getpwnam("nobody") else { return nil }
        return (pw.pointee.pw_uid, pw.pointee.pw_gid)
    }

    static func temporaryDirectory(mode: Int) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wstrace-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: mode])
        return dir
    }
}

extension LiveCaptureTests {
    /// A child process whose output is collected as it comes, for tests that interact with it.
    final class Streamed: @unchecked Sendable {
        let process = Process()
        private let lock = NSLock()
        private var out = Data()
        private var err = Data()
        private var openPipes = 2
        private let input = Pipe()

        init(_ executable: URL, _ arguments: [String]) throws {
            process.executableURL = executable
            process.arguments = arguments
            let o = Pipe(), e = Pipe()
            process.standardOutput = o
            process.standardError = e
            process.standardInput = input
            for (pipe, isOut) in [(o, true), (e, false)] {
                pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                    let data = handle.availableData
                    guard let self else { return }
                    self.lock.lock()
                    if data.isEmpty {
                        handle.readabilityHandler = nil
                        self.openPipes -= 1
                    } else if isOut {
                        self.out.append(data)
                    } else {
                        self.err.append(data)
                    }
                    self.lock.unlock()
                }
            }
            try process.run()
        }

        var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
        var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

        func send(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

        /// Waits for the process to end and its output to be read; false on timeout.
        func waitForExit(seconds: Double) -> Bool {
            Streamed.wait(seconds: seconds) { !self.process.isRunning && self.lock.withLock { self.openPipes == 0 } }
        }

        /// Ends the process if it is still running (cleanup after a failed expectation).
        func kill() {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        }

        /// Polls `condition` every 20 ms for at most `seconds`.
        static func wait(seconds: Double, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition() { return true }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return condition()
        }
    }
}
