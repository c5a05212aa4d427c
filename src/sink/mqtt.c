/*
 * mqtt.c - the MQTT sink: readings, availability, Home Assistant discovery
 * and raw frames to a broker (topics in mqtt.h).
 *
 * libmosquitto runs on the daemon's sd-event loop, no thread of its own:
 * mosquitto_connect_async() starts a non-blocking connect, its socket is
 * watched with sd_event_add_io() (EPOLLOUT only while mosquitto_want_write()),
 * readable -> mosquitto_loop_read(), writable -> mosquitto_loop_write(), and
 * a timer at a quarter of keepalive calls mosquitto_loop_misc() for PINGREQs.
 *
 * libmosquitto resolves the host name inside connect with a blocking
 * getaddrinfo(), so a name is first resolved by the daemon's resolver
 * (hm_resolve_start(): getaddrinfo_a() waking the loop) and the numeric
 * address is handed to libmosquitto.  With TLS the name itself is passed,
 * because the certificate is checked against it; that second lookup
 * normally hits a warm cache, but may block on a dead resolver.
 *
  * Broker away: readings wait in a bounded queue (queue.h: power-only
 * readings are evicted before energy totals) and go out, in order, after
 * the next CONNACK, also across a reload; with queue = 0 they are dropped
 * and counted.  Messages handed to libmosquitto with QoS >= 1 and not yet
 * acknowledged when the link drops are kept and resent by libmosquitto
 * itself after the reconnect; with QoS 0 such messages can be lost.
 * A reload destroys the libmosquitto client and its unacknowledged
 * messages with it, so the sink keeps its own copy of every QoS >= 1
 * message until the PUBACK (on_publish) and carries the copies over a
 * reload in front of the held queue: at-least-once, a duplicate after a
 * reload rather than a loss.
 * Reconnects back off 1 s, 2 s, 4 s ... 60 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "hanmeter/profile.h"
#include "log.h"
#include "sink/format.h"
#include "sink/ha_discovery.h"
#include "sink/mqtt.h"
#include "sink/queue.h"
#include "sink/strbuf.h"

/* mosquitto_loop_misc() sends PINGREQ once keepalive seconds passed without
 * traffic, so it need not run more often than a fraction of keepalive: at
 * a quarter, the ping goes out at most 1.25 x keepalive after the last
 * message, inside the broker's 1.5 x keepalive grace (MQTT 3.1.1, 3.1.2.10).
 * Every second instead was a wake-up per second with nothing to do
 * (bench/footprint.bench, silent meter). */
#define MISC_FRACTION 4
#define RETRY_MIN_MS  1000u  /* first reconnect delay */
#define RETRY_MAX_MS  60000u /* back-off cap */

#define ADDRS_MAX     4    /* broker addresses tried per lookup (IPv6 and IPv4, ...) */
#define STOP_FLUSH_MS 2000 /* stop(): time allowed to send the last messages */
#define NUM_WORDS     ((HM_NUM_COUNT + 63) / 64)

/* libmosquitto's in-flight window (MQTT 3.1.1: QoS >= 1 messages sent and
 * awaiting PUBACK; later ones wait inside libmosquitto).  20 is its default,
 * set explicitly because the copy table below is sized from it. */
#define INFLIGHT_MAX 20
/* Copies of unacknowledged QoS >= 1 messages: four windows, room for the
 * burst at CONNACK (status, discovery, availability) plus readings.  When
 * the table is full, held readings stay in the hold queue until a PUBACK
 * frees a copy; messages that are not held (status, availability,
 * discovery: all sent again at every CONNACK) go out without a copy,
 * counted in untracked. */
#define TRACK_MAX (4 * INFLIGHT_MAX)

_Static_assert(HM_HA_DERIVED_COUNT <= 32, "mq_meter.derived_seen is a uint32_t");

struct mq_meter {
	bool identified;               /* ident is known: discovery can be published */
	char ident[HM_TEXT_MAX];       /* meter id (HA device identifier) */
	char model[HM_TEXT_MAX];       /* meter_model, "" if unknown */
	char sw_version[HM_TEXT_MAX];  /* list_version, "" if unknown */
	const char *manufacturer;      /* from the profile, or NULL */
	uint64_t seen[NUM_WORDS];      /* fields this meter has sent */
	uint64_t announced[NUM_WORDS]; /* fields with a config sent on this connection */
	uint32_t derived_seen;         /* hm_ha_derived[] members the derived JSON has carried */
	uint32_t derived_announced;    /* of those, configs sent on this connection */
	bool online;                   /* the meter's source is delivering */
	char name[HM_CONF_NAME];       /* [meter NAME] */
	char state_topic[HM_QUEUE_TOPIC_MAX];
	char avail_topic[HM_QUEUE_TOPIC_MAX];
	char derived_topic[HM_QUEUE_TOPIC_MAX];
};

/* A QoS >= 1 message handed to libmosquitto and not yet acknowledged. */
struct mq_copy {
	bool used;
	int mid;      /* libmosquitto's message id */
	uint64_t seq; /* publish order */
	struct hm_queue_msg msg;
};

