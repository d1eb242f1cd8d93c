/*
 * kafka.c - librdkafka set-up shared by every Sluice client. See kafka.h for
 * the settings and why each is chosen.
 */
#include "kafka.h"
#include "kafka_int.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bg_thread.h"
#include "clock.h"
#include "log.h"
#include "version.h"
#include "err.h"

const char *kafka_strerror(char *buf, size_t size, rd_kafka_resp_err_t err)
{
	snprintf(buf, size, "%s (%s)", rd_kafka_err2str(err), rd_kafka_err2name(err));
	return buf;
}

int kafka_fail(char *errbuf, size_t errbuf_size, const char *what, rd_kafka_resp_err_t err)
{
	char text[256];

	return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %s", what,
	               kafka_strerror(text, sizeof(text), err));
}

int kafka_fail_error(char *errbuf, size_t errbuf_size, const char *what, rd_kafka_error_t *error)
{
	if (error == NULL)
		return 0;
	err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %s (%s)", what,
	        rd_kafka_error_string(error), rd_kafka_error_name(error));
	rd_kafka_error_destroy(error);
	return KAFKA_ERR;
}

int kafka_fatal(rd_kafka_t *rk, char *errbuf, size_t errbuf_size)
{
	char reason[512];
	rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, reason, sizeof(reason));

	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: fatal error: %s (%s)", reason,
	        rd_kafka_err2name(err));
	return 1;
}

const char *kafka_source(char *buf, size_t size, const char *topic, int32_t partition,
                         int64_t offset)
{
	if (offset < 0)
		snprintf(buf, size, "%s/%" PRId32 "/-", topic, partition);
	else
		snprintf(buf, size, "%s/%" PRId32 "/%" PRId64, topic, partition, offset);
	return buf;
}

/* librdkafka's levels are syslog's: 0 emerg .. 7 debug. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum log_level l = level <= 3   ? LOG_LEVEL_ERROR
	                   : level == 4 ? LOG_LEVEL_WARN
	                   : level <= 6 ? LOG_LEVEL_INFO
	                                : LOG_LEVEL_DEBUG;

	log_msg(l, buf, "kafka_fac", fac, "client", rd_kafka_name(rk), NULL);
}

/* Most errors here are transient (a broker went away, a connection was
 * refused) and librdkafka recovers by itself; they are worth a line, not
 * an action. ALL_BROKERS_DOWN and fatal errors are logged as errors. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)opaque;
	rd_kafka_resp_err_t e = (rd_kafka_resp_err_t)err;
	int severe = e == RD_KAFKA_RESP_ERR__FATAL || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;

	log_msg(severe ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "kafka client error", "client",
	        rd_kafka_name(rk), "error", rd_kafka_err2name(e), "reason", reason, NULL);
}

/* Properties whose values never reach a message (secrets, and PEM text too
 * long to be of use there). */
static int value_quoted(const char *name)
{
	return strcmp(name, "sasl.password") != 0 && strcmp(name, "sasl.username") != 0 &&
	       strstr(name, ".pem") == NULL;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errbuf,
                    size_t errbuf_size)
{
	char es[512];

	if (rd_kafka_conf_set(conf, name, value, es, sizeof(es)) != RD_KAFKA_CONF_OK) {
		if (!value_quoted(name))
			return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %s", name, es);
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s=%s: %s", name, value, es);
	}
	return 0;
}

static int conf_set_all(rd_kafka_conf_t *conf, const char *const *pairs, char *errbuf,
                        size_t errbuf_size)
{
	for (size_t i = 0; pairs != NULL && pairs[i] != NULL; i += 2) {
		if (pairs[i + 1] == NULL)
			return err_set(errbuf, errbuf_size, KAFKA_ERR,
			               "kafka: %s: property without a value", pairs[i]);
		if (conf_set(conf, pairs[i], pairs[i + 1], errbuf, errbuf_size) < 0)
			return KAFKA_ERR;
	}
	return 0;
}

/* ==== Security ==== */

static int set_pair(const char **pairs, size_t n, size_t *at, const char *name, const char *value,
                    char *errbuf, size_t errbuf_size)
{
	if (*at + 3 > n)
		return err_set(errbuf, errbuf_size, KAFKA_ERR,
		               "kafka: security: too many properties");
	pairs[(*at)++] = name;
	pairs[(*at)++] = value;
	pairs[*at] = NULL;
	return 0;
}

