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
 * writer killed while writing its entry is still recognised.  They are
 * the ones /proc shows (/proc/self/stat), which in a pid namespace without
 * its own /proc is not getpid(); start 0 means unknown.  States are
 * replaced atomically (write a temporary file, rename it over the entry).
 *
 * Liveness.  A writer creates its entry as "running flock" and holds an
 * exclusive flock(2) on that file (taken on the temporary file, before the
 * rename, so the entry never exists unlocked) until it has renamed its
 * outcome over it, or until it dies.  A reader that finds "running flock"
 * tries a shared lock: refused, the writer is alive; granted, the writer
 * has finished or is gone, and the entry is read again to tell which.
 * Plain "running" (an older bk, or flock(2) unsupported) falls back to
 * the pid and start time.  The lock's descriptor is close-on-exec (a child
 * forked without an exec would hold it too, as part of the writer).
 *
 * Cleanup.  A bk reader removes the record it read.  A record whose reader
 * was not a bk tool ("bk-gz | gzip -d", "bk-gz | cat > file") stays, and
 * every writer, when it registers, collects such records:
 *   - where /proc shows every process that might hold a pipe (the initial
 *     pid namespace, /proc our own, every fd table of our uid readable),
 *     a record goes once its pipe no longer exists: no process holds
 *     either end (links "pipe:[<ino>]" in /proc/<pid>/fd), no writer in it
 *     is at work, and it is a minute old.  A reader must hold the pipe to
 *     ask, so once the pipe is gone nobody can ask; while the pipe lives
 *     the record stays, however slow its reader (and the pipe's inode
 *     number cannot be reused meanwhile).
 *   - elsewhere, the old rule: a record untouched for a day whose writers
 *     are all done.
 * A writer whose pipe has no reader left when it finishes removes its own
 * entry (bk_seal_finish()).  A writer whose pipe still has a reader cannot:
 * that reader may ask long after the writer exited (it may be slow, or
 * stopped), and must then find the verdict.  (A writer whose stdout is a
 * file or a terminal registers nothing in the first place.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/*
 * A record this old whose pipe no longer exists is removed.  The delay
 * covers the moments when a pipe's descriptors move between processes
 * (a shell forking the stages of a pipeline, then closing its own) and a
 * scan of /proc could miss them.
 */
#define GONE_SECS	60

/* Records checked against /proc in one registration (more: next time). */
#define GONE_MAX	64

/* The initial pid namespace (PROC_PID_INIT_INO). */
#define PID_NS_INIT	"pid:[4026531836]"

/* Entry contents. */
#define RUNNING_LOCKED	"running flock\n"

long	bk_seal_wait_ms = 10000;

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
 * name and *st, 0 if fd is a FIFO but not an anonymous pipe, -1 if not a
 * FIFO.
 */
static int
pipe_name(int fd, char *name, size_t size, struct stat *st)
{
	char link[64], target[64];
	ssize_t n;

	if (fstat(fd, st) < 0 || !S_ISFIFO(st->st_mode))
		return -1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n >= 0) {
		target[n] = '\0';
		if (strncmp(target, "pipe:", 5) != 0)
			return 0;	/* a named FIFO */
	}
	/* Without /proc, take every FIFO for a pipe. */
	snprintf(name, size, "p%jx-%jx", (uintmax_t)st->st_dev,
	    (uintmax_t)st->st_ino);
	return 1;
}

