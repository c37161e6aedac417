/*
 * verify.c - peel and check the layers of a backup stream (see verify.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "gz.h"
#include "io.h"
#include "pgdump.h"
#include "tar.h"
#include "verify.h"

#define PEEK		512
#define CHUNK		(256 * 1024)
#define PIPE_SIZE	(1024 * 1024)
#define MANIFEST_MAX	(256ULL << 20)

struct vctx {
	const struct bk_verify_opts	*o;
	struct bk_verify_report		*r;
	pthread_mutex_t			 mu;
	int				 tap_failed;
	struct bk_err			 tap_err;
};

/* Record a layer's failure (EPIPE: the layer after it gave up first,
 * which is that layer's story, not this one's). */
static void
layer_fail(struct vctx *v, unsigned k, const struct bk_err *err)
{
	pthread_mutex_lock(&v->mu);
	if (!v->r->layer[k].failed) {
		v->r->layer[k].failed = err->sys == EPIPE ? 2 : 1;
		v->r->layer[k].err = *err;
	}
	pthread_mutex_unlock(&v->mu);
}

static void
layer_name(struct vctx *v, unsigned k, const char *name)
{
	pthread_mutex_lock(&v->mu);
	snprintf(v->r->layer[k].name, sizeof(v->r->layer[k].name), "%s",
	    name);
	if (k + 1 > v->r->n)
		v->r->n = k + 1;
	pthread_mutex_unlock(&v->mu);
}

const char *
bk_verify_detect(const unsigned char *p, size_t n)
{
#define STARTS(s) (n >= sizeof(s) - 1 && memcmp(p, s, sizeof(s) - 1) == 0)
	if (STARTS("age-encryption.org/v1\n") ||
	    STARTS("-----BEGIN AGE ENCRYPTED FILE-----"))
		return "age";
	if (n >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8)
		return "gzip";
	if (STARTS("PGDMP"))
		return "custom";
	if (STARTS("--\n-- PostgreSQL database dump") ||
	    STARTS("--\n-- PostgreSQL database cluster dump"))
		return "plain";
	if (n >= 262 && memcmp(p + 257, "ustar", 5) == 0)
		return "tar";
	return NULL;
#undef STARTS
}

/* --- plain SQL ------------------------------------------------------------ */

/*
 * A plain dump starts with pg_dump's (or pg_dumpall's) header and ends
 * with its "dump complete" footer; what lies between is SQL text that
 * nothing but a restore can check.
 */
struct plain {
	char		tail[512];
	size_t		tlen;
	uint64_t	n;
	int		cluster;
	char		key[128];	/* of the restrict line at the top */
	char		head[1024];	/* where that line is */
	size_t		hlen;
};

static int
plain_feed(void *arg, const void *buf, size_t n, struct bk_err *err)
{
	struct plain *p = arg;
	const char *b = buf;

	(void)err;
	if (p->hlen < sizeof(p->head)) {
		/* pg_dump 15.14 and later open with "\restrict KEY" */
		size_t k = n < sizeof(p->head) - p->hlen ? n :
		    sizeof(p->head) - p->hlen;
		const char *r, *e;

		memcpy(p->head + p->hlen, b, k);
		p->hlen += k;
		r = memmem(p->head, p->hlen, "\n\\restrict ", 11);
		if (p->key[0] == '\0' && r != NULL && (e = memchr(r + 11,
		    '\n', p->hlen - (size_t)(r + 11 - p->head))) != NULL &&
		    (size_t)(e - r - 11) < sizeof(p->key))
			snprintf(p->key, sizeof(p->key), "%.*s",
			    (int)(e - r - 11), r + 11);
	}
	p->n += n;
	if (n >= sizeof(p->tail)) {
		memcpy(p->tail, b + n - sizeof(p->tail), sizeof(p->tail));
		p->tlen = sizeof(p->tail);
	} else {
		size_t keep = p->tlen + n > sizeof(p->tail) ?
		    sizeof(p->tail) - n : p->tlen;

		memmove(p->tail, p->tail + p->tlen - keep, keep);
		memcpy(p->tail + keep, b, n);
		p->tlen = keep + n;
	}
	return 0;
}

/*
 * The end of a plain dump: the footer "-- PostgreSQL database [cluster ]
 * dump complete\n--\n" and, from pg_dump 15.14 on, the line
 * "\unrestrict KEY" that closes the "\restrict KEY" at the top, whole;
 * pg_dump writes the footer first, pg_dumpall the line; blank lines
 * around them.
 */
