/*
 * resolve.c - host names to addresses without blocking the loop.
 *
 * glibc's getaddrinfo_a(GAI_NOWAIT) runs the lookup in a helper thread (with
 * every signal blocked) and, when done, queues RESOLVE_SIGNAL to the process
 * (SIGEV_SIGNAL).  The signal is blocked everywhere and read by the loop
 * through sd-event's signalfd.  Not SIGEV_THREAD: glibc runs that callback in
 * a new thread with every signal *unblocked*, so a SIGTERM arriving at that
 * moment was delivered there and killed the daemon instead of stopping it
 * cleanly.  Everything else (callbacks, freeing) happens on the loop.  A request glibc is still
 * working on cannot be cancelled; it is kept, with no callback, until
 * glibc lets go of it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* At exit, how long to wait for lookups glibc is still running before
 * leaving them alone. */
#define EXIT_WAIT_MS 2000

/* "A lookup finished": a real-time signal (queued, never lost or merged
 * with SIGTERM/SIGHUP), blocked and read through sd-event. */
#define RESOLVE_SIGNAL (SIGRTMIN + 1)

struct hm_resolve {
	struct gaicb gcb;        /* glibc's request (points at host, port, hints) */
	struct addrinfo hints;   /* SOCK_STREAM etc., any family */
	char host[HM_CONF_STR];  /* the name being resolved */
	char port[8];            /* "65535" */
	hm_resolve_cb cb;        /* NULL once cancelled */
	void *ctx;               /* cb's argument */
	struct hm_resolve *next; /* in the resolver's list */
};

struct hm_resolver {
	sd_event_source *sig;    /* the loop's watch on RESOLVE_SIGNAL */
	struct hm_resolve *reqs; /* requests glibc holds */
};

/* Unlinks and returns a finished request, or NULL. */
static struct hm_resolve *take_done(struct hm_resolver *r)
{
	for (struct hm_resolve **pp = &r->reqs; *pp; pp = &(*pp)->next)
		if (gai_error(&(*pp)->gcb) != EAI_INPROGRESS) {
			struct hm_resolve *q = *pp;
			*pp = q->next;
			return q;
		}
	return NULL;
}

static void req_free(struct hm_resolve *q)
{
	if (q->gcb.ar_result)
		freeaddrinfo(q->gcb.ar_result);
	free(q);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct hm_resolver *r = userdata;
	struct hm_resolve *q;
	(void)s;
	(void)si;
	/* One at a time: a callback may start or cancel other requests. */
	while ((q = take_done(r))) {
		int err = gai_error(&q->gcb);
		if (q->cb)
			q->cb(q->ctx, err, err == 0 ? q->gcb.ar_result : NULL);
		req_free(q);
	}
	return 0;
}

int hm_resolver_new(struct hm_daemon *d)
{
	struct hm_resolver *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, RESOLVE_SIGNAL);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int rc = sd_event_add_signal(d->event, &r->sig, RESOLVE_SIGNAL, on_signal, r);
	if (rc < 0) {
		free(r);
		return rc;
	}
	d->resolver = r;
	return 0;
}

void hm_resolver_free(struct hm_daemon *d)
{
	struct hm_resolver *r = d->resolver;
	if (!r)
		return;
	d->resolver = NULL;
	r->sig = sd_event_source_disable_unref(r->sig);
	for (int waited = 0; r->reqs && waited < EXIT_WAIT_MS; waited += 50) {
		struct hm_resolve *q;
		for (q = r->reqs; q; q = q->next)
			gai_cancel(&q->gcb);
		while ((q = take_done(r)))
			req_free(q);
		if (r->reqs)
			nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
	}
	if (r->reqs) {
		/* glibc still holds a request (and will queue a signal that stays
		 * blocked): leave it be. */
		hm_log(LOG_DEBUG, "resolver: a lookup is still running at exit");
		return;
	}
	free(r);
}

int hm_resolve_start(struct hm_daemon *d, const char *host, uint16_t port, int socktype, hm_resolve_cb cb, void *ctx,
                     struct hm_resolve **req)
{
	struct hm_resolver *r = d->resolver;
	struct hm_resolve *q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	if (strlen(host) >= sizeof q->host) {
		free(q);
		return -ENAMETOOLONG;
	}
	strcpy(q->host, host);
	snprintf(q->port, sizeof q->port, "%u", (unsigned)port);
	q->hints.ai_family = AF_UNSPEC;
	q->hints.ai_socktype = socktype;
	q->hints.ai_flags = AI_NUMERICSERV;
	q->gcb.ar_name = q->host;
	q->gcb.ar_service = q->port;
	q->gcb.ar_request = &q->hints;
	q->cb = cb;
	q->ctx = ctx;

	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = RESOLVE_SIGNAL};
	struct gaicb *list[1] = {&q->gcb};
	int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
	if (rc != 0) {
		free(q);
		return rc == EAI_AGAIN ? -EAGAIN : rc == EAI_MEMORY ? -ENOMEM : -EIO;
	}
	q->next = r->reqs;
	r->reqs = q;
	*req = q;
	return 0;
}

void hm_resolve_cancel(struct hm_resolve *q)
{
	if (!q)
		return;
	q->cb = NULL; /* on_event frees it once glibc is done with it */
	gai_cancel(&q->gcb);
}
