/*
 * restore.c - the restore test of a backup (see restore.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "pg.h"
#include "tar.h"
#include "restore.h"

#define SQL_MAX		(1024 * 1024)
#define START_SECS	"300"		/* pg_ctl start -t: recovery included */

volatile sig_atomic_t	bk_restore_stop;

/* The connection the checks run on, for bk_restore_interrupt(); set and
 * cleared only once the verifying threads are done (in end()), so a
 * handler that sees it runs on the thread that owns it. */
static PGcancel *volatile cancel;

void
bk_restore_interrupt(int sig)
{
	PGcancel *c = cancel;
	char buf[256];

	bk_restore_stop = sig;
	if (c != NULL)
		PQcancel(c, buf, sizeof(buf));
}

/* Where temp files and the extracted cluster go: $TMPDIR, else /tmp. */
static const char *
tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && t[0] == '/' ? t : "/tmp";
}

/* Wait for pid; if bk_restore_stop is set meanwhile, send it SIGTERM
 * (once) and go on waiting.  Returns what waitpid(2) does. */
static pid_t
wait_stop(pid_t pid, int *st)
{
	int sent = 0;
	pid_t w;

	*st = 0;
	while ((w = waitpid(pid, st, 0)) < 0 && errno == EINTR)
		if (bk_restore_stop && !sent) {
			kill(pid, SIGTERM);
			sent = 1;
		}
	return w;
}

/* In a child: no descriptor of ours but 0, 1 and 2 (ours are close-on-
 * exec already; this is for any the caller of bk-verify left open). */
static void
close_others(void)
{
#ifdef SYS_close_range
	syscall(SYS_close_range, 3U, ~0U, 0U);
#endif
}

/* A temp file for a child's stderr, unlinked; -1 with err. */
static int
errfile(struct bk_err *err)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/bk-restore.XXXXXX", tmpdir()) >=
	    (int)sizeof(path))
		return bk_err_set(err, BK_EXIT_RUNTIME, "TMPDIR: too long");
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
	unlink(path);
	return fd;
}

void
bk_restore_init(struct bk_restore *r, const char *conninfo,
    const char *check_sql)
{
	memset(r, 0, sizeof(*r));
	r->conninfo = conninfo;
	r->check_sql = check_sql;
	r->child = -1;
	r->errfd = -1;
	r->uid = getuid();
	r->gid = getgid();
}

/* Run sql on conn; 0 if it succeeded, else -1 with err. */
static int
exec_ok(PGconn *conn, const char *sql, const char *what, struct bk_err *err)
{
	PGresult *res = PQexec(conn, sql);
	char msg[300];
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = bk_err_set(err, BK_EXIT_RUNTIME, "%s: %s", what,
		    bk_pg_oneline(msg, sizeof(msg), PQerrorMessage(conn)));
	PQclear(res);
	return rc;
}

/* Drop the scratch database, if there is one. */
static void
drop(struct bk_restore *r)
{
	char sql[96];
	struct bk_err e;

	if (r->dbname[0] == '\0' || r->conn == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH "
	    "(FORCE)", r->dbname);
	if (exec_ok(r->conn, sql, "drop the scratch database", &e) < 0)
		snprintf(r->warn, sizeof(r->warn), "%s left behind: %.200s",
		    r->dbname, e.msg);
	r->dbname[0] = '\0';
}

static const char *child_error(struct bk_restore *r, char *buf, size_t size);
static int	sanity(struct bk_restore *r, const char *conninfo, int checks,
		    int *tables, unsigned long long *rows_out, int *ok,
		    struct bk_err *err);
static void	setting(const char *conninfo, const char *key, char *out,
		    size_t size);

/* --- physical: a temporary server on the extracted base backup ---------- */

/* Spawn argv with stdin from fd (or /dev/null), stdout and stderr to the
 * temp file, as r->uid; returns the pid or -1. */
