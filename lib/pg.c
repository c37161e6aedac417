/* pg.c - PostgreSQL backups: pg_dump runs and base backups. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "io.h"
#include "pg.h"
#include "pgdump.h"
#include "progress.h"
#include "tar.h"

#define APPNAME		"bk-dump"
#define COPYBUF		(256 * 1024)	/* spool copy buffer */
#define LINEMAX		1024		/* longest stderr line kept */
#define DATABUF		(256 * 1024)	/* a read of pg_dump's output */
#define OUTBUF		(256 * 1024)	/* a write of ours */
#define PROGRESS_MS	100		/* how often its output is counted */
#define PG_ROOT		"/usr/lib/postgresql"

void
bk_pg_opts_init(struct bk_pg_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = BK_PG_LOGICAL;
	o->format = BK_PG_CUSTOM;
	o->out = 1;
}

/* ---- conninfo --------------------------------------------------------- */

int
bk_pg_is_conninfo(const char *s)
{
	return s != NULL && (strncmp(s, "postgresql://", 13) == 0 ||
	    strncmp(s, "postgres://", 11) == 0 || strchr(s, '=') != NULL);
}

char *
bk_pg_oneline(char *buf, size_t size, const char *msg)
{
	const char *next;
	size_t n = 0;
	int blank = 0;

	if (size == 0)
		return buf;
	for (; *msg != '\0' && n + 1 < size; msg++) {
		if (*msg == '\n' || *msg == '\r') {
			/*
			 * A line break: "; " between sentences, a blank
			 * where an indented line goes on in lower case.
			 */
			while (n > 0 && buf[n - 1] == ' ')
				n--;
			next = msg + 1;
			while (*next == ' ' || *next == '\t')
				next++;
			if (n > 0 && buf[n - 1] != ';' && *next != '\0' &&
			    *next != '\n' && n + 2 < size) {
				if (next > msg + 1 && *next >= 'a' &&
				    *next <= 'z')
					buf[n++] = ' ';
				else {
					buf[n++] = ';';
					buf[n++] = ' ';
				}
			}
			blank = 1;
			continue;
		}
		if (*msg == ' ' || *msg == '\t') {
			if (!blank && n > 0)
				buf[n++] = ' ';
			blank = 1;
			continue;
		}
		blank = 0;
		buf[n++] = *msg;
	}
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == ';'))
		n--;
	buf[n] = '\0';
	return buf;
}

/* Parse conninfo with libpq; NULL with err (BK_EXIT_USAGE) on failure. */
static PQconninfoOption *
parse_conninfo(const char *s, struct bk_err *err)
{
	PQconninfoOption *opts;
	char *msg = NULL, line[BK_ERR_MSGMAX];

	opts = PQconninfoParse(s, &msg);
	if (opts == NULL) {
		if (msg == NULL)
			return bk_err_set(err, BK_EXIT_RUNTIME,
			    "conninfo: out of memory"), NULL;
		bk_err_set(err, BK_EXIT_USAGE, "conninfo: %s",
		    bk_pg_oneline(line, sizeof(line), msg));
		PQfreemem(msg);
	}
	return opts;
}

int
bk_pg_check_conninfo(const char *s, struct bk_err *err)
{
	PQconninfoOption *opts, *p;
	int found = 0;

	if (!bk_pg_is_conninfo(s))
		return 0;
	if ((opts = parse_conninfo(s, err)) == NULL)
		return -1;
	for (p = opts; p->keyword != NULL; p++)
		if (strcmp(p->keyword, "password") == 0 && p->val != NULL &&
		    p->val[0] != '\0')
			found = 1;
	PQconninfoFree(opts);
	if (found)
		return bk_err_set(err, BK_EXIT_USAGE, "conninfo: refusing a "
		    "password on the command line (other users can read it): "
		    "use PGPASSWORD, ~/.pgpass or a service file");
	return 0;
}

/*
 * Write kw='value' and a space at dst (quoted for libpq), or only measure
 * when dst is NULL.  Returns the length (without a NUL).
 */
static size_t
put_kv(char *dst, const char *kw, const char *val)
{
	size_t n = strlen(kw) + 2;

	if (dst != NULL)
		dst += sprintf(dst, "%s='", kw);
	for (; *val != '\0'; val++, n++) {
		if (*val == '\'' || *val == '\\') {
			if (dst != NULL)
				*dst++ = '\\';
			n++;
		}
		if (dst != NULL)
			*dst++ = *val;
	}
	if (dst != NULL) {
		*dst++ = '\'';
		*dst++ = ' ';
		*dst = '\0';
	}
	return n + 2;
}

char *
bk_pg_conninfo_db(const char *conninfo, const char *dbname,
    struct bk_err *err)
{
	PQconninfoOption *opts = NULL, *p;
	size_t len = 1, off = 0;
	char *s;

	if (bk_pg_is_conninfo(conninfo) &&
	    (opts = parse_conninfo(conninfo, err)) == NULL)
		return NULL;
	/* Two passes: measure, then write. */
	for (p = opts; p != NULL && p->keyword != NULL; p++)
		if (p->val != NULL && strcmp(p->keyword, "password") != 0 &&
		    strcmp(p->keyword, "dbname") != 0)
			len += put_kv(NULL, p->keyword, p->val);
	len += put_kv(NULL, "dbname", dbname);
	if ((s = malloc(len)) == NULL) {
		PQconninfoFree(opts);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "conninfo"),
		    NULL;
	}
	for (p = opts; p != NULL && p->keyword != NULL; p++)
		if (p->val != NULL && strcmp(p->keyword, "password") != 0 &&
		    strcmp(p->keyword, "dbname") != 0)
			off += put_kv(s + off, p->keyword, p->val);
	off += put_kv(s + off, "dbname", dbname);
	s[off - 1] = '\0';	/* drop the trailing space */
	PQconninfoFree(opts);
	return s;
}

