/* crc32c.c - unit tests for lib/crc32c: known values, chaining, and the
 * table against the instruction on random data. */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "tap.h"

/* A bitwise reference, slow and plain. */
static uint32_t
ref(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	unsigned j;

	while (n-- > 0) {
		c ^= *p++;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

int
main(void)
{
	unsigned char buf[4099];
	uint32_t a;
	size_t i, cut;
	int bad = 0;

	plan(5);
	ok(bk_crc32c(0, "123456789", 9) == 0xe3069283u, "\"123456789\"");
	ok(bk_crc32c(0, "", 0) == 0, "nothing");
	memset(buf, 0, 32);
	ok(bk_crc32c(0, buf, 32) == 0x8a9136aau, "32 zero bytes (RFC 3720)");
	srand(7);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand();
	for (i = 0; i < 200; i++) {
		size_t n = (size_t)rand() % sizeof(buf);

		if (bk_crc32c(0, buf, n) != ref(buf, n))
			bad++;
	}
	ok(bad == 0, "200 random lengths agree with a bitwise reference");
	bad = 0;
	for (cut = 0; cut < 40; cut++) {
		a = bk_crc32c(0, buf, cut);
		if (bk_crc32c(a, buf + cut, 1000 - cut) != ref(buf, 1000))
			bad++;
	}
	ok(bad == 0, "chained calls give the same value");
	return done_testing();
}