static pid_t
spawn(struct bk_restore *r, char *const argv[], int in)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		signal(SIGPIPE, SIG_DFL);
		if (dup2(in >= 0 ? in : null, 0) < 0 || dup2(r->errfd, 1) < 0 ||
		    dup2(r->errfd, 2) < 0)
			_exit(127);
		close_others();
		if (getuid() == 0 && r->uid != 0 &&
		    (setgroups(0, NULL) < 0 || setgid(r->gid) < 0 ||
		    setuid(r->uid) < 0))
			_exit(126);
		/* From a directory the user can read (ours may be /root). */
		if (chdir("/") < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Run argv to its end; 0 if it exited 0, else -1 with err (code 3, the
 * first line it printed). */
static int
run_wait(struct bk_restore *r, char *const argv[], struct bk_err *err)
{
	char line[400];
	pid_t pid;
	int st;

	if (r->errfd >= 0 && ftruncate(r->errfd, 0) == 0)
		lseek(r->errfd, 0, SEEK_SET);
	if ((pid = spawn(r, argv, -1)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "fork");
	if (wait_stop(pid, &st) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "wait");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	child_error(r, line, sizeof(line));
	return bk_err_set(err, BK_EXIT_RUNTIME, "%s: %s", argv[0],
	    line[0] ? line : "failed");
}

/* Remove a tree (rm does not follow symlinks, nor leave the file
 * system). */
static void
rmtree(struct bk_restore *r)
{
	char *argv[] = { "/bin/rm", "-rf", "--one-file-system", NULL, NULL };
	pid_t pid;
	int st;

	if (r->dir[0] == '\0')
		return;
	argv[3] = r->dir;
	if ((pid = fork()) == 0) {
		close_others();
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0 || access(r->dir, F_OK) == 0)
		snprintf(r->warn, sizeof(r->warn), "%s: could not remove it",
		    r->dir);
	r->dir[0] = '\0';
}

/* The user the temporary server runs as: ourselves, or as root the
 * postgres user (else nobody), as PostgreSQL refuses to run as root. */
static void
pick_user(struct bk_restore *r)
{
	struct passwd *pw;

	if (getuid() == 0 && ((pw = getpwnam("postgres")) != NULL ||
	    (pw = getpwnam("nobody")) != NULL)) {
		r->uid = pw->pw_uid;
		r->gid = pw->pw_gid;
	}
}

/* A base backup: extract it into a new private dir as it streams. */
static int
start_tar(struct bk_restore *r, int *fd, struct bk_err *err)
{
	char tar[] = "/bin/tar", x[] = "-x", C[] = "-C", f[] = "-f",
	    dash[] = "-", nso[] = "--no-same-owner";
	char *argv[] = { tar, x, nso, C, NULL, f, dash, NULL };
	struct sockaddr_un un;
	int p[2];

	pick_user(r);
	/* The server's socket goes into the dir too: keep it short. */
	if (snprintf(r->dir, sizeof(r->dir), "%s/bk-restore.XXXXXX",
	    tmpdir()) >= (int)sizeof(r->dir) || strlen(r->dir) +
	    sizeof("/.s.PGSQL.5432") > sizeof(un.sun_path) ||
	    strpbrk(r->dir, "'\\\"$`") != NULL) {
		r->dir[0] = '\0';
		return bk_err_set(err, BK_EXIT_RUNTIME, "TMPDIR=%s: too long "
		    "for the temporary server's socket, or has quotes",
		    tmpdir());
	}
	if (mkdtemp(r->dir) == NULL) {
		r->dir[0] = '\0';
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "mkdtemp in %s",
		    tmpdir());
	}
	if (chown(r->dir, r->uid, r->gid) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", r->dir);
	if ((r->errfd = errfile(err)) < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "pipe");
	snprintf(r->tool, sizeof(r->tool), "tar");
	argv[4] = r->dir;
	if ((r->child = spawn(r, argv, p[0])) < 0) {
		close(p[0]);
		close(p[1]);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "fork");
	}
	close(p[0]);
	*fd = p[1];
	return 0;
}

/* dir/name into buf; -1 with err if it does not fit. */
static int
in_dir(struct bk_restore *r, const char *name, char *buf, size_t size,
    struct bk_err *err)
{
	if (snprintf(buf, size, "%s/%s", r->dir, name) >= (int)size)
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s: path too long",
		    r->dir);
	return 0;
}

/*
 * The pg_ctl of the backup's major version (PG_VERSION): in BK_PG_BINDIR
 * if set, else /usr/lib/postgresql/<major>/bin, else on $PATH.  A server
 * only runs a data directory of its own major version.
 */
static int
find_pgctl(struct bk_restore *r, struct bk_err *err)
{
	const char *bindir = getenv("BK_PG_BINDIR"), *path = getenv("PATH");
	char ver[32] = "", file[PATH_MAX], cand[3][PATH_MAX], found[32];
	int n = 0, want, v, i;
	size_t len;
	FILE *f;

	if (in_dir(r, "PG_VERSION", file, sizeof(file), err) < 0)
		return -1;
	if ((f = fopen(file, "re")) == NULL || fgets(ver, sizeof(ver), f) ==
	    NULL) {
		if (f != NULL)
			fclose(f);
		return bk_err_set(err, BK_EXIT_RUNTIME, "the tar is not a base "
		    "backup: a restore test needs PG_VERSION");
	}
	fclose(f);
	ver[strcspn(ver, "\n")] = '\0';
	if (bk_pg_version_parse(ver, &want) < 0)
		return bk_err_set(err, BK_EXIT_CHECK, "PG_VERSION: \"%s\" is "
		    "not a version", ver);
	if (bindir != NULL && bindir[0] != '\0') {
		snprintf(cand[n++], PATH_MAX, "%s/pg_ctl", bindir);
	} else {
		snprintf(cand[n++], PATH_MAX,
		    "/usr/lib/postgresql/%s/bin/pg_ctl", ver);
		/* and the first two on $PATH */
		for (; path != NULL && *path != '\0' && n < 3;
		    path += len + (path[len] == ':')) {
			len = strcspn(path, ":");
			if (len == 0 || len >= PATH_MAX - 8)
				continue;
			snprintf(cand[n], PATH_MAX, "%.*s/pg_ctl", (int)len,
			    path);
			if (access(cand[n], X_OK) == 0)
				n++;
		}
	}
	found[0] = '\0';
	for (i = 0; i < n; i++) {
		struct bk_err e;

		if (access(cand[i], X_OK) < 0 ||
		    bk_pg_tool_version(cand[i], &v, &e) < 0)
			continue;
		if (bk_pg_major(v) == bk_pg_major(want) &&
		    strlen(cand[i]) < sizeof(r->pgctl)) {
			memcpy(r->pgctl, cand[i], strlen(cand[i]) + 1);
			return 0;
		}
		if (found[0] == '\0')
			bk_pg_version_fmt(found, sizeof(found), v, 0);
	}
	return bk_err_set(err, BK_EXIT_RUNTIME, "the backup is of PostgreSQL "
	    "%s: its server programs are needed to start it (%s%s%s): "
	    "install them or set BK_PG_BINDIR", ver, found[0] ? "found " :
	    "none in ", found[0] ? found : bindir != NULL && bindir[0] ?
	    bindir : "/usr/lib/postgresql/<version>/bin or $PATH",
	    found[0] ? " only" : "");
}

/* Write text into dir/name, owned by the server's user. */
static int
put_file(struct bk_restore *r, const char *name, const char *text,
    struct bk_err *err)
{
	char path[PATH_MAX];
	int fd;

