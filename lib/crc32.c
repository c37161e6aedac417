/*
 * crc32.c - gzip's CRC-32, folded with PCLMULQDQ (see crc32.h).
 *
 * A CRC is the remainder of the message, as a polynomial over GF(2),
 * modulo P.  Sixteen bytes A followed by at least sixteen more leave the
 * same remainder as A * x^d mod P added into the bytes d bits further on,
 * and for a 128-bit A that product is two carry-less multiplications of
 * A's 64-bit halves by constants (x^(d+32) and x^(d-32) mod P, bit-
 * reflected like the CRC itself, 33 bits each).  So four 16-byte lanes
 * are carried forward 64 bytes at a time, then folded into one lane, then
 * 16 bytes at a time; what is left, that lane and fewer than 16 bytes, is
 * short enough for zlib's tables.
 *
 * zlib's crc32() inverts the register before and after; the raw register
 * is kept here.  The starting register goes into the first four bytes
 * (for a reflected CRC, starting from c is the same as starting from 0
 * with c added to the first 32 bits), and zlib's crc32(~0, ...) over the
 * rest is the raw remainder from 0, inverted: what crc32() returns.
 */
#include <pthread.h>
#include <zlib.h>

#include "crc32.h"

#if defined(__x86_64__)
#include <immintrin.h>

static int		folds;
static pthread_once_t	once = PTHREAD_ONCE_INIT;

static void
init(void)
{
	folds = __builtin_cpu_supports("pclmul") &&
	    __builtin_cpu_supports("sse4.1");
}

/* lane * x^d mod P, with k = { x^(d+32), x^(d-32) } mod P, plus next. */
__attribute__((target("pclmul,sse4.1")))
static inline __m128i
carry(__m128i lane, __m128i k, __m128i next)
{
	__m128i lo = _mm_clmulepi64_si128(lane, k, 0x00);
	__m128i hi = _mm_clmulepi64_si128(lane, k, 0x11);

	return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* At least 64 bytes at p; returns what crc32(crc, p, n) does. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t
fold(uint32_t crc, const unsigned char *p, size_t n)
{
	/* d = 512 (four lanes on), and d = 128 (one lane on). */
	const __m128i k512 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
	const __m128i k128 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
	__m128i a, b, c, d;
	unsigned char rest[16];
	uLong z;

	a = _mm_loadu_si128((const __m128i *)p);
	b = _mm_loadu_si128((const __m128i *)(p + 16));
	c = _mm_loadu_si128((const __m128i *)(p + 32));
	d = _mm_loadu_si128((const __m128i *)(p + 48));
	a = _mm_xor_si128(a, _mm_cvtsi32_si128((int)~crc));
	for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
		a = carry(a, k512, _mm_loadu_si128((const __m128i *)p));
		b = carry(b, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
		c = carry(c, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
		d = carry(d, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
	}
	b = carry(a, k128, b);
	c = carry(b, k128, c);
	a = carry(c, k128, d);
	for (; n >= 16; p += 16, n -= 16)
		a = carry(a, k128, _mm_loadu_si128((const __m128i *)p));
	_mm_storeu_si128((__m128i *)rest, a);
	z = crc32(0xffffffffUL, rest, 16);
	return (uint32_t)crc32(z, p, (uInt)n);
}
#endif

uint32_t
bk_crc32(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uLong c = crc;
	uInt k;

#if defined(__x86_64__)
	pthread_once(&once, init);
	if (folds && len >= 64)
		return fold(crc, p, len);
#endif
	while (len > 0) {
		k = len > 0x40000000 ? 0x40000000 : (uInt)len;
		c = crc32(c, p, k);
		p += k;
		len -= k;
	}
	return (uint32_t)c;
}

int
bk_crc32_folds(void)
{
#if defined(__x86_64__)
	pthread_once(&once, init);
	return folds;
#else
	return 0;
#endif
}
