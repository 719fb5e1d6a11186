#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The few facts about the outside world the CLI needs.
enum Terminal {
    static func isTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Colors: forced on or off by flags, else on a TTY unless NO_COLOR is set.
    static func useColor(force: Bool?) -> Bool {
        if let force { return force }
        if let v = getenv("NO_COLOR"), v.pointee != 0 { return false }
        return isTTY(1)
    }

    /// One line on standard error.
    static func warn(_ message: String) {
        fputs("wstrace: " + message + "\n", stderr)
    }

    /// Writes go on after a closed pipe as EPIPE errors, which the output layer handles.
    static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }
}
