/* spec_common.c -- the sections both kinds share; see spec_common.h. */
#include "spec_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_json.h"

static const char *const pull_policies[] = {"Always", "IfNotPresent", "Never", NULL};

static int one_of(const char *s, const char *const *choices)
{
	for (size_t i = 0; choices[i] != NULL; i++)
		if (strcmp(s, choices[i]) == 0)
			return 1;
	return 0;
}

int spec_no_blank(const char *s)
{
	return strpbrk(s, " \t\r\n") == NULL;
}

int spec_url_has_userinfo(const char *uri)
{
	const char *auth = strstr(uri, "://");
	size_t n;

	if (auth == NULL)
		return 0;
	auth += 3;
	n = strcspn(auth, "/?#");
	return memchr(auth, '@', n) != NULL;
}

void spec_secret_ref_free(struct spec_secret_ref *r)
{
	free(r->name);
	free(r->key);
	r->name = r->key = NULL;
}

/* ==== Workers ==== */

/* The number part of a quantity, by the apimachinery grammar:
 *   sign? (digits ('.' digits?)? | '.' digits)
 *   (binarySI Ki..Ei | decimalSI n u m k M G T P E | exponent e[+-]?number)? */
static const char *skip_number(const char *s)
{
	const char *start = s;

	while (*s >= '0' && *s <= '9')
		s++;
	if (s > start) {
		if (*s == '.')
			for (s++; *s >= '0' && *s <= '9'; s++)
				;
		return s;
	}
	if (*s != '.' || !(s[1] >= '0' && s[1] <= '9'))
		return NULL;
	for (s++; *s >= '0' && *s <= '9'; s++)
		;
	return s;
}

int spec_quantity_ok(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	s = skip_number(s);
	if (s == NULL)
		return 0;
	if (*s == '\0')
		return 1;
	if (strchr("KMGTPE", *s) != NULL && s[1] == 'i' && s[2] == '\0')
		return 1;
	if (strchr("numkMGTPE", *s) != NULL && s[1] == '\0')
		return 1;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		s = skip_number(s);
		return s != NULL && *s == '\0';
	}
	return 0;
}

/* A resource name as Kubernetes writes them: "cpu", "memory",
 * "ephemeral-storage", "nvidia.com/gpu", "hugepages-2Mi". */
static int resource_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SPEC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' || ch == '/'))
			return 0;
	}
	return 1;
}

/* obj.name: a map resource name -> quantity (string or integer). */
static int get_resource_list(struct spec_ctx *c, const cJSON *obj, const char *name,
                             const char *path, struct spec_resource_list *out)
{
	const cJSON *item = obj != NULL ? spec_member(obj, name) : NULL;

	if (item == NULL)
		return 0;
	if (!cJSON_IsObject(item))
		return spec_fail(c, "%s.%s: must be a map of resource names to quantities", path,
		                 name);
	for (const cJSON *it = item->child; it != NULL; it = it->next) {
		char num[32];
		const char *v;

		if (out->n == SPEC_RESOURCES_MAX)
			return spec_fail(c, "%s.%s: more than %d resources", path, name,
			                 SPEC_RESOURCES_MAX);
		if (!resource_name_ok(it->string))
			return spec_fail(c, "%s.%s: \"%s\" is not a resource name", path, name,
			                 it->string);
		for (size_t j = 0; j < out->n; j++)
			if (strcmp(out->names[j], it->string) == 0)
				return spec_fail(c, "%s.%s.%s: given twice", path, name,
				                 it->string);
		if (cJSON_IsNumber(it)) {
			if (it->valuedouble != floor(it->valuedouble) ||
			    fabs(it->valuedouble) > 9e15)
				return spec_fail(c, "%s.%s.%s: %g is not a quantity", path, name,
				                 it->string, it->valuedouble);
			snprintf(num, sizeof(num), "%.0f", it->valuedouble);
			v = num;
		} else if (cJSON_IsString(it)) {
			v = it->valuestring;
			if (strlen(v) > 64 || !spec_quantity_ok(v))
				return spec_fail(
				    c,
				    "%s.%s.%s: \"%s\" is not a quantity (such as 500m, "
				    "64Mi, 2)",
				    path, name, it->string, v);
		} else {
			return spec_fail(c, "%s.%s.%s: must be a quantity (a string or an integer)",
			                 path, name, it->string);
		}
		if (spec_dup(c, &out->names[out->n], it->string) < 0 ||
		    spec_dup(c, &out->values[out->n], v) < 0) {
			out->n++; /* names[n] is freed with the rest */
			return SPEC_E_NOMEM;
		}
		out->n++;
	}
	return 0;
}

