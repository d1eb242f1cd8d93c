/* dash_load.c -- CSV bodies published by the loader; see dash_load.h. */
#include "dash_load.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "csvrec.h"
#include "parquet.h"
#include "dash_csv.h"
#include "dash_route.h"
#include "dash_secret.h"
#include "kafka_security.h"
#include "log.h"

extern char **environ;

enum state { RUNNING = 0, SUCCEEDED, FAILED };
static const char *const state_names[] = {"running", "succeeded", "failed"};

struct job {
	int used;
	char id[DASH_LOAD_ID_LEN + 1];
	char ns[DASH_NS_MAX + 1], name[DASH_NAME_MAX + 1];
	char path[4096];
	char secret_dir[DASH_LOAD_PATH_MAX]; /* the Kafka secrets' files; "": none */
	pid_t pid;
	int fd; /* the child's stderr */
	pthread_t thread;
	int thread_started;
	enum state state;
	struct dash_load_progress p;
	int exit_code; /* -1 while running or killed by a signal */
	long long bytes;
	int64_t started_ns, finished_ns;
	struct dash_loads *l;
};

struct dash_loads {
	char *worker, *work_dir;
	long long max_bytes;
	struct kube_client *kube;
	pthread_mutex_t mu;
	pthread_cond_t ended; /* a load left running (dash_loads_get's wait) */
	int receiving;        /* bodies coming in */
	struct job jobs[DASH_LOADS_KEPT];
};

struct dash_load_body {
	struct dash_loads *l;
	char ns[DASH_NS_MAX + 1], name[DASH_NAME_MAX + 1];
	char path[4096];
	int fd;
	long long bytes;
};

struct dash_loads *dash_loads_new(const struct dash_loads_options *o)
{
	struct dash_loads *l = calloc(1, sizeof(*l));
	const char *dir = o->work_dir;

	if (l == NULL)
		return NULL;
	if (dir == NULL || dir[0] == '\0')
		dir = getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] != '\0' ? getenv("TMPDIR")
		                                                              : "/tmp";
	l->worker = strdup(o->worker != NULL ? o->worker : "sluice-worker");
	l->work_dir = strdup(dir);
	l->max_bytes = o->max_bytes > 0 ? o->max_bytes : 256LL << 20;
	l->kube = o->kube;
	if (l->worker == NULL || l->work_dir == NULL || pthread_mutex_init(&l->mu, NULL) != 0 ||
	    clock_cond_init(&l->ended) != 0) {
		free(l->worker);
		free(l->work_dir);
		free(l);
		return NULL;
	}
	return l;
}

static int running(const struct dash_loads *l)
{
	int n = 0;

	for (int i = 0; i < DASH_LOADS_KEPT; i++)
		n += l->jobs[i].used && l->jobs[i].state == RUNNING;
	return n;
}

void dash_loads_free(struct dash_loads *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	for (int i = 0; i < DASH_LOADS_KEPT; i++)
		if (l->jobs[i].used && l->jobs[i].state == RUNNING && l->jobs[i].pid > 0)
			kill(l->jobs[i].pid, SIGTERM); /* it still waits for what it sent */
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; i < DASH_LOADS_KEPT; i++)
		if (l->jobs[i].thread_started)
			pthread_join(l->jobs[i].thread, NULL);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->ended);
	free(l->worker);
	free(l->work_dir);
	free(l);
}

unsigned int dash_loads_begin(struct dash_loads *l, const char *ns, const char *name,
                              long long content_length, struct dash_load_body **out,
                              struct dash_reply *r)
{
	struct dash_load_body *b;

