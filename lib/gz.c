/*
 * gz.c - gzip streams: parallel compression, decompression and testing.
 *
 * Compression (after pigz): the main thread reads the input in blocks into
 * a ring of slots; worker threads deflate each block as raw deflate data,
 * primed with the last 32 KiB of the block before it and ending on a byte
 * boundary, so that the blocks join into one deflate stream (levels 4 to
 * 9 with deflate.c's encoder, 1 to 3 with zlib's); a writer thread
 * writes them in order and folds their CRC-32s together.  At end of input
 * the stream is finished with an empty final block and the gzip trailer,
 * unless the upstream failed.
 *
 * Decompression: the main thread reads, parses gzip headers and inflates
 * into a ring of output buffers; a writer thread computes the CRC-32 and
 * writes, so that checksumming and output overlap with inflating.
 *
 * Memory in both directions is a fixed number of fixed-size buffers.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "cli.h"
#include "crc32.h"
#include "deflate.h"
#include "gz.h"
#include "io.h"
#include "progress.h"

#define DICT		32768		/* deflate window */
#define GZ_HEADER	10
#define GZ_TRAILER	8

void
bk_gz_opts_init(struct bk_gz_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->level = 6;
	o->threads = bk_cli_ncpu();
	o->block = BK_GZ_BLOCK_DEFAULT;
	o->in = 0;
	o->out = 1;
}

