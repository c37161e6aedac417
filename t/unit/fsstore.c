/*
 * fsstore.c - unit tests for lib/fsstore: file:// locations, atomic
 * stores that leave nothing behind on failure, metadata, listings,
 * deletes.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "fsstore.h"

/* SHA-256 of "abc" (FIPS 180-2) and of nothing. */
#define SHA_ABC	"ba7816bf8f01cfea414140de5dae2223" \
		"b00361a396177a9cb410ff61f20015ad"
#define SHA_NIL	"e3b0c44298fc1c149afbf4c8996fb924" \
		"27ae41e4649b934ca495991b7852b855"
#define BIGLEN	(3 * 1024 * 1024 + 17)

static const char	*T;		/* the test's private directory */
static char		 P[4096];	/* scratch path */

/* T/name, in P. */
static const char *
at(const char *name)
{
	snprintf(P, sizeof(P), "%s/%s", T, name);
	return P;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		perror("strdup");
		exit(2);
	}
	return p;
}

static void
xmkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0) {
		perror(path);
		exit(2);
	}
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0) {
		perror(path);
		exit(2);
	}
}

/* The file's contents (NUL-terminated, length in *len), or NULL. */
static char *
read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (buf = malloc((size_t)st.st_size + 1)) ==
	    NULL) {
		close(fd);
		return NULL;
	}
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	buf[st.st_size] = '\0';
	if (len != NULL)
		*len = (size_t)st.st_size;
	return buf;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Entries of dir whose name contains ".bk-tmp"; -1 if dir is unreadable. */
static int
ntmp(const char *dir)
{
	char cmd[4200], line[64];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c 'bk-tmp'", dir);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL)
			n = atoi(line);
		pclose(f);
	}
	return n;
}

/* A pipe holding data, its write end closed: the read end. */
static int
pipe_of(const char *data)
{
	int p[2];
	size_t n = strlen(data);

	if (pipe(p) < 0 || write(p[1], data, n) != (ssize_t)n) {
		perror("pipe");
		exit(2);
	}
	close(p[1]);
	return p[0];
}

