/* crc32.c - unit tests for lib/crc32: known values, and the folding code
 * against zlib's crc32() at every length and alignment around its edges,
 * chained at random cuts, and over a large buffer. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "crc32.h"
#include "tap.h"

#define BIG	(3 * 1024 * 1024 + 77)

int
main(void)
{
	unsigned char *buf = malloc(BIG);
	uint32_t a, b;
	size_t i, n, off, cut, bad = 0;
	unsigned seed = 11;

	plan(7);
	diag("folding with carry-less multiply: %s",
	    bk_crc32_folds() ? "yes" : "no (zlib's tables only)");
	ok(bk_crc32(0, "123456789", 9) == 0xcbf43926u, "\"123456789\"");
	ok(bk_crc32(0, "", 0) == 0 && bk_crc32(0x12345678u, "", 0) ==
	    0x12345678u, "nothing leaves the value as it is");
	memset(buf, 0, 64);
	ok(bk_crc32(0, buf, 64) == (uint32_t)crc32(0, buf, 64),
	    "64 zero bytes (one pass of four lanes, nothing after)");

	for (i = 0; i < BIG; i++)
		buf[i] = (unsigned char)(rand_r(&seed) >> 7);
	/* Every length to 300 at every alignment within 16: the lanes, the
	 * 16-byte steps and the tail all begin and end everywhere. */
	for (off = 0; off < 16; off++)
		for (n = 0; n <= 300; n++)
			if (bk_crc32(0, buf + off, n) !=
			    (uint32_t)crc32(0, buf + off, (uInt)n))
				bad++;
	ok(bad == 0, "every length 0-300 at 16 alignments: as zlib "
	    "(%zu differ)", bad);

	for (i = 0, bad = 0; i < 300; i++) {
		n = 1 + (size_t)rand_r(&seed) % 70000;
		cut = (size_t)rand_r(&seed) % (n + 1);
		a = bk_crc32(0, buf, cut);
		a = bk_crc32(a, buf + cut, n - cut);
		if (a != (uint32_t)crc32(0, buf, (uInt)n))
			bad++;
	}
	ok(bad == 0, "300 random lengths, each in two calls: as zlib in one "
	    "(%zu differ)", bad);

	a = bk_crc32(0, buf, BIG);
	b = (uint32_t)crc32(0, buf, BIG);
	ok(a == b, "3 MiB: %08x, zlib %08x", a, b);
	ok(bk_crc32(0xdeadbeefu, buf + 1, BIG - 1) ==
	    (uint32_t)crc32(0xdeadbeefu, buf + 1, BIG - 1),
	    "continued from another value, unaligned");
	free(buf);
	return done_testing();
}