struct mq {
	struct hm_daemon *d;
	const struct hm_mqtt_conf *c;
	struct mosquitto *mosq;
	sd_event_source *io;              /* the broker socket, while there is one */
	int io_fd;                        /* the fd io watches */
	sd_event_source *misc;            /* loop_misc timer */
	sd_event_source *retry;           /* reconnect timer (armed while waiting) */
	struct hm_resolve *lookup;        /* the broker name lookup in progress, or NULL */
	char addr[ADDRS_MAX][NI_MAXHOST]; /* the name's addresses, numeric, tried in order */
	unsigned n_addr, next_addr;       /* addresses held; the next to try */
	bool connected;                   /* CONNACK received, not yet disconnected */
	bool stopping;
	unsigned retry_ms;
	struct hm_queue q;
	struct mq_meter *meter; /* one per [meter] of the configuration */
	unsigned n_meters;
	char status_topic[HM_QUEUE_TOPIC_MAX];
	char topic[HM_QUEUE_TOPIC_MAX];         /* scratch */
	char payload[HM_QUEUE_PAYLOAD_MAX];     /* scratch */
	char rawhex[2 * HM_HDLC_FRAME_MAX + 1]; /* a frame in hex, both flags */
	struct hm_ratelimit rl_conn, rl_queue;
	/* counters (debug log at stop) */
	uint64_t published, publish_errors, connects, raw_dropped;
	uint64_t unheld;      /* readings dropped while away with queue = 0, or too long to hold */
	uint64_t done;        /* publishes libmosquitto reports complete (PUBACK for QoS 1) */
	struct mq_copy *copy; /* TRACK_MAX slots, allocated at start */
	unsigned n_copies;    /* slots used */
	uint64_t seq;         /* publish order of the next copy */
	uint64_t untracked;   /* QoS >= 1 messages sent without a copy (table full) */
};

/* True if a message may be logged now; says once how many were not. */
static bool limited(struct hm_ratelimit *rl)
{
	unsigned sup = 0;
	bool ok = hm_ratelimit_ok(rl, &sup);
	if (sup)
		hm_log(LOG_WARNING, "mqtt: %u similar messages suppressed", sup);
	return ok;
}

/* The running instance, for hm_mqtt_publish(). */
static struct mq *running;

/* A reload (SIGHUP) stops every sink and starts it again with the new
 * configuration.  Readings held while the broker was away would die with
 * the old instance (the soak test lost hourly readings that way), so the
 * stopping instance leaves its queue here and the next start takes the
 * messages over, oldest first, before anything new.  Empty except between
 * the stop and the start of a reload. */
static struct hm_queue carried;

static void schedule_retry(struct mq *s);
static void update_io(struct mq *s);
static int topic_join(char *buf, size_t cap, const char *prefix, const char *meter, const char *leaf);

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Keeps a copy of a QoS >= 1 message until its PUBACK; false if the table
 * is full or the message too big for a slot (then it goes without one). */
static bool keep_copy(struct mq *s, int mid, const char *topic, const char *payload, size_t len, int qos, bool retain,
                      bool energy)
{
	size_t tl = strlen(topic);
	if (s->n_copies >= TRACK_MAX || tl >= HM_QUEUE_TOPIC_MAX || len > HM_QUEUE_PAYLOAD_MAX)
		return false;
	for (unsigned i = 0; i < TRACK_MAX; i++) {
		struct mq_copy *c = &s->copy[i];
		if (c->used)
			continue;
		c->used = true;
		c->mid = mid;
		c->seq = s->seq++;
		memcpy(c->msg.topic, topic, tl + 1);
		memcpy(c->msg.payload, payload, len);
		c->msg.payload_len = len;
		c->msg.qos = qos;
		c->msg.retain = retain;
		c->msg.energy = energy;
		s->n_copies++;
		return true;
	}
	return false; /* cannot happen: n_copies counts the used slots */
}

static int publish(struct mq *s, const char *topic, const char *payload, size_t len, int qos, bool retain, bool energy)
{
	if (!s->connected)
		return -ENOTCONN;
	int mid = 0;
	int rc = mosquitto_publish(s->mosq, &mid, topic, (int)len, payload, qos, retain);
	if (rc != MOSQ_ERR_SUCCESS) {
		s->publish_errors++;
		if (limited(&s->rl_conn))
			hm_log(LOG_WARNING, "mqtt: publish to %s failed: %s", topic, mosquitto_strerror(rc));
		return rc == MOSQ_ERR_NO_CONN ? -ENOTCONN : -EIO;
	}
	s->published++;
	if (qos > 0 && !keep_copy(s, mid, topic, payload, len, qos, retain, energy)) {
		s->untracked++;
		if (limited(&s->rl_queue))
			hm_log(LOG_WARNING,
			       "mqtt: %u messages await PUBACK: %s sent without a copy (%" PRIu64
			       " so far; lost if a reload comes before its PUBACK)",
			       s->n_copies, topic, s->untracked);
	}
	update_io(s);
	return 0;
}

static int publish_str(struct mq *s, const char *topic, const char *payload, int qos, bool retain)
{
	return publish(s, topic, payload, strlen(payload), qos, retain, false);
}

/* True if a held message of this QoS may go now: a QoS >= 1 one only with a
 * free copy slot (else it stays held until a PUBACK frees one). */
static bool room_for(const struct mq *s, int qos)
{
	return qos == 0 || s->n_copies < TRACK_MAX;
}

static void publish_availability(struct mq *s, unsigned i)
{
	publish_str(s, s->meter[i].avail_topic,
	            s->meter[i].online ? HM_HA_PAYLOAD_AVAILABLE : HM_HA_PAYLOAD_NOT_AVAILABLE, s->c->qos, true);
}

/* Sends a discovery config for every field meter i has sent and that was
 * not announced on this connection yet. */