static int given(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int kafka_security_pairs(const struct kafka_security *sec, const char **pairs, size_t n,
                         char *errbuf, size_t errbuf_size)
{
	static const char *const mechanisms[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL};
	const char *protocol;
	size_t at = 0;
	int sasl;

	if (n == 0)
		return err_set(errbuf, errbuf_size, KAFKA_ERR,
		               "kafka: security: too many properties");
	pairs[0] = NULL;
	if (sec == NULL)
		return 0;
	sasl = sec->sasl_mechanism != NULL;
	if (!sec->tls) {
		const char *set = given(sec->ca_pem)        ? "ssl.ca.pem"
		                  : given(sec->cert_pem)    ? "ssl.certificate.pem"
		                  : given(sec->key_pem)     ? "ssl.key.pem"
		                  : given(sec->server_name) ? "server name"
		                                            : NULL;
		if (set != NULL)
			return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: set without tls",
			               set);
	}
	if (given(sec->cert_pem) != given(sec->key_pem))
		return err_set(errbuf, errbuf_size, KAFKA_ERR,
		               "kafka: ssl.certificate.pem and ssl.key.pem: give both or neither");
	if (sasl) {
		size_t i;

		for (i = 0; mechanisms[i] != NULL; i++)
			if (strcmp(sec->sasl_mechanism, mechanisms[i]) == 0)
				break;
		if (mechanisms[i] == NULL)
			return err_set(errbuf, errbuf_size, KAFKA_ERR,
			               "kafka: sasl.mechanism: \"%s\" is not one of PLAIN, "
			               "SCRAM-SHA-256, SCRAM-SHA-512",
			               sec->sasl_mechanism);
		if (!given(sec->username) || !given(sec->password))
			return err_set(errbuf, errbuf_size, KAFKA_ERR,
			               "kafka: sasl.%s: required with sasl.mechanism %s",
			               given(sec->username) ? "password" : "username",
			               sec->sasl_mechanism);
	} else if (given(sec->username) || given(sec->password)) {
		return err_set(errbuf, errbuf_size, KAFKA_ERR,
		               "kafka: sasl.%s: set without sasl.mechanism",
		               given(sec->username) ? "username" : "password");
	}
	protocol = sec->tls ? (sasl ? "sasl_ssl" : "ssl") : (sasl ? "sasl_plaintext" : "plaintext");
	if (set_pair(pairs, n, &at, "security.protocol", protocol, errbuf, errbuf_size) < 0)
		return KAFKA_ERR;
	if (sec->tls) {
		if ((given(sec->ca_pem) &&
		     set_pair(pairs, n, &at, "ssl.ca.pem", sec->ca_pem, errbuf, errbuf_size) < 0) ||
		    (given(sec->cert_pem) && (set_pair(pairs, n, &at, "ssl.certificate.pem",
		                                       sec->cert_pem, errbuf, errbuf_size) < 0 ||
		                              set_pair(pairs, n, &at, "ssl.key.pem", sec->key_pem,
		                                       errbuf, errbuf_size) < 0)) ||
		    set_pair(pairs, n, &at, "ssl.endpoint.identification.algorithm",
		             given(sec->server_name) ? "none" : "https", errbuf, errbuf_size) < 0)
			return KAFKA_ERR;
	}
	if (sasl &&
	    (set_pair(pairs, n, &at, "sasl.mechanism", sec->sasl_mechanism, errbuf, errbuf_size) <
	         0 ||
	     set_pair(pairs, n, &at, "sasl.username", sec->username, errbuf, errbuf_size) < 0 ||
	     set_pair(pairs, n, &at, "sasl.password", sec->password, errbuf, errbuf_size) < 0))
		return KAFKA_ERR;
	return 0;
}

int kafka_cert_has_name(const unsigned char *der, size_t size, const char *name)
{
	const unsigned char *p = der;
	X509 *cert;
	int ok;

	if (der == NULL || size == 0 || size > 1024 * 1024 || name == NULL || name[0] == '\0')
		return 0;
	cert = d2i_X509(NULL, &p, (long)size);
	if (cert == NULL)
		return 0;
	/* X509_check_ip_asc answers -1 for text that is not an address. */
	ok = X509_check_ip_asc(cert, name, 0) == 1 || X509_check_host(cert, name, 0, 0, NULL) == 1;
	X509_free(cert);
	return ok;
}

/*
 * The server name each client checks, found by the client's opaque (the
 * only pointer librdkafka hands its certificate callback). A client made
 * with a NULL opaque gets the slot itself as its opaque, shared by every
 * such client with the same name. Slots are kept for the process's life
 * (clients are destroyed behind kafka.c's back): a slot is reused for the
 * same opaque and name, and a full table refuses new clients.
 */
static struct server_name_slot {
	const void *opaque; /* the caller's; NULL: this slot is the opaque */
	char name[256];
} server_names[KAFKA_SERVER_NAMES_MAX];
static size_t server_names_used;
static pthread_mutex_t server_names_lock = PTHREAD_MUTEX_INITIALIZER;

/* The opaque the client is made with, or NULL when the table is full or the
 * name too long (errbuf says which). */
static void *server_name_register(void *opaque, const char *name, char *errbuf, size_t errbuf_size)
{
	void *use = NULL;
	size_t i;

	if (strlen(name) >= sizeof(server_names[0].name)) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: server name: longer than %zu bytes",
		        sizeof(server_names[0].name) - 1);
		return NULL;
	}
	pthread_mutex_lock(&server_names_lock);
	for (i = 0; i < server_names_used; i++)
		if (server_names[i].opaque == opaque && strcmp(server_names[i].name, name) == 0)
			break;
	if (i == server_names_used && i < KAFKA_SERVER_NAMES_MAX) {
		server_names[i].opaque = opaque;
		snprintf(server_names[i].name, sizeof(server_names[i].name), "%s", name);
		server_names_used++;
	}
	if (i < server_names_used)
		use = opaque != NULL ? opaque : (void *)&server_names[i];
	pthread_mutex_unlock(&server_names_lock);
	if (use == NULL)
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: server name: more than %d (client, name) pairs in one process",
		        KAFKA_SERVER_NAMES_MAX);
	return use;
}

/* Copies the name registered for opaque into buf; 0 when there is none. */
static int server_name_find(const void *opaque, char *buf, size_t size)
{
	int found = 0;

	pthread_mutex_lock(&server_names_lock);
	for (size_t i = server_names_used; i-- > 0 && !found;) {
		if (server_names[i].opaque == opaque || (const void *)&server_names[i] == opaque) {
			snprintf(buf, size, "%s", server_names[i].name);
			found = 1;
		}
	}
	pthread_mutex_unlock(&server_names_lock);
	return found;
}

/* librdkafka calls this from its broker threads for each certificate of
 * the chain, root first; depth 0 is the broker's own. OpenSSL's verdict
 * on the chain (x509_error) stands; the leaf must also carry the name. */
