/* pgdump.c - a streaming checker of pg_dump's custom archive format. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "pgdump.h"

/*
 * The layout, from pg_dump's pg_backup_archiver.c (WriteHead, WriteToc,
 * WriteInt, WriteStr, WriteOffset) and pg_backup_custom.c (_StartData,
 * _EndData, _StartLOs, _StartLO, _EndLO, _EndLOs, _CustomWriteFunc):
 *
 *   int	a sign byte (0 or 1), then intsize bytes of the magnitude,
 *		least significant first
 *   string	int length, -1 for NULL, then that many bytes
 *   header	"PGDMP", major, minor, revision, intsize, offsize, format (1 =
 *		custom), compression (1.15+: an algorithm byte; before: an int
 *		zlib level, 0 = none, -1 = default), 7 ints of the creation
 *		time (struct tm: sec min hour mday mon year isdst), dbname,
 *		server version, pg_dump version
 *   TOC	int count, then per entry: int dumpId, int hadDumper, strings
 *		tableoid, oid, tag, desc, int section, strings defn, dropStmt,
 *		copyStmt, namespace, tablespace, tableam (1.14+), int relkind
 *		(1.16+), strings owner, with_oids ("false"), dependencies (one
 *		string each, ended by NULL), then a byte for the data state
 *		(1 offset not set, 2 set, 3 no data) and offsize offset bytes
 *   blocks	a type byte (1 data, 3 large objects) and int dumpId; data is
 *		chunks (int length, bytes) ended by a zero length; large
 *		objects are (int OID, chunks as above) repeated, ended by OID 0.
 *		With zlib compression, each data block and each large object
 *		is one zlib stream split across its chunks.
 */
#define MAGIC		"PGDMP"
#define FMT_CUSTOM	1
#define BLK_DATA	1
#define BLK_BLOBS	3
#define POS_NOT_SET	1
#define POS_SET		2
#define NO_DATA		3
#define SEC_NONE	1
#define SEC_PRE		2
#define SEC_DATA	3
#define SEC_POST	4
#define VMIN_LOW	12		/* 1.12: pg_dump 9.0 */
#define VMIN_HIGH	16		/* 1.16: pg_dump 17 */
#define HDRSTRMAX	4096		/* dbname and version strings */
#define ZOUT		16384

enum field {
	F_MAGIC, F_VERSION, F_SIZES, F_COMP, F_TIME, F_DBNAME, F_SRVVER,
	F_DUMPVER, F_TOCCOUNT,
	F_DUMPID, F_HADDUMPER, F_TABLEOID, F_OID, F_TAG, F_DESC, F_SECTION,
	F_DEFN, F_DROP, F_COPY, F_NAMESPACE, F_TABLESPACE, F_TABLEAM,
	F_RELKIND, F_OWNER, F_WITHOIDS, F_DEP, F_OFFSET,
	F_BLKTYPE, F_BLKID, F_CHUNKLEN, F_CHUNK, F_LOOID,
	F_FAILED
};

enum kind { K_FIXED, K_INT, K_STR, K_BODY };

/* What a string field may hold. */
enum strkind { S_ANY, S_DIGITS, S_DESC, S_BOOL };

struct fieldinfo {
	const char	*name;
	enum kind	 kind;
	int		 nullok;	/* strings: NULL allowed */
	uint32_t	 max;		/* strings: longest */
	enum strkind	 sk;
};

static const struct fieldinfo fields[] = {
	[F_MAGIC] = { "magic", K_FIXED, 0, 0, S_ANY },
	[F_VERSION] = { "version", K_FIXED, 0, 0, S_ANY },
	[F_SIZES] = { "integer and offset sizes", K_FIXED, 0, 0, S_ANY },
	[F_COMP] = { "compression", K_INT, 0, 0, S_ANY },
	[F_TIME] = { "creation time", K_INT, 0, 0, S_ANY },
	[F_DBNAME] = { "database name", K_STR, 1, HDRSTRMAX, S_ANY },
	[F_SRVVER] = { "server version", K_STR, 1, HDRSTRMAX, S_ANY },
	[F_DUMPVER] = { "pg_dump version", K_STR, 1, HDRSTRMAX, S_ANY },
	[F_TOCCOUNT] = { "TOC entry count", K_INT, 0, 0, S_ANY },
	[F_DUMPID] = { "dump id", K_INT, 0, 0, S_ANY },
	[F_HADDUMPER] = { "had-dumper flag", K_INT, 0, 0, S_ANY },
	[F_TABLEOID] = { "table OID", K_STR, 0, 10, S_DIGITS },
	[F_OID] = { "OID", K_STR, 0, 10, S_DIGITS },
	[F_TAG] = { "tag", K_STR, 1, BK_PGDUMP_STRMAX, S_ANY },
	[F_DESC] = { "description", K_STR, 0, 64, S_DESC },
	[F_SECTION] = { "section", K_INT, 0, 0, S_ANY },
	[F_DEFN] = { "definition", K_STR, 1, BK_PGDUMP_STRMAX, S_ANY },
	[F_DROP] = { "drop statement", K_STR, 1, BK_PGDUMP_STRMAX, S_ANY },
	[F_COPY] = { "copy statement", K_STR, 1, BK_PGDUMP_STRMAX, S_ANY },
	[F_NAMESPACE] = { "schema", K_STR, 1, BK_PGDUMP_STRMAX, S_ANY },
	[F_TABLESPACE] = { "tablespace", K_STR, 1, BK_PGDUMP_STRMAX, S_ANY },
	[F_TABLEAM] = { "table access method", K_STR, 1, BK_PGDUMP_STRMAX,
	    S_ANY },
	[F_RELKIND] = { "relkind", K_INT, 0, 0, S_ANY },
	[F_OWNER] = { "owner", K_STR, 1, BK_PGDUMP_STRMAX, S_ANY },
	[F_WITHOIDS] = { "with-oids flag", K_STR, 0, 5, S_BOOL },
	[F_DEP] = { "dependency", K_STR, 1, 10, S_DIGITS },
	[F_OFFSET] = { "data offset", K_FIXED, 0, 0, S_ANY },
	[F_BLKTYPE] = { "block type", K_FIXED, 0, 0, S_ANY },
	[F_BLKID] = { "block dump id", K_INT, 0, 0, S_ANY },
	[F_CHUNKLEN] = { "chunk length", K_INT, 0, 0, S_ANY },
	[F_CHUNK] = { "chunk", K_BODY, 0, 0, S_ANY },
	[F_LOOID] = { "large object OID", K_INT, 0, 0, S_ANY },
	[F_FAILED] = { "(failed)", K_FIXED, 0, 0, S_ANY },
};

