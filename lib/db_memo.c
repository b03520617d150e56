/* db_memo.c - answers remembered beside a database under a key and the
 * store_db_changes value they were built from (store_db_memo_get/put). */
#include "db_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct memo_slot {
	char key[STORE_DB_MEMO_KEY + 1];   /* "" when empty */
	unsigned long long changes;
	char *text;                        /* len bytes and a NUL */
	size_t len, aux;
	unsigned long long used;           /* the memo's tick at the last use */
};

struct db_memo {
	pthread_mutex_t mu;                /* guards everything below */
	unsigned long long tick;
	struct memo_slot slots[STORE_DB_MEMO_SLOTS];
};

struct db_memo *
db_memo_new(void)
{
	struct db_memo *m = calloc(1, sizeof *m);

	if (m != NULL)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void
db_memo_free(struct db_memo *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < STORE_DB_MEMO_SLOTS; i++)
		free(m->slots[i].text);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* The slot holding key, NULL when none does; under m->mu. */
static struct memo_slot *
slot_of(struct db_memo *m, const char *key)
{
	for (size_t i = 0; i < STORE_DB_MEMO_SLOTS; i++)
		if (m->slots[i].key[0] != '\0' && strcmp(m->slots[i].key, key) == 0)
			return &m->slots[i];
	return NULL;
}

/* Where key's answer goes: its slot, else an empty one, else the least
 * recently used; under m->mu. */
static struct memo_slot *
slot_for(struct db_memo *m, const char *key)
{
	struct memo_slot *s = slot_of(m, key), *oldest = &m->slots[0];

	if (s != NULL)
		return s;
	for (size_t i = 0; i < STORE_DB_MEMO_SLOTS; i++) {
		if (m->slots[i].key[0] == '\0')
			return &m->slots[i];
		if (m->slots[i].used < oldest->used)
			oldest = &m->slots[i];
	}
	return oldest;
}

static bool
key_ok(const char *key)
{
	size_t n = key != NULL ? strnlen(key, STORE_DB_MEMO_KEY + 1) : 0;

	return n > 0 && n <= STORE_DB_MEMO_KEY;
}

bool
store_db_memo_get(store_db *db, const char *key, unsigned long long changes,
                  char **text, size_t *len, size_t *aux)
{
	struct db_memo *m = db != NULL ? db->memo : NULL;
	struct memo_slot *s;
	bool found = false;

	*text = NULL;
	*len = 0;
	*aux = 0;
	if (m == NULL || !key_ok(key))
		return false;
	pthread_mutex_lock(&m->mu);
	s = slot_of(m, key);
	if (s != NULL && s->changes == changes && (*text = malloc(s->len + 1)) != NULL) {
		memcpy(*text, s->text, s->len + 1);
		*len = s->len;
		*aux = s->aux;
		s->used = ++m->tick;
		found = true;
	}
	pthread_mutex_unlock(&m->mu);
	return found;
}

void
store_db_memo_put(store_db *db, const char *key, unsigned long long changes,
                  const char *text, size_t len, size_t aux)
{
	struct db_memo *m = db != NULL ? db->memo : NULL;
	struct memo_slot *s;
	char *copy;

	if (m == NULL || !key_ok(key) || text == NULL || len > STORE_DB_MEMO_TEXT)
		return;
	/* Copied before the lock: the lock guards slots, not memcpy. */
	if ((copy = malloc(len + 1)) == NULL)
		return;
	memcpy(copy, text, len);
	copy[len] = '\0';
	pthread_mutex_lock(&m->mu);
	s = slot_for(m, key);
	free(s->text);
	strcpy(s->key, key);
	s->changes = changes;
	s->text = copy;
	s->len = len;
	s->aux = aux;
	s->used = ++m->tick;
	pthread_mutex_unlock(&m->mu);
}
