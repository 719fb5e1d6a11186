/// A parsed HTTP/1.x start line and header fields.
struct HTTPHead: Sendable {
    enum StartLine: Sendable {
        case request(method: String, target: String, version: String)
        case response(version: String, status: Int, reason: String)
    }
    var startLine: StartLine
    var headers: [HTTPHeader]

    /// Values of every field named `name` (case-insensitive), in order.
    func values(_ name: String) -> [String] {
        headers.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    func first(_ name: String) -> String? {
        headers.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }

    /// The comma-separated tokens of every field named `name`, trimmed.
    func tokens(_ name: String) -> [String] {
        values(name).flatMap { splitList($0) }
    }

    func hasToken(_ name: String, _ token: String) -> Bool {
        tokens(name).contains { asciiCaseInsensitiveEquals($0, token) }
    }
}

/// Why a header block could not be parsed.
enum HTTPParseError: Error, Sendable, Equatable {
    case badStartLine
}

/// Parsing of a complete header block (start line to the empty line, CRLF or bare LF).
enum HTTPHeaderParser {
    /// Index just past the end of the header block (after the empty line) in `bytes`, searching
    /// from `from` (resume point of an earlier search), or nil.
    static func endOfBlock(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = max(from, 0)
        while i < bytes.count {
            if bytes[i] == 0x0A {
                if i >= 1 && bytes[i - 1] == 0x0A { return i + 1 }
                if i >= 2 && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A { return i + 1 }
            }
            i += 1
        }
        return nil
    }

    /// Whether `bytes` may begin an HTTP request: an upper-case method token then a space.
    /// `nil` when too few bytes to tell.
    static func looksLikeRequest(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        for (index, byte) in bytes.enumerated() {
            if index > 20 { return false }
            if byte == 0x20 { return index > 0 }
            if !(byte >= 0x41 && byte <= 0x5A) && byte != 0x2D && byte != 0x5F { return false }
        }
        return nil
    }

    /// Whether `bytes` may begin an HTTP response ("HTTP/"); nil when too few bytes.
    static func looksLikeResponse(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        let prefix: [UInt8] = Array("HTTP/".utf8)
        for (index, byte) in bytes.prefix(prefix.count).enumerated() where byte != prefix[index] { return false }
        return bytes.count >= prefix.count ? true : nil
    }

    static func parse(_ block: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPHead {
        var lines: [Substring] = []
        var lineStart = 0
        for index in 0...block.count where index == block.count || block[index] == 0x0A {
            var lineEnd = index
            if lineEnd > lineStart && block[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            lines.append(Substring(String(decoding: UnsafeRawBufferPointer(rebasing: block[lineStart..<lineEnd]), as: UTF8.self)))
            lineStart = index + 1
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let first = lines.first else { throw .badStartLine }
        let parts = first.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        let startLine: HTTPHead.StartLine
        if first.hasPrefix("HTTP/") {
            guard parts.count >= 2, let status = Int(parts[1]), (100...999).contains(status) else { throw .badStartLine }
            startLine = .response(version: String(parts[0]), status: status,
                                  reason: parts.count > 2 ? String(parts[2]) : "")
        } else {
            guard parts.count == 3, parts[2].hasPrefix("HTTP/") else { throw .badStartLine }
            startLine = .request(method: String(parts[0]), target: String(parts[1]), version: String(parts[2]))
        }
        var headers: [HTTPHeader] = []
        for line in lines.dropFirst() {
            if let c = line.first, c == " " || c == "\t", !headers.isEmpty {
                // obs-fold: continuation of the previous value.
                headers[headers.count - 1].value += " " + trim(line)
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(HTTPHeader(name: String(line[..<colon]), value: trim(line[line.index(after: colon)...])))
        }
        return HTTPHead(startLine: startLine, headers: headers)
    }
}

func trim<S: StringProtocol>(_ text: S) -> String {
    var slice = Substring(text)
    while let c = slice.first, c == " " || c == "\t" { slice = slice.dropFirst() }
    while let c = slice.last, c == " " || c == "\t" { slice = slice.dropLast() }
    return String(slice)
}

func splitList(_ value: String) -> [String] {
    value.split(separator: ",").map { trim($0) }.filter { !$0.isEmpty }
}

func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) {
        let lp = p >= 0x41 && p <= 0x5A ? p | 0x20 : p
        let lq = q >= 0x41 && q <= 0x5A ? q | 0x20 : q
        if lp != lq { return false }
    }
    return true
}
