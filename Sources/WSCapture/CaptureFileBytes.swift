#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A regular file as the system knows it, whatever its path: its device and inode.
public struct FileIdentity: Equatable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init(_ st: stat) {
        self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// The identity of the file open on `fd` (nil: `fstat` failed).
    static func of(_ fd: Int32) -> FileIdentity? {
        var st = stat()
        return fstat(fd, &st) == 0 ? FileIdentity(st) : nil
    }
}

/// Reads a capture's bytes back from its files, by the records' `fileOffset`: what the
/// analysis compares a retransmission with, instead of a copy of every byte delivered. From any
/// thread; each file is opened at its first read and stays open (at most `openLimit` at once).
///
/// A file is opened again by its path. When the reading noted which file it read
/// (`identities`), a path that now names another file (replaced, as a ring of rotated files
/// replaces its oldest) gives nothing back: its bytes count as unknown, never as the capture's.
public final class CaptureFileBytes: @unchecked Sendable {
    private let paths: [String]
    private let identities: [FileIdentity?]
    private var descriptors: [Int: Int32] = [:]
    /// Files whose path no longer names the file read: never read back.
    private var replaced: Set<Int> = []
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    static let openLimit = 32

    /// `paths`: the capture's files, in the order their records' `file` indexes count;
    /// `identities` (as many, or none): each file as it was read (nil: not known, not checked).
    public init(paths: [String], identities: [FileIdentity?] = []) {
        precondition(identities.isEmpty || identities.count == paths.count)
        self.paths = paths
        self.identities = identities.isEmpty ? Array(repeating: nil, count: paths.count) : identities
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        for fd in descriptors.values { close(fd) }
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Reads `count` bytes of file `file` at `offset`; false (the bytes unknown) when the file
    /// cannot be opened or holds fewer.
    public func read(file: Int, offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) -> Bool {
        guard file >= 0, file < paths.count, offset >= 0, count >= 0 else { return false }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var fd = descriptors[file] ?? -1
        if fd < 0 {
            guard !replaced.contains(file) else { return false }
            if descriptors.count >= Self.openLimit {
                for open in descriptors.values { close(open) }
                descriptors = [:]
            }
            fd = open(paths[file], O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            if let expected = identities[file], FileIdentity.of(fd) != expected {
                close(fd)
                replaced.insert(file)
                return false
            }
            descriptors[file] = fd
        }
        return preadAll(fd, into: destination, count: count, at: Int(offset)) == count
    }
}
