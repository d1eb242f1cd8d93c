/*
 * probe.h - the kubelet's view of a Sluice process: its /healthz and
 * /readyz asked from inside the container (an exec probe), so probes work
 * whether the pod has a network of its own or shares the host's, where
 * each replica listens on a port of its own that only it knows.
 *
 * The contract: a process whose options name a port file
 * (SLUICE_METRICS_PORT_FILE, metrics.port_file) writes the port its
 * endpoint listens on there once it listens (probe_write_port); the probe
 * (`sluice-worker probe /readyz`) reads it and asks. The file lives on a
 * small emptyDir the operator mounts in every worker pod.
 *
 * Threads: none; call from anywhere. Time: probe_check blocks up to its
 * timeout.
 */
#ifndef SLUICE_PROBE_H
#define SLUICE_PROBE_H

#include <stddef.h>

#define PROBE_ERR (-1)

/* Writes port as decimal text to path atomically (a temporary file in the
 * same directory, renamed). Returns 0 or PROBE_ERR with errbuf set. */
int probe_write_port(const char *path, int port, char *errbuf, size_t errbuf_size);

/* The port written by probe_write_port, or PROBE_ERR with errbuf set (the
 * file missing: the process has not started listening yet). */
int probe_read_port(const char *path, char *errbuf, size_t errbuf_size);

/*
 * GET http://addr:port{path}: 0 when it answers 200, PROBE_ERR otherwise
 * with errbuf holding the status and the first line of the body (the
 * check's reason), or the connection error. addr NULL: 127.0.0.1.
 */
int probe_check(const char *addr, int port, const char *path, int timeout_ms, char *errbuf,
                size_t errbuf_size);

/*
 * `PROGRAM probe [PATH]`: the exec probe itself, for a binary's main()
 * before it parses its options. It reads only the environment the
 * container has (SLUICE_METRICS_PORT_FILE, else SLUICE_METRICS_PORT, else
 * default_port; SLUICE_METRICS_ADDR, else 127.0.0.1), asks PATH (default
 * /healthz) within 2 s, prints why it failed on stderr (the kubelet puts
 * it in the pod's Events) and returns the exit status: 0 healthy, 1 not,
 * 2 bad usage.
 */
int probe_main(const char *program, int argc, char **argv, int default_port);

#endif
