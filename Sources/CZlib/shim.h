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

/// A gzip-compressed file as a read-only stdio stream (libpcap reads from a FILE *): glibc's
/// fopencookie, which Swift's Glibc module does not show (it is a GNU extension), declared
/// here with its layout of cookie_io_functions_t; the stream closes the gz reader with itself.
#include <stdio.h>
#include <sys/types.h>
typedef struct {
    ssize_t (*read)(void *cookie, char *buffer, size_t size);
    ssize_t (*write)(void *cookie, const char *buffer, size_t size);
    int (*seek)(void *cookie, void *offset, int whence);
    int (*close)(void *cookie);
} wstrace_cookie_io_functions;
extern FILE *fopencookie(void *cookie, const char *mode, wstrace_cookie_io_functions io);

static ssize_t wstrace_gz_read(void *cookie, char *buffer, size_t size) {
    int n = gzread((gzFile)cookie, buffer, size > (1u << 30) ? (1u << 30) : (unsigned)size);
    return n < 0 ? -1 : n;
}
static int wstrace_gz_close(void *cookie) {
    return gzclose((gzFile)cookie) == Z_OK ? 0 : -1;
}
static inline FILE *wstrace_gz_stream(gzFile gz) {
    wstrace_cookie_io_functions io = { wstrace_gz_read, 0, 0, wstrace_gz_close };
    return fopencookie(gz, "r", io);
}
#endif
