/*
 * prune.h - what bk-prune deletes, and the deleting.
 *
 * The plan is pure: from a listing, the objects whose name matches a glob
 * are the backups; the retention policy (retain.h) decides which of them
 * stay; everything else in the listing is never touched.  The deleting
 * works on s3:// (DeleteObjects in batches of up to 1,000, each object
 * with its KEY.sha256 record) and on files (unlink, directory fsync).
 */
#ifndef BK_PRUNE_H
#define BK_PRUNE_H

#include <stddef.h>
#include <time.h>

#include "aws.h"
#include "err.h"
#include "listing.h"
#include "retain.h"

struct bk_prune_plan {
	size_t				 n;	/* backups (matched objects) */
	size_t				*idx;	/* their indexes in the listing */
	struct bk_retain_decision	*dec;	/* verdict on each */
	size_t				 nkeep;
	size_t				 ndelete;
	size_t				 nother;	/* objects not matched */
};

/*
 * The last path element of url (after the last '/'), the name --match
 * globs apply to.
 */
const char	*bk_prune_name(const char *url);

/*
 * The time written in a backup's name by a key template: the last
 * "YYYYMMDDTHHMMSSZ" or "YYYY-MM-DDTHH:MM:SSZ" (also without the colons)
 * in name, UTC.  Storage times move when objects are copied or restored;
 * the name does not.  Returns 0 with *t set, or -1 if name holds none
 * (or only impossible dates).
 */
int	bk_prune_name_time(const char *name, time_t *t);

/*
 * Plan l under policy p, counting as backups only the objects whose name
 * (bk_prune_name()) matches glob (fnmatch(3); NULL matches everything).
 * Returns 0 with plan filled (free it with bk_prune_plan_free()), or -1
 * with err (an empty policy, a bad zone: usage; see bk_retain()).
 */
int	bk_prune_plan(const struct bk_listing *l, const char *glob,
	    const struct bk_retain_policy *p, struct bk_prune_plan *plan,
	    struct bk_err *err);
void	bk_prune_plan_free(struct bk_prune_plan *plan);

/*
 * Called after each object is deleted (ok 1) or could not be (ok 0, why
 * says why), in listing order.
 */
typedef void	(*bk_prune_done_fn)(void *arg, const struct bk_listing_obj *o,
	    int ok, const char *why);

/*
 * Delete the objects of l that plan says to delete, all at location
 * (s3://bucket/prefix, or a path: every URL in l must be under it).
 * aws (loaded once by the caller) is used for s3:// only.  Returns the number of objects that could
 * not be deleted (0: all went), or -1 with err if it could not start
 * (credentials, a URL not under the location).
 */
int	bk_prune_delete(const char *location, struct bk_aws *aws,
	    const struct bk_listing *l, const struct bk_prune_plan *plan,
	    bk_prune_done_fn done, void *arg, struct bk_err *err);

/*
 * Abort the multipart uploads under the s3:// location that were
 * initiated more than age seconds before now (with dry, only report
 * them); each reported through fn(arg, key, initiated).  Returns the
 * number aborted, or -1 with err.
 */
int	bk_prune_abort_incomplete(const char *location,
	    struct bk_aws *aws, time_t now, uint64_t age, int dry,
	    void (*fn)(void *arg, const char *key, time_t initiated), void *arg,
	    struct bk_err *err);

/*
 * List location (s3:// without records, or a path) into l.  Returns 0 or
 * -1 with err; a listing cut short is an error.
 */
int	bk_prune_list(const char *location, struct bk_aws *aws,
	    struct bk_listing *l, struct bk_err *err);

#endif
