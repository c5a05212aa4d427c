/*
 * print.c - hanmeter's output forms.
 *
 *  -x  every frame (and bare APDU) as one hex line, preceded by a comment
 *      with the header fields and the HCS/FCS verdict; the output is itself
 *      a hex capture that hanmeter reads back.  An M-Bus message shows its
 *      reassembled APDU, a P1 telegram its text, a KMP frame its registers.
 *  -p  the data-notification: header, then the A-XDR body as an indented
 *      tree, tags named (DLMS Green Book Data CHOICE), OBIS codes written
 *      A-B:C.D.E*F (IEC 62056-6-1), {scaler, unit} pairs with the unit's
 *      symbol (IEC 62056-62 unit table).
 *  -f  the reading, "name = value unit", one per line.
 *  --json  one object per reading: "line", "profile", then the members of
 *      hm_json_members(); one {"error": ...} object per rejected frame or
 *      message.
 * Diagnostics (rejections without --json) go to stderr, named by input.
 */
#include <inttypes.h>
#include <string.h>

#include "hanmeter/json.h"

#include "tool.h"

/* --- -x ---------------------------------------------------------------- */

static void hex_out(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		putchar(digits[p[i] >> 4]);
		putchar(digits[p[i] & 15]);
	}
	putchar('\n');
}

static void where(const struct hm_tool *t)
{
	if (t->line)
		printf("# line %u: ", t->line);
	else
		printf("# ");
}

/* Hex digits for an HDLC address of 1, 2 or 4 bytes (IEC 62056-46), as sent. */
static int addr_digits(uint32_t a)
{
	return a > 0xFFFF ? 8 : a > 0xFF ? 4 : 2;
}

void hm_print_frame(struct hm_tool *t, const struct hm_frame *f)
{
	where(t);
	if (f->err == HM_ERR_OK)
		printf("frame");
	else
		printf("REJECTED %s:", hm_err_name(f->err));
	printf(" %zu bytes, format %04x (length %u%s), dst %0*" PRIx32 " src %0*" PRIx32
	       " control %02x, hcs %s, fcs %s",
	       f->raw_len, f->format, f->declared_len, (f->format & 0x0800) ? ", segmented" : "", addr_digits(f->dst),
	       f->dst, addr_digits(f->src), f->src, f->control, f->hcs_ok ? "ok" : "BAD", f->fcs_ok ? "ok" : "BAD");
	if (f->err == HM_ERR_OK && f->segments > 1)
		printf(", message of %u segments (last frame shown)", f->segments);
	putchar('\n');
	if (f->raw && f->raw_len)
		hex_out(f->raw, f->raw_len);
}

void hm_print_mbus(struct hm_tool *t, const struct hm_mbus_msg *m)
{
	where(t);
	if (m->err != HM_ERR_OK) {
		printf("REJECTED %s: m-bus frame or message\n", hm_err_name(m->err));
		return;
	}
	/* The frames' checksums held; what follows is the reassembled APDU. */
	printf("m-bus message, address %02x, %u segment%s, checksums ok, apdu %zu bytes\n", m->a, m->segments,
	       m->segments == 1 ? "" : "s", m->len);
	hex_out(m->data, m->len);
}

void hm_print_p1(struct hm_tool *t, const struct hm_p1_msg *m)
{
	where(t);
	if (m->err != HM_ERR_OK) {
		printf("REJECTED %s: p1 telegram\n", hm_err_name(m->err));
		return;
	}
	/* A telegram is text: shown as sent (CR LF line ends), not as hex. */
	printf("p1 telegram, %zu bytes, crc %s\n", m->len, m->has_crc ? "ok" : "absent (DSMR 2.2/3.0)");
	fwrite(m->data, 1, m->len, stdout);
	if (m->len && m->data[m->len - 1] != '\n')
		putchar('\n');
}