static int parse_resources(struct spec_ctx *c, const cJSON *w, struct spec_workers *out)
{
	static const char *const fields[] = {"requests", "limits", NULL};
	const char *p = "spec.workers.resources";
	const cJSON *r;
	int rc;

	if ((rc = spec_get_object(c, w, "resources", "spec.workers", 0, &r)) < 0 || r == NULL)
		return rc;
	if ((rc = spec_check_fields(c, r, p, fields)) < 0 ||
	    (rc = get_resource_list(c, r, "requests", p, &out->requests)) < 0 ||
	    (rc = get_resource_list(c, r, "limits", p, &out->limits)) < 0)
		return rc;
	return 0;
}

static void scaling_unset(struct spec_scaling *s)
{
	s->polling_interval_ms = s->stabilization_window_ms = s->cooldown_period_ms =
	    s->trend_window_ms = s->scale_up_interval_ms = s->persistent_after_ms =
	        s->target_drain_ms = SPEC_UNSET;
	s->fallback_replicas = s->failure_threshold = s->target_utilization_pct = SPEC_UNSET;
	s->allow_idle_consumers = s->limit_to_partitions_with_lag = s->exclude_persistent_lag =
	    s->even_partitions = SPEC_UNSET;
}

/* A duration member of scaling: SPEC_UNSET when absent. */
static int scaling_duration(struct spec_ctx *c, const cJSON *s, const char *name, long long min_ms,
                            int64_t *out)
{
	long long ms;
	int rc = spec_get_duration_ms(c, s, name, "spec.workers.scaling", SPEC_UNSET, min_ms,
	                              SPEC_SCALING_DURATION_MAX_MS, &ms);

	if (rc == 0)
		*out = ms;
	return rc;
}

static int scaling_int(struct spec_ctx *c, const cJSON *s, const char *name, const char *path,
                       long long min, long long max, int32_t *out)
{
	long long v;
	int rc = spec_get_int(c, s, name, path, SPEC_UNSET, min, max, &v);

	if (rc == 0)
		*out = (int32_t)v;
	return rc;
}

/* spec.workers.scaling into out (every member SPEC_UNSET first); the rules
 * are the CRDs' (x-kubernetes-validations), word for word where they can be. */
