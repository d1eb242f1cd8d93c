/*
 * signals.h - graceful shutdown on SIGTERM and SIGINT.
 *
 * Kubernetes stops a pod with SIGTERM, then SIGKILL after the grace period;
 * a terminal sends SIGINT. The handlers only set a flag and write one byte
 * to a self-pipe (both async-signal-safe), so a poll() loop that includes
 * signals_fd() wakes at once and the program shuts down from its main loop,
 * never from inside a handler. SIGPIPE is ignored so that a peer closing a
 * socket shows up as EPIPE from write(), not as a dead process.
 *
 * Handlers are installed with SA_RESTART: interrupted blocking calls resume,
 * and only the pipe tells the main loop to stop.
 *
 * Process-wide state: call signals_install() once from the main thread at
 * start-up. The query functions may be called from any thread.
 */
#ifndef SLUICE_SIGNALS_H
#define SLUICE_SIGNALS_H

/*
 * Creates the self-pipe (non-blocking, close-on-exec), installs the SIGTERM
 * and SIGINT handlers and ignores SIGPIPE. Returns 0, or a negative errno
 * value when pipe2() or sigaction() fails (nothing is left installed). A
 * second call while installed does nothing and returns 0.
 */
int signals_install(void);

/* Restores the dispositions signals_install() replaced and closes the pipe.
 * A no-op when not installed. */
void signals_uninstall(void);

/* 1 once SIGTERM or SIGINT has arrived (until signals_reset), else 0. */
int signals_stop_requested(void);

/* The signal that requested the stop (SIGTERM, SIGINT), or 0. */
int signals_last(void);

/* The read end of the self-pipe, readable once a signal has arrived; -1 when
 * not installed. Owned by this module: poll it, do not read or close it. */
int signals_fd(void);

/*
 * Waits until a stop is requested or timeout_ms passes (-1: no timeout; 0:
 * just check). Returns 1 when a stop is requested, 0 on timeout, -EINVAL
 * when not installed, or another negative errno value if poll() fails.
 */
int signals_wait(int timeout_ms);

/* Forgets a requested stop and empties the pipe, for tests and for programs
 * that treat a signal as "reload" rather than "stop". */
void signals_reset(void);

#endif /* SLUICE_SIGNALS_H */