	if (in_dir(r, name, path, sizeof(path), err) < 0)
		return -1;
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0 || bk_io_write_all(fd, text, strlen(text),
	    path, err) < 0 || fchown(fd, r->uid, r->gid) < 0) {
		if (fd >= 0)
			close(fd);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
	}
	return bk_io_close(fd, path, err);
}

/*
 * The most telling line of the server's log, for the message: the first
 * PANIC, else the last FATAL, else its last line.
 */
static void
log_line(struct bk_restore *r, char *out, size_t size)
{
	char path[PATH_MAX], line[512];
	struct bk_err e;
	FILE *f;
	int panic = 0;

	out[0] = '\0';
	if (in_dir(r, "bk-restore.log", path, sizeof(path), &e) < 0 ||
	    (f = fopen(path, "re")) == NULL)
		return;
	while (!panic && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "PANIC:") != NULL)
			panic = 1;
		if (panic || strstr(line, "FATAL:") != NULL || out[0] == '\0' ||
		    strstr(out, "FATAL:") == NULL) {
			size_t n = strlen(line) < size ? strlen(line) :
			    size - 1;

			memcpy(out, line, n);
			out[n] = '\0';
		}
	}
	fclose(f);
}

/* Does a start failure say the host could not run the server (rather
 * than that the backup's cluster cannot come up)? */
static int
host_trouble(const char *line)
{
	static const char *const pat[] = { "could not bind", "could not "
	    "create", "shared memory", "semaphore", "Permission denied",
	    "could not load library", "out of memory", "No space left",
	    "configuration file", "invalid value for parameter",
	    "unrecognized configuration parameter", "lock file", NULL };
	int i;

	for (i = 0; pat[i] != NULL; i++)
		if (strstr(line, pat[i]) != NULL)
			return 1;
	return 0;
}

/* Start a server on the extracted base backup; 0 once it serves. */
static int
start_server(struct bk_restore *r, struct bk_err *err)
{
	char path[PATH_MAX], opts[3 * PATH_MAX], log[PATH_MAX], line[400];
	static const char *const gone[] = { "postmaster.pid",
	    "postmaster.opts", "standby.signal", "recovery.signal", NULL };
	struct dirent *de;
	struct bk_err e;
	const char *m;
	DIR *d;
	int i;

	if (find_pgctl(r, err) < 0)
		return -1;
	/* A tablespace is a symlink to a directory of the backed-up host:
	 * a server started here would write into it. */
	if (in_dir(r, "pg_tblspc", path, sizeof(path), err) < 0)
		return -1;
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				break;
		closedir(d);
		if (de != NULL)
			return bk_err_set(err, BK_EXIT_RUNTIME, "the base "
			    "backup has tablespaces: a restore test does not "
			    "start it");
	}
	/* Recover to the end of the backup and come up as a primary, not
	 * as a standby that would wait for WAL forever. */
	for (i = 0; gone[i] != NULL; i++) {
		if (in_dir(r, gone[i], path, sizeof(path), err) < 0)
			return -1;
		unlink(path);
	}
	/* Only our own socket, trusted, in our own 0700 dir; none of the
	 * backed-up host's configuration (its paths, its ports, its
	 * archive_command) but what ALTER SYSTEM wrote, overridden here
	 * where it would stop the server from starting. */
	if (put_file(r, "pg_hba.conf", "local all all trust\n", err) < 0 ||
	    chmod(r->dir, 0700) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", r->dir);
	snprintf(opts, sizeof(opts), "-c config_file=/dev/null "
	    "-c hba_file='%s/pg_hba.conf' -c ident_file=/dev/null "
	    "-c listen_addresses='' -c port=5432 -k '%s' "
	    "-c unix_socket_permissions=0700 -c archive_mode=off "
	    "-c logging_collector=off -c log_destination=stderr -c ssl=off "
	    "-c shared_buffers=128MB -c huge_pages=off -c fsync=off "
	    "-c cluster_name=bk-verify", r->dir, r->dir);
	if (in_dir(r, "bk-restore.log", log, sizeof(log), err) < 0)
		return -1;
	r->started = 1;		/* from here on, stop it */
	{
		char D[] = "-D", w[] = "-w", t[] = "-t", secs[] = START_SECS,
		    l[] = "-l", o[] = "-o", start[] = "start";
		char *argv[] = { r->pgctl, D, r->dir, w, t, secs, l, log, o,
		    opts, start, NULL };

		if (run_wait(r, argv, &e) == 0)
			return 0;
	}
	if (bk_restore_stop)
		return bk_err_set(err, BK_EXIT_RUNTIME, "interrupted");
	log_line(r, line, sizeof(line));
	if (line[0] == '\0')
		return bk_err_set(err, BK_EXIT_RUNTIME, "could not start a "
		    "server on the backup: %s", e.msg);
	if ((m = strstr(line, "PANIC:")) == NULL &&
	    (m = strstr(line, "FATAL:")) == NULL)
		m = line;
	/* A cluster whose recovery fails is a bad backup; a host that
	 * cannot run it could not test it. */
	if (host_trouble(m))
		return bk_err_set(err, BK_EXIT_RUNTIME, "could not start a "
		    "server on the backup: %s", m);
	return bk_err_set(err, BK_EXIT_CHECK, "the backup's cluster does not "
	    "start: %s", m);
}

/* The postmaster's pid, from postmaster.pid; -1 if none. */
static pid_t
postmaster_pid(struct bk_restore *r)
{
	char path[PATH_MAX], line[32];
	struct bk_err e;
	long pid = -1;
	FILE *f;

	if (in_dir(r, "postmaster.pid", path, sizeof(path), &e) < 0 ||
	    (f = fopen(path, "re")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) != NULL)
		pid = strtol(line, NULL, 10);
	fclose(f);
	return pid > 1 ? (pid_t)pid : -1;
}