static int cert_verify_cb(rd_kafka_t *rk, const char *broker_name, int32_t broker_id,
                          int *x509_error, int depth, const char *buf, size_t size, char *errstr,
                          size_t errstr_size, void *opaque)
{
	char name[256];

	(void)rk;
	(void)broker_id;
	if (*x509_error != 0) {
		snprintf(errstr, errstr_size, "%s: certificate at depth %d: %s", broker_name, depth,
		         X509_verify_cert_error_string(*x509_error));
		return 0;
	}
	if (depth != 0)
		return 1;
	if (!server_name_find(opaque, name, sizeof(name))) {
		*x509_error = X509_V_ERR_APPLICATION_VERIFICATION;
		snprintf(errstr, errstr_size, "%s: no server name to check the certificate against",
		         broker_name);
		return 0;
	}
	if (!kafka_cert_has_name((const unsigned char *)buf, size, name)) {
		*x509_error = X509_V_ERR_HOSTNAME_MISMATCH;
		snprintf(errstr, errstr_size, "%s: the certificate does not carry the name \"%s\"",
		         broker_name, name);
		return 0;
	}
	return 1;
}

/* Applies kc->security to conf; *opaque becomes the one to make the client
 * with. */
static int conf_security(rd_kafka_conf_t *conf, const struct kafka_config *kc, void **opaque,
                         char *errbuf, size_t errbuf_size)
{
	const char *pairs[KAFKA_SECURITY_PAIRS_MAX];
	const struct kafka_security *sec = kc->security;

	if (kafka_security_pairs(sec, pairs, KAFKA_SECURITY_PAIRS_MAX, errbuf, errbuf_size) < 0 ||
	    conf_set_all(conf, pairs, errbuf, errbuf_size) < 0)
		return KAFKA_ERR;
	if (sec == NULL || !sec->tls || !given(sec->server_name))
		return 0;
	*opaque = server_name_register(*opaque, sec->server_name, errbuf, errbuf_size);
	if (*opaque == NULL)
		return KAFKA_ERR;
	if (rd_kafka_conf_set_ssl_cert_verify_cb(conf, cert_verify_cb) != RD_KAFKA_CONF_OK)
		return err_set(errbuf, errbuf_size, KAFKA_ERR,
		               "kafka: this librdkafka has no TLS certificate callback");
	return 0;
}

/* The settings every client shares. */
rd_kafka_conf_t *kafka_conf_common(const struct kafka_config *kc, void *opaque, char *errbuf,
                                   size_t errbuf_size)
{
	rd_kafka_conf_t *conf;

	if (kc->bootstrap == NULL || kc->bootstrap[0] == '\0') {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: bootstrap.servers: required");
		return NULL;
	}
	if (kc->client_id == NULL || kc->client_id[0] == '\0') {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: client.id: required");
		return NULL;
	}
	conf = rd_kafka_conf_new();
	if (conf == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: cannot allocate a configuration");
		return NULL;
	}
	/* clang-format off */
	const char *const pairs[] = {
	    "bootstrap.servers",       kc->bootstrap,
	    "client.id",               kc->client_id,
	    "client.software.name",    "sluice",
	    "client.software.version", SLUICE_VERSION,
	    "statistics.interval.ms",  "0",
	    "log.connection.close",    "false",
	    NULL,
	};
	/* clang-format on */
	if (conf_set_all(conf, pairs, errbuf, errbuf_size) < 0 ||
	    conf_security(conf, kc, &opaque, errbuf, errbuf_size) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, opaque);
	return conf;
}

/* rd_kafka_new takes conf on success only. */
rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
                             const struct kafka_config *kc, char *errbuf, size_t errbuf_size)
{
	char es[512];
	rd_kafka_t *rk;

	if (conf_set_all(conf, kc->extra, errbuf, errbuf_size) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(type, conf, es, sizeof(es));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: cannot create a %s: %s",
		        type == RD_KAFKA_CONSUMER ? "consumer" : "producer", es);
	}
	return rk;
}

rd_kafka_t *kafka_consumer_new(const struct kafka_config *kc, kafka_rebalance_fn rebalance,
                               void *opaque, char *errbuf, size_t errbuf_size)
{
	char session[24], heartbeat[24];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;

	if (kc->group == NULL || kc->group[0] == '\0') {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: group.id: required for a consumer");
		return NULL;
	}
	conf = kafka_conf_common(kc, opaque, errbuf, errbuf_size);
	if (conf == NULL)
		return NULL;
	char prefetch_messages[16], prefetch_kbytes[16];
	snprintf(prefetch_messages, sizeof(prefetch_messages), "%d", KAFKA_PREFETCH_MESSAGES);
	snprintf(prefetch_kbytes, sizeof(prefetch_kbytes), "%d", KAFKA_PREFETCH_KBYTES);
	/* clang-format off */
	const char *const pairs[] = {
	    "group.id",                      kc->group,
	    "enable.auto.commit",            "false",
	    "enable.auto.offset.store",      "false",
	    "auto.offset.reset",             "earliest",
	    "partition.assignment.strategy", kc->assignment_strategy != NULL
	                                     ? kc->assignment_strategy
	                                     : KAFKA_STRATEGY_EAGER,
	    "isolation.level",               "read_committed",
	    "enable.partition.eof",          "false",
	    "queued.min.messages",           prefetch_messages,
	    "queued.max.messages.kbytes",    prefetch_kbytes,
	    NULL,
	};
	/* clang-format on */
	if (conf_set_all(conf, pairs, errbuf, errbuf_size) < 0)
		goto fail;
	if (kc->session_timeout_ms > 0) {
		/* A third of the session, as Kafka advises, at most librdkafka's
		 * default of 3 s. */
		int hb = kc->session_timeout_ms / 3;
		if (hb > 3000)
			hb = 3000;
		if (hb < 100)
			hb = 100;
		snprintf(session, sizeof(session), "%d", kc->session_timeout_ms);
		snprintf(heartbeat, sizeof(heartbeat), "%d", hb);
		if (conf_set(conf, "session.timeout.ms", session, errbuf, errbuf_size) < 0 ||
		    conf_set(conf, "heartbeat.interval.ms", heartbeat, errbuf, errbuf_size) < 0)
			goto fail;
	}
	if (rebalance != NULL)
		rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	rk = kafka_client_new(RD_KAFKA_CONSUMER, conf, kc, errbuf, errbuf_size);
	if (rk == NULL)
		return NULL;
	/* Serve every callback from rd_kafka_consumer_poll, on one queue. */
	rd_kafka_resp_err_t err = rd_kafka_poll_set_consumer(rk);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(errbuf, errbuf_size, "poll_set_consumer", err);
		rd_kafka_destroy(rk);
		return NULL;
	}
	return rk;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

