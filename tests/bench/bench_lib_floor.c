/*
 * bench_lib_floor - the RSS of the operator's libraries alone: a program
 * that links what sluice-operator links (libcurl, librdkafka,
 * libmicrohttpd, cJSON, libyaml, hiredis, as Debian builds them), makes one
 * HTTPS request to kube-apiserver and one Kafka metadata request, and does
 * nothing else. bench_operator.py compares the idle operator with it: what
 * is above this floor is the operator's own.
 *
 * Prints "floor_rss_kib <n>" and "floor_file_kib <n>" (the shared
 * library pages) after each step. Needs KUBE_APISERVER, SLUICE_STACK_DIR
 * (for kube/ca.crt) and KAFKA_BOOTSTRAP; prints a line and exits 0 without.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>
#include <yaml.h>

/* VmRSS or RssFile from /proc/self/status, in KiB; -1 if unreadable. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t n = strlen(field);
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kib = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kib;
}

static void report(const char *step)
{
	printf("%-34s floor_rss_kib %ld floor_file_kib %ld\n", step, status_kib("VmRSS"),
	       status_kib("RssFile"));
}

static size_t discard(char *data, size_t size, size_t n, void *opaque)
{
	(void)data;
	(void)opaque;
	return size * n;
}

static int https_get(const char *url, const char *ca_file)
{
	CURL *curl = curl_easy_init();
	long code = 0;
	CURLcode rc;

	if (curl == NULL)
		return -1;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK || code != 200) {
		fprintf(stderr, "bench_lib_floor: GET %s: %s (HTTP %ld)\n", url,
		        curl_easy_strerror(rc), code);
		return -1;
	}
	return 0;
}

static rd_kafka_t *kafka_metadata(const char *bootstrap)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		fprintf(stderr, "bench_lib_floor: %s\n", err);
		return NULL;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "bench_lib_floor: %s\n", err);
		return NULL;
	}
	if (rd_kafka_metadata(rk, 0, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "bench_lib_floor: no metadata from %s\n", bootstrap);
		rd_kafka_destroy(rk);
		return NULL;
	}
	rd_kafka_metadata_destroy(md);
	return rk;
}

int main(void)
{
	const char *api = getenv("KUBE_APISERVER"), *dir = getenv("SLUICE_STACK_DIR");
	const char *bootstrap = getenv("KAFKA_BOOTSTRAP");
	char url[512], ca_file[512];
	rd_kafka_t *rk;

	if (api == NULL || dir == NULL || bootstrap == NULL) {
		printf("bench_lib_floor: skipped (needs a stack with Kafka and kube-apiserver: "
		       "make stack-up)\n");
		return 0;
	}
	snprintf(url, sizeof(url), "%s/readyz", api);
	snprintf(ca_file, sizeof(ca_file), "%s/kube/ca.crt", dir);

	/* The operator calls into each; referencing them keeps them linked
	 * (--as-needed) as they are in sluice-operator. */
	printf("libraries: libcurl %s, librdkafka %s, libmicrohttpd %s, cJSON %s, libyaml %s, "
	       "hiredis %d.%d\n",
	       curl_version_info(CURLVERSION_NOW)->version, rd_kafka_version_str(),
	       MHD_get_version(), cJSON_Version(), yaml_get_version_string(), HIREDIS_MAJOR,
	       HIREDIS_MINOR);
	redisReader *reader = redisReaderCreate();
	redisReaderFree(reader);

	report("loaded");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	report("curl_global_init");
	if (https_get(url, ca_file) < 0)
		return 1;
	report("one HTTPS GET (kube-apiserver)");
	rk = kafka_metadata(bootstrap);
	if (rk == NULL)
		return 1;
	report("a Kafka client, one metadata request");
	rd_kafka_destroy(rk);
	curl_global_cleanup();
	return 0;
}
