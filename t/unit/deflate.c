/* deflate.c - unit tests for lib/deflate: every output is read back by
 * zlib's inflate, byte for byte, on inputs chosen to reach each part of
 * the encoder (short inputs, runs, incompressible data, the dictionary,
 * every match length, distances to the edge of the window, skewed literal
 * frequencies that need the code lengths limited, many blocks), and never
 * exceeds bk_deflate_bound().  Sizes are checked where the encoder's
 * choices show: matches weighed against their literals, and blocks that
 * end where the statistics change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "deflate.h"
#include "readback.h"
#include "tap.h"

#define GUARD	64

static struct bk_deflate *d;

/* Compress in[dictlen, dictlen + len) and read it back with zlib.
 * Returns the size of the deflate data, or -1 (with a diagnostic) if
 * anything is wrong. */
static long
roundtrip(const unsigned char *in, size_t dictlen, size_t len)
{
	size_t bound = bk_deflate_bound(len), n, i;
	unsigned char *out = malloc(bound + GUARD + 2);
	char why[200];
	long r = -1;

	memset(out, 0xa5, bound + GUARD + 2);
	n = bk_deflate_block(d, in, dictlen, len, out);
	for (i = bound; i < bound + GUARD; i++)
		if (out[i] != 0xa5) {
			diag("wrote past the bound (%zu) at len %zu", bound,
			    len);
			goto out;
		}
	if (n > bound)
		diag("returned %zu, past the bound %zu", n, bound);
	else if (deflate_reads_back(out, n, in, dictlen, in + dictlen, len,
	    why, sizeof(why)) < 0)
		diag("len %zu dict %zu: %s", len, dictlen, why);
	else
		r = (long)n;
out:
	free(out);
	return r;
}

/* zlib's level 6 on the same input, for comparison. */
static long
zlib6(const unsigned char *in, size_t len)
{
	uLongf n = compressBound((uLong)len);
	unsigned char *out = malloc(n);

	if (compress2(out, &n, in, (uLong)len, 6) != Z_OK)
		n = 0;
	free(out);
	return (long)n;
}

/* Rows like pgbench_accounts': numbers and long padding. */
static size_t
rows(unsigned char *buf, size_t size)
{
	size_t n = 0;
	int k, w;

	for (k = 1; n + 120 < size; k++) {
		w = snprintf((char *)buf + n, 120, "%d\t%d\t%d\t%84s\n", k,
		    1 + k / 100000, (k * 7919) % 5000 - 2500, "");
		n += (size_t)w;
	}
	return n;
}

