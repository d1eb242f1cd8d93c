/*
 * reconcile_vj_purge.h - the VideoJob finalizer's purge of the job's rows in
 * PostgreSQL (spec.sinks.postgres.deleteWithJob): the reads and writes
 * around vj_purge_plan.h's decision. Called from reconcile_vj.c's finalize
 * before the topics and Redis keys go; reconcile_vj_purge_finish after the
 * finalizer is dropped.
 *
 * Threads: as the reconciler (one key at a time).
 */
#ifndef SLUICE_RECONCILE_VJ_PURGE_H
#define SLUICE_RECONCILE_VJ_PURGE_H

#include <cjson/cJSON.h>

#include "reconcile.h"
#include "vj_purge_plan.h"
#include "vj_spec.h"

/* One pass's decision, kept for reconcile_vj_purge_finish. */
struct vj_purge_pass {
	struct vj_purge_decision d;
	char table[80]; /* the frames table, for the Event */
};

/*
 * Observes the purge Job and the job's writers for the VideoJob obj being
 * deleted (eff: its effective spec; vs: it parsed, NULL when it did not:
 * nothing to purge with), decides (vj_purge_decide) and acts: deletes a
 * stale purge Job, stops the writers, creates the purge Job. Returns
 * RECONCILE_OK when the rest of the cleanup may go on (out->d says DONE,
 * GIVE_UP or SKIP), RECONCILE_POLL to look again, or RECONCILE_ERROR (an
 * API request failed; logged).
 */
int reconcile_vj_purge(const struct reconcile_ctx *ctx, const cJSON *obj, const cJSON *eff,
                       const struct vj_spec *vs, struct vj_purge_pass *out);

/* After the finalizer is dropped: the Event of the decision (Purged,
 * PurgeFailed) and a succeeded purge Job deleted (a failed one stays for
 * its logs until its ttlSecondsAfterFinished). Failures are logged. */
void reconcile_vj_purge_finish(const struct reconcile_ctx *ctx, const cJSON *obj,
                               const struct vj_purge_pass *p);

#endif