rd_kafka_t *kafka_producer_new(const struct kafka_config *kc, kafka_delivery_fn delivery,
                               void *opaque, char *errbuf, size_t errbuf_size)
{
	rd_kafka_conf_t *conf = kafka_conf_common(kc, opaque, errbuf, errbuf_size);

	if (conf == NULL)
		return NULL;
	/* clang-format off */
	const char *const pairs[] = {
	    "acks",               "all",
	    "enable.idempotence", "true",
	    "partitioner",        "murmur2_random",
	    NULL,
	};
	/* clang-format on */
	if (conf_set_all(conf, pairs, errbuf, errbuf_size) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if (delivery != NULL)
		rd_kafka_conf_set_dr_msg_cb(conf, delivery);
	return kafka_client_new(RD_KAFKA_PRODUCER, conf, kc, errbuf, errbuf_size);
}

const char *kafka_message_timeout(const char *dflt, char *buf, size_t size, char *errbuf,
                                  size_t errbuf_size)
{
	const char *v = getenv(KAFKA_MESSAGE_TIMEOUT_ENV);
	long long ms = 0;
	size_t i = 0;

	if (v == NULL || v[0] == '\0') {
		snprintf(buf, size, "%s", dflt);
		return buf;
	}
	for (; v[i] >= '0' && v[i] <= '9' && ms <= 2147483647LL; i++)
		ms = ms * 10 + (v[i] - '0');
	if (v[i] != '\0' || i > 10 || ms > 2147483647LL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "%s: \"%.32s\" is not a number of milliseconds (0 to 2147483647)",
		        KAFKA_MESSAGE_TIMEOUT_ENV, v);
		return NULL;
	}
	snprintf(buf, size, "%lld", ms);
	return buf;
}

int kafka_topic_create(rd_kafka_t *rk, const char *topic, int partitions, int replication,
                       int timeout_ms, char *errbuf, size_t errbuf_size)
{
	return kafka_topic_create_ex(rk, topic, partitions, replication, 0, timeout_ms, NULL,
	                             errbuf, errbuf_size);
}

int kafka_topic_create_ex(rd_kafka_t *rk, const char *topic, int partitions, int replication,
                          int min_insync, int timeout_ms, int *created, char *errbuf,
                          size_t errbuf_size)
{
	char es[512], isr[16];
	rd_kafka_NewTopic_t *nt;
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	int rc = KAFKA_ERR;

	if (created != NULL)
		*created = 0;
	nt = rd_kafka_NewTopic_new(topic, partitions, replication, es, sizeof(es));
	if (nt == NULL)
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: create topic \"%s\": %s",
		               topic, es);
	snprintf(isr, sizeof(isr), "%d", min_insync);
	if (min_insync > 0 && rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", isr) !=
	                          RD_KAFKA_RESP_ERR_NO_ERROR) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": cannot set min.insync.replicas", topic);
		goto done;
	}
	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	if (opts == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": cannot allocate admin options", topic);
		goto done;
	}
	if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, es, sizeof(es)) ||
	    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, es, sizeof(es))) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: create topic \"%s\": %s", topic,
		        es);
		goto done;
	}
	q = rd_kafka_queue_new(rk);
	if (q == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": cannot allocate a queue", topic);
		goto done;
	}
	rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
	/* The request times out by itself after timeout_ms; the margin only
	 * covers the result's trip back. */
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (ev == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": no answer within %d ms", topic, timeout_ms);
		goto done;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: create topic \"%s\": %s (%s)",
		        topic, rd_kafka_event_error_string(ev),
		        rd_kafka_err2name(rd_kafka_event_error(ev)));
		goto done;
	}
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	size_t n = 0;
	const rd_kafka_topic_result_t **tr =
	    res != NULL ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
	if (tr == NULL || n != 1) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": unexpected answer", topic);
		goto done;
	}
	rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[0]);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		if (created != NULL)
			*created = err == RD_KAFKA_RESP_ERR_NO_ERROR;
		rc = 0;
	} else {
		char text[256];
		const char *detail = rd_kafka_topic_result_error_string(tr[0]);
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: create topic \"%s\": %s: %s", topic,
		        kafka_strerror(text, sizeof(text), err), detail != NULL ? detail : "");
	}
done:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

int kafka_security_failure(int err, const char *text)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
	case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
		return KAFKA_SEC_AUTH;
	case RD_KAFKA_RESP_ERR__SSL:
		return KAFKA_SEC_TLS;
	default:
		break;
	}
	if (text == NULL)
		return KAFKA_SEC_NONE;
	if (strstr(text, "SASL authentication error") != NULL ||
	    strstr(text, "Authentication failed") != NULL)
		return KAFKA_SEC_AUTH;
	if (strstr(text, "SSL handshake failed") != NULL ||
	    strstr(text, "certificate verify failed") != NULL ||
	    strstr(text, "SSL routines") != NULL || strstr(text, "SSL alert") != NULL)
		return KAFKA_SEC_TLS;
	return KAFKA_SEC_NONE;
}

