#ifndef WSTRACE_CZLIB_SHIM_H
#define WSTRACE_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro, which Swift cannot call: wrap it.
static inline int wstrace_inflate_init_raw(z_stream *stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
#endif