void hm_print_kmp(struct hm_tool *t, const uint8_t *raw, size_t n, enum hm_err err, const struct hm_kmp_frame *f)
{
	struct hm_kmp_register regs[HM_KMP_REGS_MAX];
	size_t nregs = 0;
	uint32_t serial;
	char v[48];

	where(t);
	if (!f) {
		printf("REJECTED %s: kmp frame, %zu bytes\n", hm_err_name(err), n);
		hex_out(raw, n);
		return;
	}
	bool response = f->start == HM_KMP_START_FROM_METER;
	printf("kmp %s, %zu bytes, address %02x, cid %02x, %zu data bytes, crc ok\n", response ? "response" : "request",
	       n, f->addr, f->cid, f->data_len);
	/* What the frame says, register by register: the values a reading
	 * may not carry (registers without a field, the serial number). */
	if (response && f->cid == HM_KMP_CID_GET_REGISTER &&
	    hm_kmp_parse_registers(f, regs, HM_KMP_REGS_MAX, &nregs) == HM_ERR_OK) {
		for (size_t i = 0; i < nregs; i++) {
			const char *unit = hm_kmp_unit_name(regs[i].unit);
			if (hm_num_format(regs[i].value, v, sizeof v) < 0)
				snprintf(v, sizeof v, "%" PRId64 "e%d", regs[i].value.m, regs[i].value.e);
			printf("#   register 0x%04x = %s %s (unit code 0x%02x)\n", regs[i].id, v, unit ? unit : "?",
			       regs[i].unit);
		}
	} else if (response && f->cid == HM_KMP_CID_GET_SERIAL && hm_kmp_parse_serial(f, &serial) == HM_ERR_OK) {
		printf("#   serial number %" PRIu32 "\n", serial);
	}
	hex_out(raw, n);
}

void hm_print_apdu_hex(struct hm_tool *t, const uint8_t *p, size_t n)
{
	where(t);
	printf("apdu %zu bytes (no HDLC, nothing to check)\n", n);
	hex_out(p, n);
}

/* --- -p ---------------------------------------------------------------- */

/* IEC 62056-62 (DLMS Blue Book) unit codes, the ones meters send. */
static const char *unit_symbol(int64_t u)
{
	static const char *const sym[] = {
	    [1] = "a",     [2] = "mo",    [3] = "wk",        [4] = "d",         [5] = "h",        [6] = "min",
	    [7] = "s",     [8] = "deg",   [9] = "degC",      [10] = "currency", [11] = "m",       [12] = "m/s",
	    [13] = "m3",   [14] = "m3",   [15] = "m3/h",     [16] = "m3/h",     [17] = "m3/d",    [18] = "m3/d",
	    [19] = "l",    [20] = "kg",   [21] = "N",        [22] = "Nm",       [23] = "Pa",      [24] = "bar",
	    [25] = "J",    [26] = "J/h",  [27] = "W",        [28] = "VA",       [29] = "var",     [30] = "Wh",
	    [31] = "VAh",  [32] = "varh", [33] = "A",        [34] = "C",        [35] = "V",       [36] = "V/m",
	    [37] = "F",    [38] = "Ohm",  [39] = "Ohm m2/m", [40] = "Wb",       [41] = "T",       [42] = "A/m",
	    [43] = "H",    [44] = "Hz",   [45] = "1/(Wh)",   [46] = "1/(varh)", [47] = "1/(VAh)", [48] = "V2h",
	    [49] = "A2h",  [50] = "kg/s", [51] = "S",        [52] = "K",        [53] = "1/(V2h)", [54] = "1/(A2h)",
	    [55] = "1/m3", [56] = "%",    [57] = "Ah",       [255] = "count",
	};
	if (u == 254)
		return "other";
	return u >= 0 && u < (int64_t)(sizeof sym / sizeof sym[0]) && sym[u] ? sym[u] : NULL;
}

static bool printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7E)
			return false;
	return n > 0;
}

static void print_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* Big-endian IEEE 754 (A-XDR float32/float64), assembled byte by byte. */
static double be_float(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4) {
		uint32_t w = (uint32_t)v;
		float f;
		memcpy(&f, &w, sizeof f);
		return f;
	}
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

