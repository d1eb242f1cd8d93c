/*
 * pause.c - the pod sandbox ("pause") container of the test cluster's node.
 *
 * The node has no registry to pull the usual pause image from, so the stack
 * builds this one (tests/e2e/stack-node.sh): it holds the pod's namespaces
 * open by sleeping until SIGINT or SIGTERM, and as PID 1 of a pod that
 * shares its process namespace it reaps orphaned children.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, SA_NOCLDSTOP */

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction stop = {.sa_handler = on_stop};
	struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};

	if (getpid() != 1)
		(void)write(2, "pause: warning: not PID 1\n", 26);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGCHLD, &child, NULL);
	for (;;)
		pause();
}
