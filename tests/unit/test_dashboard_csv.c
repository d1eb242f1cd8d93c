/* Unit tests for dashboard/dash_csv.c: how a file is loaded into each
 * kind of TelemetryWindow (or refused), the loader's command line, and
 * its log lines read back as progress. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dash_csv.h"

static char errbuf[1024];

static void parse_spec(const char *json, struct tw_spec *spec)
{
	cJSON *s = cJSON_Parse(json);

	assert_non_null(s);
	if (tw_spec_parse(s, "sensors", "prod", spec, errbuf, sizeof(errbuf)) != 0)
		fail_msg("spec: %s", errbuf);
	cJSON_Delete(s);
}

#define KAFKA "\"kafka\":{\"bootstrap\":\"k:9092\",\"topic\":\"in\"},\"window\":{\"size\":\"1m\"}"

struct pcase {
	const char *spec, *header;
	int rc, as_json;
	const char *delim, *keys, *err;
};

static const struct pcase pcases[] = {
    /* json: records as objects, the keys the header has */
    {"{" KAFKA
     ",\"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\",\"site\"],\"values\":[\"v\"]}}",
     "ts,host,v,site", 0, 1, ",", "host,site", NULL},
    {"{" KAFKA ",\"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\",\"site\"]}}", "ts,site", 0, 1,
     ",", "site", NULL},
    {"{" KAFKA ",\"fields\":{\"timestamp\":\"ts\"}}", "\"ts\",x", 0, 1, ",", "", NULL},
    {"{" KAFKA ",\"fields\":{\"timestamp\":\"ts\"}}", "time,x", -1, 0, "", "",
     "the file's header has no column \"ts\" (spec.fields.timestamp)"},
    {"{" KAFKA ",\"fields\":{\"timestamp\":\"ts\"}}", "ts,\"x", -1, 0, "", "",
     "the file's header: csv: unterminated quoted cell 2"},
    /* csv: the header must be the columns, the spec's delimiter */
    {"{" KAFKA ",\"format\":\"csv\",\"csv\":{\"columns\":[\"ts\",\"host\",\"v\"],\"delimiter\":"
     "\";\"},\"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\"],\"values\":[\"v\"]}}",
     "ts;host;v", 0, 0, ";", "host", NULL},
    {"{" KAFKA ",\"format\":\"csv\",\"csv\":{\"columns\":[\"ts\",\"host\",\"v\"]},\"fields\":{"
     "\"timestamp\":\"ts\",\"keys\":[\"host\"],\"values\":[\"v\"]}}",
     "ts,v,host", -1, 0, "", "",
     "the file's header must be spec.csv.columns: ts,host,v (the worker reads cells by "
     "position)"},
    {"{" KAFKA ",\"format\":\"csv\",\"csv\":{\"columns\":[\"ts\",\"host\",\"v\"]},\"fields\":{"
     "\"timestamp\":\"ts\",\"values\":[\"v\"]}}",
     "ts,host", -1, 0, "", "",
     "the file's header must be spec.csv.columns: ts,host,v (the worker reads cells by "
     "position)"},
    /* influx: never CSV */
    {"{" KAFKA ",\"format\":\"influx\",\"fields\":{}}", "a,b", -1, 0, "", "",
     "the TelemetryWindow reads InfluxDB line protocol (spec.format influx), not CSV"},
};

static void test_plan(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		struct tw_spec spec;
		struct dash_load_plan plan;
		int rc;

		parse_spec(c->spec, &spec);
		errbuf[0] = '\0';
		rc = dash_load_plan(&spec, c->header, strlen(c->header), &plan, errbuf,
		                    sizeof(errbuf));
		if (rc != c->rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, c->rc, errbuf);
		if (rc == 0) {
			assert_int_equal(plan.as_json, c->as_json);
			assert_string_equal(plan.delim, c->delim);
			assert_string_equal(plan.key_fields, c->keys);
		} else {
			assert_string_equal(errbuf, c->err);
		}
		tw_spec_free(&spec);
	}
}

