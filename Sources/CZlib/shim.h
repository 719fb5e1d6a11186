#ifndef WSTRACE_CZLIB_SHIM_H
#define WSTRACE_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro, which Swift cannot call: wrap it.
static inline int wstrace_inflate_init_raw(z_stream *stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
/// deflateInit2 likewise (used by the benchmark generator): raw deflate, default level.
static inline int wstrace_deflate_init_raw(z_stream *stream, int level, int windowBits) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
#endif
