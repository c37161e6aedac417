/* pg.c - unit tests for lib/pg's pure parts: conninfo checks, versions,
 * finding pg_dump, deciding a child's outcome, names and messages. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tap.h"
#include "pg.h"

/* Write an executable script at dir/name printing out (as --version). */
static void
fake_tool(const char *dir, const char *name, const char *out, int status)
{
	char path[1024], cmd[1200];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	if (system(cmd) != 0)
		exit(2);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	fprintf(f, "#!/bin/sh\necho '%s'\nexit %d\n", out, status);
	fclose(f);
	chmod(path, 0755);
}

/* The wait status of a child that exits with code or dies of sig. */
static int
status_of(int code, int sig)
{
	int st;
	pid_t pid;

	if ((pid = fork()) == 0) {
		if (sig != 0) {
			signal(sig, SIG_DFL);
			raise(sig);
		}
		_exit(code);
	}
	waitpid(pid, &st, 0);
	return st;
}

/* The value of keyword in conninfo s, parsed back by libpq. */
static const char *
cval(const char *s, const char *kw)
{
	static char val[256];
	PQconninfoOption *o, *p;
	char *msg = NULL;

	val[0] = '\0';
	if ((o = PQconninfoParse(s, &msg)) == NULL) {
		PQfreemem(msg);
		return "(unparsable)";
	}
	for (p = o; p->keyword != NULL; p++)
		if (strcmp(p->keyword, kw) == 0)
			snprintf(val, sizeof(val), "%s", p->val ? p->val :
			    "(null)");
	PQconninfoFree(o);
	return val;
}

static void
test_conninfo(void)
{
	struct bk_err err;
	char *s;

	ok(!bk_pg_is_conninfo("mydb"), "a name is not a conninfo");
	ok(!bk_pg_is_conninfo(NULL), "NULL is not a conninfo");
	ok(bk_pg_is_conninfo("host=x"), "key=value is");
	ok(bk_pg_is_conninfo("postgresql://h/db"), "postgresql:// URI is");
	ok(bk_pg_is_conninfo("postgres://h/db"), "postgres:// URI is");

	ok(bk_pg_check_conninfo(NULL, &err) == 0, "no conninfo: fine");
	ok(bk_pg_check_conninfo("mydb", &err) == 0, "a name: fine");
	ok(bk_pg_check_conninfo("host=h port=5433 dbname=x user=u", &err) ==
	    0, "conninfo without password: fine");
	ok(bk_pg_check_conninfo("postgresql://u@h:5433/db?sslmode=require",
	    &err) == 0, "URI without password: fine");
	ok(bk_pg_check_conninfo("host=h password=''", &err) == 0,
	    "an empty password is no secret");

	ok(bk_pg_check_conninfo("host=h password=s3cret", &err) < 0 &&
	    err.code == BK_EXIT_USAGE && strstr(err.msg, "password") &&
	    strstr(err.msg, "PGPASSWORD") && !strstr(err.msg, "s3cret"),
	    "password= refused (exit 2): %s", err.msg);
	ok(bk_pg_check_conninfo("dbname=x   password = 'a b'", &err) < 0,
	    "quoted password with blanks refused");
	ok(bk_pg_check_conninfo("postgresql://u:s3cret@h/db", &err) < 0 &&
	    err.code == BK_EXIT_USAGE && !strstr(err.msg, "s3cret"),
	    "URI user:password@ refused");
	ok(bk_pg_check_conninfo("postgres://:pw@h", &err) < 0,
	    "URI :password@ refused");
	ok(bk_pg_check_conninfo("postgresql://u@h/db?password=pw", &err) < 0,
	    "URI ?password= refused");
	ok(bk_pg_check_conninfo("postgresql://u%40x:p%40w@h/db", &err) < 0,
	    "URI with escapes refused");
	ok(bk_pg_check_conninfo("host='h", &err) < 0 &&
	    err.code == BK_EXIT_USAGE && strncmp(err.msg, "conninfo: ", 10) ==
	    0 && strchr(err.msg, '\n') == NULL,
	    "malformed conninfo: one line: %s", err.msg);
	ok(bk_pg_check_conninfo("nokey= x=y =z", &err) < 0,
	    "unknown keyword refused: %s", err.msg);

	s = bk_pg_conninfo_db(NULL, "mydb", &err);
	is_str(s, "dbname='mydb'", "no conninfo: dbname only");
	free(s);
	s = bk_pg_conninfo_db("olddb", "new", &err);
	is_str(s, "dbname='new'", "a plain name is replaced");
	free(s);
	s = bk_pg_conninfo_db("host=h port=5433 dbname=old user=u", "o'b\\n",
	    &err);
	ok(s != NULL && strcmp(cval(s, "dbname"), "o'b\\n") == 0 &&
	    strcmp(cval(s, "host"), "h") == 0 &&
	    strcmp(cval(s, "port"), "5433") == 0 &&
	    strcmp(cval(s, "user"), "u") == 0,
	    "settings kept, dbname replaced and quoted: %s", s);
	free(s);
	s = bk_pg_conninfo_db("postgresql://u@h1,h2:5433/old?sslmode=require",
	    "x y", &err);
	ok(s != NULL && strcmp(cval(s, "dbname"), "x y") == 0 &&
	    strcmp(cval(s, "host"), "h1,h2") == 0 &&
	    strcmp(cval(s, "sslmode"), "require") == 0,
	    "a URI becomes key=value: %s", s);
	free(s);
	s = bk_pg_conninfo_db("host=h password=pw", "db", &err);
	ok(s != NULL && strstr(s, "pw") == NULL, "never a password: %s", s);
	free(s);
	ok(bk_pg_conninfo_db("host='h", "db", &err) == NULL,
	    "malformed conninfo: NULL");
}

