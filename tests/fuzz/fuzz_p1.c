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
 *  - the stream fed whole and in chunks gives the same events and stats;
 *    stats count what was fed and reported;
 *  - readings are well-formed and render as valid JSON (fuzz_decode.h).
 *
 * needs: src/core/p1.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/p1.h"

#include "fuzz_decode.h"

#define STREAM_MAX 65536
#define EVENTS_MAX (STREAM_MAX + 2)

struct event {
	uint8_t err;
	uint8_t has_crc;
	uint16_t zero; /* no padding: events are compared with memcmp */
	uint32_t len;
	uint64_t hash;
};

struct run {
	struct event ev[EVENTS_MAX];
	size_t n;
	unsigned good;
	uint64_t rejected[HM_ERR_COUNT];
	bool parse;
};

static struct run runs[2];
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
	struct run *r = ctx;
	FUZZ_CHECK((unsigned)m->err < HM_ERR_COUNT);
	if (m->err == HM_ERR_OK) {
		FUZZ_CHECK(m->data != NULL && m->len <= HM_P1_MAX);
		r->good++;
		if (r->parse) {
			bool has_crc = false;
			FUZZ_CHECK(hm_p1_check(m->data, m->len, &has_crc) == HM_ERR_OK);
			FUZZ_CHECK(has_crc == m->has_crc);
			check_telegram(m->data, m->len);
		}
	} else {
		FUZZ_CHECK(m->data == NULL);
		r->rejected[m->err]++;
	}
	FUZZ_CHECK(r->n < EVENTS_MAX);
	r->ev[r->n++] = (struct event){
	    .err = (uint8_t)m->err,
	    .has_crc = m->err == HM_ERR_OK && m->has_crc,
	    .len = (uint32_t)m->len,
	    .hash = m->err == HM_ERR_OK ? fuzz_hash((const uint8_t *)m->data, m->len) : 0,
	};
}

static void check_stats(const struct run *r, size_t fed)
{
	const struct hm_p1_stats *s = &framer.stats;
	FUZZ_CHECK(s->bytes == fed);
	FUZZ_CHECK(s->telegrams == r->good);
	FUZZ_CHECK(s->garbage_bytes <= fed);
	FUZZ_CHECK(s->errors[HM_ERR_OK] == 0);
	for (int e = 1; e < HM_ERR_COUNT; e++)
		FUZZ_CHECK(s->errors[e] >= r->rejected[e]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size - 2 > STREAM_MAX)
		return 0;
	size_t max_chunk = (size_t)data[0] + 1;
	uint32_t seed = data[1] * 2654435761u | 1;
	const uint8_t *s = data + 2;
	size_t n = size - 2;

	check_telegram((const char *)s, n);

	memset(&runs[0].n, 0, sizeof runs[0] - offsetof(struct run, n));
	runs[0].parse = true;
	hm_p1_init(&framer);
	hm_p1_feed(&framer, s, n, on_msg, &runs[0]);
	hm_p1_flush(&framer, on_msg, &runs[0]);
	check_stats(&runs[0], n);
	struct hm_p1_stats whole = framer.stats;

	memset(&runs[1].n, 0, sizeof runs[1] - offsetof(struct run, n));
	hm_p1_init(&framer);
	for (size_t off = 0; off < n;) {
		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		size_t c = 1 + seed % max_chunk;
		if (c > n - off)
			c = n - off;
		hm_p1_feed(&framer, s + off, c, on_msg, &runs[1]);
		off += c;
	}
	hm_p1_flush(&framer, on_msg, &runs[1]);
	check_stats(&runs[1], n);

	FUZZ_CHECK(runs[1].n == runs[0].n);
	FUZZ_CHECK(memcmp(runs[1].ev, runs[0].ev, runs[0].n * sizeof runs[0].ev[0]) == 0);
	FUZZ_CHECK(memcmp(&framer.stats, &whole, sizeof whole) == 0);
	return 0;
}