static void
put32le(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t
get32le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Ask the caller's at_eof hook how the upstream ended. */
static int
upstream_state(const struct bk_gz_opts *o, struct bk_gz_stats *st,
    struct bk_err *err)
{
	st->upstream = BK_SEAL_NONE;
	if (o->at_eof != NULL &&
	    o->at_eof(o->at_eof_arg, &st->upstream, err) < 0)
		return -1;
	if (st->upstream == BK_SEAL_FAILED)
		return bk_err_set(err, BK_EXIT_UPSTREAM,
		    "upstream failed: the input is incomplete");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Compression */

enum slot_state { S_FREE, S_FILLED, S_BUSY, S_DONE };

struct cslot {
	enum slot_state	 state;
	unsigned char	*in;		/* DICT bytes of dictionary, then data */
	size_t		 dictlen;
	size_t		 len;
	unsigned char	*out;
	size_t		 outcap;
	size_t		 outlen;
	uint32_t	 crc;
};

struct cz {
	const struct bk_gz_opts *o;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* any state change */
	struct cslot	*slots;
	unsigned	 nslots;
	uint64_t	 filled;	/* blocks read so far */
	uint64_t	 taken;		/* blocks handed to workers */
	int		 eof;		/* no more blocks will be read */
	int		 failed;	/* stop everything */
	bk_io_read_fn	 rd;		/* how the input is read (io.h) */
	struct bk_err	 err;		/* the first failure */
	uint32_t	 crc;		/* of the whole input */
	uint64_t	 out;		/* bytes written */
};

static void
cz_fail(struct cz *z, const struct bk_err *e)
{
	pthread_mutex_lock(&z->mu);
	if (!z->failed) {
		z->failed = 1;
		z->err = *e;
	}
	pthread_cond_broadcast(&z->cv);
	pthread_mutex_unlock(&z->mu);
}

/* Deflate one slot's block with strm: raw deflate, primed with the
 * dictionary, ending on a byte boundary so that the next block's output
 * can follow it.  A sync flush would get there by appending an empty
 * stored block, 4 to 5 bytes; when the last block ends an even number of
 * bits short of a byte, one to three empty fixed-code blocks (10 bits
 * each) get there in fewer, and when it ends on the boundary nothing is
 * needed.  On data that compresses 35:1 that is most of what splitting
 * into blocks costs. */
static int
byte_align(z_stream *strm)
{
	int bits, rc;

	if (deflatePending(strm, NULL, &bits) != Z_OK)
		return Z_STREAM_ERROR;
	if (bits & 1)
		return deflate(strm, Z_SYNC_FLUSH);
	if (bits == 0)
		return Z_OK;
	while (bits & 7) {
		/* BFINAL 0, BTYPE 01, then the 7-bit end-of-block code. */
		if ((rc = deflatePrime(strm, 10, 2)) != Z_OK)
			return rc;
		if (deflatePending(strm, NULL, &bits) != Z_OK)
			return Z_STREAM_ERROR;
	}
	/* Now only whole bytes are pending: this moves them out.  With no
	 * new input zlib calls a second flush of the same kind an error,
	 * having done all there was to do. */
	rc = deflate(strm, Z_BLOCK);
	return rc == Z_BUF_ERROR ? Z_OK : rc;
}

static int
deflate_block(z_stream *strm, struct bk_deflate *own, struct cslot *s,
    struct bk_err *err)
{
	int rc;

	s->crc = bk_crc32(0, s->in + DICT, s->len);
	if (own != NULL) {
		s->outlen = bk_deflate_block(own, s->in + DICT - s->dictlen,
		    s->dictlen, s->len, s->out);
		return 0;
	}
	if (deflateReset(strm) != Z_OK)
		return bk_err_set(err, BK_EXIT_RUNTIME, "deflate: reset failed");
	if (s->dictlen > 0 && deflateSetDictionary(strm, s->in + DICT -
	    s->dictlen, (uInt)s->dictlen) != Z_OK)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "deflate: dictionary refused");
	strm->next_in = s->in + DICT;
	strm->avail_in = (uInt)s->len;
	strm->next_out = s->out;
	strm->avail_out = (uInt)s->outcap;
	/* outcap is above deflateBound() plus the padding, so one call
	 * always consumes the whole block. */
	rc = deflate(strm, Z_BLOCK);
	if (rc == Z_OK && strm->avail_in == 0 && strm->avail_out > 0)
		rc = byte_align(strm);
	if (rc != Z_OK || strm->avail_in != 0 || strm->avail_out == 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "deflate: %s",
		    strm->msg ? strm->msg : "internal error");
	s->outlen = s->outcap - strm->avail_out;
	return 0;
}

static void *
cz_worker(void *arg)
{
	struct cz *z = arg;
	struct bk_err e;
	struct cslot *s;
	struct bk_deflate *own = NULL;
	z_stream strm;

	/* deflateEnd() of a stream never initialised does nothing. */
	memset(&strm, 0, sizeof(strm));
	if (z->o->level >= BK_DEFLATE_MIN ?
	    (own = bk_deflate_new(z->o->level)) == NULL :
	    deflateInit2(&strm, z->o->level, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		bk_err_set(&e, BK_EXIT_RUNTIME, "deflate: out of memory");
		cz_fail(z, &e);
		return NULL;
	}
	pthread_mutex_lock(&z->mu);
	for (;;) {
		while (!z->failed && z->taken == z->filled && !z->eof)
			pthread_cond_wait(&z->cv, &z->mu);
		if (z->failed || z->taken == z->filled)
			break;
		s = &z->slots[z->taken++ % z->nslots];
		s->state = S_BUSY;
		pthread_mutex_unlock(&z->mu);
		if (deflate_block(&strm, own, s, &e) < 0) {
			cz_fail(z, &e);
			pthread_mutex_lock(&z->mu);
			break;
		}
		pthread_mutex_lock(&z->mu);
		s->state = S_DONE;
		pthread_cond_broadcast(&z->cv);
	}
	pthread_mutex_unlock(&z->mu);
	deflateEnd(&strm);
	bk_deflate_free(own);
	return NULL;
}

static void *
cz_writer(void *arg)
{
	struct cz *z = arg;
	struct cslot *s;
	struct bk_err e;
	uint64_t seq;

	for (seq = 0;; seq++) {
		pthread_mutex_lock(&z->mu);
		s = &z->slots[seq % z->nslots];
		while (!z->failed && !(seq < z->filled && s->state == S_DONE) &&
		    !(z->eof && seq == z->filled))
			pthread_cond_wait(&z->cv, &z->mu);
		if (z->failed || seq == z->filled) {
			pthread_mutex_unlock(&z->mu);
			return NULL;
		}
		pthread_mutex_unlock(&z->mu);
		if (z->o->out >= 0 && bk_io_write_all(z->o->out, s->out,
		    s->outlen, "output", &e) < 0) {
			cz_fail(z, &e);
			return NULL;
		}
		z->out += s->outlen;
		z->crc = (uint32_t)crc32_combine(z->crc, s->crc,
		    (z_off_t)s->len);
		pthread_mutex_lock(&z->mu);
		s->state = S_FREE;
		pthread_cond_broadcast(&z->cv);
		pthread_mutex_unlock(&z->mu);
	}
}

/* Read blocks into slots until end of input or failure.  Returns the
 * number of input bytes, or -1 (z->failed is set). */
static int
cz_read(struct cz *z, uint64_t *total)
{
	const struct bk_gz_opts *o = z->o;
	struct cslot *s, *prev = NULL;
	struct bk_err e;
	ssize_t n;

	*total = 0;
	for (;;) {
		pthread_mutex_lock(&z->mu);
		s = &z->slots[z->filled % z->nslots];
		while (!z->failed && s->state != S_FREE)
			pthread_cond_wait(&z->cv, &z->mu);
		if (z->failed) {
			pthread_mutex_unlock(&z->mu);
			return -1;
		}
		pthread_mutex_unlock(&z->mu);
		n = z->rd(o->in, s->in + DICT, o->block, "input", &e);
		if (n < 0) {
			cz_fail(z, &e);
			return -1;
		}
		if (n == 0)
			return 0;
		s->len = (size_t)n;
		/* The previous slot is not refilled before this one is, so
		 * its data is still there to copy the dictionary from. */
		s->dictlen = 0;
		if (prev != NULL) {
			memcpy(s->in, prev->in + DICT + prev->len - DICT, DICT);
			s->dictlen = DICT;
		}
		*total += (uint64_t)n;
		if (o->progress != NULL)
			bk_progress_add(o->progress, (uint64_t)n);
		pthread_mutex_lock(&z->mu);
		s->state = S_FILLED;
		z->filled++;
		pthread_cond_broadcast(&z->cv);
		pthread_mutex_unlock(&z->mu);
		if ((size_t)n < o->block)
			return 0;
		prev = s;
	}
}

static int
cz_alloc(struct cz *z, struct bk_err *err)
{
	z_stream strm;
	size_t bound;
	unsigned i;

	/* The most a block's output can take: deflate.c's bound at its
	 * levels; at zlib's, deflateBound() of a raw stream plus the sync
	 * flush's empty stored block. */
	if (z->o->level >= BK_DEFLATE_MIN) {
		bound = bk_deflate_bound(z->o->block);
	} else {
		memset(&strm, 0, sizeof(strm));
		if (deflateInit2(&strm, z->o->level, Z_DEFLATED, -15, 8,
		    Z_DEFAULT_STRATEGY) != Z_OK)
			return bk_err_set(err, BK_EXIT_RUNTIME,
			    "deflate: out of memory");
		bound = deflateBound(&strm, (uLong)z->o->block) + 16;
		deflateEnd(&strm);
	}
	z->slots = calloc(z->nslots, sizeof(*z->slots));
	if (z->slots == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "compress");
	for (i = 0; i < z->nslots; i++) {
		z->slots[i].in = malloc(DICT + z->o->block);
		z->slots[i].out = malloc(bound);
		z->slots[i].outcap = bound;
		if (z->slots[i].in == NULL || z->slots[i].out == NULL)
			return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM,
			    "compress");
	}
	return 0;
}

static void
cz_free(struct cz *z)
{
	unsigned i;

	if (z->slots != NULL)
		for (i = 0; i < z->nslots; i++) {
			free(z->slots[i].in);
			free(z->slots[i].out);
		}
	free(z->slots);
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->cv);
}