	*out = NULL;
	if (content_length > l->max_bytes)
		return dash_reply_error(
		    r, 413, "the file is larger than %lld bytes (--load-max-bytes)", l->max_bytes);
	pthread_mutex_lock(&l->mu);
	if (running(l) + l->receiving >= DASH_LOADS_RUNNING) {
		pthread_mutex_unlock(&l->mu);
		return dash_reply_error(r, 503, "%d loads run already: try again when one ends",
		                        DASH_LOADS_RUNNING);
	}
	l->receiving++;
	pthread_mutex_unlock(&l->mu);
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		goto nomem;
	b->l = l;
	snprintf(b->ns, sizeof(b->ns), "%s", ns);
	snprintf(b->name, sizeof(b->name), "%s", name);
	if ((size_t)snprintf(b->path, sizeof(b->path), "%s/sluice-load-XXXXXX", l->work_dir) >=
	    sizeof(b->path))
		goto nomem;
	b->fd = mkostemp(b->path, O_CLOEXEC);
	if (b->fd < 0) {
		unsigned int st = dash_reply_error(r, 500, "cannot create a file in %s: %s",
		                                   l->work_dir, strerror(errno));
		free(b);
		pthread_mutex_lock(&l->mu);
		l->receiving--;
		pthread_mutex_unlock(&l->mu);
		return st;
	}
	*out = b;
	return 0;
nomem:
	free(b);
	pthread_mutex_lock(&l->mu);
	l->receiving--;
	pthread_mutex_unlock(&l->mu);
	return dash_reply_error(r, 500, "out of memory");
}

void dash_loads_discard(struct dash_load_body *b)
{
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	(void)unlink(b->path);
	pthread_mutex_lock(&b->l->mu);
	b->l->receiving--;
	pthread_mutex_unlock(&b->l->mu);
	free(b);
}

unsigned int dash_loads_write(struct dash_load_body *b, const char *data, size_t len,
                              struct dash_reply *r)
{
	if (b->bytes + (long long)len > b->l->max_bytes) {
		long long max = b->l->max_bytes;
		dash_loads_discard(b);
		return dash_reply_error(
		    r, 413, "the file is larger than %lld bytes (--load-max-bytes)", max);
	}
	while (len > 0) {
		ssize_t n = write(b->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			dash_loads_discard(b);
			return dash_reply_error(r, 500, "cannot write the file: %s", strerror(err));
		}
		data += n;
		len -= (size_t)n;
		b->bytes += n;
	}
	return 0;
}

/* A Parquet file's columns as the header row the loader will use (its
 * rows go out joined with the plan's delimiter, load.h), judged by
 * dash_load_plan. */
static int plan_parquet(int fd, const char *path, const struct tw_spec *spec,
                        struct dash_load_plan *plan, char *errbuf, size_t errbuf_size)
{
	struct parquet_reader *pr = parquet_open_fd(fd, path, errbuf, errbuf_size);
	char delim = spec->format == TW_FORMAT_CSV ? spec->csv.delimiter : ',';
	char *header;
	int rc;

	if (pr == NULL)
		return -1;
	header = csvrec_join(parquet_names(pr), parquet_ncolumns(pr), delim);
	rc = header == NULL
	         ? (snprintf(errbuf, errbuf_size, "out of memory"), -1)
	         : dash_load_plan(spec, header, strlen(header), plan, errbuf, errbuf_size);
	free(header);
	parquet_close(pr);
	return rc < 0 ? -1 : 0;
}

/* The file's first record (or a Parquet file's columns), judged by
 * dash_load_plan. */
static int plan_file(const char *path, const struct tw_spec *spec, struct dash_load_plan *plan,
                     char *errbuf, size_t errbuf_size)
{
	FILE *f = fopen(path, "r");
	struct csvrec_reader rd;
	unsigned char head[4];
	const char *rec;
	size_t len;
	int rc;

	if (f == NULL)
		return snprintf(errbuf, errbuf_size, "cannot read the file: %s", strerror(errno)),
		       -1;
	len = fread(head, 1, sizeof(head), f);
	if (parquet_magic(head, len)) {
		rc = plan_parquet(fileno(f), path, spec, plan, errbuf, errbuf_size);
		fclose(f);
		return rc;
	}
	rewind(f);
	csvrec_init(&rd, f);
	rc = csvrec_read(&rd, &rec, &len, errbuf, errbuf_size);
	if (rc == 0)
		snprintf(errbuf, errbuf_size, "the file is empty: no header row");
	if (rc > 0)
		rc = dash_load_plan(spec, rec, len, plan, errbuf, errbuf_size) < 0 ? -1 : 1;
	csvrec_free(&rd);
	fclose(f);
	return rc > 0 ? 0 : -1;
}