/* Stop the temporary server, if one was started: immediately (its data
 * goes next); if pg_ctl cannot, SIGKILL. */
static void
stop_server(struct bk_restore *r)
{
	char D[] = "-D", m[] = "-m", imm[] = "immediate", w[] = "-w",
	    t[] = "-t", secs[] = "60", stop[] = "stop";
	char *argv[] = { r->pgctl, D, r->dir, m, imm, w, t, secs, stop, NULL };
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	struct bk_err e;
	pid_t pm;
	int i;

	if (!r->started)
		return;
	r->started = 0;
	if ((pm = postmaster_pid(r)) < 0)
		return;
	if (r->pgctl[0] != '\0' && run_wait(r, argv, &e) == 0)
		return;
	if (kill(pm, 0) < 0 && errno == ESRCH)
		return;
	kill(pm, SIGKILL);
	for (i = 0; i < 100 && kill(pm, 0) == 0; i++)
		nanosleep(&ts, NULL);
	if (kill(pm, 0) == 0)
		snprintf(r->warn, sizeof(r->warn), "the temporary server (pid "
		    "%ld) on %s does not stop", (long)pm, r->dir);
}

/* --- a bk-dump --all archive: a scratch database per member ------------- */

#define ALL_MAX		256	/* databases */

struct all_db {
	char	member[300];	/* "name.dump", as in the archive */
	char	scratch[32];
	int	failed;
	char	why[300];
};

struct all_state {
	struct bk_restore	*r;
	int			 in;		/* the archive */
	pthread_t		 tid;
	char			 pgrestore[4096];
	struct all_db		 db[ALL_MAX];
	int			 n;
	int			 failed;	/* could not go on */
	struct bk_err		 err;
};

static int
read_n(int fd, void *buf, size_t n)
{
	struct bk_err e;

	return bk_io_read_full(fd, buf, n, "archive", &e) == (ssize_t)n ?
	    0 : -1;
}

/* Copy (or with out < 0 skip) n bytes of the archive. */
static int
pass_on(int in, int out, uint64_t n)
{
	char buf[65536];
	struct bk_err e;

	while (n > 0) {
		size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);

		if (read_n(in, buf, k) < 0)
			return -1;
		if (out >= 0 && bk_io_write_all(out, buf, k, "pg_restore",
		    &e) < 0)
			out = -1;	/* it failed: its status says why */
		n -= k;
	}
	return 0;
}

/* One member: a scratch database and a pg_restore fed the member. */
static int
all_member(struct all_state *a, const char *name, uint64_t size)
{
	struct bk_restore *r = a->r;
	struct all_db *d;
	unsigned char rnd[4];
	char sql[96], *ci, line[300];
	int p[2], st = 0, rfd, cut;
	pid_t pid;

	if (a->n == ALL_MAX)
		return bk_err_set(&a->err, BK_EXIT_RUNTIME, "more than %d "
		    "databases", ALL_MAX);
	d = &a->db[a->n++];
	snprintf(d->member, sizeof(d->member), "%.299s", name);
	if ((rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0 ||
	    read(rfd, rnd, 4) != 4) {
		if (rfd >= 0)
			close(rfd);
		return bk_err_sys(&a->err, BK_EXIT_RUNTIME, errno,
		    "/dev/urandom");
	}
	close(rfd);
	snprintf(d->scratch, sizeof(d->scratch), "bk_verify_%02x%02x%02x%02x_%d",
	    rnd[0], rnd[1], rnd[2], rnd[3], a->n);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" TEMPLATE "
	    "template0", d->scratch);
	if (exec_ok(r->conn, sql, "create a scratch database", &a->err) < 0) {
		d->scratch[0] = '\0';
		return -1;
	}
	if ((ci = bk_pg_conninfo_db(r->conninfo, d->scratch, &a->err)) ==
	    NULL)
		return -1;
	if (ftruncate(r->errfd, 0) == 0)
		lseek(r->errfd, 0, SEEK_SET);
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(ci);
		return bk_err_sys(&a->err, BK_EXIT_RUNTIME, errno, "pipe");
	}
	{
		char *argv[] = { a->pgrestore, "--no-owner", "--no-privileges",
		    "--exit-on-error", "-F", "c", "-d", ci, NULL };

		pid = spawn(r, argv, p[0]);
	}
	close(p[0]);
	free(ci);
	if (pid < 0) {
		close(p[1]);
		return bk_err_sys(&a->err, BK_EXIT_RUNTIME, errno, "fork");
	}
	cut = pass_on(a->in, p[1], size);
	close(p[1]);
	wait_stop(pid, &st);
	if (cut < 0)
		return bk_err_set(&a->err, BK_EXIT_CHECK, "%s: cut short",
		    name);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		d->failed = 1;
		snprintf(d->why, sizeof(d->why), "%s", child_error(r, line,
		    sizeof(line)));
	}
	return 0;
}

