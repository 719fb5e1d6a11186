#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A POSIX mutex and one condition variable, made and destroyed together: for hand-overs
/// between threads (the live capture's queue of batches, the chunked reading's measurement).
public final class MutexAndCondition: @unchecked Sendable {
    public let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    public let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(condition)
        mutex.deallocate()
        condition.deallocate()
    }
}
