/*
 * meter.c - one meter's path: source bytes -> framer (HDLC, M-Bus, P1 or
 * bare ciphered APDUs) -> general-block-transfer reassembly -> decoder
 * (AES-GCM when the meter ciphers) -> scale -> every sink; and the source's
 * life: online, failed (back-off timer, capped exponential with jitter),
 * ended.
 *
 * protocol = auto feeds the bytes to all four framers until one of them
 * yields a good (checksummed) message, then keeps only that one and says so
 * in the log.  Their starts cannot be confused: an HDLC frame needs 7E and
 * a header whose CRC-16 checks, an M-Bus frame 68 L L 68 and an 8-bit sum
 * plus the stop byte, a P1 telegram '/' .. '!' and (DSMR 4+) a CRC-16.
 * Luxembourg's Smarty sends bare general-glo-ciphering APDUs (apdustream.h)
 * whose only proof is the GCM tag, so its framer's candidates are judged by
 * decoding them; and since Danish and Austrian meters send the same APDUs
 * inside HDLC or M-Bus frames, while undecided it leaves alone an APDU that
 * completes while either of those framers holds a frame in progress.
 * While undecided, only the HDLC framer's rejections are counted and
 * logged as errors (HDLC is what most meters send, and a broken HDLC frame
 * is worth knowing about); the others' are counted in their own statistics
 * and logged at debug level, since binary HDLC bytes routinely look like
 * the start of a P1 telegram ('/') to the P1 framer.
 *
 * Nothing from a bad frame reaches a sink as a reading: a rejected frame or
 * a message that decodes to nothing is counted (stats.errors, and by reason
 * in the framer's and decoder's own counters) and logged, rate-limited,
 * with its reason.  Sinks that want every frame (raw publishing) get them
 * through their frame() callback, rejections included.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hanmeter/profile.h"

#include "daemon.h"
#include "log.h"
#include "state.h"

/* Rate limits: a meter sending garbage every 2 s must not fill the journal. */
#define REJECT_LOG_INTERVAL_S 60
#define REJECT_LOG_BURST      5
#define FAIL_LOG_INTERVAL_S   600
#define FAIL_LOG_BURST        10

/* DLMS unit codes (IEC 62056-62, Blue Book "unit" enumeration) of the
 * quantities a current transformer scales: W, VA, var, Wh, VAh, varh, A. */
static const uint8_t scaled_units[] = {27, 28, 29, 30, 31, 32, 33};

uint64_t hm_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *hm_meter_where(const struct hm_meter *m, char *buf, size_t len)
{
	const struct hm_meter_conf *mc = m->conf;
	if (mc->device[0])
		snprintf(buf, len, "serial %s", mc->device);
	else if (mc->tcp_host[0])
		snprintf(buf, len, strchr(mc->tcp_host, ':') ? "tcp [%s]:%u" : "tcp %s:%u", mc->tcp_host, mc->tcp_port);
	else if (mc->mqtt_topic[0])
		snprintf(buf, len, strchr(mc->mqtt_host, ':') ? "mqtt [%s]:%u %s" : "mqtt %s:%u %s", mc->mqtt_host,
		         mc->mqtt_port, mc->mqtt_topic);
	else
		snprintf(buf, len, "file %s", mc->file);
	return buf;
}

/* Multiplies v by the meter's scale; false if the product does not fit. */
static bool scale_num(struct hm_num *v, struct hm_num s)
{
	int64_t m;
	if (__builtin_mul_overflow(v->m, s.m, &m))
		return false;
	int e = v->e + s.e;
	while (m && m % 10 == 0 && e < 0) { /* keep mantissas short: 9.96 * 40 = 398.4, not 398.40 */
		m /= 10;
		e++;
	}
	if (e < INT16_MIN || e > INT16_MAX)
		return false;
	v->m = m;
	v->e = (int16_t)e;
	return true;
}

static bool scaled_unit(const char *unit)
{
	static const char *const units[] = {"W", "var", "VA", "A", "kWh", "kvarh", "Wh", "varh"};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(unit, units[i]) == 0)
			return true;
	return false;
}