static int parse_scaling(struct spec_ctx *c, const cJSON *w, struct spec_scaling *out)
{
	static const char *const fields[] = {"pollingInterval",
	                                     "stabilizationWindow",
	                                     "cooldownPeriod",
	                                     "trendWindow",
	                                     "scaleUpInterval",
	                                     "persistentLagAfter",
	                                     "fallback",
	                                     "allowIdleConsumers",
	                                     "limitToPartitionsWithLag",
	                                     "excludePersistentLag",
	                                     "targetDrainSeconds",
	                                     "targetUtilization",
	                                     "partitionDistribution",
	                                     NULL};
	static const char *const fallback_fields[] = {"replicas", "failureThreshold", NULL};
	const char *p = "spec.workers.scaling", *pf = "spec.workers.scaling.fallback";
	const cJSON *s, *fb, *dist;
	long long drain;
	int rc;

	scaling_unset(out);
	if ((rc = spec_get_object(c, w, "scaling", "spec.workers", 0, &s)) < 0 || s == NULL)
		return rc;
	if ((rc = spec_check_fields(c, s, p, fields)) < 0 ||
	    (rc = scaling_duration(c, s, "pollingInterval", 1, &out->polling_interval_ms)) < 0 ||
	    (rc = scaling_duration(c, s, "stabilizationWindow", 0, &out->stabilization_window_ms)) <
	        0 ||
	    (rc = scaling_duration(c, s, "cooldownPeriod", 0, &out->cooldown_period_ms)) < 0 ||
	    (rc = scaling_duration(c, s, "trendWindow", 0, &out->trend_window_ms)) < 0 ||
	    (rc = scaling_duration(c, s, "scaleUpInterval", 0, &out->scale_up_interval_ms)) < 0 ||
	    (rc = scaling_duration(c, s, "persistentLagAfter", 1, &out->persistent_after_ms)) < 0)
		return rc;
	if ((rc = spec_get_object(c, s, "fallback", p, 0, &fb)) < 0)
		return rc;
	if (fb != NULL) {
		if ((rc = spec_check_fields(c, fb, pf, fallback_fields)) < 0)
			return rc;
		if (spec_member(fb, "replicas") == NULL)
			return spec_fail(c, "%s.replicas: required", pf);
		if ((rc = scaling_int(c, fb, "replicas", pf, 0, SPEC_REPLICAS_MAX,
		                      &out->fallback_replicas)) < 0 ||
		    (rc = scaling_int(c, fb, "failureThreshold", pf, 0,
		                      SPEC_SCALING_FAILURE_THRESHOLD_MAX,
		                      &out->failure_threshold)) < 0)
			return rc;
	}
	if ((rc = spec_get_bool(c, s, "allowIdleConsumers", p, SPEC_UNSET,
	                        &out->allow_idle_consumers)) < 0 ||
	    (rc = spec_get_bool(c, s, "limitToPartitionsWithLag", p, SPEC_UNSET,
	                        &out->limit_to_partitions_with_lag)) < 0 ||
	    (rc = spec_get_bool(c, s, "excludePersistentLag", p, SPEC_UNSET,
	                        &out->exclude_persistent_lag)) < 0 ||
	    (rc = spec_get_int(c, s, "targetDrainSeconds", p, SPEC_UNSET, 1,
	                       SPEC_SCALING_DRAIN_MAX_S, &drain)) < 0 ||
	    (rc = scaling_int(c, s, "targetUtilization", p, 1, 100, &out->target_utilization_pct)) <
	        0)
		return rc;
	out->target_drain_ms = drain == SPEC_UNSET ? SPEC_UNSET : drain * 1000;
	dist = spec_member(s, "partitionDistribution");
	if (dist != NULL) {
		if (cJSON_IsString(dist) && strcmp(dist->valuestring, "Any") == 0)
			out->even_partitions = 0;
		else if (cJSON_IsString(dist) && strcmp(dist->valuestring, "Even") == 0)
			out->even_partitions = 1;
		else
			return spec_fail(c, "%s.partitionDistribution: must be one of Any, Even",
			                 p);
	}
	if (out->allow_idle_consumers == 1 && out->limit_to_partitions_with_lag == 1)
		return spec_fail(c,
		                 "%s.limitToPartitionsWithLag: cannot be true with "
		                 "allowIdleConsumers (replicas past the partitions with lag would "
		                 "be idle)",
		                 p);
	if (out->allow_idle_consumers == 1 && out->even_partitions == 1)
		return spec_fail(c,
		                 "%s.partitionDistribution: Even cannot be used with "
		                 "allowIdleConsumers (replicas past the partitions would be idle)",
		                 p);
	return 0;
}

