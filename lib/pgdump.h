/*
 * pgdump.h - a streaming checker of pg_dump's custom archive format
 * (pg_dump -Fc), as pg_dump writes it to a pipe: header, table of
 * contents (TOC), then one data block per TOC entry with data, in TOC
 * order.
 *
 * The checker is fed the archive in pieces of any size (push style, so
 * that it can sit behind a plain stream or a tar member) and checks every
 * field: magic, archive version (1.12 to 1.16: pg_dump 9.0 to 17), integer
 * and offset sizes, format, compression, creation time, each TOC entry
 * with the fields of its version, and each data block: that it belongs to
 * the next TOC entry with data, that its chunks are well formed and, for
 * zlib-compressed archives, that every compressed stream inflates
 * completely.  Nothing may follow the last block.  Errors name what is
 * wrong and the byte offset in the archive, e.g. "custom archive: offset
 * 12345: data block for dump id 77 missing".
 *
 * What the format cannot tell, and so passes: a changed byte in the text
 * of a header or TOC string (but OID and dependency strings must be
 * digits, descriptions capitals and digits, the with-oids flag "true" or
 * "false"); in uncompressed large object data; in uncompressed table
 * data, unless it became a NUL byte, which COPY text never holds; an
 * integer changed to another plausible value (a creation time field, the
 * zlib level, the dump id or section of an entry without data, a large
 * object's OID); the padding bits of a zlib stream's last deflate byte.
 * Everything else (lengths, counts, flags, offsets, block headers,
 * compressed data) is checked; the unit test flips each of its bits in
 * real dumps.
 *
 * Memory: about 1 KiB of state, 4 bytes per TOC entry and 16 per entry
 * with data (the dump ids, to match the data blocks), and for zlib
 * archives one inflate stream and a 16 KiB buffer (about 60 KiB).
 * Strings are skipped, keeping only a prefix of those that are reported.
 */
#ifndef BK_PGDUMP_H
#define BK_PGDUMP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define BK_PGDUMP_KEEP		64	/* bytes kept of a reported string */
/* The longest TOC string and data chunk accepted: under 1 GiB. */
#define BK_PGDUMP_STRMAX	((1U << 30) - 1)
#define BK_PGDUMP_CHUNKMAX	((1U << 30) - 1)

/* Compression of the data blocks (pg_dump's pg_compress_algorithm). */
enum bk_pgdump_comp {
	BK_PGDUMP_COMP_NONE = 0,
	BK_PGDUMP_COMP_GZIP = 1,	/* zlib streams ("gzip" in pg_dump) */
	BK_PGDUMP_COMP_LZ4 = 2,
	BK_PGDUMP_COMP_ZSTD = 3
};

/* What the archive holds; complete once bk_pgdump_end() succeeded. */
struct bk_pgdump_stats {
	unsigned	vmaj, vmin, vrev;	/* archive version: 1.14.0 */
	unsigned	intsize;	/* bytes of an integer (4) */
	unsigned	offsize;	/* bytes of a file offset (8) */
	int		compression;	/* enum bk_pgdump_comp */
	int		level;		/* zlib level of a pre-1.15 header, -1
					 * for zlib's default; 0 if none or
					 * not recorded (1.15+) */
	int		data_checked;	/* data decompressed and checked; 0
					 * for lz4 and zstd, whose chunks are
					 * checked but not decompressed */
	char		created[24];	/* "YYYY-MM-DD HH:MM:SS", the dumping
					 * host's local time */
	char		dbname[BK_PGDUMP_KEEP];	/* each truncated if longer */
	char		server_version[BK_PGDUMP_KEEP];
	char		pgdump_version[BK_PGDUMP_KEEP];
	uint64_t	toc_entries;	/* "TOC Entries" of pg_restore -l */
	uint64_t	data_expected;	/* TOC entries with a data block */
	uint64_t	data_blocks;	/* data blocks read */
	uint64_t	large_objects;	/* in BLOBS blocks */
	uint64_t	table_bytes;	/* table data, uncompressed (0 unless
					 * data_checked) */
	uint64_t	lo_bytes;	/* large object data, likewise */
	uint64_t	bytes;		/* archive bytes read */
};

/* A TOC entry that has data (private to pgdump.c). */
struct bk_pgdump_ent {
	int32_t		id;
	uint8_t		blobs;		/* its block is a BLOBS block */
	uint8_t		posset;		/* the TOC gives its offset: pos */
	uint64_t	pos;
};

/* Where bk_pgdump_rechunk() sends the archive; -1 with err to stop. */
typedef int (*bk_pgdump_out_fn)(void *arg, const void *buf, size_t n,
	    struct bk_err *err);

