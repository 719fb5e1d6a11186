// STOMP 1.0–1.2 over WebSocket (text or binary messages). Each direction is a byte stream of
// frames: a command line, `name:value` header lines, a blank line, a body up to NUL (or
// `content-length` bytes and a NUL), optional EOLs. A message may hold several frames and a frame
// may span messages (a per-side buffer, at most 16 MiB). An EOL where a frame would start is a
// heart-beat (EOLs right after a frame's NUL in the same message are that frame's trailer).

/// One direction's STOMP stream.
struct STOMPSide {
    var buffer: [UInt8] = []
    var stopped = false
    /// The last bytes seen were a frame's NUL in this message: EOLs now are its trailer.
    var afterNul = false
    /// For the frame being buffered (offsets from its start): where its body starts, once the
    /// headers are complete, and where the next search resumes.
    var bodyStart: Int?
    var scanFrom = 0
    /// That frame's parsed command and headers (parsed once while its body arrives).
    var head: AppSession.STOMPHead?
}

struct STOMPState {
    var client = STOMPSide()
    var server = STOMPSide()
}

let stompCommands: Set<String> = ["CONNECT", "STOMP", "CONNECTED", "SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK",
                                  "BEGIN", "COMMIT", "ABORT", "DISCONNECT", "MESSAGE", "RECEIPT", "ERROR"]

extension AppSession {
    func stompMessage(_ m: Msg) -> [AppMessage] {
        var side = m.fromClient ? stomp.client : stomp.server
        defer { if m.fromClient { stomp.client = side } else { stomp.server = side } }
        if side.stopped { return [] }
        side.afterNul = false
        var out: [AppMessage] = []
        if side.buffer.isEmpty {
            let used = stompFrames(m.bytes, m, &out, &side)
            if used < m.bytes.count { side.buffer = Array(UnsafeRawBufferPointer(rebasing: m.bytes[used...])) }
        } else {
            side.buffer.append(contentsOf: m.bytes)
            var buf = side.buffer
            side.buffer = []
            let used = buf.withUnsafeBytes { stompFrames($0, m, &out, &side) }
            if used < buf.count {
                buf.removeFirst(used)
                side.buffer = buf
            }
        }
        if !m.complete && !side.buffer.isEmpty {
            // A frame cut with the message: report what its kept bytes say, then start afresh
            // at the next message (STOMP over WebSocket sends a frame per message).
            let buf = side.buffer
            side.buffer = []
            side.bodyStart = nil
            side.head = nil
            side.scanFrom = 0
            buf.withUnsafeBytes { b in out.append(stompPartial(b, m)) }
        } else if side.buffer.count > AppSession.maxBuffer {
            side.stopped = true
            side.buffer = []
            out.append(AppMessage(proto: .stomp, type: "malformed", info: "STOMP buffer full",
                                  problem: "more than 16 MiB buffered for one STOMP frame; decoding of this side stops"))
        }
        return out
    }

