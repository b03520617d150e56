#!/usr/bin/env bats
# The web front (store-web) over HTTP through nginx: escaping of everything
# from data, CSRF tokens on every form post, sign-in redirects, form
# re-rendering with the API's messages, picture uploads, static files.
# The browser journey is tests/bats/web.bats.

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

XSS='<script>alert(1)</script>'
XSS_ESCAPED='&lt;script&gt;alert(1)&lt;/script&gt;'
# Breaks out of a quoted attribute when not escaped.
ATTR='"><img src=x onerror=alert(2)>'
ATTR_ESCAPED='&quot;&gt;&lt;img src=x onerror=alert(2)&gt;'

# page METHOD PATH [CURL-ARGS...]: one request to the web front with the
# current jar (as NAME page ...), no body unless given as curl arguments.
page() {
	local method=$1 path=$2
	shift 2
	api "$method" "$path" "" "$@"
}

# fetch_token PATH: GET PATH (expect 200) and set token to its forms' CSRF token.
fetch_token() {
	page GET "$1" || return 1
	expect_status 200 || return 1
	token=$(grep -o 'name="_csrf" value="[0-9a-f]*"' <<<"$body" | head -n 1 |
		sed 's/.*value="\([0-9a-f]*\)"/\1/')
	if [[ ${#token} != 64 ]]; then
		echo "no CSRF token in the page $1: $body" >&2
		return 1
	fi
}

# expect_html: the last answer is an HTML page.
expect_html() {
	[[ $(header Content-Type) == text/html* ]] || {
		echo "not HTML: $(header Content-Type)" >&2
		return 1
	}
}

# expect_redirect LOCATION: 303 to LOCATION (a regex, anchored).
expect_redirect() {
	expect_status 303 || return 1
	if ! [[ $(header Location) =~ ^$1$ ]]; then
		echo "redirected to '$(header Location)', not '$1'" >&2
		return 1
	fi
}

# expect_escaped: the last page shows the hostile names only escaped, and
# holds no script element at all (the sandbox's pages have none).
expect_escaped() {
	expect_status 200 || return 1
	expect_html || return 1
	if [[ $body == *"$XSS"* || $body == *"$ATTR"* ]]; then
		echo "unescaped data in the page: $body" >&2
		return 1
	fi
	# The store's own scripts (hold countdowns) are served from /static.
	if grep -i '<script' <<<"$body" | grep -vqE '^<script src="/static/[a-z]+\.js\?v=[0-9a-f]+"></script>$'; then
		echo "a script element in the page: $body" >&2
		return 1
	fi
	[[ $body == *"$XSS_ESCAPED"* ]] || {
		echo "the escaped name is not in the page: $body" >&2
		return 1
	}
}

# pay_via_api: POST /api/payments with tok_visa, 201 (for wait_until: the
# payments service's copy of the cart follows events).
pay_via_api() {
	api POST /api/payments '{"token":"tok_visa"}'
	expect_status 201
}

# --- escaping -----------------------------------------------------------------------

@test "every page escapes a product named <script>alert(1)</script>" {
	as seller signup
	as seller make_category "$XSS"
	local cat=$category_id
	as seller api POST /api/products "$(jq -cn --arg c "$cat" --arg n "$XSS" --arg d "$ATTR" \
		'{name: $n, description: $d, price: 3.5, count: 4,
		  picture: "https://img.example.com/x.png?a='"'"'onerror=alert(3)", categoryId: $c}')"
	expect_status 201
	local pid
	pid=$(json_get .id)

	# Signed out, and the seller's own pages (forms with values in attributes).
	as visitor page GET /
	expect_escaped
	as visitor page GET "/categories/$cat"
	expect_escaped
	[[ $body == *"$ATTR_ESCAPED"* ]]
	[[ $body == *"src=\"https://img.example.com/x.png?a=&#39;onerror=alert(3)\""* ]]
	for path in / "/categories/$cat" "/categories/$cat/edit" "/products/new?category=$cat" \
		"/products/$pid/edit?category=$cat"; do
		as seller page GET "$path"
		expect_escaped
	done
	[[ $body == *"value=\"$XSS_ESCAPED\""* ]]
	[[ $body == *"$ATTR_ESCAPED</textarea>"* ]]

	# The buyer's cart and, once paid, orders.
	as buyer signup
	as buyer add_to_cart "$pid" "$cat"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$pid" '.qty == 1'
	as buyer page GET /cart
	expect_escaped
	wait_until "$EVENT_WAIT" as buyer pay_via_api
	as buyer page GET /orders
	expect_escaped

	# A form rendered again shows the posted value and the API's message escaped.
	as seller fetch_token /categories/new
	as seller page POST /categories --data-urlencode "_csrf=$token" \
		--data-urlencode "name=$XSS" --data-urlencode "description=$ATTR"
	expect_status 400
	expect_html
	[[ $body != *"$XSS"* && $body != *"$ATTR"* ]]
	[[ $body == *"Category &#39;$XSS_ESCAPED&#39; already exists."* ]]
}

@test "pages send a content security policy and never cache" {
	as visitor page GET /
	expect_status 200
	[[ $(header Content-Security-Policy) == *"script-src 'self' https://js.stripe.com"* ]]
	[[ $(header Content-Security-Policy) == *"frame-ancestors 'none'"* ]]
	[[ $(header Cache-Control) == no-store ]]
	[[ $(header X-Content-Type-Options) == nosniff ]]
}

# --- CSRF -----------------------------------------------------------------------------

@test "every page hands out a csrf cookie once, HttpOnly and SameSite=Lax" {
	as fresh page GET /signin
	expect_status 200
	[[ $(header Set-Cookie) =~ ^csrf=[0-9a-f]{32}\;\ Path=/\;\ HttpOnly\;\ SameSite=Lax$ ]]
	as fresh page GET /signup
	expect_status 200
	[[ -z $(header Set-Cookie) ]]
}

@test "a form post without the CSRF token is refused" {
	as seller signup
	local name
	name=$(unique NoToken)
	as seller fetch_token /categories/new
	as seller page POST /categories --data-urlencode "name=$name" --data-urlencode "description=d"
	expect_status 403
	expect_html
	[[ $body == *"Form refused"* ]]
	# An empty or made-up token is no better.
	as seller page POST /categories --data-urlencode "_csrf=" --data-urlencode "name=$name" \
		--data-urlencode "description=d"
	expect_status 403
	as seller page POST /categories --data-urlencode "_csrf=$(printf '%064d' 0)" \
		--data-urlencode "name=$name" --data-urlencode "description=d"
	expect_status 403
	api GET /api/categories
	json_get . | jq -e --arg n "$name" 'all(.[]; .name != $n)'

	# With its token, the same form goes through (post/redirect/get).
	as seller page POST /categories --data-urlencode "_csrf=$token" \
		--data-urlencode "name=$name" --data-urlencode "description=d"
	expect_redirect '/categories/[0-9a-f]{24}'
	api GET /api/categories
	json_get . | jq -e --arg n "$name" 'any(.[]; .name == $n)'
}

@test "a token from another browser, or without its cookie, is refused" {
	as seller signup
	as seller fetch_token /categories/new
	local theirs=$token
	# Another browser with the same session but its own csrf cookie.
	cp "$(_jars)/seller.jar" "$(_jars)/twin.jar"
	sed -i '/\tcsrf\t/d' "$(_jars)/twin.jar"
	as twin fetch_token /categories/new
	[[ $token != "$theirs" ]]
	as twin page POST /categories --data-urlencode "_csrf=$theirs" \
		--data-urlencode "name=$(unique Twin)" --data-urlencode "description=d"
	expect_status 403
	# No csrf cookie at all.
	sed -i '/\tcsrf\t/d' "$(_jars)/twin.jar"
	as twin page POST /categories --data-urlencode "_csrf=$token" \
		--data-urlencode "name=$(unique Twin)" --data-urlencode "description=d"
	expect_status 403
	# A token made while signed out is not one of the signed-in user.
	as other fetch_token /signin
	local signed_out=$token
	as other signup
	as other page POST /categories --data-urlencode "_csrf=$signed_out" \
		--data-urlencode "name=$(unique Other)" --data-urlencode "description=d"
	expect_status 403
}

@test "sign out without the token is refused and leaves the session" {
	as seller signup
	as seller page GET /
	as seller page POST /signout
	expect_status 403
	as seller api GET /api/users/currentuser
	[[ $(json_get .currentUser.email) == "$(user_email seller)" ]]
	as seller fetch_token /
	as seller page POST /signout --data-urlencode "_csrf=$token"
	expect_redirect /
	as seller api GET /api/users/currentuser
	[[ $(json_get .currentUser) == null ]]
}

@test "a cross-site post is refused even with a token" {
	as seller signup
	as seller fetch_token /categories/new
	as seller page POST /categories -H 'Origin: https://evil.example' \
		--data-urlencode "_csrf=$token" --data-urlencode "name=$(unique Evil)" \
		--data-urlencode "description=d"
	expect_status 403
}

# --- signed-in pages ---------------------------------------------------------------------

@test "pages for signed-in users redirect to sign in when signed out" {
	local path
	for path in /cart /orders /categories/new /products/new; do
		as nobody page GET "$path"
		expect_redirect "/signin\\?next=${path//\//%2F}|/signin\\?next=$path"
	done
	as nobody page GET "/categories/$(oid)/edit"
	expect_redirect '/signin\?next=/categories/[0-9a-f]{24}/edit'
	# Posts too.
	as nobody fetch_token /signin
	for path in /cart/add /pay /categories "/products/$(oid)/delete" "/cart/$(oid)/inc"; do
		as nobody page POST "$path" --data-urlencode "_csrf=$token"
		expect_redirect /signin
	done
}

@test "signing in from the redirect goes back to the page asked for" {
	as someone signup
	local email
	email=$(user_email someone)
	as someone fetch_token /
	as someone page POST /signout --data-urlencode "_csrf=$token"
	as someone page GET /orders
	expect_redirect '/signin\?next=/orders'
	as someone fetch_token '/signin?next=/orders'
	[[ $body == *'name="next" value="/orders"'* ]]
	as someone page POST /signin --data-urlencode "_csrf=$token" --data-urlencode "next=/orders" \
		--data-urlencode "email=$email" --data-urlencode "password=$STORE_TEST_PASSWORD"
	expect_redirect /orders
	[[ $(header Set-Cookie) == session=* ]]
	# Never somewhere else.
	as someone fetch_token /
	as someone page POST /signout --data-urlencode "_csrf=$token"
	as someone fetch_token /signin
	as someone page POST /signin --data-urlencode "_csrf=$token" \
		--data-urlencode "next=//evil.example/x" \
		--data-urlencode "email=$email" --data-urlencode "password=$STORE_TEST_PASSWORD"
	expect_redirect /
}

# --- forms and the API's messages -----------------------------------------------------------

@test "sign up and sign in show the API's messages next to the fields" {
	as first signup
	as second fetch_token /signup
	as second page POST /signup --data-urlencode "_csrf=$token" \
		--data-urlencode "email=$(user_email first)" --data-urlencode "password=Pw_other1"
	expect_status 400
	expect_html
	[[ $body == *'<p class="error" id="e-email">Email in use</p>'* ]]
	[[ $body == *"value=\"$(user_email first)\""* ]]
	[[ $body != *Pw_other1* ]]
	as second page POST /signup --data-urlencode "_csrf=$token" \
		--data-urlencode "email=second-$RANDOM@example.com" --data-urlencode "password=ab"
	expect_status 400
	[[ $body == *'id="e-password">Password must be between 4 and 20 characters</p>'* ]]
	as second page POST /signin --data-urlencode "_csrf=$token" \
		--data-urlencode "email=$(user_email first)" --data-urlencode "password=Pw_wrong1"
	expect_status 400
	[[ $body == *'<div class="alert" role="alert"><p>Invalid credentials</p></div>'* ]]
}

# --- owners' pages ------------------------------------------------------------------------

@test "an owner edits and deletes a category and a product; nobody else can" {
	as seller signup
	as seller make_category "$(unique Lamps)"
	local cat=$category_id name
	as seller make_product "$cat" 12.5 3 "Desk lamp"
	local pid=$product_id
	name=$(unique Lights)

	as seller fetch_token "/categories/$cat/edit"
	[[ $body == *'name="name" type="text" value="Lamps '* ]]
	as seller page POST "/categories/$cat" --data-urlencode "_csrf=$token" \
		--data-urlencode "name=$name" --data-urlencode "description=Bright"
	expect_redirect "/categories/$cat\\?done=saved"
	api GET /api/categories
	json_get . | jq -e --arg i "$cat" --arg n "$name" 'any(.[]; .id == $i and .name == $n)'

	# Another user: no edit page, and the API's 403 on a post.
	as stranger signup
	as stranger page GET "/categories/$cat/edit"
	expect_status 403
	expect_html
	as stranger fetch_token /categories/new
	as stranger page POST "/categories/$cat" --data-urlencode "_csrf=$token" \
		--data-urlencode "name=Mine" --data-urlencode "description=Mine"
	expect_status 403
	as stranger page GET "/products/$pid/edit?category=$cat"
	expect_status 404

	# A category with a product stays, saying why, on its own page.
	as seller fetch_token "/categories/$cat"
	as seller page POST "/categories/$cat/delete" --data-urlencode "_csrf=$token"
	expect_status 400
	[[ $body == *"You cannot delete category &#39;$name&#39;. There is a product attached to this category."* ]]
	[[ $body == *"data-product=\"$pid\""* ]]

	# The product: its form holds its values; saved without a new picture, it keeps its own.
	as seller fetch_token "/products/$pid/edit?category=$cat"
	[[ $body == *'name="price" type="text" value="12.50"'* && $body == *'name="count" type="number" value="3"'* ]]
	as seller page POST "/products/$pid" -F "_csrf=$token" -F "name=Desk lamp II" \
		-F "description=Warmer" -F "price=7.25" -F "count=4" -F "categoryId=$cat" -F "pictureUrl="
	expect_redirect "/categories/$cat\\?done=saved"
	api GET "/api/products/$cat"
	json_get '.[0]' | jq -e '.name == "Desk lamp II" and .price == 7.25 and .count == 4
		and .picture == "https://img.example.com/widget.png"'
	as seller page POST "/products/$pid/delete" --data-urlencode "_csrf=$token" \
		--data-urlencode "categoryId=$cat"
	expect_redirect "/categories/$cat\\?done=deleted"
	api GET "/api/products/$cat"
	[[ $(json_get length) == 0 ]]
	as seller page POST "/categories/$cat/delete" --data-urlencode "_csrf=$token"
	expect_redirect '/\?done=deleted'
}

# --- the cart -------------------------------------------------------------------------------

@test "the cart: minus to zero and remove take lines out; a stale total is refused and shown" {
	as seller signup
	as seller make_category
	local cat=$category_id
	as seller make_product "$cat" 3 5 "Pencil"
	local pencil=$product_id
	as seller make_product "$cat" 2 5 "Eraser"
	local eraser=$product_id
	as buyer signup
	as buyer add_to_cart "$pencil" "$cat"
	as buyer add_to_cart "$eraser" "$cat"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$eraser" '.qty == 1'
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$pencil" '.qty == 1'

	as buyer fetch_token /cart
	[[ $body == *'<span id="cart-total">$5.00</span>'* ]]
	[[ $body == *'name="total" value="5.00"'* ]]
	as buyer pay_page_refused 0.01 400 "Total does not match the cart" "$pencil"

	as buyer page POST "/cart/$pencil/dec" --data-urlencode "_csrf=$token"
	expect_redirect /cart
	as buyer cart_lacks "$pencil"
	as buyer page POST "/cart/$eraser/remove" --data-urlencode "_csrf=$token"
	expect_redirect /cart
	as buyer cart_lacks "$eraser"
	as buyer page GET /cart
	[[ $body == *'id="cart-empty"'* ]]
	# A second click on a line already gone lands on the cart, not an error.
	as buyer page POST "/cart/$eraser/remove" --data-urlencode "_csrf=$token"
	expect_redirect /cart
}

# pay_page_refused TOTAL STATUS MESSAGE PRODUCT: POST /pay with tok_visa and
# TOTAL answers STATUS with the cart page again (its line of PRODUCT) and
# MESSAGE as its alert, and the user has no payment.
pay_page_refused() {
	page POST "/pay" --data-urlencode "_csrf=$token" --data-urlencode "token=tok_visa" \
		--data-urlencode "total=$1" || return 1
	expect_status "$2" || return 1
	expect_html || return 1
	if [[ $body != *"<div class=\"alert\" role=\"alert\"><p>$3</p></div>"* ||
		$body != *"data-product=\"$4\""* ]]; then
		echo "no alert '$3' or no line of $4 in the page: $body" >&2
		return 1
	fi
	api GET /api/payments || return 1
	expect_status 200 || return 1
	[[ $(json_get length) == 0 ]]
}

# paid_through_the_page TOTAL: POST /pay with tok_visa and TOTAL lands on the
# orders page (for wait_until: the payments service's copy of the cart may
# still be on its way).
paid_through_the_page() {
	page POST "/pay" --data-urlencode "_csrf=$token" --data-urlencode "token=tok_visa" \
		--data-urlencode "total=$1" || return 1
	expect_redirect '/orders\?done=paid'
}

@test "paying before the payments service has the cart says so and charges nothing; once it has, paying works" {
	as seller signup
	as seller make_category
	local cat=$category_id
	as seller make_product "$cat" 4 5 "Stapler"
	local stapler=$product_id
	# paymentsd makes the payments service's copy of each cart (cart.changed).
	svc_stop paymentsd
	as buyer signup
	as buyer add_to_cart "$stapler" "$cat"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$stapler" '.qty == 1'

	# The cart page shows the cart, the payments service has none (its API
	# answers 404): after its retries the page says what happened.
	as buyer fetch_token /cart
	[[ $body == *'name="total" value="4.00"'* ]]
	as buyer pay_page_refused 4.00 409 \
		"Your cart is still on its way to payments and nothing was charged: try again in a moment." \
		"$stapler"

	svc_start paymentsd
	wait_until "$EVENT_WAIT" as buyer paid_through_the_page 4.00
	as buyer api GET /api/payments
	[[ $(json_get 'length') == 1 && $(json_get '.[0].total') == 4 ]]
}

@test "the cart says until when each line is held (no JavaScript needed), counts down with hold.js, and says when a hold ran out" {
	as seller signup
	as seller make_category
	local cat=$category_id
	as seller make_product "$cat" 4 5 "Lantern"
	local lantern=$product_id
	as holder signup
	as holder add_to_cart "$lantern" "$cat"
	local sel until
	sel=$(json_get .selectionId)
	until=$(json_get .expiresAt)
	wait_until "$EVENT_WAIT" as holder cart_line_is "$lantern" '.qty == 1'
	as holder page GET /cart
	expect_status 200
	[[ $body == *"Held for you until <time datetime=\"$until\" data-hold-until>${until:11:8} UTC</time>"* ]]
	# The line links to the product's page.
	[[ $body == *"<td class=\"name\"><a href=\"/products/$lantern\">Lantern</a></td>"* ]]
	[[ $body =~ \<script\ src=\"(/static/hold\.js\?v=[0-9a-f]+)\"\>\</script\> ]]
	local js=${BASH_REMATCH[1]}
	page GET "$js"
	expect_status 200
	[[ $(header Content-Type) == text/javascript* && $body == *'data-hold-until'* ]]

	# The hold runs out (its expiration event, as expirerd sends it): the
	# line leaves the cart, and the cart page says so, by name, escaped.
	publish store.expiration.complete "$(jq -cn --arg p "$lantern" --arg s "$sel" --arg c "$cat" \
		'{productId: $p, selectionId: $s, categoryId: $c, views: 0}')" --id "$(oid)"
	wait_until "$EVENT_WAIT" as holder cart_lacks "$lantern"
	as holder page GET /cart
	[[ $body == *'<p class="alert expired" role="status">Your hold on Lantern ran out at '*' UTC, so it left your cart.'* ]]
	[[ $body == *'id="cart-empty"'* ]]
}

@test "plus on a line holds one more unit (addToCart) and the cart waits for it" {
	as seller signup
	as seller make_category
	local cat=$category_id
	as seller make_product "$cat" 1.5 3 "Marble"
	local marble=$product_id
	as plus signup
	as plus add_to_cart "$marble" "$cat"
	wait_until "$EVENT_WAIT" as plus cart_line_is "$marble" '.qty == 1'
	as plus fetch_token /cart
	as plus page POST "/cart/$marble/inc" --data-urlencode "_csrf=$token"
	expect_redirect "/cart\?added=$marble&qty=2"
	wait_until "$EVENT_WAIT" as plus cart_line_is "$marble" '.qty == 2 and (.holds | length == 2)'
	product_in "$cat" "$marble" | jq -e '.views == 2'
}

@test "after adding, the cart page refreshes itself a bounded number of times until the product shows" {
	as waiting signup
	local id
	id=$(oid)
	as waiting page GET "/cart?added=$id"
	expect_status 200
	[[ $body == *"<meta http-equiv=\"refresh\" content=\"1; url=/cart?added=$id&amp;try=1\">"* ]]
	[[ $body == *'id="adding"'* ]]
	as waiting page GET "/cart?added=$id&try=14"
	[[ $body == *"url=/cart?added=$id&amp;try=15\""* ]]
	as waiting page GET "/cart?added=$id&try=15"
	[[ $body != *'http-equiv="refresh"'* && $body == *"taking longer than usual"* ]]
	# Only an id is taken from the URL.
	as waiting page GET '/cart?added=%3Cscript%3E&try=0'
	[[ $body != *'http-equiv="refresh"'* && $body != *'<script'* ]]
}

# --- pictures ------------------------------------------------------------------------------

@test "a picture uploaded from the computer becomes the product's picture" {
	as seller signup
	as seller make_category
	local cat=$category_id gif="$BATS_TEST_TMPDIR/dot.gif"
	printf 'GIF89a\001\000\001\000\200\000\000\377\377\377\000\000\000!\371\004\001\000\000\000\000,\000\000\000\000\001\000\001\000\000\002\002D\001\000;' >"$gif"
	as seller fetch_token "/products/new?category=$cat"
	[[ $body == *"<option value=\"$cat\" selected>"* ]]
	as seller page POST /products -F "_csrf=$token" -F "name=Dot" -F "description=One dot" \
		-F "price=2.50" -F "count=3" -F "categoryId=$cat" -F "pictureUrl=" \
		-F "picture=@$gif;type=application/octet-stream;filename=dot.gif"
	expect_redirect "/categories/$cat"
	api GET "/api/products/$cat"
	[[ $(json_get '.[0].name') == Dot && $(json_get '.[0].price') == 2.5 && $(json_get '.[0].count') == 3 ]]
	local url
	url=$(json_get '.[0].picture')
	api GET "${url#"$STORE_URL"}"
	expect_status 200
	[[ $(header Content-Type) == image/gif ]]
	cmp -s "$BATS_TEST_TMPDIR/api.body" "$gif"
}

@test "an upload that is not a picture, or over 2 MiB, is shown as the field's error" {
	as seller signup
	as seller make_category
	local cat=$category_id txt="$BATS_TEST_TMPDIR/notes.png" big="$BATS_TEST_TMPDIR/big.png"
	printf 'just text, named .png\n' >"$txt"
	{ printf '\211PNG\r\n\032\n'; head -c $((2 * 1024 * 1024 - 7)) /dev/zero; } >"$big"
	as seller fetch_token "/products/new?category=$cat"
	as seller page POST /products -F "_csrf=$token" -F "name=Kept name" -F "description=d" \
		-F "price=1" -F "count=1" -F "categoryId=$cat" -F "picture=@$txt;type=image/png"
	expect_status 400
	expect_html
	[[ $body == *'id="e-picture">Picture must be a png, jpeg, gif or webp image</p>'* ]]
	[[ $body == *'value="Kept name"'* ]]
	as seller page POST /products -F "_csrf=$token" -F "name=Big" -F "description=d" \
		-F "price=1" -F "count=1" -F "categoryId=$cat" -F "picture=@$big;type=image/png"
	expect_status 400
	[[ $body == *'id="e-picture">Picture must be at most 2 MiB</p>'* ]]
	# No picture at all: the API's own message.
	as seller page POST /products -F "_csrf=$token" -F "name=None" -F "description=d" \
		-F "price=1" -F "count=1" -F "categoryId=$cat"
	expect_status 400
	[[ $body == *'id="e-picture">Picture is required</p>'* ]]
	api GET "/api/products/$cat"
	[[ $(json_get 'length') == 0 ]]
}

# --- the rest --------------------------------------------------------------------------------

@test "the stylesheet is served from the binary with long cache headers" {
	as visitor page GET /
	local href
	href=$(grep -o 'href="/static/store.css?v=[0-9a-f]*"' <<<"$body" | sed 's/href="\(.*\)"/\1/')
	[[ -n $href ]]
	page GET "$href"
	expect_status 200
	[[ $(header Content-Type) == text/css* ]]
	[[ $(header Cache-Control) == *immutable* && $(header Cache-Control) == *max-age=31536000* ]]
	[[ $body == *"@media (max-width:600px)"* ]]
}

@test "unknown pages are HTML 404s; unknown API paths stay JSON" {
	as visitor page GET /no/such/page
	expect_status 404
	expect_html
	page GET "/categories/$(oid)"
	expect_status 404
	expect_html
	api GET /api/no-such-thing
	expect_error 404
}

@test "with a Stripe publishable key, the pay form is Stripe's card element" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 4 2 "Card widget"
	local pid=$product_id cat=$category_id
	as buyer signup
	as buyer add_to_cart "$pid" "$cat"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$pid" '.qty == 1'

	svc_stop web
	printf 'STRIPE_PUBLISHABLE_KEY=pk_test_%s\n' 51Abc >>"$STORE_VAR/run/web.env"
	svc_start web
	as buyer page GET /cart
	expect_status 200
	[[ $body == *'<form method="post" action="/pay" id="pay-form" data-stripe-key="pk_test_51Abc">'* ]]
	[[ $body == *'<div id="card-element"></div>'* ]]
	[[ $body == *'<input type="hidden" name="token" value="">'* ]]
	[[ $body == *'<script src="https://js.stripe.com/v3/"></script>'* ]]
	[[ $body != *tok_chargeDeclined* ]]
	local js
	js=$(grep -o 'src="/static/pay.js?v=[0-9a-f]*"' <<<"$body" | sed 's/src="\(.*\)"/\1/')
	[[ -n $js ]]
	page GET "$js"
	expect_status 200
	[[ $(header Content-Type) == text/javascript* ]]
	[[ $body == *"stripe.createToken(card)"* ]]

	# Back to the sandbox's test cards.
	svc_stop web
	sed -i '/^STRIPE_PUBLISHABLE_KEY=/d' "$STORE_VAR/run/web.env"
	svc_start web
	as buyer page GET /cart
	[[ $body == *'value="tok_chargeDeclinedExpiredCard"'* && $body != *js.stripe.com* ]]
}

# --- file-wide checks: keep these last ------------------------------------------

@test "a product's page shows it escaped, with Open Graph tags for a link preview" {
	as seller signup
	as seller make_category
	local cat=$category_id
	as seller api POST /api/products "$(jq -cn --arg c "$cat" --arg n "$XSS" --arg d "$ATTR" \
		'{name: $n, description: $d, price: 7.25, count: 3,
		  picture: "https://img.example.com/og.png?a='"'"'x", categoryId: $c}')"
	expect_status 201
	local pid
	pid=$(json_get .id)
	as buyer signup
	as buyer add_to_cart "$pid" "$cat"

	as visitor page GET "/products/$pid"
	expect_escaped
	[[ $body == *"data-product=\"$pid\""* ]]
	[[ $body == *'$7.25'* ]]
	[[ $body == *'<span class="left">2</span> left'* ]]
	[[ $body == *'<meta property="og:type" content="product">'* ]]
	[[ $body == *"<meta property=\"og:title\" content=\"$XSS_ESCAPED\">"* ]]
	[[ $body == *"<meta property=\"og:description\" content=\"$ATTR_ESCAPED\">"* ]]
	[[ $body == *'<meta property="og:image" content="https://img.example.com/og.png?a=&#39;x">'* ]]
	[[ $body == *"<meta property=\"og:url\" content=\"$STORE_URL/products/$pid\">"* ]]
	[[ $body == *"/signin?next=/products/$pid"* ]]
	# Signed in: an add-to-cart form with its CSRF token.
	as buyer page GET "/products/$pid"
	expect_escaped
	grep -q 'action="/cart/add"' <<<"$body"
	grep -q 'name="_csrf" value="[0-9a-f]\{64\}"' <<<"$body"
	# The category's cards link to the page.
	as visitor page GET "/categories/$cat"
	[[ $body == *"<a href=\"/products/$pid\">$XSS_ESCAPED</a>"* ]]

	# An uploaded picture's og:image is absolute on this site.
	as seller api POST /api/products "$(jq -cn --arg c "$cat" \
		'{name: "Dot", description: "d", price: 1, count: 1, categoryId: $c,
		  picture: "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}')"
	expect_status 201
	local dot pic
	dot=$(json_get .id)
	pic=$(json_get .picture)
	as visitor page GET "/products/$dot"
	[[ $body == *"<meta property=\"og:image\" content=\"$STORE_URL$pic\">"* ]]

	as visitor page GET "/products/$(oid)"
	expect_status 404
	expect_html
	as visitor page GET "/products/nothex"
	expect_status 404
	expect_html
}

@test "the search box is on every page; results escape the term and page through" {
	local w
	w=zq$RANDOM$RANDOM
	w=${w//[0-9]/x}
	as seller signup
	as seller make_category
	as seller api POST /api/products "$(jq -cn --arg c "$category_id" --arg n "$XSS $w" \
		'{name: $n, description: "d", price: 2, count: 1,
		  picture: "https://img.example.com/s.png", categoryId: $c}')"
	expect_status 201
	local pid
	pid=$(json_get .id)
	for path in / "/categories/$category_id" /signin "/products/$pid"; do
		as visitor page GET "$path"
		grep -q '<form class="search" method="get" action="/search" role="search">' <<<"$body"
	done

	as visitor page GET "/search?q=$(jq -rn --arg q "$XSS $w" '$q | @uri')"
	expect_escaped
	[[ $body == *"data-product=\"$pid\""* ]]
	[[ $body == *"name=\"q\" value=\"$XSS_ESCAPED $w\""* ]]
	[[ $body == *"<span class=\"term\">$XSS_ESCAPED $w</span>"* ]]
	as visitor page GET "/search?q=$(jq -rn --arg q "$ATTR" '$q | @uri')"
	expect_status 200
	[[ $body != *"$ATTR"* && $body == *"$ATTR_ESCAPED"* ]]
	if grep -qi '<script' <<<"$body"; then false; fi

	# Too long: the API's message, as a page.
	as visitor page GET "/search?q=$(printf 'a%.0s' {1..201})"
	expect_status 400
	expect_html
	[[ $body == *"Search text must be at most 200 characters"* ]]
	as visitor page GET "/search"
	expect_status 200
	expect_html

	# 13 products: two pages of 12, sortable, on the search and the category page.
	local i last
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		as seller api POST /api/products "$(jq -cn --arg c "$category_id" --arg n "Item $w" \
			--argjson p "$((i + 2))" '{name: $n, description: "d", price: $p, count: 1,
			  picture: "https://img.example.com/s.png", categoryId: $c}')"
		expect_status 201
		last=$(json_get .id)
	done
	as visitor page GET "/search?q=$w&sort=-price"
	expect_status 200
	[[ $(grep -o 'data-product="' <<<"$body" | wc -l) == 12 ]]
	[[ $body == *'<span class="total">13</span>'* ]]
	[[ $body == *'Page 1 of 2'* ]]
	[[ $body == *"href=\"/search?q=$w&amp;sort=-price&amp;page=2\""* ]]
	[[ $body == *'<strong aria-current="true" data-sort="-price">'* ]]
	[[ $body != *"data-product=\"$pid\""* ]]   # the cheapest is on page 2
	as visitor page GET "/search?q=$w&sort=-price&page=2"
	[[ $(grep -o 'data-product="' <<<"$body" | wc -l) == 1 && $body == *"data-product=\"$pid\""* ]]
	# A category shows its newest first (a seller sees a new product at once).
	as visitor page GET "/categories/$category_id"
	[[ $(grep -o 'data-product="[0-9a-f]*"' <<<"$body" | head -n 1) == "data-product=\"$last\"" ]]
	[[ $body == *'<strong aria-current="true" data-sort="">Newest</strong>'* ]]
	as visitor page GET "/categories/$category_id?sort=price"
	[[ $body == *'Page 1 of 2'* ]]
	[[ $(grep -o 'data-product="[0-9a-f]*"' <<<"$body" | head -n 1) == "data-product=\"$pid\"" ]]
	as visitor page GET "/categories/$category_id?sort=bogus&page=99"
	expect_status 200
	[[ $(grep -c 'data-product="' <<<"$body") == 0 ]]
}

@test "no response in this file was a 5xx, the web front's calls to the API included" {
	if grep -E '^5[0-9][0-9] ' "$BATS_FILE_TMPDIR/api.statuses"; then
		return 1
	fi
	if grep -E '"status":5[0-9][0-9]' "$STORE_VAR/log/nginx-access.log"; then
		return 1
	fi
}

@test "the store stops cleanly: no process died, none is left, no sanitizer report" {
	store_stop
}
