/*
 * domoticz.c - the Domoticz sink: one meter's latest values to the
 * Domoticz devices a user made for it, through the JSON API
 *
 *   GET <url>/json.htm?type=command&param=udevice&idx=IDX&nvalue=0&svalue=S
 *
 * (answer {"status":"OK",...}; "ERR" for an unknown idx or a bad value), or
 * as {"idx":IDX,"nvalue":0,"svalue":"S"} on domoticz/in over the MQTT
 * sink's connection ([domoticz] mqtt = yes).  The svalue of each device
 * type is in format.h.
 *
 * Rate: the first values go out at once, then at most once per interval,
 * always the latest value of every field (list 1 power, list 3 totals).
 * A device whose values are not known yet (no energy total before the first
 * hourly list) is left alone rather than sent zeros.
 *
 * HTTP runs on libcurl's multi interface inside the sd-event loop:
 * CURLMOPT_SOCKETFUNCTION adds/changes/removes an sd-event io source per
 * socket, CURLMOPT_TIMERFUNCTION arms one sd-event timer, and both call
 * curl_multi_socket_action().  One easy handle per device, made at start;
 * a device whose previous request is still running skips a round.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"
#include "sink/domoticz.h"
#include "sink/format.h"
#include "sink/mqtt.h"
#include "sink/strbuf.h"

#define DZ_TIMEOUT_MS         10000L /* one request, all included */
#define DZ_CONNECT_TIMEOUT_MS 5000L  /* TCP + TLS connect */
#define DZ_BODY_MAX           512    /* Domoticz answers udevice in ~60 bytes */
#define DZ_URL_MAX            (HM_CONF_STR + 160)

enum dz_dev {
	DZ_P1,
	DZ_POWER,
	DZ_VOLTAGE_L1,
	DZ_VOLTAGE_L2,
	DZ_VOLTAGE_L3,
	DZ_CURRENT,
	DZ_HEAT,        /* KMP heat meter: Electric (instant+counter) device, heat power and E1 */
	DZ_TEMP_FLOW,   /* KMP heat meter: Temperature device */
	DZ_TEMP_RETURN, /* KMP heat meter: Temperature device */
	DZ_DEVICES
};

static const char *const dz_dev_name[DZ_DEVICES] = {"p1",      "power", "voltage_l1", "voltage_l2", "voltage_l3",
                                                    "current", "heat",  "temp_flow",  "temp_return"};

struct dz_req {
	struct dz *s;
	CURL *easy;
	bool busy;                  /* in the multi handle */
	int idx;                    /* the Domoticz device */
	char url[DZ_URL_MAX];       /* kept alive while the request runs */
	char body[DZ_BODY_MAX + 1]; /* the answer (cut at DZ_BODY_MAX) */
	size_t body_len;
	char errbuf[CURL_ERROR_SIZE];
};

struct dz {
	struct hm_daemon *d;
	const struct hm_domoticz_conf *c;
	const char *meter; /* the meter that feeds it */
	CURLM *multi;
	sd_event_source *curl_timer; /* libcurl's timeout */
	sd_event_source *tick;       /* the rate limit: armed = sent within the interval */
	bool dirty;                  /* values changed since the last send */
	struct hm_reading latest;    /* the latest value of every field */
	struct dz_req req[DZ_DEVICES];
	char base[HM_CONF_STR]; /* url without a trailing '/' */
	struct hm_ratelimit rl;
	uint64_t sent, ok, http_errors, api_errors, transport_errors, busy_skips, mqtt_unavailable;
};

static bool limited(struct dz *s)
{
	unsigned sup = 0;
	bool ok = hm_ratelimit_ok(&s->rl, &sup);
	if (sup)
		hm_log(LOG_WARNING, "domoticz: %u similar messages suppressed", sup);
	return ok;
}

/* ---- libcurl multi <-> sd-event ---------------------------------------- */

static void check_done(struct dz *s);