/* ------------------------------------------------------------- Kafka secrets */

/* spec_kafka_security's resolver: the resource's Secrets through the API.
 * Keeps each value until secrets_release. */
struct resolver {
	struct kube_client *kube;
	const char *ns;
	char *values[SPEC_KAFKA_SECRET_REFS_MAX];
	size_t n;
};

static const char *resolve(void *ctx, const char *name, const char *key, char *why, size_t why_size)
{
	struct resolver *r = ctx;
	char *v = NULL;

	if (r->n == SPEC_KAFKA_SECRET_REFS_MAX) {
		snprintf(why, why_size, "too many Secret references");
		return NULL;
	}
	if (dash_secret_get(r->kube, r->ns, name, key, &v, why, why_size) != 0)
		return NULL;
	r->values[r->n++] = v;
	return v;
}

static void secrets_release(struct resolver *r)
{
	for (size_t i = 0; i < r->n; i++)
		dash_secret_free(r->values[i]);
	r->n = 0;
}

/* Removes what secrets_write made in dir (every name the plan may use), then
 * dir. "" is a no-op. */
static void secrets_remove(const char *dir)
{
	static const char *const names[] = {"ca.pem", "cert.pem", "key.pem", "sasl-password", NULL};
	char path[DASH_LOAD_PATH_MAX + 32];

	if (dir[0] == '\0')
		return;
	for (size_t i = 0; names[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	if (rmdir(dir) != 0)
		log_warn("cannot remove the load's secrets directory", "dir", dir, "error",
		         strerror(errno), NULL);
}

/* content into a new file path, 0600. 0 or -1 with errno set. */
static int write_private(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t len = strlen(content);

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, content, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			close(fd);
			errno = err;
			return -1;
		}
		content += n;
		len -= (size_t)n;
	}
	return close(fd);
}

/*
 * The resource's spec.kafka.tls and .sasl for the loader: each Secret read
 * through res (its values kept there: out's username points into one, so
 * the caller releases res once the loader started), the secrets written
 * to files in a new private directory of work_dir (its path into dir; ""
 * when k asks for neither TLS nor SASL), and the loader's options into
 * out. Returns 0, or with errbuf set and nothing left on disk -1 (a
 * Secret could not be read) or -2 (the files could not be written).
 */
static int load_secrets(const struct dash_loads *l, struct resolver *res,
                        const struct spec_kafka *k, char *dir, size_t dir_size,
                        struct dash_load_secrets *out, char *errbuf, size_t errbuf_size)
{
	struct kafka_security sec;
	int rc = -1;