/* ---- versions --------------------------------------------------------- */

int
bk_pg_version_parse(const char *s, int *num)
{
	long a, b = 0, c = 0;
	char *end;

	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		a = strtol(s, &end, 10);
		if (a < 6 || a > 999) {
			s = end - 1;
			continue;
		}
		if (*end == '.' && end[1] >= '0' && end[1] <= '9') {
			b = strtol(end + 1, &end, 10);
			if (a < 10 && *end == '.' && end[1] >= '0' &&
			    end[1] <= '9')
				c = strtol(end + 1, &end, 10);
		} else if (a < 10)
			return -1;	/* "9" alone says too little */
		if (a >= 10)
			*num = (int)(a * 10000 + (b > 9999 ? 9999 : b));
		else
			*num = (int)(a * 10000 + (b > 99 ? 99 : b) * 100 +
			    (c > 99 ? 99 : c));
		return 0;
	}
	return -1;
}

int
bk_pg_major(int num)
{
	return num >= 100000 ? num / 10000 * 10000 : num / 100 * 100;
}

char *
bk_pg_version_fmt(char *buf, size_t size, int num, int major_only)
{
	if (num >= 100000 && major_only)
		snprintf(buf, size, "%d", num / 10000);
	else if (num >= 100000)
		snprintf(buf, size, "%d.%d", num / 10000, num % 10000);
	else if (major_only)
		snprintf(buf, size, "%d.%d", num / 10000, num / 100 % 100);
	else
		snprintf(buf, size, "%d.%d.%d", num / 10000, num / 100 % 100,
		    num % 100);
	return buf;
}

/* waitpid(2), over EINTR. */
static int
wait_child(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
bk_pg_tool_version(const char *path, int *num, struct bk_err *err)
{
	char out[256], line[BK_ERR_MSGMAX], *nl;
	size_t have = 0;
	ssize_t r;
	int p[2], status, devnull;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "pipe");
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "fork");
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		devnull = open("/dev/null", O_RDWR);
		if (dup2(p[1], 1) < 0 || devnull < 0 ||
		    dup2(devnull, 0) < 0 || dup2(devnull, 2) < 0)
			_exit(127);
		execl(path, path, "--version", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		r = read(p[0], out + have, sizeof(out) - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		if (have == sizeof(out) - 1) {
			/* Enough said; drain the rest. */
			char sink[512];

			while (read(p[0], sink, sizeof(sink)) > 0)
				;
			break;
		}
	}
	close(p[0]);
	out[have] = '\0';
	if (wait_child(pid, &status) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
	if ((nl = strchr(out, '\n')) != NULL)
		*nl = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s --version: %s",
		    path, WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
		    "cannot run it" : "failed");
	if (bk_pg_version_parse(out, num) < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s --version: no "
		    "version in \"%s\"", path, bk_pg_oneline(line, 80, out));
	return 0;
}

static int
executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0;
}

/* The first executable tool on pathenv into out; 0, or -1 if none. */
static int
search_path(const char *tool, const char *pathenv, char *out, size_t size)
{
	const char *p = pathenv, *end;
	size_t n;
	int k;

	if (p == NULL)
		return -1;
	for (;;) {
		end = strchr(p, ':');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 0)
			k = snprintf(out, size, "./%s", tool);
		else
			k = snprintf(out, size, "%.*s/%s", (int)n, p, tool);
		if (k > 0 && (size_t)k < size && executable(out))
			return 0;
		if (end == NULL)
			return -1;
		p = end + 1;
	}
}

int
bk_pg_find_tool(const char *tool, int server, const char *bindir,
    const char *root, const char *pathenv, char *out, size_t size, int *num,
    struct bk_err *err)
{
	char cand[2][PATH_MAX], old[PATH_MAX] = "", sv[32], smaj[32], tv[32];
	int ncand = 0, i, v, oldv = 0, k;

	bk_pg_version_fmt(sv, sizeof(sv), server, 0);
	bk_pg_version_fmt(smaj, sizeof(smaj), server, 1);
	if (bindir != NULL && bindir[0] != '\0') {
		k = snprintf(cand[0], PATH_MAX, "%s/%s", bindir, tool);
		if (k < 0 || k >= PATH_MAX || !executable(cand[0]))
			return bk_err_set(err, BK_EXIT_RUNTIME, "BK_PG_BINDIR="
			    "%s: no %s there", bindir, tool);
		ncand = 1;
	} else {
		k = snprintf(cand[0], PATH_MAX, "%s/%s/bin/%s",
		    root != NULL ? root : PG_ROOT, smaj, tool);
		if (k > 0 && k < PATH_MAX && executable(cand[0]))
			ncand++;
		if (search_path(tool, pathenv, cand[ncand], PATH_MAX) == 0)
			ncand++;
	}
	for (i = 0; i < ncand; i++) {
		if (bk_pg_tool_version(cand[i], &v, err) < 0)
			return -1;
		if (bk_pg_major(v) >= bk_pg_major(server)) {
			if (strlen(cand[i]) >= size)
				return bk_err_set(err, BK_EXIT_RUNTIME,
				    "%s: path too long", cand[i]);
			memcpy(out, cand[i], strlen(cand[i]) + 1);
			*num = v;
			return 0;
		}
		if (old[0] == '\0') {
			memcpy(old, cand[i], sizeof(old));
			oldv = v;
		}
	}
	if (old[0] != '\0')
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s %s (%s) is older "
		    "than the server (PostgreSQL %s) and cannot dump it: "
		    "install PostgreSQL %s's client programs or set "
		    "BK_PG_BINDIR", tool, bk_pg_version_fmt(tv, sizeof(tv),
		    oldv, 0), old, sv, smaj);
	return bk_err_set(err, BK_EXIT_RUNTIME, "%s not found (looked in "
	    "%s/%s/bin and $PATH): install PostgreSQL %s's client programs "
	    "or set BK_PG_BINDIR", tool, root != NULL ? root : PG_ROOT,
	    smaj, smaj);
}