static void publish_discovery(struct mq *s, unsigned i)
{
	struct mq_meter *mm = &s->meter[i];
	if (!s->c->homeassistant || !mm->identified || !s->connected)
		return;
	const struct hm_ha_device dev = {
	    .meter = mm->name,
	    .ident = mm->ident,
	    .manufacturer = mm->manufacturer,
	    .model = mm->model[0] ? mm->model : NULL,
	    .sw_version = mm->sw_version[0] ? mm->sw_version : NULL,
	};
	const struct hm_ha_topics t = {
	    .discovery_prefix = s->c->discovery_prefix,
	    .state = mm->state_topic,
	    .daemon_status = s->status_topic,
	    .availability = mm->avail_topic,
	    .derived = mm->derived_topic,
	};
	for (int f = 0; f < HM_NUM_COUNT; f++) {
		uint64_t bit = UINT64_C(1) << (f % 64);
		if (!(mm->seen[f / 64] & bit) || (mm->announced[f / 64] & bit))
			continue;
		int tl = hm_ha_config_topic(&t, &dev, (enum hm_num_field)f, s->topic, sizeof s->topic);
		int pl = hm_ha_config_payload(&t, &dev, (enum hm_num_field)f, s->payload, sizeof s->payload);
		if (tl < 0 || pl < 0) {
			hm_log_meter(LOG_ERR, dev.meter, "mqtt: discovery message for %s too long",
			             hm_num_info[f].name);
			continue;
		}
		if (publish(s, s->topic, s->payload, (size_t)pl, s->c->qos, true, false) == 0)
			mm->announced[f / 64] |= bit;
	}
	for (unsigned k = 0; k < HM_HA_DERIVED_COUNT; k++) {
		uint32_t bit = UINT32_C(1) << k;
		if (!(mm->derived_seen & bit) || (mm->derived_announced & bit))
			continue;
		int tl = hm_ha_derived_topic(&t, &dev, k, s->topic, sizeof s->topic);
		int pl = hm_ha_derived_payload(&t, &dev, k, s->payload, sizeof s->payload);
		if (tl < 0 || pl < 0) {
			hm_log_meter(LOG_ERR, dev.meter, "mqtt: discovery message for %s too long",
			             hm_ha_derived[k].member);
			continue;
		}
		if (publish(s, s->topic, s->payload, (size_t)pl, s->c->qos, true, false) == 0)
			mm->derived_announced |= bit;
	}
}

/* Hands held messages to libmosquitto, oldest first, while connected. */
static void flush_queue(struct mq *s)
{
	const struct hm_queue_msg *m;
	unsigned n = 0;
	while (s->connected && (m = hm_queue_peek(&s->q)) && room_for(s, m->qos)) {
		if (publish(s, m->topic, m->payload, m->payload_len, m->qos, m->retain, m->energy) < 0)
			break;
		hm_queue_pop(&s->q);
		n++;
	}
	if (n)
		hm_log(LOG_INFO, "mqtt: sent %u held message%s, %u still held", n, n == 1 ? "" : "s",
		       hm_queue_len(&s->q));
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mq *s = obj;
	(void)mosq;
	if (rc != 0) {
		hm_log(LOG_ERR, "mqtt: %s:%u refused the connection: %s", s->c->host, s->c->port,
		       mosquitto_connack_string(rc));
		return; /* libmosquitto drops the link; on_disconnect schedules the retry */
	}
	s->connected = true;
	s->retry_ms = 0;
	s->n_addr = s->next_addr = 0; /* after a loss: back off, resolve afresh */
	s->connects++;
	hm_log(LOG_INFO, "mqtt: connected to %s:%u", s->c->host, s->c->port);
	publish_str(s, s->status_topic, HM_HA_PAYLOAD_AVAILABLE, s->c->qos, true);
	for (unsigned i = 0; i < s->n_meters; i++) {
		/* a new connection may be a broker that lost its retained
		 * messages: announce everything again */
		memset(s->meter[i].announced, 0, sizeof s->meter[i].announced);
		s->meter[i].derived_announced = 0;
		publish_discovery(s, i);
		publish_availability(s, i);
	}
	flush_queue(s);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct mq *s = obj;
	(void)mosq;
	s->done++;
	for (unsigned i = 0; i < TRACK_MAX && s->n_copies; i++) {
		if (s->copy[i].used && s->copy[i].mid == mid) {
			s->copy[i].used = false;
			s->n_copies--;
			break;
		}
	}
	if (!s->stopping)
		flush_queue(s); /* held readings waiting for a free copy slot */
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mq *s = obj;
	(void)mosq;
	bool was = s->connected;
	s->connected = false;
	if (s->stopping)
		return;
	if (was && limited(&s->rl_conn))
		hm_log(LOG_WARNING, "mqtt: lost %s:%u: %s", s->c->host, s->c->port,
		       rc ? mosquitto_strerror(rc) : "disconnected");
	schedule_retry(s);
}

static void drop_io(struct mq *s)
{
	s->io = sd_event_source_disable_unref(s->io);
	s->io_fd = -1;
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata);