static int on_curl_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	struct dz *s = userdata;
	int flags = 0, running;
	(void)es;
	if (revents & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(s->multi, fd, flags, &running);
	check_done(s);
	return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct dz *s = userp;
	sd_event_source *es = socketp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		sd_event_source_disable_unref(es);
		curl_multi_assign(s->multi, fd, NULL);
		return 0;
	}
	uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (es)
		return sd_event_source_set_io_events(es, ev) < 0 ? -1 : 0;
	if (sd_event_add_io(s->d->event, &es, fd, ev, on_curl_io, s) < 0)
		return -1;
	curl_multi_assign(s->multi, fd, es);
	return 0;
}

static int on_curl_timer_fire(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct dz *s = userdata;
	int running;
	(void)es;
	(void)usec;
	curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(s);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct dz *s = userp;
	(void)multi;
	if (timeout_ms < 0)
		return sd_event_source_set_enabled(s->curl_timer, SD_EVENT_OFF) < 0 ? -1 : 0;
	if (sd_event_source_set_time_relative(s->curl_timer, (uint64_t)timeout_ms * 1000u) < 0)
		return -1;
	return sd_event_source_set_enabled(s->curl_timer, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
	struct dz_req *q = userdata;
	size_t len = size * n, room = DZ_BODY_MAX - q->body_len;
	memcpy(q->body + q->body_len, p, len < room ? len : room);
	q->body_len += len < room ? len : room;
	q->body[q->body_len] = 0;
	return len;
}

/* The value of "status" in a Domoticz answer ("OK", "ERR"), copied to out. */
static void answer_status(const char *body, char *out, size_t cap)
{
	snprintf(out, cap, "?");
	const char *p = strstr(body, "\"status\"");
	if (!p)
		return;
	p += strlen("\"status\"");
	p += strspn(p, " \t\r\n:");
	if (*p != '"')
		return;
	size_t n = strcspn(++p, "\"");
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

static void finish(struct dz *s, struct dz_req *q, CURLcode res)
{
	long code = 0;
	char status[16];
	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK) {
		s->transport_errors++;
		if (limited(s))
			hm_log(LOG_WARNING, "domoticz: idx %d: %s", q->idx,
			       q->errbuf[0] ? q->errbuf : curl_easy_strerror(res));
	} else if (code != 200) {
		s->http_errors++;
		if (limited(s))
			hm_log(LOG_WARNING, "domoticz: idx %d: HTTP %ld%s", q->idx, code,
			       code == 401 ? " (check username/password)" : "");
	} else {
		answer_status(q->body, status, sizeof status);
		if (strcmp(status, "OK") == 0) {
			s->ok++;
		} else {
			s->api_errors++;
			if (limited(s))
				hm_log(LOG_WARNING,
				       "domoticz: idx %d: Domoticz answered status \"%s\" (unknown idx or wrong device "
				       "type?)",
				       q->idx, status);
		}
	}
}

static void check_done(struct dz *s)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(s->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct dz_req *q = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		CURLcode res = msg->data.result;
		curl_multi_remove_handle(s->multi, msg->easy_handle);
		if (q) {
			q->busy = false;
			finish(s, q, res);
		}
	}
}

/* ---- sending ------------------------------------------------------------ */

static int dz_idx(const struct hm_domoticz_conf *c, enum dz_dev dev)
{
	switch (dev) {
	case DZ_P1: return c->idx_p1;
	case DZ_POWER: return c->idx_power;
	case DZ_VOLTAGE_L1: return c->idx_voltage_l1;
	case DZ_VOLTAGE_L2: return c->idx_voltage_l2;
	case DZ_VOLTAGE_L3: return c->idx_voltage_l3;
	case DZ_CURRENT: return c->idx_current;
	case DZ_HEAT: return c->idx_heat;
	case DZ_TEMP_FLOW: return c->idx_temp_flow;
	case DZ_TEMP_RETURN: return c->idx_temp_return;
	default: return 0;
	}
}

