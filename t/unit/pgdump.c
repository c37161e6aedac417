/* pgdump.c - unit tests for lib/pgdump: the streaming checker of pg_dump's
 * custom archive format, on real dumps (t/fixtures/pgdump, see its README):
 * whole, byte by byte and in random pieces; every truncation; a bit flip
 * at every offset, classified by an independent parse of the fixture;
 * trailing bytes; versions 1.12 to 1.16 (rewritten from the 1.14
 * fixture); and the errors a broken archive must produce. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgdump.h"
#include "tap.h"

#define MAXFILE		(256 * 1024)

/*
 * Byte classes, from a parse of the fixture (struct map below):
 *   S  structure: lengths, counts, flags, ids of entries with data, block
 *      headers, the data offsets, "false", NULL markers.  A flip must fail.
 *   z  compressed data (zlib header, deflate data, adler32).  Must fail.
 *   p  the last deflate byte of a zlib stream: it may end in padding
 *      bits that inflate ignores, so a flip there may pass.
 *   s  soft: integers only range-checked (creation time, compression
 *      level, dump ids and sections of entries without data, large
 *      object OIDs) and strings whose characters are checked (OIDs,
 *      dependencies, descriptions): a flip fails only when it leaves
 *      the range or character set, so it may pass.
 *   t  free text of the TOC and header (tag, definition, names...): a
 *      flip cannot be detected; it must pass.
 *   d  uncompressed table data (COPY text): a flip must pass, unless it
 *      makes a NUL byte, which COPY text never holds: that must fail.
 *   l  uncompressed large object data: any bytes; a flip must pass.
 */
#define C_STRUCT	'S'
#define C_ZDATA		'z'
#define C_ZPAD		'p'
#define C_SOFT		's'
#define C_TEXT		't'
#define C_DATA		'd'
#define C_LODATA	'l'
#define CLASSES		"Szpstdl"

struct fixture {
	const char	*name;
	unsigned char	*buf;
	size_t		 len;
};

/* What a parse of a fixture found, and its byte classes. */
struct map {
	const unsigned char *d;
	size_t		 n, i;
	int		 bad;		/* the parse failed */
	char		*cls;		/* len bytes, or NULL */
	unsigned char	*out;		/* a rewrite into another version */
	size_t		 outlen;
	int		 to_vmin;	/* 0: no rewrite */
	int		 vmin, gzip;
	size_t		 dbname_len_at;	/* offset of the dbname length */
	size_t		 defn_len_at;	/* of the first TOC definition length */
	size_t		 chunk_len_at;	/* of the first chunk length */
	size_t		 nblk;
	size_t		 blk_at[32];	/* where each data block begins */
	int32_t		 blk_id[32];
	int32_t		 nodata_id;	/* a dump id without data */
	size_t		 nodata_at;	/* ... where it is */
	size_t		 data_at;	/* the first byte of table data */
	uint64_t	 tocs;
	uint64_t	 posset;	/* entries whose offset is set */
	uint64_t	 payload;	/* raw table data bytes */
};

static char fixdir[1024];

static void
load(struct fixture *f, const char *name)
{
	char path[1200];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", fixdir, name);
	if ((fp = fopen(path, "rb")) == NULL) {
		diag("cannot open %s", path);
		exit(2);
	}
	f->name = name;
	f->buf = malloc(MAXFILE);
	f->len = fread(f->buf, 1, MAXFILE, fp);
	fclose(fp);
	if (f->len == 0 || f->len == MAXFILE) {
		diag("%s: empty or too large", path);
		exit(2);
	}
}

/* --- an independent, whole-buffer parse of a custom archive ----------- */

/* Take k bytes of class c (copied to the rewrite); NULL past the end. */
static const unsigned char *
take(struct map *m, size_t k, char c)
{
	const unsigned char *p = m->d + m->i;

	if (m->bad || m->i + k > m->n) {
		m->bad = 1;
		return NULL;
	}
	if (m->cls != NULL)
		memset(m->cls + m->i, c, k);
	if (m->to_vmin) {
		memcpy(m->out + m->outlen, p, k);
		m->outlen += k;
	}
	m->i += k;
	return p;
}

/* Emit bytes into the rewrite only. */
static void
emit(struct map *m, const void *p, size_t k)
{
	if (m->to_vmin) {
		memcpy(m->out + m->outlen, p, k);
		m->outlen += k;
	}
}

