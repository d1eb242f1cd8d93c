/* yaml_json.h -- one YAML document in, the same data as a cJSON tree out.
 *
 * For config files that mirror Kubernetes resources: users write YAML, the
 * code that checks them reads JSON (the shape the API server and the
 * operator's ConfigMaps use), so both paths share one validator.
 *
 * Plain scalars are resolved with the YAML 1.2 core schema: null, ~ and
 * an empty value are null; true/false (also True, TRUE ...) booleans;
 * decimal, 0o octal and 0x hex integers and decimal floats numbers;
 * everything else a string. Quoted and block scalars are strings. Explicit
 * tags !!str, !!int, !!float, !!bool, !!null, !!map, !!seq are honoured;
 * any other tag is an error. Anchors and aliases are expanded. Mapping keys
 * must be scalars and unique. Bounded: nesting at most YAML_JSON_DEPTH_MAX,
 * at most YAML_JSON_NODES_MAX values after alias expansion (a "billion
 * laughs" document fails instead of eating memory).
 */
#ifndef SLUICE_YAML_JSON_H
#define SLUICE_YAML_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define YAML_JSON_DEPTH_MAX 64
#define YAML_JSON_NODES_MAX 100000

/*
 * Parses the single YAML document data[0..len) into *out, which the caller
 * frees with cJSON_Delete. Returns 0, or -1 with one line in errbuf:
 * "yaml: line 3 column 7: mapping values are not allowed in this context".
 * An empty stream and a stream of two documents are errors.
 */
int yaml_json_parse(const char *data, size_t len, cJSON **out, char *errbuf, size_t errbuf_size);

#endif