/* The thread: read the archive header by header. */
static void *
all_run(void *arg)
{
	struct all_state *a = arg;
	unsigned char h[BK_TAR_BLOCK];
	char name[4096] = "", next[4096] = "", meta[4096];
	uint64_t size;
	char type;

	while (!a->failed && read_n(a->in, h, sizeof(h)) == 0) {
		if (h[0] == '\0')
			break;		/* the end-of-archive blocks */
		if (bk_tar_number(h + 124, 12, &size) < 0) {
			bk_err_set(&a->err, BK_EXIT_CHECK, "tar: a bad header");
			a->failed = 1;
			break;
		}
		type = (char)h[156];
		if ((type == 'x' || type == 'L') && size < sizeof(meta)) {
			if (read_n(a->in, meta, (size_t)size) < 0 ||
			    pass_on(a->in, -1, bk_tar_pad(size)) < 0)
				break;
			meta[size] = '\0';
			if (type == 'L') {
				snprintf(next, sizeof(next), "%s", meta);
			} else {
				char *pp = strstr(meta, " path=");

				if (pp != NULL)
					snprintf(next, sizeof(next), "%.*s",
					    (int)strcspn(pp + 6, "\n"), pp + 6);
			}
			continue;
		}
		if (next[0] != '\0') {
			snprintf(name, sizeof(name), "%s", next);
			next[0] = '\0';
		} else {
			snprintf(name, sizeof(name), "%.100s", (char *)h);
		}
		if ((type == '0' || type == '\0') && strlen(name) > 5 &&
		    strcmp(name + strlen(name) - 5, ".dump") == 0) {
			if (all_member(a, name, size) < 0) {
				a->failed = 1;
				break;
			}
		} else if (pass_on(a->in, -1, size) < 0) {
			break;
		}
		if (pass_on(a->in, -1, bk_tar_pad(size)) < 0)
			break;
	}
	/* Read the rest, so that the writer never blocks. */
	pass_on(a->in, -1, UINT64_MAX / 2);
	return NULL;
}

static int
start_all(struct bk_restore *r, int *fd, struct bk_err *err)
{
	struct all_state *a = calloc(1, sizeof(*a));
	char msg[300], *maint;
	const char *bindir = getenv("BK_PG_BINDIR");
	int p[2], num;

	if ((r->all = a) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "restore");
	a->r = r;
	a->in = -1;
	/* The conninfo's dbname names the database to check; bk-verify
	 * works from the server's postgres database. */
	if ((maint = bk_pg_conninfo_db(r->conninfo, "postgres", err)) == NULL)
		return -1;
	r->conn = PQconnectdb(maint);
	free(maint);
	if (PQstatus(r->conn) != CONNECTION_OK)
		return bk_err_set(err, BK_EXIT_RUNTIME, "cannot connect: %s",
		    bk_pg_oneline(msg, sizeof(msg), PQerrorMessage(r->conn)));
	if (bk_pg_find_tool("pg_restore", PQserverVersion(r->conn),
	    bindir != NULL && *bindir != '\0' ? bindir : NULL, NULL,
	    getenv("PATH"), a->pgrestore, sizeof(a->pgrestore), &num,
	    err) < 0)
		return -1;
	if ((r->errfd = errfile(err)) < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "pipe");
	a->in = p[0];
	if (pthread_create(&a->tid, NULL, all_run, a) != 0) {
		close(p[0]);
		close(p[1]);
		a->in = -1;
		return bk_err_set(err, BK_EXIT_RUNTIME, "cannot start a "
		    "thread");
	}
	snprintf(r->tool, sizeof(r->tool), "pg_restore");
	*fd = p[1];
	return 0;
}

/* Join the splitter, check every database, drop them all. */
static int
end_all(struct bk_restore *r, int verified, char *detail, size_t size,
    struct bk_err *err)
{
	struct all_state *a = r->all;
	char want[300], db[128], sql[96];
	unsigned long long rows = 0;
	int i, rc = 0, tables = 0, ok = 0, checked = 0;
	struct bk_err e;

	if (a->in >= 0) {
		pthread_join(a->tid, NULL);
		close(a->in);
	}
	setting(r->conninfo, "dbname", db, sizeof(db));
	if (db[0] == '\0')
		snprintf(db, sizeof(db), "postgres");
	if (bk_pg_member_name(want, sizeof(want), db) == NULL)
		want[0] = '\0';
	if (verified && a->failed) {
		*err = a->err;
		rc = -1;
	}
	for (i = 0; verified && rc == 0 && i < a->n; i++)
		if (a->db[i].failed)
			rc = bk_err_set(err, BK_EXIT_CHECK, "pg_restore of %s: "
			    "%s", a->db[i].member, a->db[i].why[0] ?
			    a->db[i].why : "failed");
	for (i = 0; verified && rc == 0 && i < a->n; i++) {
		char *ci = bk_pg_conninfo_db(r->conninfo, a->db[i].scratch,
		    err);
		int mine = strcmp(a->db[i].member, want) == 0;

		if (ci == NULL) {
			rc = -1;
			break;
		}
		rc = sanity(r, ci, mine, &tables, &rows, &ok, err);
		checked += mine;
		free(ci);
	}
	if (verified && rc == 0 && r->check_sql != NULL && !checked)
		rc = bk_err_set(err, BK_EXIT_RUNTIME, "--check-sql: database %s "
		    "is not in the archive", db);
	if (rc == 0 && verified) {
		int l = snprintf(detail, size, "restored %d databases into "
		    "scratch databases: %d tables, %llu rows", a->n, tables,
		    rows);

		if (r->check_sql != NULL && l > 0 && (size_t)l < size)
			snprintf(detail + l, size - (size_t)l, "; %d check "
			    "quer%s true in %s", ok, ok == 1 ? "y" : "ies", db);
	}
	for (i = 0; i < a->n; i++) {
		if (a->db[i].scratch[0] == '\0' || r->conn == NULL)
			continue;
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH "
		    "(FORCE)", a->db[i].scratch);
		if (exec_ok(r->conn, sql, "drop a scratch database", &e) < 0)
			snprintf(r->warn, sizeof(r->warn), "%s left behind: "
			    "%.200s", a->db[i].scratch, e.msg);
	}
	free(a);
	r->all = NULL;
	return rc;
}

