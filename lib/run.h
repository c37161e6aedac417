/*
 * run.h - the life of one tool run: what every main() does before its
 * first byte and after its last one.
 *
 *	struct bk_run run;
 *	bk_run_start(&run, "bk-gz");	registers with the seal at once
 *	... parse options; on error: return bk_run_end(&run, &err);
 *	... work, with bk_run_at_eof as the end-of-input hook
 *	return bk_run_end(&run, rc < 0 ? &err : NULL);
 *
 * bk_run_end() prints the error, appends the journal record, records the
 * seal outcome for the downstream and only then closes stdout.
 */
#ifndef BK_RUN_H
#define BK_RUN_H

#include <stdint.h>
#include <time.h>

#include "err.h"
#include "seal.h"

struct bk_run {
	const char		*tool;
	time_t			 started;
	double			 t0;		/* monotonic start */
	struct bk_seal		 seal;
	enum bk_seal_state	 upstream;	/* set by bk_run_at_eof() */
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	const char		*destination;	/* for the journal */
	const char		*sha256;	/* for the journal */
	int			 closes_stdout;	/* 1: close fd 1 at the end */
	const char		*usage;		/* printed after a usage error */
};

/*
 * Set the program name (bk_cli_init()) and register with the seal as a
 * writer of stdout.  A run directory that cannot be used is a warning: the
 * run goes on unsealed.
 */
void	bk_run_start(struct bk_run *r, const char *tool);

/*
 * The end-of-input hook for the tool's stdin (signature of bk_gz_eof_fn):
 * finds how the upstream ended (bk_seal_upstream()), remembers it in
 * r->upstream and hands it back.  Never fails: a run directory that
 * cannot be used is a warning, and the stream counts as unsealed.
 */
int	bk_run_at_eof(void *r, enum bk_seal_state *state, struct bk_err *err);

/*
 * Finish the run: print err if not NULL (quietly for EPIPE; followed by
 * the "usage:" line r->usage for a usage error), journal it,
 * record the seal outcome (ok, unsealed, or failed when err is set) and
 * close stdout, checking for a late write error.  Returns the exit
 * status: 0, or err->code.
 */
int	bk_run_end(struct bk_run *r, const struct bk_err *err);

#endif
