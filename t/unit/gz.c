/* gz.c - unit tests for lib/gz: parallel gzip, gunzip, test, and the seal. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "tap.h"
#include "cli.h"
#include "gz.h"
#include "progress.h"

#define KiB	1024
#define BLKMIN	BK_GZ_BLOCK_MIN

static char	p_in[600], p_gz[600], p_back[600];

/* A small PRNG, so that every run tests the same bytes. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * n bytes of mixed data: random runs, text, zeros and copies of earlier
 * data (some from more than a block back, so that the dictionary that
 * primes each block matters).
 */
static unsigned char *
gen(size_t n, uint64_t seed)
{
	static const char text[] = "INSERT INTO accounts VALUES (42, "
	    "'the quick brown fox jumps over the lazy dog', 3.14159);\n";
	unsigned char *b = malloc(n + 1);
	uint64_t s = seed * 2654435761u + 1;
	size_t off = 0, k, i, from;

	while (off < n) {
		k = 1 + rnd(&s) % 3000;
		if (k > n - off)
			k = n - off;
		switch (rnd(&s) % 4) {
		case 0:
			for (i = 0; i < k; i++)
				b[off + i] = (unsigned char)rnd(&s);
			break;
		case 1:
			for (i = 0; i < k; i++)
				b[off + i] = (unsigned char)text[(off + i) %
				    (sizeof(text) - 1)];
			break;
		case 2:
			memset(b + off, 0, k);
			break;
		default:
			if (off < 100) {
				memset(b + off, 'a', k);
				break;
			}
			from = off - 1 - rnd(&s) % (off < 32768 ? off : 32768);
			for (i = 0; i < k; i++)
				b[off + i] = b[from + i];
			break;
		}
		off += k;
	}
	return b;
}

/* Very compressible text, to compare levels. */
static unsigned char *
gen_text(size_t n)
{
	unsigned char *b = malloc(n + 1);
	uint64_t s = 7;
	size_t off = 0;
	int k;

	while (off < n) {
		char line[128];

		k = snprintf(line, sizeof(line), "%llu|user%llu|%s|%llu\n",
		    (unsigned long long)(off / 40),
		    (unsigned long long)(rnd(&s) % 5000),
		    rnd(&s) % 3 ? "active" : "disabled",
		    (unsigned long long)(rnd(&s) % 100000));
		if ((size_t)k > n - off)
			k = (int)(n - off);
		memcpy(b + off, line, (size_t)k);
		off += (size_t)k;
	}
	return b;
}

static void
put_file(const char *path, const void *data, size_t n)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || (n > 0 && write(fd, data, n) != (ssize_t)n)) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static unsigned char *
get_file(const char *path, size_t *len)
{
	struct stat sb;
	unsigned char *b;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd == -1 || fstat(fd, &sb) == -1) {
		perror(path);
		exit(2);
	}
	b = malloc((size_t)sb.st_size + 1);
	if (sb.st_size > 0 && read(fd, b, (size_t)sb.st_size) != sb.st_size) {
		perror(path);
		exit(2);
	}
	close(fd);
	*len = (size_t)sb.st_size;
	return b;
}

/*
 * zlib's verdict on a gzip stream: 0 complete (every member ends, CRC and
 * length checked, nothing after), 1 truncated, 2 data after the end, -1
 * corrupt.  The data goes to *out (malloc'd), the member count to
 * *members.
 */
static int
zlib_gunzip(const unsigned char *gz, size_t n, unsigned char **out,
    size_t *outlen, int *members)
{
	z_stream z;
	size_t cap = 4096, len = 0;
	unsigned char *o = malloc(cap);
	int ret, verdict = 1;

	*members = 0;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 31) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)(uintptr_t)gz;
	z.avail_in = (uInt)n;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			o = realloc(o, cap);
		}
		z.next_out = o + len;
		z.avail_out = (uInt)(cap - len);
		ret = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (ret == Z_STREAM_END) {
			(*members)++;
			if (z.avail_in == 0) {
				verdict = 0;
				break;
			}
			/* Another member must start right here. */
			if (z.avail_in < 2 || z.next_in[0] != 0x1f ||
			    z.next_in[1] != 0x8b) {
				verdict = 2;
				break;
			}
			inflateReset(&z);
			continue;
		}
		if (ret == Z_OK)
			continue;
		if (ret == Z_BUF_ERROR && z.avail_in == 0) {
			verdict = 1;
			break;
		}
		if (ret == Z_BUF_ERROR)
			continue;
		verdict = -1;
		break;
	}
	inflateEnd(&z);
	*out = o;
	*outlen = len;
	return verdict;
}

/*
 * gzip data with zlib itself: level, optional header, and a sync flush
 * every flush_every bytes (0: none).
 */