static void print_item(const struct hm_axdr_item *it, bool scaler_unit)
{
	char buf[48];
	printf("%s", hm_axdr_tag_name(it->tag));
	switch (it->tag) {
	case HM_AXDR_NULL: break;
	case HM_AXDR_ARRAY:
	case HM_AXDR_STRUCTURE: printf("[%u]", it->len); break;
	case HM_AXDR_OCTET_STRING:
		printf("[%u] ", it->len);
		if (it->len == 6) /* a logical name: OBIS A-B:C.D.E*F */
			printf("%u-%u:%u.%u.%u*%u", it->data[0], it->data[1], it->data[2], it->data[3], it->data[4],
			       it->data[5]);
		else if (printable(it->data, it->len))
			printf("\"%.*s\"", (int)it->len, (const char *)it->data);
		else
			print_bytes(it->data, it->len);
		if (it->len == 12 && hm_dlms_datetime_format(it->data, buf, sizeof buf) > 0)
			printf(" (%s)", buf); /* a COSEM date-time carried as octet-string */
		break;
	case HM_AXDR_VISIBLE_STRING:
	case HM_AXDR_UTF8_STRING:
		printf("[%u] ", it->len);
		if (printable(it->data, it->len))
			printf("\"%.*s\"", (int)it->len, (const char *)it->data);
		else
			print_bytes(it->data, it->len);
		break;
	case HM_AXDR_DATE_TIME:
		printf(" ");
		print_bytes(it->data, it->len);
		if (it->len == 12 && hm_dlms_datetime_format(it->data, buf, sizeof buf) > 0)
			printf(" (%s)", buf);
		break;
	case HM_AXDR_BIT_STRING:
	case HM_AXDR_BCD:
	case HM_AXDR_DATE:
	case HM_AXDR_TIME:
		printf(" ");
		print_bytes(it->data, it->len);
		break;
	case HM_AXDR_FLOAT32:
	case HM_AXDR_FLOAT64: printf(" %.9g", it->data ? be_float(it->data, it->len) : 0.0); break;
	default:
		printf(" %" PRId64, it->ival);
		if (scaler_unit && it->tag == HM_AXDR_ENUM && unit_symbol(it->ival))
			printf(" (%s)", unit_symbol(it->ival));
		else if (scaler_unit && it->tag == HM_AXDR_INT8)
			printf(" (scaler 10^%" PRId64 ")", it->ival);
		break;
	}
	putchar('\n');
}

void hm_print_tree(struct hm_tool *t, const struct hm_apdu *a)
{
	char when[48];
	const struct hm_axdr *ax = &a->ax;

	where(t);
	printf("data-notification, invoke-id %08" PRIx32, a->invoke_id);
	if (a->has_time && hm_dlms_datetime_format(a->time, when, sizeof when) > 0)
		printf(", date-time %s", when);
	else if (a->has_time)
		printf(", date-time (not a valid date)");
	printf(", body %zu bytes, %u items\n", a->body_len, ax->n);
	for (unsigned i = 0; i < ax->n; i++) {
		const struct hm_axdr_item *it = &ax->item[i];
		/* {scaler int8, unit enum}: a structure of 2 holding exactly that
		 * (COSEM register attribute 3, scaler_unit). */
		bool su = false;
		for (unsigned j = i; j-- > 0;) {
			const struct hm_axdr_item *up = &ax->item[j];
			if (up->depth + 1 == it->depth) {
				su = up->tag == HM_AXDR_STRUCTURE && up->len == 2 && j + 2 < ax->n &&
				     ax->item[j + 1].tag == HM_AXDR_INT8 && ax->item[j + 2].tag == HM_AXDR_ENUM;
				break;
			}
		}
		printf("%*s", 2 * (int)it->depth + 2, "");
		print_item(it, su);
	}
}

/* --- -f ---------------------------------------------------------------- */

static void print_obis(const uint8_t o[6])
{
	printf("%u-%u:%u.%u.%u*%u", o[0], o[1], o[2], o[3], o[4], o[5]);
}

