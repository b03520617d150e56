/* cart_holds.c - the holds behind a cart line.
 *
 * Every unit in a cart is backed by a hold (a selection the products
 * service made on addToCart, announced in store.cart.add with its
 * selectionId and expiresAt). A line keeps its holds as
 * "holds": [{"id": selectionId, "expiresAtMs": N}]; its quantity never
 * exceeds the holds still live, so a cart never shows (and payments never
 * charges for) a unit nobody holds for the buyer. */
#include "cart_impl.h"

#include <string.h>

#include "store/json.h"
#include "store/time.h"

size_t
cart_holds_live(const json_t *line, long long now_ms)
{
	const json_t *h;
	size_t i, n = 0;

	json_array_foreach(json_object_get(line, "holds"), i, h)
		if (store_json_int(h, "expiresAtMs", 0) > now_ms)
			n++;
	return n;
}

long long
cart_line_qty(const json_t *line, long long now_ms)
{
	long long qty = store_json_int(line, "qty", 0);
	long long live = (long long)cart_holds_live(line, now_ms);

	return qty < live ? qty : live;
}

store_err
cart_holds_add(json_t *line, const char *selection_id, long long expires_ms)
{
	json_t *holds = json_object_get(line, "holds");

	if (!json_is_array(holds)) {
		holds = json_array();
		if (holds == NULL || json_object_set_new(line, "holds", holds) != 0)
			return STORE_ENOMEM;
	}
	return json_array_append_new(holds, json_pack("{s:s,s:I}", "id", selection_id,
	                                              "expiresAtMs", (json_int_t)expires_ms)) == 0
	       ? STORE_OK : STORE_ENOMEM;
}

bool
cart_holds_drop(json_t *line, const char *selection_id)
{
	json_t *holds = json_object_get(line, "holds"), *h;
	size_t i;

	json_array_foreach(holds, i, h) {
		if (strcmp(store_json_str(h, "id"), selection_id) == 0) {
			json_array_remove(holds, i);
			return true;
		}
	}
	return false;
}

/* The live holds of line, latest expiry first. New reference. */
static json_t *
live_by_expiry(const json_t *line, long long now_ms)
{
	json_t *out = json_array(), *h;
	size_t i;

	if (out == NULL)
		return NULL;
	json_array_foreach(json_object_get(line, "holds"), i, h) {
		long long at = store_json_int(h, "expiresAtMs", 0);
		size_t k = 0;

		if (at <= now_ms)
			continue;
		while (k < json_array_size(out) &&
		       store_json_int(json_array_get(out, k), "expiresAtMs", 0) >= at)
			k++;
		json_array_insert(out, k, h);
	}
	return out;
}

json_t *
cart_holds_backing(const json_t *line, long long now_ms, long long qty)
{
	json_t *live = live_by_expiry(line, now_ms), *out = json_array(), *h;
	size_t i;

	if (live == NULL || out == NULL) {
		json_decref(live);
		json_decref(out);
		return NULL;
	}
	/* The latest holds back the units: the line lasts as long as it can. */
	json_array_foreach(live, i, h) {
		char at[STORE_TIME_LEN];

		if ((long long)i >= qty)
			break;
		store_time_format(store_json_int(h, "expiresAtMs", 0), false, at);
		json_array_insert_new(out, 0, json_pack("{s:s?,s:s}", "selectionId",
		                                        store_json_str(h, "id"), "expiresAt", at));
	}
	json_decref(live);
	return out;
}