int
bk_gz_compress(const struct bk_gz_opts *o, struct bk_gz_stats *st,
    struct bk_err *err)
{
	unsigned char head[GZ_HEADER] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	unsigned char tail[2 + GZ_TRAILER] = { 0x03, 0x00 };
	pthread_t *workers, writer;
	unsigned nworkers = 0, i;
	struct cz z;
	uint64_t in = 0;
	int rc = -1, writer_up = 0;

	memset(st, 0, sizeof(*st));
	memset(&z, 0, sizeof(z));
	z.o = o;
	z.nslots = 2 * o->threads + 2;
	z.rd = bk_io_reader(o->in);
	pthread_mutex_init(&z.mu, NULL);
	pthread_cond_init(&z.cv, NULL);
	workers = calloc(o->threads, sizeof(*workers));
	if (workers == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "compress");
		goto out;
	}
	if (cz_alloc(&z, err) < 0)
		goto out;

	head[8] = o->level == 9 ? 2 : o->level == 1 ? 4 : 0;
	if (o->out >= 0 && bk_io_write_all(o->out, head, sizeof(head),
	    "output", err) < 0)
		goto out;
	z.out = sizeof(head);

	for (i = 0; i < o->threads; i++) {
		if (pthread_create(&workers[i], NULL, cz_worker, &z) != 0)
			break;
		nworkers++;
	}
	if (nworkers == 0 || pthread_create(&writer, NULL, cz_writer,
	    &z) != 0) {
		bk_err_set(&z.err, BK_EXIT_RUNTIME,
		    "compress: cannot start threads");
		z.failed = 1;
	} else
		writer_up = 1;

	if (!z.failed)
		cz_read(&z, &in);
	pthread_mutex_lock(&z.mu);
	z.eof = 1;
	pthread_cond_broadcast(&z.cv);
	pthread_mutex_unlock(&z.mu);

	/* The verdict on the upstream is taken while the last blocks are
	 * still being compressed; waiting for it costs nothing. */
	if (!z.failed && upstream_state(o, st, err) < 0)
		cz_fail(&z, err);
	/* The writer ends after the last block or on failure; idle workers
	 * end on eof, busy ones on failure. */
	if (writer_up)
		pthread_join(writer, NULL);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	if (z.failed) {
		*err = z.err;
		goto out;
	}

	/* An empty final block, then CRC-32 and length mod 2^32. */
	put32le(tail + 2, z.crc);
	put32le(tail + 6, (uint32_t)in);
	if (o->out >= 0 && bk_io_write_all(o->out, tail, sizeof(tail),
	    "output", err) < 0)
		goto out;
	z.out += sizeof(tail);
	rc = 0;
