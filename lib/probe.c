/* probe.c - see probe.h. */
#include "probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

int probe_write_port(const char *path, int port, char *errbuf, size_t errbuf_size)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(errbuf, errbuf_size, "port file %s: path too long", path);
		return PROBE_ERR;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		snprintf(errbuf, errbuf_size, "port file %s: %s", tmp, strerror(errno));
		return PROBE_ERR;
	}
	if (fprintf(f, "%d\n", port) < 0 || fclose(f) != 0) {
		snprintf(errbuf, errbuf_size, "port file %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return PROBE_ERR;
	}
	if (rename(tmp, path) != 0) {
		snprintf(errbuf, errbuf_size, "port file %s: %s", path, strerror(errno));
		unlink(tmp);
		return PROBE_ERR;
	}
	return 0;
}

int probe_read_port(const char *path, char *errbuf, size_t errbuf_size)
{
	char line[32], *end;
	FILE *f = fopen(path, "r");
	long port;

	if (f == NULL) {
		snprintf(errbuf, errbuf_size, "port file %s: %s", path, strerror(errno));
		return PROBE_ERR;
	}
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		snprintf(errbuf, errbuf_size, "port file %s: empty", path);
		return PROBE_ERR;
	}
	fclose(f);
	errno = 0;
	port = strtol(line, &end, 10);
	if (errno != 0 || end == line || (*end != '\n' && *end != '\0') || port < 1 ||
	    port > 65535) {
		snprintf(errbuf, errbuf_size, "port file %s: not a port", path);
		return PROBE_ERR;
	}
	return (int)port;
}

struct body {
	char text[256];
	size_t len;
};

static size_t keep_body(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t room = sizeof(b->text) - 1 - b->len, take = size * n < room ? size * n : room;

	memcpy(b->text + b->len, data, take);
	b->len += take;
	b->text[b->len] = '\0';
	return size * n;
}

int probe_check(const char *addr, int port, const char *path, int timeout_ms, char *errbuf,
                size_t errbuf_size)
{
	char url[512];
	struct body body = {.len = 0};
	long status = 0;
	CURL *h;
	CURLcode rc;

	if (addr == NULL || addr[0] == '\0')
		addr = "127.0.0.1";
	/* An IPv6 literal goes in brackets. */
	snprintf(url, sizeof(url),
	         strchr(addr, ':') != NULL ? "http://[%s]:%d%s" : "http://%s:%d%s", addr, port,
	         path);
	h = curl_easy_init();
	if (h == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return PROBE_ERR;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		snprintf(errbuf, errbuf_size, "%s: %s", url, curl_easy_strerror(rc));
		return PROBE_ERR;
	}
	if (status != 200) {
		body.text[strcspn(body.text, "\r\n")] = '\0';
		snprintf(errbuf, errbuf_size, "%s: HTTP %ld: %s", url, status, body.text);
		return PROBE_ERR;
	}
	return 0;
}

int probe_main(const char *program, int argc, char **argv, int default_port)
{
	const char *path = argc > 2 ? argv[2] : "/healthz";
	const char *port_file = getenv("SLUICE_METRICS_PORT_FILE");
	const char *port_env = getenv("SLUICE_METRICS_PORT");
	char errbuf[512], *end;
	int port = default_port;

	if (argc > 3 || path[0] != '/') {
		fprintf(stderr, "usage: %s probe [/healthz|/readyz]\n", program);
		return 2;
	}
	if (port_file != NULL && port_file[0] != '\0') {
		port = probe_read_port(port_file, errbuf, sizeof(errbuf));
	} else if (port_env != NULL && port_env[0] != '\0') {
		long v = strtol(port_env, &end, 10);
		port = *end == '\0' && v >= 1 && v <= 65535 ? (int)v : PROBE_ERR;
		snprintf(errbuf, sizeof(errbuf), "SLUICE_METRICS_PORT=%s: not a port", port_env);
	}
	if (port < 0 || probe_check(getenv("SLUICE_METRICS_ADDR"), port, path, 2000, errbuf,
	                            sizeof(errbuf)) < 0) {
		fprintf(stderr, "%s probe %s: %s\n", program, path, errbuf);
		return 1;
	}
	return 0;
}