/* Watches libmosquitto's socket for what it needs now. */
static void update_io(struct mq *s)
{
	int fd = mosquitto_socket(s->mosq);
	if (fd != s->io_fd)
		drop_io(s);
	if (fd < 0)
		return;
	uint32_t ev = EPOLLIN | (mosquitto_want_write(s->mosq) ? EPOLLOUT : 0);
	if (!s->io) {
		int r = sd_event_add_io(s->d->event, &s->io, fd, ev, on_io, s);
		if (r < 0) {
			hm_log(LOG_ERR, "mqtt: cannot watch the broker socket: %s", strerror(-r));
			return;
		}
		s->io_fd = fd;
	} else {
		sd_event_source_set_io_events(s->io, ev);
	}
}

/* A loop call failed (rc).  libmosquitto has usually closed the socket and
 * called on_disconnect already, which armed the retry; if not, do it here. */
static void link_failed(struct mq *s, int rc)
{
	drop_io(s);
	if (s->retry || s->stopping)
		return;
	if (limited(&s->rl_conn))
		hm_log(LOG_WARNING, "mqtt: %s %s:%u: %s", s->connected ? "lost" : "cannot reach", s->c->host,
		       s->c->port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	s->connected = false;
	schedule_retry(s);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	struct mq *s = userdata;
	int rc = MOSQ_ERR_SUCCESS;
	(void)es;
	(void)fd;
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rc = mosquitto_loop_read(s->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && (revents & EPOLLOUT) && mosquitto_socket(s->mosq) >= 0)
		rc = mosquitto_loop_write(s->mosq, 1);
	if (rc != MOSQ_ERR_SUCCESS)
		link_failed(s, rc);
	else
		update_io(s);
	return 0;
}

static uint64_t misc_interval_us(const struct mq *s)
{
	return (uint64_t)s->c->keepalive_s * 1000000u / MISC_FRACTION; /* keepalive >= 5 s (config.c) */
}

static int on_misc(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct mq *s = userdata;
	(void)usec;
	if (mosquitto_socket(s->mosq) >= 0) {
		int rc = mosquitto_loop_misc(s->mosq);
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
			link_failed(s, rc);
		else
			update_io(s);
	}
	sd_event_source_set_time_relative(es, misc_interval_us(s));
	return 0;
}

/* Starts libmosquitto's connect to host (a numeric address, or with TLS the name). */
static void connect_to(struct mq *s, const char *host)
{
	/* libmosquitto closes the old socket and the new one may get its
	 * number: never keep a watch across a connect */
	drop_io(s);
	int rc = mosquitto_connect_async(s->mosq, host, s->c->port, (int)s->c->keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		if (limited(&s->rl_conn))
			hm_log(LOG_WARNING, "mqtt: connecting to %s:%u: %s", s->c->host, s->c->port,
			       rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		schedule_retry(s);
		return;
	}
	update_io(s);
}

static void on_resolved(void *ctx, int err, const struct addrinfo *ai)
{
	struct mq *s = ctx;
	s->lookup = NULL;
	s->n_addr = s->next_addr = 0;
	for (; err == 0 && ai && s->n_addr < ADDRS_MAX; ai = ai->ai_next)
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, s->addr[s->n_addr], NI_MAXHOST, NULL, 0, NI_NUMERICHOST) ==
		    0)
			s->n_addr++;
	if (err == 0 && s->n_addr == 0)
		err = EAI_NONAME;
	if (err != 0) {
		if (limited(&s->rl_conn))
			hm_log(LOG_WARNING, "mqtt: cannot resolve %s: %s", s->c->host, gai_strerror(err));
		schedule_retry(s);
		return;
	}
	hm_log(LOG_DEBUG, "mqtt: %s is %s%s", s->c->host, s->addr[0], s->n_addr > 1 ? " (and more)" : "");
	if (s->c->tls) {
		s->n_addr = 0; /* libmosquitto walks the name's addresses itself */
		connect_to(s, s->c->host);
	} else {
		connect_to(s, s->addr[s->next_addr++]);
	}
}

static bool is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void begin_connect(struct mq *s)
{
	if (is_numeric(s->c->host)) {
		connect_to(s, s->c->host);
		return;
	}
	int r = hm_resolve_start(s->d, s->c->host, s->c->port, SOCK_STREAM, on_resolved, s, &s->lookup);
	if (r < 0) {
		hm_log(LOG_WARNING, "mqtt: cannot resolve %s: %s", s->c->host, strerror(-r));
		schedule_retry(s);
	}
}

static int on_retry(sd_event_source *es, uint64_t usec, void *userdata)
{
	struct mq *s = userdata;
	(void)usec;
	(void)es;
	s->retry = sd_event_source_disable_unref(s->retry);
	if (s->next_addr < s->n_addr)
		connect_to(s, s->addr[s->next_addr++]);
	else
		begin_connect(s);
	return 0;
}

static void schedule_retry(struct mq *s)
{
	if (s->stopping || s->retry)
		return;
	drop_io(s);
	unsigned delay_ms = 0; /* the name's next address: at once */
	if (s->next_addr >= s->n_addr) {
		s->n_addr = s->next_addr = 0; /* all tried: back off, then resolve again */
		s->retry_ms = s->retry_ms ? s->retry_ms * 2 : RETRY_MIN_MS;
		if (s->retry_ms > RETRY_MAX_MS)
			s->retry_ms = RETRY_MAX_MS;
		delay_ms = s->retry_ms;
	}
	int r = sd_event_add_time_relative(s->d->event, &s->retry, CLOCK_MONOTONIC, (uint64_t)delay_ms * 1000u, 0,
	                                   on_retry, s);
	if (r < 0)
		hm_log(LOG_ERR, "mqtt: cannot arm the reconnect timer: %s", strerror(-r));
	else
		hm_log(LOG_DEBUG, "mqtt: reconnecting in %u ms", delay_ms);
}

