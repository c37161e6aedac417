/*
 * s3put.h - store a stream of unknown length as one S3 object.
 *
 * A stream shorter than the first part goes up in one PUT.  A longer one
 * is a multipart upload: parts of 6 MiB, doubling every 1,000 parts (so
 * that 10,000 parts reach 5.8 TiB), or one fixed size; several parts in
 * flight on their own connections; memory bounded by (jobs + 1) x part
 * size.  The upload is completed only at a clean end of input whose
 * upstream did not fail (the seal); on any failure, on the part limit and
 * when cancelled (bk_s3_cancel) it is aborted, so no object appears and no
 * upload is left behind.
 *
 * The stream's size, SHA-256 and seal state are recorded with it.  A
 * single PUT carries them as object metadata (x-amz-meta-bk-size,
 * -bk-sha256, -bk-seal).  A multipart upload cannot: S3 takes metadata
 * when the upload starts, long before the stream's end, and setting it
 * afterwards means copying the whole object (twice the time, and twice
 * the storage under object lock).  So a multipart object gets a
 * companion, KEY.sha256, written right after it: one line that
 * sha256sum -c reads, and the same metadata.  If the companion cannot be
 * written the object is deleted again: nothing unrecorded is left.
 */
#ifndef BK_S3PUT_H
#define BK_S3PUT_H

#include <stdint.h>

#include "err.h"
#include "s3.h"
#include "seal.h"

#define BK_S3PUT_PART0		(6ULL << 20)	/* first part size */
#define BK_S3PUT_DOUBLE		1000		/* parts per size step */
#define BK_S3PUT_RECORD		".sha256"	/* companion of a multipart object */

enum bk_s3put_clobber {
	BK_S3PUT_CLOBBER = 0,		/* overwrite */
	BK_S3PUT_NOCLOBBER,		/* conditional write, or refuse */
	BK_S3PUT_NOCLOBBER_CHECK	/* conditional, else check first */
};

struct bk_s3put_opts {
	uint64_t			 part_size;	/* fixed; 0: growing */
	uint64_t			 expected_size;	/* hint; 0: none */
	unsigned			 jobs;		/* parts in flight */
	const struct bk_sigv4_header	*headers;	/* storage class, SSE,
							 * lock, user meta */
	size_t				 nheaders;
	enum bk_s3put_clobber		 clobber;
	int				 content_md5;	/* object lock needs it */
	/* Under no-clobber: an object already there whose user metadata
	 * same_meta has the value same_value is the same content: store
	 * nothing, succeed (res->skipped). */
	const char			*same_meta;	/* e.g. "wal-sha256" */
	const char			*same_value;
	/* The user metadata, also among headers as x-amz-meta-KEY (a
	 * file gets them as extended attributes user.meta.KEY). */
	const char *const		*meta_keys;
	const char *const		*meta_values;
	size_t				 nmeta;
};

struct bk_s3put_result {
	uint64_t		 size;
	char			 sha256[65];
	enum bk_seal_state	 seal;
	unsigned		 parts;		/* 0: a single PUT */
	uint64_t		 part_size;	/* the largest used */
	int			 skipped;	/* the same object was there */
};

/* Called at a clean end of input: how the upstream ended. */
typedef int	(*bk_s3put_eof_fn)(void *arg, enum bk_seal_state *state,
	    struct bk_err *err);

/* Called with the bytes read, for a progress meter; may be NULL. */
typedef void	(*bk_s3put_progress_fn)(void *arg, uint64_t n);

/*
 * The part size for part number n (1-based) under o.  Returns 0 if n is
 * past the limit.
 */
uint64_t	bk_s3put_part_size(const struct bk_s3put_opts *o, unsigned n);

/*
 * Read fd to end of file and store it at bucket/key.  Returns 0 with res
 * filled once the object is committed (or, with o->same_meta, found there
 * already: res->skipped, the input read to its end and the upstream's
 * success checked all the same); -1 with err otherwise (then no
 * object was committed by this call, and its multipart upload, if any,
 * was aborted): BK_EXIT_UPSTREAM when the upstream failed, BK_EXIT_CHECK
 * when the object exists under no-clobber, BK_EXIT_RUNTIME for I/O and
 * server failures.
 */
/*
 * The same content is stored at where already (o->same_meta): read fd to
 * its end, so that the stages before end as they would, and check the
 * upstream's outcome.  Returns 0 with res->skipped (and res->size, the
 * bytes read), or -1 with err: BK_EXIT_UPSTREAM when the upstream failed.
 */
int	bk_s3put_skip(int fd, const char *where, bk_s3put_eof_fn eof,
	    void *eofarg, bk_s3put_progress_fn progress, void *parg,
	    struct bk_s3put_result *res, struct bk_err *err);

/*
 * The answers bk_s3put() reads.  bk_s3put_upload_id: the UploadId of an
 * InitiateMultipartUploadResult document into id (size bytes, NUL
 * ended); 0, or -1 if there is none, it is empty or does not fit, or the
 * document is not well formed.  bk_s3put_completed: 1 if a 200 answer to
 * CompleteMultipartUpload is a whole XML document whose root is not
 * <Error> (S3 may send its error, or die, after the 200), else 0.
 */
int	bk_s3put_upload_id(const char *doc, size_t len, char *id,
	    size_t size);
int	bk_s3put_completed(const char *doc, size_t len);

int	bk_s3put(struct bk_aws *a, const char *bucket, const char *key, int fd,
	    const struct bk_s3put_opts *o, bk_s3put_eof_fn eof, void *eofarg,
	    bk_s3put_progress_fn progress, void *parg,
	    struct bk_s3put_result *res, struct bk_err *err);

#endif
