/* catalog_text.c - API.md's products and categories written as text
 * straight from the stored documents' JSON (store_db_find_text), byte for
 * byte what encoding catalog_product_view / catalog_category_view gives:
 * stored strings are copied as they are (jansson wrote them, and writes
 * them again the same way), numbers rewritten as jansson writes them.
 *
 * A stored document is first checked whole, as json_loadb would
 * (json_members, json_scan.c). One that fails, or holds a string jansson would write differently (an escape it
 * never writes, \u0000, which the views cut short), takes the parse/encode
 * path instead, so the answer is the same either way. */
#include "catalog_impl.h"
#include "json_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"
#include "store/oid.h"

#define TEXT_MAX      (512u << 20)  /* an answer's size */
#define CATEGORY_SEEN 64            /* categories remembered for one list */

/* ---- the answer's buffer -------------------------------------------------- */

#define PUT_LIT(b, lit) put((b), (lit), sizeof (lit) - 1)

/* Makes room for n more bytes and the NUL; false (b->err set) when the
 * answer would pass TEXT_MAX or memory runs out, or b->err already is. */
static bool
buf_room(struct catalog_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->err != STORE_OK)
		return false;
	if (n > TEXT_MAX || b->n > TEXT_MAX - n) {
		b->err = STORE_ETOOBIG;
		return false;
	}
	if (b->n + n + 1 <= b->cap)
		return true;
	cap = b->cap > 0 ? b->cap : 1024;
	while (cap < b->n + n + 1)
		cap *= 2;
	p = realloc(b->s, cap);
	if (p == NULL) {
		b->err = STORE_ENOMEM;
		return false;
	}
	b->s = p;
	b->cap = cap;
	return true;
}

/* catalog_buf_add, inline: buf_room is called only when the bytes do not
 * already fit (an answer is dozens of small pieces). */