out:
	st->in = in;
	st->out = z.out;
	free(workers);
	cz_free(&z);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Decompression */

#define INBUF	(256 * 1024)
#define OUTBUF	(256 * 1024)
#define NOUT	4

struct obuf {
	int		 full;		/* handed to the writer */
	unsigned char	*data;
	size_t		 len;
	int		 member_end;	/* last buffer of a member */
	uint32_t	 want_crc;	/* ... whose trailer says this */
	unsigned	 member;
	uint64_t	 trailer_at;	/* input offset of that trailer */
};

struct dz {
	const struct bk_gz_opts *o;
	size_t		 prepos;	/* of o->pre, served first */
	struct bk_gz_stats *st;
	/* input */
	unsigned char	*in;
	size_t		 inpos, inlen;
	uint64_t	 consumed;	/* input offset of in[inpos] */
	int		 eof;
	/* output ring */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct obuf	 bufs[NOUT];
	unsigned	 head;		/* next buffer to fill */
	int		 done;		/* no more buffers */
	int		 failed;
	struct bk_err	 err;		/* the writer's failure */
};

/* Refill the input buffer when it is used up.  Returns 1 if bytes are
 * available, 0 at end of input, -1 on error. */
static int
dz_fill(struct dz *d, struct bk_err *err)
{
	ssize_t n;

	if (d->inpos < d->inlen)
		return 1;
	if (d->eof)
		return 0;
	d->consumed += d->inlen;
	d->inpos = d->inlen = 0;
	for (;;) {
		if (d->prepos < d->o->prelen) {
			/* bytes a caller peeked at come first */
			n = (ssize_t)(d->o->prelen - d->prepos < INBUF ?
			    d->o->prelen - d->prepos : INBUF);
			memcpy(d->in, (const unsigned char *)d->o->pre +
			    d->prepos, (size_t)n);
			d->prepos += (size_t)n;
			break;
		}
		n = read(d->o->in, d->in, INBUF);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
			    "read input");
	}
	if (n == 0) {
		d->eof = 1;
		return 0;
	}
	d->inlen = (size_t)n;
	d->st->in += (uint64_t)n;
	if (d->o->progress != NULL)
		bk_progress_add(d->o->progress, (uint64_t)n);
	return 1;
}