static int
plain_end(struct plain *p, const char *what, struct bk_err *err)
{
	const char *want = p->cluster ?
	    "--\n-- PostgreSQL database cluster dump complete\n--\n" :
	    "--\n-- PostgreSQL database dump complete\n--\n";
	const char *t = p->tail;
	char line[160];
	size_t wl = strlen(want), ll = 0, end = p->tlen;
	int footer = 0, unrestrict = p->key[0] == '\0', step;

	if (!unrestrict)
		ll = (size_t)snprintf(line, sizeof(line), "\n\\unrestrict %s\n",
		    p->key);
	for (step = 0; step < 2; step++) {
		while (end > 0 && t[end - 1] == '\n')
			end--;
		if (end < p->tlen)
			end++;		/* the newline that ends the line */
		if (!unrestrict && end >= ll &&
		    memcmp(t + end - ll, line, ll) == 0) {
			unrestrict = 1;
			end -= ll - 1;
		} else if (!footer && end >= wl &&
		    memcmp(t + end - wl, want, wl) == 0) {
			footer = 1;
			end -= wl;
		}
	}
	if (!footer)
		return bk_err_set(err, BK_EXIT_CHECK, "%s: no \"dump complete\" "
		    "footer at the end (offset %llu): the dump is cut short",
		    what, (unsigned long long)p->n);
	if (!unrestrict)
		return bk_err_set(err, BK_EXIT_CHECK, "%s: no \\unrestrict "
		    "line to match the \\restrict at the top (offset %llu): "
		    "the dump is cut short", what, (unsigned long long)p->n);
	return 0;
}

/* --- tar ------------------------------------------------------------------ */

enum member_kind { M_OTHER, M_DUMP, M_GLOBALS, M_MANIFEST };

/* A regular file of the archive: what a base backup's manifest lists. */
struct fent {
	char		*name;
	uint64_t	 size;
	uint32_t	 crc;		/* CRC-32C of its data */
	int		 listed;	/* found in the manifest */
};

struct tarck {
	unsigned char	 hdr[BK_TAR_BLOCK];
	size_t		 have;
	uint64_t	 left;		/* data bytes left in this member */
	uint64_t	 pad;		/* padding bytes after it */
	uint64_t	 off;		/* stream offset */
	uint64_t	 hdroff;	/* offset of the current header */
	int		 zeros;		/* zero blocks seen at the end */
	int		 longname;	/* the member is a name (GNU 'L') */
	int		 pax;		/* the member is a pax header */
	char		 name[4096];	/* of the current member */
	char		 next[4096];	/* from a long-name or pax member */
	char		 meta[8192];	/* collecting a long name / pax */
	size_t		 metalen;
	enum member_kind kind;
	struct bk_pgdump *dump;		/* checking a custom dump member */
	struct plain	 globals;
	char		*manifest;
	size_t		 mlen;
	struct fent	*files;
	size_t		 nfiles, capfiles;
	size_t		 nchecked;
	char		 algo[16];
	char		 walinfo[96];
	size_t		 cur;		/* files[cur] is being read, or -1 */
	/* what the archive holds */
	unsigned	 members, dumps;
	int		 has_globals, has_manifest, has_pgversion, has_toc;
	int		 has_restore, has_control;
	char		 detail[200];
};