static void print_fields(struct hm_tool *t, const struct hm_reading *r)
{
	char v[48];

	where(t);
	printf("reading %" PRIu64 ", profile %s, %u values\n", t->readings, r->profile ? r->profile : "?", r->items);
	for (int i = 0; i < HM_TEXT_COUNT; i++) {
		char buf[HM_TEXT_MAX];
		const char *s = hm_reading_text(r, (enum hm_text_field)i, buf);
		if (s)
			printf("%s = %s\n", hm_text_name[i], s);
	}
	for (int i = 0; i < HM_NUM_COUNT; i++) {
		if (!hm_reading_has_num(r, (enum hm_num_field)i) || hm_num_format(r->num[i], v, sizeof v) < 0)
			continue;
		printf("%s = %s%s%s\n", hm_num_info[i].name, v, *hm_num_info[i].unit ? " " : "", hm_num_info[i].unit);
	}
	for (unsigned i = 0; i < r->n_extra && i < HM_EXTRA_MAX; i++) {
		const struct hm_extra *x = &r->extra[i];
		printf("obis ");
		print_obis(x->obis);
		if (x->is_text) {
			printf(" = %s\n", x->text);
		} else if (hm_num_format(x->num, v, sizeof v) >= 0) {
			const char *u = unit_symbol(x->unit);
			printf(" = %s%s%s\n", v, u ? " " : "", u ? u : "");
		}
	}
	if (r->extra_dropped)
		printf("# %u more values without a name did not fit (HM_EXTRA_MAX %d)\n", r->extra_dropped,
		       HM_EXTRA_MAX);
	putchar('\n');
}

/* --- --json ------------------------------------------------------------ */

/* Does the member list already carry "profile"?  A member name can only
 * start the list or follow a comma; inside a string a quote is escaped. */
static bool has_member(const char *members, const char *quoted)
{
	size_t n = strlen(quoted);
	if (strncmp(members, quoted, n) == 0)
		return true;
	for (const char *p = members; (p = strstr(p, quoted)); p++)
		if (p > members && p[-1] == ',')
			return true;
	return false;
}

static void print_json(struct hm_tool *t, const struct hm_reading *r)
{
	char *m = t->json_buf;
	int n = hm_json_members(r, m, sizeof t->json_buf);

	if (n < 0) {
		fprintf(stderr, "hanmeter: %s: reading too large for JSON (%zu bytes)\n", t->input, sizeof t->json_buf);
		printf("{\"error\":\"oversize\"");
		if (t->line)
			printf(",\"line\":%u", t->line);
		printf("}\n");
		return;
	}
	putchar('{');
	if (t->line)
		printf("\"line\":%u,", t->line);
	if (r->profile && !has_member(m, "\"profile\":"))
		printf("\"profile\":\"%s\",", r->profile); /* a static identifier: no escaping needed */
	fputs(n > 0 ? m : "\"empty\":true", stdout);
	puts("}");
}

void hm_print_reading(struct hm_tool *t, const struct hm_reading *r)
{
	if (t->show_fields)
		print_fields(t, r);
	if (t->json)
		print_json(t, r);
	if (t->live)
		fflush(stdout);
}

/* --- errors ------------------------------------------------------------ */

/* The errors of a ciphered message, where its system title helps. */
static bool cipher_error(enum hm_err err)
{
	return err == HM_ERR_NO_KEY || err == HM_ERR_AUTH_FAILED || err == HM_ERR_DECRYPT_FAILED;
}

