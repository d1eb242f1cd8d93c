# Sluice: every entry point. `make help` lists the targets.
#
# Layout (docs/architecture.md): lib/ (the platform every binary shares),
# lib/contract/ (what crosses the operator-worker boundary), lib/kube/ (the
# Kubernetes API client), operator/
# (sluice-operator), workers/{store,telemetry,video,tools}/ and workers/main.c
# (sluice-worker, sluice-worker-video), tests/{unit,integration,e2e,fuzz,bench}/,
# scripts/ (deps, images, demo). Each folder is compiled with only the include
# paths it may use (INC_* below), so a wrong include fails to build.

SHELL := /bin/bash
CC ?= cc
BUILD ?= build
VERSION := $(shell cat VERSION)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

BASE_PKGS := libcjson yaml-0.1 libmicrohttpd libcurl libpq hiredis rdkafka libcrypto zlib libzstd snappy
VIDEO_PKGS := libavformat libavcodec libavfilter libswscale libavutil
PKGS := $(BASE_PKGS) $(VIDEO_PKGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BASE_LIBS = $(shell pkg-config --libs $(BASE_PKGS) 2>/dev/null) -lpthread -lm

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS ?= -O2 -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) \
	-DSLUICE_VERSION='"$(VERSION)"' -DSLUICE_GIT_REV='"$(GIT_REV)"'
LDLIBS = $(PKG_LIBS) -lpthread -lm

# What each folder may include: a layer sees the layers below it and never
# one beside it (the operator no worker folder, a pipeline not the other).
INC_lib := -Ilib
INC_lib/contract := -Ilib -Ilib/contract
INC_lib/kube := -Ilib -Ilib/kube
INC_operator := -Ilib -Ilib/contract -Ilib/kube -Ioperator
INC_workers/store := -Ilib -Iworkers/store
INC_workers/telemetry := -Ilib -Ilib/contract -Iworkers/store -Iworkers/telemetry
INC_workers/video := -Ilib -Ilib/contract -Ilib/kube -Iworkers/store -Iworkers/video
INC_workers/tools := -Ilib -Ilib/contract -Iworkers/store -Iworkers/tools
# sluice-dashboard reads the API server, the specs and the stores, and
# reuses the exporter's query and CSV cells.
INC_dashboard := -Ilib -Ilib/contract -Ilib/kube -Iworkers/store -Iworkers/tools -Idashboard
INC_workers := -Ilib -Ilib/contract -Ilib/kube -Iworkers/store -Iworkers/telemetry \
	-Iworkers/video -Iworkers/tools
# Tests, fuzzers and benchmarks reach every module through the same paths.
INC_tests := $(INC_operator) $(INC_workers) -Idashboard
inc = $(INC_$(patsubst %/,%,$(dir $(1))))
ALL_CFLAGS = $(BASE_CFLAGS) $(INC_tests)

