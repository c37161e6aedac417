/* err.c - errors returned by the library. */
#include <stdio.h>
#include <string.h>

#include "err.h"

static void __attribute__((format(printf, 2, 0)))
vset(struct bk_err *err, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int
bk_err_set(struct bk_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	err->sys = 0;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	return -1;
}

int
bk_err_sys(struct bk_err *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (err == NULL)
		return -1;
	err->code = code;
	err->sys = errnum;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	if (n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		strncpy(err->msg + n, strerror(errnum), sizeof(err->msg) - n - 1);
		err->msg[sizeof(err->msg) - 1] = '\0';
	}
	return -1;
}

void
bk_err_clear(struct bk_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->sys = 0;
	err->msg[0] = '\0';
}

int
bk_err_prefix(struct bk_err *err, const char *fmt, ...)
{
	char old[BK_ERR_MSGMAX];
	va_list ap;
	size_t n;

	if (err == NULL)
		return -1;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	/* Truncation is fine: the message is cut at BK_ERR_MSGMAX. */
	if (n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		strncpy(err->msg + n, old, sizeof(err->msg) - n - 1);
		err->msg[sizeof(err->msg) - 1] = '\0';
	}
	return -1;
}
