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

/// A capture read as a stream (StreamInput: standard input, a pipe, gzip) as a read-only stdio
/// stream (libpcap reads from a FILE *): glibc's fopencookie, which Swift's Glibc module does
/// not show (it is a GNU extension), declared here with its layout of cookie_io_functions_t.
#include <stdio.h>
#include <sys/types.h>
typedef struct {
    ssize_t (*read)(void *cookie, char *buffer, size_t size);
    ssize_t (*write)(void *cookie, const char *buffer, size_t size);
    int (*seek)(void *cookie, void *offset, int whence);
    int (*close)(void *cookie);
} wstrace_cookie_io_functions;
extern FILE *fopencookie(void *cookie, const char *mode, wstrace_cookie_io_functions io);

#endif
