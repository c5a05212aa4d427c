/*
 * sim.h - hanmeter-sim's internal interfaces: the meter model, the list
 * encoders of the three Norwegian makes, and the HDLC frame writer.
 *
 * A simulated meter is a small physical model (a daily load curve with
 * noise, three phase voltages wandering around 230 V, energy registers that
 * integrate the power) plus a make: which lists it sends when, and how it
 * lays them out (NEK HAN documentation, and the real captures in
 * ../shared/vectors).  Every value a list carries is first rounded to the
 * integer the meter transmits; the oracle (--expect) is written from those
 * same integers, so it states exactly what is on the wire.
 */
#ifndef HM_SIM_H
#define HM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sim_make { SIM_AIDON, SIM_KAIFA, SIM_KAMSTRUP };

/* splitmix64: small, fast, and the same sequence on every platform. */
struct sim_rng {
	uint64_t s;
};
uint64_t sim_rng_next(struct sim_rng *r);
double sim_rng_unit(struct sim_rng *r);                /* [0, 1) */
double sim_rng_gauss(struct sim_rng *r);               /* standard normal */
uint32_t sim_rng_below(struct sim_rng *r, uint32_t n); /* [0, n) */

/* One simulated meter. */
struct sim_meter {
	enum sim_make make;
	unsigned phases;    /* 1 or 3 */
	struct sim_rng rng; /* the model's randomness (faults draw from their own) */
	int64_t t_ms;       /* meter clock of the next list: ms since 1970 (read as local time) */
	int64_t model_ms;   /* time the model state below refers to */
	char id[24];        /* GS1 meter id, 16 digits */
	const char *model;  /* meter type string */
	/* model state */
	double load_scale; /* household size factor */
	double walk;       /* slow random walk of the load, around 1 */
	double kettle_w;   /* a switched load currently on (W), 0 = off */
	int64_t kettle_end_ms;
	double share[3]; /* phase shares of the load */
	double volt[3];  /* phase voltages (V), random walk */
	double p_w;      /* active power now (W, >= 0) */
	double q_var;    /* reactive power now (var, signed: > 0 inductive/import) */
	double e_mwh[4]; /* energy registers A+ A- R+ R- in mWh / mvarh */
	uint64_t seq;    /* lists sent */
};

/* The registers of one list, as the meter transmits them (integers in the
 * meter's resolution, see sim_encode()). */
struct sim_values {
	int list;                          /* 1, 2 or 3 (Kamstrup: 1 or 2) */
	double p_imp, p_exp, q_imp, q_exp; /* W / var */
	double cur[3];                     /* A */
	double volt[3];                    /* V */
	double e[4];                       /* A+ A- R+ R- in Wh / varh */
};

/* Initialises m for make/phases with seed; the clock starts at start_ms. */
void sim_meter_init(struct sim_meter *m, enum sim_make make, unsigned phases, uint64_t seed, int64_t start_ms);

/* The meter clock of the next list, and which list it is (1..3). */
int sim_meter_next_list(const struct sim_meter *m, int64_t *t_ms);

/* Advances the model to the next list's time, encodes that list as an HDLC
 * information field (LLC + data-notification) into info (cap bytes) and
 * writes the oracle's JSON members into json (no braces; json may be NULL).  Returns the info
 * length, or -1 if a buffer is too small (our bug). */
int sim_meter_emit(struct sim_meter *m, uint8_t *info, size_t cap, char *json, size_t jcap, int *list);

/* The make's HDLC addresses and control byte, as its captures show. */
struct sim_hdlc_addr {
	uint8_t addr[8]; /* destination then source address bytes */
	size_t addr_len;
	uint8_t control;
};
const struct sim_hdlc_addr *sim_hdlc_addr(enum sim_make make);

/* Wraps info into one or more HDLC frames (segmented when a frame would
 * exceed max_frame bytes between the flags) at out.  Returns the bytes
 * written, or -1 if cap is too small.  *frames gets the frame count. */
int sim_hdlc_frame(const struct sim_hdlc_addr *a, const uint8_t *info, size_t len, size_t max_frame, uint8_t *out,
                   size_t cap, unsigned *frames);

/* hanmeter-sim -m multical: a KMP heat meter that answers requests
 * (multical.c); its own options, its own loop.  Returns the exit status. */
int sim_multical_main(int argc, char **argv);

/* "name" of a make, and back (-1 if unknown). */
const char *sim_make_name(enum sim_make make);
int sim_make_by_name(const char *name);

#endif
