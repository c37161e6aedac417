/*
 * seal.c - the pipeline seal (see seal.h for the protocol).
 *
 * Layout of the run directory:
 *
 *	<rundir>/p<dev>-<ino>/			one record per pipe
 *	<rundir>/p<dev>-<ino>/<pid>.<start>	one entry per writer; its
 *						content is its state
 *
 * The writer's pid and start time are in the entry's name, so that a
 * writer killed while writing its entry is still recognised.  States are
 * replaced atomically (write a temporary file, rename it over the entry).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "seal.h"

/*
 * A record nobody has touched for this long, whose writers are all gone,
 * is left over from a pipeline whose reader was not a bk tool: remove it,
 * so that a future pipe that happens to get the same inode number does not
 * inherit it.
 */
#define STALE_SECS	(24 * 60 * 60)

const char *
bk_seal_name(enum bk_seal_state st)
{
	switch (st) {
	case BK_SEAL_NONE:	return "none";
	case BK_SEAL_RUNNING:	return "running";
	case BK_SEAL_OK:	return "ok";
	case BK_SEAL_UNSEALED:	return "unsealed";
	case BK_SEAL_FAILED:	return "failed";
	}
	return "unknown";
}

enum bk_seal_state
bk_seal_pass(enum bk_seal_state upstream, int self_ok)
{
	if (!self_ok || upstream == BK_SEAL_FAILED ||
	    upstream == BK_SEAL_RUNNING)
		return BK_SEAL_FAILED;
	if (upstream == BK_SEAL_UNSEALED)
		return BK_SEAL_UNSEALED;
	return BK_SEAL_OK;
}

int
bk_seal_rundir(char *buf, size_t size, struct bk_err *err)
{
	const char *v;
	int n;

	if ((v = getenv("BK_RUNDIR")) != NULL && *v != '\0')
		n = snprintf(buf, size, "%s", v);
	else if ((v = getenv("XDG_RUNTIME_DIR")) != NULL && *v == '/')
		n = snprintf(buf, size, "%s/bk", v);
	else
		n = snprintf(buf, size, "/tmp/bk-%lu",
		    (unsigned long)geteuid());
	if (n < 0 || (size_t)n >= size)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory: path too long");
	return 0;
}

/*
 * Check that the run directory is ours and closed to others; create it
 * (mode 0700) if create is set.  Returns 0, 1 if it does not exist (and
 * create is not set), or -1 with err.
 */
static int
rundir_check(char *dir, size_t size, int create, struct bk_err *err)
{
	struct stat st;

	if (bk_seal_rundir(dir, size, err) < 0)
		return -1;
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
		    "run directory %s", dir);
	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT && !create)
			return 1;
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
		    "run directory %s", dir);
	}
	if (!S_ISDIR(st.st_mode))
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory %s: not a directory", dir);
	if (st.st_uid != geteuid())
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory %s: owned by uid %lu, not by us", dir,
		    (unsigned long)st.st_uid);
	if ((st.st_mode & 077) != 0)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory %s: mode %04o is open to others "
		    "(must be 0700)", dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

/*
 * The record name of fd if it is an anonymous pipe.  Returns 1 and fills
 * name, 0 if fd is a FIFO but not an anonymous pipe, -1 if not a FIFO.
 */
static int
pipe_name(int fd, char *name, size_t size)
{
	char link[64], target[64];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return -1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n >= 0) {
		target[n] = '\0';
		if (strncmp(target, "pipe:", 5) != 0)
			return 0;	/* a named FIFO */
	}
	/* Without /proc, take every FIFO for a pipe. */
	snprintf(name, size, "p%jx-%jx", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino);
	return 1;
}

/*
 * Read process pid's state letter and start time (clock ticks since boot)
 * from /proc.  Returns 0, or -1 if there is no such process.
 */
static int
proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	int fd, i;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold blanks and parentheses: fields are
	 * counted from the last ')'.  State is field 3, start time 22. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	for (i = 3; i < 22; i++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

/* Is the writer named by an entry (pid.start) still running? */
static int
writer_alive(pid_t pid, unsigned long long start)
{
	unsigned long long now_start;
	char state;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	if (proc_stat(pid, &state, &now_start) < 0)
		/* No /proc: trust kill(2). */
		return kill(pid, 0) == 0 || errno == EPERM;
	/* A zombie has finished: its outcome, if any, is on disk. */
	if (state == 'Z' || state == 'X')
		return 0;
	return now_start == start;
}

static int
parse_entry(const char *name, pid_t *pid, unsigned long long *start)
{
	char *end;
	long p;

	errno = 0;
	p = strtol(name, &end, 10);
	if (errno != 0 || end == name || *end != '.' || p <= 0)
		return -1;
	*pid = (pid_t)p;
	*start = strtoull(end + 1, &end, 10);
	return *end == '\0' ? 0 : -1;
}

static enum bk_seal_state
read_state(int dirfd, const char *name)
{
	char buf[32];
	ssize_t n;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return BK_SEAL_RUNNING;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return BK_SEAL_RUNNING;
	buf[n] = '\0';
	if (strcmp(buf, "ok\n") == 0)
		return BK_SEAL_OK;
	if (strcmp(buf, "unsealed\n") == 0)
		return BK_SEAL_UNSEALED;
	if (strcmp(buf, "failed\n") == 0)
		return BK_SEAL_FAILED;
	return BK_SEAL_RUNNING;
}

/*
 * Scan a record: the combined state of its writers.  BK_SEAL_RUNNING if
 * a writer is still at work; a writer gone without an outcome counts as
 * failed; an empty record (a writer died while registering) too.
 */
static enum bk_seal_state
scan_record(const char *dir)
{
	enum bk_seal_state st, all = BK_SEAL_OK;
	unsigned long long start;
	struct dirent *de;
	int seen = 0;
	pid_t pid;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? BK_SEAL_UNSEALED : BK_SEAL_FAILED;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    parse_entry(de->d_name, &pid, &start) < 0)
			continue;
		seen++;
		st = read_state(dirfd(d), de->d_name);
		if (st == BK_SEAL_RUNNING && !writer_alive(pid, start))
			st = BK_SEAL_FAILED;
		if (st == BK_SEAL_RUNNING ||
		    (st == BK_SEAL_FAILED && all != BK_SEAL_RUNNING))
			all = st;
		else if (st == BK_SEAL_UNSEALED && all == BK_SEAL_OK)
			all = st;
	}
	closedir(d);
	return seen ? all : BK_SEAL_FAILED;
}