/* An int (4 bytes): classes of the sign, the low and the other bytes. */
static int64_t
rd_int(struct map *m, char csign, char clow, char chigh)
{
	const unsigned char *p;
	int64_t v;

	if ((p = take(m, 1, csign)) == NULL || take(m, 1, clow) == NULL ||
	    take(m, 3, chigh) == NULL)
		return 0;
	v = (int64_t)p[1] | (int64_t)p[2] << 8 | (int64_t)p[3] << 16 |
	    (int64_t)p[4] << 24;
	return p[0] ? -v : v;
}

/* A string: its length (structure) and body of class c; -1 for NULL. */
static int64_t
rd_str(struct map *m, char c, size_t *at, const unsigned char **body)
{
	int64_t l;

	if (at != NULL)
		*at = m->i;
	l = rd_int(m, C_STRUCT, C_STRUCT, C_STRUCT);
	if (l > 0 && !m->bad) {
		const unsigned char *p = take(m, (size_t)l, c);

		if (body != NULL)
			*body = p;
	}
	return l;
}

/* Chunks of one data block or large object, ended by a zero length. */
static void
rd_chunks(struct map *m, int lo)
{
	size_t last = 0;
	int64_t l;

	for (;;) {
		if (m->chunk_len_at == 0)
			m->chunk_len_at = m->i;
		l = rd_int(m, C_STRUCT, C_STRUCT, C_STRUCT);
		if (m->bad || l <= 0)
			break;
		if (!lo && !m->gzip && m->data_at == 0)
			m->data_at = m->i;
		take(m, (size_t)l, m->gzip ? C_ZDATA : lo ? C_LODATA : C_DATA);
		if (!m->gzip && !lo)
			m->payload += (uint64_t)l;
		last = m->i;
	}
	/* zlib: the byte before the adler32 trailer may hold padding bits */
	if (m->gzip && last >= 5 && m->cls != NULL &&
	    m->cls[last - 5] == C_ZDATA)
		m->cls[last - 5] = C_ZPAD;
}

/*
 * Parse m->d (m->n bytes), filling m->cls and the findings; with
 * m->to_vmin, also write the archive as version 1.to_vmin into m->out.
 * Returns 0, or -1 if the fixture does not parse.
 */
