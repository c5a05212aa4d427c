/*
 * mqtt_in.c - the MQTT source: meter data that a HAN reader (Tibber Pulse,
 * AMSleser, other ESP dongles) publishes to a broker (mqtt_topic = T1,T2,
 * mqtt_broker = HOST:PORT).
 *
 * Its own libmosquitto connection, driven by the loop like the sink's
 * (mosquitto_connect_async, the socket on sd_event_add_io, a 1 s timer for
 * mosquitto_loop_misc).  Not the sink's connection: a source has its own
 * life (failure and back-off per meter through hm_meter_fail, online and
 * offline to the sinks), it may read from another broker than the sink
 * writes to (a reader's own broker), and the sink (src/sink/mqtt.c) stays
 * as it is.  When the broker is the [mqtt] one, its username, password and
 * TLS settings are used.  Topics are subscribed with QoS 0 (a reading lost
 * is replaced by the next one within seconds).
 *
 * One message is one unit; the payload may be
 *   - hex text of any of the below (whitespace allowed): decoded first;
 *   - an HDLC frame with flags (7E A0.. 7E), after junk that some readers
 *     put in front (the Tibber Pulse adds a 24-byte header when it
 *     batches): from the first 7E Ax on, to the meter's framers;
 *   - an HDLC frame without its flags (format byte A0..AF and an 11-bit
 *     length equal to the payload's): flags added;
 *   - an M-Bus long frame (68 L L 68) or a P1 telegram ('/'): to the framers;
 *   - a bare APDU: LLC E6 E7 00, data-notification 0F, general-glo-ciphering
 *     DB or general-block-transfer E0 at its start: to the decoder.
 * Anything else is counted as an error and logged (rate-limited).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>

#include "hanmeter/cipher.h"
#include "hanmeter/dlms.h"
#include "hanmeter/gbt.h"
#include "hanmeter/hdlc.h"
#include "hanmeter/mbus.h"
#include "hanmeter/p1.h"

#include "daemon.h"
#include "log.h"

#define MISC_INTERVAL_US 1000000u /* mosquitto_loop_misc(): keepalive granularity */
#define KEEPALIVE_S      60       /* MQTT keepalive with the broker */
#define TOPICS_MAX       8        /* mqtt_topic entries used */
#define HDLC_FORMAT_TYPE 0xA0     /* IEC 62056-46 frame format type 3, upper nibble */
#define HDLC_LEN_MASK    0x07FF   /* 11-bit frame length */

struct mqtt_src {
	struct mosquitto *mosq;
	struct hm_resolve *query; /* name lookup in flight, or NULL */
	sd_event_source *io;      /* the broker socket */
	int io_fd;                /* the fd io watches, -1 none */
	sd_event_source *misc;    /* mosquitto_loop_misc() timer */
	int failed;               /* set inside a libmosquitto callback: -errno to fail with afterwards */
	bool subscribed;          /* SUBSCRIBE sent on this connection */
	uint8_t buf[HM_HDLC_FRAME_MAX + HM_MSG_MAX]; /* a hex payload decoded, or a frame given its flags */
	struct hm_ratelimit rl;                      /* "payload not recognised" */
};