/* ---- child programs ---------------------------------------------------- */

int
bk_pg_line_kind(const char *line)
{
	const char *p = strstr(line, ": ");

	/* "prog: error: ..." - the kind follows the program name. */
	if (p == NULL)
		return 0;
	p += 2;
	if (strncmp(p, "error: ", 7) == 0 || strncmp(p, "fatal: ", 7) == 0)
		return 2;
	if (strncmp(p, "detail: ", 8) == 0)
		return 1;
	return 0;
}

/* line without "prog: " and "error: "/"detail: " in front. */
static const char *
line_text(const char *line)
{
	const char *p = strstr(line, ": ");

	if (p == NULL || bk_pg_line_kind(line) == 0)
		return line;
	p = strchr(p + 2, ':');
	return p != NULL ? p + 2 - (p[1] != ' ') : line;
}

int
bk_pg_child_outcome(const char *tool, int status, const char *errline,
    const char *detail, struct bk_err *err)
{
	char why[BK_ERR_MSGMAX];
	int sig;

	if (errline != NULL && errline[0] == '\0')
		errline = NULL;
	if (detail != NULL && detail[0] == '\0')
		detail = NULL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && errline == NULL)
		return 0;
	if (errline != NULL)
		snprintf(why, sizeof(why), ": %s%s%s", line_text(errline),
		    detail != NULL ? "; " : "",
		    detail != NULL ? line_text(detail) : "");
	else
		why[0] = '\0';
	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		if (sig == SIGPIPE)
			return bk_err_sys(err, BK_EXIT_RUNTIME, EPIPE,
			    "%s: output closed", tool);
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s killed by signal "
		    "%d (%s)%s", tool, sig, strsignal(sig), why);
	}
	if (WEXITSTATUS(status) == 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s reported an "
		    "error%s", tool, why);
	return bk_err_set(err, BK_EXIT_RUNTIME, "%s failed (exit %d)%s", tool,
	    WEXITSTATUS(status), why);
}

/* The child to which SIGINT, SIGTERM and SIGHUP are passed on. */
static volatile sig_atomic_t fwd_pid;
static volatile sig_atomic_t fwd_sig;	/* the last one passed on */

static void
forward(int sig)
{
	if (fwd_pid > 0) {
		kill((pid_t)fwd_pid, sig);
		fwd_sig = sig;
	}
}

struct child {
	const struct bk_pg_opts *o;
	const char	*tool;		/* for messages: "pg_dump" */
	char		 line[LINEMAX];
	size_t		 len;
	char		 errline[LINEMAX / 2];
	char		 detail[LINEMAX / 2];
	uint64_t	 wchar;		/* bytes it wrote */
	uint64_t	 wchar_at;	/* when wchar was read (ms) */

	/* Its stdout read here and rewritten (a custom archive), or not. */
	int		 datafd;	/* -1: it writes to outfd itself */
	int		 bulk;		/* datafd is read in bulk (io.h) */
	int		 outfd;
	struct bk_pgdump *pd;		/* the rewriter */
	int		 passthru;	/* it gave up at the header */
	int		 dfailed;	/* the data path failed: */
	struct bk_err	 derr;		/* ... so */
	uint64_t	 out;		/* bytes written to outfd */
	unsigned char	*obuf;		/* OUTBUF bytes, olen in use */
	size_t		 olen;
};

/* Copy src into dst, cut to fit. */
static void
copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* One complete stderr line of the child is in c->line. */
static void
take_line(struct child *c)
{
	int kind;

	c->line[c->len] = '\0';
	c->len = 0;
	if (c->line[0] == '\0')
		return;
	kind = bk_pg_line_kind(c->line);
	if (kind == 2 && c->errline[0] == '\0') {
		copy_str(c->errline, sizeof(c->errline), c->line);
		return;
	}
	if (kind == 1 && c->errline[0] != '\0' && c->detail[0] == '\0') {
		copy_str(c->detail, sizeof(c->detail), c->line);
		return;
	}
	/* More errors and details after the first are for -v: the failure
	 * is told in one line. */
	if (c->o->note != NULL)
		c->o->note(c->o->note_arg, kind == 0 &&
		    strstr(c->line, ": warning: ") != NULL ? BK_PG_NOTE_WARN :
		    BK_PG_NOTE_INFO, c->line);
}

static void
take_stderr(struct child *c, const char *buf, size_t n)
{
	for (; n > 0; buf++, n--) {
		if (*buf == '\n') {
			take_line(c);
			continue;
		}
		/* An overlong line is cut, the rest of it dropped. */
		if (c->len < sizeof(c->line) - 1)
			c->line[c->len++] = *buf;
	}
}