static int
parse(struct map *m)
{
	static const unsigned char relkind[5] = { 0, 0, 0, 0, 0 };
	const unsigned char *p, *desc;
	uint64_t k, ntoc;
	int64_t level, l;
	int i, dumper, blobs[64];
	int32_t ids[64];
	size_t nd = 0, id_at, sec_at, start_vmin;

	m->i = 0;
	take(m, 5, C_STRUCT);				/* PGDMP */
	start_vmin = m->i;
	p = take(m, 6, C_STRUCT);		/* version, sizes, format */
	if (p == NULL || p[0] != 1 || p[3] != 4 || p[4] != 8)
		return -1;
	m->vmin = p[1];
	if (m->to_vmin)
		m->out[start_vmin + 1] = (unsigned char)m->to_vmin;
	if (m->vmin >= 15) {
		p = take(m, 1, C_SOFT);
		m->gzip = p != NULL && *p == 1;
	} else {
		/* the level's low byte: 6 may become 4 or 7 */
		size_t o = m->outlen;

		level = rd_int(m, C_STRUCT, C_SOFT, C_STRUCT);
		m->gzip = level != 0;
		if (m->to_vmin >= 15) {
			unsigned char alg = m->gzip;

			m->outlen = o;
			emit(m, &alg, 1);
		}
	}
	for (i = 0; i < 7; i++)
		rd_int(m, C_STRUCT, C_SOFT, C_STRUCT);	/* creation time */
	rd_str(m, C_TEXT, &m->dbname_len_at, NULL);
	rd_str(m, C_TEXT, NULL, NULL);
	rd_str(m, C_TEXT, NULL, NULL);
	ntoc = (uint64_t)rd_int(m, C_STRUCT, C_STRUCT, C_STRUCT);
	m->tocs = ntoc;
	for (k = 0; k < ntoc && !m->bad; k++) {
		int32_t id;

		id_at = m->i;
		id = (int32_t)rd_int(m, C_STRUCT, C_SOFT, C_SOFT);
		dumper = (int)rd_int(m, C_STRUCT, C_STRUCT, C_STRUCT);
		rd_str(m, C_SOFT, NULL, NULL);		/* tableoid */
		rd_str(m, C_SOFT, NULL, NULL);		/* oid */
		rd_str(m, C_TEXT, NULL, NULL);		/* tag */
		desc = NULL;
		l = rd_str(m, C_SOFT, NULL, &desc);	/* desc */
		sec_at = m->i;
		rd_int(m, C_STRUCT, C_SOFT, C_STRUCT);	/* section */
		if (m->defn_len_at == 0)
			rd_str(m, C_TEXT, &m->defn_len_at, NULL);
		else
			rd_str(m, C_TEXT, NULL, NULL);
		for (i = 0; i < 4; i++)	/* drop, copy, namespace, tablespace */
			rd_str(m, C_TEXT, NULL, NULL);
		if (m->vmin >= 14) {
			size_t o = m->outlen;

			rd_str(m, C_TEXT, NULL, NULL);	/* tableam */
			if (m->to_vmin && m->to_vmin < 14)
				m->outlen = o;
		}
		if (m->vmin >= 16)
			rd_int(m, C_STRUCT, C_SOFT, C_STRUCT);
		else if (m->to_vmin >= 16)
			emit(m, relkind, sizeof(relkind));
		rd_str(m, C_TEXT, NULL, NULL);		/* owner */
		rd_str(m, C_STRUCT, NULL, NULL);	/* "false" */
		while (!m->bad && rd_str(m, C_SOFT, NULL, NULL) >= 0)
			;				/* dependencies */
		p = take(m, 9, C_STRUCT);		/* data state, offset */
		if (m->bad)
			break;
		if (p[0] == 2)
			m->posset++;
		if (dumper) {
			/* a data entry: its id and section are checked */
			if (m->cls != NULL) {
				memset(m->cls + id_at + 1, C_STRUCT, 4);
				m->cls[sec_at + 1] = C_STRUCT;
			}
			if (nd < 64) {
				blobs[nd] = l == 5 && memcmp(desc, "BLOBS",
				    5) == 0;
				ids[nd++] = id;
			}
		} else if (m->nodata_id == 0) {
			m->nodata_id = id;
			m->nodata_at = id_at;
		}
	}
	for (k = 0; k < nd && !m->bad; k++) {
		if (m->nblk < 32) {
			m->blk_at[m->nblk] = m->i;
			m->blk_id[m->nblk++] = ids[k];
		}
		take(m, 1, C_STRUCT);			/* type */
		rd_int(m, C_STRUCT, C_STRUCT, C_STRUCT);	/* dump id */
		if (!blobs[k]) {
			rd_chunks(m, 0);
			continue;
		}
		/* large objects: OID (any non-zero value), chunks; OID 0 */
		while (!m->bad) {
			size_t at = m->i;

			if (rd_int(m, C_SOFT, C_SOFT, C_SOFT) == 0) {
				if (m->cls != NULL)
					memset(m->cls + at, C_STRUCT, 5);
				break;
			}
			rd_chunks(m, 1);
		}
	}
	return m->bad || m->i != m->n ? -1 : 0;
}

/* --- running the checker ---------------------------------------------- */

static uint64_t rng = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * Check buf in pieces: piece 0 = all at once, 1 = byte by byte, -1 =
 * random sizes.  Returns 0 with *st, or -1 with err.
 */
static int
check(const unsigned char *buf, size_t len, int piece,
    struct bk_pgdump_stats *st, struct bk_err *err)
{
	struct bk_pgdump c;
	size_t off, k;
	int rc = 0;

	if (bk_pgdump_init(&c, err) < 0)
		return -1;
	for (off = 0; off < len && rc == 0; off += k) {
		if (piece == 0)
			k = len;
		else if (piece == 1)
			k = 1;
		else
			k = rnd() % 4 == 0 ? 1 + rnd() % 4096 : 1 + rnd() % 64;
		if (k > len - off)
			k = len - off;
		rc = bk_pgdump_feed(&c, buf + off, k, err);
	}
	if (rc == 0)
		rc = bk_pgdump_end(&c, err);
	if (rc == 0 && st != NULL)
		*st = c.st;
	bk_pgdump_free(&c);
	return rc;
}

/* Does checking buf fail with a message containing want (and "offset")? */
static void
fails(const unsigned char *buf, size_t len, const char *want,
    const char *what)
{
	struct bk_err err;
	int rc;

	bk_err_clear(&err);
	rc = check(buf, len, -1, NULL, &err);
	if (!ok(rc < 0 && err.code == BK_EXIT_CHECK &&
	    strstr(err.msg, want) != NULL &&
	    strncmp(err.msg, "custom archive: offset ", 23) == 0,
	    "%s: %s", what, err.msg))
		diag("wanted \"%s\"", want);
}

