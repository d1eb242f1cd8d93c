/* redis_pool.c - kept Redis connections, one per address; see redis_pool.h. */
#include "redis_pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis_conn.h"

#define NO_POOL_TIMEOUT_MS 3000

struct slot {
	char *addr;         /* NULL: free */
	redisContext *idle; /* the kept connection, NULL while lent or none */
	uint64_t used;      /* when last lent or given back, on the pool's tick */
};

struct redis_pool {
	pthread_mutex_t mu;
	int timeout_ms;
	size_t nslots;
	uint64_t tick;
	struct redis_pool_stats stats;
	char *auth_addr, *auth_user, *auth_password; /* redis_pool_auth; NULL: none */
	struct slot slots[];
};

struct redis_pool *redis_pool_new(int timeout_ms, size_t max_addrs)
{
	struct redis_pool *p;

	if (max_addrs == 0)
		max_addrs = REDIS_POOL_MAX_ADDRS_DEFAULT;
	if (timeout_ms <= 0 || max_addrs > SIZE_MAX / sizeof(struct slot) / 2)
		return NULL;
	p = calloc(1, sizeof(*p) + max_addrs * sizeof(struct slot));
	if (p == NULL)
		return NULL;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return NULL;
	}
	p->timeout_ms = timeout_ms;
	p->nslots = max_addrs;
	return p;
}

static void free_auth(struct redis_pool *p)
{
	if (p->auth_password != NULL)
		explicit_bzero(p->auth_password, strlen(p->auth_password));
	free(p->auth_addr);
	free(p->auth_user);
	free(p->auth_password);
	p->auth_addr = p->auth_user = p->auth_password = NULL;
}

void redis_pool_free(struct redis_pool *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nslots; i++) {
		if (p->slots[i].idle != NULL)
			redisFree(p->slots[i].idle);
		free(p->slots[i].addr);
	}
	free_auth(p);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int redis_pool_auth(struct redis_pool *p, const char *addr, const char *user, const char *password)
{
	free_auth(p);
	if (addr == NULL || password == NULL || password[0] == '\0')
		return 0;
	p->auth_addr = strdup(addr);
	p->auth_user = user != NULL && user[0] != '\0' ? strdup(user) : NULL;
	p->auth_password = strdup(password);
	if (p->auth_addr == NULL || p->auth_password == NULL ||
	    (user != NULL && user[0] != '\0' && p->auth_user == NULL)) {
		free_auth(p);
		return -1;
	}
	return 0;
}

/* A new connection to addr, with the credentials kept for it. */
static redisContext *open_conn(const struct redis_pool *p, const char *addr, int timeout_ms,
                               char *errbuf, size_t errbuf_size)
{
	struct redis_auth a = {NULL, NULL};

	if (p != NULL && p->auth_addr != NULL && strcmp(p->auth_addr, addr) == 0) {
		a.user = p->auth_user;
		a.password = p->auth_password;
	}
	return redis_conn_open_auth(addr, &a, timeout_ms, errbuf, errbuf_size);
}

/* The slot of addr, or NULL. Called with the lock held. */
static struct slot *find(struct redis_pool *p, const char *addr)
{
	for (size_t i = 0; i < p->nslots; i++)
		if (p->slots[i].addr != NULL && strcmp(p->slots[i].addr, addr) == 0)
			return &p->slots[i];
	return NULL;
}

/* The kept connection of addr, taken out of the pool, or NULL. */
static redisContext *take(struct redis_pool *p, const char *addr)
{
	redisContext *c = NULL;
	struct slot *s;

	pthread_mutex_lock(&p->mu);
	s = find(p, addr);
	if (s != NULL && s->idle != NULL) {
		c = s->idle;
		s->idle = NULL;
		s->used = ++p->tick;
		p->stats.reused++;
		p->stats.kept--;
	}
	pthread_mutex_unlock(&p->mu);
	return c;
}

/* Keeps c for addr when it is healthy and none is kept yet; else closes it.
 * A new address takes a free slot or the least recently used one. */
static void give_back(struct redis_pool *p, const char *addr, redisContext *c)
{
	redisContext *close_it = c;
	struct slot *s;

	pthread_mutex_lock(&p->mu);
	if (c->err != 0) {
		p->stats.dropped++;
		goto out;
	}
	s = find(p, addr);
	if (s == NULL) {
		char *copy = strdup(addr);
		if (copy == NULL)
			goto out;
		s = &p->slots[0];
		for (size_t i = 0; i < p->nslots && s->addr != NULL; i++)
			if (p->slots[i].addr == NULL || p->slots[i].used < s->used)
				s = &p->slots[i];
		if (s->idle != NULL) {
			/* Evicted: closed below, in place of c (kept instead). */
			close_it = s->idle;
			s->idle = NULL;
			p->stats.kept--;
		} else {
			close_it = NULL;
		}
		free(s->addr);
		s->addr = copy;
	} else if (s->idle != NULL) {
		goto out; /* one is kept already: c was a second, concurrent one */
	} else {
		close_it = NULL;
	}
	s->idle = c;
	s->used = ++p->tick;
	p->stats.kept++;
out:
	pthread_mutex_unlock(&p->mu);
	if (close_it != NULL)
		redisFree(close_it);
}

static void count(struct redis_pool *p, unsigned long long *counter)
{
	pthread_mutex_lock(&p->mu);
	(*counter)++;
	pthread_mutex_unlock(&p->mu);
}

int redis_pool_run(struct redis_pool *p, const char *addr, redis_pool_fn fn, void *arg,
                   char *errbuf, size_t errbuf_size)
{
	int timeout_ms = p != NULL ? p->timeout_ms : NO_POOL_TIMEOUT_MS;
	redisContext *c = p != NULL ? take(p, addr) : NULL;
	int reused = c != NULL, rc;

	if (c == NULL) {
		c = open_conn(p, addr, timeout_ms, errbuf, errbuf_size);
		if (c == NULL)
			return -1;
		if (p != NULL)
			count(p, &p->stats.opened);
	}
	rc = fn(c, addr, arg, errbuf, errbuf_size);
	if (rc != 0 && c->err != 0 && reused) {
		/* The kept connection had gone stale (the server restarted, or
		 * closed it as idle): once more, on a new one. */
		count(p, &p->stats.dropped);
		count(p, &p->stats.retried);
		redisFree(c);
		c = open_conn(p, addr, timeout_ms, errbuf, errbuf_size);
		if (c == NULL)
			return -1;
		count(p, &p->stats.opened);
		rc = fn(c, addr, arg, errbuf, errbuf_size);
	}
	if (p != NULL)
		give_back(p, addr, c);
	else
		redisFree(c);
	return rc;
}

void redis_pool_stats(struct redis_pool *p, struct redis_pool_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	*out = p->stats;
	pthread_mutex_unlock(&p->mu);
}
