#!/usr/bin/env bats
# The cart service (API.md, "Cart service"), over HTTP through nginx, with the
# products service, cartd and a real nats-server: the cart is built from events.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'
load '../lib/pay'

setup_file() {
	store_start
}

teardown_file() {
	store_stop
}

# seller_with_product PRICE COUNT: a new seller with a new category and product
# (category_id, product_id).
seller_with_product() {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" "$1" "$2"
}

# buyer_holds PRODUCT CATEGORY: a new buyer adds PRODUCT and sees it in the cart.
buyer_holds() {
	as buyer signup
	as buyer add_to_cart "$1" "$2"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$1" '.qty == 1'
}

item_add_remove() {
	api POST /api/cart/itemAddRemove "$(jq -cn --arg i "$1" --argjson a "$2" '{id: $i, add: $a}')"
}

item_remove() {
	api POST /api/cart/itemRemove "$(jq -cn --arg i "$1" '{id: $i}')"
}

# --- the journey ------------------------------------------------------------------

@test "journey: a seller lists a product, a buyer adds it to the cart, a new price reaches the cart" {
	as seller signup
	as seller make_category "$(unique Books)"
	local cat=$category_id
	as seller make_product "$cat" 12.5 3 "The C Programming Language"
	local pid=$product_id
	[[ $(jq -r .version <<<"$product") == 0 ]]
	as seller make_product "$cat" 30 1 "Unix Power Tools"

	as buyer signup
	as buyer add_to_cart "$pid" "$cat"
	# userId: the buyer's, whose cart gets the unit (as in store.cart.add).
	json_get . | jq -e --arg p "$pid" --arg c "$cat" --arg b "$(user_id buyer)" '
		.productId == $p and .categoryId == $c and .name == "The C Programming Language"
		and .description == "A fine widget" and .price == 12.5 and .count == 1
		and .version == 1 and .userId == $b
		and .picture == "https://img.example.com/widget.png"
		and (.selectionId | test("^[0-9a-f]{24}$")) and (.expiresAt | test("Z$"))'
	local hold
	hold=$(json_get .selectionId)

	# The unit is the hold: the line shows it and how long it lasts; limit,
	# because a further unit needs a hold of its own.
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$pid" \
		'.qty == 1 and .limit == true and .product.price == 12.5 and .product.count == 3'
	as buyer cart_line_is "$pid" \
		"(.holds | length == 1) and .holds[0].selectionId == \"$hold\" and .expiresAt == .holds[0].expiresAt"
	as buyer api GET /api/cart
	json_get . | jq -e --arg b "$(user_id buyer)" --arg p "$pid" --arg c "$cat" '
		.id == $b and .userId == $b and (.version | type == "number") and (.info | length == 1)
		and (.info[0].product | keys == ["categoryId", "count", "description", "id", "name", "picture", "price", "version"])
		and .info[0].product.id == $p and .info[0].product.categoryId == $c
		and .info[0].product.name == "The C Programming Language"'

	as seller api PUT "/api/products/$pid" "$(product_body "$cat" 15.25 3 "The C Programming Language")"
	expect_status 200
	[[ $(json_get .price) == 15.25 ]]
	[[ $(json_get .version) == 2 ]]

	wait_until "$EVENT_WAIT" as buyer cart_line_is "$pid" '.product.price == 15.25 and .product.version == 2 and .qty == 1'
}

@test "GET /api/cart of a user who never added anything is 200 null" {
	as nobody signup
	as nobody api GET /api/cart
	expect_status 200
	[[ $(json_get .) == null ]]
}

# --- quantities -------------------------------------------------------------------

@test "itemAddRemove never goes past the units held: +1 needs a hold (addToCart) of its own" {
	seller_with_product 4.99 2
	buyer_holds "$product_id" "$category_id"
	as buyer cart_line_is "$product_id" '.qty == 1 and .limit == true'

	# Issue 12.2: raising the quantity without a hold would sell a unit
	# another buyer can still hold: it stays at 1.
	as buyer item_add_remove "$product_id" 1
	expect_status 200
	json_get . | jq -e --arg p "$product_id" 'any(.info[]; .product.id == $p and .qty == 1 and .limit == true)'

	# A second addToCart holds a second unit: two units.
	as buyer add_to_cart "$product_id" "$category_id"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$product_id" '.qty == 2 and .limit == true'

	# Down one: a held unit is spare (limit false) and +1 takes it back.
	as buyer item_add_remove "$product_id" -1
	expect_status 200
	json_get . | jq -e --arg p "$product_id" 'any(.info[]; .product.id == $p and .qty == 1 and .limit == false)'
	as buyer item_add_remove "$product_id" 1
	expect_status 200
	json_get . | jq -e --arg p "$product_id" 'any(.info[]; .product.id == $p and .qty == 2 and .limit == true)'
}