static unsigned char *
zlib_gzip(const unsigned char *in, size_t n, int level, gz_header *h,
    size_t flush_every, size_t *outlen)
{
	z_stream z;
	size_t cap = n + n / 10 + 1024, off = 0, k;
	unsigned char *o = malloc(cap);
	int flush;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	if (h != NULL)
		deflateSetHeader(&z, h);
	z.next_out = o;
	z.avail_out = (uInt)cap;
	do {
		k = flush_every ? flush_every : n;
		if (k > n - off)
			k = n - off;
		z.next_in = (unsigned char *)(uintptr_t)(in + off);
		z.avail_in = (uInt)k;
		off += k;
		flush = off == n ? Z_FINISH : Z_SYNC_FLUSH;
		if (deflate(&z, flush) == Z_STREAM_ERROR)
			abort();
	} while (off < n);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	return o;
}

struct eof_probe {
	enum bk_seal_state	 state;		/* what to report */
	int			 fail;		/* return -1 */
	int			 calls;
	off_t			 in_pos;	/* input offset at the call */
	off_t			 out_size;	/* output size at the call */
	int			 in, out;
};

static int
probe(void *arg, enum bk_seal_state *state, struct bk_err *err)
{
	struct eof_probe *p = arg;
	struct stat sb;

	p->calls++;
	p->in_pos = lseek(p->in, 0, SEEK_CUR);
	p->out_size = p->out >= 0 && fstat(p->out, &sb) == 0 ? sb.st_size :
	    -1;
	if (p->fail)
		return bk_err_set(err, BK_EXIT_RUNTIME, "seal: boom");
	*state = p->state;
	return 0;
}

typedef int (*gz_fn)(const struct bk_gz_opts *, struct bk_gz_stats *,
    struct bk_err *);

/*
 * Run fn from file in to file out (out NULL: fd -1) with these options;
 * pr, if not NULL, is the at_eof probe.
 */
static int
run(gz_fn fn, const char *in, const char *out, int level, unsigned threads,
    size_t block, struct eof_probe *pr, struct bk_progress *prog,
    struct bk_gz_stats *st, struct bk_err *err)
{
	struct bk_gz_opts o;
	int rc;

	bk_gz_opts_init(&o);
	o.level = level;
	o.threads = threads;
	o.block = block;
	o.in = open(in, O_RDONLY);
	o.out = out != NULL ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600) :
	    -1;
	if (o.in == -1 || (out != NULL && o.out == -1)) {
		perror("open");
		exit(2);
	}
	if (pr != NULL) {
		pr->in = o.in;
		pr->out = o.out;
		o.at_eof = probe;
		o.at_eof_arg = pr;
	}
	o.progress = prog;
	memset(st, 0, sizeof(*st));
	st->upstream = (enum bk_seal_state)-1;
	bk_err_clear(err);
	rc = fn(&o, st, err);
	close(o.in);
	if (o.out >= 0)
		close(o.out);
	return rc;
}

/* Compress n bytes, check with zlib, decompress, compare. */
static void
roundtrip(size_t n, int level, unsigned threads, size_t block)
{
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *data, *gz, *z, *back;
	size_t gzlen, zlen, backlen;
	int rc, members, v;
	char what[128];

	snprintf(what, sizeof(what), "%zu bytes, -%d, %u threads, block %zuK",
	    n, level, threads, block / KiB);
	data = gen(n, n + (size_t)level * 7 + threads);
	put_file(p_in, data, n);

	rc = run(bk_gz_compress, p_in, p_gz, level, threads, block, NULL,
	    NULL, &st, &e);
	gz = get_file(p_gz, &gzlen);
	if (!ok(rc == 0 && st.in == n && st.out == gzlen,
	    "compress %s", what))
		diag("  rc %d, in %llu, out %llu (file %zu), err \"%s\"", rc,
		    (unsigned long long)st.in, (unsigned long long)st.out,
		    gzlen, e.msg);

	v = zlib_gunzip(gz, gzlen, &z, &zlen, &members);
	if (!ok(v == 0 && members == 1 && zlen == n &&
	    memcmp(z, data, n) == 0, "zlib reads it back: %s", what))
		diag("  zlib verdict %d, members %d, %zu bytes", v, members,
		    zlen);
	free(z);

	rc = run(bk_gz_decompress, p_gz, p_back, 6, 1, block, NULL, NULL, &st,
	    &e);
	back = get_file(p_back, &backlen);
	if (!ok(rc == 0 && backlen == n && memcmp(back, data, n) == 0 &&
	    st.in == gzlen && st.out == n && st.members == 1,
	    "decompress gives it back: %s", what))
		diag("  rc %d, %zu bytes, in %llu, out %llu, members %u, "
		    "err \"%s\"", rc, backlen, (unsigned long long)st.in,
		    (unsigned long long)st.out, st.members, e.msg);
	free(back);
	free(gz);
	free(data);
}