static inline void
put(struct catalog_buf *b, const char *s, size_t n)
{
	if ((b->err != STORE_OK || n >= b->cap - b->n || n > TEXT_MAX - b->n) &&
	    !buf_room(b, n))
		return;
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

void
catalog_buf_add(struct catalog_buf *b, const char *s, size_t n)
{
	put(b, s, n);
}

void
catalog_buf_str(struct catalog_buf *b, const char *s)
{
	catalog_buf_add(b, s, strlen(s));
}

void
catalog_buf_free(struct catalog_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->n = b->cap = 0;
}

/* ---- writing values -------------------------------------------------------- */

static bool
span_string(struct json_span v)
{
	return v.s != NULL && v.s[0] == '"';
}

/* A string member as json_pack's "s?" writes store_json_str's value. */
static void
put_string(struct catalog_buf *b, struct json_span v)
{
	if (span_string(v))
		put(b, v.s, v.n);
	else
		PUT_LIT(b, "null");
}

/* store_json_int's value of a member: an integer, else def. The scanner
 * has checked the grammar: up to 18 digits are read here, longer ones
 * (which it checked are in range) by strtoll. */
static long long
span_int(struct json_span v, long long def)
{
	char tmp[JSON_NUMBER_MAX + 1];
	size_t i = v.s != NULL && v.n > 0 && v.s[0] == '-' ? 1 : 0;
	long long n = 0;

	if (v.s != NULL && v.n > i && v.n - i <= 18) {
		for (size_t k = i; k < v.n; k++) {
			if (v.s[k] < '0' || v.s[k] > '9')
				goto other;
			n = n * 10 + (v.s[k] - '0');
		}
		return i == 1 ? -n : n;
	}
other:
	if (v.s == NULL || v.n > JSON_NUMBER_MAX || (v.s[0] != '-' &&
	    (v.s[0] < '0' || v.s[0] > '9')) || memchr(v.s, '.', v.n) != NULL ||
	    memchr(v.s, 'e', v.n) != NULL || memchr(v.s, 'E', v.n) != NULL)
		return def;
	memcpy(tmp, v.s, v.n);
	tmp[v.n] = '\0';
	return strtoll(tmp, NULL, 10);
}

/* A real as jansson writes it with JSON_REAL_PRECISION(15). */
static void
put_real(struct catalog_buf *b, double v)
{
	char tmp[64], *e, *from;
	int n = snprintf(tmp, sizeof tmp, "%.15g", v);
	size_t len;

	if (n < 0 || (size_t)n + 3 >= sizeof tmp) {
		if (b->err == STORE_OK)
			b->err = STORE_EINTERNAL;
		return;
	}
	len = (size_t)n;
	if (strchr(tmp, '.') == NULL && strchr(tmp, 'e') == NULL) {
		memcpy(tmp + len, ".0", 3);
		len += 2;
	}
	/* no '+' and no leading zeros in the exponent */
	e = strchr(tmp, 'e');
	if (e != NULL) {
		e++;
		from = e + 1;
		if (*e == '-')
			e++;
		while (*from == '0')
			from++;
		if (from != e) {
			memmove(e, from, len - (size_t)(from - tmp) + 1);
			len -= (size_t)(from - e);
		}
	}
	put(b, tmp, len);
}

/* An integer as jansson writes it ("%lld"). */
static void
put_int(struct catalog_buf *b, long long v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		*--p = '-';
	put(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* store_json_money(cents), written. Below 10^15 cents, a value has at
 * most 15 significant digits, so "%.15g" of cents / 100.0 is the exact
 * decimal, trailing zero dropped: written directly. */
static void
put_money(struct catalog_buf *b, long long cents)
{
	char frac[4] = ".00";
	long long c;

	if (cents % 100 == 0) {
		put_int(b, cents / 100);
		return;
	}
	if (cents <= -1000000000000000LL || cents >= 1000000000000000LL) {
		put_real(b, (double)cents / 100.0);
		return;
	}
	c = cents < 0 ? -cents : cents;    /* in range: LLONG_MIN went above */
	if (cents < 0)
		put(b, "-", 1);
	put_int(b, c / 100);
	frac[1] = (char)('0' + c % 100 / 10);
	frac[2] = (char)('0' + c % 10);
	put(b, frac, frac[2] == '0' ? 2 : 3);
}

/* ---- the parse/encode path ------------------------------------------------- */

/* The stored document d as store_db_get gives it; STORE_EIO as the backend
 * answers for a stored text that is not a JSON object. */
static store_err
parse_doc(const store_db_text *d, json_t **out)
{
	json_t *body = json_loadb(d->body, d->len, JSON_ALLOW_NUL, NULL), *doc;
	store_err e = STORE_ENOMEM;

	*out = NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		return STORE_EIO;
	}
	doc = json_pack("{s:s,s:I}", "id", d->id, "version", (json_int_t)d->version);
	if (doc != NULL && json_object_update_missing(doc, body) == 0) {
		*out = doc;
		doc = NULL;
		e = STORE_OK;
	}
	json_decref(doc);
	json_decref(body);
	return e;
}

/* Appends v encoded as the answer encodes it; v is stolen. */
static void
put_json(struct catalog_buf *b, json_t *v)
{
	char *text = v != NULL ? store_json_dump(v) : NULL;

	json_decref(v);
	if (text == NULL) {
		if (b->err == STORE_OK)
			b->err = STORE_ENOMEM;
		return;
	}
	catalog_buf_str(b, text);
	free(text);
}

/* ---- categories ------------------------------------------------------------ */

static const struct json_key category_keys[] = {
	JSON_KEY("name"), JSON_KEY("description"), JSON_KEY("userId"),
};
enum { C_NAME, C_DESCRIPTION, C_USER, C_N };

store_err
catalog_categories_text(const store_db_texts *docs, struct catalog_buf *b)
{
	struct json_span v[C_N];
	json_t *doc;
	store_err e;

	PUT_LIT(b, "[");
	for (size_t i = 0; i < docs->n && b->err == STORE_OK; i++) {
		const store_db_text *d = &docs->docs[i];

		if (i > 0)
			PUT_LIT(b, ",");
		if (store_oid_valid(d->id) &&
		    json_members(d->body, d->len, category_keys, C_N, v)) {
			PUT_LIT(b, "{\"id\":\"");
			put(b, d->id, STORE_OID_LEN);
			PUT_LIT(b, "\",\"name\":");
			put_string(b, v[C_NAME]);
			PUT_LIT(b, ",\"description\":");
			put_string(b, v[C_DESCRIPTION]);
			PUT_LIT(b, ",\"userId\":");
			put_string(b, v[C_USER]);
			PUT_LIT(b, "}");
			continue;
		}
		if ((e = parse_doc(d, &doc)) != STORE_OK)
			return e;
		put_json(b, catalog_category_view(doc));
		json_decref(doc);
	}
	PUT_LIT(b, "]");
	return b->err;
}

/* ---- products -------------------------------------------------------------- */

static const struct json_key product_keys[] = {
	JSON_KEY("name"), JSON_KEY("description"), JSON_KEY("price"),
	JSON_KEY("picture"), JSON_KEY("userId"), JSON_KEY("views"),
	JSON_KEY("count"), JSON_KEY("categoryId"),
};
enum { P_NAME, P_DESCRIPTION, P_PRICE, P_PICTURE, P_USER, P_VIEWS, P_COUNT,
       P_CATEGORY, P_N };

/* A category read for a list, and its view as text. */
struct seen {
	char id[STORE_OID_LEN + 1];
	json_t *doc;     /* NULL: there is no such category */
	char *text;      /* catalog_category_view(doc), encoded */
};

struct categories {
	store_db *db;
	struct seen every;     /* every product's, when .doc is not NULL */
	struct seen seen[CATEGORY_SEEN];
	size_t nseen;
	struct seen spare;     /* the last one read past CATEGORY_SEEN */
};

static void
seen_clear(struct seen *s)
{
	json_decref(s->doc);
	free(s->text);
	memset(s, 0, sizeof *s);
}

/* Reads category cid into s (s->doc NULL when there is none). */
static store_err
seen_read(store_db *db, const char *cid, struct seen *s)
{
	json_t *view;
	store_err e;

	seen_clear(s);
	memcpy(s->id, cid, sizeof s->id);
	e = store_db_get(db, "categories", cid, &s->doc);
	if (e == STORE_ENOTFOUND)
		return STORE_OK;
	if (e != STORE_OK)
		return e;
	view = catalog_category_view(s->doc);
	s->text = view != NULL ? store_json_dump(view) : NULL;
	json_decref(view);
	return s->text != NULL ? STORE_OK : STORE_ENOMEM;
}

/* The category of a product whose "categoryId" is cid (may be NULL), as
 * product_views finds it: one read per distinct id. *out's doc is NULL
 * when there is none; it stays cs's. */
static store_err
category_of(struct categories *cs, const char *cid, const struct seen **out)
{
	static const struct seen none;
	struct seen *s;
	store_err e;

	*out = &none;
	if (cs->every.doc != NULL) {
		*out = &cs->every;
		return STORE_OK;
	}
	if (cid == NULL || !store_oid_valid(cid))
		return STORE_OK;
	for (size_t i = 0; i < cs->nseen; i++)
		if (strcmp(cs->seen[i].id, cid) == 0) {
			*out = &cs->seen[i];
			return STORE_OK;
		}
	s = cs->nseen < CATEGORY_SEEN ? &cs->seen[cs->nseen++] : &cs->spare;
	e = seen_read(cs->db, cid, s);
	if (e == STORE_OK)
		*out = s;
	return e;
}

static void
categories_free(struct categories *cs)
{
	seen_clear(&cs->every);
	for (size_t i = 0; i < cs->nseen; i++)
		seen_clear(&cs->seen[i]);
	seen_clear(&cs->spare);
}

/* The categoryId of a product as store_json_str gives it, when it can be
 * an id (no escapes, so the stored text is the string): in id, else "". */
static void
span_id(struct json_span v, char id[STORE_OID_LEN + 1])
{
	id[0] = '\0';
	if (span_string(v) && v.n == STORE_OID_LEN + 2) {
		memcpy(id, v.s + 1, STORE_OID_LEN);
		id[STORE_OID_LEN] = '\0';
	}
}

/* Appends one product: spliced from v when scanned, else parsed and
 * encoded. */
static store_err
product_text(struct categories *cs, const store_db_text *d, struct catalog_buf *b)
{
	struct json_span v[P_N];
	const struct seen *cat;
	char cid[STORE_OID_LEN + 1];
	json_t *doc = NULL;
	store_err e;

	if (!store_oid_valid(d->id) ||
	    !json_members(d->body, d->len, product_keys, P_N, v)) {
		if ((e = parse_doc(d, &doc)) == STORE_OK &&
		    (e = category_of(cs, store_json_str(doc, "categoryId"), &cat)) == STORE_OK)
			put_json(b, catalog_product_view(doc, cat->doc));
		json_decref(doc);
		return e != STORE_OK ? e : b->err;
	}
	span_id(v[P_CATEGORY], cid);
	if ((e = category_of(cs, cid[0] != '\0' ? cid : NULL, &cat)) != STORE_OK)
		return e;
	PUT_LIT(b, "{\"id\":\"");
	put(b, d->id, STORE_OID_LEN);
	PUT_LIT(b, "\",\"name\":");
	put_string(b, v[P_NAME]);
	PUT_LIT(b, ",\"description\":");
	put_string(b, v[P_DESCRIPTION]);
	PUT_LIT(b, ",\"price\":");
	put_money(b, span_int(v[P_PRICE], 0));
	PUT_LIT(b, ",\"picture\":");
	put_string(b, v[P_PICTURE]);
	PUT_LIT(b, ",\"userId\":");
	put_string(b, v[P_USER]);
	PUT_LIT(b, ",\"views\":");
	put_int(b, span_int(v[P_VIEWS], 0));
	PUT_LIT(b, ",\"count\":");
	put_int(b, span_int(v[P_COUNT], 0));
	PUT_LIT(b, ",\"version\":");
	put_int(b, d->version);
	PUT_LIT(b, ",\"category\":");
	if (cat->doc != NULL) {
		catalog_buf_str(b, cat->text);
	} else {
		PUT_LIT(b, "{\"id\":");
		put_string(b, v[P_CATEGORY]);
		PUT_LIT(b, "}");
	}
	PUT_LIT(b, "}");
	return b->err;
}

store_err
catalog_products_text(store_db *db, const store_db_texts *docs,
                      const json_t *category, struct catalog_buf *b)
{
	struct categories cs;
	store_err e = STORE_OK;

	memset(&cs, 0, sizeof cs);
	cs.db = db;
	if (category != NULL) {
		json_t *view = catalog_category_view(category);

		cs.every.doc = json_incref((json_t *)category);
		cs.every.text = view != NULL ? store_json_dump(view) : NULL;
		json_decref(view);
		if (cs.every.text == NULL)
			e = STORE_ENOMEM;
	}
	PUT_LIT(b, "[");
	for (size_t i = 0; e == STORE_OK && i < docs->n; i++) {
		if (i > 0)
			PUT_LIT(b, ",");
		e = product_text(&cs, &docs->docs[i], b);
	}
	PUT_LIT(b, "]");
	categories_free(&cs);
	return e != STORE_OK ? e : b->err;
}