static void
sha_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[32];
	unsigned int dl;
	int i;

	EVP_Digest(data, len, d, &dl, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void
xattr_is(const char *path, const char *name, const char *want)
{
	char v[128];
	ssize_t n;

	n = getxattr(path, name, v, sizeof(v) - 1);
	if (n >= 0)
		v[n] = '\0';
	is_str(n >= 0 ? v : strerror(errno), want, "%s is \"%s\"", name, want);
}

/* --- locations ------------------------------------------------------------ */

static void
path_is(const char *loc, const char *want)
{
	struct bk_err e;
	char *p = NULL;
	int rc;

	bk_err_clear(&e);
	rc = bk_fs_path(loc, &p, &e);
	if (!ok(rc == 0 && p != NULL && strcmp(p, want) == 0,
	    "\"%s\" -> \"%s\"", loc, want))
		diag("  rc %d, path \"%s\", err \"%s\"", rc, p ? p : "", e.msg);
	free(p);
}

static void
path_refused(const char *loc, size_t len)
{
	struct bk_err e;
	char *p = NULL;
	int rc;

	bk_err_clear(&e);
	rc = bk_fs_path(loc, &p, &e);
	if (!ok(rc == -1 && p == NULL && e.code == BK_EXIT_USAGE &&
	    e.msg[0] != '\0', "\"%.*s\" is refused", (int)len, loc))
		diag("  rc %d, path \"%s\", err \"%s\"", rc, p ? p : "", e.msg);
	free(p);
}

static void
url_round_trip(const char *path, const char *want)
{
	struct bk_err e;
	char *u = NULL, *p = NULL;

	bk_err_clear(&e);
	if (!ok(bk_fs_url(path, &u, &e) == 0 && strcmp(u, want) == 0 &&
	    bk_fs_path(u, &p, &e) == 0 && strcmp(p, path) == 0,
	    "file URL \"%s\", and back to its path", want))
		diag("  url \"%s\", path \"%s\", err \"%s\"", u ? u : "",
		    p ? p : "", e.msg);
	free(u);
	free(p);
}

static void
test_paths(void)
{
	struct bk_err e;
	char *u = NULL;

	path_is("file:///a%20b", "/a b");
	path_is("file:///backups/db/", "/backups/db/");
	path_is("file://localhost/x", "/x");
	path_is("file://LocalHost/x/y", "/x/y");
	path_is("FILE:///x", "/x");
	path_is("file:/x/y", "/x/y");
	path_is("file:///", "/");
	path_is("file:///a%2fb%2F", "/a/b/");
	path_is("file:///%C3%a9t%C3%A9%25", "/\xc3\xa9t\xc3\xa9%");
	path_is("file:///a b", "/a b");
	path_is("/plain/%20path?#", "/plain/%20path?#");
	path_is("rel/path", "rel/path");
	path_is("./s3://x", "./s3://x");
	path_is("name:with:colons", "name:with:colons");

	path_refused("", 0);
	path_refused("file://host/x", 13);
	path_refused("file://localhost:8/x", 20);
	path_refused("file://relative", 15);
	path_refused("file://localhost", 16);
	path_refused("file://", 7);
	path_refused("file:", 5);
	path_refused("file:relative", 13);
	path_refused("file:///a%00b", 13);
	path_refused("file:///a%2", 11);
	path_refused("file:///a%", 10);
	path_refused("file:///a%zz", 12);
	path_refused("file:///a%g0", 12);
	path_refused("file:///a?b", 11);
	path_refused("file:///a#b", 11);
	path_refused("s3://bucket/key", 15);
	path_refused("http://host/x", 13);
	path_refused("gs://b/k", 8);

	url_round_trip("/a b", "file:///a%20b");
	url_round_trip("/b/db-2025_01.dump.gz.age",
	    "file:///b/db-2025_01.dump.gz.age");
	url_round_trip("/x/100%/q?#\n\xc3\xa9",
	    "file:///x/100%25/q%3F%23%0A%C3%A9");
	url_round_trip("/", "file:///");
	bk_err_clear(&e);
	ok(bk_fs_url("rel/x", &u, &e) == -1 && u == NULL &&
	    e.code == BK_EXIT_USAGE, "a relative path has no file URL");
}

/* --- storing -------------------------------------------------------------- */

struct prog {
	uint64_t	 total;
	unsigned	 calls;
	const char	*create;	/* create this file on the first call */
	int		 cancel;	/* set bk_s3_cancel on the first call */
};

static void
progress(void *arg, uint64_t n)
{
	struct prog *p = arg;

	if (p->calls++ == 0) {
		if (p->create != NULL)
			write_file(p->create, "theirs", 6);
		if (p->cancel)
			bk_s3_cancel = 1;
	}
	p->total += n;
}

struct eofarg {
	enum bk_seal_state	state;
	int			fail;
	int			called;
};

static int
eof_cb(void *arg, enum bk_seal_state *state, struct bk_err *err)
{
	struct eofarg *a = arg;

	a->called++;
	if (a->fail)
		return bk_err_set(err, BK_EXIT_RUNTIME, "seal: run directory "
		    "broken");
	*state = a->state;
	return 0;
}

/*
 * A timer for the cancel tests: SIGALRM every 50 ms, without SA_RESTART
 * so that a blocked read(2) is interrupted.  The first tick sets
 * bk_s3_cancel if asked (what a tool's SIGINT handler does); after 2 s a
 * put that still waits is unblocked by closing the pipe's write end, and
 * the test fails instead of hanging.
 */
static volatile sig_atomic_t	ticks, cancel_on_tick, watchdog_fired;
static volatile sig_atomic_t	watchdog_fd = -1;

static void
tick(int sig)
{
	(void)sig;
	if (++ticks == 1 && cancel_on_tick)
		bk_s3_cancel = 1;
	if (ticks >= 40 && !watchdog_fired && watchdog_fd >= 0) {
		watchdog_fired = 1;
		close(watchdog_fd);
	}
}

static void
timer_start(int wfd, int cancel)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tick;
	sigaction(SIGALRM, &sa, NULL);
	ticks = 0;
	watchdog_fired = 0;
	watchdog_fd = wfd;
	cancel_on_tick = cancel;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 50000;
	it.it_interval.tv_usec = 50000;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Stop the timer; 1 if the watchdog had to unblock the put. */
static int
timer_stop(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
	return watchdog_fired;
}

/* Store "abc" (from a pipe) at path; the put's return code. */
static int
put_abc(const char *path, enum bk_s3put_clobber clobber,
    struct bk_s3put_result *res, int *meta, struct bk_err *e)
{
	int fd = pipe_of("abc"), rc;

	bk_err_clear(e);
	rc = bk_fs_put(path, fd, clobber, NULL, NULL, NULL, NULL, res, meta,
	    e);
	close(fd);
	return rc;
}

/* A failed put: the code and message expected, nothing at path, no
 * temporary file in dir. */
static void
failed_clean(int rc, const struct bk_err *e, int code, const char *msg,
    const char *path, const char *dir, const char *what)
{
	if (!ok(rc == -1 && e->code == code && strstr(e->msg, msg) != NULL,
	    "%s: fails with %d \"...%s...\"", what, code, msg))
		diag("  rc %d, code %d, err \"%s\"", rc, e->code, e->msg);
	ok(!exists(path), "%s: nothing at the final name", what);
	is_int(ntmp(dir), 0, "%s: no temporary file left", what);
}

static void
test_put(void)
{
	struct bk_s3put_result res;
	struct bk_err e;
	struct prog pr;
	struct eofarg ea;
	struct stat st;
	struct rlimit rl, orl;
	char dir[512], path[1024], want[65], msg[1200], *buf, *got, *big;
	size_t len, i;
	mode_t om;
	int fd, meta, rc, pp[2];

	snprintf(dir, sizeof(dir), "%s/put", T);
	xmkdir(dir, 0755);

	/* Round trip of a known vector, with metadata. */
	snprintf(path, sizeof(path), "%s/abc", dir);
	meta = -1;
	rc = put_abc(path, BK_S3PUT_CLOBBER, &res, &meta, &e);
	if (!ok(rc == 0, "put \"abc\""))
		diag("  err \"%s\"", e.msg);
	is_int(res.size, 3, "size 3");
	is_str(res.sha256, SHA_ABC, "SHA-256 of \"abc\"");
	is_int(res.seal, BK_SEAL_NONE, "no eof hook: seal none");
	is_int(meta, 1, "metadata recorded");
	got = read_file(path, &len);
	is_mem(got, got ? len : 0, "abc", 3, "the file holds \"abc\"");
	free(got);
	xattr_is(path, BK_FS_XATTR_SIZE, "3");
	xattr_is(path, BK_FS_XATTR_SHA256, SHA_ABC);
	xattr_is(path, BK_FS_XATTR_SEAL, "none");
	is_int(ntmp(dir), 0, "no temporary file left");

	/* Mode 0666 less the umask, like cp. */
	om = umask(022);
	rc = put_abc(at("put/m644"), BK_S3PUT_CLOBBER, &res, NULL, &e);
	ok(rc == 0 && stat(P, &st) == 0 && (st.st_mode & 07777) == 0644,
	    "umask 022: mode 0644");
	umask(077);
	rc = put_abc(at("put/m600"), BK_S3PUT_CLOBBER, &res, NULL, &e);
	ok(rc == 0 && stat(P, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "umask 077: mode 0600");
	umask(om);

	/* Several chunks from a regular file, with progress. */
	if ((big = malloc(BIGLEN)) == NULL)
		exit(2);
	for (i = 0; i < BIGLEN; i++)
		big[i] = (char)((i * 31 + i / 251) % 251);
	write_file(at("big.in"), big, BIGLEN);
	sha_hex(big, BIGLEN, want);
	fd = open(P, O_RDONLY);
	memset(&pr, 0, sizeof(pr));
	snprintf(path, sizeof(path), "%s/big", dir);
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, NULL, NULL, progress, &pr,
	    &res, &meta, &e);
	close(fd);
	ok(rc == 0 && res.size == BIGLEN && strcmp(res.sha256, want) == 0,
	    "3 MiB + 17: size and SHA-256");
	ok(pr.total == BIGLEN && pr.calls >= 4, "progress saw every byte "
	    "(%u calls)", pr.calls);
	got = read_file(path, &len);
	ok(got != NULL && len == BIGLEN && memcmp(got, big, BIGLEN) == 0,
	    "3 MiB + 17: the bytes round-trip");
	free(got);
	snprintf(msg, sizeof(msg), "%d", BIGLEN);
	xattr_is(path, BK_FS_XATTR_SIZE, msg);
	xattr_is(path, BK_FS_XATTR_SHA256, want);

	/* Empty input: an empty file, recorded. */
	fd = pipe_of("");
	snprintf(path, sizeof(path), "%s/empty", dir);
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, NULL, NULL, NULL, NULL,
	    &res, &meta, &e);
	close(fd);
	ok(rc == 0 && res.size == 0 && strcmp(res.sha256, SHA_NIL) == 0 &&
	    stat(path, &st) == 0 && st.st_size == 0, "empty input: an empty "
	    "file");
	xattr_is(path, BK_FS_XATTR_SIZE, "0");

	/* The seal state, as the eof hook reports it. */
	memset(&ea, 0, sizeof(ea));
	ea.state = BK_SEAL_OK;
	fd = pipe_of("abc");
	snprintf(path, sizeof(path), "%s/sealed", dir);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, eof_cb, &ea, NULL, NULL,
	    &res, &meta, &e);
	close(fd);
	ok(rc == 0 && ea.called == 1 && res.seal == BK_SEAL_OK,
	    "eof hook called once: sealed");
	xattr_is(path, BK_FS_XATTR_SEAL, "ok");
	ea.state = BK_SEAL_UNSEALED;
	fd = pipe_of("abc");
	snprintf(path, sizeof(path), "%s/unsealed", dir);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, eof_cb, &ea, NULL, NULL,
	    &res, &meta, &e);
	close(fd);
	ok(rc == 0 && res.seal == BK_SEAL_UNSEALED, "unsealed upstream");
	xattr_is(path, BK_FS_XATTR_SEAL, "unsealed");

	/* An upstream that failed: nothing stored. */
	ea.state = BK_SEAL_FAILED;
	fd = pipe_of("abc");
	snprintf(path, sizeof(path), "%s/upstream", dir);
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, eof_cb, &ea, NULL, NULL,
	    &res, &meta, &e);
	close(fd);
	snprintf(msg, sizeof(msg), "upstream failed: nothing stored at %s",
	    path);
	is_str(e.msg, msg, "upstream failed: the message names the path");
	failed_clean(rc, &e, BK_EXIT_UPSTREAM, msg, path, dir,
	    "upstream failed");

	/* The same under no-clobber over an existing file: it stays. */
	snprintf(path, sizeof(path), "%s/abc", dir);
	fd = pipe_of("xyz");
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, eof_cb, &ea, NULL, NULL,
	    &res, &meta, &e);
	close(fd);
	got = read_file(path, NULL);
	ok(rc == -1 && e.code == BK_EXIT_UPSTREAM && got != NULL &&
	    strcmp(got, "abc") == 0 && ntmp(dir) == 0, "upstream failed, "
	    "clobber: the existing file is untouched");
	free(got);

	/* An eof hook that fails: its error, nothing stored. */
	ea.fail = 1;
	fd = pipe_of("abc");
	snprintf(path, sizeof(path), "%s/hookfail", dir);
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, eof_cb, &ea, NULL, NULL,
	    &res, &meta, &e);
	close(fd);
	failed_clean(rc, &e, BK_EXIT_RUNTIME, "run directory broken", path,
	    dir, "eof hook fails");

	/* Clobber replaces. */
	snprintf(path, sizeof(path), "%s/clob", dir);
	write_file(path, "old", 3);
	fd = pipe_of("new!");
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, NULL, NULL, NULL, NULL,
	    &res, &meta, &e);
	close(fd);
	got = read_file(path, NULL);
	ok(rc == 0 && got != NULL && strcmp(got, "new!") == 0,
	    "clobber: the file is replaced");
	free(got);

	/* No-clobber: refused before reading, the file intact. */
	write_file(path, "old", 3);
	for (i = 0; i < 2; i++) {
		enum bk_s3put_clobber c = i == 0 ? BK_S3PUT_NOCLOBBER :
		    BK_S3PUT_NOCLOBBER_CHECK;

		fd = open(at("big.in"), O_RDONLY);
		bk_err_clear(&e);
		rc = bk_fs_put(path, fd, c, NULL, NULL, NULL, NULL, &res,
		    &meta, &e);
		snprintf(msg, sizeof(msg), "%s: exists (--no-clobber)", path);
		ok(rc == -1 && e.code == BK_EXIT_CHECK &&
		    strcmp(e.msg, msg) == 0, "no-clobber%s: \"%s\"",
		    i ? "=check" : "", msg);
		is_int(lseek(fd, 0, SEEK_CUR), 0, "no-clobber: no byte read");
		close(fd);
		got = read_file(path, NULL);
		ok(got != NULL && strcmp(got, "old") == 0 && ntmp(dir) == 0,
		    "no-clobber: the file is intact, no temporary file");
		free(got);
	}

	/* No-clobber when the file appears while the stream is read: the
	 * commit refuses atomically. */
	snprintf(path, sizeof(path), "%s/race", dir);
	for (i = 0; i < 2; i++) {
		memset(&pr, 0, sizeof(pr));
		pr.create = path;
		unlink(path);
		fd = pipe_of("ours");
		bk_err_clear(&e);
		rc = bk_fs_put(path, fd, i == 0 ? BK_S3PUT_NOCLOBBER :
		    BK_S3PUT_NOCLOBBER_CHECK, NULL, NULL, progress, &pr, &res,
		    &meta, &e);
		close(fd);
		got = read_file(path, NULL);
		ok(rc == -1 && e.code == BK_EXIT_CHECK &&
		    strstr(e.msg, "exists (--no-clobber)") != NULL &&
		    got != NULL && strcmp(got, "theirs") == 0 &&
		    ntmp(dir) == 0, "no-clobber%s, created meanwhile: refused "
		    "at the commit, theirs intact", i ? "=check" : "");
		if (rc != -1 || got == NULL)
			diag("  rc %d, err \"%s\", file \"%s\"", rc, e.msg,
			    got ? got : "(none)");
		free(got);
	}

	/* No-clobber where nothing exists: stored. */
	snprintf(path, sizeof(path), "%s/fresh", dir);
	rc = put_abc(path, BK_S3PUT_NOCLOBBER, &res, &meta, &e);
	got = read_file(path, NULL);
	ok(rc == 0 && got != NULL && strcmp(got, "abc") == 0,
	    "no-clobber, nothing there: stored");
	free(got);

	/* A read error on the input: a directory, then a closed fd. */
	snprintf(path, sizeof(path), "%s/readerr", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, NULL, NULL, NULL, NULL,
	    &res, &meta, &e);
	close(fd);
	failed_clean(rc, &e, BK_EXIT_RUNTIME, "reading input", path, dir,
	    "input is a directory");
	is_int(e.sys, EISDIR, "input is a directory: EISDIR");
	/* A number no open(2) in the put can reuse. */
	fd = 1000;
	close(fd);
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, NULL, NULL, NULL, NULL,
	    &res, &meta, &e);
	failed_clean(rc, &e, BK_EXIT_RUNTIME, "reading input", path, dir,
	    "input is a closed fd");
	is_int(e.sys, EBADF, "input is a closed fd: EBADF");

	/* A write error part way (a file size limit: EFBIG, as a full
	 * disk would give ENOSPC). */
	snprintf(path, sizeof(path), "%s/writeerr", dir);
	fd = open(at("big.in"), O_RDONLY);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &orl);
	rl = orl;
	rl.rlim_cur = 65536;
	setrlimit(RLIMIT_FSIZE, &rl);
	bk_err_clear(&e);
	rc = bk_fs_put(path, fd, BK_S3PUT_CLOBBER, NULL, NULL, NULL, NULL,
	    &res, &meta, &e);
	setrlimit(RLIMIT_FSIZE, &orl);
	signal(SIGXFSZ, SIG_DFL);
	close(fd);
	snprintf(msg, sizeof(msg), "write %s", path);
	failed_clean(rc, &e, BK_EXIT_RUNTIME, msg, path, dir, "write error");
	is_int(e.sys, EFBIG, "write error: EFBIG");

	/* The rename fails: a directory holds the final name. */
	snprintf(path, sizeof(path), "%s/isdir", dir);
	xmkdir(path, 0755);
	write_file(at("put/isdir/keep"), "k", 1);
	rc = put_abc(path, BK_S3PUT_CLOBBER, &res, &meta, &e);
	ok(rc == -1 && e.code == BK_EXIT_RUNTIME && exists(P) &&
	    ntmp(dir) == 0, "rename onto a directory fails: it stays, no "
	    "temporary file");
	rc = put_abc(path, BK_S3PUT_NOCLOBBER, &res, &meta, &e);
	ok(rc == -1 && e.code == BK_EXIT_CHECK && exists(P),
	    "no-clobber onto a directory: exists");

	/* Cancelled before and during the stream. */
	snprintf(path, sizeof(path), "%s/cancel", dir);
	bk_s3_cancel = 1;
	rc = put_abc(path, BK_S3PUT_CLOBBER, &res, &meta, &e);
	bk_s3_cancel = 0;
	failed_clean(rc, &e, BK_EXIT_RUNTIME, "interrupted", path, dir,
	    "cancelled before");
	/* Between reads: the writer keeps the pipe open, so only the
	 * check between reads can end the put. */
	if (pipe(pp) < 0 || write(pp[1], "abc", 3) != 3)
		exit(2);
	memset(&pr, 0, sizeof(pr));
	pr.cancel = 1;
	timer_start(pp[1], 0);
	bk_err_clear(&e);
	rc = bk_fs_put(path, pp[0], BK_S3PUT_CLOBBER, NULL, NULL, progress,
	    &pr, &res, &meta, &e);
	ok(!timer_stop(), "cancelled between reads: stops without waiting "
	    "for the end of input");
	bk_s3_cancel = 0;
	close(pp[0]);
	if (!watchdog_fired)
		close(pp[1]);
	failed_clean(rc, &e, BK_EXIT_RUNTIME, "interrupted", path, dir,
	    "cancelled between reads");
	/* A signal (whose handler sets bk_s3_cancel) interrupts a read
	 * that waits for input. */
	if (pipe(pp) < 0)
		exit(2);
	timer_start(pp[1], 1);
	bk_err_clear(&e);
	rc = bk_fs_put(path, pp[0], BK_S3PUT_CLOBBER, NULL, NULL, NULL, NULL,
	    &res, &meta, &e);
	ok(!timer_stop(), "a signal interrupts a waiting read");
	bk_s3_cancel = 0;
	close(pp[0]);
	if (!watchdog_fired)
		close(pp[1]);
	failed_clean(rc, &e, BK_EXIT_RUNTIME, "interrupted", path, dir,
	    "signalled while waiting");

	/* mkdir -p, mode 0777 less the umask. */
	om = umask(022);
	snprintf(path, sizeof(path), "%s/deep/a/b//c/f", T);
	rc = put_abc(path, BK_S3PUT_CLOBBER, &res, &meta, &e);
	umask(om);
	got = read_file(path, NULL);
	ok(rc == 0 && got != NULL && strcmp(got, "abc") == 0,
	    "missing parents are created");
	free(got);
	ok(stat(at("deep/a/b/c"), &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0755, "created directories: mode 0755");
	ok(stat(at("deep"), &st) == 0 && (st.st_mode & 07777) ==
	    0755, "the first created directory too");

	/* A file where a directory should be: fails, the file stays. */
	write_file(at("blocker"), "b", 1);
	snprintf(path, sizeof(path), "%s/blocker/x/y", T);
	rc = put_abc(path, BK_S3PUT_CLOBBER, &res, &meta, &e);
	ok(rc == -1 && e.code == BK_EXIT_RUNTIME && e.sys == ENOTDIR &&
	    (got = read_file(at("blocker"), NULL)) != NULL &&
	    strcmp(got, "b") == 0, "a file in the way of mkdir -p: ENOTDIR, "
	    "the file stays");
	free(got);

	/* Paths without a file name. */
	rc = put_abc(at("put/"), BK_S3PUT_CLOBBER, &res, &meta, &e);
	ok(rc == -1 && e.code == BK_EXIT_USAGE, "\"dir/\" is refused");
	rc = put_abc("", BK_S3PUT_CLOBBER, &res, &meta, &e);
	ok(rc == -1 && e.code == BK_EXIT_USAGE, "\"\" is refused");
	rc = put_abc(at("put/.."), BK_S3PUT_CLOBBER, &res, &meta, &e);
	ok(rc == -1 && e.code == BK_EXIT_USAGE, "\"dir/..\" is refused");

	/* A 250-byte name: the temporary name is cut to fit NAME_MAX. */
	buf = malloc(251);
	memset(buf, 'n', 250);
	buf[250] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, buf);
	rc = put_abc(path, BK_S3PUT_CLOBBER, &res, &meta, &e);
	ok(rc == 0 && exists(path) && ntmp(dir) == 0, "a 250-byte name");
	if (rc != 0)
		diag("  err \"%s\"", e.msg);
	free(buf);

	/* A relative path, in the current directory. */
	if (chdir(dir) == 0) {
		rc = put_abc("rel", BK_S3PUT_CLOBBER, &res, &meta, &e);
		ok(rc == 0 && (got = read_file("rel", NULL)) != NULL &&
		    strcmp(got, "abc") == 0, "a relative path");
		free(got);
		if (chdir("/") < 0)
			exit(2);
	} else {
		skip(1, "chdir");
	}
	free(big);
}