    /// Decodes the complete frames (and heart-beats) at the start of `b`; returns the bytes used.
    func stompFrames(_ b: UnsafeRawBufferPointer, _ m: Msg, _ out: inout [AppMessage], _ side: inout STOMPSide) -> Int {
        var i = 0
        while i < b.count {
            if side.bodyStart == nil && side.scanFrom == 0 {
                let c = b[i]
                var eol = 0
                if c == 0x0A { eol = 1 } else if c == 0x0D {
                    guard i + 1 < b.count else { break }
                    if b[i + 1] == 0x0A { eol = 2 }
                }
                if eol > 0 {
                    if !side.afterNul {
                        out.append(AppMessage(proto: .stomp, type: "heartbeat", info: "STOMP heart-beat"))
                    }
                    i += eol
                    continue
                }
                side.afterNul = false
            }
            // The headers' end: a blank line ("\n\n" or "\n\r\n"). A NUL before it ends a bad frame.
            var bodyStart = side.bodyStart.map { i + $0 }
            if bodyStart == nil {
                var k = i + side.scanFrom
                var nulAt: Int?
                while k < b.count {
                    let c = b[k]
                    if c == 0 { nulAt = k; break }
                    if c == 0x0A {
                        if k + 1 < b.count, b[k + 1] == 0x0A { bodyStart = k + 2; break }
                        if k + 2 < b.count, b[k + 1] == 0x0D, b[k + 2] == 0x0A { bodyStart = k + 3; break }
                        if k + 2 >= b.count { break } // may complete with more bytes
                    }
                    k += 1
                }
                if let z = nulAt {
                    let head = String(decoding: UnsafeRawBufferPointer(rebasing: b[i..<min(z, i + 40)]), as: UTF8.self)
                    out.append(AppMessage(proto: .stomp, type: "malformed", info: "STOMP malformed frame",
                                          problem: "a frame ends (NUL) before its headers' blank line: " + jsonQuoted(head)))
                    i = z + 1
                    side.scanFrom = 0
                    side.afterNul = true
                    continue
                }
                guard let bs = bodyStart else {
                    side.scanFrom = max(0, k - i)
                    break
                }
                side.bodyStart = bs - i
                side.scanFrom = bs - i
            }
            guard let bs = bodyStart else { break }
            let head = side.head ?? parseSTOMPHead(UnsafeRawBufferPointer(rebasing: b[i..<bs]))
            side.head = head
            // The body's end.
            var bodyEnd: Int?
            var nul: Int?
            var problem = head.problem
            if let cl = head.contentLength {
                if cl > AppSession.maxBuffer {
                    side.stopped = true
                    out.append(AppMessage(proto: .stomp, type: head.command, info: "STOMP \(head.command) too large",
                                          problem: "content-length \(cl) is over the 16 MiB buffer; decoding of this side stops"))
                    return b.count
                }
                if b.count - bs > cl {
                    if b[bs + cl] == 0 {
                        bodyEnd = bs + cl
                        nul = bs + cl
                    } else {
                        problem = (problem.map { $0 + "; " } ?? "") + "no NUL after content-length bytes"
                    }
                } else {
                    break // wait for the body
                }
            }
            if nul == nil {
                var k = max(bs + (head.contentLength ?? 0), i + side.scanFrom)
                while k < b.count, b[k] != 0 { k += 1 }
                if k < b.count {
                    nul = k
                    bodyEnd = k
                } else {
                    side.scanFrom = k - i
                    break
                }
            }
            guard let z = nul, let be = bodyEnd else { break }
            out.append(stompFrame(head, bodyLength: be - bs, m: m, problem: problem))
            i = z + 1
            side.bodyStart = nil
            side.head = nil
            side.scanFrom = 0
            side.afterNul = true
        }
        return i
    }

    struct STOMPHead {
        var command: String
        var headers: [(String, String)] = []
        var contentLength: Int?
        var problem: String?

        func header(_ name: String) -> String? {
            for h in headers where h.0 == name { return h.1 }
            return nil
        }
    }