static void test_argv(void **state)
{
	struct dash_load_plan plan = {.as_json = 1, .delim = ",", .key_fields = "a,b"};
	struct dash_load_cmd cmd = {.worker = "/bin/sluice-worker",
	                            .file = "/tmp/f",
	                            .topic = "in",
	                            .bootstrap = "k:9092",
	                            .client_id = "dash",
	                            .plan = &plan};
	const char *argv[DASH_LOAD_ARGV_MAX], *small[8];
	char joined[512] = "";

	(void)state;
	int n = dash_load_argv(&cmd, argv, DASH_LOAD_ARGV_MAX);
	assert_int_equal(n, 17);
	assert_null(argv[n]);
	for (int i = 0; i < n; i++)
		snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s",
		         i ? " " : "", argv[i]);
	assert_string_equal(joined, "/bin/sluice-worker load --file /tmp/f --topic in --bootstrap "
	                            "k:9092 --progress log --log-level info --client-id dash "
	                            "--key-fields a,b --as-json");
	/* csv with its own delimiter, no keys, no client id */
	struct dash_load_plan csv = {.as_json = 0, .delim = ";"};
	cmd.plan = &csv;
	cmd.client_id = NULL;
	n = dash_load_argv(&cmd, argv, DASH_LOAD_ARGV_MAX);
	assert_int_equal(n, 14);
	assert_string_equal(argv[12], "--delimiter");
	assert_string_equal(argv[13], ";");
	assert_int_equal(dash_load_argv(&cmd, small, 8), -1);
}

/* argv as one string, for comparing. */
static void join(const char *const *argv, int n, char *out, size_t size)
{
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? " " : "", argv[i]);
}

/* A resource's Kafka TLS and SASL reach the loader as files of a private
 * directory: its command line names the files, never a secret. */
static void test_secrets_argv(void **state)
{
	static const struct {
		struct kafka_security sec;
		size_t files;
		const char *args; /* after the plain ones */
	} cases[] = {
	    /* PLAINTEXT: nothing added, no file */
	    {{0}, 0, ""},
	    /* TLS with the system's CAs */
	    {{.tls = 1}, 0, " --tls"},
	    /* TLS with a CA, a client certificate and a server name */
	    {{.tls = 1,
	      .ca_pem = "CA",
	      .cert_pem = "CERT",
	      .key_pem = "KEY",
	      .server_name = "kafka.internal"},
	     3,
	     " --tls --tls-ca-file /w/d/ca.pem --tls-cert-file /w/d/cert.pem --tls-key-file "
	     "/w/d/key.pem --tls-server-name kafka.internal"},
	    /* SASL alone (SASL_PLAINTEXT): the password as a file */
	    {{.sasl_mechanism = "SCRAM-SHA-512", .username = "loader", .password = "s3cret"},
	     1,
	     " --sasl-mechanism SCRAM-SHA-512 --sasl-username loader --sasl-password-file "
	     "/w/d/sasl-password"},
	    /* both (SASL_SSL) */
	    {{.tls = 1,
	      .ca_pem = "CA",
	      .sasl_mechanism = "PLAIN",
	      .username = "u",
	      .password = "p w"},
	     2,
	     " --tls --tls-ca-file /w/d/ca.pem --sasl-mechanism PLAIN --sasl-username u "
	     "--sasl-password-file /w/d/sasl-password"},
	};
	struct dash_load_plan plan = {.as_json = 0, .delim = ","};
	const char *argv[DASH_LOAD_ARGV_MAX];
	char joined[1024], want[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dash_load_secrets ls;
		assert_int_equal(dash_load_secrets_plan(&cases[i].sec, "/w/d", &ls), 0);
		assert_int_equal(ls.n, cases[i].files);
		struct dash_load_cmd cmd = {.worker = "w",
		                            .file = "f",
		                            .topic = "t",
		                            .bootstrap = "k:9093",
		                            .plan = &plan,
		                            .sec = &ls.args};
		int n = dash_load_argv(&cmd, argv, DASH_LOAD_ARGV_MAX);
		assert_true(n > 0);
		join(argv, n, joined, sizeof(joined));
		snprintf(want, sizeof(want),
		         "w load --file f --topic t --bootstrap k:9093 --progress log --log-level "
		         "info%s",
		         cases[i].args);
		if (strcmp(joined, want) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, joined, want);
		/* No secret's value anywhere on the command line; each file holds one. */
		for (int a = 0; a < n; a++) {
			const struct kafka_security *k = &cases[i].sec;
			const char *secrets[] = {k->ca_pem, k->cert_pem, k->key_pem, k->password};
			for (size_t v = 0; v < 4; v++)
				if (secrets[v] != NULL)
					assert_null(strstr(argv[a], secrets[v]));
		}
		for (size_t f = 0; f < ls.n; f++) {
			assert_non_null(ls.files[f].content);
			assert_int_equal(strncmp(ls.files[f].path, "/w/d/", 5), 0);
		}
	}
	/* Every option at once fits argv. */
	struct dash_load_plan full = {.as_json = 1, .delim = ";", .key_fields = "a,b"};
	struct dash_load_secrets ls;
	assert_int_equal(dash_load_secrets_plan(&cases[2].sec, "/w/d", &ls), 0);
	ls.args.sasl_mechanism = "PLAIN";
	ls.args.sasl_username = "u";
	ls.args.sasl_password_file = "/w/d/sasl-password";
	struct dash_load_cmd cmd = {.worker = "w",
	                            .file = "f",
	                            .topic = "t",
	                            .bootstrap = "k:9093",
	                            .client_id = "c",
	                            .plan = &full,
	                            .sec = &ls.args};
	assert_int_equal(dash_load_argv(&cmd, argv, DASH_LOAD_ARGV_MAX), 34);
	/* A directory whose paths do not fit is refused, not cut. */
	char dir[DASH_LOAD_PATH_MAX];
	memset(dir, 'd', sizeof(dir) - 1);
	dir[sizeof(dir) - 1] = '\0';
	assert_int_equal(dash_load_secrets_plan(&cases[2].sec, dir, &ls), -1);
	assert_int_equal(dash_load_secrets_plan(&cases[0].sec, dir, &ls), 0);
	assert_int_equal(dash_load_secrets_plan(NULL, "/w/d", &ls), 0);
	assert_int_equal(ls.n, 0);
}