static void
test_roundtrips(void)
{
	size_t sizes[] = { 0, 1, 32767, 32768, 65537, 3 * BLKMIN + 7 };
	size_t big[] = { 0, 1, BK_GZ_BLOCK_DEFAULT - 1, BK_GZ_BLOCK_DEFAULT,
	    BK_GZ_BLOCK_DEFAULT + 1, 3 * BK_GZ_BLOCK_DEFAULT + 7 };
	int levels[] = { 1, 6, 9 };
	size_t i, l;
	unsigned t;

	/* The smallest block: many blocks, every boundary. */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (l = 0; l < 3; l++)
			for (t = 1; t <= 3; t++)
				roundtrip(sizes[i], levels[l], t, BLKMIN);
	roundtrip(BLKMIN + 1, 6, 2, BLKMIN);
	roundtrip(2 * BLKMIN, 6, 3, BLKMIN);

	/* The default block. */
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		roundtrip(big[i], 6, 1, BK_GZ_BLOCK_DEFAULT);
		roundtrip(big[i], 6, 3, BK_GZ_BLOCK_DEFAULT);
	}
	roundtrip(3 * BK_GZ_BLOCK_DEFAULT + 7, 1, 2, BK_GZ_BLOCK_DEFAULT);
	roundtrip(3 * BK_GZ_BLOCK_DEFAULT + 7, 9, 2, BK_GZ_BLOCK_DEFAULT);

	/* More threads than blocks in flight, a long queue. */
	roundtrip(40 * BLKMIN + 3, 6, 8, BLKMIN);
	roundtrip(3 * 1024 * 1024 + 7, 6, 2, 1024 * 1024);
}

static void
test_levels(void)
{
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *data;
	size_t n = 1024 * 1024;
	off_t s1, s9;
	struct stat sb;

	data = gen_text(n);
	put_file(p_in, data, n);
	run(bk_gz_compress, p_in, p_gz, 1, 2, BK_GZ_BLOCK_DEFAULT, NULL, NULL,
	    &st, &e);
	stat(p_gz, &sb);
	s1 = sb.st_size;
	run(bk_gz_compress, p_in, p_gz, 9, 2, BK_GZ_BLOCK_DEFAULT, NULL, NULL,
	    &st, &e);
	stat(p_gz, &sb);
	s9 = sb.st_size;
	ok(s9 < s1 && s1 < (off_t)n / 2,
	    "level 9 output (%lld) is smaller than level 1's (%lld)",
	    (long long)s9, (long long)s1);
	free(data);
}

/*
 * Between blocks the output is brought to a byte boundary with empty
 * fixed-code blocks where that is shorter than a sync flush's empty stored
 * block (00 00 ff ff): only blocks that end an odd number of bits short of
 * a byte need one, so far fewer than one per boundary.  The output must
 * still be one stream zlib reads back.
 */
static void
test_boundaries(void)
{
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *data, *gz, *z;
	static const int levels[] = { 1, 6, 9 };
	size_t n = 200 * BLKMIN, gzlen, zlen, i, l, marks;
	int level, members, v;

	data = gen_text(n);
	put_file(p_in, data, n);
	for (l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		level = levels[l];
		run(bk_gz_compress, p_in, p_gz, level, 2, BLKMIN, NULL, NULL,
		    &st, &e);
		gz = get_file(p_gz, &gzlen);
		v = zlib_gunzip(gz, gzlen, &z, &zlen, &members);
		ok(v == 0 && members == 1 && zlen == n &&
		    memcmp(z, data, n) == 0,
		    "-%d, 200 blocks: zlib reads it back", level);
		for (marks = 0, i = 0; i + 4 <= gzlen; i++)
			if (memcmp(gz + i, "\0\0\377\377", 4) == 0)
				marks++;
		ok(marks < 150, "-%d, 200 blocks: %zu sync-flush markers, "
		    "fewer than 150", level, marks);
		free(z);
		free(gz);
	}
	free(data);
}

static void
test_header(void)
{
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *gz, *data;
	size_t gzlen;

	data = gen(1000, 1);
	put_file(p_in, data, 1000);
	run(bk_gz_compress, p_in, p_gz, 6, 1, BLKMIN, NULL, NULL, &st, &e);
	gz = get_file(p_gz, &gzlen);
	ok(gzlen >= 18 && gz[0] == 0x1f && gz[1] == 0x8b && gz[2] == 8 &&
	    (gz[3] & 0xe0) == 0, "the output starts with a gzip header");
	ok(gzlen >= 18 && gz[gzlen - 4] == (1000 & 0xff) &&
	    gz[gzlen - 3] == (1000 >> 8) && gz[gzlen - 2] == 0 &&
	    gz[gzlen - 1] == 0, "the trailer ends with ISIZE = 1000");
	{
		uLong crc = crc32(0, data, 1000);

		ok(gzlen >= 18 &&
		    gz[gzlen - 8] == (crc & 0xff) &&
		    gz[gzlen - 7] == ((crc >> 8) & 0xff) &&
		    gz[gzlen - 6] == ((crc >> 16) & 0xff) &&
		    gz[gzlen - 5] == ((crc >> 24) & 0xff),
		    "the trailer holds the CRC-32 of the input");
	}
	free(gz);
	free(data);
}

