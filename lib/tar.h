/*
 * tar.h - tar streams: writing member headers, and walking a tar stream
 * to pass it on without its end-of-archive blocks.
 *
 * Headers are POSIX ustar; a name longer than ustar allows or a size of
 * 8 GiB or more gets a pax extended header ('x') in front, which GNU tar,
 * bsdtar and Python's tarfile read.  Nothing here allocates.
 */
#ifndef BK_TAR_H
#define BK_TAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define BK_TAR_BLOCK	512
#define BK_TAR_NAMEMAX	1024		/* longest member name accepted */
#define BK_TAR_HDRMAX	(8 * BK_TAR_BLOCK) /* room for any header */

struct bk_tar_entry {
	const char	*name;		/* member name, no leading "/" */
	uint64_t	 size;		/* data bytes that follow the header */
	unsigned	 mode;		/* permission bits, e.g. 0600 */
	char		 type;		/* '0' regular file, '5' directory */
	uint32_t	 uid;
	uint32_t	 gid;
	const char	*uname;		/* owner name, or NULL */
	const char	*gname;		/* group name, or NULL */
	int64_t		 mtime;		/* seconds since the epoch */
};

/*
 * Write the header(s) for e into buf (size bytes, BK_TAR_HDRMAX is always
 * enough): one ustar block, preceded by a pax extended header when the
 * name or the size does not fit ustar.  Returns the number of bytes
 * written (a multiple of BK_TAR_BLOCK), or -1 with err (BK_EXIT_RUNTIME)
 * for an empty or too long name or a buffer too small.
 */
ssize_t	bk_tar_header(const struct bk_tar_entry *e, unsigned char *buf,
	    size_t size, struct bk_err *err);

/* The number of zero bytes that pad size data bytes to a whole block. */
size_t	bk_tar_pad(uint64_t size);

/*
 * Where a walk sends the bytes it passes on: return 0, or -1 with err.
 */
typedef int (*bk_tar_out_fn)(void *arg, const void *buf, size_t n,
	    struct bk_err *err);

/*
 * A tar stream walker.  It is fed a tar archive in pieces of any size and
 * passes every member (headers, data, padding) to out, unchanged, but
 * holds back the end-of-archive marker (the zero blocks) and checks that
 * nothing but zeros follows it, so that more members can be appended to
 * the output.  It checks each header's checksum and remembers the owner
 * of the first member.  Memory: one block.
 */
struct bk_tar_walk {
	unsigned char	hdr[BK_TAR_BLOCK];
	size_t		have;		/* header bytes collected */
	uint64_t	left;		/* data + padding left in this member */
	int		ended;		/* the end-of-archive block was seen */
	uint64_t	offset;		/* input bytes consumed */
	uint64_t	members;	/* headers passed on */
	int		owner_set;	/* uid..gname below are valid */
	uint32_t	uid;
	uint32_t	gid;
	char		uname[33];
	char		gname[33];
};

/* Prepare w for a new archive. */
void	bk_tar_walk_init(struct bk_tar_walk *w);

/*
 * Feed n bytes of the archive.  Returns 0, or -1 with err: the error of
 * out, or BK_EXIT_RUNTIME for a header with a bad checksum or size, or
 * non-zero data after the end-of-archive marker (the message says where).
 */
int	bk_tar_walk_feed(struct bk_tar_walk *w, const void *buf, size_t n,
	    bk_tar_out_fn out, void *arg, struct bk_err *err);

/*
 * The archive ended: check that it did not stop inside a header or a
 * member.  Returns 0, or -1 with err (BK_EXIT_RUNTIME, "truncated").
 */
int	bk_tar_walk_end(const struct bk_tar_walk *w, struct bk_err *err);

/*
 * Parse a numeric header field (octal, space or NUL terminated, or GNU
 * base-256 when the first byte has its high bit set).  Returns 0 and
 * sets *v, or -1 if the field is not a number.
 */
int	bk_tar_number(const unsigned char *field, size_t len, uint64_t *v);

#endif
