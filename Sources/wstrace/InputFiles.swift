import ArgumentParser
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The capture files named on the command line: a file as it is; a directory as the capture
/// files in it (sorted by name, hidden files left out), as a rotated set from `tcpdump -C/-G`
/// or `dumpcap -b` is kept; a pattern with `*`, `?` or `[` that names no file as its matches,
/// for a pattern the shell left alone (quoted), capture files only in both. `-` (standard
/// input) only alone.
enum InputFiles {
    static func expand(_ arguments: [String]) throws(InputError) -> [String] {
        if arguments == ["-"] { return arguments }
        var paths: [String] = []
        for argument in arguments {
            if argument == "-" { throw InputError("- (standard input) cannot be read with other files") }
            var st = stat()
            if stat(argument, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    let inside = directory(argument)
                    if inside.isEmpty { throw InputError("\(argument): no capture files in this directory") }
                    paths += inside
                } else {
                    paths.append(argument)
                }
            } else if argument.contains(where: { "*?[".contains($0) }) {
                let matches = glob(argument)
                if matches.isEmpty { throw InputError("\(argument): no file matches") }
                paths += matches
            } else {
                paths.append(argument)  // opening it says why it cannot be read
            }
        }
        return paths
    }

    /// `expand`, or its message on stderr and exit 1.
    static func expandOrExit(_ arguments: [String]) throws -> [String] {
        do {
            return try expand(arguments)
        } catch {
            Terminal.warn(error.description)
            throw ExitCode(1)
        }
    }

    /// The capture files in `path` (regular files starting with a pcap or pcapng magic number,
    /// names not starting with a dot), sorted by name: a key log or notes beside them are left out.
    static func directory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            var st = stat()
            if stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, isCapture(full) { names.append(full) }
        }
        return names.sorted()
    }

    /// Whether the file starts like a pcap (either byte order, µs or ns) or pcapng file.
    static func isCapture(_ path: String) -> Bool {
        guard let f = fopen(path, "rb") else { return false }
        defer { fclose(f) }
        var magic: UInt32 = 0
        guard fread(&magic, 4, 1, f) == 1 else { return false }
        return [0xa1b2_c3d4, 0xd4c3_b2a1, 0xa1b2_3c4d, 0x4d3c_b2a1, 0x0a0d_0d0a].contains(magic)
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.filter(isCapture).sorted()
    }

    struct InputError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}