/* Decompress a buffer; returns rc, data in *out. */
static int
gunzip_buf(const unsigned char *gz, size_t n, unsigned char **out,
    size_t *outlen, struct bk_gz_stats *st, struct bk_err *e)
{
	int rc;

	put_file(p_gz, gz, n);
	rc = run(bk_gz_decompress, p_gz, p_back, 6, 1, BLKMIN, NULL, NULL, st,
	    e);
	*out = get_file(p_back, outlen);
	return rc;
}

static unsigned char *
bk_gzip(const unsigned char *data, size_t n, size_t *gzlen)
{
	struct bk_gz_stats st;
	struct bk_err e;

	put_file(p_in, data, n);
	if (run(bk_gz_compress, p_in, p_gz, 6, 2, BLKMIN, NULL, NULL, &st,
	    &e) != 0)
		diag("compress failed: %s", e.msg);
	return get_file(p_gz, gzlen);
}

static void
test_members(void)
{
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *a, *b, *ga, *gb, *g0, *cat, *want, *out;
	size_t la = 100000, lb = 50000, gla, glb, gl0, outlen, i;
	int rc;

	a = gen(la, 11);
	b = gen(lb, 12);
	ga = bk_gzip(a, la, &gla);
	gb = bk_gzip(b, lb, &glb);
	g0 = bk_gzip(a, 0, &gl0);

	cat = malloc(gla + glb + gl0);
	memcpy(cat, ga, gla);
	memcpy(cat + gla, gb, glb);
	want = malloc(la + lb);
	memcpy(want, a, la);
	memcpy(want + la, b, lb);
	rc = gunzip_buf(cat, gla + glb, &out, &outlen, &st, &e);
	if (!ok(rc == 0 && outlen == la + lb && memcmp(out, want, la + lb) ==
	    0, "two members decompress to the concatenation"))
		diag("  rc %d, %zu bytes, err \"%s\"", rc, outlen, e.msg);
	is_int(st.members, 2, "st.members == 2");
	ok(st.in == gla + glb && st.out == la + lb,
	    "stats count both members");
	free(out);

	/* An empty member first. */
	memcpy(cat, g0, gl0);
	memcpy(cat + gl0, gb, glb);
	rc = gunzip_buf(cat, gl0 + glb, &out, &outlen, &st, &e);
	ok(rc == 0 && outlen == lb && memcmp(out, b, lb) == 0 &&
	    st.members == 2, "an empty member then a full one");
	free(out);

	/* Fifty members of growing sizes: trailers at every alignment. */
	{
		size_t total = 0, gtotal = 0, gl;
		unsigned char *big = malloc(997 * 1225 + 1), *g;
		unsigned char *gcat = malloc(997 * 1225 * 11 / 10 + 50 * 1000);

		for (i = 0; i < 50; i++) {
			unsigned char *d = gen(i * 997, 100 + i);

			memcpy(big + total, d, i * 997);
			g = zlib_gzip(d, i * 997, (int)(i % 10), NULL, 0, &gl);
			memcpy(gcat + gtotal, g, gl);
			total += i * 997;
			gtotal += gl;
			free(d);
			free(g);
		}
		rc = gunzip_buf(gcat, gtotal, &out, &outlen, &st, &e);
		if (!ok(rc == 0 && outlen == total &&
		    memcmp(out, big, total) == 0 && st.members == 50,
		    "50 concatenated zlib members (levels 0-9)"))
			diag("  rc %d, %zu of %zu bytes, %u members, err "
			    "\"%s\"", rc, outlen, total, st.members, e.msg);
		free(out);
		free(big);
		free(gcat);
	}

	/* zlib output with every header field, and sync flushes. */
	{
		gz_header h;
		unsigned char extra[] = { 'A', 'B', 4, 0, 'x', 'y', 'z', 'w' };
		unsigned char *g;
		size_t gl;

		memset(&h, 0, sizeof(h));
		h.text = 1;
		h.time = 1763726400;
		h.os = 3;
		h.extra = extra;
		h.extra_len = sizeof(extra);
		h.name = (Bytef *)"backup.dump";
		h.comment = (Bytef *)"made by zlib";
		h.hcrc = 1;
		g = zlib_gzip(a, la, 9, &h, 0, &gl);
		rc = gunzip_buf(g, gl, &out, &outlen, &st, &e);
		if (!ok(rc == 0 && outlen == la && memcmp(out, a, la) == 0,
		    "a header with FEXTRA, FNAME, FCOMMENT and FHCRC"))
			diag("  rc %d, err \"%s\"", rc, e.msg);
		free(out);
		free(g);

		g = zlib_gzip(a, la, 6, NULL, 7000, &gl);
		rc = gunzip_buf(g, gl, &out, &outlen, &st, &e);
		ok(rc == 0 && outlen == la && memcmp(out, a, la) == 0,
		    "a stream with sync flushes (as pigz writes)");
		free(out);
		free(g);

		g = zlib_gzip(a, la, 0, NULL, 0, &gl);
		rc = gunzip_buf(g, gl, &out, &outlen, &st, &e);
		ok(rc == 0 && outlen == la && memcmp(out, a, la) == 0,
		    "stored blocks (level 0)");
		free(out);
		free(g);
	}

	/* Compressed with bk, read back by zlib as two members. */
	{
		unsigned char *z;
		size_t zl;
		int members, v;

		memcpy(cat, ga, gla);
		memcpy(cat + gla, gb, glb);
		v = zlib_gunzip(cat, gla + glb, &z, &zl, &members);
		ok(v == 0 && members == 2 && zl == la + lb &&
		    memcmp(z, want, zl) == 0,
		    "zlib reads concatenated bk members");
		free(z);
	}

	free(a);
	free(b);
	free(ga);
	free(gb);
	free(g0);
	free(cat);
	free(want);
}