/* --- stat and open -------------------------------------------------------- */

static void
meta_bad(const char *path, const char *want)
{
	struct bk_fs_meta m;
	struct bk_err e;
	int rc, fd;

	bk_err_clear(&e);
	rc = bk_fs_stat(path, &m, &e);
	if (!ok(rc == -1 && e.code == BK_EXIT_CHECK && strstr(e.msg, want),
	    "stat: \"...%s\"", want))
		diag("  rc %d, code %d, err \"%s\"", rc, e.code, e.msg);
	bk_err_clear(&e);
	rc = bk_fs_open(path, &fd, &m, &e);
	ok(rc == -1 && fd == -1 && e.code == BK_EXIT_CHECK &&
	    strstr(e.msg, want), "open: \"...%s\"", want);
}

static void
test_stat(void)
{
	struct bk_s3put_result res;
	struct bk_fs_meta m;
	struct bk_err e;
	char path[1024], buf[8];
	time_t t0 = time(NULL);
	int rc, fd, meta;

	snprintf(path, sizeof(path), "%s/st/stored", T);
	rc = put_abc(path, BK_S3PUT_CLOBBER, &res, &meta, &e);
	bk_err_clear(&e);
	rc = bk_fs_stat(path, &m, &e);
	ok(rc == 0 && m.size == 3 && m.has_meta && m.rec_size == 3 &&
	    strcmp(m.sha256, SHA_ABC) == 0 && strcmp(m.seal, "none") == 0,
	    "stat after put: size, recorded size, SHA-256, seal");
	ok(m.mtime >= t0 - 2 && m.mtime <= time(NULL) + 2, "stat: mtime");

	fd = -1;
	rc = bk_fs_open(path, &fd, &m, &e);
	ok(rc == 0 && fd >= 0 && m.has_meta && strcmp(m.sha256, SHA_ABC) == 0 &&
	    read(fd, buf, sizeof(buf)) == 3 && memcmp(buf, "abc", 3) == 0,
	    "open: metadata and bytes of one file");
	if (fd >= 0)
		close(fd);

	/* A file bk did not store: no metadata. */
	write_file(at("st/plain"), "hello", 5);
	rc = bk_fs_stat(P, &m, &e);
	ok(rc == 0 && m.size == 5 && !m.has_meta && m.rec_size == 0 &&
	    m.sha256[0] == '\0' && m.seal[0] == '\0', "stat without metadata");

	/* Missing, not a file. */
	snprintf(path, sizeof(path), "%s/st/missing", T);
	bk_err_clear(&e);
	rc = bk_fs_stat(path, &m, &e);
	snprintf(P, sizeof(P), "%s: no such file", path);
	ok(rc == -1 && e.code == BK_EXIT_CHECK && strcmp(e.msg, P) == 0,
	    "stat, missing: \"PATH: no such file\"");
	meta_bad(at("st/plain/below"), "no such file");
	meta_bad(at("st"), "not a regular file");
	if (mkfifo(at("st/fifo"), 0600) == 0)
		meta_bad(P, "not a regular file");
	else
		skip(2, "mkfifo");

	/* Malformed or partial metadata is refused. */
	write_file(at("st/bad"), "abc", 3);
	setxattr(P, BK_FS_XATTR_SIZE, "012", 3, 0);
	setxattr(P, BK_FS_XATTR_SHA256, SHA_ABC, 64, 0);
	meta_bad(P, "bad user.bk.size attribute");
	setxattr(P, BK_FS_XATTR_SIZE, "3x", 2, 0);
	meta_bad(P, "bad user.bk.size attribute");
	setxattr(P, BK_FS_XATTR_SIZE, "18446744073709551616", 20, 0);
	meta_bad(P, "bad user.bk.size attribute");
	setxattr(P, BK_FS_XATTR_SIZE, "18446744073709551615", 20, 0);
	rc = bk_fs_stat(P, &m, &e);
	ok(rc == 0 && m.has_meta && m.rec_size == UINT64_MAX,
	    "the largest size is read");
	setxattr(P, BK_FS_XATTR_SHA256, "BA7816BF8F01CFEA414140DE5DAE2223"
	    "B00361A396177A9CB410FF61F20015AD", 64, 0);
	meta_bad(P, "bad user.bk.sha256 attribute");
	setxattr(P, BK_FS_XATTR_SHA256, SHA_ABC, 63, 0);
	meta_bad(P, "bad user.bk.sha256 attribute");
	setxattr(P, BK_FS_XATTR_SHA256, SHA_ABC, 64, 0);
	setxattr(P, BK_FS_XATTR_SEAL, "failed", 6, 0);
	meta_bad(P, "bad user.bk.seal attribute");
	removexattr(P, BK_FS_XATTR_SEAL);
	removexattr(P, BK_FS_XATTR_SHA256);
	meta_bad(P, "user.bk.sha256 attribute missing");
}

