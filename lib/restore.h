/*
 * restore.h - bk-verify's restore test of a logical backup: the payload
 * goes into a scratch database made for it, sanity checks and the user's
 * own queries run there, and the database is dropped whatever happened.
 *
 * It is a struct bk_verify_tap (verify.h): bk_restore_start() creates
 * the database and starts the client of the server's version that loads
 * the payload (pg_restore for a custom archive, psql for plain SQL) and
 * gives the pipe to its stdin; bk_restore_end() waits for it, runs the
 * checks when the backup verified, and drops the database.  A pg_dump
 * tar archive (its first member is toc.dat) goes to pg_restore -Ft.  A
 * bk-dump --all archive (globals.sql first) is split on a thread: every
 * database's custom dump into a scratch database of its own, the user's
 * queries in the one the conninfo names; globals.sql is not applied
 * (roles and tablespaces belong to the whole server).
 *
 * A tar payload that is a base backup is extracted into a private temp
 * dir instead; bk_restore_end() starts a temporary server on it (its own
 * socket in that dir, no TCP, trust on the socket only, as the postgres
 * user when run as root), lets it recover to the end of the backup, runs
 * the same checks in every database (the user's queries in the conninfo's
 * database, else postgres), stops it and removes the dir.
 */
#ifndef BK_RESTORE_H
#define BK_RESTORE_H

#include <sys/types.h>

#include "err.h"

struct bk_restore {
	const char	*conninfo;	/* a maintenance database */
	const char	*check_sql;	/* a file of queries, or NULL */
	void		*conn;		/* PGconn * to conninfo */
	char		 dbname[32];	/* "bk_verify_<12 hex>", "" if none */
	char		*scratch;	/* conninfo of the scratch database */
	char		 tool[16];	/* "pg_restore" or "psql" */
	pid_t		 child;		/* -1: none */
	int		 errfd;		/* the child's stderr, a temp file */
	char		 dir[64];	/* physical: the extracted cluster */
	int		 started;	/* physical: a server runs in dir */
	char		 pgctl[4096];
	uid_t		 uid;		/* who runs it (root: postgres) */
	gid_t		 gid;
	/* a bk-dump --all archive: one scratch database per member */
	void		*all;		/* struct all_state *, or NULL */
};

/* Set r up for conninfo and check_sql (both kept by reference). */
void	bk_restore_init(struct bk_restore *r, const char *conninfo,
	    const char *check_sql);

/* The two halves of the tap (arg is a struct bk_restore). */
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