/* A stream that must be refused as corrupt. */
static void
refused(const unsigned char *gz, size_t n, const char *what)
{
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *out;
	size_t outlen;
	int rc;

	rc = gunzip_buf(gz, n, &out, &outlen, &st, &e);
	if (!ok(rc == -1 && e.code == BK_EXIT_CHECK && e.msg[0] != '\0',
	    "decompress refuses %s", what))
		diag("  rc %d, code %d, err \"%s\"", rc, e.code, e.msg);
	else
		diag("  %s", e.msg);
	free(out);

	/* The same in test mode (no output). */
	put_file(p_gz, gz, n);
	rc = run(bk_gz_decompress, p_gz, NULL, 6, 1, BLKMIN, NULL, NULL, &st,
	    &e);
	ok(rc == -1 && e.code == BK_EXIT_CHECK,
	    "test mode refuses %s", what);
}

static void
test_corrupt(void)
{
	unsigned char *data, *gz, *bad;
	size_t n = 100000, gl;

	data = gen(n, 5);
	gz = zlib_gzip(data, n, 6, NULL, 0, &gl);
	bad = malloc(gl + 100);

	memcpy(bad, gz, gl);
	bad[gl - 8] ^= 0x01;
	refused(bad, gl, "a wrong CRC-32");

	memcpy(bad, gz, gl);
	bad[gl - 1] ^= 0x80;
	refused(bad, gl, "a wrong ISIZE");

	memcpy(bad, gz, gl);
	bad[gl / 2] ^= 0x10;
	refused(bad, gl, "a flipped byte in the deflate data");

	refused(gz, gl - 1, "a stream missing its last byte");
	refused(gz, gl - 8, "a stream missing its trailer");
	refused(gz, gl / 2, "a stream cut in half");
	refused(gz, 10, "a header alone");
	refused(gz, 5, "half a header");
	refused(gz, 1, "one byte");
	refused(gz, 0, "an empty input");

	memcpy(bad, gz, gl);
	memcpy(bad + gl, "garbage", 7);
	refused(bad, gl + 7, "trailing garbage");
	memcpy(bad, gz, gl);
	bad[gl] = 0;
	refused(bad, gl + 1, "a trailing NUL byte");
	memcpy(bad, gz, gl);
	bad[gl] = 0x1f;
	bad[gl + 1] = 0x8b;
	refused(bad, gl + 2, "the start of a second header");

	refused((const unsigned char *)"hello, this is not gzip\n", 24,
	    "plain text");

	memcpy(bad, gz, gl);
	bad[2] = 7;
	refused(bad, gl, "compression method 7");
	memcpy(bad, gz, gl);
	bad[3] |= 0x20;
	refused(bad, gl, "reserved header flags");

	free(bad);
	free(gz);
	free(data);
}

