#!/bin/sh
# charge-test-card.sh - check the card provider end to end with test cards.
#
#   examples/charge-test-card.sh [AMOUNT]
#
# Uses the provider the payments service is configured with (STORE_PAYMENTS,
# STRIPE_KEY: with a Stripe test key, real Stripe test mode; without, the
# built-in sandbox, which records its charges in STORE_DB, the payments
# database: var/db/payments.db under "make run"). Every charge gets its own
# idempotency key; a decline exits 1 with the provider's message, which
# this script expects for the declining cards.
set -eu

amount=${1:-12.50}
: "${STORE_DB:=sqlite:var/db/payments.db}"
export STORE_DB
run=$(date +%s)

charge() { # WHAT EXPECTED-EXIT ARGS...
	what=$1 want=$2
	shift 2
	if out=$(storectl card-charge --amount "$amount" --idempotency-key "example-$run-$what" "$@"); then
		got=0
	else
		got=$?
	fi
	printf '%-22s exit %s (wanted %s)  %s\n' "$what" "$got" "$want" \
		"$(printf '%s' "$out" | jq -c '{id, status, code, message}' 2>/dev/null)"
	[ "$got" = "$want" ]
}

status=0
charge visa-token 0 --token tok_visa || status=1
charge declined-token 1 --token tok_chargeDeclined || status=1
charge no-funds-token 1 --token tok_chargeDeclinedInsufficientFunds || status=1
# A card number goes through stdin, so it never shows in ps; it is never
# printed or logged, only its last four digits.
charge visa-card 0 --card - --exp 12/34 --cvc 123 <<CARD || status=1
4242 4242 4242 4242
CARD
charge expired-card 1 --card - --exp 12/34 <<CARD || status=1
4000 0000 0000 0069
CARD

# The same key again answers the first charge: nothing is charged twice.
storectl card-charge --amount "$amount" --token tok_visa \
	--idempotency-key "example-$run-visa-token" | jq -e '.replayed' >/dev/null || status=1
echo "idempotency: the first charge answered again"
exit $status
