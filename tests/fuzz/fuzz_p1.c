/*
 * fuzz_p1.c - libFuzzer entry: a byte stream through the P1/DSMR telegram
 * framer (DSMR 5.0.2), every telegram through hm_p1_parse() and JSON, and
 * the input itself through hm_p1_check() / hm_p1_parse() as one telegram.
 *
 * Input: byte 0 picks the largest chunk (1..256), byte 1 seeds the chunk
 * lengths; the rest is the stream.
 *
 * Invariants checked, beyond "no crash":
 *  - a telegram accepted with a CRC carries the right one: CRC-16/ARC over
 *    '/' through the first '!' that starts a line, recomputed here bit by
 *    bit, equals the hex digits after it;
 *  - hm_p1_parse answers exactly what hm_p1_check answers, and a rejected
 *    telegram leaves the reading empty (no values from a bad telegram);
 *  - the stream fed whole and in chunks gives the same events and stats
 *    (fuzz_stream.h);
 *    stats count what was fed and reported;
 *  - readings are well-formed and render as valid JSON (fuzz_decode.h).
 *
 * needs: src/core/p1.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/p1.h"

#include "fuzz_decode.h"
#include "fuzz_stream.h"

static struct hm_p1 framer;
static struct hm_reading reading;

/* CRC-16/ARC bit by bit: reflected polynomial 0xA001, init 0, no final XOR. */
static uint16_t crc_arc(const uint8_t *p, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
	}
	return crc;
}

static bool reading_empty(const struct hm_reading *r)
{
	for (size_t i = 0; i < sizeof r->num_set / sizeof r->num_set[0]; i++)
		if (r->num_set[i])
			return false;
	return r->text_set == 0 && r->n_extra == 0;
}

/* A telegram hm_p1_check() accepted: if it has a CRC, the CRC is right. */
static void check_crc(const char *t, size_t len, bool has_crc)
{
	FUZZ_CHECK(len >= 2 && t[0] == '/');
	const char *bang = NULL;
	for (size_t i = 1; i < len && !bang; i++)
		if (t[i] == '!' && t[i - 1] == '\n')
			bang = t + i;
	FUZZ_CHECK(bang != NULL);
	size_t data_len = (size_t)(bang - t) + 1;
	unsigned v = 0, digits = 0;
	for (const char *c = bang + 1; c < t + len && digits <= 4; c++, digits++) {
		if (*c >= '0' && *c <= '9')
			v = v << 4 | (unsigned)(*c - '0');
		else if (*c >= 'A' && *c <= 'F')
			v = v << 4 | (unsigned)(*c - 'A' + 10);
		else
			break;
	}
	FUZZ_CHECK(has_crc == (digits > 0));
	if (has_crc) {
		FUZZ_CHECK(digits <= 4);
		FUZZ_CHECK(v == crc_arc((const uint8_t *)t, data_len));
	}
}

static void check_telegram(const char *t, size_t len)
{
	bool has_crc = false;
	enum hm_err rc = hm_p1_check(t, len, &has_crc);
	FUZZ_CHECK((unsigned)rc < HM_ERR_COUNT);
	if (rc == HM_ERR_OK)
		check_crc(t, len, has_crc);
	memset(&reading, 0xA5, sizeof reading); /* parse must clear it first */
	enum hm_err prc = hm_p1_parse(t, len, &reading);
	FUZZ_CHECK(prc == rc);
	if (prc == HM_ERR_OK)
		fuzz_check_reading(&reading);
	else
		FUZZ_CHECK(reading_empty(&reading));
}

static void on_msg(void *ctx, const struct hm_p1_msg *m)
{
	struct fuzz_run *r = ctx;
	if (m->err == HM_ERR_OK) {
		FUZZ_CHECK(m->data != NULL && m->len <= HM_P1_MAX);
		if (r->whole) {
			bool has_crc = false;
			FUZZ_CHECK(hm_p1_check(m->data, m->len, &has_crc) == HM_ERR_OK);
			FUZZ_CHECK(has_crc == m->has_crc);
			check_telegram(m->data, m->len);
		}
	}
	fuzz_run_record(r, m->err, m->err == HM_ERR_OK && m->has_crc, m->data, m->len);
}

static void check_stats(const struct fuzz_run *r, size_t fed)
{
	const struct hm_p1_stats *s = &framer.stats;
	fuzz_run_check_counts(r, fed, s->bytes, s->telegrams, s->garbage_bytes, s->errors);
}

FUZZ_FRAMER(p1, framer, on_msg, check_stats);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size - 2 > FUZZ_STREAM_MAX)
		return 0;
	check_telegram((const char *)data + 2, size - 2);
	fuzz_stream_check(&p1_framer, data[0], data[1], data + 2, size - 2);
	return 0;
}
