/*
 * gz.h - gzip streams: parallel compression, decompression and testing.
 *
 * Compression splits the input into blocks that are deflated on several
 * threads, each primed with the last 32 KiB of the block before it (as
 * pigz does), and joined into one gzip member: the output is an ordinary
 * gzip stream that gzip, pigz and zlib read.  Decompression reads any
 * number of concatenated members and refuses anything after the last one.
 * Memory is bounded whatever the length of the stream.
 */
#ifndef BK_GZ_H
#define BK_GZ_H

#include <stdint.h>

#include "err.h"
#include "seal.h"

struct bk_progress;

/*
 * Called at end of input, before the stream is finished (the last deflate
 * block and the trailer on compression; the verdict on decompression):
 * fill *state with the upstream seal state (seal.h) and return 0, or -1
 * with err.  A BK_SEAL_FAILED state stops the stream unfinished: nothing
 * more is written and the call fails with BK_EXIT_UPSTREAM.
 */
typedef bk_seal_eof_fn bk_gz_eof_fn;

struct bk_gz_opts {
	int		 level;		/* 1-9 */
	unsigned	 threads;	/* compression threads, >= 1 */
	size_t		 block;		/* input block size for compression */
	int		 in;		/* input fd */
	int		 out;		/* output fd, -1 to discard (test) */
	bk_gz_eof_fn	 at_eof;	/* may be NULL (treated as NONE) */
	void		*at_eof_arg;
	struct bk_progress *progress;	/* input bytes, may be NULL */
	const void	*pre;		/* decompression: bytes already read
					 * from in, taken before it (a peek) */
	size_t		 prelen;
};

struct bk_gz_stats {
	uint64_t	in;		/* bytes read */
	uint64_t	out;		/* bytes written (or that would be) */
	unsigned	members;	/* gzip members read (decompression) */
	enum bk_seal_state upstream;	/* as reported by at_eof */
};

#define BK_GZ_BLOCK_DEFAULT	(1024 * 1024)
#define BK_GZ_BLOCK_MIN		(32 * 1024)
#define BK_GZ_BLOCK_MAX		(64 * 1024 * 1024)

/* Fill o with defaults: level 6, all CPUs, default block, fds 0 and 1. */
void	bk_gz_opts_init(struct bk_gz_opts *o);

/*
 * Compress o->in to o->out as one gzip member.  Returns 0, or -1 with err:
 * BK_EXIT_RUNTIME for I/O and resource failures, BK_EXIT_UPSTREAM when
 * at_eof reported a failed upstream (the member is then left without its
 * final block and trailer, so that no reader takes it as complete).
 */
int	bk_gz_compress(const struct bk_gz_opts *o, struct bk_gz_stats *st,
	    struct bk_err *err);

/*
 * Decompress o->in to o->out (o->out == -1: test only).  Every member's
 * header, deflate data, CRC-32 and length are checked; data after the last
 * member, an empty input and a truncated stream are errors.  Returns 0, or
 * -1 with err: BK_EXIT_CHECK for a corrupt or truncated stream (the
 * message says what and at which input offset), BK_EXIT_RUNTIME for I/O,
 * BK_EXIT_UPSTREAM when the upstream failed.
 */
int	bk_gz_decompress(const struct bk_gz_opts *o, struct bk_gz_stats *st,
	    struct bk_err *err);

#endif