int
bk_seal_parse_stat(const char *line, long *pid, char *state,
    unsigned long long *start)
{
	unsigned long long v;
	const char *p;
	char *end;
	long id;
	int i;

	errno = 0;
	id = strtol(line, &end, 10);
	if (errno != 0 || end == line || id <= 0 || strncmp(end, " (", 2) != 0)
		return -1;
	/* The command name may hold blanks and parentheses, but the fields
	 * after it are numbers: count them from the last ')'.  State is
	 * field 3, start time 22. */
	if ((p = strrchr(end, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		return -1;
	p += 2;
	*state = *p;
	for (i = 3; i < 22; i++) {
		if ((p = strchr(p, ' ')) == NULL)
			return -1;
		p++;
	}
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -1;
	*start = v;
	*pid = id;
	return 0;
}

/* Read and parse a /proc/.../stat file.  Returns 0, or -1. */
static int
read_stat(const char *path, long *pid, char *state,
    unsigned long long *start)
{
	char buf[1024];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return bk_seal_parse_stat(buf, pid, state, start);
}

/*
 * This process as /proc shows it: its pid there and its start time.  In a
 * pid namespace without its own /proc that pid is not getpid() (which
 * /proc would take for another process, say the host's init), and it is
 * the one a reader sharing that /proc can check.  Without /proc: getpid()
 * and start 0, unknown.
 */
static void
self_ident(pid_t *pid, unsigned long long *start)
{
	char state;
	long p;

	if (read_stat("/proc/self/stat", &p, &state, start) == 0) {
		*pid = (pid_t)p;
		return;
	}
	*pid = getpid();
	*start = 0;
}

/*
 * Is the writer of a plain "running" entry (one without the lock: an older
 * bk, or no flock(2)) still alive?  By its pid and start time, as /proc
 * showed them to it.  Only as good as /proc, which is why the reader's
 * wait is bounded anyway.
 */
static int
pid_alive(pid_t pid, unsigned long long start)
{
	unsigned long long now;
	char path[64], state;
	long p;

	if (start == 0)
		/* The writer had no /proc: kill(2) can only tell that some
		 * process has the pid.  EPERM: not one of ours, which run as
		 * the owner of the run directory. */
		return kill(pid, 0) == 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (read_stat(path, &p, &state, &now) < 0)
		return 0;
	/* A zombie has finished: its outcome, if any, is on disk. */
	return state != 'Z' && state != 'X' && now == start;
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

/* The state in an entry; *locked: "running" with its writer's lock. */
static enum bk_seal_state
read_state(int fd, int *locked)
{
	char buf[32];
	ssize_t n;

	*locked = 0;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return BK_SEAL_RUNNING;
	buf[n] = '\0';
	if (strcmp(buf, "ok\n") == 0)
		return BK_SEAL_OK;
	if (strcmp(buf, "unsealed\n") == 0)
		return BK_SEAL_UNSEALED;
	if (strcmp(buf, "failed\n") == 0)
		return BK_SEAL_FAILED;
	if (strcmp(buf, RUNNING_LOCKED) == 0)
		*locked = 1;
	return BK_SEAL_RUNNING;
}

/*
 * The state of one writer's entry (name in the record dfd): its outcome,
 * BK_SEAL_RUNNING while the writer is at work, BK_SEAL_FAILED if it is
 * gone without an outcome.
 */
static enum bk_seal_state
entry_state(int dfd, const char *name, pid_t pid, unsigned long long start)
{
	enum bk_seal_state st;
	int fd, locked, r;

	/* Gone (the record removed under us): no outcome to be had. */
	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return BK_SEAL_FAILED;
	st = read_state(fd, &locked);
	if (st != BK_SEAL_RUNNING || !locked) {
		close(fd);
		if (st != BK_SEAL_RUNNING)
			return st;
		return pid_alive(pid, start) ? BK_SEAL_RUNNING :
		    BK_SEAL_FAILED;
	}
	r = flock(fd, LOCK_SH | LOCK_NB);
	if (r < 0 && errno == EWOULDBLOCK) {
		close(fd);
		return BK_SEAL_RUNNING;	/* held: the writer is alive */
	}
	close(fd);				/* (and our lock with it) */
	if (r < 0)	/* flock(2) failed here but not for the writer */
		return pid_alive(pid, start) ? BK_SEAL_RUNNING :
		    BK_SEAL_FAILED;
	/* Let go: the writer renamed its outcome over the entry just before
	 * it did, or it is gone.  Look again. */
	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return BK_SEAL_FAILED;
	st = read_state(fd, &locked);
	close(fd);
	return st == BK_SEAL_RUNNING ? BK_SEAL_FAILED : st;
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
		st = entry_state(dirfd(d), de->d_name, pid, start);
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

/*
 * Can this process see in /proc every process that might hold a pipe?
 * Only in the initial pid namespace (the processes of every other one are
 * visible from it), with /proc its own and not hiding processes (hidepid:
 * as root, /proc/1 is always visible).
 */
static int
sees_all_processes(void)
{
	unsigned long long start;
	char buf[64], state;
	ssize_t n;
	long pid;

	n = readlink("/proc/self/ns/pid", buf, sizeof(buf) - 1);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	if (strcmp(buf, PID_NS_INIT) != 0)
		return 0;
	if (read_stat("/proc/self/stat", &pid, &state, &start) < 0 ||
	    pid != (long)getpid())
		return 0;
	return geteuid() == 0 || access("/proc/1/stat", F_OK) == 0;
}

/*
 * Could process pid (a name in /proc) run as us: is one of its uids our
 * effective uid?  Only such a process can read a record of ours (a reader
 * with another uid uses another run directory).  In doubt, yes.
 */
static int
maybe_ours(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long u[4];
	uid_t me = geteuid();
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno != ENOENT && errno != ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	i = errno;
	close(fd);
	if (n < 0 && i == ESRCH)
		return 0;			/* it has just exited */
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nUid:")) == NULL ||
	    sscanf(p + 5, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) != 4)
		return 1;
	for (i = 0; i < 4; i++)
		if (u[i] == (unsigned long)me)
			return 1;
	return 0;
}

/* A record that may be left over from a pipe that is gone. */
struct gone {
	uintmax_t	ino;
	int		stale;		/* untouched for STALE_SECS */
	int		keep;		/* a writer at work, or pipe held */
	char		name[64];
};

/*
 * Mark (keep) the records of g[] whose pipe a process still holds: a
 * descriptor to either end, which /proc/<pid>/fd shows as a link to
 * "pipe:[<ino>]".  Returns 0, or -1 if the scan cannot be trusted: a
 * process that might be ours could not be looked into.  (Not seen:
 * descriptors in flight in a unix socket, and threads that unshared their
 * descriptor table.)
 */
static int
mark_held(struct gone *g, int n)
{
	char path[64], link[64], *end;
	struct dirent *de, *fe;
	DIR *proc, *fds;
	uintmax_t ino;
	ssize_t len;
	long pid;
	int i, rc = 0;

	if ((proc = opendir("/proc")) == NULL)
		return -1;
	while (rc == 0 && (de = readdir(proc)) != NULL) {
		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		if ((fds = opendir(path)) == NULL) {
			if (errno != ENOENT && errno != ESRCH &&
			    maybe_ours(pid))
				rc = -1;
			continue;
		}
		while ((fe = readdir(fds)) != NULL) {
			len = readlinkat(dirfd(fds), fe->d_name, link,
			    sizeof(link) - 1);
			if (len <= 6)
				continue;
			link[len] = '\0';
			if (strncmp(link, "pipe:[", 6) != 0)
				continue;
			ino = strtoumax(link + 6, &end, 10);
			if (*end != ']')
				continue;
			for (i = 0; i < n; i++)
				if (g[i].ino == ino)
					g[i].keep = 1;
		}
		closedir(fds);
	}
	closedir(proc);
	return rc;
}

/*
 * Collect the records left behind by readers that were not bk tools (see
 * the top of this file).  pipe_dev is the device of pipes (from our own):
 * a record of another device cannot be checked against /proc.
 */
static void
collect(const char *rundir, dev_t pipe_dev)
{
	char path[PATH_MAX], extra;
	struct gone g[GONE_MAX];
	uintmax_t dev, ino;
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL), age;
	int i, n = 0, trusted, check = 0;
	DIR *d;

	if ((d = opendir(rundir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != 'p' ||
		    strlen(de->d_name) >= sizeof(g[0].name) ||
		    snprintf(path, sizeof(path), "%s/%s", rundir,
		    de->d_name) >= (int)sizeof(path))
			continue;
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if ((age = now - st.st_mtime) < GONE_SECS)
			continue;
		if (n < GONE_MAX && sscanf(de->d_name, "p%jx-%jx%c", &dev,
		    &ino, &extra) == 2 && dev == (uintmax_t)pipe_dev) {
			g[n].ino = ino;
			g[n].stale = age >= STALE_SECS;
			g[n].keep = 0;
			strcpy(g[n].name, de->d_name);
			n++;
		} else if (age >= STALE_SECS &&
		    scan_record(path) != BK_SEAL_RUNNING)
			remove_record(path);
	}
	closedir(d);
	if (n == 0)
		return;
	/* A writer still at work keeps its record. */
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", rundir,
		    g[i].name) >= (int)sizeof(path) ||
		    scan_record(path) == BK_SEAL_RUNNING)
			g[i].keep = 1;
		else
			check++;
	}
	if (check == 0)
		return;
	/* Where /proc shows every holder, a record goes when its pipe has
	 * gone, and stays while it lives (its inode cannot be reused then,
	 * however old the record); elsewhere the old rule: a day. */
	trusted = sees_all_processes() && mark_held(g, n) == 0;
	for (i = 0; i < n; i++) {
		if (g[i].keep || (!trusted && !g[i].stale))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", rundir,
		    g[i].name) < (int)sizeof(path))
			remove_record(path);
	}
}

