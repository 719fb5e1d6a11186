#ifndef WSTRACE_CBASE64_H
#define WSTRACE_CBASE64_H
// Base64 (RFC 4648) of payloads in JSON, 24 bytes at a time with AVX2 where the CPU has it
// (Muła and Lemire's method: each 3-byte group's four 6-bit values picked out by two
// multiplies, mapped to the alphabet by one table lookup). The caller encodes the rest.
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

__attribute__((target("avx2")))
static inline size_t wstrace_base64_avx2(const uint8_t *src, size_t n, uint8_t *out) {
    // Both 16-byte halves hold a 12-byte group at their start, spread to 3 bytes of each 4.
    const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
                                            1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    // The offset from each 6-bit value to its character: A-Z, a-z, 0-9, '+', '/'.
    const __m256i offsets = _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0,
                                             65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
    size_t i = 0;
    // Each round reads 28 bytes (two 16-byte loads, 12 apart) and takes 24.
    for (; i + 28 <= n; i += 24, out += 32) {
        __m128i low = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i high = _mm_loadu_si128((const __m128i *)(src + i + 12));
        __m256i in = _mm256_inserti128_si256(_mm256_castsi128_si256(low), high, 1);
        in = _mm256_shuffle_epi8(in, spread);
        __m256i a = _mm256_mulhi_epu16(_mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00)), _mm256_set1_epi32(0x04000040));
        __m256i b = _mm256_mullo_epi16(_mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0)), _mm256_set1_epi32(0x01000010));
        __m256i values = _mm256_or_si256(a, b);
        __m256i index = _mm256_subs_epu8(values, _mm256_set1_epi8(51));
        index = _mm256_sub_epi8(index, _mm256_cmpgt_epi8(values, _mm256_set1_epi8(25)));
        __m256i chars = _mm256_add_epi8(values, _mm256_shuffle_epi8(offsets, index));
        _mm256_storeu_si256((__m256i *)out, chars);
    }
    return i;
}

/// Encodes whole groups of 24 bytes at `src` into `out` (32 characters each) while 28 bytes
/// can be read, with AVX2; returns the bytes taken (0 without AVX2 or on short input).
static inline size_t wstrace_base64_blocks(const uint8_t *src, size_t n, uint8_t *out) {
    // Asked once (each thread may ask the first time: they find the same answer).
    static int known = -1;
    int avx2 = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (avx2 < 0) {
        avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&known, avx2, __ATOMIC_RELAXED);
    }
    return avx2 && n >= 28 ? wstrace_base64_avx2(src, n, out) : 0;
}
#else
static inline size_t wstrace_base64_blocks(const uint8_t *src, size_t n, uint8_t *out) {
    (void)src; (void)n; (void)out;
    return 0;
}
#endif
#endif