int
bk_restore_start(void *arg, const char *kind, const void *head,
    size_t headlen, int *fd, struct bk_err *err)
{
	struct bk_restore *r = arg;
	unsigned char rnd[6];
	char sql[96], path[4096], msg[300];
	const char *bindir = getenv("BK_PG_BINDIR");
	int p[2] = { -1, -1 }, num, rfd, i;

	*fd = -1;
	/* A tar is a pg_dump archive if its first member is toc.dat, a
	 * bk-dump --all archive if globals.sql, else a base backup. */
	if (strcmp(kind, "tar") == 0 && headlen >= 100 &&
	    strncmp(head, "globals.sql", 100) == 0)
		return start_all(r, fd, err);
	if (strcmp(kind, "tar") == 0 && (headlen < 100 ||
	    strncmp(head, "toc.dat", 100) != 0))
		return start_tar(r, fd, err);
	if (strcmp(kind, "tar") == 0)
		snprintf(r->tool, sizeof(r->tool), "pg_restore");
	else if (strcmp(kind, "custom") == 0)
		snprintf(r->tool, sizeof(r->tool), "pg_restore");
	else if (strcmp(kind, "plain") == 0)
		snprintf(r->tool, sizeof(r->tool), "psql");
	else
		return bk_err_set(err, BK_EXIT_RUNTIME, "a restore test of a "
		    "%s payload is not supported", kind);
	r->conn = PQconnectdb(r->conninfo);
	if (PQstatus(r->conn) != CONNECTION_OK)
		return bk_err_set(err, BK_EXIT_RUNTIME, "cannot connect: %s",
		    bk_pg_oneline(msg, sizeof(msg), PQerrorMessage(r->conn)));
	if (bk_pg_find_tool(r->tool, PQserverVersion(r->conn),
	    bindir != NULL && *bindir != '\0' ? bindir : NULL, NULL,
	    getenv("PATH"), path, sizeof(path), &num, err) < 0)
		return -1;
	/* A name nobody else uses. */
	if ((rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0 ||
	    read(rfd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
		if (rfd >= 0)
			close(rfd);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "/dev/urandom");
	}
	close(rfd);
	snprintf(r->dbname, sizeof(r->dbname), "bk_verify_");
	for (i = 0; i < 6; i++)
		snprintf(r->dbname + 10 + 2 * i, 3, "%02x", rnd[i]);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" TEMPLATE "
	    "template0", r->dbname);
	if (exec_ok(r->conn, sql, "create the scratch database", err) < 0) {
		r->dbname[0] = '\0';
		return -1;
	}
	if ((r->scratch = bk_pg_conninfo_db(r->conninfo, r->dbname,
	    err)) == NULL)
		return -1;
	if ((r->errfd = errfile(err)) < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "pipe");
	if ((r->child = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "fork");
	}
	if (r->child == 0) {
		int null = open("/dev/null", O_WRONLY);

		signal(SIGPIPE, SIG_DFL);
		if (dup2(p[0], 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(r->errfd, 2) < 0)
			_exit(127);
		close_others();
		if (strcmp(r->tool, "pg_restore") == 0)
			execl(path, "pg_restore", "--no-owner",
			    "--no-privileges", "--exit-on-error", "-F",
			    strcmp(kind, "tar") == 0 ? "t" : "c", "-d",
			    r->scratch, (char *)NULL);
		else
			execl(path, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
			    "-d", r->scratch, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	*fd = p[1];
	return 0;
}

/* The first error line the child wrote, one line, into buf. */
static const char *
child_error(struct bk_restore *r, char *buf, size_t size)
{
	ssize_t n;
	char *nl;

	buf[0] = '\0';
	if (r->errfd < 0 || lseek(r->errfd, 0, SEEK_SET) < 0)
		return buf;
	if ((n = read(r->errfd, buf, size - 1)) <= 0)
		n = 0;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	return buf;
}

/* The user's query number n: exactly one row, its first column true. */
struct checks {
	PGconn		*conn;
	struct bk_err	*err;
	int		 ok;
};

static int
check_one(void *arg, int n, const char *stmt)
{
	struct checks *c = arg;
	PGresult *res;
	char msg[300], one[64];
	size_t i;
	int rc = 0;

	if (bk_restore_stop)
		return bk_err_set(c->err, BK_EXIT_RUNTIME, "interrupted");
	res = PQexec(c->conn, stmt);

	/* The query for the message, on one line. */
	snprintf(one, sizeof(one), "%s", stmt);
	for (i = 0; one[i] != '\0'; i++)
		if (one[i] == '\n' || one[i] == '\t' || one[i] == '\r')
			one[i] = ' ';
	while (i > 0 && one[i - 1] == ' ')
		one[--i] = '\0';

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = bk_err_set(c->err, BK_EXIT_CHECK, "check query %d (%s) "
		    "failed: %s", n, one, bk_pg_oneline(msg, sizeof(msg),
		    PQerrorMessage(c->conn)));
	else if (PQntuples(res) != 1 || PQnfields(res) < 1 ||
	    strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		rc = bk_err_set(c->err, BK_EXIT_CHECK, "check query %d (%s) "
		    "is not true", n, one);
	PQclear(res);
	if (rc == 0)
		c->ok++;
	return rc;
}

int
bk_restore_split(const char *text, size_t len,
    int (*fn)(void *arg, int n, const char *stmt), void *arg)
{
	const char *p = text, *end = text + len, *nl;
	char *stmt = malloc(len + 2);	/* a newline may be added, and the NUL */
	size_t sl = 0;
	int n = 0, rc;

	if (stmt == NULL)
		return -1;
	for (; p < end; p = nl + 1) {
		const char *e;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		e = nl;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (e == p || (e - p >= 2 && p[0] == '-' && p[1] == '-'))
			continue;
		memcpy(stmt + sl, p, (size_t)(e - p));
		sl += (size_t)(e - p);
		stmt[sl++] = '\n';
		if (e[-1] == ';') {
			stmt[sl] = '\0';
			if ((rc = fn(arg, ++n, stmt)) < 0) {
				free(stmt);
				return rc;
			}
			sl = 0;
		}
	}
	if (sl > 0) {
		stmt[sl] = '\0';
		if ((rc = fn(arg, ++n, stmt)) < 0) {
			free(stmt);
			return rc;
		}
	}
	free(stmt);
	return n;
}

/* Tables and rows of the database conninfo names (added to *tables and
 * *rows), and with checks the user's queries (*ok of them true). */
static int
sanity(struct bk_restore *r, const char *conninfo, int checks, int *tables,
    unsigned long long *rows_out, int *ok, struct bk_err *err)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *res = NULL;
	struct checks ck = { c, err, 0 };
	unsigned long long rows = 0;
	char msg[300], *text = NULL;
	int i, n = 0, rc = -1, fd;
	ssize_t len;

	if (PQstatus(c) != CONNECTION_OK) {
		bk_err_set(err, BK_EXIT_RUNTIME, "cannot connect to the restored "
		    "database: %s", bk_pg_oneline(msg, sizeof(msg),
		    PQerrorMessage(c)));
		goto out;
	}
	cancel = PQgetCancel(c);
	res = PQexec(c, "SELECT quote_ident(n.nspname) || '.' || "
	    "quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON "
	    "n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND "
	    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND "
	    "n.nspname NOT LIKE 'pg_toast%' ORDER BY 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		bk_err_set(err, BK_EXIT_RUNTIME, "list tables: %s",
		    bk_pg_oneline(msg, sizeof(msg), PQerrorMessage(c)));
		goto out;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		char sql[600];
		PGresult *cnt;

		if (bk_restore_stop) {
			bk_err_set(err, BK_EXIT_RUNTIME, "interrupted");
			goto out;
		}

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM ONLY %s",
		    PQgetvalue(res, i, 0));
		cnt = PQexec(c, sql);
		if (PQresultStatus(cnt) != PGRES_TUPLES_OK) {
			bk_err_set(err, BK_EXIT_CHECK, "%s: cannot be read: %s",
			    PQgetvalue(res, i, 0), bk_pg_oneline(msg,
			    sizeof(msg), PQerrorMessage(c)));
			PQclear(cnt);
			goto out;
		}
		rows += strtoull(PQgetvalue(cnt, 0, 0), NULL, 10);
		PQclear(cnt);
	}
	if (checks && r->check_sql != NULL) {
		if ((fd = open(r->check_sql, O_RDONLY | O_CLOEXEC)) < 0) {
			bk_err_sys(err, BK_EXIT_USAGE, errno, "%s",
			    r->check_sql);
			goto out;
		}
		text = malloc(SQL_MAX + 1);
		len = text != NULL ? bk_io_read_full(fd, text, SQL_MAX + 1,
		    r->check_sql, err) : -1;
		close(fd);
		if (len < 0 || len > SQL_MAX) {
			if (len > SQL_MAX)
				bk_err_set(err, BK_EXIT_USAGE, "%s: larger than "
				    "1 MiB", r->check_sql);
			goto out;
		}
		if (bk_restore_split(text, (size_t)len, check_one, &ck) < 0)
			goto out;
	}
	*tables += n;
	*rows_out += rows;
	*ok += ck.ok;
	rc = 0;
out:
	if (cancel != NULL) {
		PGcancel *x = cancel;

		cancel = NULL;
		PQfreeCancel(x);
	}
	free(text);
	PQclear(res);
	PQfinish(c);
	return rc;
}

/* A setting of conninfo (PQconninfoParse) into out, "" if unset; a
 * conninfo that is only a name is the dbname. */
static void
setting(const char *conninfo, const char *key, char *out, size_t size)
{
	PQconninfoOption *o, *i;

	out[0] = '\0';
	if (!bk_pg_is_conninfo(conninfo)) {
		if (strcmp(key, "dbname") == 0)
			snprintf(out, size, "%s", conninfo);
		return;
	}
	o = PQconninfoParse(conninfo, NULL);
	for (i = o; i != NULL && i->keyword != NULL; i++)
		if (strcmp(i->keyword, key) == 0 && i->val != NULL)
			snprintf(out, size, "%s", i->val);
	PQconninfoFree(o);
}

/* A conninfo for the temporary server's socket, user and database. */
static void
local_conninfo(struct bk_restore *r, const char *user, const char *db,
    char *out, size_t size)
{
	const char *kw[] = { "user", "dbname" }, *val[] = { user, db }, *v;
	size_t o;
	int k;

	o = (size_t)snprintf(out, size, "host='%s' port=5432 "
	    "connect_timeout=10", r->dir);
	for (k = 0; k < 2 && o < size; k++) {
		o += (size_t)snprintf(out + o, size - o, " %s='", kw[k]);
		for (v = val[k]; *v != '\0' && o + 3 < size; v++) {
			if (*v == '\'' || *v == '\\')
				out[o++] = '\\';
			out[o++] = *v;
		}
		if (o + 2 < size) {
			out[o++] = '\'';
			out[o] = '\0';
		}
	}
}

/*
 * The checks on the temporary server: tables and rows of every database
 * that takes connections, the user's queries in the conninfo's database
 * (else postgres).  Connects as the conninfo's user, else $PGUSER, else
 * postgres: the first that the backup knows.
 */
static int
physical_checks(struct bk_restore *r, char *detail, size_t size,
    struct bk_err *err)
{
	char users[3][128], db[128], ci[1024], msg[300];
	const char *user = NULL, *pgu = getenv("PGUSER");
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	unsigned long long rows = 0;
	int tables = 0, ok = 0, i, ndb = 0, rc = 0, found = 0;
	PGresult *res = NULL;
	PGconn *c = NULL;

	setting(r->conninfo, "user", users[0], sizeof(users[0]));
	snprintf(users[1], sizeof(users[1]), "%s", pgu != NULL ? pgu : "");
	snprintf(users[2], sizeof(users[2]), "postgres");
	setting(r->conninfo, "dbname", db, sizeof(db));
	if (db[0] == '\0')
		snprintf(db, sizeof(db), "postgres");
	msg[0] = '\0';
	for (i = 0; i < 3 && user == NULL; i++) {
		if (users[i][0] == '\0')
			continue;
		local_conninfo(r, users[i], "template1", ci, sizeof(ci));
		PQfinish(c);
		c = PQconnectdb(ci);
		if (PQstatus(c) == CONNECTION_OK)
			user = users[i];
		else if (msg[0] == '\0')
			bk_pg_oneline(msg, sizeof(msg), PQerrorMessage(c));
	}
	if (user == NULL) {
		rc = bk_err_set(err, BK_EXIT_RUNTIME, "cannot connect to the "
		    "restored cluster: %s (name its superuser in the conninfo: "
		    "user=...)", msg);
		goto out;
	}
	/* pg_ctl -w returns once it takes connections: recovery is over,
	 * and without standby.signal it came up as a primary. */
	for (i = 0; i < 300; i++) {
		PQclear(res);
		res = PQexec(c, "SELECT pg_is_in_recovery()");
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
		    strcmp(PQgetvalue(res, 0, 0), "f") == 0 || bk_restore_stop)
			break;
		nanosleep(&ts, NULL);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    strcmp(PQgetvalue(res, 0, 0), "f") != 0) {
		rc = bk_err_set(err, BK_EXIT_RUNTIME, "the restored cluster "
		    "does not finish its recovery");
		goto out;
	}
	PQclear(res);
	res = PQexec(c, "SELECT datname FROM pg_database WHERE datallowconn "
	    "ORDER BY datname = 'template1', datname");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = bk_err_set(err, BK_EXIT_CHECK, "the restored cluster: "
		    "list databases: %s", bk_pg_oneline(msg, sizeof(msg),
		    PQerrorMessage(c)));
		goto out;
	}
	for (i = 0; rc == 0 && i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		int mine = strcmp(name, db) == 0;

		/* template1: only if the user's queries go there */
		if (strcmp(name, "template1") == 0 && !mine)
			continue;
		ndb++;
		found |= mine;
		local_conninfo(r, user, name, ci, sizeof(ci));
		rc = sanity(r, ci, mine, &tables, &rows, &ok, err);
		if (rc < 0)
			bk_err_prefix(err, "%s", name);
	}
	if (rc == 0 && r->check_sql != NULL && !found)
		rc = bk_err_set(err, BK_EXIT_RUNTIME, "--check-sql: the backup "
		    "has no database \"%s\" (the conninfo's dbname) to run it "
		    "in", db);
	if (rc == 0) {
		int l = snprintf(detail, size, "a temporary server started on "
		    "the backup and recovered: %d database%s, %d tables, %llu "
		    "rows", ndb, ndb == 1 ? "" : "s", tables, rows);

		if (r->check_sql != NULL && l > 0 && (size_t)l < size)
			snprintf(detail + l, size - (size_t)l, "; %d check "
			    "quer%s true in %s", ok, ok == 1 ? "y" : "ies", db);
	}
