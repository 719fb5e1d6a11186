#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A POSIX thread running one closure; `join()` waits for it to return.
final class WorkerThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private var thread = pthread_t()
    private var started = false

    /// Starts `body` on a new thread. If no thread can be made, runs it now, on this one.
    init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
        if status == 0 {
            started = true
        } else {
            Unmanaged<Body>.fromOpaque(context).takeRetainedValue().run()
        }
    }

    /// Waits until the closure has returned.
    func join() {
        if started { pthread_join(thread, nil) }
        started = false
    }

    /// The cores online: how many threads a run can keep busy.
    static var cores: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}
