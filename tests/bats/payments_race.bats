#!/usr/bin/env bats
# Races on one cart against a card provider with real latency: the Stripe
# provider talks to the Stripe emulator through tests/lib/slow-stripe.js,
# which answers each request after 1.5 s (real Stripe often takes that
# long). A shopper with six tabs open, each paying with its own
# Idempotency-Key, or with four different tokens and no key, must be charged
# once: the payments service claims the cart before it calls the provider.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'
load '../lib/pay'
load '../lib/stripe'

setup_file() {
	mock_start_free || return 1
	slow_start 1500 || return 1
	export STORE_HOLD_SECONDS=900 STORE_PAYMENTS=stripe STRIPE_KEY=sk_test_store_bats \
		STRIPE_API_BASE="http://127.0.0.1:$SLOW_PORT"
	store_start auth,products,cart,payments
}

teardown_file() {
	store_stop
	slow_stop
	mock_stop
}

# tabs WHO N HEADER-OR-TOKEN...: N parallel POST /api/payments of total 3 as
# WHO, request i with the i-th argument: "key:K" sends Idempotency-Key K and
# tok_visa, "tok:T" sends token T and no key. Answers go to race.i.status and
# race.i.body in the test's folder.
tabs() {
	local who=$1 i jar
	shift
	jar="$(_jars)/$who.jar"
	local -a pids=() args
	i=0
	for a in "$@"; do
		if [[ $a == key:* ]]; then
			args=(-H "Idempotency-Key: ${a#key:}" --data-binary "$(pay_body tok_visa 3)")
		else
			args=(--data-binary "$(pay_body "${a#tok:}" 3)")
		fi
		curl -sS --max-time 60 -b "$jar" -o "$BATS_TEST_TMPDIR/race.$i.body" -w '%{http_code}' \
			-H 'Content-Type: application/json' "${args[@]}" "$STORE_URL/api/payments" \
			>"$BATS_TEST_TMPDIR/race.$i.status" &
		pids+=($!)
		i=$((i + 1))
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
}

# one_paid N: of the N answers, exactly one is 201; every other is 409 "A
# payment for this cart is already in progress" (it came while the first
# was charging) or 400 "Cart is empty" (it came after).
one_paid() {
	local i ok=0 st
	for ((i = 0; i < $1; i++)); do
		st=$(<"$BATS_TEST_TMPDIR/race.$i.status")
		case $st in
		201) ok=$((ok + 1)) ;;
		409) jq -e '.errors[0].message == "A payment for this cart is already in progress"' \
			"$BATS_TEST_TMPDIR/race.$i.body" >/dev/null ;;
		400) jq -e '.errors[0].message == "Cart is empty"' "$BATS_TEST_TMPDIR/race.$i.body" >/dev/null ;;
		*)
			echo "request $i: $st $(<"$BATS_TEST_TMPDIR/race.$i.body")" >&2
			return 1
			;;
		esac || {
			echo "request $i: $st $(<"$BATS_TEST_TMPDIR/race.$i.body")" >&2
			return 1
		}
	done
	if ((ok != 1)); then
		echo "$ok requests paid, not 1" >&2
		return 1
	fi
}

@test "six tabs, six Idempotency-Keys, a provider that takes 1.5 s: one charge, one payment with the cart's lines" {
	buyer_with_cart sixtabs 3
	wait_until "$EVENT_WAIT" as sixtabs total_refused 1
	local k="tab-$RANDOM$RANDOM"
	tabs sixtabs "key:$k-1" "key:$k-2" "key:$k-3" "key:$k-4" "key:$k-5" "key:$k-6"
	one_paid 6
	[[ $(charges "$(user_id sixtabs)") == 1 ]]
	as sixtabs api GET /api/payments
	json_get . | jq -e --arg p "$product_id" 'length == 1 and .[0].total == 3
		and (.[0].info | length == 1 and .[0].product.id == $p and .[0].qty == 1)'
	# The products service sells one unit, once.
	wait_until "$EVENT_WAIT" product_is "$category_id" "$product_id" '.count == 9 and .views == 0'
}

@test "four different tokens and no key, the same slow provider: one charge" {
	buyer_with_cart fourtokens 3
	wait_until "$EVENT_WAIT" as fourtokens total_refused 1
	tabs fourtokens tok:tok_visa tok:tok_mastercard tok:tok_amex tok:tok_visa_debit
	one_paid 4
	[[ $(charges "$(user_id fourtokens)") == 1 ]]
	as fourtokens payments_count 1
}

@test "a retry with the first tab's key while it is still charging waits and answers the same payment" {
	buyer_with_cart retrier 3
	wait_until "$EVENT_WAIT" as retrier total_refused 1
	local k="retry-$RANDOM$RANDOM"
	tabs retrier "key:$k" "key:$k" "key:$k"
	local first
	first=$(jq -r .id "$BATS_TEST_TMPDIR/race.0.body")
	for i in 0 1 2; do
		[[ $(<"$BATS_TEST_TMPDIR/race.$i.status") == 201 ]]
		jq -e --arg id "$first" '. == {id: $id}' "$BATS_TEST_TMPDIR/race.$i.body"
	done
	[[ $(charges "$(user_id retrier)") == 1 ]]
}

@test "the store stops cleanly: no process died, none is left, no sanitizer report" {
	store_stop
}