/*
 * Write state into the entry at path, atomically.  With lockfd (for the
 * "running" of a registration): lock the file before it becomes the entry,
 * and hand its descriptor, to be kept open, back in *lockfd; if flock(2)
 * fails, *lockfd is -1 and the entry is a plain "running".
 */
static int
put_state(const char *path, enum bk_seal_state st, int *lockfd,
    struct bk_err *err)
{
	char tmp[PATH_MAX + 8], line[32];
	const char *slash;
	int fd, n, locked = 0;

	slash = strrchr(path, '/');
	n = snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp",
	    (int)(slash - path), path, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return bk_err_set(err, BK_EXIT_RUNTIME, "seal: path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "seal %s", tmp);
	if (lockfd != NULL)
		locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
	if (locked)
		n = snprintf(line, sizeof(line), "%s", RUNNING_LOCKED);
	else
		n = snprintf(line, sizeof(line), "%s\n", bk_seal_name(st));
	if (bk_io_write_all(fd, line, (size_t)n, tmp, err) < 0) {
		close(fd);
		unlink(tmp);
		return bk_err_prefix(err, "seal");
	}
	if (!locked)
		close(fd);
	if (rename(tmp, path) < 0) {
		n = errno;
		if (locked)
			close(fd);
		unlink(tmp);
		return bk_err_sys(err, BK_EXIT_RUNTIME, n, "seal %s", path);
	}
	if (lockfd != NULL)
		*lockfd = locked ? fd : -1;
	return 0;
}

int
bk_seal_register(struct bk_seal *s, int fd, struct bk_err *err)
{
	char rundir[PATH_MAX], name[64];
	unsigned long long start;
	struct stat st;
	pid_t pid;
	int n, tries;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->lockfd = -1;
	if (pipe_name(fd, name, sizeof(name), &st) != 1)
		return 0;
	if (rundir_check(rundir, sizeof(rundir), 1, err) < 0)
		return -1;
	collect(rundir, st.st_dev);
	self_ident(&pid, &start);
	n = snprintf(s->dir, sizeof(s->dir), "%s/%s", rundir, name);
	if (n < 0 || (size_t)n >= sizeof(s->dir))
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory %s: path too long", rundir);
	n = snprintf(s->path, sizeof(s->path), "%s/%ld.%llu", s->dir,
	    (long)pid, start);
	if (n < 0 || (size_t)n >= sizeof(s->path))
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "run directory %s: path too long", rundir);
	/* Another tool's collect() may remove the record between our mkdir
	 * and our entry: try again once. */
	for (tries = 0; tries < 2; tries++) {
		if (mkdir(s->dir, 0700) < 0 && errno != EEXIST)
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno,
			    "seal %s", s->dir);
		if (put_state(s->path, BK_SEAL_RUNNING, &s->lockfd,
		    err) == 0) {
			s->active = 1;
			s->fd = fd;
			s->dev = st.st_dev;
			s->ino = st.st_ino;
			return 0;
		}
		if (err != NULL && err->sys != ENOENT)
			return -1;
	}
	return -1;
}