int kafka_take_security_error(rd_kafka_t *rk, char *errbuf, size_t errbuf_size)
{
	rd_kafka_queue_t *q = rd_kafka_queue_get_main(rk);
	rd_kafka_event_t *ev;
	int found = KAFKA_SEC_NONE;

	if (q == NULL)
		return KAFKA_SEC_NONE;
	for (int i = 0; i < 1000 && (ev = rd_kafka_queue_poll(q, 0)) != NULL; i++) {
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR) {
			const char *text = rd_kafka_event_error_string(ev);
			int f = kafka_security_failure(rd_kafka_event_error(ev), text);

			if (f != KAFKA_SEC_NONE) {
				found = f;
				if (errbuf_size > 0)
					snprintf(errbuf, errbuf_size, "kafka: %s",
					         text != NULL ? text : "");
			}
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	return found;
}

/*
 * Issue 19: describing a topic must leave no topic object in the handle.
 * rd_kafka_topic_new() makes librdkafka 2.0.2 keep an rd_kafka_itopic_t,
 * and a toppar (queues, locks, buffers) per partition once metadata came,
 * until the handle is destroyed (measured: ~4.3 KiB per 1-partition and
 * ~8.8 KiB per 4-partition topic). A Metadata request for all topics names
 * none, makes no topic object, and leaves only the metadata cache's compact
 * entries, one per topic of the cluster, replaced on each such request
 * (tests/unit/test_kafka_topic_memory.c measures both). Its price is an
 * answer that grows with the cluster's topic count (on the mock cluster:
 * ~1.6 ms for 1,000 topics, ~13 ms for 5,000, request to parsed answer).
 */

/* The Metadata request of every topic of the cluster (all_topics 1) or of
 * those rk knows (0), retried in slices of a second with the security
 * errors looked at between them. Returns 0 with *md (the caller destroys
 * it), or KAFKA_ERR with either a security failure's text in sec_text
 * ("kafka: <librdkafka's reason>") or, with sec_text "", the error in *err. */
int kafka_metadata_fetch(rd_kafka_t *rk, int all_topics, int timeout_ms,
                         const struct rd_kafka_metadata **md, rd_kafka_resp_err_t *err,
                         char *sec_text, size_t sec_text_size)
{
	int left = timeout_ms > 0 ? timeout_ms : 1;

	sec_text[0] = '\0';
	for (;;) {
		int slice = left < 1000 ? left : 1000;

		*err = rd_kafka_metadata(rk, all_topics, NULL, md, slice);
		if (*err == RD_KAFKA_RESP_ERR_NO_ERROR)
			return 0;
		*md = NULL;
		/* A refused login or handshake is why the request went unanswered. */
		if (kafka_take_security_error(rk, sec_text, sec_text_size) != KAFKA_SEC_NONE)
			return KAFKA_ERR;
		left -= slice;
		if (*err != RD_KAFKA_RESP_ERR__TIMED_OUT || left <= 0)
			return KAFKA_ERR;
	}
}

/* kafka_metadata_fetch with its failure as "kafka: <what>: <reason>" in errbuf. */
static int metadata_sliced(rd_kafka_t *rk, int all_topics, int timeout_ms,
                           const struct rd_kafka_metadata **md, const char *what, char *errbuf,
                           size_t errbuf_size)
{
	rd_kafka_resp_err_t err;
	char sec[512];

	if (kafka_metadata_fetch(rk, all_topics, timeout_ms, md, &err, sec, sizeof(sec)) == 0)
		return 0;
	if (sec[0] != '\0')
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "%s", sec);
	return kafka_fail(errbuf, errbuf_size, what, err);
}

/* topic's entry in md, or NULL. */
const struct rd_kafka_metadata_topic *kafka_metadata_topic(const struct rd_kafka_metadata *md,
                                                           const char *topic)
{
	for (int i = 0; md != NULL && i < md->topic_cnt; i++)
		if (md->topics[i].topic != NULL && strcmp(md->topics[i].topic, topic) == 0)
			return &md->topics[i];
	return NULL;
}

/* topic's partition and replica counts from md, an answer for every topic
 * of the cluster (kafka_topic_describe's contract). */
int kafka_describe_from(const struct rd_kafka_metadata *md, const char *topic, int *partitions,
                        int *replication, char *errbuf, size_t errbuf_size)
{
	const struct rd_kafka_metadata_topic *t = kafka_metadata_topic(md, topic);
	char what[300];

	snprintf(what, sizeof(what), "metadata of topic \"%s\"", topic);
	/* Not in the cluster's list: what a broker asked for it by name says. */
	if (t == NULL)
		return kafka_fail(errbuf, errbuf_size, what,
		                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		return kafka_fail(errbuf, errbuf_size, what, t->err);
	if (t->partition_cnt < 1)
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: no partitions", what);
	*partitions = t->partition_cnt;
	*replication = t->partitions[0].replica_cnt;
	return 0;
}

int kafka_topic_describe(rd_kafka_t *rk, const char *topic, int timeout_ms, int *partitions,
                         int *replication, char *errbuf, size_t errbuf_size)
{
	const struct rd_kafka_metadata *md = NULL;
	char what[300];
	int rc;

	snprintf(what, sizeof(what), "metadata of topic \"%s\"", topic);
	if (metadata_sliced(rk, 1, timeout_ms, &md, what, errbuf, errbuf_size) < 0)
		return KAFKA_ERR;
	rc = kafka_describe_from(md, topic, partitions, replication, errbuf, errbuf_size);
	rd_kafka_metadata_destroy(md);
	return rc;
}

static int topic_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rd_kafka_metadata_topic *)a)->topic,
	              ((const struct rd_kafka_metadata_topic *)b)->topic);
}

