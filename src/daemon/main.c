/*
 * main.c - hanmeterd's command line.
 *
 * The daemon never forks: systemd (Type=notify) or the shell supervises it.
 * -n only sends messages to stderr instead of the journal/syslog.  Any
 * configuration error at start ends the process with EX_CONFIG (78, from
 * sysexits.h, which systemd also knows as "configuration error") before
 * anything is opened.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "daemon.h"
#include "log.h"

#define DEFAULT_CONFIG "/etc/hanmeterd.conf"

static void usage(FILE *f)
{
	fprintf(f, "usage: hanmeterd [-n] [-D]... [-c FILE] [--check-config]\n"
	           "Reads AMS/HAN smart electricity meters and publishes their readings.\n"
	           "\n"
	           "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ")\n"
	           "  -n, --foreground    log to standard error instead of the journal/syslog\n"
	           "  -D, --debug         debug messages; twice: also every frame in hex\n"
	           "  -t, --check-config  check the configuration file and exit (0, or 78 with file:line: message)\n"
	           "  -V, --version       print the version and exit\n"
	           "  -h, --help          this text\n"
	           "\n"
	           "Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop.  See hanmeterd(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'n'},
	    {"debug", no_argument, NULL, 'D'},
	    {"check-config", no_argument, NULL, 't'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_CONFIG;
	bool foreground = false, check = false;
	unsigned debug = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:nDtVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': foreground = true; break;
		case 'D': debug++; break;
		case 't': check = true; break;
		case 'V': printf("hanmeterd %s\n", HM_VERSION); return EXIT_SUCCESS;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hanmeterd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}

	struct hm_config *conf = calloc(1, sizeof *conf); /* zeroed, as hm_config_load() wants */
	char err[HM_CONF_ERR];
	if (!conf) {
		fprintf(stderr, "hanmeterd: out of memory\n");
		return EXIT_FAILURE;
	}
	if (hm_config_load(conf, path, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		hm_config_free(conf);
		free(conf);
		return EX_CONFIG;
	}
	if (check) {
		if (conf->warning[0])
			fprintf(stderr, "warning: %s\n", conf->warning);
		printf("%s: ok, %u meter%s\n", path, conf->n_meters, conf->n_meters == 1 ? "" : "s");
		hm_config_free(conf);
		free(conf);
		return EXIT_SUCCESS;
	}
	hm_log_init(foreground, conf->daemon.log_level);
	return hm_daemon_run(conf, foreground, debug);
}