static int dz_svalue(const struct hm_reading *r, enum dz_dev dev, char *buf, size_t cap)
{
	switch (dev) {
	case DZ_P1: return hm_format_dz_p1(r, buf, cap);
	case DZ_POWER: return hm_format_dz_power(r, buf, cap);
	case DZ_VOLTAGE_L1: return hm_format_dz_voltage(r, 1, buf, cap);
	case DZ_VOLTAGE_L2: return hm_format_dz_voltage(r, 2, buf, cap);
	case DZ_VOLTAGE_L3: return hm_format_dz_voltage(r, 3, buf, cap);
	case DZ_CURRENT: return hm_format_dz_current(r, buf, cap);
	case DZ_HEAT: return hm_format_dz_heat(r, buf, cap);
	case DZ_TEMP_FLOW: return hm_format_dz_temp(r, HM_NUM_TEMP_FLOW_C, buf, cap);
	case DZ_TEMP_RETURN: return hm_format_dz_temp(r, HM_NUM_TEMP_RETURN_C, buf, cap);
	default: return -ENODATA;
	}
}

static void send_http(struct dz *s, struct dz_req *q, const char *svalue)
{
	if (q->busy) {
		s->busy_skips++;
		return;
	}
	struct hm_strbuf b;
	hm_strbuf_init(&b, q->url, sizeof q->url);
	/* svalues are digits, '.', '-' and ';': all legal in a query */
	hm_strbuf_printf(&b, "%s/json.htm?type=command&param=udevice&idx=%d&nvalue=0&svalue=%s", s->base, q->idx,
	                 svalue);
	if (b.overflow)
		return;
	q->body_len = 0;
	q->body[0] = 0;
	q->errbuf[0] = 0;
	curl_easy_setopt(q->easy, CURLOPT_URL, q->url);
	if (curl_multi_add_handle(s->multi, q->easy) != CURLM_OK) {
		s->transport_errors++;
		return;
	}
	q->busy = true;
	s->sent++;
}

/* false if the MQTT sink could not take it (broker away): try next round */
static bool send_mqtt(struct dz *s, struct dz_req *q, const char *svalue)
{
	char json[128];
	if (hm_format_dz_mqtt(q->idx, svalue, json, sizeof json) < 0)
		return true;
	if (hm_mqtt_publish(s->c->mqtt_topic, json, 0, false) < 0) {
		s->mqtt_unavailable++;
		return false;
	}
	s->sent++;
	s->ok++;
	return true;
}

/* Sends every configured device whose values are known.  Values that could
 * not go out over MQTT stay dirty for the next round. */
static void send_all(struct dz *s)
{
	char svalue[128];
	bool all = true;
	for (int dev = 0; dev < DZ_DEVICES; dev++) {
		struct dz_req *q = &s->req[dev];
		if (!q->idx || dz_svalue(&s->latest, (enum dz_dev)dev, svalue, sizeof svalue) < 0)
			continue;
		hm_log(LOG_DEBUG, "domoticz: %s idx %d svalue %s", dz_dev_name[dev], q->idx, svalue);
		if (s->c->mqtt)
			all &= send_mqtt(s, q, svalue);
		else
			send_http(s, q, svalue);
	}
	s->dirty = !all;
}

/* The interval is over: send what changed, or go idle (next reading sends). */
static int on_tick(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct dz *s = userdata;
	(void)usec;
	if (!s->dirty) {
		sd_event_source_set_enabled(es, SD_EVENT_OFF);
		return 0;
	}
	send_all(s);
	sd_event_source_set_time_relative(es, (uint64_t)s->c->interval_s * 1000000u);
	sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
	return 0;
}

static void dz_reading(void *state, struct hm_meter *m, const struct hm_reading *r)
{
	struct dz *s = state;
	if (strcmp(m->conf->name, s->meter) != 0)
		return;
	for (int f = 0; f < HM_NUM_COUNT; f++)
		if (hm_reading_has_num(r, (enum hm_num_field)f))
			hm_reading_set_num(&s->latest, (enum hm_num_field)f, r->num[f].m, r->num[f].e);
	s->dirty = true;
	int on = SD_EVENT_OFF;
	sd_event_source_get_enabled(s->tick, &on);
	if (on == SD_EVENT_OFF) {
		send_all(s);
		sd_event_source_set_time_relative(s->tick, (uint64_t)s->c->interval_s * 1000000u);
		sd_event_source_set_enabled(s->tick, SD_EVENT_ONESHOT);
	}
}