static uint64_t
dz_offset(const struct dz *d)
{
	return d->consumed + d->inpos;
}

/* End of input inside a member: blame the upstream if it failed. */
static int
dz_truncated(struct dz *d, const char *where, struct bk_err *err)
{
	if (upstream_state(d->o, d->st, err) < 0)
		return -1;
	return bk_err_set(err, BK_EXIT_CHECK,
	    "truncated input: unexpected end of data %s at offset %" PRIu64,
	    where, dz_offset(d));
}

/* Next input byte, for header and trailer parsing: 0-255, -1 at end of
 * input (err is not set), -2 on error. */
static int
dz_byte(struct dz *d, struct bk_err *err)
{
	int r = dz_fill(d, err);

	if (r <= 0)
		return r == 0 ? -1 : -2;
	return d->in[d->inpos++];
}

/* Read n header bytes into p (p may be NULL), adding them to *hcrc. */
static int
dz_bytes(struct dz *d, unsigned char *p, size_t n, uLong *hcrc,
    struct bk_err *err)
{
	unsigned char c;
	int b;

	while (n-- > 0) {
		if ((b = dz_byte(d, err)) < 0)
			return b == -2 ? -1 : dz_truncated(d, "in header",
			    err);
		c = (unsigned char)b;
		*hcrc = crc32(*hcrc, &c, 1);
		if (p != NULL)
			*p++ = c;
	}
	return 0;
}

/* Skip a NUL-terminated header field. */
static int
dz_zstring(struct dz *d, uLong *hcrc, struct bk_err *err)
{
	unsigned char c;

	do {
		if (dz_bytes(d, &c, 1, hcrc, err) < 0)
			return -1;
	} while (c != 0);
	return 0;
}

/*
 * Parse a gzip member header (the two magic bytes already read).
 * Returns 0, or -1 with err.
 */
static int
dz_header(struct dz *d, uint64_t start, struct bk_err *err)
{
	static const unsigned char magic[2] = { 0x1f, 0x8b };
	unsigned char h[8], x[2], c[2];
	uLong hcrc = crc32(crc32(0, NULL, 0), magic, 2);
	unsigned xlen;

	if (dz_bytes(d, h, 8, &hcrc, err) < 0)
		return -1;
	if (h[0] != 8)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "member at offset %" PRIu64 ": unknown compression method "
		    "%u", start, h[0]);
	if (h[1] & 0xe0)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "member at offset %" PRIu64 ": reserved header flags set",
		    start);
	if (h[1] & 4) {		/* FEXTRA */
		if (dz_bytes(d, x, 2, &hcrc, err) < 0)
			return -1;
		xlen = x[0] | (unsigned)x[1] << 8;
		if (dz_bytes(d, NULL, xlen, &hcrc, err) < 0)
			return -1;
	}
	if ((h[1] & 8) && dz_zstring(d, &hcrc, err) < 0)	/* FNAME */
		return -1;
	if ((h[1] & 16) && dz_zstring(d, &hcrc, err) < 0)	/* FCOMMENT */
		return -1;
	if (h[1] & 2) {		/* FHCRC: low 16 bits of the header's CRC */
		uLong want = hcrc & 0xffff;
		if (dz_bytes(d, c, 2, &hcrc, err) < 0)
			return -1;
		if ((c[0] | (unsigned)c[1] << 8) != want)
			return bk_err_set(err, BK_EXIT_CHECK,
			    "member at offset %" PRIu64 ": header CRC "
			    "mismatch", start);
	}
	return 0;
}