static void
test_testmode(void)
{
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *data, *gz;
	size_t n = 200000, gl;
	int rc;

	data = gen(n, 9);
	gz = bk_gzip(data, n, &gl);
	put_file(p_gz, gz, gl);
	rc = run(bk_gz_decompress, p_gz, NULL, 6, 1, BLKMIN, NULL, NULL, &st,
	    &e);
	if (!ok(rc == 0 && st.out == n && st.in == gl && st.members == 1,
	    "test mode (out -1) checks a good stream"))
		diag("  rc %d, out %llu, err \"%s\"", rc,
		    (unsigned long long)st.out, e.msg);
	free(gz);
	free(data);
}

static void
test_eof(void)
{
	struct eof_probe pr;
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *data, *gz, *z;
	size_t n = 5 * BLKMIN + 123, gl, zl;
	int rc, v, members;

	data = gen(n, 3);
	put_file(p_in, data, n);

	/* No callback: NONE. */
	rc = run(bk_gz_compress, p_in, p_gz, 6, 2, BLKMIN, NULL, NULL, &st,
	    &e);
	ok(rc == 0 && st.upstream == BK_SEAL_NONE,
	    "no at_eof: st.upstream is NONE");

	/* OK */
	memset(&pr, 0, sizeof(pr));
	pr.state = BK_SEAL_OK;
	rc = run(bk_gz_compress, p_in, p_gz, 6, 2, BLKMIN, &pr, NULL, &st, &e);
	gz = get_file(p_gz, &gl);
	ok(rc == 0 && st.upstream == BK_SEAL_OK, "at_eof OK: success");
	is_int(pr.calls, 1, "at_eof is called once");
	is_int(pr.in_pos, (long long)n, "at_eof is called after all input");
	ok(pr.out_size >= 0 && pr.out_size + 8 <= (off_t)gl,
	    "at_eof is called before the trailer is written (%lld of %zu)",
	    (long long)pr.out_size, gl);
	free(gz);

	/* UNSEALED: a normal, complete stream. */
	memset(&pr, 0, sizeof(pr));
	pr.state = BK_SEAL_UNSEALED;
	rc = run(bk_gz_compress, p_in, p_gz, 6, 2, BLKMIN, &pr, NULL, &st, &e);
	gz = get_file(p_gz, &gl);
	ok(rc == 0 && st.upstream == BK_SEAL_UNSEALED,
	    "at_eof UNSEALED: success, st.upstream UNSEALED");
	v = zlib_gunzip(gz, gl, &z, &zl, &members);
	ok(v == 0 && zl == n && memcmp(z, data, n) == 0,
	    "at_eof UNSEALED: a complete stream");
	free(z);
	free(gz);

	/* FAILED: no final block, no trailer. */
	memset(&pr, 0, sizeof(pr));
	pr.state = BK_SEAL_FAILED;
	rc = run(bk_gz_compress, p_in, p_gz, 6, 2, BLKMIN, &pr, NULL, &st, &e);
	gz = get_file(p_gz, &gl);
	is_int(rc, -1, "at_eof FAILED: compress fails");
	is_int(e.code, BK_EXIT_UPSTREAM, "at_eof FAILED: BK_EXIT_UPSTREAM");
	ok(e.msg[0] != '\0', "at_eof FAILED: a message (\"%s\")", e.msg);
	ok(st.upstream == BK_SEAL_FAILED, "at_eof FAILED: st.upstream FAILED");
	v = zlib_gunzip(gz, gl, &z, &zl, &members);
	ok(v == 1 && members == 0,
	    "at_eof FAILED: zlib finds the stream unfinished (verdict %d)", v);
	ok(zl <= n && memcmp(z, data, zl) == 0,
	    "at_eof FAILED: what was written is a prefix of the input");
	free(z);
	{
		struct bk_gz_stats st2;
		struct bk_err e2;
		unsigned char *out;
		size_t ol;

		rc = gunzip_buf(gz, gl, &out, &ol, &st2, &e2);
		ok(rc == -1 && e2.code == BK_EXIT_CHECK,
		    "at_eof FAILED: bk_gz_decompress refuses the output");
		free(out);
	}
	free(gz);

	/* FAILED on an empty input: still no complete stream. */
	put_file(p_in, data, 0);
	memset(&pr, 0, sizeof(pr));
	pr.state = BK_SEAL_FAILED;
	rc = run(bk_gz_compress, p_in, p_gz, 6, 1, BLKMIN, &pr, NULL, &st, &e);
	gz = get_file(p_gz, &gl);
	ok(rc == -1 && e.code == BK_EXIT_UPSTREAM,
	    "at_eof FAILED on empty input: BK_EXIT_UPSTREAM");
	v = zlib_gunzip(gz, gl, &z, &zl, &members);
	ok(v != 0, "at_eof FAILED on empty input: no complete stream");
	free(z);
	free(gz);
	put_file(p_in, data, n);

	/* The callback itself fails. */
	memset(&pr, 0, sizeof(pr));
	pr.fail = 1;
	rc = run(bk_gz_compress, p_in, p_gz, 6, 2, BLKMIN, &pr, NULL, &st, &e);
	ok(rc == -1 && strstr(e.msg, "boom") != NULL,
	    "at_eof error: compress fails with its message (\"%s\")", e.msg);

	/* Decompression. */
	gz = bk_gzip(data, n, &gl);
	{
		unsigned char *two = malloc(2 * gl);

		memcpy(two, gz, gl);
		memcpy(two + gl, gz, gl);
		put_file(p_gz, two, 2 * gl);
		free(two);
	}
	memset(&pr, 0, sizeof(pr));
	pr.state = BK_SEAL_UNSEALED;
	rc = run(bk_gz_decompress, p_gz, p_back, 6, 1, BLKMIN, &pr, NULL, &st,
	    &e);
	ok(rc == 0 && st.upstream == BK_SEAL_UNSEALED && st.members == 2,
	    "decompress, at_eof UNSEALED: success");
	is_int(pr.calls, 1, "decompress: at_eof once for two members");
	is_int(pr.in_pos, (long long)(2 * gl),
	    "decompress: at_eof after all input");

	memset(&pr, 0, sizeof(pr));
	pr.state = BK_SEAL_OK;
	rc = run(bk_gz_decompress, p_gz, NULL, 6, 1, BLKMIN, &pr, NULL, &st,
	    &e);
	ok(rc == 0 && st.upstream == BK_SEAL_OK,
	    "test mode, at_eof OK: success");

	memset(&pr, 0, sizeof(pr));
	pr.state = BK_SEAL_FAILED;
	rc = run(bk_gz_decompress, p_gz, p_back, 6, 1, BLKMIN, &pr, NULL, &st,
	    &e);
	ok(rc == -1 && e.code == BK_EXIT_UPSTREAM,
	    "decompress, at_eof FAILED: BK_EXIT_UPSTREAM (rc %d, code %d)",
	    rc, e.code);
	ok(st.upstream == BK_SEAL_FAILED, "decompress: st.upstream FAILED");

	memset(&pr, 0, sizeof(pr));
	pr.state = BK_SEAL_FAILED;
	rc = run(bk_gz_decompress, p_gz, NULL, 6, 1, BLKMIN, &pr, NULL, &st,
	    &e);
	ok(rc == -1 && e.code == BK_EXIT_UPSTREAM,
	    "test mode, at_eof FAILED: BK_EXIT_UPSTREAM");
	free(gz);
	free(data);
}

