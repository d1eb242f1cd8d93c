/*
 * fuzz_leader_record.c - libFuzzer target for the Lease reader
 * (leader_record_parse), which reads what any writer with RBAC on the Lease
 * may have put there.
 *
 * Beyond what ASan and UBSan catch, it checks: a record that parses builds
 * back into a Lease that parses to the same record (holder, duration,
 * transitions, times, resourceVersion), and the decision on it is one of
 * the three actions. Run: make fuzz (FUZZ_TIME=seconds).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "leader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *o = cJSON_ParseWithLength((const char *)data, size);
	struct leader_record rec, back;
	if (o == NULL)
		return 0;
	if (leader_record_parse(o, &rec) == 0) {
		cJSON *built = leader_lease_build(&rec, "ns", "lease");
		if (built == NULL || leader_record_parse(built, &back) != 0 ||
		    leader_record_changed(&rec, &back) ||
		    strcmp(rec.resource_version, back.resource_version) != 0)
			abort();
		cJSON_Delete(built);
		enum leader_action a = leader_decide(&rec, "me", 0, 1000);
		if (a != LEADER_WAIT && a != LEADER_ACQUIRE && a != LEADER_RENEW)
			abort();
		struct leader_record next;
		leader_record_next(&rec, "me", 15000, "2026-11-23T05:00:00.000000Z", 0, &next);
		if (strcmp(next.holder, "me") != 0 || next.transitions < rec.transitions)
			abort();
	}
	cJSON_Delete(o);
	return 0;
}