void hm_print_error(struct hm_tool *t, enum hm_err err, const char *stage, const struct hm_frame *f)
{
	if (t->json) {
		printf("{\"error\":\"%s\"", hm_err_name(err));
		if (t->line)
			printf(",\"line\":%u", t->line);
		printf(",\"stage\":\"%s\"", stage);
		if (cipher_error(err) && t->dec.has_system_title) {
			printf(",\"system_title\":\"");
			print_bytes(t->dec.system_title, sizeof t->dec.system_title);
			putchar('"');
		}
		if (f)
			printf(",\"bytes\":%zu,\"declared_length\":%u,\"hcs_ok\":%s,\"fcs_ok\":%s", f->raw_len,
			       f->declared_len, f->hcs_ok ? "true" : "false", f->fcs_ok ? "true" : "false");
		printf(",\"text\":\"%s\"}\n", hm_err_text(err));
		if (t->live)
			fflush(stdout);
		return;
	}
	fprintf(stderr, "hanmeter: %s", t->input);
	if (t->line)
		fprintf(stderr, ":%u", t->line);
	if (f) {
		fprintf(stderr, ": frame rejected (%zu bytes, length field %u): %s (%s)\n", f->raw_len, f->declared_len,
		        hm_err_name(err), hm_err_text(err));
		return;
	}
	fprintf(stderr, ": %s: no reading: %s (%s)", stage, hm_err_name(err), hm_err_text(err));
	if (cipher_error(err) && t->dec.has_system_title) {
		fputs("; system title ", stderr);
		for (size_t i = 0; i < sizeof t->dec.system_title; i++)
			fprintf(stderr, "%02x", t->dec.system_title[i]);
	}
	fputc('\n', stderr);
}

/* --- --stats ----------------------------------------------------------- */

static void error_counts(const char *label, const uint64_t *errors)
{
	bool json = label == NULL;
	bool first = true;
	for (int i = 1; i < HM_ERR_COUNT; i++) {
		if (!errors[i])
			continue;
		if (json)
			printf("%s\"%s\":%" PRIu64, first ? "" : ",", hm_err_name((enum hm_err)i), errors[i]);
		else
			printf("%s %s %" PRIu64, first ? label : ",", hm_err_name((enum hm_err)i), errors[i]);
		first = false;
	}
	if (!json && first)
		printf("%s none", label);
	if (!json)
		putchar('\n');
}

void hm_print_stats(struct hm_tool *t)
{
	const struct hm_hdlc_stats *h = &t->hdlc.stats;
	const struct hm_mbus_stats *mb = &t->mbus.stats;
	const struct hm_p1_stats *p1 = &t->p1.stats;
	if (t->json) {
		printf("{\"stats\":{\"units\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"garbage_bytes\":%" PRIu64
		       ",\"frames\":%" PRIu64 ",\"apdus\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"readings\":%" PRIu64
		       ",\"bad_lines\":%" PRIu64 ",\"hdlc_errors\":{",
		       t->units, h->bytes, h->garbage_bytes, h->frames, t->apdus, t->messages, t->readings,
		       t->bad_lines);
		error_counts(NULL, h->errors);
		printf("},\"mbus_frames\":%" PRIu64 ",\"mbus_errors\":{", mb->frames);
		error_counts(NULL, mb->errors);
		printf("},\"p1_telegrams\":%" PRIu64 ",\"p1_errors\":{", p1->telegrams);
		error_counts(NULL, p1->errors);
		printf("},\"decode_errors\":{");
		error_counts(NULL, t->dec.errors);
		printf("}}}\n");
		return;
	}
	printf("# statistics for %s\n", t->input);
	printf("units read        %" PRIu64 "%s\n", t->units, t->hex ? " (hex data lines)" : " (read() calls)");
	printf("bad hex lines     %" PRIu64 "\n", t->bad_lines);
	printf("bytes framed      %" PRIu64 "\n", h->bytes);
	printf("garbage bytes     %" PRIu64 "\n", h->garbage_bytes);
	printf("good frames       %" PRIu64 "\n", h->frames);
	printf("bare apdus        %" PRIu64 "\n", t->apdus);
	printf("messages          %" PRIu64 "\n", t->messages);
	printf("readings          %" PRIu64 "\n", t->readings);
	error_counts("hdlc errors      ", h->errors);
	if (mb->bytes) {
		printf("m-bus frames      %" PRIu64 " (%" PRIu64 " garbage bytes)\n", mb->frames, mb->garbage_bytes);
		error_counts("m-bus errors     ", mb->errors);
	}
	if (p1->bytes) {
		printf("p1 telegrams      %" PRIu64 " (%" PRIu64 " garbage bytes)\n", p1->telegrams, p1->garbage_bytes);
		error_counts("p1 errors        ", p1->errors);
	}
	error_counts("decode errors    ", t->dec.errors);
}
