/*
 * restore.c - the restore test of a logical backup (see restore.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <pthread.h>
#include <pwd.h>
#include <grp.h>
#include <unistd.h>

#include "io.h"
#include "pg.h"
#include "tar.h"
#include "restore.h"

#define SQL_MAX		(1024 * 1024)

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
		fprintf(stderr, "bk-verify: warning: %s: %s\n", r->dbname,
		    e.msg);
	r->dbname[0] = '\0';
}

static const char *child_error(struct bk_restore *r, char *buf, size_t size);
static int	sanity(struct bk_restore *r, const char *conninfo, int checks,
		    int *tables, unsigned long long *rows_out, int *ok,
		    struct bk_err *err);
static void	setting(const char *conninfo, const char *key,
		    const char *def, char *out, size_t size);

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
		if (getuid() == 0 && r->uid != 0 &&
		    (setgroups(0, NULL) < 0 || setgid(r->gid) < 0 ||
		    setuid(r->uid) < 0))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Run argv to its end; 0 if it exited 0. */
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
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	child_error(r, line, sizeof(line));
	return bk_err_set(err, BK_EXIT_RUNTIME, "%s: %s", argv[0],
	    line[0] ? line : "failed");
}

/* Remove a tree (no symlink is followed). */
static void
rmtree(const char *dir)
{
	char *argv[] = { "/bin/rm", "-rf", "--one-file-system", NULL, NULL };

	if (dir[0] == '\0')
		return;
	argv[3] = (char *)dir;
	if (fork() == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

static int
start_tar(struct bk_restore *r, int *fd, struct bk_err *err)
{
	char tmpl[] = "/tmp/bk-restore.XXXXXX";
	char *argv[] = { "/bin/tar", "-x", "-C", NULL, "-f", "-", NULL };
	struct passwd *pw;
	int p[2];

	if (getuid() == 0 && ((pw = getpwnam("postgres")) != NULL ||
	    (pw = getpwnam("nobody")) != NULL)) {
		r->uid = pw->pw_uid;
		r->gid = pw->pw_gid;
	}
	snprintf(r->dir, sizeof(r->dir), "/tmp/bk-restore.XXXXXX");
	if (mkdtemp(r->dir) == NULL) {
		r->dir[0] = '\0';
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "mkdtemp");
	}
	if (chown(r->dir, r->uid, r->gid) < 0 ||
	    (r->errfd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", r->dir);
	unlink(tmpl);
	if (pipe2(p, O_CLOEXEC) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "pipe");
	snprintf(r->tool, sizeof(r->tool), "tar");
	argv[3] = r->dir;
	if ((r->child = spawn(r, argv, p[0])) < 0) {
		close(p[0]);
		close(p[1]);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "fork");
	}
	close(p[0]);
	*fd = p[1];
	return 0;
}

/* Start a server on the extracted base backup; 0 once it serves. */
static int
start_server(struct bk_restore *r, struct bk_err *err)
{
	char path[4200], ver[16] = "", opts[4400], log[4200];
	const char *bindir = getenv("BK_PG_BINDIR");
	struct sockaddr_un un;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/PG_VERSION", r->dir);
	if ((f = fopen(path, "r")) == NULL || fgets(ver, sizeof(ver), f) ==
	    NULL) {
		if (f != NULL)
			fclose(f);
		return bk_err_set(err, BK_EXIT_RUNTIME, "the tar is not a base "
		    "backup: a restore test needs PG_VERSION");
	}
	fclose(f);
	ver[strcspn(ver, "\n")] = '\0';
	if (bindir != NULL && *bindir != '\0')
		snprintf(r->pgctl, sizeof(r->pgctl), "%s/pg_ctl", bindir);
	else
		snprintf(r->pgctl, sizeof(r->pgctl),
		    "/usr/lib/postgresql/%s/bin/pg_ctl", ver);
	if (access(r->pgctl, X_OK) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s (PostgreSQL "
		    "%s, to start the backup)", r->pgctl, ver);
	/* A scratch copy: only our own socket, trusted, in our own dir. */
	snprintf(path, sizeof(path), "%s/pg_hba.conf", r->dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0 || write(fd, "local all all trust\n", 20) != 20) {
		if (fd >= 0)
			close(fd);
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", path);
	}
	close(fd);
	if (chown(path, r->uid, r->gid) < 0 || chmod(r->dir, 0700) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", r->dir);
	snprintf(path, sizeof(path), "%s/postmaster.pid", r->dir);
	unlink(path);
	if (strlen(r->dir) + 20 > sizeof(un.sun_path))
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s: too long for a "
		    "socket", r->dir);
	snprintf(opts, sizeof(opts), "-c listen_addresses='' -c port=5432 "
	    "-k %s -c archive_mode=off -c hba_file=%s/pg_hba.conf "
	    "-c ident_file=/dev/null -c config_file=/dev/null", r->dir, r->dir);
	snprintf(log, sizeof(log), "%s/bk-restore.log", r->dir);
	{
		char *argv[] = { r->pgctl, "-D", r->dir, "-w", "-t", "300",
		    "-l", log, "-o", opts, "start", NULL };

		if (run_wait(r, argv, err) < 0)
			return bk_err_prefix(err, "start the backup's server "
			    "(see %s)", log);
	}
	r->started = 1;
	return 0;
}

static void
stop_server(struct bk_restore *r)
{
	struct bk_err e;
	char *argv[] = { r->pgctl, "-D", r->dir, "-m", "immediate", "-w",
	    "stop", NULL };

	if (r->started && run_wait(r, argv, &e) < 0)
		fprintf(stderr, "bk-verify: warning: %s\n", e.msg);
	r->started = 0;
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
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
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
	char tmpl[] = "/tmp/bk-restore.XXXXXX", msg[300], *maint;
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
	if ((r->errfd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", tmpl);
	unlink(tmpl);
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
	setting(r->conninfo, "dbname", "postgres", db, sizeof(db));
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
			fprintf(stderr, "bk-verify: warning: %s: %s\n",
			    a->db[i].scratch, e.msg);
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
	char sql[96], path[4096], msg[300], tmpl[] = "/tmp/bk-restore.XXXXXX";
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
	if ((r->errfd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", tmpl);
	unlink(tmpl);
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
	PGresult *res = PQexec(c->conn, stmt);
	char msg[300], one[64];
	size_t i;
	int rc = 0;

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
	free(text);
	PQclear(res);
	PQfinish(c);
	return rc;
}

/* A setting of conninfo (PQconninfoParse), into out; def if unset. */
static void
setting(const char *conninfo, const char *key, const char *def, char *out,
    size_t size)
{
	PQconninfoOption *o = PQconninfoParse(conninfo, NULL), *i;

	snprintf(out, size, "%s", def);
	for (i = o; i != NULL && i->keyword != NULL; i++)
		if (strcmp(i->keyword, key) == 0 && i->val != NULL &&
		    *i->val != '\0')
			snprintf(out, size, "%s", i->val);
	PQconninfoFree(o);
}

/* The checks on the temporary server: every database, the user's
 * queries in the conninfo's. */
static int
physical_checks(struct bk_restore *r, char *detail, size_t size,
    struct bk_err *err)
{
	char user[128], db[128], ci[600], msg[300];
	unsigned long long rows = 0;
	int tables = 0, ok = 0, i, ndb, rc = 0;
	PGresult *res;
	PGconn *c;

	setting(r->conninfo, "user", "postgres", user, sizeof(user));
	setting(r->conninfo, "dbname", "postgres", db, sizeof(db));
	snprintf(ci, sizeof(ci), "host='%s' port=5432 user='%s' "
	    "dbname=postgres", r->dir, user);
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		rc = bk_err_set(err, BK_EXIT_CHECK, "the restored cluster does "
		    "not accept connections: %s", bk_pg_oneline(msg,
		    sizeof(msg), PQerrorMessage(c)));
		PQfinish(c);
		return rc;
	}
	res = PQexec(c, "SELECT datname FROM pg_database WHERE datallowconn "
	    "AND NOT datistemplate ORDER BY 1");
	ndb = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	for (i = 0; rc == 0 && i < ndb; i++) {
		const char *name = PQgetvalue(res, i, 0);

		snprintf(ci, sizeof(ci), "host='%s' port=5432 user='%s' "
		    "dbname='%s'", r->dir, user, name);
		rc = sanity(r, ci, strcmp(name, db) == 0, &tables, &rows, &ok,
		    err);
	}
	PQclear(res);
	PQfinish(c);
	if (rc == 0)
		snprintf(detail, size, "a temporary server started on the "
		    "backup and recovered: %d databases, %d tables, %llu rows"
		    "%s", ndb, tables, rows, r->check_sql ? "" : "");
	if (rc == 0 && r->check_sql != NULL) {
		size_t l = strlen(detail);

		snprintf(detail + l, size - l, "; %d check quer%s true in %s",
		    ok, ok == 1 ? "y" : "ies", db);
	}
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
	if (r->all != NULL) {
		rc = end_all(r, verified, detail, size, err);
		goto out;
	}
	if (r->child > 0) {
		while (waitpid(r->child, &st, 0) < 0 && errno == EINTR)
			;
		r->child = -1;
		if (verified && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
			child_error(r, line, sizeof(line));
			rc = bk_err_set(err, BK_EXIT_CHECK, "%s: %s", r->tool,
			    line[0] ? line : "failed");
		}
	}
	if (r->dir[0] != '\0') {
		/* physical */
		if (rc == 0 && verified && (rc = start_server(r, err)) == 0)
			rc = physical_checks(r, detail, size, err);
		stop_server(r);
		rmtree(r->dir);
		r->dir[0] = '\0';
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
	return rc;
}
