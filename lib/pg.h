/*
 * pg.h - PostgreSQL backups to a file descriptor.
 *
 * Logical dumps run the pg_dump (pg_dumpall for the globals) that matches
 * the server's major version, with its stdout set to the output: the dump
 * is never copied.  Its exit status and its stderr decide the outcome.
 * --all spools each database's custom-format dump to an unlinked file
 * under $TMPDIR and copies it into one tar stream (tar needs each member's
 * size before its data).  Physical backups speak the replication protocol
 * with libpq (BASE_BACKUP, PostgreSQL 15 or later) and turn the server's
 * archive and backup manifest into one tar stream.
 *
 * Connections take a conninfo string, a URI or a database name, plus the
 * PG* environment, ~/.pgpass and service files, all handled by libpq.  A
 * password written in the conninfo itself is refused: command lines are
 * public.  Nothing here prints: pg_dump's stderr lines that are not the
 * error itself go to a callback.
 */
#ifndef BK_PG_H
#define BK_PG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct bk_progress;

enum bk_pg_mode {
	BK_PG_LOGICAL,		/* one database through pg_dump */
	BK_PG_GLOBALS,		/* roles and tablespaces (pg_dumpall -g) */
	BK_PG_ALL,		/* globals + every database, one tar */
	BK_PG_PHYSICAL		/* base backup over replication, one tar */
};

enum bk_pg_format {
	BK_PG_CUSTOM,		/* pg_dump -Fc -Z0 (compression: bk-gz) */
	BK_PG_PLAIN,		/* pg_dump -Fp: SQL */
	BK_PG_TAR		/* pg_dump -Ft */
};

/* Levels of the lines handed to the note callback. */
#define BK_PG_NOTE_WARN	0	/* pg_dump warnings and the like */
#define BK_PG_NOTE_INFO	1	/* what is being done, for -v */

/* Called with one line (no newline) that the caller may print. */
typedef void (*bk_pg_note_fn)(void *arg, int level, const char *line);

struct bk_pg_opts {
	enum bk_pg_mode	 mode;
	enum bk_pg_format format;	/* BK_PG_LOGICAL only */
	const char	*conninfo;	/* conninfo, URI or dbname; NULL: PG* */
	char * const	*select;	/* pg_dump selection options, passed */
	size_t		 nselect;	/* as they are ("-t", "tab", ...) */
	int		 fast;		/* physical: checkpoint 'fast' if 1 */
	int		 out;		/* output fd (1) */
	const char	*bindir;	/* $BK_PG_BINDIR or NULL */
	const char	*root;		/* versioned installs: the directory
					   holding <major>/bin, NULL for
					   /usr/lib/postgresql */
	const char	*tmpdir;	/* spool dir, NULL: $TMPDIR or /tmp */
	struct bk_progress *progress;	/* may be NULL */
	bk_pg_note_fn	 note;		/* may be NULL */
	void		*note_arg;
};

struct bk_pg_stats {
	uint64_t	bytes_out;	/* bytes written to o->out */
	int		server_version;	/* e.g. 150018, 0 if not connected */
	int		tool_version;	/* pg_dump's, 0 for physical */
	unsigned	databases;	/* databases dumped (BK_PG_ALL) */
};

/* Fill o with defaults: logical, custom format, fd 1, spread checkpoint. */
void	bk_pg_opts_init(struct bk_pg_opts *o);

/*
 * Take the backup o describes and write it to o->out.  Returns 0 when the
 * backup finished and is complete, or -1 with err: BK_EXIT_USAGE for a
 * conninfo that is malformed or holds a password, BK_EXIT_RUNTIME for a
 * connection, server, pg_dump or I/O failure (err->sys is EPIPE when the
 * reader went away).  st is filled in either case.
 */
int	bk_pg_backup(const struct bk_pg_opts *o, struct bk_pg_stats *st,
	    struct bk_err *err);

