#!/usr/bin/env bats
# The payments service with STORE_PAYMENTS=stripe: charges over libcurl to a
# Stripe emulator (stripe-stateful-mock from tests/package.json, run here on a
# free port), as they would go to api.stripe.com. Successes, Stripe's declines
# and their messages, idempotency (one charge for a retried or concurrent
# request), a client total that is not the cart's, the emulator down and back.
# What was charged is read from the emulator's own API (GET /v1/charges).

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'
load '../lib/pay'
load '../lib/stripe'

setup_file() {
	mock_start_free || return 1
	# Holds outlast the file: views going down is a sale, never an expiry.
	export STORE_HOLD_SECONDS=900 STORE_PAYMENTS=stripe STRIPE_KEY=sk_test_store_bats \
		STRIPE_API_BASE="http://127.0.0.1:$MOCK_PORT"
	store_start auth,products,cart,payments
}

teardown_file() {
	store_stop
	mock_stop
}

# A test that stops the emulator starts it again; if it failed half-way, this
# puts it back for the next test.
teardown() {
	[[ ! -e $STORE_VAR/stopped ]] || return 0
	mock_up || mock_start
}

# ---------------------------------------------------------------------------------

@test "stripe: tok_visa pays; the payment carries the emulator's charge, of the cart's total" {
	buyer_with_cart buyer 12.5 2
	as buyer pay tok_visa 25
	expect_status 201
	local paid
	paid=$(json_get .id)
	as buyer api GET /api/payments
	json_get . | jq -e --arg id "$paid" 'length == 1 and .[0].id == $id and .[0].total == 25
		and .[0].status == "succeeded" and .[0].currency == "usd"'
	local charge
	charge=$(json_get '.[0].stripeId')
	# The emulator made that one charge: 2500 cents, usd, for this buyer.
	[[ $(charges "$(user_id buyer)") == 1 ]]
	curl -sf -u "$STRIPE_KEY:" "$STRIPE_API_BASE/v1/charges/$charge" |
		jq -e --arg u "$(user_id buyer)" '.amount == 2500 and .currency == "usd"
			and .status == "succeeded" and .paid == true and .metadata.userId == $u'
	wait_until "$EVENT_WAIT" product_is "$category_id" "$product_id" '.count == 8 and .views == 0'
}

@test "stripe: each decline token answers 402 with Stripe's message; nothing is paid and the cart stays" {
	buyer_with_cart decliner 10
	local -A messages=(
		[tok_chargeDeclined]="Your card was declined."
		[tok_chargeDeclinedInsufficientFunds]="Your card has insufficient funds."
		[tok_chargeDeclinedExpiredCard]="Your card has expired."
		[tok_chargeDeclinedProcessingError]="An error occurred while processing your card. Try again in a little bit."
	)
	local token n=0
	for token in "${!messages[@]}"; do
		as decliner pay "$token" 10
		expect_error 402 "${messages[$token]}" token
		[[ $(json_get '.errors | length') == 1 ]]
		n=$((n + 1))
		# Stripe records a declined charge as failed; nothing succeeded.
		[[ $(charges "$(user_id decliner)" failed) == "$n" ]]
		[[ $(charges "$(user_id decliner)" succeeded) == 0 ]]
		as decliner payments_count 0
	done
	# A retry of a decline with the same Idempotency-Key answers the same,
	# without asking Stripe again.
	as decliner pay tok_chargeDeclined 10 -H 'Idempotency-Key: decline-once'
	expect_error 402 "Your card was declined." token
	as decliner api POST /api/payments "$(pay_body tok_chargeDeclined 10)" -H 'Idempotency-Key: decline-once'
	expect_error 402 "Your card was declined." token
	[[ $(charges "$(user_id decliner)" failed) == $((n + 1)) ]]
	# The cart is kept, and pays with a good card.
	as decliner cart_line_is "$product_id" '.qty == 1'
	product_is "$category_id" "$product_id" '.count == 10 and .views == 1'
	as decliner pay tok_visa 10
	expect_status 201
	[[ $(charges "$(user_id decliner)" succeeded) == 1 ]]
	as decliner payments_count 1
}

