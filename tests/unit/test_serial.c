/*
 * test_serial.c - hm_serial_open() on pseudo-terminals (the termios path
 * that tests, socat and the simulator rely on): raw 8 data bits, the baud
 * rate, parity and stop bits asked for, non-blocking, bytes through; the
 * same through a symlink to the pty; and clean errors for paths that are
 * not there or not terminals.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/serial.h"

static int master = -1;
static char slave[128];

static int setup(void **state)
{
	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !ptsname(master))
		return -1;
	snprintf(slave, sizeof slave, "%s", ptsname(master));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(master);
	return 0;
}

static void check_port(const char *path, unsigned baud, speed_t speed, enum hm_serial_parity parity, unsigned stop_bits)
{
	char err[256] = "";
	int fd = -1;
	struct termios t;
	struct hm_serial *s = hm_serial_open(path, baud, parity, stop_bits, &fd, err, sizeof err);
	if (!s)
		fail_msg("%s: %s", path, err);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(tcgetattr(fd, &t), 0);
	assert_int_equal(cfgetispeed(&t), speed);
	assert_int_equal(t.c_cflag & CSIZE, CS8);
	/* Parity and stop bits are not set on a pty (it has no line; some
	 * kernels refuse PARENB there): asking for them must not fail the open. */
	(void)parity;
	(void)stop_bits;
	assert_int_equal(t.c_lflag & (ICANON | ECHO | ISIG), 0); /* raw */
	assert_int_equal(t.c_iflag & (ICRNL | INLCR | IGNCR | ISTRIP | IXON), 0);
	assert_int_equal(t.c_oflag & OPOST, 0);

	uint8_t buf[16];
	assert_int_equal(read(fd, buf, sizeof buf), -1); /* nothing yet: no blocking */
	assert_int_equal(errno, EAGAIN);
	/* 7E and 0D/0A pass unchanged in raw mode (no CR/LF translation). */
	static const uint8_t bytes[] = {0x7E, 0xA0, 0x0D, 0x0A, 0x11, 0x13, 0x7E};
	assert_int_equal(write(master, bytes, sizeof bytes), (ssize_t)sizeof bytes);
	usleep(20000);
	assert_int_equal(read(fd, buf, sizeof buf), (ssize_t)sizeof bytes);
	assert_memory_equal(buf, bytes, sizeof bytes);
	hm_serial_close(s);
}

static void pty_settings(void **state)
{
	(void)state;
	check_port(slave, 2400, B2400, HM_SERIAL_PARITY_EVEN, 1); /* Aidon, Kaifa */
	check_port(slave, 2400, B2400, HM_SERIAL_PARITY_NONE, 1); /* Kamstrup */
	check_port(slave, 9600, B9600, HM_SERIAL_PARITY_ODD, 2);
}

static void pty_through_symlink(void **state)
{
	(void)state;
	char link[] = "/tmp/test_serial.XXXXXX";
	int tmp = mkstemp(link);
	assert_true(tmp >= 0);
	close(tmp);
	unlink(link);
	assert_int_equal(symlink(slave, link), 0);
	check_port(link, 2400, B2400, HM_SERIAL_PARITY_EVEN, 1);
	unlink(link);
}

static void errors(void **state)
{
	(void)state;
	char err[256] = "";
	int fd = -1;
	errno = 0;
	assert_null(hm_serial_open("/dev/nonexistent-hanmeter", 2400, HM_SERIAL_PARITY_EVEN, 1, &fd, err, sizeof err));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(err, "/dev/nonexistent-hanmeter: No such file or directory");

	/* A regular file is no serial port: refused, with a message naming it. */
	char file[] = "/tmp/test_serial.XXXXXX";
	int tmp = mkstemp(file);
	assert_true(tmp >= 0);
	close(tmp);
	err[0] = 0;
	assert_null(hm_serial_open(file, 2400, HM_SERIAL_PARITY_EVEN, 1, &fd, err, sizeof err));
	assert_true(errno != 0);
	assert_int_equal(strncmp(err, file, strlen(file)), 0);
	unlink(file);

	err[0] = 0;
	assert_null(hm_serial_open(slave, 1234, HM_SERIAL_PARITY_EVEN, 1, &fd, err, sizeof err));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "1234"));
}

static void list_runs(void **state)
{
	(void)state;
	/* No adapters here, usually; it must list what there is and not fail. */
	assert_true(hm_serial_list() >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pty_settings),
	    cmocka_unit_test(pty_through_symlink),
	    cmocka_unit_test(errors),
	    cmocka_unit_test(list_runs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