	dir[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (spec_kafka_security(k, resolve, res, &sec, errbuf, errbuf_size) < 0)
		goto done;
	rc = -2;
	if (!sec.tls && sec.sasl_mechanism == NULL) {
		rc = 0;
		goto done;
	}
	if ((size_t)snprintf(dir, dir_size, "%s/sluice-load-kafka-XXXXXX", l->work_dir) >=
	    dir_size) {
		dir[0] = '\0';
		snprintf(errbuf, errbuf_size, "%s: path too long", l->work_dir);
		goto done;
	}
	if (mkdtemp(dir) == NULL) { /* 0700 */
		snprintf(errbuf, errbuf_size, "cannot create a directory in %s: %s", l->work_dir,
		         strerror(errno));
		dir[0] = '\0';
		goto done;
	}
	if (dash_load_secrets_plan(&sec, dir, out) < 0) {
		snprintf(errbuf, errbuf_size, "%s: path too long", l->work_dir);
		goto fail;
	}
	for (size_t i = 0; i < out->n; i++)
		if (write_private(out->files[i].path, out->files[i].content) != 0) {
			snprintf(errbuf, errbuf_size, "cannot write %s: %s", out->files[i].path,
			         strerror(errno));
			goto fail;
		}
	rc = 0;
	goto done;
fail:
	secrets_remove(dir);
	dir[0] = '\0';
	rc = -2;
done:
	for (size_t i = 0; i < out->n; i++)
		out->files[i].content = NULL; /* the files hold them now */
	return rc;
}

static void *monitor(void *arg)
{
	struct job *j = arg;
	struct dash_loads *l = j->l;
	FILE *f = fdopen(j->fd, "r");
	char *line = NULL;
	size_t cap = 0;
	int status = 0;

	while (f != NULL && getline(&line, &cap, f) >= 0) {
		pthread_mutex_lock(&l->mu);
		(void)dash_load_progress_line(line, &j->p);
		pthread_mutex_unlock(&l->mu);
	}
	free(line);
	if (f != NULL)
		fclose(f);
	else
		close(j->fd);
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	(void)unlink(j->path);
	secrets_remove(j->secret_dir);
	pthread_mutex_lock(&l->mu);
	j->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	j->finished_ns = clock_real_ns();
	j->state = j->exit_code == 0 && j->p.failed == 0 && j->p.skipped == 0 ? SUCCEEDED : FAILED;
	if (j->state == FAILED && j->p.error[0] == '\0') {
		if (WIFSIGNALED(status))
			snprintf(j->p.error, sizeof(j->p.error),
			         "the loader was killed by signal %d", WTERMSIG(status));
		else if (j->exit_code != 0)
			snprintf(j->p.error, sizeof(j->p.error), "the loader exited with status %d",
			         j->exit_code);
		else
			snprintf(j->p.error, sizeof(j->p.error),
			         "%lld records failed, %lld skipped", j->p.failed, j->p.skipped);
	}
	log_info("load ended", "namespace", j->ns, "name", j->name, "id", j->id, "state",
	         state_names[j->state], "error", j->p.error, NULL);
	pthread_cond_broadcast(&l->ended);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* The environment of the loader: ours, less what dash_load_env_keep
 * drops. */
static char **child_env(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (dash_load_env_keep(environ[i]))
			env[k++] = environ[i];
	return env;
}

/* A slot for a new job: a free one, else the oldest finished one. Under
 * the lock. NULL when every slot runs. */
static struct job *slot(struct dash_loads *l)
{
	struct job *old = NULL;

	for (int i = 0; i < DASH_LOADS_KEPT; i++) {
		struct job *j = &l->jobs[i];
		if (!j->used)
			return j;
		if (j->state != RUNNING && (old == NULL || j->finished_ns < old->finished_ns))
			old = j;
	}
	if (old != NULL && old->thread_started) {
		pthread_join(old->thread, NULL); /* finished: returns at once */
		old->thread_started = 0;
	}
	return old;
}

static void new_id(char *id)
{
	unsigned char rnd[DASH_LOAD_ID_LEN / 2];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t x = (uint64_t)clock_real_ns() ^ ((uint64_t)getpid() << 32);
		memcpy(rnd, &x, sizeof(rnd) < sizeof(x) ? sizeof(rnd) : sizeof(x));
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		id[2 * i] = hex[rnd[i] >> 4];
		id[2 * i + 1] = hex[rnd[i] & 15];
	}
	id[DASH_LOAD_ID_LEN] = '\0';
}

static cJSON *job_json(const struct job *j)
{
	char ts[CLOCK_RFC3339_MAX];
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "id", j->id) == NULL ||
	    cJSON_AddStringToObject(o, "namespace", j->ns) == NULL ||
	    cJSON_AddStringToObject(o, "name", j->name) == NULL ||
	    cJSON_AddStringToObject(o, "state", state_names[j->state]) == NULL ||
	    cJSON_AddNumberToObject(o, "bytes", (double)j->bytes) == NULL ||
	    cJSON_AddNumberToObject(o, "rows", (double)j->p.rows) == NULL ||
	    cJSON_AddNumberToObject(o, "delivered", (double)j->p.delivered) == NULL ||
	    cJSON_AddNumberToObject(o, "failed", (double)j->p.failed) == NULL ||
	    cJSON_AddNumberToObject(o, "skipped", (double)j->p.skipped) == NULL ||
	    (j->p.percent >= 0 ? cJSON_AddNumberToObject(o, "percent", j->p.percent)
	                       : cJSON_AddNullToObject(o, "percent")) == NULL ||
	    cJSON_AddStringToObject(o, "error", j->p.error) == NULL)
		goto fail;
	if (j->state != RUNNING && j->exit_code >= 0 &&
	    cJSON_AddNumberToObject(o, "exitCode", j->exit_code) == NULL)
		goto fail;
	clock_format_rfc3339(j->started_ns, ts, sizeof(ts));
	if (cJSON_AddStringToObject(o, "started", ts) == NULL)
		goto fail;
	if (j->state != RUNNING) {
		clock_format_rfc3339(j->finished_ns, ts, sizeof(ts));
		if (cJSON_AddStringToObject(o, "finished", ts) == NULL)
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

unsigned int dash_loads_end(struct dash_loads *l, struct dash_load_body *b,
                            const struct tw_spec *spec, const char *bootstrap, struct dash_reply *r)
{
	struct dash_load_plan plan;
	char err[1024], client_id[128], secret_dir[DASH_LOAD_PATH_MAX];
	const char *argv[DASH_LOAD_ARGV_MAX];
	posix_spawn_file_actions_t fa;
	struct resolver res = {.kube = l->kube, .ns = b->ns};
	struct dash_load_secrets *secrets = NULL;
	char **env = NULL;
	int pipefd[2] = {-1, -1}, rc;
	struct job *j;
	pid_t pid;

	close(b->fd);
	b->fd = -1;
	if (plan_file(b->path, spec, &plan, err, sizeof(err)) < 0) {
		dash_loads_discard(b);
		return dash_reply_error(r, 400, "%s", err);
	}
	secrets = malloc(sizeof(*secrets)); /* its paths are large for a stack */
	if (secrets == NULL) {
		dash_loads_discard(b);
		return dash_reply_error(r, 500, "out of memory");
	}
	rc = load_secrets(l, &res, &spec->kafka, secret_dir, sizeof(secret_dir), secrets, err,
	                  sizeof(err));
	if (rc < 0) {
		secrets_release(&res);
		free(secrets);
		dash_loads_discard(b);
		return dash_reply_error(r, rc == -1 ? 502 : 500, "%s", err);
	}
	snprintf(client_id, sizeof(client_id), "sluice-dashboard-load");
	struct dash_load_cmd cmd = {.worker = l->worker,
	                            .file = b->path,
	                            .topic = spec->kafka.topic,
	                            .bootstrap = bootstrap,
	                            .client_id = client_id,
	                            .plan = &plan,
	                            .sec = &secrets->args};
	if (dash_load_argv(&cmd, argv, DASH_LOAD_ARGV_MAX) >= 0)
		env = child_env();
	if (env == NULL || pipe2(pipefd, O_CLOEXEC) != 0) {
		free(env);
		secrets_release(&res);
		free(secrets);
		secrets_remove(secret_dir);
		dash_loads_discard(b);
		return dash_reply_error(r, 500, "cannot start the loader: out of resources");
	}
	/* The loader starts as from a shell: no signal blocked, SIGPIPE (ours
	 * ignored) back to its default. */
	posix_spawnattr_t sa;
	sigset_t none, dflt;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_init(&sa);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &dflt);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	pthread_mutex_lock(&l->mu);
	j = slot(l);
	if (j == NULL) {
		pthread_mutex_unlock(&l->mu);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&sa);
		free(env);
		secrets_release(&res);
		free(secrets);
		secrets_remove(secret_dir);
		close(pipefd[0]);
		close(pipefd[1]);
		dash_loads_discard(b);
		return dash_reply_error(r, 503, "every load slot is running");
	}
	rc = strchr(l->worker, '/') != NULL
	         ? posix_spawn(&pid, l->worker, &fa, &sa, (char *const *)argv, env)
	         : posix_spawnp(&pid, l->worker, &fa, &sa, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	free(env);
	secrets_release(&res); /* argv pointed into them: the child has its copy */
	free(secrets);
	close(pipefd[1]);
	if (rc != 0) {
		pthread_mutex_unlock(&l->mu);
		close(pipefd[0]);
		secrets_remove(secret_dir);
		dash_loads_discard(b);
		return dash_reply_error(r, 500, "cannot run the loader %s: %s", l->worker,
		                        strerror(rc));
	}
	memset(j, 0, sizeof(*j));
	j->used = 1;
	j->l = l;
	new_id(j->id);
	snprintf(j->ns, sizeof(j->ns), "%s", b->ns);
	snprintf(j->name, sizeof(j->name), "%s", b->name);
	snprintf(j->path, sizeof(j->path), "%s", b->path);
	snprintf(j->secret_dir, sizeof(j->secret_dir), "%s", secret_dir);
	j->pid = pid;
	j->fd = pipefd[0];
	j->state = RUNNING;
	j->exit_code = -1;
	j->bytes = b->bytes;
	j->started_ns = clock_real_ns();
	dash_load_progress_init(&j->p);
	l->receiving--;
	if (pthread_create(&j->thread, NULL, monitor, j) != 0) {
		/* Nobody would read it: stop it and wait here. */
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(j->fd);
		(void)unlink(j->path);
		secrets_remove(j->secret_dir);
		j->used = 0;
		pthread_mutex_unlock(&l->mu);
		free(b);
		return dash_reply_error(r, 500, "cannot start the loader's monitor thread");
	}
	j->thread_started = 1;
	log_info("load started", "namespace", j->ns, "name", j->name, "id", j->id, "topic",
	         spec->kafka.topic, "key_fields", plan.key_fields, "format",
	         plan.as_json ? "json" : "csv", NULL);
	cJSON *o = job_json(j);
	pthread_mutex_unlock(&l->mu);
	free(b);
	return dash_reply_json(r, 202, o);
}