int spec_parse_workers(struct spec_ctx *c, const cJSON *spec,
                       const struct spec_workers_rules *rules, struct spec_workers *out)
{
	static const char *const fields[] = {
	    "minReplicas",     "maxReplicas", "lagThreshold", "activationLagThreshold", "image",
	    "imagePullPolicy", "resources",   "scaling",      SPEC_POD_FIELDS,          NULL};
	const char *p = "spec.workers";
	const cJSON *w;
	long long lo, hi, lag, act, max_def;
	int rc;

	if ((rc = spec_get_object(c, spec, "workers", "spec", 0, &w)) < 0 ||
	    (w != NULL && (rc = spec_check_fields(c, w, p, fields)) < 0) ||
	    (rc = spec_get_int(c, w, "minReplicas", p, rules->min_replicas, 0, SPEC_REPLICAS_MAX,
	                       &lo)) < 0)
		return rc;
	max_def = rules->max_replicas;
	if (rules->max_follows_min && lo > max_def)
		max_def = lo;
	if ((rc = spec_get_int(c, w, "maxReplicas", p, max_def, 1, SPEC_REPLICAS_MAX, &hi)) < 0 ||
	    (rc = spec_get_int(c, w, "lagThreshold", p, rules->lag_threshold, 1, rules->lag_limit,
	                       &lag)) < 0 ||
	    (rc = spec_get_int(c, w, "activationLagThreshold", p, 0, 0, rules->lag_limit, &act)) <
	        0)
		return rc;
	if (hi < lo)
		return spec_fail(c, "%s.maxReplicas: %lld is below %s.minReplicas: %lld", p, hi, p,
		                 lo);
	out->min_replicas = (int32_t)lo;
	out->max_replicas = (int32_t)hi;
	out->lag_threshold = lag;
	out->activation_lag_threshold = act;
	if ((rc = spec_get_string(c, w, "image", p, 0, NULL, SPEC_TEXT_MAX, &out->image)) < 0 ||
	    (rc = spec_get_string(c, w, "imagePullPolicy", p, 0, NULL, SPEC_TEXT_MAX,
	                          &out->image_pull_policy)) < 0)
		return rc;
	if (out->image != NULL && strpbrk(out->image, " \t\r\n\f\v") != NULL)
		return spec_fail(c, "%s.image: \"%s\" has white space", p, out->image);
	if (out->image_pull_policy != NULL && !one_of(out->image_pull_policy, pull_policies))
		return spec_fail(c,
		                 "%s.imagePullPolicy: \"%s\" is not one of Always, IfNotPresent, "
		                 "Never",
		                 p, out->image_pull_policy);
	if ((rc = spec_check_pod_fields(c, w, p)) < 0 ||
	    (rc = parse_scaling(c, w, &out->scaling)) < 0)
		return rc;
	return parse_resources(c, w, out);
}

static void resource_list_free(struct spec_resource_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		free(l->values[i]);
	}
	l->n = 0;
}

void spec_workers_free(struct spec_workers *w)
{
	free(w->image);
	free(w->image_pull_policy);
	resource_list_free(&w->requests);
	resource_list_free(&w->limits);
	memset(w, 0, sizeof(*w));
}

/* ==== Sinks ==== */

int spec_parse_influxdb(struct spec_ctx *c, const cJSON *sinks, const char *const *extra,
                        struct spec_influxdb *out, const cJSON **obj)
{
	const char *fields[16] = {"url", "database", "org", "token", "api"};
	size_t nf = 5;
	const char *p = "spec.sinks.influxdb";
	const cJSON *s = NULL, *api;
	int rc;

	if (obj != NULL)
		*obj = NULL;
	if (sinks != NULL && (rc = spec_get_object(c, sinks, "influxdb", "spec.sinks", 0, &s)) < 0)
		return rc;
	if (s == NULL)
		return 0;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && nf < 15; i++)
		fields[nf++] = extra[i];
	fields[nf] = NULL;
	out->enabled = 1;
	if ((rc = spec_check_fields(c, s, p, fields)) < 0 ||
	    (rc = spec_get_string(c, s, "url", p, 1, NULL, SPEC_TEXT_MAX, &out->url)) < 0)
		return rc;
	if ((strncmp(out->url, "http://", 7) != 0 && strncmp(out->url, "https://", 8) != 0) ||
	    spec_url_has_userinfo(out->url) || !spec_no_blank(out->url))
		return spec_fail(c,
		                 "%s.url: \"%s\" is not http(s)://host[:port] without credentials "
		                 "(use token)",
		                 p, out->url);
	if ((rc = spec_get_string(c, s, "database", p, 1, NULL, SPEC_TEXT_MAX, &out->database)) <
	        0 ||
	    (rc = spec_get_string(c, s, "org", p, 0, NULL, SPEC_TEXT_MAX, &out->org)) < 0 ||
	    (rc = spec_get_secret_ref(c, s, "token", p, 0, "", &out->token.name, &out->token.key)) <
	        0)
		return rc;
	out->api = SPEC_INFLUX_V1;
	api = spec_member(s, "api");
	if (api != NULL) {
		if (!cJSON_IsString(api))
			return spec_fail(c, "%s.api: must be a string", p);
		if (strcmp(api->valuestring, "v1") == 0)
			out->api = SPEC_INFLUX_V1;
		else if (strcmp(api->valuestring, "v2") == 0)
			out->api = SPEC_INFLUX_V2;
		else
			return spec_fail(c, "%s.api: \"%s\" is not one of v1, v2", p,
			                 api->valuestring);
	}
	if (out->api == SPEC_INFLUX_V2 && out->token.name == NULL)
		return spec_fail(c, "%s.token: required when %s.api is v2", p, p);
	if (obj != NULL)
		*obj = s;
	return 0;
}

