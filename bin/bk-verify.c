/*
 * bk-verify - check a backup stream on stdin: peel every layer it finds
 * (age, gzip, pg_dump archive or tar) and check each one.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "age.h"
#include "bk.h"
#include "pg.h"
#include "restore.h"
#include "verify.h"

static const char usage[] =
    "bk-verify [-hjqvV] [-i file]... [--passphrase-file file | "
    "--passphrase-fd fd]\n"
    "                 [--max-work-factor n] [--restore-test conninfo "
    "[--check-sql file]]";

enum { OPT_PFD = 0x100, OPT_PFILE, OPT_MAXWF, OPT_RESTORE, OPT_CHECKSQL };

struct args {
	struct bk_age_keyring	 keys;
	const char		*pfile;
	int			 pfd;
	int			 json;
	const char		*restore;	/* --restore-test CONNINFO */
	const char		*check_sql;
};

static void
help(void)
{
	printf("usage: %s\n\n"
	    "Check the backup on stdin: every layer (age, gzip) and the dump "
	    "under them\n(pg_dump custom or plain, a tar of dumps, a base "
	    "backup).  One line on\nstdout: OK or FAIL, the layers, the size "
	    "and SHA-256 of the stream.\n\n"
	    "      --check-sql FILE   queries that must return true in the "
	    "restored database\n"
	    "  -h, --help             this help\n"
	    "  -i, --identity FILE    age identities, to decrypt "
	    "(repeatable)\n"
	    "  -j, --json             the report as one JSON object\n"
	    "      --max-work-factor N highest scrypt work factor (default "
	    "22)\n"
	    "      --passphrase-fd FD  read the passphrase from FD\n"
	    "      --passphrase-file F read the passphrase from F (mode 0600)\n"
	    "  -q, --quiet            no warnings\n"
	    "      --restore-test C   restore it too and check it: a dump into "
	    "a scratch\n"
	    "                         database on the server of conninfo C, a "
	    "base backup\n"
	    "                         into a temporary server; then remove "
	    "them\n"
	    "  -v, --verbose          a line per layer after the summary\n"
	    "  -V, --version          print the version\n", usage);
}

static int
parse(int argc, char **argv, struct args *a, struct bk_err *err)
{
	static const struct option longopts[] = {
		{ "check-sql",		required_argument, NULL, OPT_CHECKSQL },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "identity",		required_argument, NULL, 'i' },
		{ "json",		no_argument,	   NULL, 'j' },
		{ "max-work-factor",	required_argument, NULL, OPT_MAXWF },
		{ "passphrase-fd",	required_argument, NULL, OPT_PFD },
		{ "passphrase-file",	required_argument, NULL, OPT_PFILE },
		{ "quiet",		no_argument,	   NULL, 'q' },
		{ "restore-test",	required_argument, NULL, OPT_RESTORE },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ NULL,			0,		   NULL, 0 }
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, ":hi:jqvV", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'h':
			help();
			return 1;
		case 'i':
			if (bk_age_keyring_file(&a->keys, optarg, err) < 0)
				return -1;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'q':
			bk_verbose = -1;
			break;
		case 'v':
			bk_verbose++;
			break;
		case 'V':
			bk_cli_version();
			return 1;
		case OPT_MAXWF:
			if (bk_parse_uint("work factor", optarg, 1, 30, &v,
			    err) < 0)
				return -1;
			a->keys.max_logn = (unsigned)v;
			break;
		case OPT_PFD:
			if (bk_parse_uint("passphrase fd", optarg, 0, 1 << 20,
			    &v, err) < 0)
				return -1;
			a->pfd = (int)v;
			break;
		case OPT_PFILE:
			a->pfile = optarg;
			break;
		case OPT_RESTORE:
			if (bk_pg_check_conninfo(optarg, err) < 0)
				return -1;
			a->restore = optarg;
			break;
		case OPT_CHECKSQL:
			a->check_sql = optarg;
			break;
		default:
			return bk_cli_badopt(c, argv, err);
		}
	}
	if (optind < argc)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: bk-verify reads the "
		    "backup on stdin (use <, or bk-s3get ... |)", argv[optind]);
	if (a->check_sql != NULL && a->restore == NULL)
		return bk_err_set(err, BK_EXIT_USAGE, "--check-sql needs "
		    "--restore-test");
	/* Now, not after an hour of restoring. */
	if (a->check_sql != NULL && access(a->check_sql, R_OK) < 0)
		return bk_err_sys(err, BK_EXIT_USAGE, errno, "%s",
		    a->check_sql);
	if (a->pfile != NULL && a->pfd >= 0)
		return bk_err_set(err, BK_EXIT_USAGE, "--passphrase-file and "
		    "--passphrase-fd exclude each other");
	if (bk_secret_passphrase(a->pfile, a->pfd, 1, &a->keys.pass, err) < 0)
		return -1;
	return 0;
}

static int devnull = -1;
static mode_t stdin_type;

/*
 * SIGINT, SIGTERM, SIGHUP during a restore test: note it, and make stdin
 * end now, so that the check stops and the tap cleans up even if the
 * writer is still there: the next read of fd 0 reads /dev/null, and a
 * read already waiting on a silent writer is woken - a pipe by a byte
 * written into it (through /proc), a socket by shutdown(2).  Every call
 * here is async-signal-safe.  A second signal kills at once.
 */