/* Remove a record and everything in it (entries, temporary files). */
static void
remove_record(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) < (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Is the record stale: untouched for a day, no writer at work? */
static int
stale(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (time(NULL) - st.st_mtime < STALE_SECS)
		return 0;
	return scan_record(dir) != BK_SEAL_RUNNING;
}

static void
collect_stale(const char *rundir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(rundir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != 'p')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", rundir,
		    de->d_name) >= (int)sizeof(path))
			continue;
		if (stale(path))
			remove_record(path);
	}
	closedir(d);
}

/* Write state into the entry at path, atomically. */
static int
put_state(const char *path, enum bk_seal_state st, struct bk_err *err)
{
	char tmp[PATH_MAX + 8], line[16];
	const char *slash;
	int fd, n;

	slash = strrchr(path, '/');
	n = snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp",
	    (int)(slash - path), path, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return bk_err_set(err, BK_EXIT_RUNTIME, "seal: path too long");
	n = snprintf(line, sizeof(line), "%s\n", bk_seal_name(st));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "seal %s", tmp);
	if (bk_io_write_all(fd, line, (size_t)n, tmp, err) < 0) {
		close(fd);
		unlink(tmp);
		return bk_err_prefix(err, "seal");
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		n = errno;
		unlink(tmp);
		return bk_err_sys(err, BK_EXIT_RUNTIME, n, "seal %s", path);
	}
	return 0;
}

int
bk_seal_register(struct bk_seal *s, int fd, struct bk_err *err)
{
	char rundir[PATH_MAX], name[64];
	unsigned long long start = 0;
	char state;
	int n, tries;

	memset(s, 0, sizeof(*s));
	if (pipe_name(fd, name, sizeof(name)) != 1)
		return 0;
	if (rundir_check(rundir, sizeof(rundir), 1, err) < 0)
		return -1;
	collect_stale(rundir);
	if (proc_stat(getpid(), &state, &start) < 0)
		start = 0;
	n = snprintf(s->dir, sizeof(s->dir), "%s/%s", rundir, name);
	if (n < 0 || (size_t)n >= sizeof(s->dir))
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory %s: path too long", rundir);
	n = snprintf(s->path, sizeof(s->path), "%s/%ld.%llu", s->dir,
	    (long)getpid(), start);
	if (n < 0 || (size_t)n >= sizeof(s->path))
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory %s: path too long", rundir);
	/* Another tool's collect_stale() may remove the record between our
	 * mkdir and our entry: try again once. */
	for (tries = 0; tries < 2; tries++) {
		if (mkdir(s->dir, 0700) < 0 && errno != EEXIST)
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
			    "seal %s", s->dir);
		if (put_state(s->path, BK_SEAL_RUNNING, err) == 0) {
			s->active = 1;
			return 0;
		}
		if (err != NULL && err->sys != ENOENT)
			return -1;
	}
	return -1;
}

int
bk_seal_finish(struct bk_seal *s, enum bk_seal_state outcome,
    struct bk_err *err)
{
	if (!s->active)
		return 0;
	s->active = 0;
	if (outcome != BK_SEAL_OK && outcome != BK_SEAL_UNSEALED)
		outcome = BK_SEAL_FAILED;
	return put_state(s->path, outcome, err);
}

int
bk_seal_upstream(int fd, enum bk_seal_state *state, struct bk_err *err)
{
	char rundir[PATH_MAX], name[64], dir[PATH_MAX];
	enum bk_seal_state st;
	struct timespec ts;
	long delay = 1000000;	/* 1 ms, growing to 64 ms */
	int r;

	r = pipe_name(fd, name, sizeof(name));
	if (r < 0) {
		*state = BK_SEAL_NONE;
		return 0;
	}
	*state = BK_SEAL_UNSEALED;
	if (r == 0)
		return 0;
	r = rundir_check(rundir, sizeof(rundir), 0, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = snprintf(dir, sizeof(dir), "%s/%s", rundir, name);
	if (r < 0 || (size_t)r >= sizeof(dir))
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory %s: path too long", rundir);
	if (access(dir, F_OK) < 0)
		return 0;	/* no bk writer upstream */
	/* At end of file every writer has closed the pipe, so each has
	 * recorded its outcome or is about to die: wait for the ones still
	 * on their way out. */
	while ((st = scan_record(dir)) == BK_SEAL_RUNNING) {
		ts.tv_sec = 0;
		ts.tv_nsec = delay;
		nanosleep(&ts, NULL);
		if (delay < 64000000)
			delay *= 2;
	}
	remove_record(dir);
	*state = st;
	return 0;
}