/* ---- start and stop ----------------------------------------------------- */

static void dz_free(struct dz *s)
{
	for (int i = 0; i < DZ_DEVICES; i++) {
		if (!s->req[i].easy)
			continue;
		if (s->req[i].busy)
			curl_multi_remove_handle(s->multi, s->req[i].easy);
		curl_easy_cleanup(s->req[i].easy);
	}
	if (s->multi)
		curl_multi_cleanup(s->multi);
	s->curl_timer = sd_event_source_disable_unref(s->curl_timer);
	s->tick = sd_event_source_disable_unref(s->tick);
	curl_global_cleanup();
	free(s);
}

static void dz_stop(void *state)
{
	struct dz *s = state;
	hm_log(LOG_DEBUG,
	       "domoticz: %" PRIu64 " sent, %" PRIu64 " ok, %" PRIu64 " HTTP errors, %" PRIu64 " ERR answers, %" PRIu64
	       " transport errors, %" PRIu64 " skipped busy, %" PRIu64 " MQTT unavailable",
	       s->sent, s->ok, s->http_errors, s->api_errors, s->transport_errors, s->busy_skips, s->mqtt_unavailable);
	dz_free(s);
}

static int setup_easy(struct dz *s, struct dz_req *q)
{
	q->s = s;
	q->easy = curl_easy_init();
	if (!q->easy)
		return -ENOMEM;
	CURL *e = q->easy;
	curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, DZ_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, DZ_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "hanmeterd/" HM_VERSION);
	if (s->c->username[0]) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, s->c->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, s->c->password);
	}
	if (!s->c->tls_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return 0;
}

static int dz_start(struct hm_daemon *d, void **state)
{
	const struct hm_domoticz_conf *c = &d->conf->domoticz;
	int r = -ENOMEM;
	if (d->conf->n_meters == 0)
		return -EINVAL;
	if (!c->mqtt && !c->url[0]) {
		hm_log(LOG_ERR, "domoticz: no url (and mqtt = no)");
		return -EINVAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	struct dz *s = calloc(1, sizeof *s);
	if (!s) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	s->d = d;
	s->c = c;
	s->rl = (struct hm_ratelimit)HM_RATELIMIT_INIT(300, 5);
	s->meter = c->meter[0] ? c->meter : d->conf->meter[0].name;
	hm_reading_clear(&s->latest);
	snprintf(s->base, sizeof s->base, "%s", c->url);
	for (size_t n = strlen(s->base); n && s->base[n - 1] == '/'; n--)
		s->base[n - 1] = 0;
	s->multi = curl_multi_init();
	if (!s->multi)
		goto fail;
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
	for (int i = 0; i < DZ_DEVICES; i++) {
		s->req[i].idx = dz_idx(c, (enum dz_dev)i);
		if (s->req[i].idx && !c->mqtt && (r = setup_easy(s, &s->req[i])) < 0)
			goto fail;
	}
	r = sd_event_add_time_relative(d->event, &s->curl_timer, CLOCK_MONOTONIC, 0, 0, on_curl_timer_fire, s);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(s->curl_timer, SD_EVENT_OFF);
	r = sd_event_add_time_relative(d->event, &s->tick, CLOCK_MONOTONIC, (uint64_t)c->interval_s * 1000000u, 0,
	                               on_tick, s);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(s->tick, SD_EVENT_OFF);
	if (!hm_config_meter(d->conf, s->meter))
		hm_log(LOG_WARNING, "domoticz: meter \"%s\" is not configured; nothing will be sent", s->meter);
	*state = s;
	return 0;
fail:
	dz_free(s);
	return r;
}

static bool dz_enabled(const struct hm_config *c)
{
	return c->domoticz.enabled;
}

const struct hm_sink_ops hm_sink_domoticz = {
    .name = "domoticz",
    .enabled = dz_enabled,
    .start = dz_start,
    .reading = dz_reading,
    .availability = NULL,
    .frame = NULL,
    .stop = dz_stop,
};
