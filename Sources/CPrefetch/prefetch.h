#ifndef WSTRACE_CPREFETCH_H
#define WSTRACE_CPREFETCH_H

/// Asks the CPU to bring the first two cache lines of an object (where its per-packet fields
/// sit) into the cache, without waiting for them: Swift has no prefetch of its own. A stale
/// address is harmless: a prefetch never faults.
static inline void wstrace_prefetch_lines(const void *address) {
    __builtin_prefetch(address, 0, 3);
    __builtin_prefetch((const char *)address + 64, 0, 3);
}
#endif