@test "oversell through itemAddRemove: stock 2, X raises to 2 without a hold, Y still gets one, never 3 sold" {
	seller_with_product 5 2
	local cat=$category_id pid=$product_id
	as x signup
	as x add_to_cart "$pid" "$cat"
	wait_until "$EVENT_WAIT" as x cart_line_is "$pid" '.qty == 1'
	as x item_add_remove "$pid" 1
	expect_status 200
	as x cart_line_is "$pid" '.qty == 1'
	# Y takes the last free unit; a third hold is refused.
	as y signup
	as y add_to_cart "$pid" "$cat"
	as z signup
	as z api POST /api/products/addToCart "$(jq -cn --arg i "$pid" --arg c "$cat" '{id: $i, categoryId: $c}')"
	expect_error 400 "Out of stock"
}

@test "itemAddRemove down to 0 answers 204 and removes the line" {
	seller_with_product 7 5
	buyer_holds "$product_id" "$category_id"
	local before
	before=$(as buyer cart_version)

	as buyer item_add_remove "$product_id" -1
	expect_status 204
	[[ -z $body ]]
	as buyer cart_lacks "$product_id"
	as buyer api GET /api/cart
	[[ $(json_get '.info') == '[]' ]]
	((before < $(json_get .version)))
}

@test "itemRemove answers 204 and removes the line whatever its quantity" {
	seller_with_product 3.5 5
	buyer_holds "$product_id" "$category_id"
	as buyer item_add_remove "$product_id" 1
	expect_status 200

	as buyer item_remove "$product_id"
	expect_status 204
	[[ -z $body ]]
	as buyer cart_lacks "$product_id"
}

@test "a line taken out of the cart gives its holds back at once: another buyer can hold the unit" {
	seller_with_product 6 1
	local pid=$product_id cat=$category_id
	buyer_holds "$pid" "$cat"
	product_in "$cat" "$pid" | jq -e '.views == 1'
	as buyer item_remove "$pid"
	expect_status 204
	# store.cart.released: the products service releases the hold.
	wait_until "$EVENT_WAIT" product_is "$cat" "$pid" '.views == 0 and .count == 1'
	as other signup
	as other add_to_cart "$pid" "$cat"
	# Down to 0 with -1 gives the hold back too.
	wait_until "$EVENT_WAIT" as other cart_line_is "$pid" '.qty == 1'
	as other item_add_remove "$pid" -1
	expect_status 204
	wait_until "$EVENT_WAIT" product_is "$cat" "$pid" '.views == 0 and .count == 1'
}

@test "a product that is not in the cart is a 404 Not Found for itemAddRemove and itemRemove" {
	seller_with_product 1 5
	buyer_holds "$product_id" "$category_id"
	local other
	other=$(oid)
	as buyer item_add_remove "$other" 1
	expect_error 404 "Not Found"
	as buyer item_add_remove "$other" -1
	expect_error 404 "Not Found"
	as buyer item_remove "$other"
	expect_error 404 "Not Found"

	# Another user's cart line is not this user's.
	as stranger signup
	as stranger item_add_remove "$product_id" 1
	expect_error 404 "Not Found"
	as stranger item_remove "$product_id"
	expect_error 404 "Not Found"
	as buyer cart_line_is "$product_id" '.qty == 1'
}

@test "itemAddRemove and itemRemove validate their body" {
	as validator signup
	as validator item_add_remove "$(oid)" 2
	expect_error 400 "Add must be 1 or -1" add
	as validator item_add_remove "$(oid)" 0
	expect_error 400 "Add must be 1 or -1" add
	as validator item_add_remove not-an-id 1
	expect_error 400 "Invalid Product Id" id
	as validator api POST /api/cart/itemAddRemove '{"add":1}'
	expect_error 400 "Product is required" id
	as validator item_remove 0123
	expect_error 400 "Invalid Product Id" id
	as validator api POST /api/cart/itemRemove '[]'
	expect_error 400
}

@test "the cart routes need a session: 401 Not authorized" {
	API_JAR='' api GET /api/cart
	expect_error 401 "Not authorized"
	API_JAR='' item_add_remove "$(oid)" 1
	expect_error 401 "Not authorized"
	API_JAR='' item_remove "$(oid)"
	expect_error 401 "Not authorized"
}

@test "a deleted product leaves every cart that held it" {
	seller_with_product 9 5
	buyer_holds "$product_id" "$category_id"
	as seller api DELETE "/api/products/$product_id"
	expect_status 204
	wait_until "$EVENT_WAIT" as buyer cart_lacks "$product_id"
	as buyer item_remove "$product_id"
	expect_error 404 "Not Found"
}

@test "a wrong method on a cart path is a 405" {
	as methods signup
	as methods api GET /api/cart/itemAddRemove
	expect_error 405
	as methods api DELETE /api/cart
	expect_error 405
}

# --- file-wide checks: keep these last ------------------------------------------

@test "no response in this file was a 5xx" {
	if grep -E '^5[0-9][0-9] ' "$BATS_FILE_TMPDIR/api.statuses"; then
		return 1
	fi
}

@test "the store stops cleanly: no process died, none is left, no sanitizer report" {
	store_stop
}