static void
test_versions(void)
{
	char buf[32];
	int v = 0;

	ok(bk_pg_version_parse("pg_dump (PostgreSQL) 15.18 (Debian "
	    "15.18-0+deb12u1)", &v) == 0 && v == 150018, "15.18");
	ok(bk_pg_version_parse("pg_dump (PostgreSQL) 9.6.24", &v) == 0 &&
	    v == 90624, "9.6.24");
	ok(bk_pg_version_parse("psql (PostgreSQL) 16devel", &v) == 0 &&
	    v == 160000, "16devel");
	ok(bk_pg_version_parse("pg_dump (PostgreSQL) 17beta2", &v) == 0 &&
	    v == 170000, "17beta2");
	ok(bk_pg_version_parse("10.1", &v) == 0 && v == 100001, "10.1");
	ok(bk_pg_version_parse("no version here", &v) < 0, "no version");
	ok(bk_pg_version_parse("version 9", &v) < 0, "9 alone says too "
	    "little");
	ok(bk_pg_version_parse("3 tools, 15.2", &v) == 0 && v == 150002,
	    "small numbers skipped");

	is_int(bk_pg_major(150018), 150000, "major of 15.18");
	is_int(bk_pg_major(90624), 90600, "major of 9.6.24");
	ok(bk_pg_major(130011) < bk_pg_major(150002), "13 < 15");
	ok(bk_pg_major(90624) < bk_pg_major(100001), "9.6 < 10");
	ok(bk_pg_major(160000) > bk_pg_major(150018), "16devel > 15.18");
	is_str(bk_pg_version_fmt(buf, sizeof(buf), 150018, 0), "15.18",
	    "format 15.18");
	is_str(bk_pg_version_fmt(buf, sizeof(buf), 150018, 1), "15",
	    "format major 15");
	is_str(bk_pg_version_fmt(buf, sizeof(buf), 90624, 0), "9.6.24",
	    "format 9.6.24");
	is_str(bk_pg_version_fmt(buf, sizeof(buf), 90624, 1), "9.6",
	    "format major 9.6");
}