static void
test_progress(void)
{
	struct bk_progress p;
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *data;
	size_t n = 300000;
	struct stat sb;
	int fd;

	data = gen(n, 21);
	put_file(p_in, data, n);
	fd = open("/dev/null", O_WRONLY);
	bk_progress_init(&p, fd, BK_PROGRESS_ALWAYS, n);
	run(bk_gz_compress, p_in, p_gz, 6, 2, BLKMIN, NULL, &p, &st, &e);
	bk_progress_end(&p);
	is_int((long long)p.done, (long long)n,
	    "compress counts input bytes on the meter");

	stat(p_gz, &sb);
	bk_progress_init(&p, fd, BK_PROGRESS_ALWAYS, 0);
	run(bk_gz_decompress, p_gz, p_back, 6, 1, BLKMIN, NULL, &p, &st, &e);
	bk_progress_end(&p);
	is_int((long long)p.done, (long long)sb.st_size,
	    "decompress counts input bytes on the meter");
	close(fd);
	free(data);
}

static void
test_errors(void)
{
	struct bk_gz_opts o;
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *data, *gz;
	size_t n = 300000, gl;
	int rc, p[2];

	bk_gz_opts_init(&o);
	ok(o.level == 6 && o.block == BK_GZ_BLOCK_DEFAULT && o.in == 0 &&
	    o.out == 1 && o.at_eof == NULL && o.progress == NULL,
	    "opts_init: level 6, default block, fds 0 and 1, no callbacks");
	is_int(o.threads, bk_cli_ncpu(), "opts_init: threads = CPUs");

	data = gen(n, 77);
	put_file(p_in, data, n);
	gz = bk_gzip(data, n, &gl);
	put_file(p_gz, gz, gl);

	/* A full disk. */
	bk_gz_opts_init(&o);
	o.threads = 2;
	o.block = BLKMIN;
	o.in = open(p_in, O_RDONLY);
	o.out = open("/dev/full", O_WRONLY);
	bk_err_clear(&e);
	rc = bk_gz_compress(&o, &st, &e);
	ok(rc == -1 && e.code == BK_EXIT_RUNTIME && e.sys == ENOSPC,
	    "compress to /dev/full: BK_EXIT_RUNTIME, ENOSPC (\"%s\")", e.msg);
	close(o.in);
	o.in = open(p_gz, O_RDONLY);
	bk_err_clear(&e);
	rc = bk_gz_decompress(&o, &st, &e);
	ok(rc == -1 && e.code == BK_EXIT_RUNTIME && e.sys == ENOSPC,
	    "decompress to /dev/full: BK_EXIT_RUNTIME, ENOSPC (\"%s\")",
	    e.msg);
	close(o.in);
	close(o.out);

	/* The reader went away. */
	if (pipe(p) == -1)
		abort();
	close(p[0]);
	o.in = open(p_in, O_RDONLY);
	o.out = p[1];
	bk_err_clear(&e);
	rc = bk_gz_compress(&o, &st, &e);
	ok(rc == -1 && e.sys == EPIPE, "compress to a closed pipe: EPIPE");
	close(o.in);
	close(p[1]);

	/* Unreadable input. */
	o.in = open(".", O_RDONLY | O_DIRECTORY);
	o.out = open(p_back, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bk_err_clear(&e);
	rc = bk_gz_compress(&o, &st, &e);
	ok(rc == -1 && e.code == BK_EXIT_RUNTIME,
	    "compress from an unreadable fd: BK_EXIT_RUNTIME");
	bk_err_clear(&e);
	rc = bk_gz_decompress(&o, &st, &e);
	ok(rc == -1 && e.code == BK_EXIT_RUNTIME,
	    "decompress from an unreadable fd: BK_EXIT_RUNTIME");
	close(o.in);
	close(o.out);

	free(gz);
	free(data);
}

/* Feed buf into a pipe from a child in irregular small writes. */
static pid_t
feed(int p[2], const unsigned char *buf, size_t n, int tiny)
{
	uint64_t s = 99;
	size_t off, k;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) != 0)
		return pid;
	close(p[0]);
	for (off = 0; off < n; off += k) {
		k = off < 64 && tiny ? 1 : 1 + rnd(&s) % 5000;
		if (k > n - off)
			k = n - off;
		if (write(p[1], buf + off, k) != (ssize_t)k)
			_exit(1);
		if (off < 64 && tiny)
			usleep(1000);
	}
	_exit(0);
}

