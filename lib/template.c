/* template.c - object key templates: strftime(3) conversions in UTC. */
#include <stdio.h>
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
	char fmt[1024], num[32];
	struct tm tm;
	const char *p;
	size_t n = 0, k;

	/* Check every conversion, and put the time in place of %s here:
	 * glibc computes %s with mktime(), which reads the broken-down
	 * time as local time, not UTC. */
	snprintf(num, sizeof(num), "%lld", (long long)t);
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			if (n + 1 >= sizeof(fmt))
				goto toolong;
			fmt[n++] = *p;
			continue;
		}
		p++;
		if (*p == '\0')
			return bk_err_set(err, BK_EXIT_USAGE,
			    "template %s: ends with a lone '%%'", tmpl);
		if (strchr(allowed, *p) == NULL)
			return bk_err_set(err, BK_EXIT_USAGE,
			    "template %s: unknown conversion %%%c", tmpl, *p);
		if (*p == 's') {
			k = strlen(num);
			if (n + k >= sizeof(fmt))
				goto toolong;
			memcpy(fmt + n, num, k);
			n += k;
		} else {
			if (n + 2 >= sizeof(fmt))
				goto toolong;
			fmt[n++] = '%';
			fmt[n++] = *p;
		}
	}
	fmt[n] = '\0';
	if (gmtime_r(&t, &tm) == NULL)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "template %s: time out of range", tmpl);
	/* strftime() returns 0 both for an empty result and when the buffer
	 * is too small; an empty template is the only way to an empty
	 * result, so tell the two apart by the template. */
	if (*tmpl == '\0')
		return bk_err_set(err, BK_EXIT_USAGE, "template is empty");
	if (size == 0)
		goto toolong;
	out[0] = '\0';
	/* The format was checked above; it is the user's on purpose. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(out, size, fmt, &tm);
#pragma GCC diagnostic pop
	if (n == 0)
		goto toolong;
	return (int)n;
toolong:
	return bk_err_set(err, BK_EXIT_USAGE, "template %s: result too long",
	    tmpl);
}
