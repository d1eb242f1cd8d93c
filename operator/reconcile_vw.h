/*
 * reconcile_vw.h - the VideoWatch reconciler: a watched folder whose new
 * files become VideoJobs (lib/contract/vw_spec.h, docs/video-watch.md).
 *
 * observe  the VideoWatch from the cache, its spec judged with the
 *          operator's defaults filled into the template (so the VideoJobs
 *          the watcher makes are the ones the operator will accept); its
 *          VideoJobs from the VideoJob cache (label sluice.dev/videowatch)
 * plan     reconcile_vw_plan.h: status, conditions, history deletions
 * apply    the watcher's ConfigMap, ServiceAccount, Role, RoleBinding,
 *          upload Service and one-replica Deployment (server-side apply);
 *          deletions; the status (merge patch of the operator's fields
 *          only: .status.watcher is the watcher pod's)
 *
 * The watcher pod, not the operator, creates the VideoJobs: it is the one
 * that sees the files. Deleting the VideoWatch deletes the watcher and,
 * through their ownerReferences, its VideoJobs.
 */
#ifndef SLUICE_RECONCILE_VW_H
#define SLUICE_RECONCILE_VW_H

#include "reconcile.h"
#include "reconcile_vw_plan.h"

/* Reconciles ns/name. Returns RECONCILE_POLL (the counts follow the jobs),
 * RECONCILE_OK when the resource is gone, or RECONCILE_ERROR to retry. */
int reconcile_vw(const struct reconcile_ctx *ctx, const char *ns, const char *name);

#endif