/* --- listing -------------------------------------------------------------- */

struct got {
	char	 buf[8192];
	int	 n;
	int	 stop_after;	/* fail the listing after this many */
	uint64_t size_of_b;	/* the size seen for ".../b" */
	time_t	 mtime_of_b;
};

static int
collect(void *arg, const char *path, uint64_t size, time_t mtime,
    struct bk_err *err)
{
	struct got *g = arg;
	size_t n = strlen(g->buf), k = strlen(path);

	if (g->stop_after > 0 && g->n == g->stop_after)
		return bk_err_set(err, BK_EXIT_RUNTIME, "enough");
	g->n++;
	if (k >= 2 && strcmp(path + k - 2, "/b") == 0) {
		g->size_of_b = size;
		g->mtime_of_b = mtime;
	}
	snprintf(g->buf + n, sizeof(g->buf) - n, "%s%s", n ? " " : "", path);
	return 0;
}

/* The listing of prefix, paths relative to T ("" for T itself). */
static void
lists(const char *prefix, const char *want)
{
	struct bk_err e;
	struct got g;
	char full[1024], w[8192], *s, *tok, *save = NULL;
	size_t n;
	int rc;

	memset(&g, 0, sizeof(g));
	bk_err_clear(&e);
	if (prefix[0] != '/' && prefix[0] != '.' && strchr(prefix, ':') == NULL)
		snprintf(full, sizeof(full), "%s/%s", T, prefix);
	else
		snprintf(full, sizeof(full), "%s", prefix);
	rc = bk_fs_list(full, collect, &g, &e);
	/* want is relative to T, unless the prefix was relative. */
	w[0] = '\0';
	s = xstrdup(want);
	for (tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ",
	    &save)) {
		n = strlen(w);
		snprintf(w + n, sizeof(w) - n, "%s%s%s%s", n ? " " : "",
		    full[0] == '/' ? T : "", full[0] == '/' ? "/" : "", tok);
	}
	free(s);
	if (!ok(rc == 0 && strcmp(g.buf, w) == 0, "list \"%s\": %s", prefix,
	    want[0] ? want : "(nothing)"))
		diag("  rc %d, err \"%s\", got \"%s\"", rc, e.msg, g.buf);
}