static void *
dz_writer(void *arg)
{
	struct dz *d = arg;
	struct obuf *b;
	struct bk_err e;
	unsigned i = 0;
	uLong crc = crc32(0, NULL, 0);

	for (;; i = (i + 1) % NOUT) {
		b = &d->bufs[i];
		pthread_mutex_lock(&d->mu);
		while (!b->full && !d->done && !d->failed)
			pthread_cond_wait(&d->cv, &d->mu);
		if (!b->full || d->failed) {
			pthread_mutex_unlock(&d->mu);
			return NULL;
		}
		pthread_mutex_unlock(&d->mu);
		crc = bk_crc32((uint32_t)crc, b->data, b->len);
		if (d->o->out >= 0 && b->len > 0 &&
		    bk_io_write_all(d->o->out, b->data, b->len, "output",
		    &e) < 0)
			goto fail;
		if (b->member_end) {
			if (crc != b->want_crc) {
				bk_err_set(&e, BK_EXIT_CHECK,
				    "member %u: CRC-32 mismatch (trailer at "
				    "offset %" PRIu64 " says %08" PRIx32
				    ", data gives %08lx)", b->member,
				    b->trailer_at, b->want_crc, crc);
				goto fail;
			}
			crc = crc32(0, NULL, 0);
		}
		pthread_mutex_lock(&d->mu);
		b->len = 0;
		b->member_end = 0;
		b->full = 0;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
	}
fail:
	pthread_mutex_lock(&d->mu);
	d->failed = 1;
	d->err = e;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* The buffer to inflate into next, once the writer has emptied it.
 * NULL if the writer failed. */
static struct obuf *
dz_take(struct dz *d)
{
	struct obuf *b = &d->bufs[d->head];

	pthread_mutex_lock(&d->mu);
	while (b->full && !d->failed)
		pthread_cond_wait(&d->cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
	return d->failed ? NULL : b;
}

static void
dz_give(struct dz *d, struct obuf *b)
{
	pthread_mutex_lock(&d->mu);
	b->full = 1;
	d->head = (d->head + 1) % NOUT;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* Inflate one member's deflate data and check its trailer.  Returns 0 or
 * -1 with err. */
static int
dz_member(struct dz *d, z_stream *strm, unsigned member, struct bk_err *err)
{
	unsigned char t[GZ_TRAILER];
	struct obuf *b = NULL;
	uint64_t size = 0;
	int rc, r, i, c;

	if (inflateReset(strm) != Z_OK)
		return bk_err_set(err, BK_EXIT_RUNTIME, "inflate: reset");
	for (;;) {
		if ((r = dz_fill(d, err)) < 0)
			return -1;
		if (r == 0)
			return dz_truncated(d, "in compressed data", err);
		if (b == NULL && (b = dz_take(d)) == NULL)
			return -1;
		strm->next_in = d->in + d->inpos;
		strm->avail_in = (uInt)(d->inlen - d->inpos);
		strm->next_out = b->data + b->len;
		strm->avail_out = (uInt)(OUTBUF - b->len);
		rc = inflate(strm, Z_NO_FLUSH);
		d->inpos = d->inlen - strm->avail_in;
		size += (OUTBUF - b->len) - strm->avail_out;
		b->len = OUTBUF - strm->avail_out;
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_DATA_ERROR)
			return bk_err_set(err, BK_EXIT_CHECK,
			    "corrupt data in member %u near offset %" PRIu64
			    ": %s", member, dz_offset(d),
			    strm->msg ? strm->msg : "invalid deflate data");
		if (rc == Z_MEM_ERROR)
			return bk_err_set(err, BK_EXIT_RUNTIME,
			    "inflate: out of memory");
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return bk_err_set(err, BK_EXIT_RUNTIME,
			    "inflate: error %d", rc);
		if (b->len == OUTBUF) {
			b->member_end = 0;
			dz_give(d, b);
			b = NULL;
		}
	}
	for (i = 0; i < GZ_TRAILER; i++) {
		if ((c = dz_byte(d, err)) < 0) {
			if (c == -2)
				return -1;
			return dz_truncated(d, "in trailer", err);
		}
		t[i] = (unsigned char)c;
	}
	if (get32le(t + 4) != (uint32_t)size)
		return bk_err_set(err, BK_EXIT_CHECK,
		    "member %u: length mismatch (trailer at offset %" PRIu64
		    " says %" PRIu32 ", data gives %" PRIu32 ")", member,
		    dz_offset(d) - GZ_TRAILER, get32le(t + 4),
		    (uint32_t)size);
	d->st->out += size;
	b->member_end = 1;
	b->want_crc = get32le(t);
	b->member = member;
	b->trailer_at = dz_offset(d) - GZ_TRAILER;
	dz_give(d, b);
	return 0;
}

static int
dz_run(struct dz *d, z_stream *strm, struct bk_err *err)
{
	uint64_t start;
	int c1, c2;

	for (;;) {
		start = dz_offset(d);
		if ((c1 = dz_byte(d, err)) == -2)
			return -1;
		if (c1 == -1) {
			if (d->st->members > 0)
				return upstream_state(d->o, d->st, err);
			if (upstream_state(d->o, d->st, err) < 0)
				return -1;
			return bk_err_set(err, BK_EXIT_CHECK,
			    "not in gzip format: empty input");
		}
		if ((c2 = dz_byte(d, err)) == -2)
			return -1;
		if (c1 != 0x1f || c2 != 0x8b) {
			if (d->st->members > 0)
				return bk_err_set(err, BK_EXIT_CHECK,
				    "trailing garbage after gzip data at "
				    "offset %" PRIu64, start);
			if (c2 == -1 && c1 == 0x1f)
				return dz_truncated(d, "in header", err);
			return bk_err_set(err, BK_EXIT_CHECK,
			    "not in gzip format");
		}
		if (dz_header(d, start, err) < 0)
			return -1;
		if (dz_member(d, strm, d->st->members + 1, err) < 0)
			return -1;
		d->st->members++;
	}
}

int
bk_gz_decompress(const struct bk_gz_opts *o, struct bk_gz_stats *st,
    struct bk_err *err)
{
	struct dz d;
	z_stream strm;
	pthread_t writer;
	int rc = -1, i, writer_up = 0, zup = 0;

	memset(st, 0, sizeof(*st));
	memset(&d, 0, sizeof(d));
	memset(&strm, 0, sizeof(strm));
	d.o = o;
	d.st = st;
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	d.in = malloc(INBUF);
	for (i = 0; i < NOUT; i++)
		d.bufs[i].data = malloc(OUTBUF);
	for (i = 0; i < NOUT; i++)
		if (d.bufs[i].data == NULL)
			break;
	if (d.in == NULL || i < NOUT) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "decompress");
		goto out;
	}
	if (inflateInit2(&strm, -15) != Z_OK) {
		bk_err_set(err, BK_EXIT_RUNTIME, "inflate: out of memory");
		goto out;
	}
	zup = 1;
	if (pthread_create(&writer, NULL, dz_writer, &d) != 0) {
		bk_err_set(err, BK_EXIT_RUNTIME,
		    "decompress: cannot start a thread");
		goto out;
	}
	writer_up = 1;
	rc = dz_run(&d, &strm, err);

	pthread_mutex_lock(&d.mu);
	if (rc < 0)
		d.failed = 1;
	d.done = 1;
	pthread_cond_broadcast(&d.cv);
	pthread_mutex_unlock(&d.mu);
	pthread_join(writer, NULL);
	writer_up = 0;
	/* A failure seen by the writer (a CRC mismatch, a write error)
	 * comes first: it concerns data before the reader's failure. */
	if (d.failed && d.err.code != 0) {
		*err = d.err;
		rc = -1;
	}
out:
	if (writer_up) {
		pthread_mutex_lock(&d.mu);
		d.failed = 1;
		pthread_cond_broadcast(&d.cv);
		pthread_mutex_unlock(&d.mu);
		pthread_join(writer, NULL);
	}
	if (zup)
		inflateEnd(&strm);
	free(d.in);
	for (i = 0; i < NOUT; i++)
		free(d.bufs[i].data);
	pthread_mutex_destroy(&d.mu);
	pthread_cond_destroy(&d.cv);
	return rc;
}
