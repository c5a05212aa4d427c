/*
 * fuzz.h - helpers shared by the libFuzzer entries in tests/fuzz/: an
 * invariant check that aborts (so libFuzzer and the replay driver both see a
 * failure), a strict JSON validator, an independent bitwise CRC-16/X.25, and
 * the DLMS keys of the captures (read from $VECTORS/MANIFEST.tsv at run time,
 * never copied into the repository).
 *
 * Header-only, static inline, so each entry stays one file.  Everything here
 * is written from the specifications (RFC 8259 for JSON, RFC 3629 for UTF-8,
 * ISO/IEC 13239 / IEC 62056-46 for the CRC), not from the code under test.
 */
#ifndef HM_FUZZ_H
#define HM_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant broke: say which and where, then abort so the input is kept. */
#define FUZZ_CHECK(cond)                                                                             \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                     \
		}                                                                                    \
	} while (0)

/* Known bugs (tests/fuzz/regress/KNOWN, second column) that a libFuzzer run
 * steps over so that it can look past them: $HM_FUZZ_TOLERATE is a comma
 * list of those tags (run-fuzz sets it; regress.test never does, so the
 * kept inputs keep failing until the bug is fixed). */
static inline bool fuzz_tolerate(const char *tag)
{
	const char *t = getenv("HM_FUZZ_TOLERATE");
	size_t n = strlen(tag);
	for (; t && *t; t += strcspn(t, ","), t += *t == ',')
		if (strncmp(t, tag, n) == 0 && (t[n] == ',' || t[n] == '\0'))
			return true;
	return false;
}

/* CRC-16/X.25, bit by bit: reflected polynomial 0x8408, init 0xFFFF, final
 * XOR 0xFFFF (IEC 62056-46 HCS/FCS).  Slow on purpose: the reference. */
static inline uint16_t fuzz_crc_x25(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xFFFF;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
	}
	return (uint16_t)(crc ^ 0xFFFF);
}

/* 64-bit FNV-1a, to compare byte strings seen in two runs. */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return h;
}

/* --- UTF-8 (RFC 3629) ------------------------------------------------------ */

/* Decodes one strict UTF-8 sequence at p (no overlongs, no surrogates, at
 * most U+10FFFF).  Returns its length and sets *cp, or 0 if invalid. */
