#!/usr/bin/env bats
# The payments service (API.md, "Payments service") with the built-in sandbox
# provider, over HTTP through nginx, with the products and cart services, their
# daemons, paymentsd and a real nats-server: a buyer pays for the cart, and the
# cart and the products follow from store.payment.created. The Stripe provider
# against a Stripe emulator is payments_stripe.bats.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'
load '../lib/pay'

setup_file() {
	# Holds outlast the file (15 minutes): a product's views going down here
	# is a sale, never an expiry. The sandbox whatever the environment says.
	export STORE_HOLD_SECONDS=900 STORE_PAYMENTS=sandbox
	store_start auth,products,cart,payments
}

teardown_file() {
	store_stop
}

# cart_empty: GET /api/cart shows a cart with no line; for wait_until.
cart_empty() {
	api GET /api/cart || return 1
	expect_status 200 || return 1
	json_get . | jq -e '.info == []' >/dev/null
}

@test "journey: a buyer pays for the cart with tok_visa; the payment is listed, the cart emptied, the stock sold" {
	as seller signup
	as seller make_category
	local cat=$category_id
	as seller make_product "$cat" 12.5 5 "Book"
	local book=$product_id
	as seller make_product "$cat" 3.99 3 "Pen"
	local pen=$product_id

	as buyer signup
	as buyer add_to_cart "$book" "$cat"
	as buyer add_to_cart "$book" "$cat"
	as buyer add_to_cart "$pen" "$cat"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$book" '.qty == 2'
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$pen" '.qty == 1'
	# Three holds: views counts them, the stock is untouched.
	product_is "$cat" "$book" '.views == 2 and .count == 5 and .version == 2'
	product_is "$cat" "$pen" '.views == 1 and .count == 3 and .version == 1'

	# 2 x 12.50 + 3.99
	as buyer pay tok_visa 28.99
	expect_status 201
	json_get . | jq -e 'keys == ["id"] and (.id | test("^[0-9a-f]{24}$"))'
	local paid
	paid=$(json_get .id)

	as buyer api GET /api/payments
	expect_status 200
	json_get . | jq -e --arg id "$paid" --arg b "$(user_id buyer)" --arg book "$book" --arg pen "$pen" '
		length == 1 and (.[0] | .id == $id and .userId == $b and .total == 28.99
		and .currency == "usd" and .status == "succeeded" and (.stripeId | test("^ch_"))
		and (.createdAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))
		and (keys == ["createdAt", "currency", "id", "info", "status", "stripeId", "total", "userId"])
		and (.info | length == 2
			and any(.[]; .product.id == $book and .product.price == 12.5 and .qty == 2)
			and any(.[]; .product.id == $pen and .product.price == 3.99 and .qty == 1)))'
	# Nobody else sees it; nobody signed out sees anything.
	as other signup
	as other payments_count 0
	API_JAR='' api GET /api/payments
	expect_error 401 "Not authorized"

	# The cart service empties the cart.
	wait_until "$EVENT_WAIT" as buyer cart_empty
	# The products service: the stock goes down by the quantities, and the
	# buyer's holds are released as sold, in one change of each product.
	wait_until "$EVENT_WAIT" product_is "$cat" "$book" '.count == 3 and .views == 0'
	wait_until "$EVENT_WAIT" product_is "$cat" "$pen" '.count == 2 and .views == 0'
	product_is "$cat" "$book" '.version == 3'
	product_is "$cat" "$pen" '.version == 2'
	product_updates "$book" | jq -se 'map(select(.version == 3)) | length == 1 and .[0].count == 3 and .[0].views == 0'
	product_updates "$pen" | jq -se 'map(select(.version == 2)) | length == 1 and .[0].count == 2 and .[0].views == 0'
	# One payment.created, with the computed total and the lines.
	nats_tool get store.payment.created | jq -se --arg id "$paid" --arg book "$book" '
		map(select(.id == $id)) | length == 1 and .[0].total == 28.99
		and (.[0].info | length == 2 and any(.[]; .productId == $book and .qty == 2))'
	# What was sold is sold: the holds are gone, the stock left can be held.
	as buyer add_to_cart "$pen" "$cat"
	product_is "$cat" "$pen" '.views == 1 and .count == 2'
}

@test "a card number sent where the token belongs is refused with 400 and goes nowhere" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 7 2
	as carder signup
	as carder add_to_cart "$product_id" "$category_id"
	local number
	for number in 4242424242424242 "4000 0000 0000 0002" 4000-0000-0000-9995; do
		as carder api POST /api/payments "$(pay_body "$number" 7)"
		expect_error 400 "Token must be a card token, not a card number" token
		[[ $body != *"${number:0:4}"* ]]
	done
	as carder payments_count 0
	wait_until "$EVENT_WAIT" as carder cart_line_is "$product_id" '.qty == 1'
}

@test "a total with more than two decimals is a 400 on total, never rounded to the cart's and charged" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 7 2
	as rounder signup
	as rounder add_to_cart "$product_id" "$category_id"
	wait_until "$EVENT_WAIT" as rounder cart_line_is "$product_id" '.qty == 1'
	local total
	for total in 7.001 6.999 0.001 12.345; do
		as rounder api POST /api/payments "{\"token\":\"tok_visa\",\"total\":$total}"
		expect_error 400 "Total must have at most two decimals" total || { echo "total $total" >&2; return 1; }
	done
	for total in -7 0 1000001 '"7"'; do
		as rounder api POST /api/payments "{\"token\":\"tok_visa\",\"total\":$total}"
		expect_error 400 "Total must be a positive amount with at most two decimals" total ||
			{ echo "total $total" >&2; return 1; }
	done
	as rounder payments_count 0
	as rounder pay tok_visa 7.00
	expect_status 201
}

@test "after the file: no card number in any log or database of the store" {
	# One more, in the token and in a field the service does not know.
	as late signup
	as late api POST /api/payments '{"token":"4000000000000069","card":{"number":"4000000000000119","cvc":"123"}}'
	expect_error 400 "Token must be a card token, not a card number" token
	# The check finds what the test itself sent (its own request file)...
	run no_card_numbers_in "$BATS_TEST_TMPDIR"
	[[ $status == 1 ]]
	# ...and nothing in the store's folder once every process has stopped:
	# logs, databases (and their journals), nginx's logs, the launcher's files.
	store_stop
	[[ -s $STORE_VAR/db/payments.db && -s $STORE_VAR/log/nginx-access.log ]]
	no_card_numbers_in "$STORE_VAR"
}
