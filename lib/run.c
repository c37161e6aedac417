/* run.c - the life of one tool run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "io.h"
#include "journal.h"
#include "progress.h"
#include "run.h"

void
bk_run_start(struct bk_run *r, const char *tool)
{
	struct bk_err err;

	memset(r, 0, sizeof(*r));
	bk_cli_init(tool);
	r->tool = tool;
	r->started = time(NULL);
	r->t0 = bk_now();
	r->upstream = BK_SEAL_NONE;
	r->closes_stdout = 1;
	if (bk_seal_register(&r->seal, 1, &err) < 0)
		bk_warn("%s (output not sealed)", err.msg);
}

int
bk_run_at_eof(void *arg, enum bk_seal_state *state, struct bk_err *err)
{
	struct bk_run *r = arg;
	struct bk_err e;

	(void)err;
	if (bk_seal_upstream(0, state, &e) < 0)
		bk_warn("%s (input taken as unsealed)", e.msg);
	r->upstream = *state;
	return 0;
}

int
bk_run_end(struct bk_run *r, const struct bk_err *err)
{
	struct bk_journal_rec rec;
	struct bk_err e, fin = { 0, 0, "" };
	enum bk_seal_state out;
	int code = 0;

	if (err != NULL)
		fin = *err;
	if (err != NULL && fin.code == 0)
		fin.code = BK_EXIT_RUNTIME;
	/* What the tool printed with stdio goes out before the seal can
	 * say ok; a failure to write it is the run's failure. */
	if (fflush(stdout) != 0 && fin.code == 0)
		bk_err_sys(&fin, BK_EXIT_RUNTIME, errno, "output");
	code = fin.code;
	if (code != 0) {
		bk_cli_fail(&fin);
		if (code == BK_EXIT_USAGE && r->usage != NULL)
			bk_cli_usage(r->usage, NULL);
	}

	out = bk_seal_pass(r->upstream, code == 0);
	if (bk_seal_finish(&r->seal, out, &e) < 0)
		bk_warn("%s", e.msg);
	/* The downstream may see end of file from here on. */
	if (r->closes_stdout && bk_io_close(1, "output", &e) < 0 &&
	    code == 0) {
		fin = e;
		code = fin.code;
		bk_cli_fail(&fin);
		out = BK_SEAL_FAILED;
	}

	memset(&rec, 0, sizeof(rec));
	rec.time = r->started;
	rec.tool = r->tool;
	rec.outcome = code == 0 ? "ok" : code == BK_EXIT_UPSTREAM ?
	    "upstream-failed" : "failed";
	rec.exit = code;
	rec.bytes_in = r->bytes_in;
	rec.bytes_out = r->bytes_out;
	rec.seconds = bk_now() - r->t0;
	rec.seal = bk_seal_name(out);
	rec.destination = r->destination;
	rec.sha256 = r->sha256;
	rec.error = code != 0 ? fin.msg : NULL;
	if (bk_journal_env(&rec, &e) < 0)
		bk_warn("%s", e.msg);
	return code;
}
