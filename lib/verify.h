/*
 * verify.h - peel a backup stream layer by layer and check each layer.
 *
 * Layers are told by their content, not by a name: age (binary or
 * armored), gzip, and the payload under them: a pg_dump custom archive,
 * a plain SQL dump (of a database or of the globals), or a tar stream (a
 * pg_dump tar archive, a bk-dump --all archive of custom dumps, or a
 * bk-dump --physical base backup).  Every layer runs on its own thread,
 * joined to the next by a pipe, so memory stays bounded whatever the
 * length of the stream.  The first failure in stream order is the one
 * reported: a broken outer layer makes every inner one fail too.
 */
#ifndef BK_VERIFY_H
#define BK_VERIFY_H

#include <stdint.h>

#include "age.h"
#include "err.h"
#include "seal.h"

#define BK_VERIFY_LAYERS	8

struct bk_verify_layer {
	char		name[16];	/* "age", "gzip", "custom", ... */
	uint64_t	in;		/* bytes the layer read */
	uint64_t	out;		/* bytes it gave the next one */
	char		detail[200];	/* what it found, for -v */
	int		failed;
	struct bk_err	err;
};

struct bk_verify_report {
	struct bk_verify_layer	 layer[BK_VERIFY_LAYERS];
	unsigned		 n;
	uint64_t		 size;		/* of the stream */
	char			 sha256[65];	/* of the stream */
	enum bk_seal_state	 upstream;
	int			 code;		/* 0 verified, 1 bad, 3 could
						 * not check, 4 upstream */
	char			 msg[BK_ERR_MSGMAX];	/* why, if not 0 */
	char			 restore[200];	/* the tap's report, or "" */
};

/*
 * A tap on the payload, for a restore test: start() is called once the
 * payload's kind is known ("custom", "plain" or "tar"), with its first
 * bytes (head, up to 512: a tar's first header), and gives an fd
 * that every payload byte is then also written to (or -1: none); the fd
 * is closed at the payload's end.  end() is called after everything was
 * checked, verified 1 if every layer checked out, and says how the
 * restore went: 0, or -1 with err (BK_EXIT_CHECK: the backup does not
 * restore; other codes: could not test), and a line for the report in
 * detail.  Either returning -1 ends the check with that error.
 */
struct bk_verify_tap {
	int	(*start)(void *arg, const char *kind, const void *head,
		    size_t headlen, int *fd, struct bk_err *err);
	int	(*end)(void *arg, int verified, char *detail, size_t size,
		    struct bk_err *err);
	void	*arg;
};

struct bk_verify_opts {
	const struct bk_age_keyring	*keys;	/* NULL: none given */
	bk_seal_eof_fn			 at_eof;	/* stdin's seal */
	void				*at_eof_arg;
	const struct bk_verify_tap	*tap;	/* NULL: none */
};

/*
 * Read fd to its end and check every layer; fill r.  Returns r->code.
 */
int	bk_verify(int fd, const struct bk_verify_opts *o,
	    struct bk_verify_report *r);

/* Which layer the first bytes (n of them) start; NULL if none known. */
const char	*bk_verify_detect(const unsigned char *p, size_t n);

#endif
