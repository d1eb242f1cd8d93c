/* dash_load.h -- CSV files posted to the dashboard, published to a
 * TelemetryWindow's input topic by the loader: the body is written to a
 * size-capped temporary file, then `sluice-worker load` (workers/tools/
 * load.h; --worker-binary) runs on it as a child process with the
 * arguments dash_load_plan decided, and its log lines become the load's
 * progress (rows read, delivered, failed, skipped; running, succeeded or
 * failed), which GET .../load/<id> shows. The temporary file goes when the
 * loader ends.
 *
 * Bounded: at most DASH_LOADS_RUNNING loads at once (503 past it), the
 * last DASH_LOADS_KEPT remembered, each body at most max_bytes (413).
 *
 * Threads: any; one monitor thread per running load reads its child's
 * output.
 */
#ifndef SLUICE_DASH_LOAD_H
#define SLUICE_DASH_LOAD_H

#include <stddef.h>

#include "dash_store.h"
#include "kube_client.h"
#include "tw_spec.h"

#define DASH_LOADS_RUNNING 4
#define DASH_LOADS_KEPT 32

struct dash_loads_options {
	const char *worker;   /* the sluice-worker binary: a path, or a name on PATH */
	const char *work_dir; /* where bodies are written; NULL: $TMPDIR or /tmp */
	long long max_bytes;  /* largest body */
	/* Reads the Secrets a resource's spec.kafka.tls and .sasl name
	 * (dash_secret.h); borrowed. NULL: a resource with either fails. */
	struct kube_client *kube;
};

struct dash_loads;
struct dash_load_body;

struct dash_loads *dash_loads_new(const struct dash_loads_options *o);

/* Stops every running loader (SIGTERM, then waits), removes its file and
 * frees everything. NULL is a no-op. */
void dash_loads_free(struct dash_loads *l);

/* A body to receive for resource ns/name. Returns 0 with *out set, or the
 * error status with r filled (503 when DASH_LOADS_RUNNING run, 413 when
 * content_length, -1 unknown, is over the bound, 500). */
unsigned int dash_loads_begin(struct dash_loads *l, const char *ns, const char *name,
                              long long content_length, struct dash_load_body **out,
                              struct dash_reply *r);

/* Appends a chunk. Returns 0, or 413 / 500 with r filled (the body is
 * then discarded: do not call end). */
unsigned int dash_loads_write(struct dash_load_body *b, const char *data, size_t len,
                              struct dash_reply *r);

/*
 * The body is in: judges its header against spec (dash_load_plan; 400 when
 * it does not fit), starts the loader on it (topic spec->kafka.topic, the
 * bootstrap given) and answers 202 with the load as GET shows it. Takes b
 * in every case.
 *
 * With spec.kafka.tls or .sasl the loader connects as the workers do: the
 * Secrets they name are read through the API in the resource's namespace
 * (502 when one cannot be: "spec.kafka.sasl.password: Secret \"k\" key
 * \"p\": cannot read Secret ns/k: NotFound ..."), the CA, certificate, key
 * and SASL password written to files only the dashboard's user may read
 * in a private directory of work_dir (dash_load_secrets_plan; 500 when
 * they cannot be written), which goes
 * when the loader ends; the loader's command line names the files, never
 * a secret.
 */
unsigned int dash_loads_end(struct dash_loads *l, struct dash_load_body *b,
                            const struct tw_spec *spec, const char *bootstrap,
                            struct dash_reply *r);

/* A body whose client went away: its file removed, b freed. NULL: no-op. */
void dash_loads_discard(struct dash_load_body *b);

/*
 * The load id of ns/name as JSON: {"id", "namespace", "name", "state"
 * (running | succeeded | failed), "rows", "delivered", "failed",
 * "skipped", "percent" (or null), "bytes", "error", "exitCode",
 * "started", "finished"}; 404 when there is no such load. With wait_ms > 0
 * a running load is answered once it ends or wait_ms passed, whichever is
 * first (a long poll: `?wait=SECONDS`).
 */
unsigned int dash_loads_get(struct dash_loads *l, const char *ns, const char *name, const char *id,
                            int wait_ms, struct dash_reply *r);

/* The longest wait dash_loads_get is asked for through the API. */
#define DASH_LOAD_WAIT_MAX_S 60

#endif
