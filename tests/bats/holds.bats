#!/usr/bin/env bats
# Holds and stock under an unlucky shopper: every unit in a cart is backed by
# a hold of the products service. A hold that runs out (STORE_HOLD_SECONDS,
# 3 s here, fired by expirerd from Redis) takes its unit out of the cart,
# which says so; payment pays only for units still held; and stock never
# goes below zero without the products service logging it and storectl
# health reporting it. Every wait is bounded polling (wait_until).

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'
load '../lib/pay'
load '../lib/ctl'
bats_require_minimum_version 1.5.0

setup_file() {
	# Payments may use a hold until it runs out (no margin): the expiry
	# itself, not the margin, must keep the unit from being sold twice.
	export STORE_HOLD_SECONDS=3 STORE_HOLD_MARGIN_SECONDS=0 STORE_PAYMENTS=sandbox
	store_start auth,products,cart,payments,expirerd
}

teardown_file() {
	store_stop
}

# hold_seconds N: restart store-products with holds of N seconds.
hold_seconds() {
	local env="$STORE_VAR/run/products.env"
	svc_stop products
	grep -v '^STORE_HOLD_SECONDS=' "$env" >"$env.new"
	printf 'STORE_HOLD_SECONDS=%s\n' "$1" >>"$env.new"
	mv "$env.new" "$env"
	svc_start products
}

# cart_says_expired PRODUCT QTY: the current user's cart has no line of
# PRODUCT and reports QTY of its units expired; for wait_until.
cart_says_expired() {
	cart_lacks "$1" || return 1
	jq -e --arg p "$1" --argjson q "$2" \
		'any(.expired[]; .product.id == $p and .qty == $q and (.expiredAt | test("Z$")))' \
		<<<"$body" >/dev/null || {
		echo "the cart does not say $2 of $1 expired: $body" >&2
		return 1
	}
}

# pay_refused: POST /api/payments tok_visa is refused with 400, because the
# cart is empty or its hold ran out (whichever the payments service's copy of
# the cart shows); 404 (no copy yet) fails so wait_until tries again.
pay_refused() {
	api POST /api/payments "$(pay_body tok_visa)" || return 1
	[[ $status_code == 400 ]] || {
		echo "answer $status_code $body" >&2
		return 1
	}
	jq -e '.errors[0].message | . == "Cart is empty" or test("^Your hold on .* has run out")' \
		<<<"$body" >/dev/null
}

@test "oversell through an expired hold: X's hold runs out and leaves X's cart, Y takes the unit, X cannot pay: 1 sold of 1" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 5 1 "Last lamp"
	local pid=$product_id cat=$category_id
	as x signup
	as x add_to_cart "$pid" "$cat"
	local until
	until=$(json_get .expiresAt)
	[[ $until =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]

	# The hold runs out: the unit goes back and the line leaves X's cart,
	# which says so.
	wait_until "$EVENT_WAIT" product_is "$cat" "$pid" '.views == 0 and .count == 1'
	wait_until "$EVENT_WAIT" as x cart_says_expired "$pid" 1

	# Y takes the unit, with a hold long enough to pay in any weather.
	hold_seconds 900
	as y signup
	as y add_to_cart "$pid" "$cat"
	wait_until "$EVENT_WAIT" as y cart_line_is "$pid" '.qty == 1'

	# X cannot pay for a unit nobody holds for X; Y can.
	wait_until "$EVENT_WAIT" as x pay_refused
	as x payments_count 0
	as y pay tok_visa 5
	expect_status 201
	wait_until "$EVENT_WAIT" product_is "$cat" "$pid" '.count == 0 and .views == 0'
	as x payments_count 0
	hold_seconds 3
}

@test "a unit added back after its hold ran out is a new hold, and the cart stops saying it expired" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 2 5 "Candle"
	local pid=$product_id cat=$category_id
	as back signup
	as back add_to_cart "$pid" "$cat"
	wait_until "$EVENT_WAIT" as back cart_says_expired "$pid" 1
	as back add_to_cart "$pid" "$cat"
	wait_until "$EVENT_WAIT" as back cart_line_is "$pid" '.qty == 1'
	as back api GET /api/cart
	json_get . | jq -e --arg p "$pid" '(.info | length == 1) and all(.expired[]; .product.id != $p)'

}

@test "stock below zero is never clamped: productsd logs an oversell and storectl health reports it (exit 69)" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 3 1 "Only one"
	local pid=$product_id cat=$category_id
	run_ctl health --var "$STORE_VAR"
	expect_exit 0
	ctl_expect 'select(.check == "stock") | .status == "up" and (.detail | test("none below 0"))'

	# A payment.created for 3 units of a product with 1 (as no payment of the
	# store can make: a hand-written event) is applied as it says...
	local ev
	ev=$(jq -cn --arg p "$pid" --arg u "$(user_id seller)" --arg id "$(oid)" \
		'{id: $id, userId: $u, stripeId: "ch_oversold", total: 9, info: [{productId: $p, qty: 3}]}')
	publish store.payment.created "$ev" --id "$(oid)"
	wait_until "$EVENT_WAIT" product_is "$cat" "$pid" '.count == -2'
	# ...loudly: an error in productsd's log...
	grep -q '"level":"error".*product .'"$pid"'. oversold' "$STORE_VAR/log/productsd.log"
	# ...and storectl health says which product.
	run_ctl health --var "$STORE_VAR"
	expect_exit 69
	ctl_expect --arg p "$pid" 'select(.check == "stock") | .status == "down"
		and (.detail | contains($p) and contains("oversold"))'
	# Nobody can hold a unit of it.
	as buyer signup
	as buyer api POST /api/products/addToCart "$(jq -cn --arg i "$pid" --arg c "$cat" '{id: $i, categoryId: $c}')"
	expect_error 400 "Out of stock"
}

@test "the store stops cleanly: no process died, none is left, no sanitizer report" {
	store_stop
}
