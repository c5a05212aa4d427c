/*
 * serial.c - a meter's serial port as a non-blocking raw fd.
 *
 * HAN ports (NEK 399-1 / the Nordic HAN documents): 2400 baud, 8 data bits,
 * even parity (Aidon, Kaifa) or none (Kamstrup), 1 stop bit, no flow
 * control, receive only.
 *
 * Real adapters go through libserialport.  Pseudo-terminals (socat, the
 * simulator, tests) take plain termios: libserialport 0.1.1 refuses
 * /dev/pts/N and its sp_open() issues TIOCMGET-style modem ioctls that a
 * pty does not support.  A path is a pty when it resolves to /dev/pts/ or
 * to a character device with a Unix98 pty slave major (136..143,
 * Documentation/admin-guide/devices.txt).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <libserialport.h>

#include "serial.h"

#define PTY_SLAVE_MAJOR_FIRST 136 /* UNIX98_PTY_SLAVE_MAJOR */
#define PTY_SLAVE_MAJOR_LAST  143 /* + UNIX98_PTY_MAJOR_COUNT - 1 */
#define BY_ID_DIR             "/dev/serial/by-id"

struct hm_serial {
	struct sp_port *port; /* libserialport's handle, or NULL for a termios-opened pty */
	int fd;               /* the open descriptor */
};

static bool is_pty(const char *path)
{
	char real[PATH_MAX];
	struct stat st;
	if (realpath(path, real) && strncmp(real, "/dev/pts/", 9) == 0)
		return true;
	return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) >= PTY_SLAVE_MAJOR_FIRST &&
	       major(st.st_rdev) <= PTY_SLAVE_MAJOR_LAST;
}

static speed_t termios_speed(unsigned baud)
{
	switch (baud) {
	case 300: return B300;
	case 600: return B600;
	case 1200: return B1200;
	case 2400: return B2400;
	case 4800: return B4800;
	case 9600: return B9600;
	case 19200: return B19200;
	case 38400: return B38400;
	case 57600: return B57600;
	case 115200: return B115200;
	case 230400: return B230400;
	case 460800: return B460800;
	default: return 0;
	}
}

/* A pty carries bytes, not a line signal: parity and stop bits mean nothing
 * to it, and some kernels answer EINVAL to PARENB on a pty.  So they are
 * left alone here; raw mode, 8 bits and the speed are set. */
static int open_termios(const char *path, unsigned baud, char *err, size_t errlen)
{
	speed_t speed = termios_speed(baud);
	struct termios t;
	if (!speed) {
		snprintf(err, errlen, "%s: unsupported baud rate %u", path, baud);
		errno = EINVAL;
		return -1;
	}
	int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (tcgetattr(fd, &t) < 0)
		goto fail;
	cfmakeraw(&t);
	t.c_cflag &= ~(tcflag_t)(CSIZE | CRTSCTS);
	t.c_cflag |= CS8 | CLOCAL | CREAD;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, speed) < 0 || cfsetospeed(&t, speed) < 0 || tcsetattr(fd, TCSANOW, &t) < 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "%s: termios: %s", path, strerror(errno));
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* libserialport's result as an errno, with its message in err. */
static int sp_fail(enum sp_return rc, const char *path, const char *what, char *err, size_t errlen)
{
	if (rc == SP_ERR_FAIL) {
		char *msg = sp_last_error_message();
		int e = sp_last_error_code();
		snprintf(err, errlen, "%s: %s: %s", path, what, msg ? msg : "failed");
		sp_free_error_message(msg);
		return e ? e : EIO;
	}
	snprintf(err, errlen, "%s: %s: %s", path, what,
	         rc == SP_ERR_ARG   ? "invalid argument"
	         : rc == SP_ERR_MEM ? "out of memory"
	                            : "not supported");
	return rc == SP_ERR_MEM ? ENOMEM : EINVAL;
}

