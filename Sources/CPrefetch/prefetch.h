#ifndef WSTRACE_CPREFETCH_H
#define WSTRACE_CPREFETCH_H

/// Asks the CPU to bring the cache line at `address` in, without waiting for it: Swift has no
/// prefetch of its own. Reading a capture, the next record's header is a cache miss whose
/// address is known a whole packet's work in advance.
static inline void wstrace_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
#endif
