/* Unit tests for lib/signals.c: raise() the signals and watch flag and pipe. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"
#include "clock.h"

static int readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
	return poll(&pfd, 1, 0);
}

static void *disposition(int sig)
{
	struct sigaction sa;
	assert_int_equal(sigaction(sig, NULL, &sa), 0);
	return (void *)sa.sa_handler;
}

static int setup(void **state)
{
	(void)state;
	return signals_install() == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	signals_reset();
	signals_uninstall();
	return 0;
}

static void test_not_installed(void **state)
{
	(void)state;
	assert_int_equal(signals_fd(), -1);
	assert_int_equal(signals_wait(0), -EINVAL);
	assert_int_equal(signals_stop_requested(), 0);
	assert_int_equal(signals_last(), 0);
	signals_uninstall(); /* no-op */
	signals_reset();     /* no-op */
}

static void test_install(void **state)
{
	(void)state;
	int fd = signals_fd();

	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_ptr_equal(disposition(SIGPIPE), (void *)SIG_IGN);
	assert_ptr_not_equal(disposition(SIGTERM), (void *)SIG_DFL);
	assert_ptr_not_equal(disposition(SIGINT), (void *)SIG_DFL);
	/* Idempotent. */
	assert_int_equal(signals_install(), 0);
	assert_int_equal(signals_fd(), fd);
	assert_int_equal(signals_stop_requested(), 0);
	assert_int_equal(readable(fd), 0);
}

static void test_wait_times_out(void **state)
{
	(void)state;
	assert_int_equal(signals_wait(0), 0);
	long long t0 = clock_mono_ms();
	assert_int_equal(signals_wait(60), 0);
	long long took = clock_mono_ms() - t0;
	assert_true(took >= 55);
	assert_true(took < 2000);
}

static void test_sigterm(void **state)
{
	(void)state;
	assert_int_equal(raise(SIGTERM), 0);
	assert_int_equal(signals_stop_requested(), 1);
	assert_int_equal(signals_last(), SIGTERM);
	assert_int_equal(readable(signals_fd()), 1);
	long long t0 = clock_mono_ms();
	assert_int_equal(signals_wait(5000), 1);
	assert_true(clock_mono_ms() - t0 < 100);
	/* Waiting does not consume the wake-up: other pollers still see it. */
	assert_int_equal(readable(signals_fd()), 1);
	assert_int_equal(signals_wait(-1), 1);

	signals_reset();
	assert_int_equal(signals_stop_requested(), 0);
	assert_int_equal(signals_last(), 0);
	assert_int_equal(readable(signals_fd()), 0);
	assert_int_equal(signals_wait(0), 0);
}

static void test_sigint(void **state)
{
	(void)state;
	assert_int_equal(raise(SIGINT), 0);
	assert_int_equal(signals_stop_requested(), 1);
	assert_int_equal(signals_last(), SIGINT);
	assert_int_equal(signals_wait(0), 1);
}

static void test_sigpipe_ignored(void **state)
{
	(void)state;
	assert_int_equal(raise(SIGPIPE), 0); /* still alive */
	assert_int_equal(signals_stop_requested(), 0);

	/* A write to a closed pipe fails with EPIPE instead of killing us. */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	assert_int_equal(write(fds[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(fds[1]);
}

static void test_many_signals_never_block(void **state)
{
	(void)state;
	/* More signals than the pipe holds bytes: the handler must not block. */
	for (int i = 0; i < 70000; i++)
		raise(SIGTERM);
	assert_int_equal(signals_wait(0), 1);
	signals_reset();
	assert_int_equal(readable(signals_fd()), 0);
}

static void test_stale_bytes_after_reset(void **state)
{
	(void)state;
	/* A byte written with the flag clear (as if a reset raced a signal)
	 * is drained by the wait, which then times out. */
	assert_int_equal(raise(SIGTERM), 0);
	signals_reset();
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", signals_fd());
	int w = open(path, O_WRONLY | O_NONBLOCK);
	assert_true(w >= 0);
	assert_int_equal(write(w, "x", 1), 1);
	close(w);
	assert_int_equal(signals_wait(30), 0);
	assert_int_equal(readable(signals_fd()), 0);
}

static void *send_later(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
	kill(getpid(), SIGTERM);
	return NULL;
}

static void test_wait_wakes_on_signal_from_another_thread(void **state)
{
	(void)state;
	pthread_t t;
	long long t0 = clock_mono_ms();

	assert_int_equal(pthread_create(&t, NULL, send_later, NULL), 0);
	assert_int_equal(signals_wait(10000), 1);
	long long took = clock_mono_ms() - t0;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(took >= 90);
	assert_true(took < 5000);
	assert_int_equal(signals_last(), SIGTERM);
}

static void test_uninstall_restores(void **state)
{
	(void)state;
	assert_int_equal(signals_install(), 0);
	signals_uninstall();
	assert_int_equal(signals_fd(), -1);
	assert_ptr_equal(disposition(SIGTERM), (void *)SIG_DFL);
	assert_ptr_equal(disposition(SIGINT), (void *)SIG_DFL);
	assert_ptr_equal(disposition(SIGPIPE), (void *)SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_not_installed),
	    cmocka_unit_test_setup_teardown(test_install, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_times_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sigterm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sigint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sigpipe_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_signals_never_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_bytes_after_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_wakes_on_signal_from_another_thread, setup,
	                                    teardown),
	    cmocka_unit_test(test_uninstall_restores),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