static int open_sp(struct hm_serial *s, const char *path, unsigned baud, enum hm_serial_parity parity,
                   unsigned stop_bits, char *err, size_t errlen)
{
	enum sp_return rc;
	struct stat st;
	if (stat(path, &st) < 0) { /* libserialport's own message for a missing port is vague */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno;
	}
	if ((rc = sp_get_port_by_name(path, &s->port)) != SP_OK)
		return sp_fail(rc, path, "port", err, errlen);
	if ((rc = sp_open(s->port, SP_MODE_READ)) != SP_OK)
		return sp_fail(rc, path, "open", err, errlen);
	static const enum sp_parity sp_par[] = {[HM_SERIAL_PARITY_NONE] = SP_PARITY_NONE,
	                                        [HM_SERIAL_PARITY_EVEN] = SP_PARITY_EVEN,
	                                        [HM_SERIAL_PARITY_ODD] = SP_PARITY_ODD};
	if ((rc = sp_set_baudrate(s->port, (int)baud)) != SP_OK || (rc = sp_set_bits(s->port, 8)) != SP_OK ||
	    (rc = sp_set_parity(s->port, sp_par[parity])) != SP_OK ||
	    (rc = sp_set_stopbits(s->port, stop_bits == 2 ? 2 : 1)) != SP_OK ||
	    (rc = sp_set_flowcontrol(s->port, SP_FLOWCONTROL_NONE)) != SP_OK)
		return sp_fail(rc, path, "configure", err, errlen);
	if ((rc = sp_get_port_handle(s->port, &s->fd)) != SP_OK)
		return sp_fail(rc, path, "handle", err, errlen);
	int fl = fcntl(s->fd, F_GETFL);
	if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(s->fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: fcntl: %s", path, strerror(errno));
		return errno;
	}
	return 0;
}

struct hm_serial *hm_serial_open(const char *path, unsigned baud, enum hm_serial_parity parity, unsigned stop_bits,
                                 int *fd, char *err, size_t errlen)
{
	struct hm_serial *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	s->fd = -1;
	if (is_pty(path)) {
		s->fd = open_termios(path, baud, err, errlen);
		if (s->fd < 0) {
			int e = errno;
			free(s);
			errno = e;
			return NULL;
		}
	} else {
		int e = open_sp(s, path, baud, parity, stop_bits, err, errlen);
		if (e) {
			hm_serial_close(s);
			errno = e;
			return NULL;
		}
	}
	*fd = s->fd;
	return s;
}

void hm_serial_close(struct hm_serial *s)
{
	if (!s)
		return;
	if (s->port) {
		sp_close(s->port); /* closes fd; harmless if the open failed */
		sp_free_port(s->port);
	} else if (s->fd >= 0) {
		close(s->fd);
	}
	free(s);
}

/* The /dev/serial/by-id link resolving to port, into buf; false if none. */
static bool by_id(const char *port, char *buf, size_t len)
{
	char want[PATH_MAX], real[PATH_MAX];
	DIR *dir = opendir(BY_ID_DIR);
	struct dirent *e;
	bool found = false;
	if (!dir || !realpath(port, want)) {
		if (dir)
			closedir(dir);
		return false;
	}
	while (!found && (e = readdir(dir))) {
		char link[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof link, "%s/%s", BY_ID_DIR, e->d_name);
		if (realpath(link, real) && strcmp(real, want) == 0) {
			snprintf(buf, len, "%s", link);
			found = true;
		}
	}
	closedir(dir);
	return found;
}

int hm_serial_list(void)
{
	struct sp_port **ports;
	int n = 0;
	if (sp_list_ports(&ports) != SP_OK) {
		fprintf(stderr, "cannot list serial ports\n");
		return 0;
	}
	for (; ports[n]; n++) {
		struct sp_port *p = ports[n];
		const char *name = sp_get_port_name(p), *desc = sp_get_port_description(p);
		char link[PATH_MAX];
		printf("%s", name);
		if (desc && *desc)
			printf("  %s", desc);
		if (sp_get_port_transport(p) == SP_TRANSPORT_USB) {
			int vid, pid;
			const char *serial = sp_get_port_usb_serial(p);
			if (sp_get_port_usb_vid_pid(p, &vid, &pid) == SP_OK)
				printf("  usb %04x:%04x", (unsigned)vid, (unsigned)pid);
			if (serial && *serial)
				printf("  serial %s", serial);
		}
		if (by_id(name, link, sizeof link))
			printf("\n    %s", link);
		printf("\n");
	}
	sp_free_port_list(ports);
	return n;
}