/* Meter m's slot.  The table follows the configuration's order and m->conf
 * points into the configuration's meter array (daemon.h), so the slot is a
 * subtraction, not a search: constant cost per reading at 10,000 meters
 * (a search by name cost a strcmp per configured meter per reading).  The
 * name check guards against a meter of another configuration. */
static struct mq_meter *meter_of(struct mq *s, const struct hm_meter *m, unsigned *index)
{
	const struct hm_config *c = s->d->conf;
	if (m->conf < c->meter || m->conf >= c->meter + c->n_meters)
		return NULL;
	size_t i = (size_t)(m->conf - c->meter);
	if (i >= s->n_meters || strcmp(s->meter[i].name, m->conf->name) != 0)
		return NULL;
	*index = (unsigned)i;
	return &s->meter[i];
}

static void copy_text(char *dst, const struct hm_reading *r, enum hm_text_field f)
{
	char t[HM_TEXT_MAX];
	const char *s = hm_reading_text(r, f, t);
	if (s)
		snprintf(dst, HM_TEXT_MAX, "%s", s);
}

/* Learns identity and fields from a reading; true if discovery has news. */
static bool learn(struct mq_meter *mm, const struct hm_reading *r)
{
	bool news = false;
	const char *ident = hm_ha_ident(r);
	if (ident && (!mm->identified || strcmp(ident, mm->ident) != 0)) {
		snprintf(mm->ident, sizeof mm->ident, "%s", ident);
		mm->identified = true;
		memset(mm->announced, 0, sizeof mm->announced);
		mm->derived_announced = 0;
		news = true;
	}
	copy_text(mm->model, r, HM_TEXT_METER_MODEL);
	copy_text(mm->sw_version, r, HM_TEXT_LIST_VERSION);
	if (r->profile) {
		const struct hm_profile *p = hm_profile_find(r->profile);
		if (p)
			mm->manufacturer = p->manufacturer;
	}
	for (int w = 0; w < NUM_WORDS; w++) {
		if (r->num_set[w] & ~mm->seen[w])
			news = true;
		mm->seen[w] |= r->num_set[w];
	}
	return news && mm->identified;
}

/* Publishes payload on topic now, or holds it (in order, behind anything
 * already held) while the broker is away. */
static void send_or_hold(struct mq *s, const struct hm_meter *m, const char *topic, const char *payload, size_t len,
                         bool energy)
{
	if (hm_queue_len(&s->q) == 0 && (room_for(s, s->c->qos) || !s->q.cap) &&
	    publish(s, topic, payload, len, s->c->qos, s->c->retain, energy) == 0)
		return;
	int rc = s->q.cap ? hm_queue_push(&s->q, topic, payload, len, s->c->qos, s->c->retain, energy) : -ENOBUFS;
	if (rc < 0) {
		s->unheld++;
		if (limited(&s->rl_queue))
			hm_log_meter(LOG_WARNING, m->conf->name,
			             "mqtt: broker away, reading dropped (%s; %" PRIu64 " so far)",
			             rc == -ENOBUFS ? "queue = 0" : "too long to hold", s->unheld);
	} else if (rc > 0) {
		if (limited(&s->rl_queue))
			hm_log_meter(LOG_WARNING, m->conf->name,
			             "mqtt: hold queue full (%u): dropped the oldest %s reading (%" PRIu64
			             " power-only, %" PRIu64 " with energy totals dropped so far)",
			             s->q.cap, rc == 2 ? "energy" : "power-only", s->q.dropped_power,
			             s->q.dropped_energy);
	}
	flush_queue(s);
}

/* per_value = yes: every value of r on <prefix>/<meter>/<field>, numbers as
 * exact decimals, texts as they are (one message each). */
static void publish_values(struct mq *s, const struct hm_meter *m, const struct hm_reading *r)
{
	for (int f = 0; f < HM_NUM_COUNT; f++) {
		if (!hm_reading_has_num(r, f))
			continue;
		int len = hm_num_format(r->num[f], s->payload, sizeof s->payload);
		if (len < 0 ||
		    topic_join(s->topic, sizeof s->topic, s->c->topic_prefix, m->conf->name, hm_num_info[f].name) < 0)
			continue; /* cannot happen: a number is < 40 characters, the prefix was checked at start */
		bool energy = hm_num_info[f].state_class && strcmp(hm_num_info[f].state_class, "total_increasing") == 0;
		send_or_hold(s, m, s->topic, s->payload, (size_t)len, energy);
	}
	for (int f = 0; f < HM_TEXT_COUNT; f++) {
		char t[HM_TEXT_MAX];
		const char *v = hm_reading_text(r, f, t);
		if (!v || topic_join(s->topic, sizeof s->topic, s->c->topic_prefix, m->conf->name, hm_text_name[f]) < 0)
			continue;
		send_or_hold(s, m, s->topic, v, strlen(v), false);
	}
}

static void mq_state(struct mq *s, struct hm_meter *m, const struct hm_reading *r)
{
	unsigned i;
	struct mq_meter *mm = meter_of(s, m, &i);
	if (!mm)
		return;

	if (learn(mm, r))
		publish_discovery(s, i);

	if (s->c->per_value) {
		publish_values(s, m, r);
		return;
	}
	int len = hm_format_state(m->conf->name, r, s->payload, sizeof s->payload);
	if (len < 0) {
		hm_log_meter(LOG_ERR, m->conf->name, "mqtt: state message too long for %zu bytes", sizeof s->payload);
		return;
	}
	send_or_hold(s, m, mm->state_topic, s->payload, (size_t)len, hm_format_has_energy(r));
}

