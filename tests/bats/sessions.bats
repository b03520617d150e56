#!/usr/bin/env bats
# Sessions end when the user signs out, on every service: signing out raises
# the user's session generation in the auth service, which announces
# store.user.signedout; productsd, cartd and paymentsd keep each user's
# generation, and every service refuses a token of an older one. A token
# without exp is refused everywhere.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'

# Seconds for store.user.signedout to reach the daemons: polled, never slept.
SIGNOUT_WAIT=${STORE_TEST_SIGNOUT_WAIT:-10}

setup_file() {
	store_start auth,products,cart,payments
}

teardown_file() {
	store_stop
}

# A test that stops nats-server starts it again; if it failed half-way, this
# puts it back for the next test (never after store_stop, the last test).
teardown() {
	local pid
	[[ ! -e $STORE_VAR/stopped ]] || return 0
	pid=$(cat "$STORE_VAR/run/nats.pid" 2>/dev/null) || pid=""
	if [[ -z $pid ]] || ! _alive "$pid"; then
		nats_start
	fi
}

# readyz_status SOCK: the Status of GET /readyz of the FastCGI program on SOCK.
readyz_status() {
	local out
	out=$(cd / && env -i PATH="$PATH" REQUEST_METHOD=GET DOCUMENT_URI=/readyz \
		REQUEST_URI=/readyz SCRIPT_NAME=/readyz QUERY_STRING= \
		SERVER_PROTOCOL=HTTP/1.1 GATEWAY_INTERFACE=CGI/1.1 \
		timeout 5 cgi-fcgi -bind -connect "$1" </dev/null 2>/dev/null) || return 1
	sed -n 's/^Status:[[:space:]]*\([0-9][0-9][0-9]\).*/\1/Ip' <<<"$out" | head -n 1
}

# jar_session NAME: the session cookie value in the cookie jar of user NAME.
jar_session() {
	awk -F '\t' '$6 == "session" { v = $7 } END { print v }' "$(_jars)/$1.jar"
}

# with_cookie VALUE METHOD PATH [BODY]: api with only this session cookie.
with_cookie() {
	local value=$1
	shift
	API_JAR='' api "$1" "$2" "${3-}" -H "Cookie: session=$value"
}

# consumer_done NAME: the durable consumer NAME exists and has nothing
# pending or unacknowledged (nats-server's monitor); for wait_until.
consumer_done() {
	local port
	port=$(_cmd_option nats -m)
	curl -sS --max-time 5 "http://127.0.0.1:$port/jsz?accounts=true&streams=true&consumers=true" |
		jq -e --arg c "$1" '[.account_details[]?.stream_detail[]?.consumer_detail[]?
			| select(.name == $c)] | length == 1 and .[0].num_pending == 0
			and .[0].num_ack_pending == 0'
}

# signed_in_everywhere VALUE: the session VALUE is accepted by the four services.
signed_in_everywhere() {
	with_cookie "$1" GET /api/users/currentuser
	expect_status 200
	[[ $(json_get .currentUser.id) =~ ^[0-9a-f]{24}$ ]]
	with_cookie "$1" POST /api/categories "$(jq -cn --arg n "$(unique Lamps)" '{name: $n, description: "Light"}')"
	expect_status 201
	with_cookie "$1" GET /api/cart
	expect_status 200
	with_cookie "$1" GET /api/payments
	expect_status 200
}

# refused_by SERVICE VALUE: SERVICE (products, cart or payments) answers 401
# Not authorized to the session VALUE; for wait_until.
refused_by() {
	case $1 in
	products) with_cookie "$2" POST /api/categories '{"name":"Refused","description":"x"}' ;;
	cart) with_cookie "$2" GET /api/cart ;;
	payments) with_cookie "$2" GET /api/payments ;;
	esac
	expect_error 401 "Not authorized"
}

# signed_out_everywhere VALUE: auth says currentUser null at once, and each
# other service refuses VALUE as soon as its daemon applied the event.
signed_out_everywhere() {
	with_cookie "$1" GET /api/users/currentuser
	expect_status 200
	[[ $(json_get .) == '{"currentUser":null}' ]]
	local svc
	for svc in products cart payments; do
		wait_until "$SIGNOUT_WAIT" refused_by "$svc" "$1"
	done
}

@test "sign-out ends the session on every service: auth, products, cart, payments" {
	as ann signup
	local old
	old=$(jar_session ann)
	[[ -n $old ]]
	signed_in_everywhere "$old"

	as ann api POST /api/users/signout
	expect_status 200
	[[ $(json_get .) == '{}' ]]
	signed_out_everywhere "$old"
	# The event carries the user and the new generation.
	[[ $(nats_tool count store.user.signedout) -ge 1 ]]
}

