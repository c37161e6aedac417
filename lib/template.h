/*
 * template.h - object key templates: strftime(3) conversions in UTC.
 */
#ifndef BK_TEMPLATE_H
#define BK_TEMPLATE_H

#include <stddef.h>
#include <time.h>

#include "err.h"

/*
 * Expand the strftime(3) template tmpl for time t in UTC into out (size
 * bytes).  Only conversions that give a stable, path-safe result are
 * accepted (%Y %m %d %H %M %S %j %y %G %g %V %u %w %U %W %a %A %b %B %e
 * %F %T %D %R %s %z %Z %%); an unknown conversion, a trailing lone '%', a
 * result that would not fit, or an empty result is an error
 * (BK_EXIT_USAGE).  Returns the length of the result, or -1.
 */
int	bk_template_expand(const char *tmpl, time_t t, char *out, size_t size,
	    struct bk_err *err);

#endif
