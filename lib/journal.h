/*
 * journal.h - the run journal: one JSON line per run, appended to the file
 * named by BK_JOURNAL, so that monitoring can count consecutive failures.
 */
#ifndef BK_JOURNAL_H
#define BK_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

struct bk_journal_rec {
	time_t		 time;		/* when the run started */
	const char	*tool;		/* "bk-gz" */
	const char	*outcome;	/* "ok", "failed", "upstream-failed" */
	int		 exit;		/* the exit status */
	uint64_t	 bytes_in;	/* bytes read */
	uint64_t	 bytes_out;	/* bytes written or stored */
	double		 seconds;	/* wall time */
	const char	*seal;		/* "ok", "unsealed", "failed" or NULL */
	const char	*destination;	/* URL or path, or NULL */
	const char	*sha256;	/* hex digest, or NULL */
	const char	*error;		/* the error message, or NULL */
};

/*
 * Format rec as one JSON object followed by "\n" into buf.  Strings are
 * escaped per RFC 8259; NULL strings are written as null.  Returns the
 * length, or -1 if it did not fit.
 */
int	bk_journal_format(const struct bk_journal_rec *rec, char *buf,
	    size_t size);

/*
 * Append rec to the journal at path (created with mode 0600 if missing)
 * with one write(2) under an exclusive lock, so that concurrent runs do
 * not interleave.  Returns 0 or -1 with err.
 */
int	bk_journal_append(const char *path, const struct bk_journal_rec *rec,
	    struct bk_err *err);

/*
 * Append rec to $BK_JOURNAL if it is set and not empty; 0 if unset.
 */
int	bk_journal_env(const struct bk_journal_rec *rec, struct bk_err *err);

#endif
