/*
 * strbuf.h - appending text to a caller's fixed buffer, for the sinks'
 * JSON, topics and URLs.  An append that does not fit sets overflow and
 * leaves the text cut at the last whole append; callers check overflow once
 * at the end instead of after every call.
 */
#ifndef HM_SINK_STRBUF_H
#define HM_SINK_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hanmeter/json.h"

struct hm_strbuf {
	char *p;       /* the buffer, always NUL-terminated */
	size_t cap;    /* its size */
	size_t len;    /* bytes used, excluding the NUL */
	bool overflow; /* something did not fit */
};

static inline void hm_strbuf_init(struct hm_strbuf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->overflow = cap == 0;
	if (cap)
		p[0] = 0;
}

static inline void hm_strbuf_add(struct hm_strbuf *b, const char *s, size_t n)
{
	if (b->overflow || n >= b->cap - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static inline void hm_strbuf_puts(struct hm_strbuf *b, const char *s)
{
	hm_strbuf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static inline void hm_strbuf_printf(struct hm_strbuf *b, const char *fmt, ...)
{
	if (b->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->p[b->len] = 0;
		b->overflow = true;
		return;
	}
	b->len += (size_t)n;
}

/* s as a JSON string literal (quotes included), escaped by the core. */
static inline void hm_strbuf_json(struct hm_strbuf *b, const char *s)
{
	if (b->overflow)
		return;
	int n = hm_json_string(s, strlen(s), b->p + b->len, b->cap - b->len);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->p[b->len] = 0;
		b->overflow = true;
		return;
	}
	b->len += (size_t)n;
	b->p[b->len] = 0;
}

#endif
