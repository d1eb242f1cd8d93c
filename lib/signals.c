/*
 * signals.c - SIGTERM/SIGINT to a flag and a self-pipe. See signals.h.
 */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* Read by the handler, hence sig_atomic_t. */
static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t last_signal;
static volatile sig_atomic_t wake_fd = -1;
static int read_fd = -1;

static const int handled[] = {SIGTERM, SIGINT, SIGPIPE};
static struct sigaction previous[sizeof(handled) / sizeof(handled[0])];

static void on_signal(int sig)
{
	int saved = errno;

	stop_flag = 1;
	last_signal = sig;
	if (wake_fd >= 0) {
		/* A full pipe (EAGAIN) is fine: the reader is already woken. */
		ssize_t n = write(wake_fd, "x", 1);
		(void)n;
	}
	errno = saved;
}

int signals_install(void)
{
	int fds[2];
	size_t done = 0;
	int err;

	if (read_fd >= 0)
		return 0;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return -errno;
	read_fd = fds[0];
	wake_fd = fds[1];

	for (; done < sizeof(handled) / sizeof(handled[0]); done++) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = handled[done] == SIGPIPE ? SIG_IGN : on_signal;
		sa.sa_flags = SA_RESTART;
		if (sigemptyset(&sa.sa_mask) != 0 ||
		    sigaction(handled[done], &sa, &previous[done]) != 0)
			goto fail;
	}
	return 0;
fail:
	err = errno;
	while (done-- > 0)
		(void)sigaction(handled[done], &previous[done], NULL);
	wake_fd = -1;
	(void)close(fds[1]);
	(void)close(fds[0]);
	read_fd = -1;
	return -err;
}

void signals_uninstall(void)
{
	int w = wake_fd;

	if (read_fd < 0)
		return;
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		(void)sigaction(handled[i], &previous[i], NULL);
	wake_fd = -1;
	(void)close(w);
	(void)close(read_fd);
	read_fd = -1;
}

int signals_stop_requested(void)
{
	return stop_flag != 0;
}

int signals_last(void)
{
	return last_signal;
}

int signals_fd(void)
{
	return read_fd;
}

static void drain(void)
{
	char buf[256];

	while (read(read_fd, buf, sizeof(buf)) > 0)
		;
}

void signals_reset(void)
{
	stop_flag = 0;
	last_signal = 0;
	if (read_fd >= 0)
		drain();
}

int signals_wait(int timeout_ms)
{
	long long deadline = timeout_ms >= 0 ? clock_mono_ms() + timeout_ms : 0;

	if (read_fd < 0)
		return -EINVAL;
	for (;;) {
		struct pollfd pfd = {.fd = read_fd, .events = POLLIN, .revents = 0};
		int wait_ms = -1;

		if (stop_flag)
			return 1;
		if (timeout_ms >= 0) {
			long long left = deadline - clock_mono_ms();
			wait_ms = left > 0 ? (int)left : 0;
		}
		int rc = poll(&pfd, 1, wait_ms);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (rc == 0)
			return stop_flag ? 1 : 0;
		/* The handler sets the flag before it writes, so a readable
		 * pipe with the flag clear holds bytes from before a reset.
		 * Otherwise the pipe stays readable for other pollers. */
		if (!stop_flag)
			drain();
	}
}