@test "sign-out signs out everywhere: a second session of the same user ends too" {
	as bob signup
	local email first second
	email=$(user_email bob)
	first=$(jar_session bob)
	# A token is its claims: signed in the same second, the second session
	# would be the same token. Wait (bounded) for the next second.
	local t0
	t0=$(date +%s)
	wait_until 3 eval '(( $(date +%s) > t0 ))'
	as bob2 api POST /api/users/signin \
		"$(jq -cn --arg e "$email" --arg p "$STORE_TEST_PASSWORD" '{email: $e, password: $p}')"
	expect_status 200
	second=$(jar_session bob2)
	[[ -n $second && $second != "$first" ]]
	signed_in_everywhere "$second"

	as bob api POST /api/users/signout
	expect_status 200
	signed_out_everywhere "$first"
	signed_out_everywhere "$second"
}

@test "signing in again after sign-out works on every service, and a sign-out without a session only clears the cookie" {
	as cy signup
	local email old new
	email=$(user_email cy)
	old=$(jar_session cy)
	as cy api POST /api/users/signout
	expect_status 200
	signed_out_everywhere "$old"

	as cy api POST /api/users/signin \
		"$(jq -cn --arg e "$email" --arg p "$STORE_TEST_PASSWORD" '{email: $e, password: $p}')"
	expect_status 200
	new=$(jar_session cy)
	[[ -n $new && $new != "$old" ]]
	signed_in_everywhere "$new"
	# The old session stays refused.
	with_cookie "$old" GET /api/users/currentuser
	[[ $(json_get .) == '{"currentUser":null}' ]]

	# Signed out already (the old cookie): 200 {}, the new session unharmed.
	with_cookie "$old" POST /api/users/signout
	expect_status 200
	[[ $(json_get .) == '{}' ]]
	signed_in_everywhere "$new"
}

@test "a token without exp is refused by every service; the same with an exp is accepted" {
	as dee signup
	local id email forever bounded svc
	id=$(user_id dee)
	email=$(user_email dee)
	bounded=$(node "$STORE_ROOT/tests/lib/node-session.js" "$id" "$email" "$JWT_KEY" --expires-in 3600)
	signed_in_everywhere "$bounded"

	forever=$(node "$STORE_ROOT/tests/lib/node-session.js" "$id" "$email" "$JWT_KEY")
	with_cookie "$forever" GET /api/users/currentuser
	expect_status 200
	[[ $(json_get .) == '{"currentUser":null}' ]]
	for svc in products cart payments; do
		refused_by "$svc" "$forever"
	done
}

@test "an old or repeated store.user.signedout does not bring a signed-out session back" {
	as eve signup
	local id old svc
	id=$(user_id eve)
	old=$(jar_session eve)
	as eve api POST /api/users/signout
	expect_status 200
	signed_out_everywhere "$old"
	# A generation-0 event (older) and the same event again: still refused.
	publish store.user.signedout "$(jq -cn --arg u "$id" '{userId: $u, gen: 0}')" --id "$(oid)"
	publish store.user.signedout "$(jq -cn --arg u "$id" '{userId: $u, gen: 1}')" --id "$(oid)"
	wait_until "$SIGNOUT_WAIT" consumer_done products-user-signedout
	wait_until "$SIGNOUT_WAIT" consumer_done cart-user-signedout
	wait_until "$SIGNOUT_WAIT" consumer_done payments-user-signedout
	for svc in products cart payments; do
		refused_by "$svc" "$old"
	done
}

@test "NATS down: auth stays ready, signs in and out; the sign-out waits in the outbox and reaches every service once NATS is back" {
	as fay signup
	local email old status
	email=$(user_email fay)
	old=$(jar_session fay)
	nats_stop
	status=$(readyz_status "$STORE_VAR/run/auth.sock")
	[[ -z $status || $status == 200 ]]
	as fay api POST /api/users/signout
	expect_status 200
	with_cookie "$old" GET /api/users/currentuser
	[[ $(json_get .) == '{"currentUser":null}' ]]
	as fay api POST /api/users/signin \
		"$(jq -cn --arg e "$email" --arg p "$STORE_TEST_PASSWORD" '{email: $e, password: $p}')"
	expect_status 200
	nats_start
	# The relay and the daemons reconnect with backoff: a longer bound.
	SIGNOUT_WAIT=$EVENT_WAIT signed_out_everywhere "$old"
	signed_in_everywhere "$(jar_session fay)"
}

@test "the store stops cleanly: no process died, none is left, no sanitizer report" {
	store_stop
}