/*
 * Has our pipe no reader left?  (poll(2) reports POLLERR on the write end
 * then.)  No if fd is no longer our pipe: a writer may close it before it
 * finishes.
 */
static int
no_reader(const struct bk_seal *s)
{
	struct pollfd pfd;
	struct stat st;

	if (fstat(s->fd, &st) < 0 || st.st_dev != s->dev ||
	    st.st_ino != s->ino)
		return 0;
	pfd.fd = s->fd;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 1)
		return 0;
	return (pfd.revents & POLLERR) != 0;
}

int
bk_seal_finish(struct bk_seal *s, enum bk_seal_state outcome,
    struct bk_err *err)
{
	int rc = 0;

	if (!s->active)
		return 0;
	s->active = 0;
	if (outcome != BK_SEAL_OK && outcome != BK_SEAL_UNSEALED)
		outcome = BK_SEAL_FAILED;
	if (no_reader(s)) {
		/* Every read end is closed, and an anonymous pipe cannot be
		 * opened again: nobody will ever ask.  Leave nothing behind
		 * (the record too, unless other writers are in it). */
		unlink(s->path);
		rmdir(s->dir);
	} else
		rc = put_state(s->path, outcome, NULL, err);
	/* Only now, with the outcome in place, let readers see us go. */
	if (s->lockfd >= 0) {
		close(s->lockfd);
		s->lockfd = -1;
	}
	return rc;
}

int
bk_seal_upstream(int fd, enum bk_seal_state *state, struct bk_err *err)
{
	char rundir[PATH_MAX], name[64], dir[PATH_MAX];
	enum bk_seal_state st;
	struct timespec t0, now, ts;
	long long delay = 1000000;	/* 1 ms, growing to 64 ms */
	long long left;
	struct stat sb;
	int r;

	r = pipe_name(fd, name, sizeof(name), &sb);
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
	/*
	 * At end of file every writer has closed the pipe, and a bk tool
	 * records its outcome before it closes it: a writer still running
	 * is on its way out without one.  Wait for it a little, sleeping
	 * between looks; one that has not finished after bk_seal_wait_ms
	 * counts as failed.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((st = scan_record(dir)) == BK_SEAL_RUNNING) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = bk_seal_wait_ms * 1000000LL -
		    ((now.tv_sec - t0.tv_sec) * 1000000000LL +
		    (now.tv_nsec - t0.tv_nsec));
		if (left <= 0) {
			st = BK_SEAL_FAILED;
			break;
		}
		if (delay > left)
			delay = left;
		ts.tv_sec = (time_t)(delay / 1000000000LL);
		ts.tv_nsec = (long)(delay % 1000000000LL);
		nanosleep(&ts, NULL);
		if (delay < 64000000)
			delay *= 2;
	}
	remove_record(dir);
	*state = st;
	return 0;
}