static void
on_signal(int sig)
{
	int w = -1, e = errno;

	if (bk_restore_stop != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	bk_restore_interrupt(sig);
	if (S_ISFIFO(stdin_type))
		w = open("/proc/self/fd/0", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	else if (S_ISSOCK(stdin_type))
		shutdown(0, SHUT_RD);
	if (devnull >= 0)
		dup2(devnull, 0);
	if (w >= 0) {
		if (write(w, "", 1) < 0) {
			/* full: then no read is waiting */
		}
		close(w);
	}
	errno = e;
}

static void
catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	struct stat st;
	size_t i;

	if (fstat(0, &st) == 0)
		stdin_type = st.st_mode;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits see EINTR */
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* An ignored signal (nohup, a shell's background job) stays
		 * ignored. */
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

/* A JSON string (the messages and names are ours: ASCII, but quote). */
static void
jstr(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
report(const struct bk_verify_report *r, int json)
{
	char size[32];
	unsigned k;

	bk_fmt_size(size, sizeof(size), r->size);
	if (json) {
		printf("{\"ok\":%s,\"exit\":%d,\"size\":%llu,\"sha256\":",
		    r->code == 0 ? "true" : "false", r->code,
		    (unsigned long long)r->size);
		jstr(r->sha256);
		printf(",\"error\":");
		if (r->code == 0)
			printf("null");
		else
			jstr(r->msg);
		printf(",\"layers\":[");
		for (k = 0; k < r->n; k++) {
			const struct bk_verify_layer *L = &r->layer[k];

			printf("%s{\"layer\":", k ? "," : "");
			jstr(L->name);
			printf(",\"in\":%llu,\"ok\":%s,\"detail\":",
			    (unsigned long long)L->in,
			    L->failed ? "false" : "true");
			jstr(L->failed ? L->err.msg : L->detail);
			printf("}");
		}
		printf("],\"restore\":");
		if (r->restore[0] != '\0')
			jstr(r->restore);
		else
			printf("null");
		printf("}\n");
		return;
	}
	printf("%s ", r->code == 0 ? "OK" : "FAIL");
	for (k = 0; k < r->n; k++)
		printf("%s%s", k ? " > " : "", r->layer[k].name);
	printf(", %s, sha256 %s", size, r->sha256[0] ? r->sha256 : "-");
	if (r->code != 0)
		printf(": %s", r->msg);
	printf("\n");
	if (bk_verbose > 0) {
		for (k = 0; k < r->n; k++) {
			const struct bk_verify_layer *L = &r->layer[k];

			printf("  %-8s %s: %s\n", L->name, L->failed == 1 ?
			    "FAIL" : L->failed ? "stopped" : "ok",
			    L->failed ? L->err.msg : L->detail);
		}
		if (r->restore[0] != '\0')
			printf("  %-8s ok: %s\n", "restore", r->restore);
	}
}

int
main(int argc, char **argv)
{
	struct args a;
	struct bk_verify_opts o;
	struct bk_verify_tap tap;
	struct bk_restore rs;
	struct bk_verify_report *r = NULL;
	struct bk_err err = { 0, 0, "" };
	struct bk_run run;
	int rc;

	bk_run_start(&run, "bk-verify");
	run.usage = usage;
	memset(&a, 0, sizeof(a));
	a.pfd = -1;
	a.keys.max_logn = BK_AGE_LOGN_MAX;
	if ((rc = parse(argc, argv, &a, &err)) != 0) {
		run.closes_stdout = rc < 0;
		rc = bk_run_end(&run, rc < 0 ? &err : NULL);
		bk_age_keyring_free(&a.keys);
		return rc;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		bk_err_set(&err, BK_EXIT_RUNTIME, "out of memory");
		goto done;
	}
	memset(&o, 0, sizeof(o));
	o.keys = a.keys.n > 0 || a.keys.pass.len > 0 ? &a.keys : NULL;
	if (a.restore != NULL) {
		bk_restore_init(&rs, a.restore, a.check_sql);
		tap.start = bk_restore_start;
		tap.end = bk_restore_end;
		tap.arg = &rs;
		o.tap = &tap;
		catch_signals();
	}
	o.at_eof = bk_run_at_eof;
	o.at_eof_arg = &run;
	bk_verify(0, &o, r);
	if (a.restore != NULL && rs.warn[0] != '\0')
		bk_warn("restore test: %s", rs.warn);
	if (bk_restore_stop != 0) {
		/* What the layers say of a stream cut short is not news. */
		r->code = BK_EXIT_RUNTIME;
		snprintf(r->msg, sizeof(r->msg), "interrupted by signal %d "
		    "(%s): not checked; the restore test cleaned up",
		    (int)bk_restore_stop, strsignal(bk_restore_stop));
	}
	report(r, a.json);
	run.bytes_in = r->size;
	run.sha256 = r->sha256;
	if (r->code != 0) {
		/* The report on stdout says it all; stderr gets the
		 * one-line error too, for cron mail and logs. */
		bk_err_set(&err, r->code, "%s", r->msg);
	}
done:
	rc = bk_run_end(&run, r == NULL || r->code != 0 ? &err : NULL);
	free(r);
	bk_age_keyring_free(&a.keys);
	return rc;
}
