/*
 * listing.h - the listing line format: what bk-s3ls writes and what
 * bk-prune and bk-age read, so that any storage a user can list can be
 * pruned and monitored.
 *
 * One object per line, fields separated by single spaces:
 *
 *	TIME SIZE URL\n
 *	2026-11-21T02:00:13Z 1048576 s3://backups/mydb/mydb-20261121.dump.gz
 *
 * TIME is the last-modified time in UTC, exactly YYYY-MM-DDTHH:MM:SSZ,
 * from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z.  SIZE is the size in
 * bytes, decimal, without sign or leading zeros.  URL (s3://bucket/key,
 * file:///abs/path or a plain path) is the rest of the line: it may
 * contain blanks but not start with one, and never contains a control
 * character (bytes 0x00-0x1f and 0x7f; the lister skips such keys).  A
 * line is at most BK_LISTING_LINEMAX bytes with its newline, and every
 * line ends with one: a last line without it is a listing cut short.
 * The formatter writes only lines the parser reads back to the same
 * object, byte for byte.
 */
#ifndef BK_LISTING_H
#define BK_LISTING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "err.h"

#define BK_LISTING_LINEMAX	8192	/* bytes in a line, with its newline */
#define BK_LISTING_TIMELEN	20	/* strlen("2026-11-21T02:00:13Z") */

/* One object of a listing. */
struct bk_listing_obj {
	time_t		 time;		/* last modified, seconds since epoch */
	uint64_t	 size;		/* bytes */
	char		*url;		/* NUL-terminated */
};

/* A whole listing, in input order.  obj[0..n-1] and their URLs are owned
 * by the listing. */
struct bk_listing {
	struct bk_listing_obj	*obj;
	size_t			 n;
	size_t			 cap;
};

/* Make l an empty listing. */
void	bk_listing_init(struct bk_listing *l);

/* Free every URL and the array; l is left empty, ready for reuse. */
void	bk_listing_free(struct bk_listing *l);

/*
 * Append an object with a copy of url.  The object is not validated (the
 * formatter does that).  Returns 0, or -1 with err (BK_EXIT_RUNTIME) when
 * out of memory.
 */
int	bk_listing_add(struct bk_listing *l, time_t t, uint64_t size,
	    const char *url, struct bk_err *err);

/*
 * Format t as YYYY-MM-DDTHH:MM:SSZ into buf (at least
 * BK_LISTING_TIMELEN + 1 bytes).  Returns 0, or -1 with err
 * (BK_EXIT_CHECK) for a time outside the range above or a buffer too
 * small.
 */
int	bk_listing_fmt_time(time_t t, char *buf, size_t size,
	    struct bk_err *err);

/*
 * Parse a time field: exactly YYYY-MM-DDTHH:MM:SSZ in len bytes (s need
 * not be NUL-terminated), every field in range, a real calendar day (no
 * February 30), no leap second.  Returns 0 with *t set, or -1 with err
 * (BK_EXIT_CHECK, "time \"...\": why").
 */
int	bk_listing_parse_time(const char *s, size_t len, time_t *t,
	    struct bk_err *err);

/*
 * Format o as one listing line, newline included, NUL-terminated, into
 * buf.  An object the parser would refuse (time out of range, empty URL,
 * a URL starting with a blank or holding a control character, a line
 * longer than BK_LISTING_LINEMAX) is refused too.  Returns the length of
 * the line, or -1 with err (BK_EXIT_CHECK; also when buf is too small).
 */
int	bk_listing_format(const struct bk_listing_obj *o, char *buf,
	    size_t size, struct bk_err *err);

/*
 * Write o as one listing line to fp.  Returns 0, or -1 with err:
 * BK_EXIT_CHECK for an object that cannot be written (as above),
 * BK_EXIT_RUNTIME for a write error (err->sys is the errno, EPIPE when the
 * reader went away).  The caller checks fflush()/fclose() at the end.
 */
int	bk_listing_write(FILE *fp, const struct bk_listing_obj *o,
	    struct bk_err *err);

/*
 * Format o as one JSON object, {"time":"...","size":N,"url":"..."}, no
 * newline, NUL-terminated, into buf.  The URL is escaped per RFC 8259
 * (quote, backslash and control characters); it must be valid UTF-8,
 * since a JSON text cannot carry other bytes.  Returns the length, or -1
 * with err (BK_EXIT_CHECK: time out of range, URL not UTF-8, buf too
 * small).
 */
int	bk_listing_format_json(const struct bk_listing_obj *o, char *buf,
	    size_t size, struct bk_err *err);

/*
 * Write o to fp as one JSON object followed by a newline (JSON Lines).
 * Returns 0 or -1 with err, as bk_listing_write().
 */
int	bk_listing_write_json(FILE *fp, const struct bk_listing_obj *o,
	    struct bk_err *err);

/*
 * Parse one line: the len bytes at line, without the newline (line need
 * not be NUL-terminated).  On success fills o, with o->url allocated (the
 * caller frees it), and returns 0.  On error returns -1 with err
 * (BK_EXIT_CHECK) and a message starting "line LINENO: ", naming the
 * field and the problem; o is left untouched.
 */
int	bk_listing_parse_line(const char *line, size_t len,
	    unsigned long lineno, struct bk_listing_obj *o, struct bk_err *err);

/*
 * Read a whole listing from fd until end of file and append its objects
 * to l, in input order.  Every line must parse (see above); a blank line,
 * a line longer than BK_LISTING_LINEMAX and a last line without its
 * newline are errors.  Empty input is an empty listing.  what names the
 * input in messages ("stdin: line 3: ...").  Returns 0, or -1 with err:
 * BK_EXIT_CHECK for bad data, BK_EXIT_RUNTIME for a read error or no
 * memory.  On error l holds the objects read before the bad line; the
 * caller frees it either way.
 */
int	bk_listing_read(int fd, const char *what, struct bk_listing *l,
	    struct bk_err *err);

/* The same, reading from a stdio stream. */
int	bk_listing_read_file(FILE *fp, const char *what, struct bk_listing *l,
	    struct bk_err *err);

#endif