int kafka_topics_describe(rd_kafka_t *rk, struct kafka_topic_info *topics, size_t n, int timeout_ms,
                          char *errbuf, size_t errbuf_size)
{
	const struct rd_kafka_metadata *md = NULL;
	struct rd_kafka_metadata_topic *sorted = NULL;
	char what[300];
	int rc = KAFKA_ERR;

	if (n == 0)
		return 0;
	if (n > KAFKA_DESCRIBE_MAX)
		return err_set(errbuf, errbuf_size, KAFKA_ERR,
		               "kafka: metadata of %zu topics: at most %d at once", n,
		               KAFKA_DESCRIBE_MAX);
	if (n == 1)
		snprintf(what, sizeof(what), "metadata of topic \"%s\"", topics[0].topic);
	else
		snprintf(what, sizeof(what), "metadata of %zu topics", n);
	if (metadata_sliced(rk, 1, timeout_ms, &md, what, errbuf, errbuf_size) < 0)
		return KAFKA_ERR;
	/* A sorted copy of the answer's topic entries: n lookups in
	 * O(log topics) each (the answer names every topic of the cluster). */
	if (md->topic_cnt > 0) {
		sorted = malloc((size_t)md->topic_cnt * sizeof(*sorted));
		if (sorted == NULL) {
			err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: out of memory", what);
			goto done;
		}
		memcpy(sorted, md->topics, (size_t)md->topic_cnt * sizeof(*sorted));
		qsort(sorted, (size_t)md->topic_cnt, sizeof(*sorted), topic_cmp);
	}
	for (size_t i = 0; i < n; i++) {
		struct rd_kafka_metadata_topic key = {.topic = (char *)topics[i].topic};
		const struct rd_kafka_metadata_topic *t =
		    sorted != NULL
		        ? bsearch(&key, sorted, (size_t)md->topic_cnt, sizeof(*sorted), topic_cmp)
		        : NULL;

		topics[i].partitions = 0;
		topics[i].err = t != NULL ? t->err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
		if (topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
			topics[i].partitions = t->partition_cnt;
	}
	rc = 0;
done:
	free(sorted);
	rd_kafka_metadata_destroy(md);
	return rc;
}

int kafka_topics_held(rd_kafka_t *rk, int timeout_ms, int *held, char *errbuf, size_t errbuf_size)
{
	const struct rd_kafka_metadata *md = NULL;

	if (metadata_sliced(rk, 0, timeout_ms, &md, "metadata of the known topics", errbuf,
	                    errbuf_size) < 0)
		return KAFKA_ERR;
	*held = md->topic_cnt;
	rd_kafka_metadata_destroy(md);
	return 0;
}

int kafka_topic_grow(rd_kafka_t *rk, const char *topic, int partitions, int timeout_ms,
                     char *errbuf, size_t errbuf_size)
{
	char es[512], what[300];
	rd_kafka_NewPartitions_t *np;
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	int rc = KAFKA_ERR;

	snprintf(what, sizeof(what), "grow topic \"%s\" to %d partitions", topic, partitions);
	np = rd_kafka_NewPartitions_new(topic, (size_t)partitions, es, sizeof(es));
	if (np == NULL)
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %s", what, es);
	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
	q = rd_kafka_queue_new(rk);
	if (opts == NULL || q == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: out of memory", what);
		goto done;
	}
	if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, es, sizeof(es)) ||
	    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, es, sizeof(es))) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %s", what, es);
		goto done;
	}
	rd_kafka_CreatePartitions(rk, &np, 1, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (ev == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: %s: no answer within %d ms (TIMED_OUT)", what, timeout_ms);
		goto done;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(errbuf, errbuf_size, what, rd_kafka_event_error(ev));
		goto done;
	}
	size_t n = 0;
	const rd_kafka_CreatePartitions_result_t *res = rd_kafka_event_CreatePartitions_result(ev);
	const rd_kafka_topic_result_t **tr =
	    res != NULL ? rd_kafka_CreatePartitions_result_topics(res, &n) : NULL;
	if (tr == NULL || n != 1) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: unexpected answer", what);
		goto done;
	}
	rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[0]);
	/* INVALID_PARTITIONS: it has that many already (a pass raced another). */
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS) {
		rc = 0;
	} else {
		char text[256];
		const char *detail = rd_kafka_topic_result_error_string(tr[0]);
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %s: %s", what,
		        kafka_strerror(text, sizeof(text), err), detail != NULL ? detail : "");
	}
done:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (opts != NULL)
		rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewPartitions_destroy(np);
	return rc;
}

int kafka_metadata_topic_ready(const struct rd_kafka_metadata *md, const char *topic,
                               int partitions, char *why, size_t why_size)
{
	const struct rd_kafka_metadata_topic *t = kafka_metadata_topic(md, topic);

	if (t == NULL) {
		snprintf(why, why_size, "not in the answer");
		return 0;
	}
	if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(why, why_size, "%s", rd_kafka_err2name(t->err));
		return 0;
	}
	if (t->partition_cnt < partitions) {
		snprintf(why, why_size, "%d of %d partitions", t->partition_cnt, partitions);
		return 0;
	}
	for (int p = 0; p < t->partition_cnt; p++) {
		if (t->partitions[p].err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
		    t->partitions[p].leader < 0) {
			snprintf(why, why_size, "partition %d has no leader", t->partitions[p].id);
			return 0;
		}
	}
	return 1;
}

int kafka_metadata_answerer(const struct rd_kafka_metadata *cluster,
                            const struct rd_kafka_metadata *answer)
{
	char prefix[300];

	for (int j = 0; j < cluster->broker_cnt; j++) {
		const struct rd_kafka_metadata_broker *b = &cluster->brokers[j];
		if (answer->orig_broker_id >= 0) {
			if (b->id == answer->orig_broker_id)
				return j;
			continue;
		}
		/* A bootstrap broker's first answer comes before librdkafka
		 * learned its id: its name is "host:port/bootstrap". */
		snprintf(prefix, sizeof(prefix), "%s:%d/", b->host != NULL ? b->host : "", b->port);
		if (answer->orig_broker_name != NULL &&
		    strncmp(answer->orig_broker_name, prefix, strlen(prefix)) == 0)
			return j;
	}
	return -1;
}