/* P/M/derived: {"meter":"M", hm_derived_json() members}, after the state
 * message of the hourly list that changed them (daemon.h); held while the
 * broker is away, like energy totals. */
static void mq_derived(struct mq *s, struct hm_meter *m)
{
	unsigned i;
	struct mq_meter *mm = meter_of(s, m, &i);
	struct hm_strbuf b;
	if (!mm || m->derived_len <= 0)
		return;
	/* A figure gets its sensor once the JSON carries it: yesterday's
	 * after the first midnight, export only from a meter that has it. */
	uint32_t had = mm->derived_seen;
	for (unsigned k = 0; k < HM_HA_DERIVED_COUNT; k++) {
		char key[64];
		snprintf(key, sizeof key, "\"%s\":", hm_ha_derived[k].member);
		if (strstr(m->derived_json, key))
			mm->derived_seen |= UINT32_C(1) << k;
	}
	if (mm->derived_seen != had && mm->identified)
		publish_discovery(s, i); /* uses s->payload: before the message is built */
	hm_strbuf_init(&b, s->payload, sizeof s->payload);
	hm_strbuf_puts(&b, "{\"meter\":");
	hm_strbuf_json(&b, m->conf->name);
	hm_strbuf_puts(&b, ",");
	hm_strbuf_add(&b, m->derived_json, (size_t)m->derived_len);
	hm_strbuf_puts(&b, "}");
	if (b.overflow) {
		hm_log_meter(LOG_ERR, m->conf->name, "mqtt: derived message too long for %zu bytes", sizeof s->payload);
		return;
	}
	if (hm_queue_len(&s->q) == 0 && (room_for(s, s->c->qos) || !s->q.cap) &&
	    publish(s, mm->derived_topic, s->payload, b.len, s->c->qos, s->c->retain, true) == 0)
		return;
	if (hm_queue_push(&s->q, mm->derived_topic, s->payload, b.len, s->c->qos, s->c->retain, true) > 0 &&
	    limited(&s->rl_queue))
		hm_log_meter(LOG_WARNING, m->conf->name, "mqtt: hold queue full (%u): dropped the oldest message",
		             s->q.cap);
	flush_queue(s);
}

static void mq_reading(void *state, struct hm_meter *m, const struct hm_reading *r)
{
	mq_state(state, m, r);
	mq_derived(state, m);
}

static void mq_availability(void *state, struct hm_meter *m, bool online)
{
	struct mq *s = state;
	unsigned i;
	struct mq_meter *mm = meter_of(s, m, &i);
	if (!mm)
		return;
	mm->online = online;
	publish_availability(s, i);
}

static void mq_frame(void *state, struct hm_meter *m, const struct hm_frame *f)
{
	struct mq *s = state;
	static const char hex[] = "0123456789abcdef";
	if (!s->c->publish_raw || f->err != HM_ERR_OK || !f->raw)
		return;
	if (!s->connected) {
		s->raw_dropped++; /* raw frames are diagnostics: not held */
		return;
	}
	/* f->raw runs from the opening flag to the FCS (the closing flag may
	 * be the next frame's opening one): put the closing flag back, so
	 * that the message is the whole frame as the meter sent it. */
	size_t n = f->raw_len;
	if (2 * (n + 1) + 1 > sizeof s->rawhex)
		n = (sizeof s->rawhex - 1) / 2 - 1; /* cannot happen: raw_len <= HM_HDLC_FRAME_MAX - 1 */
	for (size_t k = 0; k <= n; k++) {
		uint8_t b = k < n ? f->raw[k] : HM_HDLC_FLAG;
		s->rawhex[2 * k] = hex[b >> 4];
		s->rawhex[2 * k + 1] = hex[b & 15];
	}
	snprintf(s->topic, sizeof s->topic, "%s/%s/raw", s->c->topic_prefix, m->conf->name);
	publish(s, s->topic, s->rawhex, 2 * (n + 1), 0, false, false);
}

static void mq_free(struct mq *s)
{
	if (running == s)
		running = NULL;
	drop_io(s);
	s->misc = sd_event_source_disable_unref(s->misc);
	s->retry = sd_event_source_disable_unref(s->retry);
	if (s->lookup)
		hm_resolve_cancel(s->lookup);
	if (s->mosq)
		mosquitto_destroy(s->mosq);
	mosquitto_lib_cleanup();
	hm_queue_free(&s->q);
	free(s->copy);
	free(s->meter);
	free(s);
}

/* A reload with messages libmosquitto sent but the broker never
 * acknowledged: a new hold queue with those first (in publish order), then
 * the held ones, replaces s->q, so the next instance sends them first.
 * 0, or -ENOMEM (then the copies are lost and said so by the caller). */
