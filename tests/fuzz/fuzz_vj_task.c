/* fuzz_vj_task.c -- libFuzzer target for the segment task decoder.
 *
 * Besides crashes and sanitizer reports: a task that decodes encodes back
 * to text that decodes to the same task (the round trip `split` and
 * `process` rely on).
 *
 *   make fuzz (or: build/fuzz/fuzz_vj_task -max_total_time=30 tests/fuzz/corpus/vj_task)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vj_task.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vj_task t, back;
	char err[256];
	char *copy, *text;

	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (vj_task_decode(copy, size, &t, err, sizeof(err)) != 0) {
		FUZZ_CHECK(strncmp(err, "task: ", 6) == 0);
		free(copy);
		return 0;
	}
	free(copy);
	FUZZ_CHECK(t.segment >= 0 && t.segment < t.segments && t.start_pts < t.end_pts);
	text = vj_task_encode(&t);
	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(vj_task_decode(text, strlen(text), &back, err, sizeof(err)) == 0);
	FUZZ_CHECK(memcmp(&t, &back, sizeof(t)) == 0);
	free(text);
	return 0;
}
