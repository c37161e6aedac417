/*
 * monitor.h - what bk-age decides, in the Monitoring Plugins convention.
 *
 * The evaluation is pure: from a listing (listing.h), the time now, the
 * thresholds, the seal of the newest backup (looked up by the caller)
 * and what the run journal says, it gives a state (OK, WARNING,
 * CRITICAL, UNKNOWN), the problems found and a one-line summary.  The
 * formatters turn that into a Nagios plugin line with perfdata, a JSON
 * object or a Prometheus textfile; the journal reader counts consecutive
 * failed runs.
 *
 * What counts as a backup: an object of the listing whose name (the last
 * element of its URL, after the last '/', as bk-prune's --match) matches
 * the glob, that is not the KEY.sha256 record bk-s3put writes beside a
 * multipart object KEY (a URL ending in ".sha256" whose URL without it is
 * in the listing too), and that is at least min_size bytes.  A matching
 * object smaller than that (an empty or tiny dump) is a failed run, not
 * a backup: it never counts, never makes the state OK, and its presence
 * as the newest matching object is CRITICAL on its own; the age, size and
 * timestamp reported are those of the newest real backup behind it.
 *
 * The newest backup is the one with the greatest time; of several with
 * that time, the one whose URL sorts last (strcmp(3)).  Its age is now
 * minus its time, 0 if it is in the future.
 *
 * When which state, the worst one winning, every problem named:
 *   no backup at all (nothing matches, or only too small objects) CRITICAL
 *   the newest matching object is smaller than min_size         CRITICAL
 *   age > critical                                               CRITICAL
 *   age > warning (an age equal to a threshold is within it)     WARNING
 *   require_sealed and the newest backup's seal is not "ok"      CRITICAL
 *   fewer than min_count backups                                 WARNING
 *   max_failures > 0 and that many consecutive failed runs       CRITICAL
 * An evaluation never gives UNKNOWN: that is for a check that could not
 * be made (bk_mon_unknown()).
 */
#ifndef BK_MONITOR_H
#define BK_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "listing.h"

#define BK_MON_JOURNAL_LINEMAX	65536	/* bytes in a journal line */

/* The plugin states; each is also the exit status. */
enum bk_mon_state {
	BK_MON_OK = 0,
	BK_MON_WARNING = 1,
	BK_MON_CRITICAL = 2,
	BK_MON_UNKNOWN = 3
};

/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char	*bk_mon_state_name(enum bk_mon_state st);

/* What the user asked for. */
struct bk_mon_opts {
	uint64_t	 warning;	/* age in seconds above which: WARNING */
	uint64_t	 critical;	/* ... CRITICAL */
	uint64_t	 min_size;	/* bytes; smaller is not a backup */
	uint64_t	 min_count;	/* fewer backups: WARNING; 0: no check */
	const char	*match;		/* fnmatch(3) glob on names, or NULL */
	int		 require_sealed;
	uint64_t	 max_failures;	/* 0: the journal is not checked */
};

/* What the journal says about the runs that matched a filter. */
struct bk_mon_journal {
	uint64_t	 records;	/* lines read */
	uint64_t	 runs;		/* records that matched */
	uint64_t	 failures;	/* failed runs at the end, in a row */
	time_t		 last_ok;	/* time of the last ok run, 0: none */
	time_t		 last_run;	/* time of the last run, 0: none */
	char		 last_error[256];	/* of the last failed run, "" */
};

/* One problem found. */
struct bk_mon_problem {
	enum bk_mon_state	 state;
	char			*text;
};

/*
 * The verdict.  newest and newest_object point into the listing that was
 * evaluated (which must outlive the result); the rest is the result's.
 */
struct bk_mon_result {
	enum bk_mon_state		 state;
	int				 evaluated;	/* 0: bk_mon_unknown() */
	time_t				 now;
	struct bk_mon_opts		 opts;
	size_t				 objects;	/* in the listing */
	size_t				 matched;	/* matching, no records */
	size_t				 count;		/* backups */
	const struct bk_listing_obj	*newest;	/* backup, or NULL */
	const struct bk_listing_obj	*newest_object;	/* matching, or NULL */
	uint64_t			 age;		/* of newest */
	int				 seal_checked;
	char				 seal[16];	/* "" none recorded */
	int				 have_journal;
	struct bk_mon_journal		 journal;
	struct bk_mon_problem		*problem;
	size_t				 nproblem;
	char				*summary;	/* without "BK-AGE OK - " */
};

/*
 * The newest backup of l under o (see above): *newest points into l, or
 * is NULL when there is none.  The caller looks up its seal for
 * bk_mon_eval().  Returns 0, or -1 with err (BK_EXIT_RUNTIME) out of
 * memory.
 */
int	bk_mon_newest(const struct bk_listing *l, const struct bk_mon_opts *o,
	    const struct bk_listing_obj **newest, struct bk_err *err);

/*
 * Evaluate l at time now under o.  seal is the seal recorded with the
 * newest backup ("ok", "unsealed", "none"; NULL or "" when none was
 * recorded), used only with o->require_sealed.  j is what the journal
 * said (NULL when it was not read; only used with o->max_failures).
 * Fills r (free it with bk_mon_result_free()).  Returns 0, or -1 with
 * err (BK_EXIT_RUNTIME) out of memory.
 */
int	bk_mon_eval(const struct bk_listing *l, const struct bk_mon_opts *o,
	    time_t now, const char *seal, const struct bk_mon_journal *j,
	    struct bk_mon_result *r, struct bk_err *err);

/*
 * Make r the verdict of a check that could not be made: state UNKNOWN,
 * summary why (copied; NULL out of memory gives a fixed text).
 */
void	bk_mon_unknown(struct bk_mon_result *r, time_t now, const char *why);

