#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Dropping root after the capture handle and the `-w` file are open, as tcpdump's `-Z` does:
/// hostile traffic is never parsed as root.
///
/// The target is the user who ran sudo (SUDO_UID / SUDO_GID) or, without sudo, `nobody`.
struct PrivilegeDrop {
    /// The user and group to become.
    let uid: uid_t
    let gid: gid_t
    /// The user's name, for messages.
    let name: String
    /// True when the target is the user who invoked sudo (the `-w` file is given to them).
    let isInvokingUser: Bool

    /// Why privileges could not be dropped; wstrace refuses to dissect as root then.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The user to switch to, or nil when the process is not root (nothing to drop).
    static func target(environment: [String: String]) throws(Failure) -> PrivilegeDrop? {
        guard geteuid() == 0 else { return nil }
        if let text = environment["SUDO_UID"], let uid = uid_t(text), uid != 0 {
            let entry = getpwuid(uid)
            guard let gid = environment["SUDO_GID"].flatMap({ gid_t($0) }) ?? entry?.pointee.pw_gid else {
                throw Failure(description: "SUDO_UID=\(uid) has no SUDO_GID and no passwd entry; cannot drop privileges")
            }
            let name = entry.map { String(cString: $0.pointee.pw_name) } ?? "uid \(uid)"
            return PrivilegeDrop(uid: uid, gid: gid, name: name, isInvokingUser: true)
        }
        guard let nobody = getpwnam("nobody") else {
            throw Failure(description: "there is no 'nobody' user to drop privileges to; "
                          + "run through sudo or pass --no-drop-privileges")
        }
        return PrivilegeDrop(uid: nobody.pointee.pw_uid, gid: nobody.pointee.pw_gid, name: "nobody",
                             isInvokingUser: false)
    }

    /// Gives `path` (the `-w` file, opened as root) to the target user.
    func hand(path: String) throws(Failure) {
        guard chown(path, uid, gid) == 0 else {
            throw Failure(description: "\(path): cannot change owner to \(name): \(String(cString: strerror(errno)))")
        }
    }

    /// Switches groups, gid and uid (in that order), then checks that root cannot be regained.
    func apply() throws(Failure) {
        var groups = [gid]
        guard setgroups(1, &groups) == 0 else { throw failure("setgroups") }
        guard setgid(gid) == 0 else { throw failure("setgid(\(gid))") }
        guard setuid(uid) == 0 else { throw failure("setuid(\(uid))") }
        guard getuid() == uid, geteuid() == uid, getgid() == gid, getegid() == gid else {
            throw Failure(description: "cannot drop privileges: ids are not \(uid)/\(gid) after setuid")
        }
        if uid != 0 && (setuid(0) == 0 || seteuid(0) == 0) {
            throw Failure(description: "cannot drop privileges: root could be regained after setuid(\(uid))")
        }
    }

    private func failure(_ call: String) -> Failure {
        Failure(description: "cannot drop privileges to \(name): \(call): \(String(cString: strerror(errno)))")
    }
}

/// The process's ids as the kernel reports them in /proc/self/status.
enum ProcessIdentity {
    /// The `Uid:` and `Gid:` lines' values (real, effective, saved, filesystem), nil when unreadable.
    static func fromProc() -> (uids: [UInt32], gids: [UInt32])? {
        guard let f = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(f) }
        var uids: [UInt32] = [], gids: [UInt32] = []
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), f) != nil {
            let end = line.firstIndex(of: 0) ?? line.count
            let text = String(decoding: line[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            guard let key = fields.first else { continue }
            if key == "Uid:" { uids = fields.dropFirst().compactMap { UInt32($0) } }
            if key == "Gid:" { gids = fields.dropFirst().compactMap { UInt32($0) } }
        }
        guard uids.count >= 2, gids.count >= 2 else { return nil }
        return (uids, gids)
    }
}