/*
 * Is s a connection string or a URI (rather than a database name), by
 * libpq's rules: it starts with "postgresql://" or "postgres://", or it
 * holds an "="?
 */
int	bk_pg_is_conninfo(const char *s);

/*
 * Check a conninfo, URI or database name given on the command line: it
 * must parse (PQconninfoParse) and must not carry a password
 * ("password=...", "user:secret@" or "?password=" in a URI).  Returns 0,
 * or -1 with err (BK_EXIT_USAGE) saying why and what to use instead.
 */
int	bk_pg_check_conninfo(const char *s, struct bk_err *err);

/*
 * A key=value connection string with every setting of conninfo (may be
 * NULL or a plain database name) but the password, and dbname set to
 * dbname.  Returns a string to free(3), or NULL with err.
 */
char	*bk_pg_conninfo_db(const char *conninfo, const char *dbname,
	    struct bk_err *err);

/*
 * Parse the first version number in s ("pg_dump (PostgreSQL) 15.18
 * (Debian ...)", "9.6.24", "16beta2") into PostgreSQL's numeric form
 * (150018, 90624, 160000).  Returns 0, or -1 if there is none.
 */
int	bk_pg_version_parse(const char *s, int *num);

/* The major version of num, in numeric form: 150018 -> 150000, 90624 ->
 * 90600. */
int	bk_pg_major(int num);

/* Format num into buf: "15" or "9.6" with major_only, else "15.18",
 * "9.6.24".  Returns buf. */
char	*bk_pg_version_fmt(char *buf, size_t size, int num, int major_only);

/*
 * Run "path --version" and parse its output into *num.  Returns 0, or -1
 * with err (BK_EXIT_RUNTIME) if it cannot be run or says no version.
 */
int	bk_pg_tool_version(const char *path, int *num, struct bk_err *err);

/*
 * Find the client program tool ("pg_dump", "pg_dumpall") for a server of
 * version server (numeric).  If bindir is set (BK_PG_BINDIR), only
 * bindir/tool is considered; else root/<major>/bin/tool (root NULL means
 * /usr/lib/postgresql), then tool on pathenv (a $PATH, may be NULL).  The
 * first whose major version is at least the server's is taken.  Writes
 * its path to out and its version to *num; returns 0, or -1 with err
 * (BK_EXIT_RUNTIME): not found, or older than the server (the message
 * names both versions).
 */
int	bk_pg_find_tool(const char *tool, int server, const char *bindir,
	    const char *root, const char *pathenv, char *out, size_t size,
	    int *num, struct bk_err *err);

/*
 * Decide how a child program ended: wstatus is from waitpid(2), errline
 * the first error line it printed on stderr (or NULL), detail the detail
 * line that followed (or NULL).  Returns 0 if it exited 0 and printed no
 * error; else -1 with err (BK_EXIT_RUNTIME) naming the program, its error
 * and status; a death by SIGPIPE sets err->sys to EPIPE (quiet failure).
 */
int	bk_pg_child_outcome(const char *tool, int wstatus, const char *errline,
	    const char *detail, struct bk_err *err);

/*
 * Classify one stderr line of a PostgreSQL client program: 2 for an error
 * ("pg_dump: error: ...", "... fatal: ..."), 1 for a detail line, 0 for
 * anything else.
 */
int	bk_pg_line_kind(const char *line);

/*
 * Copy libpq's (possibly multi-line) message msg into buf as one line:
 * a newline becomes "; " (or a blank before an indented line that goes on
 * in lower case), runs of blanks one space, no trailing blanks.
 * Returns buf.
 */
char	*bk_pg_oneline(char *buf, size_t size, const char *msg);

/*
 * The tar member name of a database's dump in a BK_PG_ALL archive:
 * dbname with "/", "%", "\" and control bytes written as %XX, then
 * ".dump".  Returns buf, or NULL if it does not fit.
 */
char	*bk_pg_member_name(char *buf, size_t size, const char *dbname);

#endif
