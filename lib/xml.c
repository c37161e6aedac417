/*
 * xml.c - element-path callbacks over expat (see xml.h).
 */
#include <expat.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"

struct xml {
	XML_Parser	 p;
	bk_xml_fn	 fn;
	void		*arg;
	struct bk_err	*err;
	int		 failed;		/* err is filled */
	int		 depth;
	size_t		 mark[BK_XML_DEPTH + 1];	/* path length per depth */
	size_t		 textmark[BK_XML_DEPTH + 1];	/* text start per depth */
	char		 path[BK_XML_PATHMAX];
	size_t		 pathlen;
	char		*text;			/* BK_XML_TEXTMAX + 1 */
	size_t		 textlen;
};

/* Stop the parser with a message (the first one wins). */
static void
stop(struct xml *x, const char *why)
{
	if (!x->failed) {
		bk_err_set(x->err, BK_EXIT_RUNTIME, "malformed XML at line %lu: "
		    "%s", (unsigned long)XML_GetCurrentLineNumber(x->p), why);
		x->failed = 1;
	}
	XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct xml *x = arg;
	size_t n = strlen(name);

	(void)attrs;
	if (x->failed)
		return;
	if (x->depth >= BK_XML_DEPTH) {
		stop(x, "elements nested too deeply");
		return;
	}
	if (x->pathlen + n + 2 > sizeof(x->path)) {
		stop(x, "element path too long");
		return;
	}
	x->mark[x->depth] = x->pathlen;
	x->textmark[x->depth] = x->textlen;
	if (x->depth > 0)
		x->path[x->pathlen++] = '/';
	memcpy(x->path + x->pathlen, name, n + 1);
	x->pathlen += n;
	x->depth++;
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct xml *x = arg;
	size_t start;

	(void)name;
	if (x->failed)
		return;
	x->depth--;
	start = x->textmark[x->depth];
	x->text[x->textlen] = '\0';
	if (x->fn(x->arg, x->path, x->text + start, x->textlen - start,
	    x->err) < 0) {
		x->failed = 1;
		XML_StopParser(x->p, XML_FALSE);
		return;
	}
	/* The element's text is done with; its parent's resumes. */
	x->textlen = start;
	x->pathlen = x->mark[x->depth];
	x->path[x->pathlen] = '\0';
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct xml *x = arg;

	if (x->failed || x->depth == 0)
		return;
	if (x->textlen + (size_t)len > BK_XML_TEXTMAX) {
		stop(x, "element text too long");
		return;
	}
	memcpy(x->text + x->textlen, s, (size_t)len);
	x->textlen += (size_t)len;
}

static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int internal)
{
	(void)name, (void)sysid, (void)pubid, (void)internal;
	stop(arg, "document type declarations are not accepted");
}

static void XMLCALL
on_entity(void *arg, const XML_Char *name, int param,
    const XML_Char *value, int len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name, (void)param, (void)value, (void)len, (void)base;
	(void)sysid, (void)pubid, (void)notation;
	stop(arg, "entity declarations are not accepted");
}

int
bk_xml_parse(const char *doc, size_t len, bk_xml_fn fn, void *arg,
    struct bk_err *err)
{
	struct xml x;
	int rc = 0;

	if (len > (size_t)0x7fffffff)
		return bk_err_set(err, BK_EXIT_RUNTIME, "XML document too "
		    "large");
	memset(&x, 0, sizeof(x));
	x.fn = fn;
	x.arg = arg;
	x.err = err;
	if ((x.text = malloc(BK_XML_TEXTMAX + 1)) == NULL ||
	    (x.p = XML_ParserCreate("UTF-8")) == NULL) {
		free(x.text);
		return bk_err_set(err, BK_EXIT_RUNTIME, "XML parser: out of "
		    "memory");
	}
	XML_SetUserData(x.p, &x);
	XML_SetElementHandler(x.p, on_start, on_end);
	XML_SetCharacterDataHandler(x.p, on_text);
	XML_SetStartDoctypeDeclHandler(x.p, on_doctype);
	XML_SetEntityDeclHandler(x.p, on_entity);
	if (XML_Parse(x.p, doc, (int)len, XML_TRUE) != XML_STATUS_OK &&
	    !x.failed) {
		bk_err_set(err, BK_EXIT_RUNTIME, "malformed XML at line %lu: "
		    "%s", (unsigned long)XML_GetCurrentLineNumber(x.p),
		    XML_ErrorString(XML_GetErrorCode(x.p)));
		x.failed = 1;
	}
	if (x.failed)
		rc = -1;
	XML_ParserFree(x.p);
	free(x.text);
	return rc;
}
