/*
 * fuzz_decode.h - the checks every fuzz entry that ends in hm_decode() makes:
 * a message goes through the decoder; the decoder's counters move by exactly
 * one (a reading, or one error of the kind returned); a reading is
 * well-formed (text NUL-terminated and printable, extras within bounds) and
 * renders as valid JSON (fuzz.h's validator) that respects the cap it is
 * given byte for byte.
 */
#ifndef HM_FUZZ_DECODE_H
#define HM_FUZZ_DECODE_H

#include "hanmeter/decode.h"
#include "hanmeter/json.h"
#include "hanmeter/reading.h"

#include "fuzz.h"

/* Sets up d with the key the selector byte names: 0 none, else the
 * (sel - 1) % n-th pair of fuzz_keys[] (when the vectors are there). */
static inline void fuzz_decoder_setup(struct hm_decoder *d, uint8_t sel)
{
	hm_decoder_init(d);
	fuzz_keys_load();
	if (sel == 0 || fuzz_nkeys == 0)
		return;
	const struct fuzz_key *k = &fuzz_keys[(sel - 1u) % fuzz_nkeys];
	d->has_key = true;
	memcpy(d->key, k->ek, sizeof d->key);
	d->has_auth_key = k->has_ak;
	memcpy(d->auth_key, k->ak, sizeof d->auth_key);
}

/* hm_json_members into a buffer of exactly cap bytes (heap, so ASan catches
 * a write or read past it); the text is copied to out when out is given. */
static inline int fuzz_json_exact(const struct hm_reading *r, size_t cap, char *out)
{
	char *b = malloc(cap ? cap : 1);
	FUZZ_CHECK(b);
	int n = hm_json_members(r, b, cap);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n < cap);
		FUZZ_CHECK(b[n] == '\0');
		FUZZ_CHECK(strlen(b) == (size_t)n);
		if (out)
			memcpy(out, b, (size_t)n + 1);
	}
	free(b);
	return n;
}

/* Big enough for any reading: HM_JSON_MAX is what the daemon uses, but a
 * hostile scaler (int8, up to 10^127) may legitimately exceed it. */
#define FUZZ_JSON_BIG (1u << 20)
static char fuzz_json_buf[FUZZ_JSON_BIG], fuzz_json_buf2[FUZZ_JSON_BIG];

static inline void fuzz_check_reading(const struct hm_reading *r)
{
	FUZZ_CHECK(r->profile != NULL);
	FUZZ_CHECK(r->n_extra <= HM_EXTRA_MAX);
	for (int f = 0; f < HM_TEXT_COUNT; f++) {
		if (!hm_reading_has_text(r, (enum hm_text_field)f))
			continue;
		char buf[HM_TEXT_MAX];
		const char *t = hm_reading_text(r, (enum hm_text_field)f, buf); /* a clock formats */
		FUZZ_CHECK(t != NULL);
		const char *nul = memchr(t, 0, HM_TEXT_MAX);
		FUZZ_CHECK(nul != NULL);
		for (const char *c = t; c < nul; c++)
			FUZZ_CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c != 0x7F);
	}
	for (unsigned i = 0; i < r->n_extra; i++)
		if (r->extra[i].is_text)
			FUZZ_CHECK(memchr(r->extra[i].text, 0, HM_TEXT_MAX) != NULL);

	/* JSON: valid, and the cap is honoured exactly (len + 1 fits, len does not). */
	int n = hm_json_members(r, fuzz_json_buf, FUZZ_JSON_BIG);
	FUZZ_CHECK(n >= 0);
	if (!fuzz_json_members_valid(fuzz_json_buf, (size_t)n))
		fprintf(stderr, "invalid JSON: {%.4000s}\n", fuzz_json_buf);
	FUZZ_CHECK(fuzz_json_members_valid(fuzz_json_buf, (size_t)n));
	FUZZ_CHECK(fuzz_json_exact(r, (size_t)n + 1, fuzz_json_buf2) == n);
	FUZZ_CHECK(memcmp(fuzz_json_buf, fuzz_json_buf2, (size_t)n) == 0);
	FUZZ_CHECK(fuzz_json_exact(r, (size_t)n, NULL) == -1);
}

/* One message through d.  Returns what hm_decode returned. */
static inline enum hm_err fuzz_decode(struct hm_decoder *d, const uint8_t *msg, size_t len, struct hm_reading *r)
{
	uint64_t decoded = d->decoded, errors[HM_ERR_COUNT];
	memcpy(errors, d->errors, sizeof errors);

	enum hm_err rc = hm_decode(d, msg, len, r);
	FUZZ_CHECK((unsigned)rc < HM_ERR_COUNT);
	if (rc == HM_ERR_OK) {
		FUZZ_CHECK(d->decoded == decoded + 1);
		FUZZ_CHECK(memcmp(errors, d->errors, sizeof errors) == 0);
		fuzz_check_reading(r);
	} else {
		FUZZ_CHECK(d->decoded == decoded);
		for (int e = 0; e < HM_ERR_COUNT; e++)
			FUZZ_CHECK(d->errors[e] == errors[e] + (e == (int)rc));
	}
	return rc;
}

#endif