/* Bytes written by process pid so far (Linux /proc); 0 if unknown. */
static uint64_t
proc_wchar(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/io", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strstr(buf, "wchar: ")) == NULL)
		return 0;
	return strtoull(p + 7, NULL, 10);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Count what the child wrote: at most every PROGRESS_MS (reading /proc is
 * three system calls), or now if force. */
static void
child_progress(struct child *c, pid_t pid, int force)
{
	uint64_t w, t = now_ms();

	if (!force && t - c->wchar_at < PROGRESS_MS)
		return;
	c->wchar_at = t;
	if ((w = proc_wchar(pid)) > c->wchar) {
		if (c->o->progress != NULL)
			bk_progress_add(c->o->progress, w - c->wchar);
		c->wchar = w;
	}
}

static void	note(const struct bk_pg_opts *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Write n bytes of buf to the output, and count them. */
static int
data_put(struct child *c, const void *buf, size_t n, struct bk_err *err)
{
	if (bk_io_write_all(c->outfd, buf, n, "output", err) < 0)
		return -1;
	c->out += n;
	return 0;
}

/* Write what data_write() gathered. */
static int
data_flush(struct child *c, struct bk_err *err)
{
	if (c->olen == 0)
		return 0;
	if (data_put(c, c->obuf, c->olen, err) < 0)
		return -1;
	c->olen = 0;
	return 0;
}

/* Output, in writes of OUTBUF bytes: one write for each of the
 * rewriter's small pieces would wake the reader as often.  A piece that
 * large by itself (the gathered chunks) goes out as it is, uncopied. */
static int
data_write(void *arg, const void *buf, size_t n, struct bk_err *err)
{
	struct child *c = arg;
	size_t k;

	if (n >= OUTBUF)
		return data_flush(c, err) < 0 ? -1 : data_put(c, buf, n, err);
	while (n > 0) {
		k = OUTBUF - c->olen < n ? OUTBUF - c->olen : n;
		memcpy(c->obuf + c->olen, buf, k);
		c->olen += k;
		buf = (const char *)buf + k;
		n -= k;
		if (c->olen == OUTBUF && data_flush(c, err) < 0)
			return -1;
	}
	return 0;
}

/* n bytes of the child's stdout: through the rewriter to outfd. */
static void
take_data(struct child *c, const unsigned char *buf, size_t n)
{
	uint64_t before = c->pd->st.bytes;
	size_t used;

	if (c->dfailed)
		return;
	if (!c->passthru) {
		if (bk_pgdump_feed(c->pd, buf, n, &c->derr) == 0)
			return;
		if (c->pd->held > 0 || c->derr.code != BK_EXIT_CHECK) {
			c->dfailed = 1;
			return;
		}
		/* Not an archive the rewriter knows (a newer pg_dump?),
		 * and nothing held back: what it took went out, the rest
		 * goes as it is. */
		note(c->o, BK_PG_NOTE_WARN, "%s's archive passed on as it is "
		    "(%s)", c->tool, c->derr.msg);
		used = (size_t)(c->pd->st.bytes - before);
		buf += used;
		n -= used;
		c->passthru = 1;
	}
	if (data_write(c, buf, n, &c->derr) < 0)
		c->dfailed = 1;
}

/*
 * Run argv[0] with stdout on outfd and stderr read here, line by line,
 * until it exits; then decide the outcome.  SIGINT, SIGTERM and SIGHUP
 * are passed on to it meanwhile.
 */
static int
run_child(struct child *c, char *const argv[], int outfd, struct bk_err *err)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old[3];
	sigset_t block, mask;
	static unsigned char data[DATABUF];
	struct pollfd pfd[2];
	siginfo_t si;
	char buf[4096];
	ssize_t r;
	pid_t pid;
	int ep[2], status, i, n, e, efd;

	c->len = 0;
	c->errline[0] = c->detail[0] = '\0';
	c->wchar = c->wchar_at = 0;
	fwd_sig = 0;
	if (pipe2(ep, O_CLOEXEC) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "pipe");
	/*
	 * Hold the signals we pass on until the child's pid is known, so
	 * that none is lost or kills us alone in between.
	 */
	sigemptyset(&block);
	for (i = 0; i < 3; i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, &mask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	if ((pid = fork()) == 0) {
		/* Exec resets the handlers, not an ignored SIGPIPE (cli.c). */
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		if ((outfd != 1 && dup2(outfd, 1) < 0) || dup2(ep[1], 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		dprintf(2, "%s: error: cannot run %s: %s\n", c->tool, argv[0],
		    strerror(errno));
		_exit(127);
	}
	e = errno;
	fwd_pid = pid > 0 ? pid : 0;
	sigprocmask(SIG_SETMASK, &mask, NULL);
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		for (i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		return bk_err_sys(err, BK_EXIT_RUNTIME, e, "fork");
	}

	if (c->datafd >= 0)
		close(outfd);	/* the child's end */
	efd = ep[0];
	while (efd >= 0 || c->datafd >= 0) {
		pfd[0].fd = efd;
		pfd[0].events = POLLIN;
		pfd[1].fd = c->datafd;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, 250);
		child_progress(c, pid, 0);
		if (n < 0 && errno != EINTR)
			break;	/* cannot happen with valid fds */
		if (n <= 0)
			continue;
		if (pfd[1].revents != 0) {
			r = read(c->datafd, data, DATABUF);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0)
				take_data(c, data, (size_t)r);
			/* It emptied the pipe: let pg_dump fill it. */
			if (r > 0 && r < DATABUF && c->bulk && !c->dfailed)
				bk_io_nap();
			if (r <= 0 || c->dfailed) {
				/* A failed output: the child gets EPIPE. */
				if (r < 0 && !c->dfailed) {
					bk_err_sys(&c->derr, BK_EXIT_RUNTIME,
					    errno, "reading %s", c->tool);
					c->dfailed = 1;
				}
				close(c->datafd);
				c->datafd = -1;
			}
		}
		if (pfd[0].revents != 0) {
			r = read(efd, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(efd);
				efd = -1;
			} else
				take_stderr(c, buf, (size_t)r);
		}
	}
	if (efd >= 0)
		close(efd);
	if (c->datafd >= 0)
		close(c->datafd);
	if (c->obuf != NULL && !c->dfailed && data_flush(c, &c->derr) < 0)
		c->dfailed = 1;
	if (c->len > 0)
		take_line(c);
	/* Count its output before it is reaped and /proc forgets it. */
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 &&
	    errno == EINTR)
		;
	child_progress(c, pid, 1);
	i = wait_child(pid, &status);
	e = errno;
	fwd_pid = 0;
	for (n = 0; n < 3; n++)
		sigaction(sigs[n], &old[n], NULL);
	if (i < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, e, "wait for %s",
		    c->tool);
	if (bk_pg_child_outcome(c->tool, status, c->errline, c->detail,
	    err) == 0) {
		if (c->pd == NULL || c->dfailed)
			return c->dfailed ? (*err = c->derr, -1) : 0;
		if (c->passthru || bk_pgdump_end(c->pd, &c->derr) == 0)
			return 0;
		*err = c->derr;
		return -1;
	}
	/* The child failed: its reason, unless writing ours failed first
	 * (it then died of a closed pipe). */
	if (c->dfailed && c->derr.code == BK_EXIT_RUNTIME) {
		*err = c->derr;
		return -1;
	}
	if (fwd_sig != 0)
		bk_err_prefix(err, "stopped by signal %d (%s)", (int)fwd_sig,
		    strsignal(fwd_sig));
	return -1;
}

/* ---- connections ------------------------------------------------------- */

static void
note(const struct bk_pg_opts *o, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
note(const struct bk_pg_opts *o, int level, const char *fmt, ...)
{
	char line[LINEMAX];
	va_list ap;

	if (o->note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->note(o->note_arg, level, line);
}

/* libpq's error for conn, as one line, into err. */
static int
pq_fail(struct bk_err *err, const char *what, const char *msg)
{
	char line[BK_ERR_MSGMAX];

	bk_pg_oneline(line, sizeof(line), msg != NULL && msg[0] != '\0' ?
	    msg : "unknown error");
	return bk_err_set(err, BK_EXIT_RUNTIME, "%s: %s", what, line);
}

/* Connect; replication is NULL or "true".  NULL with err on failure. */
static PGconn *
connect_pg(const struct bk_pg_opts *o, const char *replication,
    struct bk_err *err)
{
	const char *kw[4], *val[4];
	PGconn *conn;
	int n = 0;

	if (bk_pg_check_conninfo(o->conninfo, err) < 0)
		return NULL;
	if (o->conninfo != NULL) {
		kw[n] = "dbname";
		val[n++] = o->conninfo;
	}
	kw[n] = "fallback_application_name";
	val[n++] = APPNAME;
	if (replication != NULL) {
		kw[n] = "replication";
		val[n++] = replication;
	}
	kw[n] = val[n] = NULL;
	if ((conn = PQconnectdbParams(kw, val, 1)) == NULL) {
		bk_err_set(err, BK_EXIT_RUNTIME, "connect: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		pq_fail(err, "connect", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Connect, note the server version into st, find tool for it. */
static int
prepare(const struct bk_pg_opts *o, struct bk_pg_stats *st, PGconn **connp,
    const char *tool, char *path, size_t size, struct bk_err *err)
{
	char sv[32], tv[32];
	PGconn *conn;

	if ((conn = connect_pg(o, NULL, err)) == NULL)
		return -1;
	st->server_version = PQserverVersion(conn);
	if (connp != NULL)
		*connp = conn;
	else
		PQfinish(conn);
	if (bk_pg_find_tool(tool, st->server_version, o->bindir, o->root,
	    getenv("PATH"), path, size, &st->tool_version, err) < 0) {
		if (connp != NULL) {
			PQfinish(conn);
			*connp = NULL;
		}
		return -1;
	}
	bk_pg_version_fmt(sv, sizeof(sv), st->server_version, 0);
	bk_pg_version_fmt(tv, sizeof(tv), st->tool_version, 0);
	note(o, BK_PG_NOTE_INFO, "server PostgreSQL %s, %s %s", sv, path, tv);
	return 0;
}

/* ---- logical dumps ----------------------------------------------------- */

static int
logical(const struct bk_pg_opts *o, struct bk_pg_stats *st,
    struct bk_err *err)
{
	static char F[] = "-F", Z[] = "-Z", zero[] = "0", d[] = "-d",
	    w[] = "-w", g[] = "-g", c[] = "c", p[] = "p", t[] = "t";
	char path[PATH_MAX], **argv;
	struct child ch;
	struct bk_pgdump pd;
	size_t n = 0, i;
	int rc, dp[2], globals = o->mode == BK_PG_GLOBALS;

	memset(&ch, 0, sizeof(ch));
	ch.o = o;
	ch.tool = globals ? "pg_dumpall" : "pg_dump";
	if (prepare(o, st, NULL, ch.tool, path, sizeof(path), err) < 0)
		return -1;
	if ((argv = calloc(o->nselect + 10, sizeof(*argv))) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "pg_dump");
	argv[n++] = path;
	argv[n++] = w;
	if (o->conninfo != NULL) {
		argv[n++] = d;
		argv[n++] = (char *)o->conninfo;
	}
	if (globals)
		argv[n++] = g;
	else {
		argv[n++] = F;
		argv[n++] = o->format == BK_PG_PLAIN ? p :
		    o->format == BK_PG_TAR ? t : c;
		if (o->format == BK_PG_CUSTOM) {
			argv[n++] = Z;
			argv[n++] = zero;
		}
		for (i = 0; i < o->nselect; i++)
			argv[n++] = o->select[i];
	}
	argv[n] = NULL;
	ch.datafd = -1;
	if (!globals && o->format == BK_PG_CUSTOM) {
		/* pg_dump -Z0 writes a chunk length per row: gather them
		 * (pgdump.h), for an archive that compresses as well as
		 * plain SQL. */
		if (pipe2(dp, O_CLOEXEC) < 0) {
			free(argv);
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "pipe");
		}
		ch.bulk = bk_io_bulk(dp[0]);
		if ((ch.obuf = malloc(OUTBUF)) == NULL ||
		    bk_pgdump_init(&pd, err) < 0 ||
		    bk_pgdump_rechunk(&pd, data_write, &ch, err) < 0) {
			if (ch.obuf == NULL)
				bk_err_sys(err, BK_EXIT_RUNTIME, errno,
				    "pg_dump");
			free(ch.obuf);
			close(dp[0]);
			close(dp[1]);
			free(argv);
			return -1;
		}
		ch.datafd = dp[0];
		ch.outfd = o->out;
		ch.pd = &pd;
	}
	rc = run_child(&ch, argv, ch.datafd >= 0 ? dp[1] : o->out, err);
	st->bytes_out = ch.pd != NULL ? ch.out : ch.wchar;
	if (ch.pd != NULL)
		bk_pgdump_free(&pd);
	free(ch.obuf);
	free(argv);
	return rc;
}

/* ---- --all: one tar of globals and every database ----------------------- */

char *
bk_pg_member_name(char *buf, size_t size, const char *dbname)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)dbname;
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (n + 4 >= size)
			return NULL;
		if (*s < 0x20 || *s == 0x7f || *s == '/' || *s == '%' ||
		    *s == '\\') {
			buf[n++] = '%';
			buf[n++] = hex[*s >> 4];
			buf[n++] = hex[*s & 15];
		} else
			buf[n++] = (char)*s;
	}
	if (n + sizeof(".dump") > size)
		return NULL;
	memcpy(buf + n, ".dump", sizeof(".dump"));
	return buf;
}

struct sink {
	int		 fd;
	uint64_t	 bytes;
	struct bk_progress *progress;	/* bytes counted here too, or NULL */
};

static int
sink_write(void *arg, const void *buf, size_t n, struct bk_err *err)
{
	struct sink *s = arg;

	if (bk_io_write_all(s->fd, buf, n, "output", err) < 0)
		return -1;
	s->bytes += n;
	if (s->progress != NULL)
		bk_progress_add(s->progress, n);
	return 0;
}

/* An unlinked scratch file under tmpdir (or $TMPDIR, or /tmp). */
static int
spool_open(const struct bk_pg_opts *o, struct bk_err *err)
{
	const char *dir = o->tmpdir;
	char path[PATH_MAX];
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	if (snprintf(path, sizeof(path), "%s/bk-dump.XXXXXX", dir) >=
	    (int)sizeof(path))
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s: path too long",
		    dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "spool file "
		    "in %s", dir);
	/* Nothing is left behind, whatever happens next. */
	unlink(path);
	return fd;
}

/*
 * Append the contents of file fd to the output as a tar member described
 * by e (its size is the file's).
 */
static int
copy_member(int fd, struct bk_tar_entry *e, struct sink *out, char *buf,
    struct bk_err *err)
{
	static const unsigned char zeros[BK_TAR_BLOCK];
	unsigned char hdr[BK_TAR_HDRMAX];
	struct stat st;
	uint64_t left;
	ssize_t n;

	if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "spool file");
	e->size = (uint64_t)st.st_size;
	if ((n = bk_tar_header(e, hdr, sizeof(hdr), err)) < 0 ||
	    sink_write(out, hdr, (size_t)n, err) < 0)
		return -1;
	for (left = e->size; left > 0; left -= (uint64_t)n) {
		n = bk_io_read_full(fd, buf, left < COPYBUF ? left : COPYBUF,
		    "spool file", err);
		if (n < 0)
			return -1;
		if (n == 0)
			return bk_err_set(err, BK_EXIT_RUNTIME, "spool file: "
			    "shrank while copied");
		if (sink_write(out, buf, (size_t)n, err) < 0)
			return -1;
	}
	return sink_write(out, zeros, bk_tar_pad(e->size), err);
}

