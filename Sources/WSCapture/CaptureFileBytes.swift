#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Reads a capture's bytes back from its files, by the records' `fileOffset`: what the
/// analysis compares a retransmission with, instead of a copy of every byte delivered. From any
/// thread; each file is opened at its first read and stays open (at most `openLimit` at once).
public final class CaptureFileBytes: @unchecked Sendable {
    private let paths: [String]
    private var descriptors: [Int: Int32] = [:]
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    static let openLimit = 32

    /// `paths`: the capture's files, in the order their records' `file` indexes count.
    public init(paths: [String]) {
        self.paths = paths
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
            if descriptors.count >= Self.openLimit {
                for open in descriptors.values { close(open) }
                descriptors = [:]
            }
            fd = open(paths[file], O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            descriptors[file] = fd
        }
        return preadAll(fd, into: destination, count: count, at: Int(offset)) == count
    }
}