static inline size_t fuzz_utf8(const uint8_t *p, size_t n, uint32_t *cp)
{
	if (n == 0)
		return 0;
	uint8_t c = p[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

/* --- JSON (RFC 8259), strict ---------------------------------------------- */

struct fuzz_json {
	const uint8_t *p, *end;
	int depth;
	bool allow_dup; /* accept an object naming a member twice */
	/* string decoding: code points of the last string parsed, if asked */
	uint32_t *cps;
	size_t ncps, cps_cap;
};

static inline void fuzz_json_ws(struct fuzz_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* White space, then c if it comes next: true (and past it) if it did. */
static inline bool fuzz_json_eat(struct fuzz_json *j, char c)
{
	fuzz_json_ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

static inline int fuzz_hex4(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	if (end - p < 4)
		return -1;
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = (*v << 4) | (uint32_t)d;
	}
	return 0;
}

static inline void fuzz_json_cp(struct fuzz_json *j, uint32_t cp)
{
	if (j->cps && j->ncps < j->cps_cap)
		j->cps[j->ncps] = cp;
	j->ncps++;
}

/* A string literal at j->p: the raw bytes must be valid UTF-8, controls
 * escaped, escapes known, \u surrogates paired.  0 or -1. */
static inline int fuzz_json_string(struct fuzz_json *j)
{
	j->ncps = 0;
	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end) {
		uint8_t c = *j->p;
		uint32_t cp;
		if (c == '"') {
			j->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			size_t n = fuzz_utf8(j->p, (size_t)(j->end - j->p), &cp);
			if (!n)
				return -1;
			fuzz_json_cp(j, cp);
			j->p += n;
			continue;
		}
		if (j->end - j->p < 2)
			return -1;
		c = j->p[1];
		j->p += 2;
		switch (c) {
		case '"': fuzz_json_cp(j, '"'); break;
		case '\\': fuzz_json_cp(j, '\\'); break;
		case '/': fuzz_json_cp(j, '/'); break;
		case 'b': fuzz_json_cp(j, 0x08); break;
		case 'f': fuzz_json_cp(j, 0x0C); break;
		case 'n': fuzz_json_cp(j, 0x0A); break;
		case 'r': fuzz_json_cp(j, 0x0D); break;
		case 't': fuzz_json_cp(j, 0x09); break;
		case 'u':
			if (fuzz_hex4(j->p, j->end, &cp))
				return -1;
			j->p += 4;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return -1; /* lone low surrogate */
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				uint32_t lo;
				if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
				    fuzz_hex4(j->p + 2, j->end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				j->p += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			fuzz_json_cp(j, cp);
			break;
		default: return -1;
		}
	}
	return -1;
}

static inline int fuzz_json_digits(struct fuzz_json *j)
{
	const uint8_t *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static inline int fuzz_json_number(struct fuzz_json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return -1;
	if (*j->p == '0')
		j->p++;
	else if (fuzz_json_digits(j))
		return -1;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (fuzz_json_digits(j))
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (fuzz_json_digits(j))
			return -1;
	}
	return 0;
}

static inline int fuzz_json_value(struct fuzz_json *j);

#define FUZZ_JSON_KEYS_MAX 512

/* An object; its keys must be distinct (compared as raw literals, which is
 * exact for one writer's canonical output). */
static inline int fuzz_json_object(struct fuzz_json *j)
{
	const uint8_t *key[FUZZ_JSON_KEYS_MAX];
	size_t klen[FUZZ_JSON_KEYS_MAX], nkeys = 0;
	j->p++; /* '{' */
	if (fuzz_json_eat(j, '}'))
		return 0;
	for (;;) {
		fuzz_json_ws(j);
		const uint8_t *k = j->p;
		uint32_t *save = j->cps;
		j->cps = NULL;
		int rc = fuzz_json_string(j);
		j->cps = save;
		if (rc)
			return -1;
		for (size_t i = 0; i < nkeys && !j->allow_dup; i++)
			if (klen[i] == (size_t)(j->p - k) && memcmp(key[i], k, klen[i]) == 0)
				return -1; /* duplicate member */
		if (nkeys < FUZZ_JSON_KEYS_MAX) {
			key[nkeys] = k;
			klen[nkeys++] = (size_t)(j->p - k);
		}
		if (!fuzz_json_eat(j, ':'))
			return -1;
		if (fuzz_json_value(j))
			return -1;
		if (fuzz_json_eat(j, ','))
			continue;
		return fuzz_json_eat(j, '}') ? 0 : -1;
	}
}

static inline int fuzz_json_array(struct fuzz_json *j)
{
	j->p++; /* '[' */
	if (fuzz_json_eat(j, ']'))
		return 0;
	for (;;) {
		if (fuzz_json_value(j))
			return -1;
		if (fuzz_json_eat(j, ','))
			continue;
		return fuzz_json_eat(j, ']') ? 0 : -1;
	}
}

static inline int fuzz_json_lit(struct fuzz_json *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

static inline int fuzz_json_value(struct fuzz_json *j)
{
	int rc;
	fuzz_json_ws(j);
	if (j->p >= j->end || ++j->depth > 64)
		return -1;
	switch (*j->p) {
	case '{': rc = fuzz_json_object(j); break;
	case '[': rc = fuzz_json_array(j); break;
	case '"': rc = fuzz_json_string(j); break;
	case 't': rc = fuzz_json_lit(j, "true"); break;
	case 'f': rc = fuzz_json_lit(j, "false"); break;
	case 'n': rc = fuzz_json_lit(j, "null"); break;
	default: rc = fuzz_json_number(j); break;
	}
	j->depth--;
	return rc;
}

/* True if s[0..n) is exactly one JSON value (whitespace around allowed). */
static inline bool fuzz_json_valid(const char *s, size_t n, bool allow_dup)
{
	struct fuzz_json j = {.p = (const uint8_t *)s, .end = (const uint8_t *)s + n, .allow_dup = allow_dup};
	if (fuzz_json_value(&j))
		return false;
	fuzz_json_ws(&j);
	return j.p == j.end;
}

/* True if members ("\"a\":1,...", as hm_json_members writes them) make a
 * valid JSON object once wrapped in braces.  Uses a heap copy of exactly the
 * needed size so that ASan sees any read past what was written. */
static inline bool fuzz_json_members_valid(const char *members, size_t n)
{
	char *obj = malloc(n + 2);
	FUZZ_CHECK(obj);
	obj[0] = '{';
	memcpy(obj + 1, members, n);
	obj[n + 1] = '}';
	bool ok = fuzz_json_valid(obj, n + 2, false);
	if (!ok && fuzz_tolerate("dup-member"))
		ok = fuzz_json_valid(obj, n + 2, true);
	free(obj);
	return ok;
}

/* --- keys of the captures --------------------------------------------------- */

#define FUZZ_KEYS_MAX 16

/* The distinct (encryption key, authentication key) pairs of MANIFEST.tsv, in
 * row order (tests/fuzz/seeds.py numbers them the same way, so a seed can
 * name its key by index).  Columns 5 and 6 (1-based), 32 hex digits or empty. */
struct fuzz_key {
	uint8_t ek[16], ak[16];
	bool has_ak;
};

static struct fuzz_key fuzz_keys[FUZZ_KEYS_MAX];
static unsigned fuzz_nkeys;

static inline int fuzz_unhex16(const char *s, size_t n, uint8_t out[16])
{
	if (n != 32)
		return -1;
	for (int i = 0; i < 16; i++) {
		uint32_t v;
		char q[4] = {'0', '0', s[2 * i], s[2 * i + 1]};
		if (fuzz_hex4((const uint8_t *)q, (const uint8_t *)q + 4, &v))
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static inline void fuzz_keys_load(void)
{
	const char *dir = getenv("VECTORS");
	char path[4096], line[16384];
	if (fuzz_nkeys || !dir)
		return;
	snprintf(path, sizeof path, "%s/MANIFEST.tsv", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof line, f) && fuzz_nkeys < FUZZ_KEYS_MAX) {
		const char *col[7] = {0};
		size_t len[7] = {0};
		const char *c = line;
		for (int i = 0; i < 7 && c; i++) {
			const char *tab = strchr(c, '\t');
			col[i] = c;
			len[i] = tab ? (size_t)(tab - c) : strcspn(c, "\n");
			c = tab ? tab + 1 : NULL;
		}
		struct fuzz_key k = {0};
		if (!col[5] || fuzz_unhex16(col[4], len[4], k.ek))
			continue;
		k.has_ak = fuzz_unhex16(col[5], len[5], k.ak) == 0;
		bool seen = false;
		for (unsigned i = 0; i < fuzz_nkeys; i++)
			seen |= memcmp(&fuzz_keys[i], &k, sizeof k) == 0;
		if (!seen)
			fuzz_keys[fuzz_nkeys++] = k;
	}
	fclose(f);
}

#endif