# ASan + UBSan variant: `make BUILD=build/asan SAN=1 ...`
ifeq ($(SAN),1)
BASE_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC := $(wildcard lib/*.c)
CONTRACT_SRC := $(wildcard lib/contract/*.c)
KUBE_SRC := $(wildcard lib/kube/*.c)
OPERATOR_SRC := $(wildcard operator/*.c)
STORE_SRC := $(wildcard workers/store/*.c)
TELEMETRY_SRC := $(wildcard workers/telemetry/*.c)
VIDEO_SRC := $(wildcard workers/video/*.c)
TOOLS_SRC := $(wildcard workers/tools/*.c)
WORKER_SRC := $(STORE_SRC) $(TELEMETRY_SRC) $(VIDEO_SRC) $(TOOLS_SRC) workers/main.c
DASHBOARD_SRC := $(wildcard dashboard/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CONTRACT_SRC:%.c=$(BUILD)/%.o) $(KUBE_SRC:%.c=$(BUILD)/%.o)
OPERATOR_OBJ := $(OPERATOR_SRC:%.c=$(BUILD)/%.o)
WORKER_OBJ := $(WORKER_SRC:%.c=$(BUILD)/%.o)
# The page's files, generated into the build folder (see the assets rule).
DASHBOARD_OBJ := $(DASHBOARD_SRC:%.c=$(BUILD)/%.o) $(BUILD)/dashboard/assets.o
# sluice-worker holds every mode but the video ones and links no FFmpeg:
# loading FFmpeg's libraries (and theirs: librsvg, flite's voices...) costs
# a telemetry worker ~25 MB of RSS. It execs sluice-worker-video, built from
# everything, for split, process and assemble.
VIDEO_OBJ := $(VIDEO_SRC:%.c=$(BUILD)/%.o)
TW_WORKER_OBJ := $(filter-out $(VIDEO_OBJ),$(WORKER_OBJ))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Unit tests link every module but the two mains, so pure cores in
# operator/ and workers/ are tested the same way as lib/.
CORE_OBJ := $(LIB_OBJ) $(filter-out %/main.o,$(OPERATOR_OBJ) $(WORKER_OBJ) $(DASHBOARD_OBJ))

.PHONY: all build help deps unit unit-asan test e2e stack-up stack-down stack-status \
	format format-check lint layout-check fuzz fuzz-seeds integration bench images demo clean FORCE

all: build

help:
	@echo 'make demo          the whole pipeline end to end: a VideoJob and a TelemetryWindow'
	@echo 'make build         build sluice-operator, sluice-worker(-video), sluice-dashboard'
	@echo '                   into $(BUILD)/'
	@echo 'make test          everything: deps, build, unit tests (plain and ASan+UBSan),'
	@echo '                   the real-server stack, end-to-end tests, teardown'
	@echo 'make deps          install Debian packages, Kafka jars, Kubernetes binaries'
	@echo 'make unit          unit tests;  make unit-asan: the same under ASan+UBSan'
	@echo 'make stack-up      start Kafka, PostgreSQL, Redis, InfluxDB, etcd, kube-apiserver,'
	@echo '                   kube-controller-manager on 127.0.0.1 (KAFKA_BROKERS=3 for three)'
	@echo 'make stack-status  show what the stack runs;  make stack-down: stop it'
	@echo 'make e2e           end-to-end tests against a running stack'
	@echo 'make format lint   clang-format, cppcheck'
	@echo 'make fuzz          every libFuzzer target in tests/fuzz/ for FUZZ_TIME seconds each'
	@echo '                   (default 20), then executions and coverage per target; finds'
	@echo '                   go to $(BUILD)/fuzz/;  make fuzz-seeds: replay the seeds once'
	@echo 'make bench         benchmarks (figures, ratios against a reference where one exists)'
	@echo 'make integration   C integration tests against a running stack (make stack-up)'
	@echo 'make images        build the operator and worker container images with podman'

build: $(BUILD)/sluice-operator $(BUILD)/sluice-worker $(BUILD)/sluice-worker-video \
	$(BUILD)/sluice-dashboard

$(BUILD)/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(call inc,$<) -MMD -MP -c $< -o $@

# The revision lives in a file rewritten only when it changes, so that after a
# commit the objects that print it (lib/app.o, lib/httpd.o) are rebuilt and --version is
# never stale, while every other object is left alone.
$(BUILD)/git-rev: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@
$(BUILD)/lib/app.o $(BUILD)/lib/httpd.o: $(BUILD)/git-rev
FORCE:

$(BUILD)/sluice-operator: $(OPERATOR_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The telemetry worker never talks to the Kubernetes API.
$(BUILD)/sluice-worker: $(TW_WORKER_OBJ) $(filter-out $(KUBE_SRC:%.c=$(BUILD)/%.o),$(LIB_OBJ))
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS)

$(BUILD)/workers/main-video.o: workers/main.c VERSION
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(INC_workers) -DSLUICE_WORKER_VIDEO -MMD -MP -c $< -o $@

$(BUILD)/sluice-worker-video: $(filter-out %/main.o,$(WORKER_OBJ)) $(BUILD)/workers/main-video.o \
		$(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# sluice-dashboard: the page and API (dashboard/), the Kubernetes client, the
# specs, and of workers/ only the PostgreSQL connect, the exporter's query and
# CSV cells and the Parquet reader (a loaded file's columns); no Kafka client
# of its own (the load form runs sluice-worker load).
$(BUILD)/sluice-dashboard: $(DASHBOARD_OBJ) $(LIB_OBJ) $(BUILD)/workers/store/pg.o \
		$(BUILD)/workers/tools/export.o $(BUILD)/workers/tools/csvrec.o \
		$(BUILD)/workers/tools/parquet.o $(BUILD)/workers/tools/parquet_text.o \
		$(BUILD)/workers/tools/parquet_thrift.o
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS)

# The page (dashboard/assets/) and uPlot, fetched once from the npm registry
# into $(SLUICE_CACHE) (outside the checkout), as C arrays: the binary
# serves them and the image needs no Node.js.
SLUICE_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/sluice
export SLUICE_CACHE
DASH_ASSETS := $(sort $(wildcard dashboard/assets/*))
$(BUILD)/dashboard/assets.c: scripts/dashboard-assets.sh scripts/versions.sh $(DASH_ASSETS)
	@mkdir -p $(dir $@)
	scripts/dashboard-assets.sh c $@ $(DASH_ASSETS)
$(BUILD)/dashboard/assets.o: $(BUILD)/dashboard/assets.c dashboard/dash_assets.h
	$(CC) $(BASE_CFLAGS) $(INC_dashboard) -c $< -o $@
# /api/v1/info prints the revision (as lib/app.o does).
$(BUILD)/dashboard/dash_api.o: $(BUILD)/git-rev

$(BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $^ \
		$(LDLIBS) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BIN)
	@tests/unit/run.sh $(UNIT_BIN)

unit-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 unit

# libFuzzer needs clang. Each tests/fuzz/fuzz_<name>.c links every module but
# the mains (and the dashboard's dash_api.c, which needs the generated page),
# compiled once into $(BUILD)/fuzz/obj/ with the same sanitizers; its seeds
# are tests/fuzz/corpus/<name>/ (only read) and new inputs collect in
# $(BUILD)/fuzz/corpus-<name>/. tests/fuzz/run.sh runs each target for
# FUZZ_TIME seconds (a long run: FUZZ_TIME=3600) and ends with a table of
# executions and coverage per target; FUZZ_ONLY=name runs one target;
# FUZZ_MERGE=1 merges the inputs that reached new coverage (small ones) into
# tests/fuzz/corpus/. `make fuzz-seeds` replays every seed once (no fuzzing).
FUZZ_CC ?= clang
FUZZ_TIME ?= 20
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_DEPS := $(LIB_SRC) $(CONTRACT_SRC) $(KUBE_SRC) \
	$(filter-out %/main.c,$(OPERATOR_SRC) $(WORKER_SRC)) \
	$(filter-out dashboard/main.c dashboard/dash_api.c,$(DASHBOARD_SRC))
FUZZ_OBJ := $(FUZZ_DEPS:%.c=$(BUILD)/fuzz/obj/%.o)
# Kept between runs (make would delete them as intermediate files).
.SECONDARY: $(FUZZ_OBJ)
# -fno-sanitize-recover: a UBSan report stops the run, so libFuzzer keeps
# the input as a crash instead of printing a line and going on.
FUZZ_SAN := address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -g -O1 -fno-omit-frame-pointer $(INC_tests) \
	$(PKG_CFLAGS) -DSLUICE_VERSION='"$(VERSION)"' -DSLUICE_GIT_REV='"fuzz"'

$(BUILD)/fuzz/obj/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -MMD -MP -c $< -o $@

# An archive, so that each target links only the modules it reaches.
$(BUILD)/fuzz/libsluice-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(BUILD)/fuzz/libsluice-fuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< \
		$(BUILD)/fuzz/libsluice-fuzz.a $(LDLIBS)

fuzz: $(FUZZ_BIN)
	@FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_BIN)

fuzz-seeds: $(FUZZ_BIN)
	@FUZZ_TIME=0 tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_BIN)

# Integration tests: C programs that drive a module against the real servers
# of the test stack (build/stack.env); `make test` runs them after stack-up.
IT_SRC := $(wildcard tests/integration/*_it.c)
IT_BIN := $(IT_SRC:tests/integration/%.c=$(BUILD)/tests/%)

# They share the unit tests' assertion helpers (tests/unit/*.h).
$(BUILD)/tests/%_it: tests/integration/%_it.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $^ \
		$(LDLIBS) $(shell pkg-config --libs cmocka)

integration: $(IT_BIN)
	@set -a; . $${SLUICE_STACK_ENV:-build/stack.env}; set +a; tests/unit/run.sh $(IT_BIN)

# Benchmarks print figures; targets are checked by reading them, never by
# timed tests. Each tests/bench/bench_<name>.c links every module but the mains.
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/bench_%: tests/bench/bench_%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The operator's libraries alone (bench_operator.py's reference): no module
# of ours, so the linker keeps only the libraries it calls, as it does for
# sluice-operator.
$(BUILD)/bench/bench_lib_floor: tests/bench/bench_lib_floor.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# Benchmarks that need servers (tests/bench/bench_*.py, bench_lag) read the
# stack's env file when one is up and skip with a message otherwise; among
# them the telemetry pipeline end to end (Kafka in, every sink out), the
# worker's peak RSS and the ratio to Spark Structured Streaming.
bench: $(BENCH_BIN) $(BUILD)/sluice-worker $(BUILD)/sluice-worker-video $(BUILD)/sluice-operator \
		$(BUILD)/sluice-dashboard
	@export SLUICE_DASHBOARD=$(BUILD)/sluice-dashboard SLUICE_WORKER=$(BUILD)/sluice-worker SLUICE_OPERATOR=$(BUILD)/sluice-operator; if [ -f $${SLUICE_STACK_ENV:-build/stack.env} ]; then set -a; \
		. $${SLUICE_STACK_ENV:-build/stack.env}; set +a; fi; \
	for b in $(BENCH_BIN) tests/bench/bench_*.py; do echo "== $$b"; $$b || exit 1; done

deps:
	@scripts/deps.sh all

stack-up: deps
	@tests/e2e/stack.sh up

stack-down:
	@tests/e2e/stack.sh down

stack-status:
	@tests/e2e/stack.sh status

e2e: build
	@tests/e2e/run.sh

test: deps
	@tests/run-all.sh

C_FILES = lib/*.[ch] lib/*/*.[ch] operator/*.[ch] workers/*.[ch] workers/*/*.[ch] \
	dashboard/*.[ch] tests/unit/*.c tests/fuzz/*.c

format:
	clang-format -i $(C_FILES)

format-check:
	clang-format --dry-run --Werror $(C_FILES)

# varFuncNullUB: log_msg() and friends end their key/value lists with NULL.
# POSIX defines NULL as (void *)0, which va_arg may read as a char pointer
# (C11 7.16.1.1), and the sentinel attribute checks every call.
lint: layout-check
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=varFuncNullUB --inline-suppr --std=c11 $(INC_tests) lib operator workers \
		dashboard

# The include paths above hold only while nothing reaches around them.
layout-check:
	@scripts/layout-check.sh

# The whole pipeline on this machine (scripts/demo.sh says what it does).
demo:
	@scripts/demo.sh

# Container images, built for real with podman from a debootstrap base.
images:
	scripts/images.sh

clean:
	rm -rf $(BUILD) build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