/* The job id of ns/name, or NULL. Under l->mu. */
static const struct job *find_job(const struct dash_loads *l, const char *ns, const char *name,
                                  const char *id)
{
	for (int i = 0; i < DASH_LOADS_KEPT; i++) {
		const struct job *j = &l->jobs[i];
		if (j->used && strcmp(j->id, id) == 0 && strcmp(j->ns, ns) == 0 &&
		    strcmp(j->name, name) == 0)
			return j;
	}
	return NULL;
}

unsigned int dash_loads_get(struct dash_loads *l, const char *ns, const char *name, const char *id,
                            int wait_ms, struct dash_reply *r)
{
	struct timespec until = clock_mono_deadline(wait_ms > 0 ? wait_ms : 0);
	const struct job *j;
	cJSON *o = NULL;

	pthread_mutex_lock(&l->mu);
	/* A slot is reused only for a finished job, so j stays this load while
	 * it runs. */
	while ((j = find_job(l, ns, name, id)) != NULL && j->state == RUNNING && wait_ms > 0 &&
	       pthread_cond_timedwait(&l->ended, &l->mu, &until) == 0)
		;
	j = find_job(l, ns, name, id);
	if (j != NULL)
		o = job_json(j);
	pthread_mutex_unlock(&l->mu);
	if (j == NULL)
		return dash_reply_error(r, 404, "no load %s of %s/%s (the last %d are kept)", id,
		                        ns, name, DASH_LOADS_KEPT);
	return dash_reply_json(r, 200, o);
}