out:
	PQclear(res);
	PQfinish(c);
	return rc;
}

int
bk_restore_end(void *arg, int verified, char *detail, size_t size,
    struct bk_err *err)
{
	struct bk_restore *r = arg;
	char line[400];
	unsigned long long rows = 0;
	int st = 0, rc = 0, tables = 0, ok = 0, l;

	detail[0] = '\0';
	if (bk_restore_stop)
		verified = 0;
	if (r->all != NULL) {
		rc = end_all(r, verified, detail, size, err);
		goto out;
	}
	if (r->child > 0) {
		/* Its input ended; after a failure it has nothing worth
		 * finishing. */
		if (!verified)
			kill(r->child, SIGTERM);
		wait_stop(r->child, &st);
		r->child = -1;
		if (verified && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
			child_error(r, line, sizeof(line));
			/* The archive checked out: a tar that cannot extract
			 * it is this host's trouble; a dump that does not
			 * load is the backup's. */
			rc = bk_err_set(err, strcmp(r->tool, "tar") == 0 ?
			    BK_EXIT_RUNTIME : BK_EXIT_CHECK, "%s: %s", r->tool,
			    line[0] ? line : "failed");
		}
	}
	if (r->dir[0] != '\0') {
		if (rc == 0 && verified && (rc = start_server(r, err)) == 0)
			rc = physical_checks(r, detail, size, err);
		stop_server(r);
		rmtree(r);
	} else if (rc == 0 && verified && r->scratch != NULL) {
		rc = sanity(r, r->scratch, 1, &tables, &rows, &ok, err);
		if (rc == 0) {
			l = snprintf(detail, size, "restored into a scratch "
			    "database: %d tables, %llu rows", tables, rows);
			if (r->check_sql != NULL && l > 0 && (size_t)l < size)
				snprintf(detail + l, size - (size_t)l, "; %d "
				    "check quer%s true", ok, ok == 1 ? "y" :
				    "ies");
		}
	}
	drop(r);
out:
	if (r->errfd >= 0)
		close(r->errfd);
	r->errfd = -1;
	free(r->scratch);
	r->scratch = NULL;
	if (r->conn != NULL)
		PQfinish(r->conn);
	r->conn = NULL;
	if (bk_restore_stop) {
		detail[0] = '\0';
		return bk_err_set(err, BK_EXIT_RUNTIME, "interrupted by signal "
		    "%d (%s); cleaned up", (int)bk_restore_stop,
		    strsignal(bk_restore_stop));
	}
	return rc;
}