/*
 * Append the spool file as the tar member name (ours: owner and mode
 * 0600), then empty the spool for the next one.
 */
static int
spool_member(int spool, const char *name, struct sink *out, char *buf,
    struct bk_err *err)
{
	struct bk_tar_entry e;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.mode = 0600;
	e.type = '0';
	e.uid = (uint32_t)getuid();
	e.gid = (uint32_t)getgid();
	e.mtime = (int64_t)time(NULL);
	if (copy_member(spool, &e, out, buf, err) < 0)
		return -1;
	if (ftruncate(spool, 0) < 0 || lseek(spool, 0, SEEK_SET) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "spool file");
	return 0;
}

/* Dump every database into spool, one after the other, into the tar. */
static int
all_databases(const struct bk_pg_opts *o, PGresult *dbs, const char *dump,
    int spool, struct sink *out, char *buf, struct bk_pg_stats *st,
    struct bk_err *err)
{
	static char F[] = "-F", Z[] = "-Z", zero[] = "0", d[] = "-d",
	    w[] = "-w", c[] = "c";
	char name[BK_TAR_NAMEMAX], *conn, *argv[9];
	const char *db;
	struct child ch;
	int i, rc;

	memset(&ch, 0, sizeof(ch));
	ch.o = o;
	ch.tool = "pg_dump";
	for (i = 0; i < PQntuples(dbs); i++) {
		db = PQgetvalue(dbs, i, 0);
		if (bk_pg_member_name(name, sizeof(name), db) == NULL)
			return bk_err_set(err, BK_EXIT_RUNTIME, "database %s: "
			    "name too long", db);
		if ((conn = bk_pg_conninfo_db(o->conninfo, db, err)) == NULL)
			return -1;
		note(o, BK_PG_NOTE_INFO, "dumping database %s", db);
		argv[0] = (char *)dump;
		argv[1] = w;
		argv[2] = d;
		argv[3] = conn;
		argv[4] = F;
		argv[5] = c;
		argv[6] = Z;
		argv[7] = zero;
		argv[8] = NULL;
		ch.datafd = -1;
		rc = run_child(&ch, argv, spool, err);
		free(conn);
		if (rc < 0)
			return bk_err_prefix(err, "database %s", db);
		if (spool_member(spool, name, out, buf, err) < 0)
			return -1;
		st->databases++;
	}
	return 0;
}