static bool mqtt_claims(const struct hm_meter_conf *mc)
{
	return mc->mqtt_topic[0] != 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20; /* ASCII lower case */
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex text (digits and whitespace, an even number of digits, at least one
 * byte) into out; its length, or 0 if p is not hex text. */
static size_t unhex(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	size_t k = 0;
	int hi = -1;
	for (size_t i = 0; i < n; i++) {
		int v = hexval(p[i]);
		if (v < 0) {
			if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
				continue;
			return 0;
		}
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (k == cap)
			return 0;
		out[k++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? k : 0;
}

static bool is_bare_apdu(const uint8_t *p, size_t n)
{
	static const uint8_t llc[3] = {0xE6, 0xE7, 0x00}; /* IEC 62056-46 LLC header */
	if (n >= sizeof llc && memcmp(p, llc, sizeof llc) == 0)
		return true;
	return n && (p[0] == HM_DLMS_DATA_NOTIFICATION || p[0] == HM_CIPHER_TAG || p[0] == HM_GBT_TAG);
}

static void not_recognised(struct hm_meter *m, struct mqtt_src *s, size_t n)
{
	unsigned dropped;
	m->stats.bytes += n;
	m->stats.errors++;
	if (hm_ratelimit_ok(&s->rl, &dropped))
		hm_log_meter(LOG_WARNING, m->conf->name,
		             "mqtt: a %zu-byte payload is no HDLC or M-Bus frame, P1 telegram or APDU: dropped%s", n,
		             dropped ? " (and similar ones)" : "");
}

/* One payload (see the header comment). */
static void payload(struct hm_meter *m, struct mqtt_src *s, const uint8_t *p, size_t n)
{
	size_t k = unhex(p, n, s->buf, sizeof s->buf);
	if (k) { /* hex text: the decoded bytes are the payload */
		p = s->buf;
		n = k;
	}
	/* An HDLC frame with its flags, possibly after junk. */
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == HM_HDLC_FLAG && (p[i + 1] & 0xF0) == HDLC_FORMAT_TYPE) {
			m->stats.bytes += i; /* the junk: counted as received, not as an error */
			hm_meter_input(m, p + i, n - i);
			return;
		}
	/* Without flags: the length field says the payload is the frame. */
	if (n >= 2 && (p[0] & 0xF0) == HDLC_FORMAT_TYPE && ((size_t)(p[0] & 0x07) << 8 | p[1]) == n &&
	    n + 2 <= sizeof s->buf) {
		uint8_t *f = s->buf;
		memmove(f + 1, p, n); /* p may be s->buf (hex text) */
		f[0] = f[n + 1] = HM_HDLC_FLAG;
		hm_meter_input(m, f, n + 2);
		return;
	}
	if (is_bare_apdu(p, n)) {
		hm_meter_apdu(m, p, n);
		return;
	}
	const uint8_t *slash = memchr(p, HM_P1_START, n);
	if (slash) {
		m->stats.bytes += (size_t)(slash - p);
		hm_meter_input(m, slash, n - (size_t)(slash - p));
		return;
	}
	for (size_t i = 0; i + 3 < n; i++)
		if (p[i] == HM_MBUS_START && p[i + 3] == HM_MBUS_START && p[i + 1] == p[i + 2]) {
			m->stats.bytes += i;
			hm_meter_input(m, p + i, n - i);
			return;
		}
	not_recognised(m, s, n);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct hm_meter *m = obj;
	(void)mosq;
	if (msg->payloadlen > 0)
		payload(m, m->src, msg->payload, (size_t)msg->payloadlen);
}

static void subscribe(struct hm_meter *m, struct mqtt_src *s)
{
	const char *t = m->conf->mqtt_topic;
	char topic[HM_CONF_STR];
	for (unsigned i = 0; i < TOPICS_MAX && *t; i++) {
		size_t n = strcspn(t, ",");
		snprintf(topic, sizeof topic, "%.*s", (int)n, t);
		int rc = mosquitto_subscribe(s->mosq, NULL, topic, 0);
		if (rc != MOSQ_ERR_SUCCESS) {
			hm_log_meter(LOG_WARNING, m->conf->name, "mqtt: subscribe %s: %s", topic,
			             mosquitto_strerror(rc));
			s->failed = -EIO;
			return;
		}
		hm_log_meter(LOG_INFO, m->conf->name, "mqtt: subscribed to %s", topic);
		t += n + (t[n] == ',');
	}
	s->subscribed = true;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct hm_meter *m = obj;
	struct mqtt_src *s = m->src;
	(void)mosq;
	if (rc != 0) {
		hm_log_meter(LOG_WARNING, m->conf->name, "mqtt: the broker refused the connection: %s",
		             mosquitto_connack_string(rc));
		s->failed = -ECONNREFUSED;
		return;
	}
	subscribe(m, s);
	if (!s->failed)
		hm_meter_online(m);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct hm_meter *m = obj;
	struct mqtt_src *s = m->src;
	(void)mosq;
	(void)rc;
	if (!s->failed)
		s->failed = -ECONNRESET;
}

static void drop_io(struct mqtt_src *s)
{
	s->io = sd_event_source_disable_unref(s->io);
	s->io_fd = -1;
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata);

/* Watches libmosquitto's socket for what it needs now. */
static int update_io(struct hm_meter *m, struct mqtt_src *s)
{
	int fd = mosquitto_socket(s->mosq);
	if (fd != s->io_fd)
		drop_io(s);
	if (fd < 0)
		return -ENOTCONN;
	uint32_t ev = EPOLLIN | (mosquitto_want_write(s->mosq) ? EPOLLOUT : 0);
	if (s->io)
		return sd_event_source_set_io_events(s->io, ev);
	int rc = sd_event_add_io(m->d->event, &s->io, fd, ev, on_io, m);
	if (rc >= 0)
		s->io_fd = fd;
	return rc;
}

/* After a libmosquitto call: fail the source if it or a callback said so
 * (hm_meter_fail destroys s, so only ever outside libmosquitto). */
static void settle(struct hm_meter *m, struct mqtt_src *s, int rc)
{
	int err = s->failed;
	if (!err && rc != MOSQ_ERR_SUCCESS)
		err = rc == MOSQ_ERR_ERRNO && errno ? -errno : -ECONNRESET;
	if (!err)
		err = update_io(m, s) < 0 ? -ENOTCONN : 0;
	if (err)
		hm_meter_fail(m, err);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	struct hm_meter *m = userdata;
	struct mqtt_src *s = m->src;
	int rc = MOSQ_ERR_SUCCESS;
	(void)es;
	(void)fd;
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rc = mosquitto_loop_read(s->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && !s->failed && (revents & EPOLLOUT) && mosquitto_socket(s->mosq) >= 0)
		rc = mosquitto_loop_write(s->mosq, 1);
	settle(m, s, rc);
	return 0;
}

static int on_misc(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct hm_meter *m = userdata;
	struct mqtt_src *s = m->src;
	(void)usec;
	sd_event_source_set_time_relative(es, MISC_INTERVAL_US);
	if (mosquitto_socket(s->mosq) >= 0) {
		int rc = mosquitto_loop_misc(s->mosq);
		settle(m, s, rc == MOSQ_ERR_NO_CONN ? MOSQ_ERR_SUCCESS : rc);
	}
	return 0;
}

static void connect_to(struct hm_meter *m, struct mqtt_src *s, const char *host)
{
	drop_io(s); /* the new socket may get the old one's number */
	int rc = mosquitto_connect_async(s->mosq, host, m->conf->mqtt_port, KEEPALIVE_S);
	if (rc != MOSQ_ERR_SUCCESS) {
		hm_log_meter(LOG_DEBUG, m->conf->name, "mqtt: connect %s:%u: %s", host, m->conf->mqtt_port,
		             rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		s->failed = rc == MOSQ_ERR_ERRNO && errno ? -errno : -ECONNREFUSED;
	}
	settle(m, s, MOSQ_ERR_SUCCESS);
}

static void on_resolved(void *ctx, int err, const struct addrinfo *ai)
{
	struct hm_meter *m = ctx;
	struct mqtt_src *s = m->src;
	char host[NI_MAXHOST];
	s->query = NULL;
	if (!err && (!ai || getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST)))
		err = EAI_NONAME;
	if (err) {
		hm_log_meter(LOG_WARNING, m->conf->name, "mqtt: cannot resolve %s: %s", m->conf->mqtt_host,
		             gai_strerror(err));
		hm_meter_fail(m, err == EAI_AGAIN ? -EAGAIN : -EHOSTUNREACH);
		return;
	}
	const struct hm_mqtt_conf *mq = &m->d->conf->mqtt;
	/* With TLS libmosquitto needs the name, for the certificate check. */
	connect_to(m, s, m->conf->mqtt_same_broker && mq->tls ? m->conf->mqtt_host : host);
}

static void mqtt_close(struct hm_meter *m)
{
	struct mqtt_src *s = m->src;
	if (!s)
		return;
	hm_resolve_cancel(s->query);
	drop_io(s);
	sd_event_source_disable_unref(s->misc);
	if (s->mosq) {
		mosquitto_destroy(s->mosq);
		mosquitto_lib_cleanup(); /* reference-counted in libmosquitto 2 */
	}
	free(s);
	m->src = NULL;
}

/* The [mqtt] section's credentials and TLS, when it is the same broker. */
static int same_broker_settings(struct hm_meter *m, struct mqtt_src *s)
{
	const struct hm_mqtt_conf *c = &m->d->conf->mqtt;
	int rc = MOSQ_ERR_SUCCESS;
	if (!m->conf->mqtt_same_broker)
		return 0;
	if (c->username[0])
		rc = mosquitto_username_pw_set(s->mosq, c->username, c->password[0] ? c->password : NULL);
	if (rc == MOSQ_ERR_SUCCESS && c->tls) {
		rc = mosquitto_tls_set(s->mosq, c->cafile[0] ? c->cafile : NULL, c->capath[0] ? c->capath : NULL,
		                       c->certfile[0] ? c->certfile : NULL, c->keyfile[0] ? c->keyfile : NULL, NULL);
		if (rc == MOSQ_ERR_SUCCESS && !c->cafile[0] && !c->capath[0])
			rc = mosquitto_int_option(s->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_insecure_set(s->mosq, c->tls_insecure);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		hm_log_meter(LOG_ERR, m->conf->name, "mqtt: [mqtt] credentials or TLS: %s", mosquitto_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

static int mqtt_open(struct hm_meter *m)
{
	struct mqtt_src *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->io_fd = -1;
	s->rl = (struct hm_ratelimit)HM_RATELIMIT_INIT(60, 5);
	m->src = s;
	mosquitto_lib_init();
	s->mosq = mosquitto_new(NULL, true, m); /* a random client id: several meters, several daemons */
	if (!s->mosq) {
		mosquitto_lib_cleanup();
		mqtt_close(m);
		return -ENOMEM;
	}
	int rc = same_broker_settings(m, s);
	if (rc < 0) {
		mqtt_close(m);
		return rc;
	}
	mosquitto_connect_callback_set(s->mosq, on_connect);
	mosquitto_disconnect_callback_set(s->mosq, on_disconnect);
	mosquitto_message_callback_set(s->mosq, on_message);
	rc = sd_event_add_time_relative(m->d->event, &s->misc, CLOCK_MONOTONIC, MISC_INTERVAL_US, 0, on_misc, m);
	if (rc >= 0)
		rc = hm_resolve_start(m->d, m->conf->mqtt_host, m->conf->mqtt_port, SOCK_STREAM, on_resolved, m,
		                      &s->query);
	if (rc < 0) {
		mqtt_close(m);
		return rc;
	}
	return 0;
}

const struct hm_source_ops hm_source_mqtt = {
    .name = "mqtt",
    .claims = mqtt_claims,
    .open = mqtt_open,
    .close = mqtt_close,
};