void spec_influxdb_free(struct spec_influxdb *s)
{
	free(s->url);
	free(s->database);
	free(s->org);
	spec_secret_ref_free(&s->token);
	memset(s, 0, sizeof(*s));
}

int spec_parse_postgres(struct spec_ctx *c, const cJSON *sinks, const char *default_table,
                        int dsn_required, struct spec_postgres *out)
{
	static const char *const fields[] = {"dsn", "table", "tls", NULL};
	static const char *const tls_fields[] = {"ca", NULL};
	const char *p = "spec.sinks.postgres";
	const cJSON *s = NULL, *t = NULL;
	int rc;

	if (sinks != NULL && (rc = spec_get_object(c, sinks, "postgres", "spec.sinks", 0, &s)) < 0)
		return rc;
	out->enabled = s != NULL;
	if ((s != NULL && (rc = spec_check_fields(c, s, p, fields)) < 0) ||
	    (s != NULL &&
	     (rc = spec_get_secret_ref(c, s, "dsn", p, dsn_required,
	                               dsn_required ? " (a Secret reference {name, key})" : "",
	                               &out->dsn.name, &out->dsn.key)) < 0) ||
	    (rc = spec_get_string(c, s, "table", p, 0, default_table, SPEC_TEXT_MAX, &out->table)) <
	        0)
		return rc;
	if (!spec_sql_ident_ok(out->table))
		return spec_fail(c,
		                 "%s.table: \"%s\" is not a lower-case SQL identifier "
		                 "([a-z_][a-z0-9_]*, at most %d bytes)",
		                 p, out->table, SPEC_SQL_IDENT_MAX);
	if (s != NULL && (rc = spec_get_object(c, s, "tls", p, 0, &t)) < 0)
		return rc;
	if (t != NULL &&
	    ((rc = spec_check_fields(c, t, "spec.sinks.postgres.tls", tls_fields)) < 0 ||
	     (rc = spec_get_secret_ref(c, t, "ca", "spec.sinks.postgres.tls", 1,
	                               " (a Secret reference {name, key} to the CA's PEM)",
	                               &out->tls_ca.name, &out->tls_ca.key)) < 0))
		return rc;
	return 0;
}

void spec_postgres_free(struct spec_postgres *s)
{
	spec_secret_ref_free(&s->dsn);
	spec_secret_ref_free(&s->tls_ca);
	free(s->table);
	memset(s, 0, sizeof(*s));
}

/* ==== Kafka ==== */

int spec_get_bootstrap(struct spec_ctx *c, const cJSON *k, char **out)
{
	int rc;

	if ((rc = spec_get_string(c, k, "bootstrap", "spec.kafka", 1, NULL, SPEC_TEXT_MAX, out)) <
	    0)
		return rc;
	if (!spec_no_blank(*out))
		return spec_fail(c,
		                 "spec.kafka.bootstrap: \"%s\" has a space; separate brokers with "
		                 "commas",
		                 *out);
	return 0;
}

/* spec.kafka.tls: present (even {}) means TLS. */
static int parse_kafka_tls(struct spec_ctx *c, const cJSON *k, struct spec_kafka_tls *out)
{
	static const char *const fields[] = {"ca", "cert", "key", "serverName", NULL};
	const char *p = "spec.kafka.tls";
	const cJSON *t;
	int rc;

	if ((rc = spec_get_object(c, k, "tls", "spec.kafka", 0, &t)) < 0 || t == NULL)
		return rc;
	out->enabled = 1;
	if ((rc = spec_check_fields(c, t, p, fields)) < 0 ||
	    (rc = spec_get_secret_ref(c, t, "ca", p, 0, "", &out->ca.name, &out->ca.key)) < 0 ||
	    (rc = spec_get_secret_ref(c, t, "cert", p, 0, "", &out->cert.name, &out->cert.key)) <
	        0 ||
	    (rc = spec_get_secret_ref(c, t, "key", p, 0, "", &out->key.name, &out->key.key)) < 0 ||
	    (rc = spec_get_string(c, t, "serverName", p, 0, NULL, SPEC_NAME_MAX,
	                          &out->server_name)) < 0)
		return rc;
	if ((out->cert.name != NULL) != (out->key.name != NULL))
		return spec_fail(c, "%s.%s: required with %s.%s (a client certificate and its key)",
		                 p, out->cert.name != NULL ? "key" : "cert", p,
		                 out->cert.name != NULL ? "cert" : "key");
	if (out->server_name != NULL && !spec_no_blank(out->server_name))
		return spec_fail(c, "%s.serverName: \"%s\" is not a host name", p,
		                 out->server_name);
	return 0;
}