/* What of the dashboard's environment the loader gets. */
static void test_env_keep(void **state)
{
	(void)state;
	assert_int_equal(dash_load_env_keep("PATH=/usr/bin"), 1);
	assert_int_equal(dash_load_env_keep("SLUICE_KAFKA_BOOTSTRAP=k:9092"), 1);
	assert_int_equal(dash_load_env_keep("SLUICE_LOG_LEVEL=info"), 1);
	assert_int_equal(dash_load_env_keep("SLUICE_CONFIG=/etc/d.yaml"), 0);
	assert_int_equal(dash_load_env_keep("SLUICE_STATUS_REDIS_PASSWORD=x"), 0);
	assert_int_equal(dash_load_env_keep("SLUICE_KAFKA_SASL_PASSWORD=x"), 0);
	/* Only whole names: a longer name that starts alike stays. */
	assert_int_equal(dash_load_env_keep("SLUICE_CONFIG_DIR=/x"), 1);
	assert_int_equal(dash_load_env_keep("SLUICE_STATUS_REDIS_USERNAME=u"), 1);
}

static void test_progress(void **state)
{
	struct dash_load_progress p;

	(void)state;
	dash_load_progress_init(&p);
	assert_int_equal(p.percent, -1);
	assert_int_equal(dash_load_progress_line("", &p), 0);
	assert_int_equal(
	    dash_load_progress_line("{\"ts\":\"x\",\"level\":\"info\",\"component\":\"worker\","
	                            "\"msg\":\"load starting\",\"file\":\"f\"}\n",
	                            &p),
	    0);
	assert_int_equal(dash_load_progress_line(
	                     "{\"level\":\"info\",\"msg\":\"load progress\",\"rows\":\"120\","
	                     "\"delivered\":\"100\",\"failed\":\"0\",\"skipped\":\"1\","
	                     "\"percent\":\"40\"}\n",
	                     &p),
	                 1);
	assert_int_equal(p.rows, 120);
	assert_int_equal(p.delivered, 100);
	assert_int_equal(p.skipped, 1);
	assert_int_equal(p.percent, 40);
	assert_false(p.finished);
	/* percent "unknown" (a pipe) leaves it as it was */
	assert_int_equal(dash_load_progress_line(
	                     "{\"level\":\"info\",\"msg\":\"load finished\",\"rows\":\"300\","
	                     "\"delivered\":\"299\",\"failed\":\"1\",\"skipped\":\"1\","
	                     "\"percent\":\"unknown\"}",
	                     &p),
	                 1);
	assert_int_equal(p.rows, 300);
	assert_int_equal(p.failed, 1);
	assert_int_equal(p.percent, 40);
	assert_true(p.finished);
	assert_string_equal(p.error, "");
	assert_int_equal(
	    dash_load_progress_line("{\"level\":\"error\",\"msg\":\"cannot publish to the topic\","
	                            "\"topic\":\"in\",\"error\":\"Broker: Unknown topic\"}",
	                            &p),
	    1);
	assert_string_equal(p.error, "cannot publish to the topic: Broker: Unknown topic");
	assert_int_equal(dash_load_progress_line("sluice-worker: load: cannot open f: No such "
	                                         "file\n",
	                                         &p),
	                 1);
	assert_string_equal(p.error, "sluice-worker: load: cannot open f: No such file");
	/* A warning is not an error. */
	assert_int_equal(
	    dash_load_progress_line("{\"level\":\"warn\",\"msg\":\"record skipped\"}", &p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan),         cmocka_unit_test(test_argv),
	    cmocka_unit_test(test_secrets_argv), cmocka_unit_test(test_env_keep),
	    cmocka_unit_test(test_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
