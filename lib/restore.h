/*
 * restore.h - bk-verify's restore test: the backup is restored while it
 * is checked, sanity checks and the user's own queries run on the result,
 * and whatever was made for it is removed whatever happened.
 *
 * It is a struct bk_verify_tap (verify.h).  A logical backup (pg_dump
 * custom archive, plain SQL, or a pg_dump tar archive: its first member
 * is toc.dat) goes into a scratch database: bk_restore_start() creates it
 * and starts the client of the server's version that loads the payload
 * (pg_restore, psql, pg_restore -Ft) and gives the pipe to its stdin;
 * bk_restore_end() waits for it, runs the checks when the backup
 * verified, and drops the database.  A bk-dump --all archive (globals.sql
 * first) is split on a thread: every database's custom dump into a
 * scratch database of its own, the user's queries in the one the
 * conninfo names; globals.sql is not applied (roles and tablespaces
 * belong to the whole server).
 *
 * A tar payload that is a base backup is extracted into a private temp
 * dir under $TMPDIR (else /tmp) instead; bk_restore_end() starts a
 * temporary server of the backup's version on it (its own socket in that
 * dir, no TCP, trust on the socket only, as the postgres user - else
 * nobody - when run as root), lets it recover to the end of the backup,
 * runs the same checks in every database (the user's queries in the
 * conninfo's database, else postgres), stops it and removes the dir.
 */
#ifndef BK_RESTORE_H
#define BK_RESTORE_H

#include <signal.h>
#include <sys/types.h>

#include "err.h"

/*
 * Set (to the signal's number) by bk_restore_interrupt(): a restore test
 * is to stop.  bk_restore_end() then skips the checks, stops the child
 * and the temporary server, cleans up and fails with "interrupted" (code
 * 3).  A child still loading is sent SIGTERM by whichever wait of ours
 * the signal interrupts (install the handler without SA_RESTART).
 */
extern volatile sig_atomic_t	bk_restore_stop;

/* For a signal handler (async-signal-safe): set bk_restore_stop to sig
 * and cancel the check query that runs, if one does. */
void	bk_restore_interrupt(int sig);

struct bk_restore {
	const char	*conninfo;	/* a maintenance database */
	const char	*check_sql;	/* a file of queries, or NULL */
	void		*conn;		/* PGconn * to conninfo */
	char		 dbname[32];	/* "bk_verify_<12 hex>", "" if none */
	char		*scratch;	/* conninfo of the scratch database */
	char		 tool[16];	/* "pg_restore", "psql" or "tar" */
	pid_t		 child;		/* -1: none */
	int		 errfd;		/* the child's stderr, a temp file */
	char		 dir[108];	/* physical: the extracted cluster,
					   "" if none (a socket goes in it) */
	int		 started;	/* physical: a server may run in dir */
	char		 pgctl[4096];
	uid_t		 uid;		/* who runs it (root: postgres) */
	gid_t		 gid;
	/* a bk-dump --all archive: one scratch database per member */
	void		*all;		/* struct all_state *, or NULL */
	char		 warn[256];	/* what was left behind, for a
					   warning; "" if nothing */
};

/* Set r up for conninfo and check_sql (both kept by reference). */
void	bk_restore_init(struct bk_restore *r, const char *conninfo,
	    const char *check_sql);

/*
 * The two halves of the tap (arg is a struct bk_restore).  end() fails
 * with BK_EXIT_CHECK when the backup does not restore (the client fails,
 * the cluster does not recover, a table cannot be read, a query of
 * check_sql errors or is not true), else with BK_EXIT_RUNTIME (a server
 * that cannot be reached, no server programs of the backup's version,
 * no room, interrupted).  r->warn says what could not be cleaned up.
 */
int	bk_restore_start(void *arg, const char *kind, const void *head,
	    size_t headlen, int *fd, struct bk_err *err);
int	bk_restore_end(void *arg, int verified, char *detail, size_t size,
	    struct bk_err *err);

/*
 * Split the text of a --check-sql file (len bytes) into statements: a
 * statement ends with ';' at the end of a line (blanks after it
 * allowed); lines that are empty or start with "--" are left out.
 * Calls fn for each, NUL-terminated, with its 1-based number.  Returns
 * the number of statements, or what fn returned if negative.
 */
int	bk_restore_split(const char *text, size_t len,
	    int (*fn)(void *arg, int n, const char *stmt), void *arg);

#endif