static int parse_kafka_sasl(struct spec_ctx *c, const cJSON *k, struct spec_kafka_sasl *out)
{
	static const char *const fields[] = {"mechanism", "username", "password", NULL};
	static const char *const why = " (a Secret reference {name, key})";
	const char *p = "spec.kafka.sasl";
	const cJSON *s, *m;
	int rc;

	if ((rc = spec_get_object(c, k, "sasl", "spec.kafka", 0, &s)) < 0 || s == NULL)
		return rc;
	if ((rc = spec_check_fields(c, s, p, fields)) < 0)
		return rc;
	m = spec_member(s, "mechanism");
	if (m == NULL)
		return spec_fail(
		    c, "%s.mechanism: required (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", p);
	if (!cJSON_IsString(m))
		return spec_fail(c, "%s.mechanism: must be a string", p);
	if (spec_sasl_mechanism_parse(m->valuestring, &out->mechanism) < 0)
		return spec_fail(c,
		                 "%s.mechanism: \"%s\" is not one of PLAIN, SCRAM-SHA-256, "
		                 "SCRAM-SHA-512",
		                 p, m->valuestring);
	if ((rc = spec_get_secret_ref(c, s, "username", p, 1, why, &out->username.name,
	                              &out->username.key)) < 0 ||
	    (rc = spec_get_secret_ref(c, s, "password", p, 1, why, &out->password.name,
	                              &out->password.key)) < 0)
		return rc;
	return 0;
}