/* The size of the chunks bk_pgdump_rechunk() gathers data into. */
#define BK_PGDUMP_RECHUNK	(2 * 1024 * 1024)

/*
 * A checker.  Callers read st; the rest is its parsing state.
 */
struct bk_pgdump {
	struct bk_pgdump_stats st;

	/* rewriting (bk_pgdump_rechunk) */
	bk_pgdump_out_fn out;		/* NULL: check only */
	void		*out_arg;
	unsigned char	*rbuf;		/* data gathered for one chunk */
	size_t		 rlen;
	int		 posset;	/* a TOC entry records its offset */
	uint64_t	 held;		/* bytes held back, ever */

	int		field;		/* what is being read */
	int		failed;		/* an error was returned: */
	struct bk_err	ferr;		/* ... this one */
	uint64_t	off;		/* archive bytes consumed */
	uint64_t	item;		/* where the current item began */
	unsigned char	fix[16];	/* a fixed-size item being gathered */
	size_t		need, have;
	int64_t		num;		/* the last integer read */
	uint64_t	left;		/* bytes left of a string or chunk */
	size_t		slen;		/* the string's length */
	char		str[BK_PGDUMP_KEEP + 1];	/* its first bytes */
	int		sbad;		/* it broke its field's rules */
	int		count;		/* creation time fields read */
	int		tm[7];		/* ... and their values */

	/* the TOC */
	uint64_t	ntoc;		/* entries announced */
	uint64_t	itoc;		/* entries read */
	int32_t		cur_id;		/* the entry being read */
	int		cur_dumper;
	int		cur_blobs;
	int		maxsection;	/* pre-data, data, post-data so far */
	int32_t		*ids;		/* every dump id; sorted after TOC */
	size_t		nids, capids;
	struct bk_pgdump_ent *ents;	/* entries with data, in TOC order */
	size_t		nents, capents;

	/* the data blocks */
	size_t		next;		/* index in ents of the next block */
	int		blktype;
	int		lo;		/* inside a large object */
	uint64_t	*bytes_to;	/* st.table_bytes or st.lo_bytes */
	void		*z;		/* z_stream, for zlib archives */
	unsigned char	*zout;		/* inflate's output, discarded */
	int		zend;		/* the zlib stream reached its end */
};

/*
 * Prepare c for a new archive.  Returns 0 (c must then be freed with
 * bk_pgdump_free()), or -1 with err (BK_EXIT_RUNTIME).
 */
int	bk_pgdump_init(struct bk_pgdump *c, struct bk_err *err);

/*
 * Feed the next n bytes of the archive.  Returns 0, or -1 with err:
 * BK_EXIT_CHECK for anything wrong with the archive (the message says
 * what and at which offset; an unsupported version is named), or
 * BK_EXIT_RUNTIME when memory runs out.  After an error, further calls
 * fail with the same error.
 */
int	bk_pgdump_feed(struct bk_pgdump *c, const void *buf, size_t n,
	    struct bk_err *err);

/*
 * The archive ended: check that it is complete, i.e. that it did not stop
 * inside the header, the TOC or a block, and that every TOC entry with
 * data got its block.  Returns 0 (c->st is then complete), or -1 with err
 * (BK_EXIT_CHECK).
 */
int	bk_pgdump_end(struct bk_pgdump *c, struct bk_err *err);

/*
 * Rewrite mode, set right after bk_pgdump_init(): every byte fed is also
 * passed on to out, unchanged, except the data chunks of an uncompressed
 * archive.  pg_dump -Z0 writes a chunk, with its 5-byte length, for every
 * row of table data; gathered into chunks of BK_PGDUMP_RECHUNK bytes they
 * make the same archive for pg_restore (the chunks of a block are one
 * stream to it), a few percent shorter, and one that compresses as well
 * as the plain SQL dump does: the lengths are noise to a compressor.
 * Archives whose TOC records data offsets (written to a file, not a pipe)
 * and compressed ones are passed on as they are.  If feeding fails,
 * c->held says whether anything was held back: if not, everything
 * consumed (st.bytes) was passed on.  Returns 0, or -1 with err
 * (BK_EXIT_RUNTIME).
 */
int	bk_pgdump_rechunk(struct bk_pgdump *c, bk_pgdump_out_fn out,
	    void *arg, struct bk_err *err);

/* Release what c holds; c may be reused after bk_pgdump_init(). */
void	bk_pgdump_free(struct bk_pgdump *c);

/* The name of a compression (enum bk_pgdump_comp): "none", "gzip"... */
const char *bk_pgdump_comp_name(int comp);

#endif