static int
all(const struct bk_pg_opts *o, struct bk_pg_stats *st, struct bk_err *err)
{
	static const unsigned char eoa[2 * BK_TAR_BLOCK];
	static char d[] = "-d", w[] = "-w", g[] = "-g";
	char dump[PATH_MAX], dumpall[PATH_MAX], *buf = NULL, *argv[6];
	struct sink out = { o->out, 0, NULL };
	struct child ch;
	PGresult *dbs;
	PGconn *conn;
	int spool = -1, rc = -1, v, n = 0;

	if (prepare(o, st, &conn, "pg_dump", dump, sizeof(dump), err) < 0)
		return -1;
	dbs = PQexec(conn, "SELECT datname FROM pg_catalog.pg_database "
	    "WHERE datallowconn AND datconnlimit <> -2 "
	    "ORDER BY datname <> 'template1', datname");
	if (PQresultStatus(dbs) != PGRES_TUPLES_OK) {
		pq_fail(err, "list databases", PQerrorMessage(conn));
		PQclear(dbs);
		PQfinish(conn);
		return -1;
	}
	PQfinish(conn);
	if (bk_pg_find_tool("pg_dumpall", st->server_version, o->bindir,
	    o->root, getenv("PATH"), dumpall, sizeof(dumpall), &v, err) < 0)
		goto out;
	if ((spool = spool_open(o, err)) < 0)
		goto out;
	if ((buf = malloc(COPYBUF)) == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, errno, "spool buffer");
		goto out;
	}
	memset(&ch, 0, sizeof(ch));
	ch.o = o;
	ch.tool = "pg_dumpall";
	argv[n++] = dumpall;
	argv[n++] = w;
	argv[n++] = g;
	if (o->conninfo != NULL) {
		argv[n++] = d;
		argv[n++] = (char *)o->conninfo;
	}
	argv[n] = NULL;
	note(o, BK_PG_NOTE_INFO, "dumping roles and tablespaces");
	ch.datafd = -1;
	if (run_child(&ch, argv, spool, err) < 0 ||
	    spool_member(spool, "globals.sql", &out, buf, err) < 0 ||
	    all_databases(o, dbs, dump, spool, &out, buf, st, err) < 0 ||
	    sink_write(&out, eoa, sizeof(eoa), err) < 0)
		goto out;
	rc = 0;