/*
 * Fail with BK_EXIT_CHECK: "custom archive: offset N: " and the message,
 * where N is where the offending item began.  Later calls repeat it.
 */
static int
fail_at(struct bk_pgdump *c, struct bk_err *err, uint64_t at,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail_at(struct bk_pgdump *c, struct bk_err *err, uint64_t at,
    const char *fmt, ...)
{
	char msg[BK_ERR_MSGMAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->failed = 1;
	c->field = F_FAILED;
	bk_err_set(&c->ferr, BK_EXIT_CHECK, "custom archive: offset %"
	    PRIu64 ": %s", at, msg);
	if (err != NULL)
		*err = c->ferr;
	return -1;
}

/* Fail with BK_EXIT_RUNTIME (out of memory, zlib setup). */
static int
fail_runtime(struct bk_pgdump *c, struct bk_err *err, const char *what)
{
	c->failed = 1;
	c->field = F_FAILED;
	bk_err_set(&c->ferr, BK_EXIT_RUNTIME, "custom archive: %s", what);
	if (err != NULL)
		*err = c->ferr;
	return -1;
}

/* Where we are, for messages: "TOC entry 3 (dump id 214): " or "". */
static const char *
where(struct bk_pgdump *c, char *buf, size_t size)
{
	if (c->field >= F_DUMPID && c->field <= F_OFFSET) {
		if (c->field == F_DUMPID)
			snprintf(buf, size, "TOC entry %" PRIu64 ": ",
			    c->itoc + 1);
		else
			snprintf(buf, size, "TOC entry %" PRIu64
			    " (dump id %" PRId32 "): ", c->itoc + 1, c->cur_id);
	} else if (c->field >= F_BLKID && c->field <= F_LOOID &&
	    c->next < c->nents)
		snprintf(buf, size, "data block for dump id %" PRId32 ": ",
		    c->ents[c->next].id);
	else
		buf[0] = '\0';
	return buf;
}

/* Copy the string src into dst (size bytes), truncating. */
static void
keep(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Begin reading field f. */
static void
start(struct bk_pgdump *c, int f)
{
	c->field = f;
	c->item = c->off;
	c->have = 0;
	switch (fields[f].kind) {
	case K_FIXED:
		if (f == F_MAGIC)
			c->need = 5;
		else if (f == F_VERSION || f == F_SIZES)
			c->need = 3;
		else if (f == F_OFFSET)
			c->need = 1 + c->st.offsize;
		else
			c->need = 1;
		break;
	case K_INT:
		if (f == F_COMP && c->st.vmin >= 15)
			c->need = 1;		/* an algorithm byte */
		else
			c->need = 1 + c->st.intsize;
		break;
	case K_STR:
		c->need = 1 + c->st.intsize;	/* the length first */
		c->slen = 0;
		c->sbad = 0;
		c->str[0] = '\0';
		break;
	case K_BODY:
		c->need = 0;
		break;
	}
}

/*
 * Decode the integer in c->fix into c->num.  pg_dump writes a C int: the
 * sign byte is 0 or 1, a zero is never negative, and bytes past the
 * fourth are zero.  Returns 0, or -1 with err.
 */
static int
get_int(struct bk_pgdump *c, struct bk_err *err)
{
	char w[128];
	uint64_t mag = 0;
	size_t i;

	for (i = c->st.intsize; i > 0; i--) {
		if (i > 4 && c->fix[i] != 0)
			return fail_at(c, err, c->item, "%s%s: integer out of "
			    "range", where(c, w, sizeof(w)),
			    fields[c->field].name);
		mag = mag << 8 | c->fix[i];
	}
	if (c->fix[0] > 1 || (c->fix[0] == 1 && mag == 0))
		return fail_at(c, err, c->item, "%s%s: bad integer (sign byte "
		    "0x%02x)", where(c, w, sizeof(w)), fields[c->field].name,
		    c->fix[0]);
	if (mag > (c->fix[0] ? 0x80000000ULL : 0x7fffffffULL))
		return fail_at(c, err, c->item, "%s%s: integer out of range",
		    where(c, w, sizeof(w)), fields[c->field].name);
	c->num = c->fix[0] ? -(int64_t)mag : (int64_t)mag;
	return 0;
}

/* Add a dump id to c->ids. */
static int
add_id(struct bk_pgdump *c, int32_t id)
{
	int32_t *n;

	if (c->nids == c->capids) {
		size_t cap = c->capids ? c->capids * 2 : 256;

		if ((n = realloc(c->ids, cap * sizeof(*n))) == NULL)
			return -1;
		c->ids = n;
		c->capids = cap;
	}
	c->ids[c->nids++] = id;
	return 0;
}

/* Add an entry with data to c->ents. */
static int
add_ent(struct bk_pgdump *c, const struct bk_pgdump_ent *e)
{
	struct bk_pgdump_ent *n;

	if (c->nents == c->capents) {
		size_t cap = c->capents ? c->capents * 2 : 64;

		if ((n = realloc(c->ents, cap * sizeof(*n))) == NULL)
			return -1;
		c->ents = n;
		c->capents = cap;
	}
	c->ents[c->nents++] = *e;
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

/* Is id a dump id of the TOC?  (c->ids is sorted by then.) */
static int
known_id(const struct bk_pgdump *c, int32_t id)
{
	return c->nids > 0 && bsearch(&id, c->ids, c->nids, sizeof(id),
	    cmp_id) != NULL;
}

/* The TOC is complete: check the dump ids, then expect data blocks. */
static int
toc_done(struct bk_pgdump *c, struct bk_err *err)
{
	size_t i;

	if (c->nids > 1)
		qsort(c->ids, c->nids, sizeof(c->ids[0]), cmp_id);
	for (i = 1; i < c->nids; i++)
		if (c->ids[i] == c->ids[i - 1])
			return fail_at(c, err, c->off, "TOC: dump id %" PRId32
			    " appears twice", c->ids[i]);
	c->st.data_expected = c->nents;
	c->next = 0;
	start(c, F_BLKTYPE);
	return 0;
}

/* Begin a zlib stream (a data block or a large object). */
static int
z_begin(struct bk_pgdump *c, struct bk_err *err)
{
	if (c->st.compression != BK_PGDUMP_COMP_GZIP)
		return 0;
	if (inflateReset(c->z) != Z_OK)
		return fail_runtime(c, err, "inflate: reset failed");
	c->zend = 0;
	return 0;
}

/*
 * Inflate n bytes of a chunk (which began at offset at), counting and
 * discarding the output.
 */
static int
z_feed(struct bk_pgdump *c, const unsigned char *p, size_t n, uint64_t at,
    struct bk_err *err)
{
	char w[128];
	z_stream *z = c->z;
	int rc;

	if (c->zend)
		return fail_at(c, err, at, "%sdata after the end of the "
		    "compressed stream", where(c, w, sizeof(w)));
	z->next_in = (unsigned char *)(uintptr_t)p;
	z->avail_in = (uInt)n;
	do {
		z->next_out = c->zout;
		z->avail_out = ZOUT;
		rc = inflate(z, Z_NO_FLUSH);
		*c->bytes_to += ZOUT - z->avail_out;
		if (!c->lo && memchr(c->zout, 0, ZOUT - z->avail_out) != NULL)
			return fail_at(c, err, at + (n - z->avail_in), "%s"
			    "table data holds a NUL byte", where(c, w,
			    sizeof(w)));
		if (rc == Z_STREAM_END) {
			c->zend = 1;
			if (z->avail_in > 0)
				return fail_at(c, err, at + (n - z->avail_in),
				    "%sdata after the end of the compressed "
				    "stream", where(c, w, sizeof(w)));
			return 0;
		}
		if (rc == Z_MEM_ERROR)
			return fail_runtime(c, err, "inflate: out of memory");
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return fail_at(c, err, at + (n - z->avail_in),
			    "%scompressed data is corrupt (zlib: %s)",
			    where(c, w, sizeof(w)),
			    z->msg != NULL ? z->msg : "error");
	} while (z->avail_in > 0 || z->avail_out == 0);
	return 0;
}

/*
 * n bytes of uncompressed data at offset c->off.  Table data is COPY text
 * (or INSERT statements), which never holds a NUL byte: one here means a
 * chunk length went wrong and swallowed the next chunk's header.
 */
static int
table_bytes(struct bk_pgdump *c, const unsigned char *p, size_t n,
    struct bk_err *err)
{
	const unsigned char *z;
	char w[128];

	*c->bytes_to += n;
	if (!c->lo && (z = memchr(p, 0, n)) != NULL)
		return fail_at(c, err, c->off + (uint64_t)(z - p), "%stable "
		    "data holds a NUL byte", where(c, w, sizeof(w)));
	return 0;
}

/* A data block or large object ended: its zlib stream must be complete. */
static int
z_finish(struct bk_pgdump *c, struct bk_err *err)
{
	char w[128];

	if (c->st.compression != BK_PGDUMP_COMP_GZIP)
		return 0;
	if (!c->zend)
		return fail_at(c, err, c->item, "%scompressed data ends "
		    "before the end of its zlib stream", where(c, w,
		    sizeof(w)));
	return 0;
}

/* The header's fixed fields and version. */
static int
done_header(struct bk_pgdump *c, struct bk_err *err)
{
	const unsigned char *f = c->fix;

	switch (c->field) {
	case F_MAGIC:
		if (memcmp(f, MAGIC, 5) != 0)
			return fail_at(c, err, 0, "not a custom archive (no "
			    "PGDMP magic)");
		start(c, F_VERSION);
		return 0;
	case F_VERSION:
		c->st.vmaj = f[0];
		c->st.vmin = f[1];
		c->st.vrev = f[2];
		if (f[0] != 1 || f[1] < VMIN_LOW || f[1] > VMIN_HIGH ||
		    f[2] != 0)
			return fail_at(c, err, c->item, "unsupported archive "
			    "version %u.%u%s%.0u (supported: 1.%d to 1.%d, "
			    "pg_dump 9.0 to 17)", f[0], f[1], f[2] ? "." : "",
			    f[2], VMIN_LOW, VMIN_HIGH);
		start(c, F_SIZES);
		return 0;
	case F_SIZES:
		c->st.intsize = f[0];
		c->st.offsize = f[1];
		if (f[0] != 4 && f[0] != 8)
			return fail_at(c, err, c->item, "integer size %u is "
			    "not 4 or 8", f[0]);
		if (f[1] != 4 && f[1] != 8)
			return fail_at(c, err, c->item + 1, "offset size %u "
			    "is not 4 or 8", f[1]);
		if (f[2] != FMT_CUSTOM)
			return fail_at(c, err, c->item + 2, "format %u is not "
			    "custom (1)", f[2]);
		start(c, F_COMP);
		return 0;
	}
	return 0;
}

/* The compression field. */
static int
done_comp(struct bk_pgdump *c, struct bk_err *err)
{
	if (c->st.vmin >= 15) {
		if (c->fix[0] > BK_PGDUMP_COMP_ZSTD)
			return fail_at(c, err, c->item, "unknown compression "
			    "algorithm %u", c->fix[0]);
		c->st.compression = c->fix[0];
		c->st.level = 0;
	} else {
		if (get_int(c, err) < 0)
			return -1;
		if (c->num < -1 || c->num > 9)
			return fail_at(c, err, c->item, "compression level %"
			    PRId64 " out of range", c->num);
		c->st.level = (int)c->num;
		c->st.compression = c->num != 0 ? BK_PGDUMP_COMP_GZIP :
		    BK_PGDUMP_COMP_NONE;
	}
	c->st.data_checked = c->st.compression <= BK_PGDUMP_COMP_GZIP;
	if (c->st.compression == BK_PGDUMP_COMP_GZIP) {
		z_stream *z;

		if ((z = calloc(1, sizeof(*z))) == NULL ||
		    (c->zout = malloc(ZOUT)) == NULL) {
			free(z);
			return fail_runtime(c, err, "out of memory");
		}
		if (inflateInit(z) != Z_OK) {
			free(z);
			return fail_runtime(c, err, "inflate: init failed");
		}
		c->z = z;
	}
	c->count = 0;
	start(c, F_TIME);
	return 0;
}

/* One of the seven creation time fields (struct tm). */
static int
done_time(struct bk_pgdump *c, struct bk_err *err)
{
	static const char *names[] = { "seconds", "minutes", "hours", "day",
	    "month", "year", "dst flag" };
	static const int lo[] = { 0, 0, 0, 1, 0, 70, -1 };
	static const int hi[] = { 61, 59, 23, 31, 11, 300, 1 };
	int i = c->count;
	char buf[80];

	if (get_int(c, err) < 0)
		return -1;
	if (c->num < lo[i] || c->num > hi[i])
		return fail_at(c, err, c->item, "creation time: %s %" PRId64
		    " out of range", names[i], c->num);
	c->tm[i] = (int)c->num;
	if (++c->count < 7) {
		start(c, F_TIME);
		return 0;
	}
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d",
	    c->tm[5] + 1900, c->tm[4] + 1, c->tm[3], c->tm[2], c->tm[1],
	    c->tm[0]);
	keep(c->st.created, sizeof(c->st.created), buf);
	start(c, F_DBNAME);
	return 0;
}

/* Begin TOC entry c->itoc, or the data blocks after the last. */
static int
next_entry(struct bk_pgdump *c, struct bk_err *err)
{
	if (c->itoc == c->ntoc)
		return toc_done(c, err);
	c->cur_id = 0;
	c->cur_dumper = 0;
	c->cur_blobs = 0;
	start(c, F_DUMPID);
	return 0;
}

/* An integer of a TOC entry. */
static int
done_toc_int(struct bk_pgdump *c, struct bk_err *err)
{
	char w[128];

	if (get_int(c, err) < 0)
		return -1;
	switch (c->field) {
	case F_TOCCOUNT:
		if (c->num < 0)
			return fail_at(c, err, c->item, "negative TOC entry "
			    "count %" PRId64, c->num);
		c->ntoc = (uint64_t)c->num;
		c->st.toc_entries = c->ntoc;
		c->itoc = 0;
		c->maxsection = 0;
		return next_entry(c, err);
	case F_DUMPID:
		if (c->num <= 0)
			return fail_at(c, err, c->item, "%sdump id %" PRId64
			    " out of range", where(c, w, sizeof(w)), c->num);
		c->cur_id = (int32_t)c->num;
		if (add_id(c, c->cur_id) < 0)
			return fail_runtime(c, err, "out of memory");
		start(c, F_HADDUMPER);
		return 0;
	case F_HADDUMPER:
		if (c->num != 0 && c->num != 1)
			return fail_at(c, err, c->item, "%shad-dumper flag %"
			    PRId64 " is not 0 or 1", where(c, w, sizeof(w)),
			    c->num);
		c->cur_dumper = (int)c->num;
		start(c, F_TABLEOID);
		return 0;
	case F_SECTION:
		/*
		 * pg_dump (9.2+) sorts pre-data before data before post-data;
		 * comments and ACLs (SECTION_NONE) go anywhere.  Data comes
		 * only from data-section entries (TABLE DATA, BLOBS).
		 */
		if (c->num < SEC_NONE || c->num > SEC_POST)
			return fail_at(c, err, c->item, "%ssection %" PRId64
			    " out of range", where(c, w, sizeof(w)), c->num);
		if (c->num != SEC_NONE && c->num < c->maxsection)
			return fail_at(c, err, c->item, "%ssection %" PRId64
			    " after section %d", where(c, w, sizeof(w)),
			    c->num, c->maxsection);
		if (c->cur_dumper && c->num != SEC_DATA)
			return fail_at(c, err, c->item, "%san entry with data "
			    "in section %" PRId64, where(c, w, sizeof(w)),
			    c->num);
		if (c->num != SEC_NONE)
			c->maxsection = (int)c->num;
		start(c, F_DEFN);
		return 0;
	case F_RELKIND:
		if (c->num < 0 || c->num > 127)
			return fail_at(c, err, c->item, "%srelkind %" PRId64
			    " out of range", where(c, w, sizeof(w)), c->num);
		start(c, F_OWNER);
		return 0;
	}
	return 0;
}

/*
 * A string's length was read: NULL, empty, or the body follows.
 * Returns 0, 1 if the string is complete already, or -1 with err.
 */
static int
str_len(struct bk_pgdump *c, struct bk_err *err)
{
	const struct fieldinfo *fi = &fields[c->field];
	char w[128];

	if (get_int(c, err) < 0)
		return -1;
	if (c->num == -1) {
		if (!fi->nullok)
			return fail_at(c, err, c->item, "%s%s is NULL",
			    where(c, w, sizeof(w)), fi->name);
		c->slen = 0;
		return 1;
	}
	if (c->num < 0)
		return fail_at(c, err, c->item, "%s%s: negative length %"
		    PRId64, where(c, w, sizeof(w)), fi->name, c->num);
	if ((uint64_t)c->num > fi->max)
		return fail_at(c, err, c->item, "%s%s: length %" PRId64
		    " too long (at most %" PRIu32 ")", where(c, w, sizeof(w)),
		    fi->name, c->num, fi->max);
	c->left = (uint64_t)c->num;
	c->slen = (size_t)c->num;
	c->str[0] = '\0';
	if (c->left == 0)
		return 1;
	c->have = 0;
	c->need = 0;			/* same field, now its bytes */
	return 0;
}

/* n bytes of a string's body, at offset c->off. */
static void
str_bytes(struct bk_pgdump *c, const unsigned char *p, size_t n)
{
	size_t kept = c->slen - (size_t)c->left;	/* bytes before p */
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = p[i];

		if (kept + i < BK_PGDUMP_KEEP)
			c->str[kept + i] = (char)ch;
		switch (fields[c->field].sk) {
		case S_DIGITS:
			if (ch < '0' || ch > '9')
				c->sbad = 1;
			break;
		case S_DESC:
			if (!((ch >= 'A' && ch <= 'Z') || ch == ' ' ||
			    ch == '_' || (ch >= '0' && ch <= '9')))
				c->sbad = 1;
			break;
		default:
			break;
		}
	}
	i = kept + n < BK_PGDUMP_KEEP ? kept + n : BK_PGDUMP_KEEP;
	c->str[i] = '\0';
}

/* A string is complete (c->num is -1 for NULL): check it, go on. */
static int
done_str(struct bk_pgdump *c, struct bk_err *err)
{
	const struct fieldinfo *fi = &fields[c->field];
	int isnull = c->num == -1 && c->slen == 0;
	char w[128];
	uint64_t v;
	size_t i;

	if (!isnull) {
		if (c->sbad || (fi->sk == S_DIGITS && c->slen == 0) ||
		    (fi->sk == S_DESC && c->slen == 0) ||
		    (fi->sk == S_BOOL && strcmp(c->str, "true") != 0 &&
		    strcmp(c->str, "false") != 0))
			return fail_at(c, err, c->item, "%sbad %s",
			    where(c, w, sizeof(w)), fi->name);
		if (fi->sk == S_DIGITS) {
			v = 0;
			for (i = 0; i < c->slen; i++)
				v = v * 10 + (uint64_t)(c->str[i] - '0');
			if (v > UINT32_MAX || (c->field == F_DEP &&
			    (v == 0 || v > INT32_MAX)))
				return fail_at(c, err, c->item, "%s%s %" PRIu64
				    " out of range", where(c, w, sizeof(w)),
				    fi->name, v);
		}
	}
	switch (c->field) {
	case F_DBNAME:
		keep(c->st.dbname, sizeof(c->st.dbname), c->str);
		start(c, F_SRVVER);
		break;
	case F_SRVVER:
		keep(c->st.server_version, sizeof(c->st.server_version),
		    c->str);
		start(c, F_DUMPVER);
		break;
	case F_DUMPVER:
		keep(c->st.pgdump_version, sizeof(c->st.pgdump_version),
		    c->str);
		start(c, F_TOCCOUNT);
		break;
	case F_TABLEOID:
		start(c, F_OID);
		break;
	case F_OID:
		start(c, F_TAG);
		break;
	case F_TAG:
		start(c, F_DESC);
		break;
	case F_DESC:
		c->cur_blobs = strcmp(c->str, "BLOBS") == 0;
		start(c, F_SECTION);
		break;
	case F_DEFN:
		start(c, F_DROP);
		break;
	case F_DROP:
		start(c, F_COPY);
		break;
	case F_COPY:
		start(c, F_NAMESPACE);
		break;
	case F_NAMESPACE:
		start(c, F_TABLESPACE);
		break;
	case F_TABLESPACE:
		if (c->st.vmin >= 14)
			start(c, F_TABLEAM);
		else
			start(c, F_OWNER);
		break;
	case F_TABLEAM:
		if (c->st.vmin >= 16)
			start(c, F_RELKIND);
		else
			start(c, F_OWNER);
		break;
	case F_OWNER:
		start(c, F_WITHOIDS);
		break;
	case F_WITHOIDS:
		start(c, F_DEP);
		break;
	case F_DEP:
		start(c, isnull ? F_OFFSET : F_DEP);
		break;
	}
	return 0;
}

/* The data state and offset that end a TOC entry. */
static int
done_offset(struct bk_pgdump *c, struct bk_err *err)
{
	struct bk_pgdump_ent e;
	char w[128];
	uint64_t pos = 0;
	unsigned flag = c->fix[0];
	size_t i;

	for (i = c->st.offsize; i > 0; i--)
		pos = pos << 8 | c->fix[i];
	if (flag != POS_NOT_SET && flag != POS_SET && flag != NO_DATA)
		return fail_at(c, err, c->item, "%sbad data state %u",
		    where(c, w, sizeof(w)), flag);
	if ((flag == NO_DATA) != !c->cur_dumper)
		return fail_at(c, err, c->item, "%sdata state %u does not "
		    "match had-dumper flag %d", where(c, w, sizeof(w)), flag,
		    c->cur_dumper);
	/* pg_dump writes a zero offset unless it could seek back to set it. */
	if (flag != POS_SET && pos != 0)
		return fail_at(c, err, c->item + 1, "%sunset data offset is "
		    "not zero", where(c, w, sizeof(w)));
	if (c->cur_dumper) {
		e.id = c->cur_id;
		e.blobs = (uint8_t)c->cur_blobs;
		e.posset = flag == POS_SET;
		e.pos = pos;
		c->posset |= e.posset;
		if (add_ent(c, &e) < 0)
			return fail_runtime(c, err, "out of memory");
	}
	c->itoc++;
	return next_entry(c, err);
}

/* A data block or large object ended. */
static void
block_done(struct bk_pgdump *c)
{
	c->next++;
	c->st.data_blocks++;
	start(c, F_BLKTYPE);
}

/* The fields of the data blocks. */
static int
done_block(struct bk_pgdump *c, struct bk_err *err)
{
	const struct bk_pgdump_ent *e;
	char w[128];
	size_t i;

	if (c->field == F_BLKTYPE) {
		if (c->next == c->nents)
			return fail_at(c, err, c->item, "trailing bytes after "
			    "the last data block");
		c->blktype = c->fix[0];
		if (c->blktype != BLK_DATA && c->blktype != BLK_BLOBS)
			return fail_at(c, err, c->item, "bad data block type "
			    "%d (expected 1 or 3)", c->blktype);
		start(c, F_BLKID);
		c->item--;		/* the block began at its type byte */
		return 0;
	}
	if (get_int(c, err) < 0)
		return -1;
	e = &c->ents[c->next];
	switch (c->field) {
	case F_BLKID:
		if (c->num != e->id) {
			for (i = c->next + 1; i < c->nents; i++)
				if (c->ents[i].id == c->num)
					return fail_at(c, err, c->item, "data "
					    "block for dump id %" PRId32
					    " missing (found the block of "
					    "dump id %" PRId64 ")", e->id,
					    c->num);
			if (c->num > 0 && c->num <= INT32_MAX &&
			    known_id(c, (int32_t)c->num))
				return fail_at(c, err, c->item, "unexpected "
				    "data block for dump id %" PRId64
				    " (expected dump id %" PRId32 ")",
				    c->num, e->id);
			return fail_at(c, err, c->item, "data block for dump "
			    "id %" PRId64 ", which is not in the TOC (expected "
			    "dump id %" PRId32 ")", c->num, e->id);
		}
		if (c->blktype != (e->blobs ? BLK_BLOBS : BLK_DATA))
			return fail_at(c, err, c->item, "%sblock type %d, "
			    "expected %d", where(c, w, sizeof(w)), c->blktype,
			    e->blobs ? BLK_BLOBS : BLK_DATA);
		if (e->posset && e->pos != c->item)
			return fail_at(c, err, c->item, "%sthe TOC says it is "
			    "at offset %" PRIu64, where(c, w, sizeof(w)),
			    e->pos);
		if (c->blktype == BLK_BLOBS) {
			start(c, F_LOOID);
			return 0;
		}
		c->lo = 0;
		c->bytes_to = &c->st.table_bytes;
		if (z_begin(c, err) < 0)
			return -1;
		start(c, F_CHUNKLEN);
		return 0;
	case F_LOOID:
		if (c->num == 0) {
			block_done(c);
			return 0;
		}
		c->st.large_objects++;
		c->lo = 1;
		c->bytes_to = &c->st.lo_bytes;
		if (z_begin(c, err) < 0)
			return -1;
		start(c, F_CHUNKLEN);
		return 0;
	case F_CHUNKLEN:
		if (c->num < 0)
			return fail_at(c, err, c->item, "%snegative chunk "
			    "length %" PRId64, where(c, w, sizeof(w)), c->num);
		if (c->num == 0) {
			if (z_finish(c, err) < 0)
				return -1;
			if (c->lo) {
				c->lo = 0;
				start(c, F_LOOID);
			} else
				block_done(c);
			return 0;
		}
		if ((uint64_t)c->num > BK_PGDUMP_CHUNKMAX)
			return fail_at(c, err, c->item, "%schunk length %"
			    PRId64 " too long", where(c, w, sizeof(w)),
			    c->num);
		start(c, F_CHUNK);
		c->left = (uint64_t)c->num;
		return 0;
	}
	return 0;
}

/* A fixed-size item (or a string's length) is complete in c->fix. */
static int
done_fixed(struct bk_pgdump *c, struct bk_err *err)
{
	int rc;

	switch (c->field) {
	case F_MAGIC:
	case F_VERSION:
	case F_SIZES:
		return done_header(c, err);
	case F_COMP:
		return done_comp(c, err);
	case F_TIME:
		return done_time(c, err);
	case F_TOCCOUNT:
	case F_DUMPID:
	case F_HADDUMPER:
	case F_SECTION:
	case F_RELKIND:
		return done_toc_int(c, err);
	case F_OFFSET:
		return done_offset(c, err);
	case F_BLKTYPE:
	case F_BLKID:
	case F_CHUNKLEN:
	case F_LOOID:
		return done_block(c, err);
	default:
		/* a string's length */
		if ((rc = str_len(c, err)) < 0)
			return -1;
		if (rc == 1)
			return done_str(c, err);
		return 0;
	}
}

/* --- rewriting ------------------------------------------------------------ */

/* Chunks are gathered: an uncompressed archive without data offsets. */
static int
gathering(const struct bk_pgdump *c)
{
	return c->out != NULL && c->st.compression == BK_PGDUMP_COMP_NONE &&
	    !c->posset;
}

static int
emit(struct bk_pgdump *c, const void *p, size_t n, struct bk_err *err)
{
	if (c->out == NULL || n == 0)
		return 0;
	if (c->out(c->out_arg, p, n, err) < 0) {
		c->failed = 1;
		if (err != NULL)
			c->ferr = *err;
		return -1;
	}
	return 0;
}

/* Pass on what was gathered as one chunk: its length, then the data. */
static int
flush(struct bk_pgdump *c, struct bk_err *err)
{
	unsigned char len[1 + 8];
	size_t i, v = c->rlen;

	if (c->rlen == 0)
		return 0;
	len[0] = 0;		/* the sign byte */
	for (i = 1; i <= c->st.intsize; i++, v >>= 8)
		len[i] = v & 0xff;
	if (emit(c, len, 1 + c->st.intsize, err) < 0 ||
	    emit(c, c->rbuf, c->rlen, err) < 0)
		return -1;
	c->rlen = 0;
	return 0;
}

static int
gather(struct bk_pgdump *c, const unsigned char *p, size_t n,
    struct bk_err *err)
{
	size_t k;

	c->held += n;
	while (n > 0) {
		k = BK_PGDUMP_RECHUNK - c->rlen < n ?
		    BK_PGDUMP_RECHUNK - c->rlen : n;
		memcpy(c->rbuf + c->rlen, p, k);
		c->rlen += k;
		p += k;
		n -= k;
		if (c->rlen == BK_PGDUMP_RECHUNK && flush(c, err) < 0)
			return -1;
	}
	return 0;
}

int
bk_pgdump_rechunk(struct bk_pgdump *c, bk_pgdump_out_fn out, void *arg,
    struct bk_err *err)
{
	if ((c->rbuf = malloc(BK_PGDUMP_RECHUNK)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "custom archive");
	c->out = out;
	c->out_arg = arg;
	return 0;
}

int
bk_pgdump_init(struct bk_pgdump *c, struct bk_err *err)
{
	(void)err;
	memset(c, 0, sizeof(*c));
	c->st.intsize = 4;
	start(c, F_MAGIC);
	return 0;
}

int
bk_pgdump_feed(struct bk_pgdump *c, const void *buf, size_t n,
    struct bk_err *err)
{
	const unsigned char *p = buf;
	size_t k, need;
	int held;

	if (c->failed) {
		if (err != NULL)
			*err = c->ferr;
		return -1;
	}
	while (n > 0) {
		if (c->need == 0) {
			/* the body of a string or chunk: c->left bytes */
			k = c->left < n ? (size_t)c->left : n;
			if (c->field == F_CHUNK) {
				if (c->st.compression ==
				    BK_PGDUMP_COMP_GZIP) {
					if (z_feed(c, p, k, c->off, err) < 0)
						return -1;
				} else if (c->st.compression ==
				    BK_PGDUMP_COMP_NONE) {
					if (table_bytes(c, p, k, err) < 0)
						return -1;
				}
				if (gathering(c) ? gather(c, p, k, err) < 0 :
				    emit(c, p, k, err) < 0)
					return -1;
			} else {
				str_bytes(c, p, k);
				if (emit(c, p, k, err) < 0)
					return -1;
			}
			p += k;
			n -= k;
			c->off += k;
			c->st.bytes = c->off;
			c->left -= k;
			if (c->left > 0)
				continue;
			if (c->field == F_CHUNK)
				start(c, F_CHUNKLEN);
			else if (done_str(c, err) < 0)
				return -1;
			continue;
		}
		k = c->need - c->have < n ? c->need - c->have : n;
		memcpy(c->fix + c->have, p, k);
		/* A chunk's length is held back while chunks are gathered. */
		held = c->field == F_CHUNKLEN && gathering(c);
		if (held)
			c->held += k;
		else if (emit(c, p, k, err) < 0)
			return -1;
		c->have += k;
		p += k;
		n -= k;
		c->off += k;
		c->st.bytes = c->off;
		if (c->have < c->need)
			continue;
		need = c->need;
		if (done_fixed(c, err) < 0)
			return -1;
		/* The zero length that ends the data of a table or a large
		 * object: what was gathered goes first. */
		if (held && c->field != F_CHUNK && (flush(c, err) < 0 ||
		    emit(c, c->fix, need, err) < 0))
			return -1;
	}
	return 0;
}

int
bk_pgdump_end(struct bk_pgdump *c, struct bk_err *err)
{
	char w[128];

	if (c->failed) {
		if (err != NULL)
			*err = c->ferr;
		return -1;
	}
	if (c->field == F_BLKTYPE && c->have == 0) {
		if (c->next < c->nents)
			return fail_at(c, err, c->off, "data block for dump "
			    "id %" PRId32 " missing", c->ents[c->next].id);
		return 0;
	}
	if (c->field == F_MAGIC && c->have == 0 && c->off == 0)
		return fail_at(c, err, 0, "empty archive");
	if (c->field == F_CHUNK)
		return fail_at(c, err, c->off, "%struncated in a chunk of "
		    "data", where(c, w, sizeof(w)));
	return fail_at(c, err, c->off, "%struncated in the %s",
	    where(c, w, sizeof(w)), fields[c->field].name);
}

void
bk_pgdump_free(struct bk_pgdump *c)
{
	if (c->z != NULL) {
		inflateEnd(c->z);
		free(c->z);
	}
	free(c->zout);
	free(c->ids);
	free(c->ents);
	free(c->rbuf);
	c->rbuf = NULL;
	c->out = NULL;
	c->z = NULL;
	c->zout = NULL;
	c->ids = NULL;
	c->ents = NULL;
	c->nids = c->capids = c->nents = c->capents = 0;
}

const char *
bk_pgdump_comp_name(int comp)
{
	switch (comp) {
	case BK_PGDUMP_COMP_NONE:
		return "none";
	case BK_PGDUMP_COMP_GZIP:
		return "gzip";
	case BK_PGDUMP_COMP_LZ4:
		return "lz4";
	case BK_PGDUMP_COMP_ZSTD:
		return "zstd";
	}
	return "unknown";
}