/* Applies scale = to current, power and energy (never voltage or power
 * factor).  A field whose product overflows is dropped, not wrapped. */
static void apply_scale(struct hm_meter *m, struct hm_reading *r)
{
	struct hm_num s = m->conf->scale;
	if (s.m == 1 && s.e == 0)
		return;
	for (int f = 0; f < HM_NUM_COUNT; f++) {
		if (!hm_reading_has_num(r, f) || !scaled_unit(hm_num_info[f].unit))
			continue;
		if (!scale_num(&r->num[f], s)) {
			r->num_set[f / 64] &= ~((uint64_t)1 << (f % 64));
			hm_log_meter(LOG_WARNING, m->conf->name, "%s times scale does not fit: dropped",
			             hm_num_info[f].name);
		}
	}
	for (unsigned i = 0; i < r->n_extra; i++) {
		struct hm_extra *x = &r->extra[i];
		if (x->is_text || !memchr(scaled_units, x->unit, sizeof scaled_units))
			continue;
		if (!scale_num(&x->num, s)) { /* never a wrapped number: say so instead */
			x->is_text = true;
			snprintf(x->text, sizeof x->text, "overflow");
		}
	}
}

static void log_reject(struct hm_meter *m, enum hm_err err, const char *what)
{
	unsigned dropped;
	if (!hm_ratelimit_ok(&m->rl_reject, &dropped))
		return;
	if (dropped)
		hm_log_meter(LOG_WARNING, m->conf->name, "%u similar messages suppressed", dropped);
	switch (err) { /* the three key problems, said in the words a user acts on */
	case HM_ERR_NO_KEY:
		hm_log_meter(LOG_WARNING, m->conf->name, "%s rejected: frame is encrypted and no key is configured",
		             what);
		break;
	case HM_ERR_AUTH_FAILED:
		hm_log_meter(LOG_WARNING, m->conf->name, "%s rejected: authentication failed: check auth_key", what);
		break;
	case HM_ERR_DECRYPT_FAILED:
		hm_log_meter(LOG_WARNING, m->conf->name, "%s rejected: decryption produced no valid APDU: check key",
		             what);
		break;
	default:
		hm_log_meter(LOG_WARNING, m->conf->name, "%s rejected: %s (%s)", what, hm_err_name(err),
		             hm_err_text(err));
		break;
	}
}