/* Listing prefix (under T) fails with "T/dir: no such directory". */
static void
list_missing(const char *prefix, const char *dir)
{
	struct bk_err e;
	struct got g;
	char full[1024], w[1200];
	int rc;

	memset(&g, 0, sizeof(g));
	bk_err_clear(&e);
	snprintf(full, sizeof(full), "%s/%s", T, prefix);
	snprintf(w, sizeof(w), "%s/%s: no such directory", T, dir);
	rc = bk_fs_list(full, collect, &g, &e);
	if (!ok(rc == -1 && e.code == BK_EXIT_CHECK && strcmp(e.msg, w) == 0,
	    "list \"%s\": \"%s: no such directory\"", prefix, dir))
		diag("  rc %d, code %d, err \"%s\"", rc, e.code, e.msg);
}

/* bk_fs_list() of prefix in a child running as nobody when we are root
 * (root reads any directory).  Returns rc, fills e. */
static int
list_as_user(const char *prefix, struct got *g, struct bk_err *e)
{
	int p[2], status;
	pid_t pid;
	struct {
		int		rc;
		struct bk_err	e;
		struct got	g;
	} r;

	if (geteuid() != 0)
		return bk_fs_list(prefix, collect, g, e);
	if (pipe(p) < 0)
		exit(2);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(p[0]);
		memset(&r, 0, sizeof(r));
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(77);
		r.rc = bk_fs_list(prefix, collect, &r.g, &r.e);
		if (write(p[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	memset(&r, 0, sizeof(r));
	r.rc = -2;
	if (read(p[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
		r.rc = -2;
	close(p[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return -3;
	*e = r.e;
	*g = r.g;
	return r.rc;
}

static void
test_list(void)
{
	struct bk_s3put_result res;
	struct bk_err e;
	struct got g;
	struct stat st;
	char *prev, *tok, *save = NULL;
	int rc, meta, sorted;

	xmkdir(at("L"), 0755);
	xmkdir(at("L/a"), 0755);
	xmkdir(at("L/a/y"), 0755);
	xmkdir(at("L/c1"), 0755);
	xmkdir(at("L/empty"), 0755);
	write_file(at("L/a-b"), "1", 1);
	write_file(at("L/a.c"), "1", 1);
	write_file(at("L/a0"), "1", 1);
	write_file(at("L/a/x"), "1", 1);
	write_file(at("L/a/y/z"), "1", 1);
	write_file(at("L/b"), "12345", 5);
	write_file(at("L/c1/f"), "1", 1);
	write_file(at("L/.hidden"), "1", 1);
	write_file(at("L/.notes.bk-tmp"), "1", 1);
	write_file(at("L/B"), "1", 1);
	/* bk's temporary files, as bk_fs_put() names them. */
	write_file(at("L/.b.Ab3xZ9.bk-tmp"), "1", 1);
	write_file(at("L/a/.x.000000.bk-tmp"), "1", 1);
	if (symlink("a-b", at("L/link")) < 0 ||
	    symlink("a", at("L/dlink")) < 0 ||
	    mkfifo(at("L/fifo"), 0600) < 0) {
		perror("symlink/mkfifo");
		exit(2);
	}
	/* A store left in progress is not listed either. */
	rc = put_abc(at("L/c1/g"), BK_S3PUT_CLOBBER, &res, &meta, &e);

#define ALL	"L/.hidden L/.notes.bk-tmp L/B L/a-b L/a.c L/a/x L/a/y/z " \
		"L/a0 L/b L/c1/f L/c1/g"
	lists("L/", ALL);
	lists("L", ALL);
	lists("L//", "L//.hidden L//.notes.bk-tmp L//B L//a-b L//a.c L//a/x "
	    "L//a/y/z L//a0 L//b L//c1/f L//c1/g");
	lists("L/a", "L/a/x L/a/y/z");
	lists("L/a/", "L/a/x L/a/y/z");
	lists("L/a.", "L/a.c");
	lists("L/a-", "L/a-b");
	lists("L/a0", "L/a0");
	lists("L/c", "L/c1/f L/c1/g");
	lists("L/b", "L/b");
	lists("L/zz", "");
	lists("L/empty", "");
	lists("L/dlink", "L/dlink/x L/dlink/y/z");
	lists("L/.h", "L/.hidden");
	lists("L/.", "L/./.hidden L/./.notes.bk-tmp L/./B L/./a-b L/./a.c "
	    "L/./a/x L/./a/y/z L/./a0 L/./b L/./c1/f L/./c1/g");

	/* Byte order of whole paths, checked on its own. */
	memset(&g, 0, sizeof(g));
	rc = bk_fs_list(at("L/"), collect, &g, &e);
	sorted = rc == 0;
	prev = NULL;
	for (tok = strtok_r(g.buf, " ", &save); tok; tok = strtok_r(NULL, " ",
	    &save)) {
		if (prev != NULL && strcmp(prev, tok) >= 0)
			sorted = 0;
		prev = tok;
	}
	ok(sorted && g.n == 11, "paths come in strcmp order (%d)", g.n);
	stat(at("L/b"), &st);
	ok(g.size_of_b == 5 && g.mtime_of_b == st.st_mtime,
	    "size and mtime passed on");

	/* Relative prefixes. */
	if (chdir(T) == 0) {
		lists("./L/a", "./L/a/x ./L/a/y/z");
		if (chdir("L") == 0) {
			memset(&g, 0, sizeof(g));
			rc = bk_fs_list("a.", collect, &g, &e);
			is_str(g.buf, "a.c", "relative \"a.\" in L: a.c");
			memset(&g, 0, sizeof(g));
			rc = bk_fs_list("c", collect, &g, &e);
			is_str(g.buf, "c1/f c1/g", "relative \"c\" in L");
			memset(&g, 0, sizeof(g));
			rc = bk_fs_list("a", collect, &g, &e);
			is_str(g.buf, "a/x a/y/z", "relative \"a\" in L");
		} else {
			skip(3, "chdir");
		}
		if (chdir("/") < 0)
			exit(2);
	} else {
		skip(4, "chdir");
	}

	/* Missing directories. */
	list_missing("L/nope/", "L/nope/");
	list_missing("L/nope/x", "L/nope/");
	list_missing("L/b/", "L/b/");
	list_missing("L/b/x", "L/b/");
	bk_err_clear(&e);
	ok(bk_fs_list("", collect, &g, &e) == -1 && e.code == BK_EXIT_USAGE,
	    "an empty prefix is refused");

	/* The callback stops the listing with its error. */
	memset(&g, 0, sizeof(g));
	g.stop_after = 2;
	bk_err_clear(&e);
	rc = bk_fs_list(at("L/"), collect, &g, &e);
	ok(rc == -1 && g.n == 2 && strcmp(e.msg, "enough") == 0,
	    "the callback's error stops the listing");

	/* An unreadable directory in the tree: an error, not a short
	 * listing. */
	xmkdir(at("U"), 0755);
	write_file(at("U/a"), "1", 1);
	xmkdir(at("U/locked"), 0755);
	write_file(at("U/locked/f"), "1", 1);
	write_file(at("U/z"), "1", 1);
	chmod(at("U/locked"), 0);
	chmod(T, 0711);
	memset(&g, 0, sizeof(g));
	bk_err_clear(&e);
	rc = list_as_user(at("U/"), &g, &e);
	if (rc == -3) {
		skip(1, "cannot become nobody");
	} else if (!ok(rc == -1 && e.code == BK_EXIT_RUNTIME &&
	    strstr(e.msg, "U/locked/") != NULL && e.sys == EACCES,
	    "an unreadable directory fails the listing"))
		diag("  rc %d, code %d, err \"%s\", got \"%s\"", rc, e.code,
		    e.msg, g.buf);
	chmod(at("U/locked"), 0755);
	chmod(T, 0700);
}

/* --- deleting ------------------------------------------------------------- */

static void
test_delete(void)
{
	struct bk_err e;
	char path[1024];
	int rc;

	xmkdir(at("D"), 0755);
	snprintf(path, sizeof(path), "%s/D/f", T);
	write_file(path, "x", 1);
	bk_err_clear(&e);
	ok(bk_fs_delete(path, 0, &e) == 0 && !exists(path), "delete a file");
	ok(exists(at("D")), "its directory stays");
	bk_err_clear(&e);
	rc = bk_fs_delete(path, 0, &e);
	snprintf(P, sizeof(P), "%s: no such file", path);
	ok(rc == -1 && e.code == BK_EXIT_CHECK && strcmp(e.msg, P) == 0,
	    "delete a missing file: \"PATH: no such file\"");
	bk_err_clear(&e);
	ok(bk_fs_delete(path, 1, &e) == 0, "missing_ok: a missing file is "
	    "fine");
	ok(bk_fs_delete(at("D/nodir/f"), 1, &e) == 0,
	    "missing_ok: a missing directory is fine");
	bk_err_clear(&e);
	rc = bk_fs_delete(at("D"), 0, &e);
	ok(rc == -1 && e.code == BK_EXIT_RUNTIME && exists(P),
	    "a directory is not deleted");
	rc = bk_fs_delete(at("D/"), 0, &e);
	ok(rc == -1 && e.code == BK_EXIT_USAGE && exists(P),
	    "\"dir/\" is refused");

	write_file(at("D/target"), "t", 1);
	if (symlink("target", at("D/ln")) == 0) {
		ok(bk_fs_delete(P, 0, &e) == 0 && !exists(P) &&
		    exists(at("D/target")), "a link is deleted, not "
		    "its target");
	} else {
		skip(1, "symlink");
	}
}

/* --- user metadata and --skip-same ---------------------------------------- */

/* Store text from a pipe at path under o; the put's return code. */
static int
put_opts(const char *path, const char *text, const struct bk_s3put_opts *o,
    struct eofarg *ea, struct bk_s3put_result *res, struct bk_err *e)
{
	int fd = pipe_of(text), meta, rc;

	bk_err_clear(e);
	rc = bk_fs_put_opts(path, fd, o, ea != NULL ? eof_cb : NULL, ea, NULL,
	    NULL, res, &meta, e);
	close(fd);
	return rc;
}

static void
test_same(void)
{
	static const char *const keys[] = { "wal-sha256", "host" };
	static const char *const one[] = { "1111", "db1" };
	static const char *const two[] = { "2222", "db1" };
	struct bk_s3put_opts o;
	struct bk_s3put_result res;
	struct eofarg ea;
	struct bk_err e;
	char dir[PATH_MAX - 64], path[PATH_MAX], *got;
	int rc;

	snprintf(dir, sizeof(dir), "%s/same", T);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/000000010000000000000001", dir);
	memset(&o, 0, sizeof(o));
	o.clobber = BK_S3PUT_NOCLOBBER;
	o.meta_keys = keys;
	o.meta_values = one;
	o.nmeta = 2;
	o.same_meta = "wal-sha256";
	o.same_value = "1111";

	rc = put_opts(path, "first", &o, NULL, &res, &e);
	ok(rc == 0 && !res.skipped, "stored with user metadata");
	xattr_is(path, "user.meta.wal-sha256", "1111");
	xattr_is(path, "user.meta.host", "db1");

	rc = put_opts(path, "again", &o, NULL, &res, &e);
	got = read_file(path, NULL);
	ok(rc == 0 && res.skipped && res.size == 5 && got != NULL &&
	    strcmp(got, "first") == 0 && ntmp(dir) == 0, "the same value: "
	    "skipped, the input read to its end, the file untouched");
	free(got);

	memset(&ea, 0, sizeof(ea));
	ea.state = BK_SEAL_FAILED;
	rc = put_opts(path, "again", &o, &ea, &res, &e);
	ok(rc == -1 && e.code == BK_EXIT_UPSTREAM && ea.called == 1 &&
	    strstr(e.msg, "upstream failed") != NULL, "the same value, but "
	    "the upstream failed: exit %d (%s)", e.code, e.msg);

	o.meta_values = two;
	o.same_value = "2222";
	rc = put_opts(path, "other", &o, NULL, &res, &e);
	ok(rc == -1 && e.code == BK_EXIT_CHECK &&
	    strstr(e.msg, "exists, with other content") != NULL,
	    "another value: refused (%s)", e.msg);
	o.same_meta = "host2";
	rc = put_opts(path, "other", &o, NULL, &res, &e);
	ok(rc == -1 && e.code == BK_EXIT_CHECK &&
	    strstr(e.msg, "without the metadata") != NULL,
	    "no such metadata there: refused (%s)", e.msg);
	got = read_file(path, NULL);
	ok(got != NULL && strcmp(got, "first") == 0 && ntmp(dir) == 0,
	    "the first file stays");
	free(got);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	T = tap_tmpdir();

	test_paths();
	test_put();
	test_stat();
	test_list();
	test_delete();
	test_same();

	return done_testing();
}