static int cooperative(rd_kafka_t *rk)
{
	return strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
}

int kafka_rebalance_assign(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions,
                           char *errbuf, size_t errbuf_size)
{
	if (cooperative(rk))
		return kafka_fail_error(errbuf, errbuf_size, "incremental assign",
		                        rd_kafka_incremental_assign(rk, partitions));
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, partitions);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0
	                                         : kafka_fail(errbuf, errbuf_size, "assign", err);
}

int kafka_rebalance_revoke(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions,
                           char *errbuf, size_t errbuf_size)
{
	if (cooperative(rk))
		return kafka_fail_error(errbuf, errbuf_size, "incremental unassign",
		                        rd_kafka_incremental_unassign(rk, partitions));
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, NULL);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0
	                                         : kafka_fail(errbuf, errbuf_size, "unassign", err);
}

/* 1 when rk was configured with cooperative-sticky (the one strategy
 * librdkafka#4312 concerns). */
static int configured_cooperative(rd_kafka_t *rk)
{
	char value[128];
	size_t size = sizeof(value);

	if (rd_kafka_conf_get(rd_kafka_conf(rk), "partition.assignment.strategy", value, &size) !=
	    RD_KAFKA_CONF_OK)
		return 1; /* cannot tell: assume the worst */
	return strstr(value, KAFKA_STRATEGY_COOPERATIVE) != NULL;
}

static int subscribed(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *topics = NULL;

	if (rd_kafka_subscription(rk, &topics) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return 1; /* cannot tell: assume the worst */
	int n = topics->cnt;
	rd_kafka_topic_partition_list_destroy(topics);
	return n > 0;
}

/*
 * librdkafka#4312 (2.0.2 and up to 2.2.0; fixed in 2.3.0 by #4381): the
 * cooperative-sticky assignor's state is made when the consumer's first
 * assignment arrives (SyncGroup), but the group takes the assignor from
 * the JoinGroup response before that; rd_kafka_destroy in between asserts
 * (rdkafka_sticky_assignor.c: rd_kafka_sticky_assignor_state_destroy:
 * Assertion `assignor_state' failed) and aborts the process.
 * RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE does not avoid it (the assert is in
 * the group's final destroy), and rd_kafka_rebalance_protocol() saying
 * "NONE" before the close does not either: a JoinGroup answered during the
 * close opens the window too (tests/integration/kafka_coop_it.c saw both).
 * What avoids it is an assignment: once the rebalance callback has seen
 * one (even empty) the state exists until the handle goes. So a subscribed
 * consumer that has not seen one polls for it, serving the callback, for
 * at most wait_ms; one that still has none is closed (it leaves the group)
 * but not destroyed: the process is exiting, and a leak beats an abort.
 */
int kafka_consumer_close(rd_kafka_t *rk, const int *assigned, int wait_ms, int *destroy_ok,
                         char *errbuf, size_t errbuf_size)
{
	*destroy_ok = 1;
	if (!__atomic_load_n(assigned, __ATOMIC_ACQUIRE) && configured_cooperative(rk) &&
	    subscribed(rk)) {
		int64_t deadline = clock_mono_ms() + wait_ms;
		while (!__atomic_load_n(assigned, __ATOMIC_ACQUIRE) && clock_mono_ms() < deadline) {
			/* A message that comes is not processed and not committed: the
			 * partition's next owner reads it. */
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
			if (m != NULL)
				rd_kafka_message_destroy(m);
		}
		if (!__atomic_load_n(assigned, __ATOMIC_ACQUIRE))
			*destroy_ok = 0;
	}
	rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		return kafka_fail(errbuf, errbuf_size, "close", err);
	return 0;
}

void kafka_consumer_destroy(rd_kafka_t *rk, int destroy_ok)
{
	if (rk == NULL)
		return;
	if (destroy_ok) {
		rd_kafka_destroy(rk);
		return;
	}
	log_warn("kafka: consumer left undestroyed: it joined its group but no assignment came, "
	         "and librdkafka 2.0.2 aborts destroying a cooperative-sticky consumer then "
	         "(librdkafka#4312)",
	         "client_id", rd_kafka_name(rk), NULL);
}

int kafka_wake_fetcher(rd_kafka_t *consumer, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_resp_err_t err = rd_kafka_assignment(consumer, &parts);

	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0) {
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = RD_KAFKA_OFFSET_END; /* the latest offset */
		err = rd_kafka_offsets_for_times(consumer, parts, timeout_ms);
	}
	if (parts != NULL)
		rd_kafka_topic_partition_list_destroy(parts);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : KAFKA_ERR;
}

struct kafka_waker {
	rd_kafka_t *consumer;
	int timeout_ms, fail_ms;
	struct bg_thread bg;
	int requested, busy; /* under bg.mu */
};

static void *waker_main(void *arg)
{
	struct kafka_waker *w = arg;

	pthread_mutex_lock(&w->bg.mu);
	for (;;) {
		while (!w->requested && !w->bg.stop)
			pthread_cond_wait(&w->bg.cond, &w->bg.mu);
		if (w->bg.stop)
			break;
		w->requested = 0;
		pthread_mutex_unlock(&w->bg.mu);
		int failed = kafka_wake_fetcher(w->consumer, w->timeout_ms) != 0;
		pthread_mutex_lock(&w->bg.mu);
		/* A broker that does not answer is not asked again at once. */
		if (failed && bg_thread_sleep_ms(&w->bg, w->fail_ms))
			break;
		w->busy = 0;
	}
	pthread_mutex_unlock(&w->bg.mu);
	return NULL;
}