@test "stripe: a retry with the same Idempotency-Key answers the first payment and charges once" {
	# The emulator, as Stripe, answers a key it has seen with the first charge,
	# marked idempotent-replayed (what the store's provider reads).
	local h="$BATS_TEST_TMPDIR/replay.headers" first second
	first=$(curl -sf -u "$STRIPE_KEY:" -H 'Idempotency-Key: bats-direct' "$STRIPE_API_BASE/v1/charges" \
		-d amount=100 -d currency=usd -d source=tok_visa | jq -r .id)
	second=$(curl -sf -D "$h" -u "$STRIPE_KEY:" -H 'Idempotency-Key: bats-direct' "$STRIPE_API_BASE/v1/charges" \
		-d amount=100 -d currency=usd -d source=tok_visa | jq -r .id)
	[[ $first == ch_* && $second == "$first" ]]
	grep -qix 'idempotent-replayed: true.' "$h"

	buyer_with_cart retrier 4.25
	local key="order-$RANDOM$RANDOM" paid
	as retrier pay tok_visa 4.25 -H "Idempotency-Key: $key"
	expect_status 201
	paid=$(json_get .id)
	as retrier api POST /api/payments "$(pay_body tok_visa 4.25)" -H "Idempotency-Key: $key"
	expect_status 201
	[[ $(json_get .id) == "$paid" ]]
	# The same key for another payment (another card) is refused, uncharged.
	as retrier api POST /api/payments "$(pay_body tok_mastercard 4.25)" -H "Idempotency-Key: $key"
	expect_error 400 "Idempotency-Key was already used for another payment"
	[[ $(charges "$(user_id retrier)") == 1 ]]
	as retrier payments_count 1
}

@test "stripe: a client total that differs from the cart is refused with 400; nothing is charged" {
	buyer_with_cart haggler 10
	# The answer as soon as the payments service has the cart (one line, so
	# any cart it has is this one).
	wait_until "$EVENT_WAIT" as haggler total_refused 9.99
	as haggler api POST /api/payments "$(pay_body tok_visa 10.01)"
	expect_error 400 "Total does not match the cart" total
	[[ $(charges "$(user_id haggler)") == 0 ]]
	as haggler payments_count 0
	as haggler cart_line_is "$product_id" '.qty == 1'
	# The cart's total is what gets charged.
	as haggler api POST /api/payments "$(pay_body tok_visa 10)"
	expect_status 201
	[[ $(charges "$(user_id haggler)" succeeded) == 1 ]]
	as haggler api GET /api/payments
	[[ $(json_get '.[0].total') == 10 ]]
}

@test "stripe: ten parallel POSTs with the same Idempotency-Key charge once, and all answer the same payment" {
	buyer_with_cart racer 19.99
	wait_until "$EVENT_WAIT" as racer total_refused 1
	local key="race-$RANDOM$RANDOM" i jar
	jar="$(_jars)/racer.jar"
	local -a pids=()
	for ((i = 0; i < 10; i++)); do
		curl -sS --max-time 60 -b "$jar" -o "$BATS_TEST_TMPDIR/race.$i.body" -w '%{http_code}' \
			-H 'Content-Type: application/json' -H "Idempotency-Key: $key" \
			--data-binary "$(pay_body tok_visa 19.99)" "$STORE_URL/api/payments" \
			>"$BATS_TEST_TMPDIR/race.$i.status" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	local first
	first=$(jq -r .id "$BATS_TEST_TMPDIR/race.0.body")
	[[ $first =~ ^[0-9a-f]{24}$ ]]
	for ((i = 0; i < 10; i++)); do
		[[ $(<"$BATS_TEST_TMPDIR/race.$i.status") == 201 ]] || {
			echo "request $i: $(<"$BATS_TEST_TMPDIR/race.$i.status") $(<"$BATS_TEST_TMPDIR/race.$i.body")" >&2
			return 1
		}
		jq -e --arg id "$first" '. == {id: $id}' "$BATS_TEST_TMPDIR/race.$i.body"
	done
	[[ $(charges "$(user_id racer)") == 1 ]]
	as racer payments_count 1
}

@test "stripe: the emulator down: 503, nothing recorded, the cart kept; back on its port, the same request pays" {
	buyer_with_cart patient 6.5 2
	mock_stop
	local key="patient-$RANDOM$RANDOM"
	as patient pay tok_visa 13 -H "Idempotency-Key: $key"
	expect_error 503 "The payment provider is unavailable; nothing was charged, try again"
	as patient payments_count 0
	as patient cart_line_is "$product_id" '.qty == 2'
	product_is "$category_id" "$product_id" '.count == 10 and .views == 2'

	mock_start
	as patient api POST /api/payments "$(pay_body tok_visa 13)" -H "Idempotency-Key: $key"
	expect_status 201
	[[ $(charges "$(user_id patient)" succeeded) == 1 ]]
	as patient api GET /api/payments
	[[ $(json_get length) == 1 && $(json_get '.[0].total') == 13 ]]
	wait_until "$EVENT_WAIT" product_is "$category_id" "$product_id" '.count == 8 and .views == 0'
}

@test "stripe: after the file: no card number in any log or database of the store" {
	as late signup
	as late api POST /api/payments '{"token":"4242424242424242","card":{"number":"4000000000000127","cvc":"123"}}'
	expect_error 400 "Token must be a card token, not a card number" token
	run no_card_numbers_in "$BATS_TEST_TMPDIR"
	[[ $status == 1 ]]
	store_stop
	[[ -s $STORE_VAR/db/payments.db && -s $STORE_VAR/log/payments.log ]]
	no_card_numbers_in "$STORE_VAR"
}