static const char *const sasl_names[] = {
    [SPEC_SASL_PLAIN] = "PLAIN",
    [SPEC_SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
    [SPEC_SASL_SCRAM_SHA_512] = "SCRAM-SHA-512",
};

int spec_sasl_mechanism_parse(const char *s, enum spec_sasl_mechanism *out)
{
	for (int m = SPEC_SASL_PLAIN; m <= SPEC_SASL_SCRAM_SHA_512; m++)
		if (strcmp(s, sasl_names[m]) == 0) {
			*out = (enum spec_sasl_mechanism)m;
			return 0;
		}
	return -1;
}

const char *spec_sasl_mechanism_name(enum spec_sasl_mechanism m)
{
	if (m < SPEC_SASL_PLAIN || m > SPEC_SASL_SCRAM_SHA_512)
		return NULL;
	return sasl_names[m];
}

int spec_get_kafka_security(struct spec_ctx *c, const cJSON *k, struct spec_kafka *out)
{
	int rc;

	if ((rc = parse_kafka_tls(c, k, &out->tls)) < 0 ||
	    (rc = parse_kafka_sasl(c, k, &out->sasl)) < 0)
		return rc;
	return 0;
}

int spec_check_topic(struct spec_ctx *c, const char *path, const char *name, const char *topic,
                     size_t max, const char *hint)
{
	if (!spec_topic_ok(topic) || strlen(topic) > max)
		return spec_fail(c,
		                 "%s.%s: \"%s\" is not a Kafka topic name (letters, digits, '.', "
		                 "'_', '-'; at most %zu bytes)%s",
		                 path, name, topic, max, hint != NULL ? hint : "");
	return 0;
}

int spec_get_kafka_topics(struct spec_ctx *c, const cJSON *k, int create_allowed,
                          struct spec_kafka *out)
{
	static const char *const fields[] = {"partitions", "replicationFactor", NULL};
	const char *p = "spec.kafka.createTopic";
	const cJSON *ct = NULL;
	long long v;
	int rc;

	if ((rc = spec_get_int(c, k, "replicationFactor", "spec.kafka", 0, 0, SPEC_KAFKA_RF_MAX,
	                       &v)) < 0)
		return rc;
	out->replication_factor = (int32_t)v;
	if (!create_allowed)
		return 0;
	if ((rc = spec_get_object(c, k, "createTopic", "spec.kafka", 0, &ct)) < 0)
		return rc;
	if (ct == NULL)
		return 0;
	if ((rc = spec_check_fields(c, ct, p, fields)) < 0)
		return rc;
	if (spec_member(ct, "partitions") == NULL)
		return spec_fail(c, "%s.partitions: required", p);
	if ((rc = spec_get_int(c, ct, "partitions", p, 1, 1, SPEC_KAFKA_PARTITIONS_MAX, &v)) < 0)
		return rc;
	out->create_topic.partitions = (int32_t)v;
	if ((rc = spec_get_int(c, ct, "replicationFactor", p, 0, 0, SPEC_KAFKA_RF_MAX, &v)) < 0)
		return rc;
	out->create_topic.replication_factor = (int32_t)v;
	out->create_topic.enabled = 1;
	return 0;
}

void spec_kafka_free(struct spec_kafka *k)
{
	free(k->bootstrap);
	free(k->topic);
	free(k->group);
	free(k->dead_letter_topic);
	spec_secret_ref_free(&k->tls.ca);
	spec_secret_ref_free(&k->tls.cert);
	spec_secret_ref_free(&k->tls.key);
	free(k->tls.server_name);
	spec_secret_ref_free(&k->sasl.username);
	spec_secret_ref_free(&k->sasl.password);
	memset(k, 0, sizeof(*k));
}

/* ==== Documents ==== */

int spec_document(struct spec_ctx *c, const cJSON *doc, const char *kind, const cJSON **spec,
                  const char **name, const char **ns)
{
	static const char *const fields[] = {"apiVersion", "kind", "metadata",  "spec",
	                                     "status",     "name", "namespace", NULL};
	const cJSON *meta, *k, *n, *s;
	const char *where = "metadata.";

	if (!cJSON_IsObject(doc))
		return spec_fail(c, "document: must be an object (a %s)", kind);
	for (const cJSON *it = doc->child; it != NULL; it = it->next)
		if (!one_of(it->string, fields))
			return spec_fail(c, "%s: unknown field", it->string);
	k = spec_member(doc, "kind");
	if (k != NULL && !cJSON_IsString(k))
		return spec_fail(c, "kind: must be a string");
	if (k != NULL && strcmp(k->valuestring, kind) != 0)
		return spec_fail(c, "kind: \"%s\" is not %s", k->valuestring, kind);
	meta = spec_member(doc, "metadata");
	if (meta != NULL && !cJSON_IsObject(meta))
		return spec_fail(c, "metadata: must be an object");
	if (meta == NULL) {
		meta = doc; /* the short form: name and namespace at the top */
		where = "";
	}
	n = spec_member(meta, "name");
	s = spec_member(meta, "namespace");
	if (n != NULL && !cJSON_IsString(n))
		return spec_fail(c, "%sname: must be a string", where);
	if (s != NULL && !cJSON_IsString(s))
		return spec_fail(c, "%snamespace: must be a string", where);
	if (n == NULL)
		return spec_fail(c, "%sname: required", where);
	*name = n->valuestring;
	*ns = s != NULL ? s->valuestring : NULL;
	*spec = spec_member(doc, "spec");
	if (*spec == NULL)
		return spec_fail(c, "spec: required");
	return 0;
}

int spec_load_document(struct spec_ctx *c, const char *path, size_t max, cJSON **doc)
{
	char why[512];
	char *data;
	size_t len, i = 0;
	int rc;

	*doc = NULL;
	if ((rc = spec_read_file(c, path, max, &data, &len)) < 0)
		return rc;
	while (i < len && strchr(" \t\r\n", data[i]) != NULL)
		i++;
	if (i < len && data[i] == '{') {
		const char *end = NULL;

		*doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
		if (*doc == NULL)
			rc = spec_fail(c, "%s: not valid JSON near byte %td", path,
			               end != NULL ? end - data : (ptrdiff_t)0);
	} else if (yaml_json_parse(data, len, doc, why, sizeof(why)) < 0) {
		rc = spec_fail(c, "%s: %s", path, why);
	}
	free(data);
	return rc;
}
