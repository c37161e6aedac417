/* template.c - object key templates: strftime(3) conversions in UTC. */
#include <string.h>
#include <time.h>

#include "template.h"

/* Conversions whose result does not depend on the locale beyond the C
 * locale's names and cannot contain a '/' or a blank (bar %a %A %b %B %e,
 * whose blanks and names are stable in UTC and the C locale). */
static const char allowed[] = "YmdHMSjyGgVuwUWaAbBeFTDRszZ%";

int
bk_template_expand(const char *tmpl, time_t t, char *out, size_t size,
    struct bk_err *err)
{
	struct tm tm;
	const char *p;
	size_t n;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '\0')
			return bk_err_set(err, BK_EXIT_USAGE,
			    "template %s: ends with a lone '%%'", tmpl);
		if (strchr(allowed, *p) == NULL)
			return bk_err_set(err, BK_EXIT_USAGE,
			    "template %s: unknown conversion %%%c", tmpl, *p);
	}
	if (gmtime_r(&t, &tm) == NULL)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "template %s: time out of range", tmpl);
	if (size == 0)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "template %s: result too long", tmpl);
	/* strftime() returns 0 both for an empty result and when the buffer
	 * is too small; an empty template is the only way to an empty
	 * result, so tell the two apart by the template. */
	if (*tmpl == '\0')
		return bk_err_set(err, BK_EXIT_USAGE, "template is empty");
	out[0] = '\0';
	/* The template was checked above; it is the user's format on purpose. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(out, size, tmpl, &tm);
#pragma GCC diagnostic pop
	if (n == 0)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "template %s: result too long", tmpl);
	return (int)n;
}
