import ArgumentParser
import WSCapture
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The capture files named on the command line: a file as it is; a directory as the capture
/// files in it (hidden files left out), as a rotated set from `tcpdump -C/-G` or `dumpcap -b`
/// is kept; a pattern with `*`, `?` or `[` that names no file as its matches, for a pattern the
/// shell left alone (quoted), capture files only in both. Directories and patterns are sorted
/// by name with numbers by value (`cap`, `cap1`, `cap2` … `cap10`, as `tcpdump -C` numbers its
/// files), so a set is read in the order it was written. `-` (standard input) only alone.
enum InputFiles {
    /// The paths to read, and what a directory or pattern left out that looked like a capture
    /// (a compressed file, a `.pcap` that is not one), one line each: never left out silently.
    struct Expansion {
        var paths: [String] = []
        var leftOut: [String] = []

        /// What was left out, for a message saying nothing was taken (" (…; …)", or nothing).
        var leftOutInParentheses: String { leftOut.isEmpty ? "" : " (" + leftOut.joined(separator: "; ") + ")" }
    }

    static func expand(_ arguments: [String]) throws(InputError) -> Expansion {
        if arguments == ["-"] { return Expansion(paths: arguments) }
        var out = Expansion()
        for argument in arguments {
            if argument == "-" { throw InputError("- (standard input) cannot be read with other files") }
            var st = stat()
            if stat(argument, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    let inside = directory(argument)
                    out.leftOut += inside.leftOut
                    if inside.paths.isEmpty {
                        throw InputError("\(argument): no capture files in this directory" + inside.leftOutInParentheses)
                    }
                    out.paths += inside.paths
                } else {
                    out.paths.append(argument)
                }
            } else if argument.contains(where: { "*?[".contains($0) }) {
                let matches = glob(argument)
                out.leftOut += matches.leftOut
                if matches.paths.isEmpty {
                    throw InputError("\(argument): no file matches" + matches.leftOutInParentheses)
                }
                out.paths += matches.paths
            } else {
                out.paths.append(argument)  // opening it says why it cannot be read
            }
        }
        return out
    }

    /// `expand`, or its message on stderr and exit 1.
    static func expandOrExit(_ arguments: [String]) throws -> Expansion {
        do {
            return try expand(arguments)
        } catch {
            Terminal.warn(error.description)
            throw ExitCode(1)
        }
    }

    /// The capture files in `path` (regular files starting with a pcap or pcapng magic number,
    /// names not starting with a dot), in name order: a key log or notes beside them are left
    /// out, and so, with a line in `leftOut`, is a file that looks like a capture but cannot
    /// be read as one.
    static func directory(_ path: String) -> Expansion {
        guard let dir = opendir(path) else { return Expansion() }
        defer { closedir(dir) }
        var candidates: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            candidates.append(path.hasSuffix("/") ? path + name : path + "/" + name)
        }
        return sorted(regularFiles: candidates)
    }

    /// The regular files among `paths` sorted into captures and the left out
    /// (`CaptureProbe`). Left-out files that share a reason are told in one line when there
    /// are more than three (a day of `tcpdump -G 60 -z gzip` is 1,439 compressed files).
    static func sorted(regularFiles paths: [String]) -> Expansion {
        var out = Expansion()
        var leftOut: [(reason: String, paths: [String])] = []
        for full in paths.sorted(by: naturalOrder) {
            var st = stat()
            guard stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            switch CaptureProbe.kind(path: full) {
            case .capture: out.paths.append(full)
            case .other: break
            case .unreadableCapture(let why):
                if let at = leftOut.firstIndex(where: { $0.reason == why }) {
                    leftOut[at].paths.append(full)
                } else {
                    leftOut.append((why, [full]))
                }
            }
        }
        for (why, files) in leftOut {
            if files.count <= 3 {
                out.leftOut += files.map { "\($0): left out: \(why)" }
            } else {
                out.leftOut.append("\(files.count) files left out: \(why): \(files[0]) … \(files[files.count - 1])")
            }
        }
        return out
    }

    /// Names compared with runs of digits by their value (`cap2` before `cap10`), then as text.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var i = 0, j = 0
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        while i < x.count && j < y.count {
            if isDigit(x[i]) && isDigit(y[j]) {
                var ie = i, je = j
                while ie < x.count && isDigit(x[ie]) { ie += 1 }
                while je < y.count && isDigit(y[je]) { je += 1 }
                // By value: leading zeros aside, the longer run is larger, else digit by digit.
                var iz = i, jz = j
                while iz < ie - 1 && x[iz] == 0x30 { iz += 1 }
                while jz < je - 1 && y[jz] == 0x30 { jz += 1 }
                if ie - iz != je - jz { return ie - iz < je - jz }
                if !x[iz..<ie].elementsEqual(y[jz..<je]) { return x[iz..<ie].lexicographicallyPrecedes(y[jz..<je]) }
                i = ie
                j = je
            } else {
                if x[i] != y[j] { return x[i] < y[j] }
                i += 1
                j += 1
            }
        }
        if x.count - i != y.count - j { return x.count - i < y.count - j }
        return a < b  // equal by value ("cap01", "cap1"): a fixed order all the same
    }

    static func glob(_ pattern: String) -> Expansion {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return Expansion() }
        return sorted(regularFiles: (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } })
    }

    struct InputError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}