static void
test_find(void)
{
	char dir[512], root[600], p1[600], p2[600], path[1024], want[1024];
	char pathenv[2048];
	struct bk_err err;
	int v = 0;

	snprintf(dir, sizeof(dir), "%s", tap_tmpdir());
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(p1, sizeof(p1), "%s/p1", dir);
	snprintf(p2, sizeof(p2), "%s/p2", dir);

	fake_tool(p1, "pg_dump", "pg_dump (PostgreSQL) 13.11", 0);
	fake_tool(p2, "pg_dump", "pg_dump (PostgreSQL) 16.2", 0);
	ok(bk_pg_tool_version(strcat(strcpy(path, p1), "/pg_dump"), &v,
	    &err) == 0 && v == 130011, "--version of a fake");
	fake_tool(dir, "broken", "pg_dump (PostgreSQL) 15.1", 1);
	ok(bk_pg_tool_version(strcat(strcpy(path, dir), "/broken"), &v,
	    &err) < 0 && strstr(err.msg, "failed"), "failing --version: %s",
	    err.msg);
	fake_tool(dir, "junk", "hello", 0);
	ok(bk_pg_tool_version(strcat(strcpy(path, dir), "/junk"), &v,
	    &err) < 0 && strstr(err.msg, "no version"), "no version: %s",
	    err.msg);
	ok(bk_pg_tool_version("/nonexistent/pg_dump", &v, &err) < 0,
	    "missing program: %s", err.msg);

	/* BK_PG_BINDIR: only there. */
	ok(bk_pg_find_tool("pg_dump", 130004, p1, root, NULL, path,
	    sizeof(path), &v, &err) == 0 && v == 130011 &&
	    strcmp(path, strcat(strcpy(want, p1), "/pg_dump")) == 0,
	    "bindir with a matching pg_dump");
	ok(bk_pg_find_tool("pg_dump", 150018, p1, root, p2, path,
	    sizeof(path), &v, &err) < 0 && err.code == BK_EXIT_RUNTIME &&
	    strstr(err.msg, "13.11") && strstr(err.msg, "15.18") &&
	    strstr(err.msg, "older"), "bindir older than the server "
	    "refused, even with a newer one on PATH: %s", err.msg);
	ok(bk_pg_find_tool("pg_dumpall", 150018, p1, root, NULL, path,
	    sizeof(path), &v, &err) < 0 && strstr(err.msg, "BK_PG_BINDIR="),
	    "bindir without the tool: %s", err.msg);

	/* No bindir: root/<major>/bin first. */
	snprintf(path, sizeof(path), "%s/15/bin", root);
	fake_tool(path, "pg_dump", "pg_dump (PostgreSQL) 15.4", 0);
	snprintf(pathenv, sizeof(pathenv), "%s:%s", p2, p1);
	ok(bk_pg_find_tool("pg_dump", 150018, NULL, root, pathenv, path,
	    sizeof(path), &v, &err) == 0 && v == 150004 &&
	    strstr(path, "/root/15/bin/pg_dump"),
	    "versioned dir before PATH: %s", path);
	ok(bk_pg_find_tool("pg_dump", 150018, "", root, pathenv, path,
	    sizeof(path), &v, &err) == 0 && v == 150004,
	    "an empty BK_PG_BINDIR counts as unset");
	/* Server 16: no root/16, PATH's first pg_dump is 16.2. */
	ok(bk_pg_find_tool("pg_dump", 160001, NULL, root, pathenv, path,
	    sizeof(path), &v, &err) == 0 && v == 160002 &&
	    strstr(path, "/p2/pg_dump"), "then PATH: %s", path);
	/* A newer pg_dump dumps an older server. */
	snprintf(pathenv, sizeof(pathenv), "/nonexistent::%s", p2);
	ok(bk_pg_find_tool("pg_dump", 140005, NULL, root, pathenv, path,
	    sizeof(path), &v, &err) == 0 && v == 160002,
	    "newer pg_dump for an older server");
	/* Server 15 with root/15 gone and only 13 on PATH. */
	snprintf(path, sizeof(path), "%s/15/bin/pg_dump", root);
	unlink(path);
	ok(bk_pg_find_tool("pg_dump", 150018, NULL, root, p1, path,
	    sizeof(path), &v, &err) < 0 && strstr(err.msg, "13.11") &&
	    strstr(err.msg, "PostgreSQL 15.18"), "older on PATH refused: %s",
	    err.msg);
	ok(bk_pg_find_tool("pg_dump", 150018, NULL, root, "/nonexistent",
	    path, sizeof(path), &v, &err) < 0 &&
	    strstr(err.msg, "not found"), "none: %s", err.msg);
	ok(bk_pg_find_tool("pg_dump", 150018, NULL, root, p1, path, 4, &v,
	    &err) < 0, "no room for the path");
}