static int carry_copies(struct mq *s)
{
	struct hm_queue nq;
	unsigned n = s->n_copies;
	int r = hm_queue_init(&nq, n + hm_queue_len(&s->q));
	if (r < 0)
		return r;
	while (s->n_copies) {
		struct mq_copy *first = NULL;
		for (unsigned i = 0; i < TRACK_MAX; i++)
			if (s->copy[i].used && (!first || s->copy[i].seq < first->seq))
				first = &s->copy[i];
		const struct hm_queue_msg *m = &first->msg;
		hm_queue_push(&nq, m->topic, m->payload, m->payload_len, m->qos, m->retain, m->energy);
		first->used = false;
		s->n_copies--;
	}
	const struct hm_queue_msg *m;
	while ((m = hm_queue_peek(&s->q))) {
		hm_queue_push(&nq, m->topic, m->payload, m->payload_len, m->qos, m->retain, m->energy);
		hm_queue_pop(&s->q);
	}
	nq.queued = s->q.queued;
	hm_queue_free(&s->q);
	s->q = nq;
	hm_log(LOG_INFO, "mqtt: reload: %u unacknowledged messages go first after it", n);
	return 0;
}

static void mq_stop(void *state)
{
	struct mq *s = state;
	s->stopping = true;
	if (s->connected) {
		/* A clean DISCONNECT suppresses the will: say offline ourselves. */
		for (unsigned i = 0; i < s->n_meters; i++) {
			s->meter[i].online = false;
			publish_availability(s, i);
		}
		publish_str(s, s->status_topic, HM_HA_PAYLOAD_NOT_AVAILABLE, s->c->qos, true);
		/* Bounded flush: until every publish is acknowledged (messages
		 * beyond libmosquitto's in-flight window wait for PUBACKs), at
		 * most STOP_FLUSH_MS.  The loop is gone by now: poll() here.
		 * (mosquitto_loop()'s own select() was seen to sit on PUBACKs
		 * for a second and more.) */
		uint64_t end = mono_us() + STOP_FLUSH_MS * 1000u;
		while (s->connected && s->done < s->published && mono_us() < end) {
			struct pollfd p = {.fd = mosquitto_socket(s->mosq), .events = POLLIN};
			if (mosquitto_want_write(s->mosq))
				p.events |= POLLOUT;
			if (p.fd < 0 || poll(&p, 1, 100) < 0)
				break;
			int rc = MOSQ_ERR_SUCCESS;
			if (p.revents & (POLLIN | POLLHUP | POLLERR))
				rc = mosquitto_loop_read(s->mosq, 1);
			if (rc == MOSQ_ERR_SUCCESS && (p.revents & POLLOUT))
				rc = mosquitto_loop_write(s->mosq, 1);

			if (rc != MOSQ_ERR_SUCCESS)
				break;
		}
		if (s->done < s->published)
			hm_log(LOG_WARNING, "mqtt: stopping with %" PRIu64 " messages unacknowledged",
			       s->published - s->done);
		mosquitto_disconnect(s->mosq);
		mosquitto_loop_write(s->mosq, 1);
	}
	/* Inside the loop (a reload, from the SIGHUP handler) a start follows;
	 * after sd_event_loop() returned, nothing does. */
	unsigned pending = s->n_copies + hm_queue_len(&s->q);
	bool carry = pending && !carried.n && sd_event_get_state(s->d->event) == SD_EVENT_RUNNING;
	if (carry && s->n_copies)
		carry = carry_copies(s) == 0;
	if (s->n_copies && !carry)
		hm_log(LOG_WARNING, "mqtt: stopping with %u messages never acknowledged", s->n_copies);
	if (hm_queue_len(&s->q) && !carry)
		hm_log(LOG_WARNING, "mqtt: stopping with %u readings never delivered", hm_queue_len(&s->q));
	hm_log(LOG_DEBUG,
	       "mqtt: %" PRIu64 " published, %" PRIu64 " publish errors, %" PRIu64 " connects, %" PRIu64
	       " held, %" PRIu64 "/%" PRIu64 " power/energy evicted, %" PRIu64 " not held, %" PRIu64
	       " raw frames dropped while away, %" PRIu64 " sent without a copy",
	       s->published, s->publish_errors, s->connects, s->q.queued, s->q.dropped_power, s->q.dropped_energy,
	       s->unheld, s->raw_dropped, s->untracked);
	if (carry) {
		hm_log(LOG_INFO, "mqtt: reload: %u held messages carried over", hm_queue_len(&s->q));
		hm_queue_free(&carried);
		carried = s->q;
		memset(&s->q, 0, sizeof s->q);
	}
	mq_free(s);
}

