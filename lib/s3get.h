/*
 * s3get.h - read one stored object back, checked.
 *
 * The object comes from s3:// (a streaming GET that resumes with a Range
 * request, pinned to the same object by its ETag, when the connection
 * breaks) or from a file.  Its bytes go to stdout or, atomically, to a
 * file; their size and SHA-256 are checked against what bk-s3put
 * recorded (object metadata, or extended attributes of a file).
 */
#ifndef BK_S3GET_H
#define BK_S3GET_H

#include <stdint.h>

#include "aws.h"
#include "err.h"
#include "progress.h"

struct bk_s3get_result {
	char		*url;		/* what was read (--latest picks it) */
	uint64_t	 size;
	char		 sha256[65];
	int		 checked;	/* a record existed and matched */
	char		 seal[16];	/* the recorded seal state, or "" */
};

/*
 * Read loc (s3://, file:// or a path; with latest, the newest object
 * under that prefix) to stdout, or to out written atomically (a temp
 * file in its directory, fsync, rename; nothing at out on failure).
 * aws is used for s3:// only.  Returns 0, or -1 with err: BK_EXIT_CHECK
 * for a missing object or a size or SHA-256 that does not match the
 * record, BK_EXIT_RUNTIME for I/O and server failures, BK_EXIT_USAGE for
 * a bad location.  Free res with bk_s3get_result_free() in any case.
 */
int	bk_s3get(const char *loc, const struct bk_aws_opts *aws, int latest,
	    const char *out, struct bk_progress *prog,
	    struct bk_s3get_result *res, struct bk_err *err);
void	bk_s3get_result_free(struct bk_s3get_result *res);

#endif