static int
tar_zero(const unsigned char *b)
{
	size_t i;

	for (i = 0; i < BK_TAR_BLOCK; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static int
ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The manifest's own checksum: SHA-256 of everything before the line
 * holding "Manifest-Checksum". */
static int
manifest_check(const char *m, size_t len, struct bk_err *err)
{
	const char *key = "\"Manifest-Checksum\"", *p = NULL, *q, *line;
	unsigned char d[32];
	unsigned int dl = 0;
	char hex[65];
	size_t i;

	for (q = m; (q = memmem(q, len - (size_t)(q - m), key,
	    strlen(key))) != NULL; q++)
		p = q;
	if (p == NULL)
		return bk_err_set(err, BK_EXIT_CHECK, "backup_manifest: no "
		    "Manifest-Checksum");
	for (line = p; line > m && line[-1] != '\n'; line--)
		;
	EVP_Digest(m, (size_t)(line - m), d, &dl, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	q = p + strlen(key);
	while (q < m + len && (*q == ' ' || *q == ':' || *q == '"'))
		q++;
	if ((size_t)(m + len - q) < 64 || strncasecmp(q, hex, 64) != 0)
		return bk_err_set(err, BK_EXIT_CHECK, "backup_manifest: its "
		    "checksum does not match its content");
	return 0;
}

/* A member begins: classify it. */
static int
member_start(struct tarck *t, struct bk_err *err)
{
	const char *base = strrchr(t->name, '/');

	base = base != NULL ? base + 1 : t->name;
	t->members++;
	t->kind = M_OTHER;
	t->cur = (size_t)-1;
	if (strcmp(t->name, "backup_manifest") != 0) {
		if (t->nfiles == t->capfiles) {
			size_t cap = t->capfiles ? 2 * t->capfiles : 256;
			struct fent *f = realloc(t->files, cap * sizeof(*f));

			if (f == NULL)
				return bk_err_set(err, BK_EXIT_RUNTIME, "out of "
				    "memory");
			t->files = f;
			t->capfiles = cap;
		}
		if ((t->files[t->nfiles].name = strdup(t->name)) == NULL)
			return bk_err_set(err, BK_EXIT_RUNTIME, "out of memory");
		t->files[t->nfiles].size = t->left;
		t->files[t->nfiles].crc = 0;
		t->files[t->nfiles].listed = 0;
		t->cur = t->nfiles++;
	}
	if (strcmp(t->name, "backup_manifest") == 0) {
		t->kind = M_MANIFEST;
		t->has_manifest = 1;
		t->mlen = 0;
	} else if (strcmp(t->name, "PG_VERSION") == 0) {
		t->has_pgversion = 1;
	} else if (strcmp(t->name, "global/pg_control") == 0) {
		t->has_control = 1;
	} else if (strcmp(t->name, "toc.dat") == 0) {
		t->has_toc = 1;
	} else if (strcmp(t->name, "restore.sql") == 0) {
		t->has_restore = 1;
	} else if (strcmp(t->name, "globals.sql") == 0) {
		t->kind = M_GLOBALS;
		t->has_globals = 1;
		memset(&t->globals, 0, sizeof(t->globals));
		t->globals.cluster = 1;
	} else if (ends_with(base, ".dump")) {
		t->kind = M_DUMP;
		t->dumps++;
		if ((t->dump = calloc(1, sizeof(*t->dump))) == NULL ||
		    bk_pgdump_init(t->dump, err) < 0)
			return bk_err_set(err, BK_EXIT_RUNTIME, "out of memory");
	}
	return 0;
}

static int
member_data(struct tarck *t, const unsigned char *b, size_t n,
    struct bk_err *err)
{
	if (t->cur != (size_t)-1)
		t->files[t->cur].crc = bk_crc32c(t->files[t->cur].crc, b, n);
	switch (t->kind) {
	case M_DUMP:
		if (bk_pgdump_feed(t->dump, b, n, err) < 0)
			return bk_err_prefix(err, "%s", t->name);
		return 0;
	case M_GLOBALS:
		return plain_feed(&t->globals, b, n, err);
	case M_MANIFEST:
		if (t->mlen + n > MANIFEST_MAX)
			return bk_err_set(err, BK_EXIT_RUNTIME, "backup_manifest "
			    "larger than %llu MiB: not checked",
			    MANIFEST_MAX >> 20);
		if (t->manifest == NULL && (t->manifest =
		    malloc(MANIFEST_MAX)) == NULL)
			return bk_err_set(err, BK_EXIT_RUNTIME, "out of memory");
		memcpy(t->manifest + t->mlen, b, n);
		t->mlen += n;
		return 0;
	default:
		return 0;
	}
}

static int
member_end(struct tarck *t, struct bk_err *err)
{
	int rc = 0;

	switch (t->kind) {
	case M_DUMP:
		if (bk_pgdump_end(t->dump, err) < 0)
			rc = bk_err_prefix(err, "%s", t->name);
		bk_pgdump_free(t->dump);
		free(t->dump);
		t->dump = NULL;
		break;
	case M_GLOBALS:
		rc = plain_end(&t->globals, "globals.sql", err);
		break;
	case M_MANIFEST:
		rc = manifest_check(t->manifest, t->mlen, err);
		break;
	default:
		break;
	}
	t->kind = M_OTHER;
	return rc;
}

/* A header block is complete: check it and start its member. */
static int
tar_header(struct tarck *t, struct bk_err *err)
{
	unsigned char *h = t->hdr;
	uint64_t size, sum, want = 0;
	size_t i;
	char type;

	if (tar_zero(h)) {
		t->zeros++;
		return 0;
	}
	if (t->zeros > 0)
		return bk_err_set(err, BK_EXIT_CHECK, "tar: offset %llu: data "
		    "after the end-of-archive marker",
		    (unsigned long long)t->hdroff);
	if (bk_tar_number(h + 148, 8, &sum) < 0)
		return bk_err_set(err, BK_EXIT_CHECK, "tar: offset %llu: not a "
		    "tar header", (unsigned long long)t->hdroff);
	for (i = 0; i < BK_TAR_BLOCK; i++)
		want += (i >= 148 && i < 156) ? ' ' : h[i];
	if (sum != want)
		return bk_err_set(err, BK_EXIT_CHECK, "tar: offset %llu: header "
		    "checksum mismatch", (unsigned long long)t->hdroff);
	if (bk_tar_number(h + 124, 12, &size) < 0)
		return bk_err_set(err, BK_EXIT_CHECK, "tar: offset %llu: bad "
		    "size field", (unsigned long long)t->hdroff);
	type = (char)h[156];
	t->left = size;
	t->pad = bk_tar_pad(size);
	t->longname = type == 'L';
	t->pax = type == 'x';
	t->metalen = 0;
	if (t->longname || t->pax) {
		if (size >= sizeof(t->meta))
			return bk_err_set(err, BK_EXIT_CHECK, "tar: offset %llu: "
			    "extended header too long",
			    (unsigned long long)t->hdroff);
		return 0;
	}
	if (type == 'g')
		return 0;
	if (t->next[0] != '\0') {
		snprintf(t->name, sizeof(t->name), "%s", t->next);
		t->next[0] = '\0';
	} else if (memcmp(h + 257, "ustar", 5) == 0 && h[345] != '\0') {
		snprintf(t->name, sizeof(t->name), "%.155s/%.100s",
		    (char *)h + 345, (char *)h);
	} else {
		snprintf(t->name, sizeof(t->name), "%.100s", (char *)h);
	}
	/* Regular files only carry data worth looking into. */
	if (type != '0' && type != '\0' && type != '7') {
		t->members++;
		t->kind = M_OTHER;
		t->cur = (size_t)-1;
		return 0;
	}
	return member_start(t, err);
}

/* The long name or pax header that was collected applies to the next
 * member. */
static void
meta_done(struct tarck *t)
{
	const char *p = t->meta, *end = t->meta + t->metalen;

	if (t->longname) {
		snprintf(t->next, sizeof(t->next), "%.*s", (int)t->metalen,
		    t->meta);
		return;
	}
	/* pax: "LEN key=value\n" records */
	while (p < end) {
		char *sp;
		unsigned long len = strtoul(p, &sp, 10);

		if (sp == p || *sp != ' ' || len == 0 || p + len > end)
			break;
		if (strncmp(sp + 1, "path=", 5) == 0)
			snprintf(t->next, sizeof(t->next), "%.*s",
			    (int)(p + len - (sp + 6) - 1), sp + 6);
		p += len;
	}
}

static int
tar_feed(void *arg, const void *buf, size_t n, struct bk_err *err)
{
	struct tarck *t = arg;
	const unsigned char *b = buf;
	size_t k;

	while (n > 0) {
		if (t->left > 0) {
			k = t->left < n ? (size_t)t->left : n;
			if (t->longname || t->pax) {
				memcpy(t->meta + t->metalen, b, k);
				t->metalen += k;
			} else if (member_data(t, b, k, err) < 0) {
				return -1;
			}
			t->left -= k;
			b += k, n -= k, t->off += k;
			if (t->left == 0) {
				if (t->longname || t->pax)
					meta_done(t);
				else if (member_end(t, err) < 0)
					return -1;
				t->longname = t->pax = 0;
			}
			continue;
		}
		if (t->pad > 0) {
			k = t->pad < n ? (size_t)t->pad : n;
			t->pad -= k;
			b += k, n -= k, t->off += k;
			continue;
		}
		if (t->have == 0)
			t->hdroff = t->off;
		k = BK_TAR_BLOCK - t->have < n ? BK_TAR_BLOCK - t->have : n;
		memcpy(t->hdr + t->have, b, k);
		t->have += k;
		b += k, n -= k, t->off += k;
		if (t->have == BK_TAR_BLOCK) {
			t->have = 0;
			if (tar_header(t, err) < 0)
				return -1;
			if (t->left == 0 && t->kind != M_OTHER &&
			    member_end(t, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int
fent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fent *)a)->name,
	    ((const struct fent *)b)->name);
}

/* The string value of "key" in a manifest line, JSON-unescaped (or, for
 * Encoded-Path, hex-decoded) into out.  1 found, 0 not, -1 malformed. */
static int
jfield(const char *line, const char *end, const char *key, int hex,
    char *out, size_t size)
{
	char pat[48];
	const char *p;
	size_t o = 0;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	if ((p = memmem(line, (size_t)(end - line), pat, strlen(pat))) ==
	    NULL)
		return 0;
	for (p += strlen(pat); p < end && *p != '"'; p++) {
		unsigned v;
		char c = *p;

		if (hex) {
			if (p + 1 >= end || sscanf(p, "%2x", &v) != 1)
				return -1;
			c = (char)v;
			p++;
		} else if (c == '\\') {
			if (++p >= end)
				return -1;
			switch (*p) {
			case '"': case '\\': case '/': c = *p; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (p + 4 >= end || sscanf(p + 1, "%4x", &v) !=
				    1 || v >= 0x80)
					return -1;
				c = (char)v;
				p += 4;
				break;
			default: return -1;
			}
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = c;
	}
	if (p >= end)
		return -1;
	out[o] = '\0';
	return 1;
}

/* An LSN "X/Y" to a number. */
static int
lsn(const char *s, uint64_t *v)
{
	unsigned long hi, lo;
	char *e;

	hi = strtoul(s, &e, 16);
	if (*e != '/')
		return -1;
	lo = strtoul(e + 1, &e, 16);
	if (*e != '\0' || hi > 0xffffffffUL || lo > 0xffffffffUL)
		return -1;
	*v = ((uint64_t)hi << 32) | lo;
	return 0;
}

/*
 * Check the archive's files against its manifest, as pg_verifybackup
 * does: every file listed is there with its size and checksum, no file
 * is there that is not listed (but WAL, which the manifest leaves to its
 * WAL ranges), and the WAL of those ranges is there.
 */
static int
manifest_files(struct tarck *t, struct bk_err *err)
{
	const char *p = t->manifest, *end = t->manifest + t->mlen, *nl;
	char path[4096], val[160];
	uint64_t segsize = 0, walsegs = 0;
	struct fent key, *f;
	size_t i;
	int n;

	qsort(t->files, t->nfiles, sizeof(*t->files), fent_cmp);
	for (i = 1; i < t->nfiles; i++)
		if (strcmp(t->files[i].name, t->files[i - 1].name) == 0)
			return bk_err_set(err, BK_EXIT_CHECK, "base backup: %s "
			    "twice in the archive", t->files[i].name);
	snprintf(t->algo, sizeof(t->algo), "none");
	for (; p < end; p = nl + 1) {
		const char *sz;
		uint64_t size;
		int r;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((r = jfield(p, nl, "Path", 0, path, sizeof(path))) == 0)
			r = jfield(p, nl, "Encoded-Path", 1, path,
			    sizeof(path));
		if (r < 0)
			return bk_err_set(err, BK_EXIT_CHECK, "backup_manifest: "
			    "a malformed path");
		if (r == 0) {
			/* a WAL range? */
			char tl[16] = "", a[32], b[32];
			uint64_t s0, s1, seg;
			const char *q;

			if ((q = memmem(p, (size_t)(nl - p), "\"Timeline\": ",
			    12)) == NULL)
				continue;
			snprintf(tl, sizeof(tl), "%lu", strtoul(q + 12, NULL,
			    10));
			if (jfield(p, nl, "Start-LSN", 0, a, sizeof(a)) != 1 ||
			    jfield(p, nl, "End-LSN", 0, b, sizeof(b)) != 1 ||
			    lsn(a, &s0) < 0 || lsn(b, &s1) < 0 || s1 < s0)
				return bk_err_set(err, BK_EXIT_CHECK,
				    "backup_manifest: a malformed WAL range");
			/* The segment size is that of the WAL in the
			 * archive (16 MiB unless initdb was told else). */
			for (i = 0; segsize == 0 && i < t->nfiles; i++)
				if (strncmp(t->files[i].name, "pg_wal/", 7) ==
				    0 && strlen(t->files[i].name) == 31)
					segsize = t->files[i].size;
			if (segsize == 0 || (segsize & (segsize - 1)) != 0)
				return bk_err_set(err, BK_EXIT_CHECK,
				    "base backup: no WAL for the range %s-%s",
				    a, b);
			for (seg = s0 / segsize; seg <= s1 / segsize; seg++) {
				uint64_t per = 0x100000000ULL / segsize;

				snprintf(path, sizeof(path), "pg_wal/%08lX%08lX"
				    "%08lX", strtoul(tl, NULL, 10),
				    (unsigned long)(seg / per),
				    (unsigned long)(seg % per));
				key.name = path;
				f = bsearch(&key, t->files, t->nfiles,
				    sizeof(*t->files), fent_cmp);
				if (f == NULL || f->size != segsize)
					return bk_err_set(err, BK_EXIT_CHECK,
					    "base backup: WAL segment %s of the "
					    "range %s-%s %s", path + 7, a, b,
					    f == NULL ? "missing" :
					    "of the wrong size");
				walsegs++;
			}
			n = snprintf(t->walinfo, sizeof(t->walinfo), "%s-%s "
			    "on timeline %s: %llu segment%s", a, b, tl,
			    (unsigned long long)walsegs, walsegs == 1 ? "" :
			    "s");
			if (n < 0 || (size_t)n >= sizeof(t->walinfo))
				memcpy(t->walinfo + sizeof(t->walinfo) - 4,
				    "...", 4);
			continue;
		}
		if ((sz = memmem(p, (size_t)(nl - p), "\"Size\": ", 8)) ==
		    NULL)
			return bk_err_set(err, BK_EXIT_CHECK, "backup_manifest: "
			    "%s: no size", path);
		size = strtoull(sz + 8, NULL, 10);
		key.name = path;
		if ((f = bsearch(&key, t->files, t->nfiles, sizeof(*t->files),
		    fent_cmp)) == NULL)
			return bk_err_set(err, BK_EXIT_CHECK, "base backup: %s "
			    "is in the manifest but not in the archive", path);
		f->listed = 1;
		if (f->size != size)
			return bk_err_set(err, BK_EXIT_CHECK, "base backup: %s: "
			    "%llu bytes, the manifest says %llu", path,
			    (unsigned long long)f->size,
			    (unsigned long long)size);
		if (jfield(p, nl, "Checksum-Algorithm", 0, val,
		    sizeof(val)) == 1) {
			snprintf(t->algo, sizeof(t->algo), "%.15s", val);
			if (strcmp(val, "CRC32C") == 0) {
				char hex[9];
				uint32_t c = f->crc;

				/* PostgreSQL writes the CRC's bytes in
				 * memory order: little-endian here. */
				snprintf(hex, sizeof(hex), "%02x%02x%02x%02x",
				    c & 0xff, (c >> 8) & 0xff,
				    (c >> 16) & 0xff, c >> 24);
				if (jfield(p, nl, "Checksum", 0, val,
				    sizeof(val)) != 1 ||
				    strcasecmp(val, hex) != 0)
					return bk_err_set(err, BK_EXIT_CHECK,
					    "base backup: %s: CRC-32C mismatch "
					    "(the manifest says %s)", path,
					    val);
			}
		}
		t->nchecked++;
	}
	if (walsegs == 0)
		return bk_err_set(err, BK_EXIT_CHECK, "backup_manifest: no WAL "
		    "range");
	for (i = 0; i < t->nfiles; i++)
		if (!t->files[i].listed && strncmp(t->files[i].name,
		    "pg_wal/", 7) != 0)
			return bk_err_set(err, BK_EXIT_CHECK, "base backup: %s "
			    "is in the archive but not in the manifest",
			    t->files[i].name);
	return 0;
}

static int
tar_end(struct tarck *t, char *kind, size_t ksize, struct bk_err *err)
{
	if (t->left > 0 || t->pad > 0 || t->have > 0)
		return bk_err_set(err, BK_EXIT_CHECK, "tar: cut short at offset "
		    "%llu, inside %s", (unsigned long long)t->off,
		    t->have > 0 ? "a header" : t->name);
	if (t->zeros < 2)
		return bk_err_set(err, BK_EXIT_CHECK, "tar: no end-of-archive "
		    "marker at offset %llu: the archive is cut short",
		    (unsigned long long)t->off);
	if (t->has_pgversion || t->has_manifest) {
		snprintf(kind, ksize, "base backup");
		if (!t->has_manifest)
			return bk_err_set(err, BK_EXIT_CHECK, "base backup: no "
			    "backup_manifest");
		if (!t->has_pgversion || !t->has_control)
			return bk_err_set(err, BK_EXIT_CHECK, "base backup: "
			    "PG_VERSION or global/pg_control missing");
		if (manifest_files(t, err) < 0)
			return -1;
		snprintf(t->detail, sizeof(t->detail), "base backup, %u "
		    "members: manifest checksum; %zu files against it (%s); "
		    "WAL %s", t->members, t->nchecked, t->algo, t->walinfo);
		return 0;
	} else if (t->has_globals || t->dumps > 0) {
		snprintf(kind, ksize, "bk-dump --all");
		if (!t->has_globals)
			return bk_err_set(err, BK_EXIT_CHECK, "bk-dump --all "
			    "archive: no globals.sql");
	} else if (t->has_toc) {
		snprintf(kind, ksize, "pg_dump tar");
		if (!t->has_restore)
			return bk_err_set(err, BK_EXIT_CHECK, "pg_dump tar "
			    "archive: no restore.sql");
	} else {
		snprintf(kind, ksize, "tar");
	}
	snprintf(t->detail, sizeof(t->detail), "%s, %u members%s", kind,
	    t->members, t->dumps ? ", custom dumps checked" : "");
	return 0;
}

/* --- the stages ----------------------------------------------------------- */

struct stage {
	struct vctx	*v;
	unsigned	 k;
	int		 fd;
};

static void *stage_run(void *arg);

/* Read up to PEEK bytes (fewer only at the end). */
static ssize_t
peek(int fd, unsigned char *buf, struct bk_err *err)
{
	return bk_io_read_full(fd, buf, PEEK, "input", err);
}

/* Copy payload bytes to the tap's fd; after a failure, stop copying
 * (the tap's end() says what happened). */
static void
tee_out(int *tfd, const void *buf, size_t n)
{
	struct bk_err e;

	if (*tfd >= 0 && bk_io_write_all(*tfd, buf, n, "restore", &e) < 0) {
		close(*tfd);
		*tfd = -1;
	}
}

/* Feed a payload checker from pre and then fd to its end; a copy to
 * *tfd if it is >= 0. */
static int
pump(int fd, const unsigned char *pre, size_t prelen,
    int (*feed)(void *, const void *, size_t, struct bk_err *), void *arg,
    int *tfd, uint64_t *total, struct bk_err *err)
{
	unsigned char *buf;
	ssize_t n;
	int rc = 0;

	*total = prelen;
	tee_out(tfd, pre, prelen);
	if (prelen > 0 && feed(arg, pre, prelen, err) < 0)
		return -1;
	if ((buf = malloc(CHUNK)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "verify");
	while ((n = bk_io_read_full(fd, buf, CHUNK, "input", err)) > 0) {
		*total += (uint64_t)n;
		tee_out(tfd, buf, (size_t)n);
		if (feed(arg, buf, (size_t)n, err) < 0) {
			rc = -1;
			break;
		}
	}
	if (n < 0)
		rc = -1;
	free(buf);
	return rc;
}

static int
custom_feed(void *arg, const void *buf, size_t n, struct bk_err *err)
{
	return bk_pgdump_feed(arg, buf, n, err);
}

/* Run the decoder of layer k (age or gzip) from fd to the next stage. */
static void
decode(struct vctx *v, unsigned k, const char *kind, int fd,
    const unsigned char *pre, size_t prelen)
{
	struct bk_verify_layer *L = &v->r->layer[k];
	struct stage next = { v, k + 1, -1 };
	struct bk_err err;
	pthread_t tid;
	int p[2], rc;

	if (k + 1 >= BK_VERIFY_LAYERS) {
		bk_err_set(&err, BK_EXIT_CHECK, "more than %d layers",
		    BK_VERIFY_LAYERS);
		layer_fail(v, k, &err);
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		bk_err_sys(&err, BK_EXIT_RUNTIME, errno, "pipe");
		layer_fail(v, k, &err);
		return;
	}
	fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
	next.fd = p[0];
	if (pthread_create(&tid, NULL, stage_run, &next) != 0) {
		close(p[0]);
		close(p[1]);
		bk_err_set(&err, BK_EXIT_RUNTIME, "cannot start a thread");
		layer_fail(v, k, &err);
		return;
	}
	if (strcmp(kind, "age") == 0) {
		struct bk_age_opts o;
		struct bk_age_stats st;

		memset(&o, 0, sizeof(o));
		memset(&st, 0, sizeof(st));
		o.in = fd;
		o.out = p[1];
		o.pre = pre;
		o.prelen = prelen;
		if (v->o->keys == NULL) {
			rc = bk_err_set(&err, 3, "encrypted: give -i or a "
			    "passphrase to check it");
		} else {
			rc = bk_age_decrypt(&o, v->o->keys, &st, &err);
			if (rc < 0 && st.fail == BK_AGE_FAIL_NOMATCH)
				err.code = BK_EXIT_RUNTIME;
		}
		L->in = st.in;
		L->out = st.out;
		snprintf(L->detail, sizeof(L->detail), "header MAC, every "
		    "chunk's tag, the final chunk");
	} else {
		struct bk_gz_opts o;
		struct bk_gz_stats st;

		bk_gz_opts_init(&o);
		memset(&st, 0, sizeof(st));
		o.in = fd;
		o.out = p[1];
		o.pre = pre;
		o.prelen = prelen;
		rc = bk_gz_decompress(&o, &st, &err);
		L->in = st.in;
		L->out = st.out;
		snprintf(L->detail, sizeof(L->detail), "%u member%s, every "
		    "CRC-32 and length", st.members, st.members == 1 ? "" :
		    "s");
	}
	if (rc < 0)
		layer_fail(v, k, &err);
	close(p[1]);
	pthread_join(tid, NULL);
}

static void *
stage_run(void *arg)
{
	struct stage *s = arg;
	struct vctx *v = s->v;
	struct bk_verify_layer *L = &v->r->layer[s->k];
	unsigned char pre[PEEK];
	const char *kind;
	struct bk_err err;
	ssize_t n;
	int tfd = -1;

	if ((n = peek(s->fd, pre, &err)) < 0) {
		layer_name(v, s->k, "input");
		layer_fail(v, s->k, &err);
		goto out;
	}
	kind = bk_verify_detect(pre, (size_t)n);
	layer_name(v, s->k, kind != NULL ? kind : n == 0 ? "empty" :
	    "unknown");
	if (kind == NULL) {
		bk_err_set(&err, BK_EXIT_CHECK, n == 0 ? "empty: no data where "
		    "a backup should be" : "not a backup layer bk-verify "
		    "knows (age, gzip, pg_dump custom, plain SQL or tar)");
		layer_fail(v, s->k, &err);
		goto out;
	}
	if (strcmp(kind, "age") == 0 || strcmp(kind, "gzip") == 0) {
		decode(v, s->k, kind, s->fd, pre, (size_t)n);
		goto out;
	}
	if (v->o->tap != NULL && v->o->tap->start(v->o->tap->arg, kind, pre,
	    (size_t)n, &tfd, &err) < 0) {
		pthread_mutex_lock(&v->mu);
		v->tap_err = err;
		v->tap_failed = 1;
		pthread_mutex_unlock(&v->mu);
		tfd = -1;
	}
	if (strcmp(kind, "plain") == 0) {
		struct plain p;

		memset(&p, 0, sizeof(p));
		p.cluster = memcmp(pre, "--\n-- PostgreSQL database cluster",
		    32) == 0;
		if (pump(s->fd, pre, (size_t)n, plain_feed, &p, &tfd, &L->in,
		    &err) < 0 || plain_end(&p, "plain SQL", &err) < 0)
			layer_fail(v, s->k, &err);
		snprintf(L->detail, sizeof(L->detail), "pg_dump%s header and "
		    "\"dump complete\" footer", p.cluster ? "all" : "");
	} else if (strcmp(kind, "custom") == 0) {
		struct bk_pgdump *c = calloc(1, sizeof(*c));

		if (c == NULL || bk_pgdump_init(c, &err) < 0 ||
		    pump(s->fd, pre, (size_t)n, custom_feed, c, &tfd,
		    &L->in, &err) < 0 || bk_pgdump_end(c, &err) < 0)
			layer_fail(v, s->k, &err);
		else
			snprintf(L->detail, sizeof(L->detail), "pg_dump custom "
			    "archive %u.%u of %s: %llu TOC entries, %llu data "
			    "blocks, %llu large objects (%s)", c->st.vmaj,
			    c->st.vmin, c->st.dbname, (unsigned long long)
			    c->st.toc_entries, (unsigned long long)
			    c->st.data_blocks, (unsigned long long)
			    c->st.large_objects,
			    bk_pgdump_comp_name(c->st.compression));
		if (c != NULL)
			bk_pgdump_free(c);
		free(c);
	} else {
		struct tarck *t = calloc(1, sizeof(*t));
		char tkind[32] = "tar";

		if (t == NULL || pump(s->fd, pre, (size_t)n, tar_feed, t,
		    &tfd, &L->in, &err) < 0 || tar_end(t, tkind,
		    sizeof(tkind), &err) < 0)
			layer_fail(v, s->k, &err);
		else
			snprintf(L->detail, sizeof(L->detail), "%s", t->detail);
		if (t != NULL) {
			size_t i;

			for (i = 0; i < t->nfiles; i++)
				free(t->files[i].name);
			free(t->files);
			if (t->dump != NULL) {
				bk_pgdump_free(t->dump);
				free(t->dump);
			}
			free(t->manifest);
		}
		free(t);
	}
out:
	if (tfd >= 0)
		close(tfd);
	/* Read what is left, so that the layer before this one can end
	 * (its failure, if any, is its own). */
	{
		char sink[16384];

		while (read(s->fd, sink, sizeof(sink)) > 0)
			;
	}
	close(s->fd);
	return NULL;
}

/* --- the stream ----------------------------------------------------------- */

struct hasher {
	struct vctx	*v;
	int		 in;
	int		 out;
	struct bk_err	 err;
	int		 failed;
};

/* Read the raw stream, hash it, pass it on; at its end ask the seal. */
static void *
hash_run(void *arg)
{
	struct hasher *h = arg;
	struct bk_verify_report *r = h->v->r;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = malloc(CHUNK), d[32];
	int downstream = 1;
	ssize_t n;
	unsigned i;

	if (md == NULL || buf == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		bk_err_set(&h->err, BK_EXIT_RUNTIME, "out of memory");
		h->failed = 1;
		goto out;
	}
	while ((n = bk_io_read_full(h->in, buf, CHUNK, "stdin", &h->err)) >
	    0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		r->size += (uint64_t)n;
		/* Once the layers gave up, go on reading: the hash and
		 * size are of the whole stream. */
		if (downstream && bk_io_write_all(h->out, buf, (size_t)n,
		    "pipe", &h->err) < 0)
			downstream = 0;
	}
	if (n < 0) {
		h->failed = 1;
		goto out;
	}
	EVP_DigestFinal_ex(md, d, NULL);
	for (i = 0; i < 32; i++)
		snprintf(r->sha256 + 2 * i, 3, "%02x", d[i]);
	r->upstream = BK_SEAL_NONE;
	if (h->v->o->at_eof != NULL && h->v->o->at_eof(h->v->o->at_eof_arg,
	    &r->upstream, &h->err) < 0)
		h->failed = 1;
out:
	close(h->out);
	EVP_MD_CTX_free(md);
	free(buf);
	return NULL;
}

int
bk_verify(int fd, const struct bk_verify_opts *o, struct bk_verify_report *r)
{
	struct vctx v;
	struct hasher h;
	struct stage s0;
	pthread_t tid;
	int p[2];
	unsigned k;

	memset(r, 0, sizeof(*r));
	memset(&h, 0, sizeof(h));
	memset(&v, 0, sizeof(v));
	v.o = o;
	v.r = r;
	pthread_mutex_init(&v.mu, NULL);
	if (pipe2(p, O_CLOEXEC) < 0) {
		r->code = BK_EXIT_RUNTIME;
		snprintf(r->msg, sizeof(r->msg), "pipe: %s", strerror(errno));
		return r->code;
	}
	fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
	h.v = &v;
	h.in = fd;
	h.out = p[1];
	if (pthread_create(&tid, NULL, hash_run, &h) != 0) {
		close(p[0]);
		close(p[1]);
		r->code = BK_EXIT_RUNTIME;
		snprintf(r->msg, sizeof(r->msg), "cannot start a thread");
		return r->code;
	}
	s0.v = &v;
	s0.k = 0;
	s0.fd = p[0];
	stage_run(&s0);
	pthread_join(tid, NULL);
	pthread_mutex_destroy(&v.mu);

	/* The verdict: the stream itself, the seal, then the first layer
	 * that failed on its own account. */
	if (h.failed) {
		r->code = h.err.code ? h.err.code : BK_EXIT_RUNTIME;
		snprintf(r->msg, sizeof(r->msg), "%s", h.err.msg);
	} else if (r->upstream == BK_SEAL_FAILED) {
		r->code = BK_EXIT_UPSTREAM;
		snprintf(r->msg, sizeof(r->msg), "upstream failed: the stream "
		    "is incomplete");
	}
	for (k = 0; r->code == 0 && k < r->n; k++)
		if (r->layer[k].failed == 1) {
			r->code = r->layer[k].err.code == BK_EXIT_CHECK ? 1 :
			    r->layer[k].err.code == BK_EXIT_UPSTREAM ? 4 : 3;
			snprintf(r->msg, sizeof(r->msg), "%s: %s",
			    r->layer[k].name, r->layer[k].err.msg);
			break;
		}
	/* The restore test: told how the check went, it cleans up and
	 * reports; a backup that checks out but does not restore is bad. */
	if (o->tap != NULL) {
		struct bk_err e;
		int ok = r->code == 0 && !v.tap_failed;

		if (v.tap_failed) {
			e = v.tap_err;
			o->tap->end(o->tap->arg, 0, r->restore,
			    sizeof(r->restore), &v.tap_err);
		} else if (o->tap->end(o->tap->arg, r->code == 0 ? 1 : 0,
		    r->restore, sizeof(r->restore), &e) < 0) {
			ok = 0;
		}
		if (!ok && r->code == 0) {
			r->code = e.code == BK_EXIT_CHECK ? 1 : 3;
			snprintf(r->msg, sizeof(r->msg), "restore test: %.480s",
			    e.msg);
		}
	}
	return r->code;
}