const char *hm_protocol_name(enum hm_protocol p)
{
	static const char *const names[] = {[HM_PROTO_AUTO] = "auto",
	                                    [HM_PROTO_HDLC] = "hdlc",
	                                    [HM_PROTO_MBUS] = "mbus",
	                                    [HM_PROTO_P1] = "p1",
	                                    [HM_PROTO_DLMS] = "dlms"};
	return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

/* protocol = auto: the first framer with a good message wins (the DLMS
 * framer needs two, see on_dlms()). */
static void lock_protocol(struct hm_meter *m, enum hm_protocol p)
{
	if (m->proto != HM_PROTO_AUTO)
		return;
	m->proto = p;
	hm_log_meter(LOG_NOTICE, m->conf->name, "protocol %s detected (%s good message); the other framers stop",
	             hm_protocol_name(p), p == HM_PROTO_DLMS ? "the second" : "the first");
}

/* A framer's rejection: counted and logged if that framer is the one in
 * use (or HDLC while undecided, see the header comment); else debug only. */
static void framer_reject(struct hm_meter *m, enum hm_protocol p, enum hm_err err, const char *what)
{
	if (m->proto == p || (m->proto == HM_PROTO_AUTO && p == HM_PROTO_HDLC)) {
		m->stats.errors++;
		log_reject(m, err, what);
	} else if (m->d->debug) {
		hm_log_meter(LOG_DEBUG, m->conf->name, "while detecting the protocol: %s %s", what, hm_err_name(err));
	}
}

static void debug_hex(struct hm_meter *m, const struct hm_frame *f)
{
	char hex[2 * 256 + 4];
	size_t n = f->raw_len < 256 ? f->raw_len : 256;
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", f->raw[i]);
	if (n < f->raw_len)
		strcpy(hex + 2 * n, "...");
	hm_log_meter(LOG_DEBUG, m->conf->name, "frame %s, %zu bytes: %s", hm_err_name(f->err), f->raw_len, hex);
}

/* Derived figures (derived.h): an hourly list that changes them carries
 * them to the sinks (m->derived_json) and they are saved at once, so a
 * restart or a crash loses nothing that was published. */
static void derive(struct hm_meter *m)
{
	struct hm_derived *dv = &m->derived;
	const char *name = m->conf->name;
	char t[HM_TEXT_MAX];
	const char *when = hm_reading_text(&m->reading, HM_TEXT_METER_TIME, t);
	if (!when)
		when = "?";
	enum hm_derived_event ev;
	uint64_t gap_before = dv->gap_hours;
	unsigned dropped;

	m->derived_len = 0;
	if (!hm_derived_update(dv, &m->reading, &ev)) {
		if ((ev == HM_DERIVED_BAD_SAMPLE || ev == HM_DERIVED_STALE) && hm_ratelimit_ok(&m->rl_reject, &dropped))
			hm_log_meter(LOG_WARNING, name, "derived: %s list at %s ignored", hm_derived_event_name(ev),
			             when);
		return;
	}
	switch (ev) {
	case HM_DERIVED_BASELINE: hm_log_meter(LOG_INFO, name, "derived: first hourly list at %s", when); break;
	case HM_DERIVED_GAP:
		hm_log_meter(LOG_NOTICE, name,
		             "derived: %" PRIu64 " hours closed by the list at %s, energy spread over them",
		             dv->gap_hours - gap_before, when);
		break;
	case HM_DERIVED_BACKWARDS:
	case HM_DERIVED_IMPLAUSIBLE:
	case HM_DERIVED_METER_CHANGED:
	case HM_DERIVED_CLOCK_JUMP:
		hm_log_meter(LOG_WARNING, name, "derived: %s at %s: counting starts again from this list",
		             hm_derived_event_name(ev), when);
		break;
	default: break;
	}
	int n = hm_derived_json(dv, m->derived_json, sizeof m->derived_json);
	if (n > 0)
		m->derived_len = n;
	hm_state_save(m->d->conf->daemon.state_dir, name, dv); /* logs its own errors */
}

/* m->reading, just decoded: scale -> derived figures -> sinks. */
static void publish(struct hm_meter *m)
{
	struct hm_daemon *d = m->d;
	apply_scale(m, &m->reading);
	m->stats.readings++;
	derive(m);
	for (unsigned i = 0; i < d->n_sinks; i++)
		d->sink[i]->reading(d->sink_state[i], m, &m->reading);
	m->derived_len = 0;
}

/* A whole APDU (after block transfer): decoder -> publish. */
static void on_apdu(void *ctx, enum hm_err gerr, const uint8_t *msg, size_t len)
{
	struct hm_meter *m = ctx;

	if (gerr != HM_ERR_OK) {
		m->stats.errors++;
		log_reject(m, gerr, "block transfer");
		return;
	}
	enum hm_err err = hm_decode(&m->dec, msg, len, &m->reading);
	if (err != HM_ERR_OK) {
		m->stats.errors++;
		log_reject(m, err, "message");
		return;
	}
	publish(m);
}

/* A good message from any framer (or a bare APDU): counted, then GBT. */
static void message(struct hm_meter *m, const uint8_t *p, size_t n)
{
	m->stats.frames++;
	m->stats.last_frame_us = hm_now_us();
	hm_gbt_feed(&m->gbt, p, n, on_apdu, m);
}

/* The HDLC framer's callback: one message or one rejected candidate. */
static void on_frame(void *ctx, const struct hm_frame *f)
{
	struct hm_meter *m = ctx;
	struct hm_daemon *d = m->d;

	if (d->debug >= 2 && f->raw)
		debug_hex(m, f);
	for (unsigned i = 0; i < d->n_sinks; i++)
		if (d->sink[i]->frame)
			d->sink[i]->frame(d->sink_state[i], m, f);
	if (f->err != HM_ERR_OK) {
		framer_reject(m, HM_PROTO_HDLC, f->err, "frame");
		return;
	}
	lock_protocol(m, HM_PROTO_HDLC);
	message(m, f->info, f->info_len);
}

static void on_mbus(void *ctx, const struct hm_mbus_msg *mm)
{
	struct hm_meter *m = ctx;
	if (mm->err != HM_ERR_OK) {
		framer_reject(m, HM_PROTO_MBUS, mm->err, "M-Bus frame");
		return;
	}
	lock_protocol(m, HM_PROTO_MBUS);
	message(m, mm->data, mm->len);
}

static void on_p1(void *ctx, const struct hm_p1_msg *pm)
{
	struct hm_meter *m = ctx;
	if (pm->err != HM_ERR_OK) {
		framer_reject(m, HM_PROTO_P1, pm->err, "P1 telegram");
		return;
	}
	lock_protocol(m, HM_PROTO_P1);
	message(m, (const uint8_t *)pm->data, pm->len);
}

/* protocol = auto: whether the HDLC or M-Bus framer holds a frame (or a
 * segmented message) in progress, which an APDU the DLMS framer just found
 * may lie inside. */
static bool wrapped(const struct hm_meter *m)
{
	return hm_hdlc_holding(&m->hdlc) || hm_mbus_holding(&m->mbus);
}

/* The DLMS framer's callback (bare APDUs, Smarty).  Nothing but the GCM tag
 * proves a candidate a message, so it is a message if it decodes: the
 * verdict goes back to the framer, which rescans after a refused one.
 * protocol = auto locks on the second such message, not the first: started
 * in the middle of an HDLC or M-Bus frame, the other framers missed its
 * start and the DLMS framer finds the APDU inside whole.  That reading is
 * true (its tag checked) and is published; the next frame then shows which
 * framing the meter really uses. */
static enum hm_err on_dlms(void *ctx, const struct hm_apdustream_msg *am)
{
	struct hm_meter *m = ctx;
	if (am->err != HM_ERR_OK) {
		framer_reject(m, HM_PROTO_DLMS, am->err, "DLMS APDU");
		return am->err;
	}
	if (m->proto == HM_PROTO_AUTO && wrapped(m)) {
		framer_reject(m, HM_PROTO_DLMS, HM_ERR_NOT_MINE, "DLMS APDU inside another framer's frame");
		return HM_ERR_NOT_MINE;
	}
	enum hm_err err = hm_decode(&m->dec, am->data, am->len, &m->reading);
	if (err != HM_ERR_OK) {
		framer_reject(m, HM_PROTO_DLMS, err, "DLMS APDU");
		return err;
	}
	if (m->dlms.stats.messages > 0) /* counted after we return: this is the second */
		lock_protocol(m, HM_PROTO_DLMS);
	m->stats.frames++;
	m->stats.last_frame_us = hm_now_us();
	publish(m);
	return HM_ERR_OK;
}

/* No derived figures here: they follow an electricity meter's hourly
 * lists (meter clock, import/export energy), which a poll does not have. */
void hm_meter_reading(struct hm_meter *m, struct hm_reading *r)
{
	struct hm_daemon *d = m->d;
	apply_scale(m, r);
	m->stats.readings++;
	m->derived_len = 0;
	for (unsigned i = 0; i < d->n_sinks; i++)
		d->sink[i]->reading(d->sink_state[i], m, r);
}

void hm_meter_input(struct hm_meter *m, const uint8_t *p, size_t n)
{
	m->stats.bytes += n;
	/* Each framer sees the chunk only while it may still be the one: one
	 * that wins halfway through a chunk ends the others' turn. */
	if (m->proto == HM_PROTO_AUTO || m->proto == HM_PROTO_HDLC)
		hm_hdlc_feed(&m->hdlc, p, n, on_frame, m);
	if (m->proto == HM_PROTO_AUTO || m->proto == HM_PROTO_MBUS)
		hm_mbus_feed(&m->mbus, p, n, on_mbus, m);
	if (m->proto == HM_PROTO_AUTO || m->proto == HM_PROTO_P1)
		hm_p1_feed(&m->p1, p, n, on_p1, m);
	if (m->proto == HM_PROTO_AUTO || m->proto == HM_PROTO_DLMS)
		hm_apdustream_feed(&m->dlms, p, n, on_dlms, m);
}

void hm_meter_apdu(struct hm_meter *m, const uint8_t *p, size_t n)
{
	m->stats.bytes += n;
	message(m, p, n);
}

/* End of a stream: each framer in use reports what it still holds. */
static void flush_framers(struct hm_meter *m)
{
	if (m->proto == HM_PROTO_AUTO || m->proto == HM_PROTO_HDLC)
		hm_hdlc_flush(&m->hdlc, on_frame, m);
	if (m->proto == HM_PROTO_AUTO || m->proto == HM_PROTO_MBUS)
		hm_mbus_flush(&m->mbus, on_mbus, m);
	if (m->proto == HM_PROTO_AUTO || m->proto == HM_PROTO_P1)
		hm_p1_flush(&m->p1, on_p1, m);
	if (m->proto == HM_PROTO_AUTO || m->proto == HM_PROTO_DLMS)
		hm_apdustream_flush(&m->dlms, on_dlms, m);
}

static void set_online(struct hm_meter *m, bool online)
{
	struct hm_daemon *d = m->d;
	if (m->online == online)
		return;
	m->online = online;
	for (unsigned i = 0; i < d->n_sinks; i++)
		if (d->sink[i]->availability)
			d->sink[i]->availability(d->sink_state[i], m, online);
}

void hm_meter_online(struct hm_meter *m)
{
	char where[2 * HM_CONF_STR + 32];
	if (m->opens++ > 0)
		m->stats.reconnects++;
	m->retry_ms = m->conf->retry_min_ms;
	hm_log_meter(LOG_NOTICE, m->conf->name, "%s: %s", hm_meter_where(m, where, sizeof where),
	             m->opens > 1 ? "reconnected" : "open");
	set_online(m, true);
}

/* xorshift32 (Marsaglia 2003): jitter needs spread, not secrecy. */
static uint32_t next_rand(struct hm_daemon *d)
{
	uint32_t x = d->rand ? d->rand : 2463534242u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return d->rand = x;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hm_meter *m = userdata;
	(void)s;
	(void)usec;
	m->retry_timer = sd_event_source_unref(m->retry_timer);
	int rc = m->source->open(m);
	if (rc < 0)
		hm_meter_fail(m, rc);
	return 0;
}

/* Arms the retry timer: the current back-off with "equal jitter" (half
 * fixed, half random, so meters sharing a ser2net box do not reconnect in
 * lockstep), then doubles the back-off up to retry_max. */
static void arm_retry(struct hm_meter *m, unsigned *delay_ms)
{
	unsigned base = m->retry_ms ? m->retry_ms : m->conf->retry_min_ms;
	unsigned delay = base / 2 + next_rand(m->d) % (base / 2 + 1);
	uint64_t next = (uint64_t)base * 2;
	m->retry_ms = next > m->conf->retry_max_ms ? m->conf->retry_max_ms : (unsigned)next;
	*delay_ms = delay;
	m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
	int rc = sd_event_add_time_relative(m->d->event, &m->retry_timer, CLOCK_MONOTONIC, (uint64_t)delay * 1000u, 0,
	                                    on_retry, m);
	if (rc < 0)
		hm_log_meter(LOG_ERR, m->conf->name, "cannot arm the retry timer: %s", strerror(-rc));
}

void hm_meter_fail(struct hm_meter *m, int err)
{
	char where[2 * HM_CONF_STR + 32];
	unsigned delay_ms, dropped;
	if (err < 0)
		err = -err;
	m->source->close(m);
	flush_framers(m);
	set_online(m, false);
	arm_retry(m, &delay_ms);
	if (hm_ratelimit_ok(&m->rl_fail, &dropped)) {
		if (dropped)
			hm_log_meter(LOG_WARNING, m->conf->name, "%u similar messages suppressed", dropped);
		hm_log_meter(LOG_WARNING, m->conf->name, "%s: %s; retrying in %u.%03u s",
		             hm_meter_where(m, where, sizeof where), strerror(err), delay_ms / 1000, delay_ms % 1000);
	}
}

void hm_meter_eof(struct hm_meter *m)
{
	char where[2 * HM_CONF_STR + 32];
	m->source->close(m);
	flush_framers(m);
	set_online(m, false);
	hm_log_meter(LOG_NOTICE, m->conf->name, "%s: end of input after %" PRIu64 " bytes, %" PRIu64 " readings",
	             hm_meter_where(m, where, sizeof where), m->stats.bytes, m->stats.readings);
}

int hm_meter_init(struct hm_daemon *d, struct hm_meter *m, const struct hm_meter_conf *mc)
{
	m->d = d;
	m->conf = mc;
	m->source = NULL;
	for (size_t i = 0; hm_sources[i]; i++)
		if (hm_sources[i]->claims(mc)) {
			m->source = hm_sources[i];
			break;
		}
	if (!m->source)
		return -ENODEV;
	hm_hdlc_init(&m->hdlc);
	hm_mbus_init(&m->mbus);
	hm_p1_init(&m->p1);
	hm_apdustream_init(&m->dlms);
	hm_gbt_init(&m->gbt);
	m->proto = mc->protocol;
	hm_decoder_init(&m->dec);
	if (mc->has_key) { /* one AES context per meter, for its whole life */
		m->cipher_open = hm_cipher_open(&m->cipher) == 0;
		if (m->cipher_open)
			m->dec.cipher = &m->cipher;
		else /* hm_decode() then makes one per frame: slower, as right */
			hm_log_meter(LOG_WARNING, m->conf->name, "cannot create the AES context: one per frame");
	}
	if (strcmp(mc->profile, "auto") != 0)
		m->dec.force = hm_profile_find(mc->profile); /* checked by config.c */
	m->dec.has_key = mc->has_key;
	memcpy(m->dec.key, mc->key, sizeof m->dec.key);
	m->dec.has_auth_key = mc->has_auth_key;
	memcpy(m->dec.auth_key, mc->auth_key, sizeof m->dec.auth_key);
	m->retry_ms = mc->retry_min_ms;
	hm_derived_init(&m->derived);
	hm_derived_set_steps(&m->derived, mc->capacity_step_w, mc->n_capacity_steps); /* checked by config.c */
	hm_state_load(d->conf->daemon.state_dir, mc->name, &m->derived); /* none or refused (logged): empty */
	m->derived_len = 0;
	m->rl_reject = (struct hm_ratelimit)HM_RATELIMIT_INIT(REJECT_LOG_INTERVAL_S, REJECT_LOG_BURST);
	m->rl_fail = (struct hm_ratelimit)HM_RATELIMIT_INIT(FAIL_LOG_INTERVAL_S, FAIL_LOG_BURST);
	return 0;
}

void hm_meter_start(struct hm_meter *m)
{
	if (!m->source)
		return;
	int rc = m->source->open(m);
	if (rc < 0)
		hm_meter_fail(m, rc);
}

void hm_meter_stop(struct hm_meter *m)
{
	if (m->source)
		m->source->close(m);
	m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
	if (m->cipher_open)
		hm_cipher_close(&m->cipher);
	m->cipher_open = false;
	m->dec.cipher = NULL;
	/* Not an availability change: the sinks stop next and say in their
	 * stop() what they owe every meter (MQTT: offline, retained). */
	m->online = false;
}