out:
	st->bytes_out = out.bytes;
	if (spool >= 0)
		close(spool);
	free(buf);
	PQclear(dbs);
	return rc;
}

/* ---- physical base backups ---------------------------------------------- */

struct base {
	const struct bk_pg_opts *o;
	PGconn		*conn;
	struct sink	 out;
	struct bk_tar_walk walk;
	int		 archives;	/* 'n' messages seen */
	int		 manifest;	/* spool fd once 'm' was seen */
	char		 startpos[32];
	char		 endpos[32];
};

/* The next result of the command in progress, or NULL at its end. */
static int
next_result(struct base *b, ExecStatusType want, PGresult **resp,
    const char *what, struct bk_err *err)
{
	PGresult *res = PQgetResult(b->conn);

	if (res == NULL)
		return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: %s: "
		    "the server ended the command early", what);
	if (PQresultStatus(res) != want) {
		pq_fail(err, "base backup", PQresultErrorMessage(res)[0] ?
		    PQresultErrorMessage(res) : PQerrorMessage(b->conn));
		PQclear(res);
		return -1;
	}
	*resp = res;
	return 0;
}

/* The start result and the tablespace list, before any data. */
static int
base_begin(struct base *b, struct bk_err *err)
{
	PGresult *res;
	uint64_t total = 0;
	const char *loc;
	int i;

	if (next_result(b, PGRES_TUPLES_OK, &res, "start position", err) < 0)
		return -1;
	if (PQntuples(res) == 1 && PQnfields(res) >= 2)
		snprintf(b->startpos, sizeof(b->startpos), "%s on timeline %s",
		    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	if (next_result(b, PGRES_TUPLES_OK, &res, "tablespaces", err) < 0)
		return -1;
	for (i = 0; i < PQntuples(res) && PQnfields(res) >= 3; i++) {
		loc = PQgetisnull(res, i, 1) ? "" : PQgetvalue(res, i, 1);
		if (loc[0] != '\0') {
			bk_err_set(err, BK_EXIT_RUNTIME, "base backup: the "
			    "cluster has a tablespace outside its data "
			    "directory (%s): not supported, refusing to make "
			    "a partial backup (use pg_basebackup -Ft)", loc);
			PQclear(res);
			return -1;
		}
		if (!PQgetisnull(res, i, 2))
			total += strtoull(PQgetvalue(res, i, 2), NULL, 10) *
			    1024;
	}
	PQclear(res);
	if (b->o->progress != NULL)
		b->o->progress->total = total;
	note(b->o, BK_PG_NOTE_INFO, "base backup started at %s",
	    b->startpos);
	return 0;
}

/* One CopyData message of the backup stream. */
static int
base_message(struct base *b, const char *msg, size_t len,
    struct bk_err *err)
{
	const char *name;

	if (len == 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: empty "
		    "message from the server");
	switch (msg[0]) {
	case 'n':	/* new archive: name, tablespace location */
		name = len > 1 && memchr(msg + 1, '\0', len - 1) != NULL ?
		    msg + 1 : "?";
		if (b->archives++ > 0 || b->manifest >= 0)
			return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: "
			    "the server sent a second archive (%s): "
			    "tablespaces are not supported", name);
		bk_tar_walk_init(&b->walk);
		return 0;
	case 'd':	/* archive or manifest data */
		if (b->manifest >= 0) {
			return bk_io_write_all(b->manifest, msg + 1, len - 1,
			    "manifest spool file", err);
		}
		if (b->archives == 0)
			return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: "
			    "data before any archive");
		return bk_tar_walk_feed(&b->walk, msg + 1, len - 1,
		    sink_write, &b->out, err);
	case 'p':	/* progress: we count the bytes ourselves */
		return 0;
	case 'm':	/* the manifest follows */
		if (b->archives == 0 || b->manifest >= 0)
			return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: "
			    "unexpected manifest");
		if (bk_tar_walk_end(&b->walk, err) < 0)
			return bk_err_prefix(err, "base backup");
		if ((b->manifest = spool_open(b->o, err)) < 0)
			return -1;
		return 0;
	default:
		return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: unknown "
		    "message type '%c' from the server", msg[0]);
	}
}