    /// The command line and headers (`h` ends with the blank line, or is cut).
    func parseSTOMPHead(_ h: UnsafeRawBufferPointer) -> STOMPHead {
        var lines: [UnsafeRawBufferPointer] = []
        var s = 0
        var k = 0
        while k < h.count {
            if h[k] == 0x0A {
                var e = k
                if e > s && h[e - 1] == 0x0D { e -= 1 }
                lines.append(UnsafeRawBufferPointer(rebasing: h[s..<e]))
                s = k + 1
            }
            k += 1
        }
        if s < h.count { lines.append(UnsafeRawBufferPointer(rebasing: h[s...])) }
        var head = STOMPHead(command: lines.first.map { String(decoding: $0, as: UTF8.self) } ?? "")
        let escapes = head.command != "CONNECT" && head.command != "CONNECTED"
        var seen = Set<String>()
        for line in lines.dropFirst() where line.count > 0 {
            guard let colon = line.firstIndex(of: 0x3A) else {
                head.problem = "a header line without ':'"
                continue
            }
            let (name, p1) = stompUnescape(UnsafeRawBufferPointer(rebasing: line[..<colon]), escapes)
            let (value, p2) = stompUnescape(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]), escapes)
            if let p = p1 ?? p2 { head.problem = p }
            if seen.insert(name).inserted {
                head.headers.append((name, value))
                if name == "content-length" {
                    var t = Substring(value)
                    while t.last == " " { t.removeLast() }
                    if t.utf8.count <= 12, let n = parseInt64(t), n >= 0 { head.contentLength = Int(n) } else {
                        head.problem = "content-length is not a number"
                    }
                }
            }
        }
        return head
    }

    /// STOMP 1.2 header escapes (\r \n \c \\); an undefined one is kept and named in the problem.
    func stompUnescape(_ b: UnsafeRawBufferPointer, _ decode: Bool) -> (String, String?) {
        guard decode, b.contains(0x5C) else { return (String(decoding: b, as: UTF8.self), nil) }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var problem: String?
        var k = 0
        while k < b.count {
            let c = b[k]
            if c == 0x5C, k + 1 < b.count {
                switch b[k + 1] {
                case 0x72: out.append(0x0D)
                case 0x6E: out.append(0x0A)
                case 0x63: out.append(0x3A)
                case 0x5C: out.append(0x5C)
                default:
                    out.append(c)
                    out.append(b[k + 1])
                    problem = "an undefined escape in a header"
                }
                k += 2
                continue
            }
            if c == 0x5C { problem = "an undefined escape in a header" }
            out.append(c)
            k += 1
        }
        return (String(decoding: out, as: UTF8.self), problem)
    }

    func stompFrame(_ head: STOMPHead, bodyLength: Int?, m: Msg, problem: String?, cut: Bool = false) -> AppMessage {
        let cmd = head.command
        var problem = problem
        if !stompCommands.contains(cmd) {
            problem = (problem.map { $0 + "; " } ?? "") + "unknown command " + jsonQuoted(clip(cmd, 40))
        }
        var fields = [AppField("command", .string(cmd)),
                      AppField("headers", .object(head.headers.map { AppField($0.0, .string($0.1)) }))]
        if let bodyLength { fields.append(AppField("body_length", .int(Int64(bodyLength)))) }
        var info = "STOMP " + clip(cmd, 40)
        let destination = head.header("destination")
        if let destination {
            fields.append(AppField("destination", .string(destination)))
            info += " " + clip(destination, 60)
        }
        if let bodyLength, bodyLength > 0 || cmd == "SEND" || cmd == "MESSAGE" { info += " \(bodyLength) bytes" }
        var id: AppValue = .null
        let receipt = head.header("receipt")
        let receiptID = head.header("receipt-id")
        if m.fromClient, let receipt {
            // Only a client frame asks for a receipt (a broker may copy the header onto MESSAGE).
            id = .string(receipt)
            info += " receipt=" + clip(receipt, 40)
        } else if cmd == "RECEIPT" || cmd == "ERROR", let receiptID {
            id = .string(receiptID)
            info += " receipt-id=" + clip(receiptID, 40)
        }
        if cmd == "CONNECTED", let v = head.header("version") { info += " version=" + clip(v, 20) }
        if cmd == "ERROR", let msg = head.header("message") { info += " message=" + clip(msg, 60) }
        var reply: AppReply?
        if !cut {
            if cmd == "CONNECT" || cmd == "STOMP" {
                expect("st|\(m.side)|connect", proto: .stomp, what: cmd, requestType: cmd, m: m)
            } else if m.fromClient, let receipt {
                let key = destination.map { cmd + " " + $0 } ?? cmd
                expect("st|\(m.side)|r|\(receipt)", proto: .stomp, what: key, requestType: cmd, m: m)
            }
            if cmd == "CONNECTED" {
                reply = answer("st|\(m.otherSide)|connect", responseType: cmd, m: m)
            } else if cmd == "RECEIPT" || cmd == "ERROR", let receiptID {
                reply = answer("st|\(m.otherSide)|r|\(receiptID)", responseType: cmd, m: m)
            } else if cmd == "ERROR" {
                reply = answer("st|\(m.otherSide)|connect", responseType: cmd, m: m)
            }
        }
        return AppMessage(proto: .stomp, type: stompCommands.contains(cmd) ? cmd : "malformed", id: id, fields: fields,
                          info: info, replyTo: reply, problem: problem)
    }

    /// A frame cut with its message: the command and the headers kept; no body length unless
    /// content-length gives it.
    func stompPartial(_ b: UnsafeRawBufferPointer, _ m: Msg) -> AppMessage {
        var k = 0
        while k < b.count, b[k] != 0x0A { k += 1 }
        let note = m.cutText("the frame is reported from its kept bytes; decoding resumes at the next message")
        guard k < b.count else {
            return AppMessage(proto: .stomp, type: "unknown", info: "STOMP frame cut", problem: note)
        }
        var end = b.count
        var j = 0
        while j + 1 < b.count {
            if b[j] == 0x0A && b[j + 1] == 0x0A { end = j + 2; break }
            if b[j] == 0x0A && j + 2 < b.count && b[j + 1] == 0x0D && b[j + 2] == 0x0A { end = j + 3; break }
            j += 1
        }
        if end == b.count {
            // No blank line kept: drop a last header line that may be cut.
            while end > 0, b[end - 1] != 0x0A { end -= 1 }
        }
        let head = parseSTOMPHead(UnsafeRawBufferPointer(rebasing: b[..<end]))
        return stompFrame(head, bodyLength: head.contentLength, m: m, problem: note, cut: true)
    }
}
