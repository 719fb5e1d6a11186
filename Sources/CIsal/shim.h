#ifndef WSTRACE_CISAL_SHIM_H
#define WSTRACE_CISAL_SHIM_H
// Intel ISA-L's inflate (Debian: libisal-dev): raw DEFLATE about twice as fast as zlib's on
// WebSocket messages. Used for whole permessage-deflate messages (see FastInflater.swift).
#include <isa-l/igzip_lib.h>
#endif