static void
test_outcome(void)
{
	struct bk_err err;

	ok(bk_pg_child_outcome("pg_dump", status_of(0, 0), NULL, NULL,
	    &err) == 0, "exit 0, no error: ok");
	ok(bk_pg_child_outcome("pg_dump", status_of(0, 0), "", "", &err) ==
	    0, "empty lines are no error");
	ok(bk_pg_child_outcome("pg_dump", status_of(0, 0),
	    "pg_dump: error: query failed", NULL, &err) < 0 &&
	    strstr(err.msg, "reported an error: query failed"),
	    "exit 0 with an error line: failed: %s", err.msg);
	ok(bk_pg_child_outcome("pg_dump", status_of(1, 0),
	    "pg_dump: error: Dumping the contents of table \"t\" failed: "
	    "PQgetCopyData() failed.", "pg_dump: detail: Error message from "
	    "server: server closed the connection unexpectedly", &err) < 0 &&
	    err.code == BK_EXIT_RUNTIME &&
	    strstr(err.msg, "pg_dump failed (exit 1): Dumping the contents") &&
	    strstr(err.msg, "; Error message from server: server closed"),
	    "exit 1 with error and detail: %s", err.msg);
	ok(bk_pg_child_outcome("pg_dump", status_of(2, 0), NULL, NULL,
	    &err) < 0 && strcmp(err.msg, "pg_dump failed (exit 2)") == 0,
	    "exit 2 alone: %s", err.msg);
	ok(bk_pg_child_outcome("pg_dump", status_of(0, SIGKILL), NULL, NULL,
	    &err) < 0 && strstr(err.msg, "killed by signal 9") &&
	    err.sys == 0, "killed: %s", err.msg);
	ok(bk_pg_child_outcome("pg_dump", status_of(0, SIGPIPE), NULL, NULL,
	    &err) < 0 && err.sys == EPIPE, "SIGPIPE: a quiet EPIPE");

	is_int(bk_pg_line_kind("pg_dump: error: x"), 2, "error line");
	is_int(bk_pg_line_kind("pg_dump: fatal: x"), 2, "fatal line");
	is_int(bk_pg_line_kind("pg_dump: detail: x"), 1, "detail line");
	is_int(bk_pg_line_kind("pg_dump: warning: x"), 0, "warning line");
	is_int(bk_pg_line_kind("plain text"), 0, "other line");
}

static void
test_names(void)
{
	char buf[64];

	is_str(bk_pg_oneline(buf, sizeof(buf), "connection failed: FATAL:  "
	    "no\n\tIs it up?\n"), "connection failed: FATAL: no; Is it up?",
	    "libpq message on one line");
	is_str(bk_pg_oneline(buf, sizeof(buf), "server closed it\n\tThis "
	    "means\n\tbefore or while.\n"),
	    "server closed it; This means before or while.",
	    "an indented lower-case line goes on the sentence");
	is_str(bk_pg_oneline(buf, sizeof(buf), "a\n\nb\n\n"), "a; b",
	    "blank lines");
	is_str(bk_pg_oneline(buf, sizeof(buf), ""), "", "empty message");
	is_str(bk_pg_oneline(buf, 8, "abcdefghijk"), "abcdefg", "cut to fit");

	is_str(bk_pg_member_name(buf, sizeof(buf), "mydb"), "mydb.dump",
	    "plain name");
	is_str(bk_pg_member_name(buf, sizeof(buf), "we/ird%db"),
	    "we%2Fird%25db.dump", "/ and %% encoded");
	is_str(bk_pg_member_name(buf, sizeof(buf), "a\nb\\c"),
	    "a%0Ab%5Cc.dump", "control and backslash encoded");
	is_str(bk_pg_member_name(buf, sizeof(buf), "..") , "...dump",
	    "dots stay in the file name");
	ok(bk_pg_member_name(buf, 8, "database") == NULL, "too long: NULL");
}

int
main(void)
{
	test_conninfo();
	test_versions();
	test_find();
	test_outcome();
	test_names();
	return done_testing();
}