/*
 * After the COPY: the end position (a one-row result set) and the
 * command's completion, until the connection is idle.
 */
static int
base_end(struct base *b, struct bk_err *err)
{
	PGresult *res;
	ExecStatusType rs;

	while ((res = PQgetResult(b->conn)) != NULL) {
		rs = PQresultStatus(res);
		if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
			pq_fail(err, "base backup", PQresultErrorMessage(res)[0] ?
			    PQresultErrorMessage(res) : PQerrorMessage(b->conn));
			PQclear(res);
			return -1;
		}
		if (rs == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		    PQnfields(res) >= 2)
			snprintf(b->endpos, sizeof(b->endpos), "%s on timeline "
			    "%s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		PQclear(res);
	}
	if (b->endpos[0] == '\0')
		return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: the "
		    "server sent no end position");
	if (b->archives == 0 || b->manifest < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: the "
		    "server sent no %s", b->archives == 0 ? "archive" :
		    "backup manifest");
	note(b->o, BK_PG_NOTE_INFO, "base backup ended at %s", b->endpos);
	return 0;
}

/* Append backup_manifest, owned like the server's files, and the end. */
static int
base_finish(struct base *b, struct bk_err *err)
{
	static const unsigned char eoa[2 * BK_TAR_BLOCK];
	struct bk_tar_entry e;
	char *buf;
	int rc;

	if (!b->walk.owner_set)
		return bk_err_set(err, BK_EXIT_RUNTIME, "base backup: the "
		    "server's archive is empty");
	memset(&e, 0, sizeof(e));
	e.name = "backup_manifest";
	e.mode = 0600;
	e.type = '0';
	e.uid = b->walk.uid;
	e.gid = b->walk.gid;
	e.uname = b->walk.uname;
	e.gname = b->walk.gname;
	e.mtime = (int64_t)time(NULL);
	if ((buf = malloc(COPYBUF)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "manifest");
	rc = copy_member(b->manifest, &e, &b->out, buf, err);
	free(buf);
	if (rc < 0)
		return -1;
	return sink_write(&b->out, eoa, sizeof(eoa), err);
}

static int
physical(const struct bk_pg_opts *o, struct bk_pg_stats *st,
    struct bk_err *err)
{
	char cmd[256], sv[32], *msg;
	struct base b;
	PGresult *res;
	int n, rc = -1;

	memset(&b, 0, sizeof(b));
	b.o = o;
	b.out.fd = o->out;
	b.manifest = -1;
	if ((b.conn = connect_pg(o, "true", err)) == NULL)
		return -1;
	st->server_version = PQserverVersion(b.conn);
	if (st->server_version < 150000) {
		bk_err_set(err, BK_EXIT_RUNTIME, "base backup: the server is "
		    "PostgreSQL %s; --physical needs 15 or later (use "
		    "pg_basebackup)", bk_pg_version_fmt(sv, sizeof(sv),
		    st->server_version, 0));
		goto out;
	}
	b.out.progress = o->progress;
	/* PROGRESS makes the server measure the cluster first: only for -P. */
	snprintf(cmd, sizeof(cmd), "BASE_BACKUP ( LABEL 'bk-dump', "
	    "TARGET 'client', %sCHECKPOINT '%s', WAL, WAIT false, "
	    "MANIFEST 'yes', TABLESPACE_MAP )",
	    o->progress != NULL && o->progress->on ? "PROGRESS, " : "",
	    o->fast ? "fast" : "spread");
	note(o, BK_PG_NOTE_INFO, "%s", cmd);
	if (!PQsendQuery(b.conn, cmd)) {
		pq_fail(err, "base backup", PQerrorMessage(b.conn));
		goto out;
	}
	if (base_begin(&b, err) < 0)
		goto out;
	/* The archive and the manifest arrive in one COPY OUT. */
	if (next_result(&b, PGRES_COPY_OUT, &res, "data", err) < 0)
		goto out;
	PQclear(res);
	for (;;) {
		n = PQgetCopyData(b.conn, &msg, 0);
		if (n < 0)
			break;
		rc = base_message(&b, msg, (size_t)n, err);
		PQfreemem(msg);
		if (rc < 0)
			goto out;
	}
	rc = -1;
	if (n == -2) {
		pq_fail(err, "base backup", PQerrorMessage(b.conn));
		goto out;
	}
	if (base_end(&b, err) < 0 || base_finish(&b, err) < 0)
		goto out;
	rc = 0;
out:
	st->bytes_out = b.out.bytes;
	if (b.manifest >= 0)
		close(b.manifest);
	PQfinish(b.conn);
	return rc;
}

int
bk_pg_backup(const struct bk_pg_opts *o, struct bk_pg_stats *st,
    struct bk_err *err)
{
	memset(st, 0, sizeof(*st));
	switch (o->mode) {
	case BK_PG_LOGICAL:
	case BK_PG_GLOBALS:
		return logical(o, st, err);
	case BK_PG_ALL:
		return all(o, st, err);
	case BK_PG_PHYSICAL:
		return physical(o, st, err);
	}
	return bk_err_set(err, BK_EXIT_USAGE, "unknown backup mode");
}