int
main(void)
{
	enum { BIG = 3 * 1024 * 1024 };
	unsigned char *buf = malloc(BIG), *b2 = malloc(BIG);
	unsigned seed = 5;
	size_t i, n, k, bad;
	long a, b;
	unsigned long f0, f1, t;

	plan(22);
	d = bk_deflate_new(6);
	ok(d != NULL, "new");
	ok(bk_deflate_new(3) == NULL && bk_deflate_new(10) == NULL,
	    "levels outside 4-9 refused");

	ok(bk_deflate_block(d, (const unsigned char *)"x", 0, 0, buf) == 0,
	    "nothing in, nothing out");

	/* Text-like bytes: words from a small vocabulary. */
	for (i = 0; i < BIG; i++)
		buf[i] = (unsigned char)"etaoin shrdlu\n,.0123"[rand_r(&seed) %
		    (i % 7 == 0 ? 20 : 8)];
	for (n = 0, bad = 0; n <= 700; n++)
		if (roundtrip(buf, 0, n) < 0 || roundtrip(buf, 300, n) < 0)
			bad++;
	ok(bad == 0, "every length 0-700, with and without a dictionary "
	    "(%zu failed)", bad);

	memset(buf, 0, 1 << 20);
	a = roundtrip(buf, 0, 1 << 20);
	ok(a > 0 && a < 1536, "1 MiB of zeros: %ld bytes", a);

	for (i = 0; i < BIG; i++)
		buf[i] = (unsigned char)(rand_r(&seed) >> 5);
	a = roundtrip(buf, 0, BIG);
	ok(a > 0 && (size_t)a <= BIG + (BIG / 30000 + 1) * 5,
	    "3 MiB of random bytes: %ld bytes (stored blocks)", a);

	/* A block that repeats the dictionary: matches reach back into it,
	 * to the far edge of the window. */
	a = roundtrip(buf, 0, 32768 + 4000);
	memcpy(buf + 32768, buf + 1, 4000);
	b = roundtrip(buf, 32768, 4000);
	ok(b > 0 && b < 100 && a > 32768,
	    "matches reach 32767 bytes back into the dictionary: %ld "
	    "bytes for 4000", b);

	/* Every match length 3-258 at distances across every distance
	 * code, with random bytes in between. */
	n = 0;
	for (k = 3, i = 1; n + 600 < BIG && k <= 258; k++) {
		size_t dist = 1 + (i * 2654435761u) % 32000, j;

		for (j = 0; j < 40; j++)
			buf[n++] = (unsigned char)rand_r(&seed);
		if (dist > n)
			dist = n;
		for (j = 0; j < k; j++, n++)
			buf[n] = buf[n - dist];
		i++;
	}
	a = roundtrip(buf, 0, n);
	ok(a > 0, "every match length 3-258 at spread distances: %zu bytes "
	    "to %ld", n, a);

	/* Literal frequencies in Fibonacci proportion: unlimited Huffman
	 * codes would be 26 bits long. */
	f0 = 1;
	f1 = 1;
	n = 0;
	for (k = 0; k < 27; k++) {
		for (i = 0; i < f0 && n < BIG; i++)
			b2[n++] = (unsigned char)(k * 9);
		t = f0 + f1;
		f0 = f1;
		f1 = t;
	}
	for (i = n; i > 1; i--) {	/* shuffled, so few matches */
		k = (size_t)rand_r(&seed) % i;
		unsigned char c = b2[i - 1];
		b2[i - 1] = b2[k];
		b2[k] = c;
	}
	a = roundtrip(b2, 0, n);
	ok(a > 0 && a < (long)n / 2, "27 literals in Fibonacci proportion "
	    "(code lengths limited to 15): %zu bytes to %ld", n, a);

	/* Padded rows: many blocks of long matches. */
	n = rows(buf, BIG);
	a = roundtrip(buf, 0, n);
	b = zlib6(buf, n);
	ok(a > 0 && a <= b + b / 100, "%zu bytes of padded rows: %ld bytes, "
	    "zlib -6 %ld", n, a, b);

	/* Every level on the rows and on the skewed literals.  More effort
	 * finds longer matches, but a lazy parse is a heuristic: a longer
	 * match found further back can cost more in the end than the
	 * literals it replaced (zlib's levels 6 and 7 show the same), so a
	 * level may come out a little larger than the one below it; never
	 * by more than 1%, and level 9 is no larger than level 4 on the
	 * rows. */
	{
		long prev[2] = {0, 0}, first = 0, sz;
		int level, j, good = 1;
		struct bk_deflate *keep = d;

		for (level = BK_DEFLATE_MIN; level <= BK_DEFLATE_MAX; level++) {
			d = bk_deflate_new(level);
			for (j = 0; j < 2; j++) {
				sz = roundtrip(j == 0 ? buf : b2, 0, j == 0 ?
				    n : 500000);
				if (sz < 0 ||
				    (prev[j] > 0 && sz > prev[j] + prev[j] / 100)) {
					diag("level %d, input %d: %ld bytes, "
					    "%ld at the level below", level, j,
					    sz, prev[j]);
					good = 0;
				}
				if (j == 0 && level == BK_DEFLATE_MIN)
					first = sz;
				if (j == 0 && level == BK_DEFLATE_MAX &&
				    sz > first) {
					diag("level 9: %ld bytes, level 4: %ld",
					    sz, first);
					good = 0;
				}
				prev[j] = sz;
			}
			bk_deflate_free(d);
		}
		d = keep;
		ok(good, "levels 4-9 read back, each within 1%% of the one "
		    "before");
	}

	/* The skewed literals again: a match is taken only where it is
	 * expected to cost fewer bits than its literals, so the chance
	 * matches among them must not make the output larger than zlib's
	 * Huffman coding of the literals alone. */
	{
		z_stream z;
		unsigned char *out = malloc(600000);
		long h = -1;

		memset(&z, 0, sizeof(z));
		if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_HUFFMAN_ONLY) ==
		    Z_OK) {
			z.next_in = b2;
			z.avail_in = 500000;
			z.next_out = out;
			z.avail_out = 600000;
			if (deflate(&z, Z_FINISH) == Z_STREAM_END)
				h = (long)z.total_out;
			deflateEnd(&z);
		}
		free(out);
		a = roundtrip(b2, 0, 500000);
		ok(a > 0 && h > 0 && a <= h + h / 50, "skewed literals: %ld bytes, "
		    "literals alone %ld", a, h);
	}

	/* Stretches of two alphabets in turn, no matches: the blocks end
	 * where the statistics change, so the whole costs about what the
	 * stretches cost one by one. */
	{
		long apart = 0;
		size_t j, m = 30000;

		for (n = 0, k = 0; k < 20; k++) {
			for (j = 0; j < m; j++)
				buf[n + j] = k % 2 ? (unsigned char)(0x80 +
				    rand_r(&seed) % 64) : (unsigned char)('a' +
				    rand_r(&seed) % 4);
			apart += roundtrip(buf + n, 0, m);
			n += m;
		}
		a = roundtrip(buf, 0, n);
		ok(a > 0 && a <= apart + apart * 3 / 100, "two alphabets in turn: "
		    "%ld bytes, %ld one stretch at a time", a, apart);
	}

	/* Compressible and random stretches in turn: stored blocks start
	 * at every bit offset. */
	n = 0;
	for (k = 0; n + 70000 < BIG; k++) {
		size_t m = 1000 + (size_t)rand_r(&seed) % 60000, j;

		for (j = 0; j < m; j++)
			buf[n + j] = k % 2 ? (unsigned char)rand_r(&seed) :
			    (unsigned char)"abcab  "[j % 7];
		n += m;
	}
	ok(roundtrip(buf, 0, n) > 0, "random and repetitive stretches in "
	    "turn: %zu bytes", n);

	/* Short inputs: the fixed codes, a lone literal, lone matches. */
	ok(roundtrip((const unsigned char *)"a", 0, 1) > 0 &&
	    roundtrip((const unsigned char *)"aaaaaaaaaaaaaaaaaaaa", 0, 20) >
	    0 && roundtrip((const unsigned char *)"abcabcabcabcx", 0, 13) > 0,
	    "one byte, a run of 20, a repeat at distance 3");

	/* A match that runs to the end of the input, and the search one
	 * position ahead, whose bytes end one sooner: nothing is read past
	 * the end (ASan, in make SANITIZE=1 check, sees the input's exact
	 * size; cheap literals make the cost of the bytes be read far). */
	{
		unsigned char *exact = malloc(8);

		memset(exact, 'a', 8);
		ok(roundtrip(exact, 0, 8) > 0 && roundtrip(exact, 2, 6) > 0,
		    "a match up to the end of the input");
		free(exact);
	}

	/* Runs of one byte value inside matches, skipped over when their
	 * positions go into the chains: "q7Zk" and a run, twice, so that
	 * the second is a match with the run inside; for every run length
	 * up to past a whole match, ending the input (an exact-size
	 * buffer: nothing is read past it) or followed by other bytes. */
	{
		size_t len, half, tail;
		int good = 1;

		for (len = 1; len <= 300 && good; len++)
			for (tail = 0; tail <= 5 && good; tail += 5) {
				unsigned char *x;

				half = 4 + len;
				x = malloc(2 * half + tail);
				memcpy(x, "q7Zk", 4);
				memset(x + 4, '0', len);
				memcpy(x + half, x, half);
				memcpy(x + 2 * half, "!.,;:", tail);
				good = roundtrip(x, 0, 2 * half + tail) > 0 &&
				    roundtrip(x, half, half + tail) > 0;
				if (!good)
					diag("run of %zu, %zu bytes after", len,
					    tail);
				free(x);
			}
		ok(good, "runs of 1 to 300 bytes inside matches, at the end "
		    "of the input and before other bytes");
	}

	/* The length-3 matches, near and far. */
	for (i = 0; i < 20000; i++)
		buf[i] = (unsigned char)(rand_r(&seed) % 16);
	ok(roundtrip(buf, 0, 20000) > 0, "16 symbols at random (many short "
	    "matches)");

	/* Blocks joined as bk-gz joins them: each with the 32 KiB before
	 * it as its dictionary, the next one's output right after. */
	n = rows(b2, BIG);
	{
		size_t cap = bk_deflate_bound(n) + 16 * 64, o = 0, off;
		unsigned char *out = malloc(cap);
		char why[200];

		for (off = 0; off < n; off += 100000) {
			size_t len = n - off < 100000 ? n - off : 100000;
			size_t dl = off < 32768 ? off : 32768;

			o += bk_deflate_block(d, b2 + off - dl, dl, len,
			    out + o);
		}
		if (!ok(deflate_reads_back(out, o, NULL, 0, b2, n, why,
		    sizeof(why)) == 0, "%zu blocks joined into one stream: "
		    "%zu bytes to %zu", (n + 99999) / 100000, n, o))
			diag("%s", why);
		free(out);
	}

	/* The same input gives the same output: nothing carries over from
	 * one call to the next. */
	{
		size_t cap = bk_deflate_bound(200000);
		unsigned char *o1 = malloc(cap), *o2 = malloc(cap);
		size_t n1, n2;

		n1 = bk_deflate_block(d, b2, 0, 200000, o1);
		(void)bk_deflate_block(d, buf, 0, 20000, o2);
		n2 = bk_deflate_block(d, b2, 0, 200000, o2);
		ok(n1 == n2 && memcmp(o1, o2, n1) == 0, "the same input again "
		    "gives the same %zu bytes", n1);
		free(o1);
		free(o2);
	}

	/* A dictionary shorter than the window, and the input's last bytes
	 * too few to hash. */
	memcpy(buf, "hello, hello, hello", 19);
	ok(roundtrip(buf, 7, 12) > 0 && roundtrip(buf, 16, 3) > 0,
	    "short dictionaries, three-byte blocks");

	ok(bk_deflate_bound(0) > 0 && bk_deflate_bound(1 << 20) > 1 << 20,
	    "the bound covers the input");

	bk_deflate_free(d);
	free(buf);
	free(b2);
	return done_testing();
}
