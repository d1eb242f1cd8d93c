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
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_argv),
	    cmocka_unit_test(test_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
