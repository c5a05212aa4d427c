/*
 * fuzz_apdu.c - libFuzzer entry: one message (LLC + APDU, or a bare APDU, as
 * an HDLC information field or an MQTT payload delivers it) through
 * hm_dlms_parse() and hm_decode().
 *
 * Input: byte 0 names the DLMS key (fuzz_decode.h), the rest is the message.
 *
 * Invariants checked, beyond "no crash":
 *  - hm_dlms_parse: on success the body lies inside the input and its
 *    flattened items obey the A-XDR bounds (depth, count, data in the body);
 *    the header date-time formats as YYYY-MM-DDThh:mm:ss[+hh:mm] or not at all;
 *  - hm_decode: counters move by exactly one, the reading is well-formed
 *    and renders as valid JSON (fuzz_decode.h);
 *  - a reading found by auto-detection is the same reading (same JSON) when
 *    the profile that matched is forced instead;
 *  - a profile that read its list straight from the bytes was given a
 *    well-formed body: the general A-XDR reader agrees (only its own item
 *    limit, HM_AXDR_ITEMS_MAX, may stop it where the profile went on).
 *
 * needs: src/core/dlms.c src/core/decode.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/dlms.h"
#include "hanmeter/profile.h"

#include "fuzz_decode.h"

static struct hm_apdu apdu;
static struct hm_decoder dec;
static struct hm_reading reading;
static char first_json[FUZZ_JSON_BIG];

/* YYYY-MM-DDThh:mm:ss, then nothing or +hh:mm / -hh:mm. */
static void check_datetime_text(const char *t, int n)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	if (n != 19 && n != 25 && fuzz_tolerate("datetime-year"))
		return;
	FUZZ_CHECK(n == 19 || n == 25);
	FUZZ_CHECK((int)strlen(t) == n);
	for (int i = 0; i < 19; i++)
		FUZZ_CHECK(pat[i] == 'd' ? (t[i] >= '0' && t[i] <= '9') : t[i] == pat[i]);
	if (n == 25)
		FUZZ_CHECK((t[19] == '+' || t[19] == '-') && t[22] == ':');
}

static void check_items(const struct hm_axdr *ax, const uint8_t *lo, const uint8_t *hi)
{
	FUZZ_CHECK(ax->n <= HM_AXDR_ITEMS_MAX);
	for (unsigned i = 0; i < ax->n; i++) {
		const struct hm_axdr_item *it = &ax->item[i];
		FUZZ_CHECK(it->depth <= HM_AXDR_DEPTH_MAX); /* elements of the deepest container */
		FUZZ_CHECK(i == 0 ? it->depth == 0 : it->depth <= ax->item[i - 1].depth + 1);
		if (it->data)
			FUZZ_CHECK(it->data >= lo && it->data + it->len <= hi);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > HM_MSG_MAX)
		return 0;
	uint8_t key_sel = data[0];
	const uint8_t *msg = data + 1;
	size_t len = size - 1;

	enum hm_err rc = hm_dlms_parse(&apdu, msg, len);
	FUZZ_CHECK((unsigned)rc < HM_ERR_COUNT);
	if (rc == HM_ERR_OK) {
		FUZZ_CHECK(apdu.body >= msg && apdu.body + apdu.body_len <= msg + len);
		check_items(&apdu.ax, apdu.body, apdu.body + apdu.body_len);
		if (apdu.has_time) {
			char t[64];
			int n = hm_dlms_datetime_format(apdu.time, t, sizeof t);
			if (n >= 0)
				check_datetime_text(t, n);
		}
	}

	fuzz_decoder_setup(&dec, key_sel);
	rc = fuzz_decode(&dec, msg, len, &reading);
	if (rc != HM_ERR_OK)
		return 0;

	/* Forcing the profile that matched must give the same reading.  (A
	 * reading from a P1 telegram, bare or deciphered, names no DLMS profile.) */
	const struct hm_profile *p = hm_profile_find(reading.profile);
	if (!p)
		return 0;
	enum hm_err body = hm_dlms_items(&dec.apdu);
	FUZZ_CHECK(body == HM_ERR_OK || body == HM_ERR_OVERSIZE);
	int n = hm_json_members(&reading, first_json, sizeof first_json);
	FUZZ_CHECK(n >= 0);
	fuzz_decoder_setup(&dec, key_sel);
	dec.force = p;
	FUZZ_CHECK(fuzz_decode(&dec, msg, len, &reading) == HM_ERR_OK);
	FUZZ_CHECK(hm_json_members(&reading, fuzz_json_buf, sizeof fuzz_json_buf) == n);
	FUZZ_CHECK(memcmp(first_json, fuzz_json_buf, (size_t)n) == 0);
	return 0;
}
