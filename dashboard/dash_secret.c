/* dash_secret.c -- Secret references resolved through the API; see
 * dash_secret.h. */
#include "dash_secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kube_config.h"

int dash_secret_decode(const cJSON *secret, const char *name, const char *key, char **out,
                       char *errbuf, size_t errbuf_size)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(secret, "data");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
	unsigned char *dec = NULL;
	size_t len = 0;

	*out = NULL;
	if (!cJSON_IsString(v))
		return err_set(errbuf, errbuf_size, -1, "Secret \"%s\" has no key \"%s\"", name,
		               key);
	if (strlen(v->valuestring) > DASH_SECRET_VALUE_MAX * 4 / 3 + 4)
		return err_set(errbuf, errbuf_size, -1, "Secret \"%s\" key \"%s\": too long", name,
		               key);
	if (kube_config_base64_decode(v->valuestring, strlen(v->valuestring), &dec, &len) != 0)
		return err_set(errbuf, errbuf_size, -1,
		               "Secret \"%s\" key \"%s\": not valid base64", name, key);
	if (len == 0 || memchr(dec, '\0', len) != NULL) {
		dash_secret_free((char *)dec);
		return err_set(errbuf, errbuf_size, -1, "Secret \"%s\" key \"%s\": %s", name, key,
		               len == 0 ? "empty" : "holds a NUL byte");
	}
	*out = (char *)dec;
	return 0;
}

int dash_secret_get(struct kube_client *kube, const char *ns, const char *name, const char *key,
                    char **out, char *errbuf, size_t errbuf_size)
{
	struct kube_ref ref = {
	    .version = "v1", .resource = "secrets", .namespace = ns, .name = name};
	struct kube_error ke;
	cJSON *secret = NULL;
	int rc;

	*out = NULL;
	if (kube == NULL)
		return err_set(errbuf, errbuf_size, -1,
		               "cannot read Secret %s/%s: no Kubernetes API", ns, name);
	rc = kube_client_get(kube, &ref, &secret, &ke);
	if (rc != 0)
		return err_set(errbuf, errbuf_size, -1, "cannot read Secret %s/%s: %s%s%.300s", ns,
		               name, ke.reason[0] != '\0' ? ke.reason : "error",
		               ke.message[0] != '\0' ? ": " : "", ke.message);
	rc = dash_secret_decode(secret, name, key, out, errbuf, errbuf_size);
	cJSON_Delete(secret); /* holds the value too; cJSON frees without wiping */
	return rc;
}

void dash_secret_free(char *value)
{
	if (value == NULL)
		return;
	explicit_bzero(value, strlen(value));
	free(value);
}
