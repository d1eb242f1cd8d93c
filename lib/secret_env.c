/* secret_env.c -- Secret references as environment variables (secret_env.h). */
#include "secret_env.h"

#include <stdlib.h>
#include <string.h>

int secret_env_name(const char *name, const char *key, char *buf, size_t size)
{
	static const char prefix[] = "SLUICE_SECRET_";
	size_t n = 0;

	if (name == NULL || key == NULL || buf == NULL ||
	    size < sizeof(prefix) + strlen(name) + 1 + strlen(key))
		return -1;
	memcpy(buf, prefix, sizeof(prefix) - 1);
	n = sizeof(prefix) - 1;
	for (const char *parts[] = {name, "_", key, NULL}, **p = parts; *p != NULL; p++) {
		for (const char *c = *p; *c != '\0'; c++) {
			char ch = *c;

			if (ch >= 'a' && ch <= 'z')
				ch = (char)(ch - 'a' + 'A');
			else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
				ch = '_';
			buf[n++] = ch;
		}
	}
	buf[n] = '\0';
	return 0;
}

const char *secret_env_get(const char *name, const char *key, char *var, size_t var_size)
{
	char local[512];
	const char *v;

	if (var == NULL || var_size == 0) {
		var = local;
		var_size = sizeof(local);
	}
	if (secret_env_name(name, key, var, var_size) < 0)
		return NULL;
	v = getenv(var);
	return v != NULL && v[0] != '\0' ? v : NULL;
}
