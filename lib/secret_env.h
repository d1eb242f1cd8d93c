/* secret_env.h -- how a Secret reference {name, key} reaches a process.
 *
 * Resources never hold passwords: they name a Kubernetes Secret and a key in
 * it. The operator maps each reference to an environment variable of the
 * worker's pod (valueFrom.secretKeyRef), and the worker reads it back. Both
 * sides name the variable with secret_env_name, so they cannot drift apart. */
#ifndef SLUICE_SECRET_ENV_H
#define SLUICE_SECRET_ENV_H

#include <stddef.h>

/* "SLUICE_SECRET_" NAME "_" KEY, upper-cased, every other byte than A-Z and
 * 0-9 turned into '_' (name "pg-creds", key "dsn": SLUICE_SECRET_PG_CREDS_DSN).
 * Returns 0, or -1 when it does not fit in buf. */
int secret_env_name(const char *name, const char *key, char *buf, size_t size);

/* The value of reference {name, key} from the environment, owned by the
 * environment; NULL when the variable is unset or empty (or the name does not
 * fit), with the variable's name in var when var_size allows. */
const char *secret_env_get(const char *name, const char *key, char *var, size_t var_size);

#endif