static void
test_pipes(void)
{
	struct bk_gz_opts o;
	struct bk_gz_stats st;
	struct bk_err e;
	unsigned char *data, *gz, *back, *z;
	size_t n = 9 * BLKMIN + 1234, gl, bl, zl;
	int p[2], rc, members, status;
	pid_t pid;

	data = gen(n, 31);

	/* Compress from a pipe with short reads. */
	if (pipe(p) == -1)
		abort();
	pid = feed(p, data, n, 0);
	close(p[1]);
	bk_gz_opts_init(&o);
	o.threads = 3;
	o.block = BLKMIN;
	o.in = p[0];
	o.out = open(p_gz, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bk_err_clear(&e);
	rc = bk_gz_compress(&o, &st, &e);
	close(o.out);
	close(p[0]);
	waitpid(pid, &status, 0);
	gz = get_file(p_gz, &gl);
	ok(rc == 0 && st.in == n, "compress from a pipe with short reads");
	rc = zlib_gunzip(gz, gl, &z, &zl, &members);
	ok(rc == 0 && zl == n && memcmp(z, data, n) == 0,
	    "compress from a pipe: zlib reads it back");
	free(z);

	/* Decompress from a pipe, the header arriving byte by byte. */
	if (pipe(p) == -1)
		abort();
	{
		unsigned char *two = malloc(2 * gl);

		memcpy(two, gz, gl);
		memcpy(two + gl, gz, gl);
		pid = feed(p, two, 2 * gl, 1);
		free(two);
	}
	close(p[1]);
	o.in = p[0];
	o.out = open(p_back, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bk_err_clear(&e);
	rc = bk_gz_decompress(&o, &st, &e);
	close(o.out);
	close(p[0]);
	waitpid(pid, &status, 0);
	back = get_file(p_back, &bl);
	ok(rc == 0 && bl == 2 * n && memcmp(back, data, n) == 0 &&
	    memcmp(back + n, data, n) == 0 && st.members == 2,
	    "decompress two members from a pipe in small pieces");
	free(back);
	free(gz);
	free(data);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(p_in, sizeof(p_in), "%s/in", tap_tmpdir());
	snprintf(p_gz, sizeof(p_gz), "%s/in.gz", tap_tmpdir());
	snprintf(p_back, sizeof(p_back), "%s/back", tap_tmpdir());

	test_header();
	test_roundtrips();
	test_levels();
	test_boundaries();
	test_members();
	test_corrupt();
	test_testmode();
	test_eof();
	test_progress();
	test_errors();
	test_pipes();
	return done_testing();
}