static int
same_stats(const struct bk_pgdump_stats *a, const struct bk_pgdump_stats *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* --- rewriting: the chunks of table data gathered ------------------------ */

struct obuf {
	unsigned char	*d;
	size_t		 n;
	int		 refuse;	/* fail once n would pass this */
};

static int
out_fn(void *arg, const void *buf, size_t n, struct bk_err *err)
{
	struct obuf *o = arg;

	if (o->refuse > 0 && o->n + n > (size_t)o->refuse)
		return bk_err_set(err, BK_EXIT_RUNTIME, "output: refused");
	memcpy(o->d + o->n, buf, n);
	o->n += n;
	return 0;
}

/* Rewrite buf (in pieces as in check()) into o; returns feed's result. */
static int
rewrite(const unsigned char *buf, size_t len, int piece, struct obuf *o,
    uint64_t *held, struct bk_err *err)
{
	struct bk_pgdump c;
	size_t off, k;
	int rc;

	o->n = 0;
	if (bk_pgdump_init(&c, err) < 0 ||
	    bk_pgdump_rechunk(&c, out_fn, o, err) < 0)
		return -1;
	for (rc = 0, off = 0; off < len && rc == 0; off += k) {
		k = piece == 0 ? len : piece == 1 ? 1 :
		    rnd() % 4 == 0 ? 1 + rnd() % 70000 : 1 + rnd() % 64;
		if (k > len - off)
			k = len - off;
		rc = bk_pgdump_feed(&c, buf + off, k, err);
	}
	if (rc == 0)
		rc = bk_pgdump_end(&c, err);
	if (held != NULL)
		*held = c.held;
	bk_pgdump_free(&c);
	return rc;
}

static void
test_rechunk(struct fixture *f, const struct bk_pgdump_stats *want,
    int changes)
{
	struct bk_pgdump_stats got;
	struct obuf o, o1, o2;
	struct bk_err err;
	uint64_t held;
	int rc;

	o.d = malloc(MAXFILE);
	o1.d = malloc(MAXFILE);
	o2.d = malloc(MAXFILE);
	o.refuse = o1.refuse = o2.refuse = 0;
	bk_err_clear(&err);
	rc = rewrite(f->buf, f->len, -1, &o, &held, &err);
	ok(rc == 0, "%s: rewritten in random pieces%s%s", f->name,
	    rc ? ": " : "", rc ? err.msg : "");
	if (!changes) {
		ok(o.n == f->len && memcmp(o.d, f->buf, o.n) == 0 &&
		    held == 0, "%s: passed on unchanged", f->name);
	} else {
		ok(o.n < f->len, "%s: the rewrite is shorter (%zu < %zu)",
		    f->name, o.n, f->len);
		rc = check(o.d, o.n, -1, &got, &err);
		ok(rc == 0, "%s: the rewrite is a valid archive%s%s", f->name,
		    rc ? ": " : "", rc ? err.msg : "");
		ok(got.table_bytes == want->table_bytes &&
		    got.lo_bytes == want->lo_bytes &&
		    got.data_blocks == want->data_blocks &&
		    got.large_objects == want->large_objects &&
		    got.toc_entries == want->toc_entries,
		    "%s: same TOC, blocks, table and large object bytes",
		    f->name);
		ok(memcmp(o.d, f->buf, 64) == 0,
		    "%s: the header is passed on as it was", f->name);
	}
	/* whole or byte by byte, the same rewrite; and a fixed point */
	rewrite(f->buf, f->len, 0, &o1, NULL, &err);
	rewrite(f->buf, f->len, 1, &o2, NULL, &err);
	ok(o1.n == o.n && o2.n == o.n && memcmp(o1.d, o.d, o.n) == 0 &&
	    memcmp(o2.d, o.d, o.n) == 0, "%s: the same whatever the pieces",
	    f->name);
	rewrite(o.d, o.n, -1, &o1, NULL, &err);
	ok(o1.n == o.n && memcmp(o1.d, o.d, o.n) == 0,
	    "%s: rewriting the rewrite changes nothing", f->name);
	/* an output that fails stops the feeding */
	o1.refuse = (int)(f->len / 2);
	bk_err_clear(&err);
	rc = rewrite(f->buf, f->len, -1, &o1, NULL, &err);
	ok(rc < 0 && strstr(err.msg, "refused") != NULL,
	    "%s: a failing output fails the feed: %s", f->name, err.msg);
	free(o.d);
	free(o1.d);
	free(o2.d);
}

/* A header the checker does not know: nothing was held back, so what was
 * consumed was passed on, and a caller can go on copying. */
static void
test_rechunk_unknown(struct fixture *f)
{
	struct obuf o;
	struct bk_err err;
	uint64_t held = 1;
	unsigned char *b = malloc(f->len);
	int rc;

	memcpy(b, f->buf, f->len);
	b[6] = 99;		/* archive version 1.99 */
	o.d = malloc(MAXFILE);
	o.refuse = 0;
	rc = rewrite(b, f->len, 0, &o, &held, &err);
	ok(rc < 0 && held == 0 && o.n <= f->len &&
	    memcmp(o.d, b, o.n) == 0,
	    "unknown version: fails with nothing held back (%s)", err.msg);
	free(o.d);
	free(b);
}

/* --- the tests -------------------------------------------------------- */

/* Each fixture passes whole, byte by byte and in random pieces. */
static void
test_pass(struct fixture *f, struct map *m, struct bk_pgdump_stats *st,
    uint64_t toc, int gzip)
{
	struct bk_pgdump_stats one, rnd1;
	struct bk_err err;
	int i, same = 1;

	if (!ok(check(f->buf, f->len, 0, st, &err) == 0, "%s passes",
	    f->name)) {
		diag("%s", err.msg);
		return;
	}
	ok(check(f->buf, f->len, 1, &one, &err) == 0 && same_stats(st, &one),
	    "%s: byte by byte, the same result", f->name);
	for (i = 0; i < 20; i++)
		if (check(f->buf, f->len, -1, &rnd1, &err) != 0 ||
		    !same_stats(st, &rnd1))
			same = 0;
	ok(same, "%s: 20 random piecings, the same result", f->name);

	ok(st->vmaj == 1 && st->vmin == 14 && st->vrev == 0 &&
	    st->intsize == 4 && st->offsize == 8, "%s: version %u.%u.%u, "
	    "int %u, offset %u", f->name, st->vmaj, st->vmin, st->vrev,
	    st->intsize, st->offsize);
	is_str(st->dbname, "fx", "%s: dbname", f->name);
	ok(strncmp(st->server_version, "15.", 3) == 0 &&
	    strncmp(st->pgdump_version, "15.", 3) == 0,
	    "%s: versions %s / %s", f->name, st->server_version,
	    st->pgdump_version);
	/* pg_restore -l: "Archive created at 2026-11-22 18:46:03 UTC" */
	is_str(st->created, "2026-11-22 18:46:03", "%s: creation time",
	    f->name);
	/* pg_restore -l FILE says "TOC Entries: 22" (15 for schema.dump) */
	is_int(st->toc_entries, toc, "%s: TOC entries as pg_restore -l",
	    f->name);
	is_int(st->toc_entries, m->tocs, "%s: ... and as our parse",
	    f->name);
	is_int(st->bytes, f->len, "%s: all bytes read", f->name);
	if (gzip)
		ok(st->compression == BK_PGDUMP_COMP_GZIP && st->level == 6 &&
		    st->data_checked, "%s: gzip level 6, checked", f->name);
	else
		ok(st->compression == BK_PGDUMP_COMP_NONE && st->level == 0 &&
		    st->data_checked, "%s: no compression", f->name);
	if (toc == 15) {
		ok(st->data_expected == 0 && st->data_blocks == 0 &&
		    st->large_objects == 0 && st->table_bytes == 0,
		    "%s: no data", f->name);
		return;
	}
	/* TABLE DATA empty, item, note and BLOBS (pg_restore -l) */
	ok(st->data_expected == 4 && st->data_blocks == 4,
	    "%s: 4 data blocks of 4", f->name);
	is_int(st->large_objects, 1, "%s: one large object", f->name);
	/* repeat('large object ', 100) */
	is_int(st->lo_bytes, 1300, "%s: large object bytes", f->name);
}

/* Every prefix of the archive fails, at its end. */
static void
test_truncations(struct fixture *f)
{
	struct bk_err err;
	char want[64];
	size_t k, bad = 0;

	for (k = 0; k < f->len; k++) {
		snprintf(want, sizeof(want), "offset %zu:", k);
		if (check(f->buf, k, 0, NULL, &err) == 0 ||
		    err.code != BK_EXIT_CHECK || strstr(err.msg, want) ==
		    NULL) {
			if (bad++ < 3)
				diag("prefix of %zu bytes: %s", k, err.msg);
		}
	}
	ok(bad == 0, "%s: all %zu truncations fail at their offset",
	    f->name, f->len);
}

/*
 * A bit flip at every offset (bit 0-7 in turn), and the whole byte
 * inverted at every 37th: structure and compressed data must fail, text
 * and raw data must pass; soft bytes are counted.
 */
static void
test_flips(struct fixture *f, const struct map *m)
{
	unsigned char *b = malloc(f->len);
	size_t n[256], nfail[256], i, bad = 0, badpass = 0;
	struct bk_err err;
	const char *c;
	char line[256];
	int pass, x, nul;

	memset(n, 0, sizeof(n));
	memset(nfail, 0, sizeof(nfail));
	memcpy(b, f->buf, f->len);
	for (i = 0; i < f->len; i++) {
		unsigned char k = (unsigned char)m->cls[i];

		for (x = 0; x < 9; x++) {
			unsigned char mask = x == 8 ? 0xff : 1U << x;

			/* all 8 bits of structure; elsewhere one */
			if (x < 8 && x != (int)(i % 8) && k != C_STRUCT &&
			    k != C_ZDATA)
				continue;
			/* the whole byte inverted at every 37th offset */
			if (x == 8 && i % 37 != 0)
				continue;
			b[i] ^= mask;
			pass = check(b, f->len, i % 5 == 0 ? -1 : 0, NULL,
			    &err) == 0;
			b[i] ^= mask;
			n[k]++;
			nfail[k] += !pass;
			nul = k == C_DATA && (b[i] ^ mask) == 0;
			if (pass && (k == C_STRUCT || k == C_ZDATA || nul)) {
				if (bad++ < 5)
					diag("offset %zu ^ 0x%02x (class %c) "
					    "passed", i, mask, k);
			}
			if (!pass && (k == C_TEXT || k == C_LODATA ||
			    (k == C_DATA && !nul))) {
				if (badpass++ < 5)
					diag("offset %zu ^ 0x%02x (class %c) "
					    "failed: %s", i, mask, k,
					    err.msg);
			}
		}
	}
	free(b);
	ok(bad == 0, "%s: every flip in structure or compressed data, and "
	    "every NUL made in table data, fails", f->name);
	ok(badpass == 0, "%s: other flips in free text and raw data pass "
	    "(the format cannot tell)", f->name);
	line[0] = '\0';
	for (c = CLASSES; *c != '\0'; c++)
		if (n[(unsigned char)*c] > 0)
			snprintf(line + strlen(line), sizeof(line) -
			    strlen(line), " %c:%zu/%zu", *c,
			    nfail[(unsigned char)*c], n[(unsigned char)*c]);
	diag("%s: flips detected per class (detected/tried):%s", f->name,
	    line);
}

/* Bytes after the last block, in each fixture. */
static void
test_trailing(struct fixture *f)
{
	unsigned char *b = malloc(f->len + 600);
	char want[96];

	memcpy(b, f->buf, f->len);
	snprintf(want, sizeof(want), "offset %zu: trailing bytes", f->len);
	b[f->len] = 0;
	fails(b, f->len + 1, want, "one zero byte after the end");
	b[f->len] = 1;
	fails(b, f->len + 1, want, "a block type byte after the end");
	memset(b + f->len, 0, 600);
	fails(b, f->len + 600, want, "600 zero bytes after the end");
	free(b);
}

/* Rewrite the 1.14 fixture into other versions' layouts. */
static void
test_versions(struct fixture *f)
{
	struct bk_pgdump_stats st;
	struct bk_err err;
	struct map m;
	int v;

	for (v = 12; v <= 16; v++) {
		memset(&m, 0, sizeof(m));
		m.d = f->buf;
		m.n = f->len;
		m.to_vmin = v;
		m.out = malloc(f->len + 4096);
		if (!ok(parse(&m) == 0, "%s rewritten as 1.%d", f->name, v)) {
			free(m.out);
			continue;
		}
		if (ok(check(m.out, m.outlen, -1, &st, &err) == 0,
		    "1.%d passes", v))
			ok(st.vmin == (unsigned)v && st.toc_entries == 22 &&
			    st.data_blocks == 4 && st.lo_bytes == 1300,
			    "1.%d: stats", v);
		else
			diag("%s", err.msg);
		if (v == 15) {
			/* the algorithm byte follows the format byte */
			m.out[11] = BK_PGDUMP_COMP_LZ4;
			ok(check(m.out, m.outlen, 0, &st, &err) == 0 &&
			    st.compression == BK_PGDUMP_COMP_LZ4 &&
			    !st.data_checked && st.table_bytes == 0,
			    "1.15 lz4: chunks checked, data not decompressed");
			m.out[11] = 4;
			fails(m.out, m.outlen, "offset 11: unknown compression "
			    "algorithm 4", "1.15: algorithm 4");
			m.out[11] = BK_PGDUMP_COMP_GZIP;
			fails(m.out, m.outlen, "compressed data",
			    "1.15 claiming gzip over raw data");
		}
		free(m.out);
	}
}

static void
patch_int(unsigned char *p, int64_t v)
{
	uint64_t mag = v < 0 ? (uint64_t)-v : (uint64_t)v;

	p[0] = v < 0;
	p[1] = mag & 0xff;
	p[2] = mag >> 8 & 0xff;
	p[3] = mag >> 16 & 0xff;
	p[4] = mag >> 24 & 0xff;
}

/* The errors a user reads, on patched copies of the uncompressed dump. */
static void
test_errors(struct fixture *f, const struct map *m)
{
	unsigned char *b = malloc(f->len + 16);
	char want[160];
	struct bk_pgdump c;
	struct bk_err err, err2;
	size_t last;

#define RESET()	memcpy(b, f->buf, f->len)
	RESET();
	b[6] = 11;
	fails(b, f->len, "offset 5: unsupported archive version 1.11",
	    "version 1.11");
	b[6] = 17;
	fails(b, f->len, "unsupported archive version 1.17", "version 1.17");
	RESET();
	b[5] = 2;
	fails(b, f->len, "unsupported archive version 2.14", "version 2.14");
	RESET();
	b[7] = 1;
	fails(b, f->len, "unsupported archive version 1.14.1",
	    "version 1.14.1");
	RESET();
	b[0] = 'X';
	fails(b, f->len, "offset 0: not a custom archive", "bad magic");
	RESET();
	b[8] = 2;
	fails(b, f->len, "offset 8: integer size 2", "integer size 2");
	RESET();
	b[10] = 3;
	fails(b, f->len, "offset 10: format 3 is not custom", "tar format");

	/* strings: 1 GiB, negative, over the field's limit */
	RESET();
	patch_int(b + m->dbname_len_at, 1 << 30);
	snprintf(want, sizeof(want), "offset %zu: database name: length "
	    "1073741824 too long", m->dbname_len_at);
	fails(b, f->len, want, "a 1 GiB database name");
	RESET();
	patch_int(b + m->defn_len_at, 1 << 30);
	snprintf(want, sizeof(want), "offset %zu: TOC entry 1 (dump id ",
	    m->defn_len_at);
	fails(b, f->len, want, "a 1 GiB definition: where");
	fails(b, f->len, "definition: length 1073741824 too long (at most "
	    "1073741823)", "a 1 GiB definition");
	RESET();
	patch_int(b + m->dbname_len_at, -5);
	snprintf(want, sizeof(want), "offset %zu: database name: negative "
	    "length -5", m->dbname_len_at);
	fails(b, f->len, want, "a negative string length");

	/* data blocks */
	RESET();
	patch_int(b + m->chunk_len_at, -14);
	snprintf(want, sizeof(want), "offset %zu: data block for dump id %"
	    PRId32 ": negative chunk length -14", m->chunk_len_at,
	    m->blk_id[0]);
	fails(b, f->len, want, "a negative chunk length");
	RESET();
	patch_int(b + m->blk_at[0] + 1, 999999);
	snprintf(want, sizeof(want), "offset %zu: data block for dump id "
	    "999999, which is not in the TOC", m->blk_at[0]);
	fails(b, f->len, want, "a block for an unknown dump id");
	RESET();
	patch_int(b + m->blk_at[0] + 1, m->nodata_id);
	snprintf(want, sizeof(want), "unexpected data block for dump id %"
	    PRId32 " (expected dump id %" PRId32 ")", m->nodata_id,
	    m->blk_id[0]);
	fails(b, f->len, want, "a block for an entry without data");
	RESET();
	patch_int(b + m->blk_at[0] + 1, m->blk_id[1]);
	snprintf(want, sizeof(want), "offset %zu: data block for dump id %"
	    PRId32 " missing (found the block of dump id %" PRId32 ")",
	    m->blk_at[0], m->blk_id[0], m->blk_id[1]);
	fails(b, f->len, want, "blocks out of order");
	RESET();
	b[m->data_at + 3] = 0;
	snprintf(want, sizeof(want), "offset %zu: data block for dump id %"
	    PRId32 ": table data holds a NUL byte", m->data_at + 3,
	    m->blk_id[0]);
	fails(b, f->len, want, "a NUL byte in table data");
	RESET();
	patch_int(b + m->nodata_at, m->blk_id[0]);
	snprintf(want, sizeof(want), "TOC: dump id %" PRId32 " appears twice",
	    m->blk_id[0]);
	fails(b, f->len, want, "a dump id used twice");
	RESET();
	b[m->blk_at[0]] = 3;
	fails(b, f->len, "block type 3, expected 1", "BLOBS block for a table");
	b[m->blk_at[0]] = 2;
	fails(b, f->len, "bad data block type 2", "block type 2");
	RESET();
	last = m->blk_at[m->nblk - 1];
	snprintf(want, sizeof(want), "custom archive: offset %zu: data block "
	    "for dump id %" PRId32 " missing", last, m->blk_id[m->nblk - 1]);
	ok(check(b, last, 0, NULL, &err) < 0 && strcmp(err.msg, want) == 0,
	    "the last block missing: %s", err.msg);

	/* an error sticks */
	RESET();
	b[0] = 'X';
	bk_pgdump_init(&c, &err);
	ok(bk_pgdump_feed(&c, b, 10, &err) < 0 &&
	    bk_pgdump_feed(&c, b + 10, 10, &err2) < 0 &&
	    bk_pgdump_end(&c, &err2) < 0 && strcmp(err.msg, err2.msg) == 0,
	    "an error sticks: %s", err2.msg);
	bk_pgdump_free(&c);
	ok(check(b, 0, 0, NULL, &err) < 0 && strstr(err.msg,
	    "empty archive") != NULL, "empty input: %s", err.msg);
	free(b);
#undef RESET
}

/* The seekable dump's offsets are checked against the blocks. */
static void
test_seekable(struct fixture *f, const struct map *m,
    const struct bk_pgdump_stats *plain)
{
	struct bk_pgdump_stats st;
	unsigned char *b = malloc(f->len);
	struct bk_err err;

	ok(m->posset == 4, "%s: 4 entries with their offset set", f->name);
	ok(check(f->buf, f->len, 0, &st, &err) == 0 &&
	    st.table_bytes == plain->table_bytes &&
	    st.lo_bytes == plain->lo_bytes, "%s: same data as plain.dump",
	    f->name);
	memcpy(b, f->buf, f->len);
	/* the block of the first entry moved by one byte: find its offset */
	{
		size_t i;
		uint64_t want = m->blk_at[0];
		unsigned char le[8];

		for (i = 0; i < 8; i++)
			le[i] = (unsigned char)(want >> (8 * i));
		for (i = 0; i + 9 <= f->len; i++)
			if (b[i] == 2 && memcmp(b + i + 1, le, 8) == 0)
				break;
		b[i + 1] ^= 1;
	}
	fails(b, f->len, "the TOC says it is at offset", "a wrong offset");
	free(b);
}

int
main(int argc, char **argv)
{
	static const char *names[] = { "plain.dump", "zlib.dump",
	    "schema.dump", "seekable.dump" };
	static const uint64_t tocs[] = { 22, 22, 15, 22 };
	struct fixture fx[4];
	struct map maps[4];
	struct bk_pgdump_stats st[4];
	char *slash;
	int i;

	(void)argc;
	snprintf(fixdir, sizeof(fixdir), "%s", argv[0]);
	for (i = 0; i < 2; i++) {		/* t/unit/pgdump.t -> t */
		if ((slash = strrchr(fixdir, '/')) != NULL)
			*slash = '\0';
		else
			snprintf(fixdir, sizeof(fixdir), "..");
	}
	strncat(fixdir, "/fixtures/pgdump", sizeof(fixdir) - strlen(fixdir) -
	    1);

	for (i = 0; i < 4; i++) {
		load(&fx[i], names[i]);
		memset(&maps[i], 0, sizeof(maps[i]));
		maps[i].d = fx[i].buf;
		maps[i].n = fx[i].len;
		maps[i].cls = malloc(fx[i].len);
		if (!ok(parse(&maps[i]) == 0, "%s: our own parse", names[i]))
			exit(1);
		test_pass(&fx[i], &maps[i], &st[i], tocs[i], i == 1);
	}
	is_int(st[0].table_bytes, maps[0].payload,
	    "plain.dump: table bytes are the chunk bytes of the tables");
	is_int(st[1].table_bytes, st[0].table_bytes,
	    "zlib.dump inflates to as many table bytes as plain.dump");

	for (i = 0; i < 4; i++) {
		test_truncations(&fx[i]);
		test_trailing(&fx[i]);
		test_flips(&fx[i], &maps[i]);
	}
	test_versions(&fx[0]);
	test_errors(&fx[0], &maps[0]);
	test_seekable(&fx[3], &maps[3], &st[0]);
	test_rechunk(&fx[0], &st[0], 1);	/* plain: gathered */
	test_rechunk(&fx[1], &st[1], 0);	/* zlib: as it is */
	test_rechunk(&fx[2], &st[2], 0);	/* schema: no data */
	test_rechunk(&fx[3], &st[3], 0);	/* seekable: offsets */
	test_rechunk_unknown(&fx[0]);

	for (i = 0; i < 4; i++) {
		free(fx[i].buf);
		free(maps[i].cls);
	}
	return done_testing();
}
