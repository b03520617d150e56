# shop.bash - helpers for the tests of the products and cart services, on top
# of store.bash (load both:  load '../lib/store'; load '../lib/shop').
#
# Results go to globals, as api's do: category_id, product_id, product (the
# last product's JSON as the API answered it).

# status_code and body are set by api (store.bash); the globals below are
# read by the .bats files.
# shellcheck disable=SC2154,SC2034

# Seconds to wait for an event to reach the cart. Bounded, never slept: the
# tests poll (wait_until) and go on as soon as the cart shows it. Generous
# for the sanitizer build on a loaded machine.
EVENT_WAIT=${STORE_TEST_EVENT_WAIT:-60}

# oid: a new random 24-hex id (an event id, or an id nobody has).
oid() {
	od -An -N12 -tx1 /dev/urandom | tr -d ' \n'
	echo
}

# unique NAME: NAME with this test's number and random digits, for names that
# must be unique in the file's store (categories).
unique() {
	printf '%s %s-%s%s\n' "$1" "${BATS_TEST_NUMBER:-0}" "$RANDOM" "$RANDOM"
}

# make_category [NAME]: POST /api/categories as the current user, expect 201;
# sets category_id.
make_category() {
	local name=${1:-$(unique Category)}
	api POST /api/categories "$(jq -cn --arg n "$name" '{name: $n, description: "Things"}')" || return 1
	expect_status 201 || return 1
	category_id=$(json_get .id)
}

# product_body CATEGORY PRICE COUNT [NAME [PICTURE]]: a product request body.
product_body() {
	jq -cn --arg c "$1" --argjson price "$2" --argjson count "$3" --arg n "${4:-Widget}" \
		--arg pic "${5:-https://img.example.com/widget.png}" \
		'{name: $n, description: "A fine widget", price: $price, count: $count,
		  picture: $pic, categoryId: $c}'
}

# make_product CATEGORY PRICE COUNT [NAME]: POST /api/products as the current
# user, expect 201; sets product_id and product.
make_product() {
	api POST /api/products "$(product_body "$@")" || return 1
	expect_status 201 || return 1
	product=$body
	product_id=$(json_get .id)
}

# add_to_cart PRODUCT CATEGORY: POST /api/products/addToCart, expect 200.
add_to_cart() {
	api POST /api/products/addToCart "$(jq -cn --arg i "$1" --arg c "$2" '{id: $i, categoryId: $c}')" ||
		return 1
	expect_status 200
}

# cart_line_is PRODUCT FILTER: GET /api/cart shows a line of PRODUCT for which
# the jq FILTER holds (on {product, qty, limit}); for wait_until.
cart_line_is() {
	api GET /api/cart || return 1
	expect_status 200 || return 1
	if ! jq -e --arg id "$1" "(.info // []) | any(.[]; .product.id == \$id and ($2))" \
		<<<"$body" >/dev/null; then
		echo "no line of $1 with $2 in the cart: $body" >&2
		return 1
	fi
}

# cart_lacks PRODUCT: GET /api/cart has no line of PRODUCT.
cart_lacks() {
	api GET /api/cart || return 1
	expect_status 200 || return 1
	if ! jq -e --arg id "$1" '(.info // []) | all(.[]; .product.id != $id)' <<<"$body" >/dev/null; then
		echo "the cart still has $1: $body" >&2
		return 1
	fi
}

# cart_version: the version of the current user's cart (GET /api/cart).
cart_version() {
	api GET /api/cart || return 1
	expect_status 200 || return 1
	json_get .version
}

# product_event PRODUCT-JSON VERSION [JQ-UPDATE]: the store.product.updated
# payload (EVENTS.md) of a product as the API shows it, at VERSION, with the
# jq update applied (e.g. '.price = 22.5 | .name = "v2"').
product_event() {
	jq -c --argjson v "$2" "{id, name, description, price, picture, userId,
		categoryId: .category.id, count, views, version: \$v} | ${3:-.}" <<<"$1"
}

# publish SUBJECT PAYLOAD [--id ID]: one event straight into JetStream.
publish() {
	nats_tool publish "$@" >/dev/null
}

# dead_count SUBJECT: how many dead letters the stream holds for SUBJECT.
dead_count() {
	nats_tool count "store.dead.$1"
}

# dead_count_is SUBJECT N: the stream holds N dead letters for SUBJECT; for
# wait_until.
dead_count_is() {
	local n
	n=$(dead_count "$1") || return 1
	if [[ $n != "$2" ]]; then
		echo "$n dead letters of $1, not $2" >&2
		return 1
	fi
}