static int topic_join(char *buf, size_t cap, const char *prefix, const char *meter, const char *leaf)
{
	int n = meter ? snprintf(buf, cap, "%s/%s/%s", prefix, meter, leaf) : snprintf(buf, cap, "%s/%s", prefix, leaf);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int setup(struct mq *s)
{
	const struct hm_mqtt_conf *c = s->c;
	char client_id[HM_CONF_NAME + 16];
	int rc;

	if (c->client_id[0]) {
		snprintf(client_id, sizeof client_id, "%s", c->client_id);
	} else {
		char host[HM_CONF_NAME] = "localhost";
		gethostname(host, sizeof host - 1);
		snprintf(client_id, sizeof client_id, "hanmeterd-%s", host);
	}
	s->mosq = mosquitto_new(client_id, true, s);
	if (!s->mosq)
		return -errno;
	if (c->username[0]) {
		rc = mosquitto_username_pw_set(s->mosq, c->username, c->password[0] ? c->password : NULL);
		if (rc != MOSQ_ERR_SUCCESS)
			goto fail;
	}
	if (c->tls) {
		rc = mosquitto_tls_set(s->mosq, c->cafile[0] ? c->cafile : NULL, c->capath[0] ? c->capath : NULL,
		                       c->certfile[0] ? c->certfile : NULL, c->keyfile[0] ? c->keyfile : NULL, NULL);
		if (rc == MOSQ_ERR_INVAL && !c->cafile[0] && !c->capath[0])
			rc = MOSQ_ERR_SUCCESS; /* no CA given: the system store, below */
		if (rc != MOSQ_ERR_SUCCESS)
			goto fail;
		if (!c->cafile[0] && !c->capath[0]) {
			rc = mosquitto_int_option(s->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
			if (rc != MOSQ_ERR_SUCCESS)
				goto fail;
		}
		rc = mosquitto_tls_insecure_set(s->mosq, c->tls_insecure);
		if (rc != MOSQ_ERR_SUCCESS)
			goto fail;
	}
	rc = mosquitto_will_set(s->mosq, s->status_topic, (int)strlen(HM_HA_PAYLOAD_NOT_AVAILABLE),
	                        HM_HA_PAYLOAD_NOT_AVAILABLE, c->qos, true);
	if (rc != MOSQ_ERR_SUCCESS)
		goto fail;
	rc = mosquitto_int_option(s->mosq, MOSQ_OPT_SEND_MAXIMUM, INFLIGHT_MAX);
	if (rc != MOSQ_ERR_SUCCESS)
		goto fail;
	mosquitto_connect_callback_set(s->mosq, on_connect);
	mosquitto_disconnect_callback_set(s->mosq, on_disconnect);
	mosquitto_publish_callback_set(s->mosq, on_publish);
	return 0;
fail:
	/* never name the password; the file paths are fine */
	hm_log(LOG_ERR, "mqtt: setting up the client: %s",
	       rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	return -EINVAL;
}

/* After a reload: the previous instance's held messages, in order, into
 * this one's queue (its own eviction rules apply if it is smaller; with
 * queue = 0 they are dropped and counted).  They keep the topics they were
 * made for. */
static void take_carried(struct mq *s)
{
	const struct hm_queue_msg *m;
	unsigned n = 0;
	while ((m = hm_queue_peek(&carried))) {
		if (!s->q.cap ||
		    hm_queue_push(&s->q, m->topic, m->payload, m->payload_len, m->qos, m->retain, m->energy) < 0)
			s->unheld++;
		else
			n++;
		hm_queue_pop(&carried);
	}
	if (carried.cap)
		hm_log(LOG_INFO, "mqtt: %u held messages taken over from before the reload", n);
	hm_queue_free(&carried);
}

static int mq_start(struct hm_daemon *d, void **state)
{
	struct mq *s = calloc(1, sizeof *s);
	int r;
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->c = &d->conf->mqtt;
	s->io_fd = -1;
	s->rl_conn = (struct hm_ratelimit)HM_RATELIMIT_INIT(60, 5);
	s->rl_queue = (struct hm_ratelimit)HM_RATELIMIT_INIT(60, 3);
	mosquitto_lib_init();
	const struct hm_config *conf = d->conf;
	s->n_meters = conf->n_meters;
	s->meter = calloc(s->n_meters ? s->n_meters : 1, sizeof *s->meter);
	s->copy = calloc(TRACK_MAX, sizeof *s->copy);
	r = s->meter && s->copy ? 0 : -ENOMEM;
	if (r == 0 && s->c->queue_max && (r = hm_queue_init(&s->q, s->c->queue_max)) < 0)
		hm_log(LOG_ERR, "mqtt: cannot allocate a hold queue of %u messages (%zu bytes each)", s->c->queue_max,
		       sizeof(struct hm_queue_msg));
	if (r < 0)
		goto fail;
	take_carried(s);
	r = topic_join(s->status_topic, sizeof s->status_topic, s->c->topic_prefix, NULL, "status");
	for (unsigned i = 0; i < s->n_meters && r == 0; i++) {
		const char *name = conf->meter[i].name;
		snprintf(s->meter[i].name, sizeof s->meter[i].name, "%s", name);
		r = topic_join(s->meter[i].state_topic, HM_QUEUE_TOPIC_MAX, s->c->topic_prefix, name, "state");
		if (r == 0)
			r = topic_join(s->meter[i].avail_topic, HM_QUEUE_TOPIC_MAX, s->c->topic_prefix, name,
			               "availability");
		if (r == 0)
			r = topic_join(s->meter[i].derived_topic, HM_QUEUE_TOPIC_MAX, s->c->topic_prefix, name,
			               "derived");
	}
	if (r < 0) {
		hm_log(LOG_ERR, "mqtt: topic_prefix too long");
		goto fail;
	}
	r = setup(s);
	if (r < 0)
		goto fail;
	r = sd_event_add_time_relative(d->event, &s->misc, CLOCK_MONOTONIC, misc_interval_us(s), 0, on_misc, s);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(s->misc, SD_EVENT_ON);
	running = s;
	begin_connect(s);
	*state = s;
	return 0;
fail:
	mq_free(s);
	return r;
}

static bool mq_enabled(const struct hm_config *c)
{
	return c->mqtt.enabled;
}

int hm_mqtt_publish(const char *topic, const char *payload, int qos, bool retain)
{
	if (!running)
		return -ENOTCONN;
	return publish_str(running, topic, payload, qos, retain);
}

const struct hm_sink_ops hm_sink_mqtt = {
    .name = "mqtt",
    .enabled = mq_enabled,
    .start = mq_start,
    .reading = mq_reading,
    .availability = mq_availability,
    .frame = mq_frame,
    .stop = mq_stop,
};
