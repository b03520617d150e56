# pay.bash - helpers for the tests of the payments and expiration services, on
# top of store.bash and shop.bash (load all three:
#   load '../lib/store'; load '../lib/shop'; load '../lib/pay').
#
# Payments are computed from the payments service's own copy of the cart
# (store.cart.changed, kept by paymentsd), which trails the cart service a
# little. Until it has the cart, POST /api/payments answers 404 (no cart
# yet), 400 "Cart is empty" or 400 "Total does not match the cart" (an older
# cart), all before anything is charged; pay polls through those answers.

# status_code and body are set by api (store.bash); EVENT_WAIT comes from
# shop.bash.
# shellcheck disable=SC2154

# The test card numbers of NOTES.md: none may ever be stored or logged.
CARD_NUMBERS=(4242424242424242 4000000000000002 4000000000009995 4000000000000069
	4000000000000119 4000000000000127)

# pay_body TOKEN [TOTAL]: a POST /api/payments body; without TOTAL, none is sent.
pay_body() {
	jq -cn --arg t "$1" --arg total "${2-}" \
		'{token: $t} + (if $total == "" then {} else {total: ($total | tonumber)} end)'
}

# _copy_behind: the last answer says the payments service does not have the
# current cart yet (nothing was charged).
_copy_behind() {
	[[ $status_code == 404 ]] && return 0
	[[ $status_code == 400 ]] || return 1
	jq -e '.errors[0].message | . == "Cart is empty" or . == "Total does not match the cart"' \
		<<<"$body" >/dev/null
}

# pay TOKEN TOTAL [CURL-ARGS...]: POST /api/payments {token, total} as the
# current user, again every 0.1 s while the payments service's copy of the
# cart is behind (at most EVENT_WAIT seconds); status_code and body are the
# first other answer's. TOTAL must be the cart's.
pay() {
	local token=$1 total=$2 end=$((SECONDS + EVENT_WAIT))
	shift 2
	while :; do
		api POST /api/payments "$(pay_body "$token" "$total")" "$@" || return 1
		_copy_behind || return 0
		if ((SECONDS >= end)); then
			echo "pay: the payments service did not get the cart of total $total within ${EVENT_WAIT}s; last answer $status_code $body" >&2
			return 1
		fi
		sleep 0.1
	done
}

# total_refused TOTAL: POST /api/payments with a TOTAL that is not the cart's
# is refused with 400 "Total does not match the cart" on field total (the
# payments service has a cart, and charges nothing); for wait_until.
total_refused() {
	api POST /api/payments "$(pay_body tok_visa "$1")" || return 1
	expect_error 400 "Total does not match the cart" total
}

# payments_count N: GET /api/payments lists N payments of the current user.
payments_count() {
	api GET /api/payments || return 1
	expect_status 200 || return 1
	if [[ $(json_get length) != "$1" ]]; then
		echo "expected $1 payments, got: $body" >&2
		return 1
	fi
}

# product_in CATEGORY PRODUCT: the product's JSON as GET /api/products/CATEGORY
# shows it.
product_in() {
	api GET "/api/products/$1" || return 1
	expect_status 200 || return 1
	jq -ce --arg p "$2" '.[] | select(.id == $p)' <<<"$body"
}

# product_is CATEGORY PRODUCT FILTER: the product as GET /api/products/CATEGORY
# shows it satisfies the jq FILTER; for wait_until.
product_is() {
	local p
	p=$(product_in "$1" "$2") || return 1
	if ! jq -e "$3" <<<"$p" >/dev/null; then
		echo "product $2 is not $3: $p" >&2
		return 1
	fi
}

# product_updates PRODUCT: the store.product.updated payloads of PRODUCT in the
# stream, oldest first, one JSON line each.
product_updates() {
	nats_tool get store.product.updated | jq -c --arg p "$1" 'select(.id == $p)'
}

# no_card_numbers_in DIR: no file under DIR holds a test card number of
# NOTES.md, as digits or in groups of four (blanks or dashes); prints the
# files that do.
no_card_numbers_in() {
	local n found="" g
	local -a patterns=()
	for n in "${CARD_NUMBERS[@]}"; do
		g="${n:0:4} ${n:4:4} ${n:8:4} ${n:12:4}"
		patterns+=(-e "$n" -e "$g" -e "${g// /-}")
	done
	found=$(grep -rlaF "${patterns[@]}" "$1" || true)
	if [[ -n $found ]]; then
		echo "card numbers found in: $found" >&2
		return 1
	fi
}

# buyer_with_cart NAME PRICE [QTY]: a seller's new product of PRICE, added QTY
# times (1) to the cart of a new user NAME, which shows it; sets product_id,
# category_id.
buyer_with_cart() {
	local who=$1 price=$2 qty=${3:-1} i
	as seller signup
	as seller make_category
	as seller make_product "$category_id" "$price" 10
	as "$who" signup
	for ((i = 0; i < qty; i++)); do
		as "$who" add_to_cart "$product_id" "$category_id"
	done
	wait_until "$EVENT_WAIT" as "$who" cart_line_is "$product_id" ".qty == $qty"
}