struct kafka_waker *kafka_waker_new(rd_kafka_t *consumer, int timeout_ms, int fail_ms, char *errbuf,
                                    size_t errbuf_size)
{
	struct kafka_waker *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(errbuf, errbuf_size, "kafka: fetcher waker: out of memory");
		return NULL;
	}
	w->consumer = consumer;
	w->timeout_ms = timeout_ms;
	w->fail_ms = fail_ms;
	if (bg_thread_start(&w->bg, waker_main, w, "kafka: fetcher waker", errbuf, errbuf_size) <
	    0) {
		free(w);
		return NULL;
	}
	return w;
}

int kafka_waker_poke(struct kafka_waker *w)
{
	int started = 0;

	pthread_mutex_lock(&w->bg.mu);
	if (!w->busy && !w->bg.stop) {
		w->busy = w->requested = 1;
		pthread_cond_broadcast(&w->bg.cond);
		started = 1;
	}
	pthread_mutex_unlock(&w->bg.mu);
	return started;
}

void kafka_waker_free(struct kafka_waker *w)
{
	if (w == NULL)
		return;
	bg_thread_stop(&w->bg);
	free(w);
}

/* The loop fills `filling`; full slices wait in `full` (at most
 * REAPER_QUEUED) for the reaper thread, which destroys them and puts the
 * emptied arrays in `spare`. The reaper yields a core to the loop
 * (bg_thread) and so falls behind it by bursts: a few slices may wait
 * before the loop does. */
#define REAPER_QUEUED 6
struct reaper_slice {
	rd_kafka_message_t *m[KAFKA_REAPER_SLICE];
	size_t n;
};

struct kafka_reaper {
	struct bg_thread bg;
	struct reaper_slice *filling; /* the loop's own, no lock */
	struct reaper_slice *full[REAPER_QUEUED], *spare[REAPER_QUEUED + 1]; /* under bg.mu */
	size_t nfull, nspare;
	int busy; /* under bg.mu: the thread is destroying a slice */
};

static void *reaper_main(void *arg)
{
	struct kafka_reaper *r = arg;

	pthread_mutex_lock(&r->bg.mu);
	for (;;) {
		while (r->nfull == 0 && !r->bg.stop)
			pthread_cond_wait(&r->bg.cond, &r->bg.mu);
		if (r->nfull == 0)
			break; /* stopping and nothing left */
		struct reaper_slice *sl = r->full[0];
		memmove(&r->full[0], &r->full[1], (r->nfull - 1) * sizeof(r->full[0]));
		r->nfull--;
		r->busy = 1;
		pthread_mutex_unlock(&r->bg.mu);
		for (size_t i = 0; i < sl->n; i++)
			rd_kafka_message_destroy(sl->m[i]);
		sl->n = 0;
		pthread_mutex_lock(&r->bg.mu);
		r->spare[r->nspare++] = sl;
		r->busy = 0;
		pthread_cond_broadcast(&r->bg.cond);
	}
	pthread_mutex_unlock(&r->bg.mu);
	return NULL;
}

/* Frees the slices of a reaper whose thread is not running. */
static void reaper_free_slices(struct kafka_reaper *r)
{
	free(r->filling);
	for (size_t i = 0; i < r->nspare; i++)
		free(r->spare[i]);
	free(r);
}

struct kafka_reaper *kafka_reaper_new(char *errbuf, size_t errbuf_size)
{
	struct kafka_reaper *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(errbuf, errbuf_size, "kafka: message reaper: out of memory");
		return NULL;
	}
	/* One filling, REAPER_QUEUED waiting, one being destroyed. */
	r->filling = calloc(1, sizeof(*r->filling));
	for (size_t i = 0; i < REAPER_QUEUED + 1; i++)
		if ((r->spare[i] = calloc(1, sizeof(*r->spare[i]))) != NULL)
			r->nspare++;
	if (r->filling == NULL || r->nspare < REAPER_QUEUED + 1) {
		snprintf(errbuf, errbuf_size, "kafka: message reaper: out of memory");
		reaper_free_slices(r);
		return NULL;
	}
	if (bg_thread_start(&r->bg, reaper_main, r, "kafka: message reaper", errbuf, errbuf_size) <
	    0) {
		reaper_free_slices(r);
		return NULL;
	}
	return r;
}

/* Hands the filling slice to the thread (waiting while REAPER_QUEUED are
 * queued) and takes a spare one. */
static void reaper_hand_over(struct kafka_reaper *r)
{
	pthread_mutex_lock(&r->bg.mu);
	while (r->nfull == REAPER_QUEUED || r->nspare == 0)
		pthread_cond_wait(&r->bg.cond, &r->bg.mu);
	r->full[r->nfull++] = r->filling;
	r->filling = r->spare[--r->nspare];
	pthread_cond_broadcast(&r->bg.cond);
	pthread_mutex_unlock(&r->bg.mu);
}

void kafka_reaper_put(struct kafka_reaper *r, rd_kafka_message_t *m)
{
	r->filling->m[r->filling->n++] = m;
	if (r->filling->n == KAFKA_REAPER_SLICE)
		reaper_hand_over(r);
}

void kafka_reaper_flush(struct kafka_reaper *r)
{
	if (r->filling->n > 0)
		reaper_hand_over(r);
}

void kafka_reaper_drain(struct kafka_reaper *r)
{
	kafka_reaper_flush(r);
	pthread_mutex_lock(&r->bg.mu);
	while (r->nfull > 0 || r->busy)
		pthread_cond_wait(&r->bg.cond, &r->bg.mu);
	pthread_mutex_unlock(&r->bg.mu);
}

void kafka_reaper_free(struct kafka_reaper *r)
{
	if (r == NULL)
		return;
	kafka_reaper_drain(r);
	bg_thread_stop(&r->bg);
	reaper_free_slices(r);
}