void	bk_mon_result_free(struct bk_mon_result *r);

/*
 * The perfdata of r in the Monitoring Plugins format, labels
 * 'age' (seconds, s; warning and critical thresholds; min 0), 'size'
 * (bytes, B; critical "MIN:" when min_size is above 1), 'count'
 * (warning "MIN:" with min_count) and, with max_failures, 'failures'
 * (critical max_failures - 1, so that reaching max_failures alerts):
 *	'age'=11520s;90000;176400;0 'size'=536870912B;;;0 'count'=14;;;0
 * A value that does not exist (no backup) is U.  An UNKNOWN result has
 * none: "".  Returns a malloc'd string, or NULL out of memory.
 */
char	*bk_mon_perfdata(const struct bk_mon_result *r);

/*
 * The plugin output: "PREFIX STATE - summary | perfdata\n" ("PREFIX
 * STATE - summary\n" without perfdata), then with verbose one line per
 * detail (the listing, the newest object, the seal, the journal, the
 * thresholds).  A '|' in the text is written "%7C" (Nagios splits
 * perfdata at the first one) and control characters '?'.  Returns a
 * malloc'd string, or NULL out of memory.
 */
char	*bk_mon_format_nagios(const struct bk_mon_result *r,
	    const char *prefix, int verbose);

/*
 * One JSON object and a newline:
 *	{"state":"OK","exit":0,"summary":"...","age_seconds":11520,
 *	"newest":{"url":"...","time":"2026-11-21T02:00:13Z","size":N},
 *	"newest_object":{...},"count":14,"matched":15,"objects":15,
 *	"seal":"ok","journal":{"runs":N,"consecutive_failures":N},
 *	"problems":["..."]}
 * Members that do not apply are null (all but state, exit, summary and
 * problems for an UNKNOWN result; seal without require_sealed, journal
 * without max_failures).  Strings are escaped per RFC 8259; a byte that
 * is not part of valid UTF-8 becomes U+FFFD.  Returns a malloc'd string,
 * or NULL out of memory.
 */
char	*bk_mon_format_json(const struct bk_mon_result *r);

/*
 * The Prometheus text exposition (node_exporter's textfile collector)
 * of r, each sample labelled location="LOCATION" (escaped per the
 * format: backslash, double quote, newline; invalid UTF-8 as U+FFFD),
 * each metric with fixed # HELP and # TYPE lines (gauges):
 *	bk_backup_last_success_timestamp_seconds	0 when no backup
 *	bk_backup_last_size_bytes			0 when no backup
 *	bk_backup_count
 *	bk_backup_age_seconds				NaN when no backup
 *	bk_backup_consecutive_failures			with max_failures
 *	bk_backup_check_state				0-3
 *	bk_backup_check_timestamp_seconds		r->now
 * An UNKNOWN result has only the last two.  Returns a malloc'd string,
 * or NULL out of memory.
 */
char	*bk_mon_format_prom(const struct bk_mon_result *r,
	    const char *location);

/*
 * Replace the file at path with text atomically: written to
 * "PATH.tmp.XXXXXX" in the same directory (which the textfile collector
 * ignores: it reads only *.prom), made mode 0644 (the exporter usually
 * runs as another user), then renamed over path.  On failure the
 * temporary file is removed and path is untouched.  Returns 0, or -1
 * with err (BK_EXIT_RUNTIME).
 */
int	bk_mon_write_file(const char *path, const char *text,
	    struct bk_err *err);

/* --- the journal ---------------------------------------------------------- */

/* The members of a journal record the count needs (pointers into a
 * caller's buffer, decoded; NULL when absent or null). */
struct bk_mon_jrec {
	const char	*tool;
	const char	*outcome;
	const char	*destination;
	const char	*error;
	time_t		 time;		/* 0 when absent */
};

/*
 * Parse one journal line (len bytes at line, no newline): one JSON
 * object per RFC 8259, any other members of any type allowed and
 * skipped (nesting up to 64 deep), "tool" and "outcome" strings
 * required, "destination" and "error" strings or null, "time" a string
 * in listing time format (YYYY-MM-DDTHH:MM:SSZ) if present.  The decoded
 * strings are written into buf (size bytes, at least len + 1) and rec
 * points into it.  Returns 0, or -1 with err (BK_EXIT_CHECK, "line
 * LINENO: why").
 */
int	bk_mon_journal_line(const char *line, size_t len, unsigned long lineno,
	    char *buf, size_t size, struct bk_mon_jrec *rec,
	    struct bk_err *err);

/*
 * Whether a journal destination dest is under the location prefix: dest
 * starts with prefix, or, both being filesystem locations (file:// URLs
 * or plain paths, bk_fs_path()), dest's path starts with prefix's.  A
 * NULL prefix matches everything, a NULL dest nothing else.
 */
int	bk_mon_dest_match(const char *prefix, const char *dest);

/*
 * Read a whole journal from fd (until end of file, taking a shared
 * flock(2) first so that no line is seen half appended) and count the
 * runs of tool (exact name; NULL: any) whose destination is under dest
 * (bk_mon_dest_match()): a run whose outcome is "ok" resets the count
 * of consecutive failures, any other outcome adds one.  Every line must
 * parse (bk_mon_journal_line()); a blank line, a line longer than
 * BK_MON_JOURNAL_LINEMAX and a last line without its newline are
 * errors.  what names the journal in messages.  Returns 0 with j
 * filled, or -1 with err (BK_EXIT_CHECK for bad data, BK_EXIT_RUNTIME
 * for a read error).
 */
int	bk_mon_journal_read(int fd, const char *what, const char *tool,
	    const char *dest, struct bk_mon_journal *j, struct bk_err *err);

#endif
