#!/usr/bin/env bats
# The auth service (API.md, "Auth service" and "Conventions"), over HTTP through
# nginx, as a browser or the original store's clients reach it.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'

setup_file() {
	store_start auth
}

teardown_file() {
	store_stop
}

# Every password in this file starts with "Pw_" so that the file-wide checks can
# tell that none ever came back in a body or reached a log.
PASSWORD=Pw_secret1

new_email() {
	printf 'user%s-%s%s@example.com\n' "$BATS_TEST_NUMBER" "$RANDOM" "$RANDOM"
}

credentials() {
	jq -cn --arg e "$1" --arg p "$2" '{email: $e, password: $p}'
}

signup() { api POST /api/users/signup "$(credentials "$1" "$2")" "${@:3}"; }
signin() { api POST /api/users/signin "$(credentials "$1" "$2")" "${@:3}"; }

# session_set_cookie: the Set-Cookie header of the last response that sets "session".
session_set_cookie() {
	grep -i '^set-cookie:[[:space:]]*session=' "$headers" | tail -n 1 | tr -d '\r' |
		sed 's/^[Ss][Ee][Tt]-[Cc][Oo][Oo][Kk][Ii][Ee]:[[:space:]]*//'
}

# session_value: the value of the session cookie the last response set.
session_value() {
	session_set_cookie | sed 's/^session=//; s/;.*//'
}

# jwt_of COOKIE-VALUE: the JWT inside a session cookie value.
jwt_of() {
	printf '%s' "$1" | b64url_decode | jq -r .jwt
}

# jwt_part TOKEN N: part N (1 header, 2 payload) of a JWT, decoded.
jwt_part() {
	printf '%s' "$1" | cut -d. -f"$2" | b64url_decode
}

# cookie_of TOKEN: a session cookie value carrying TOKEN, as cookie-session makes it.
cookie_of() {
	jq -cn --arg t "$1" '{jwt: $t}' | tr -d '\n' | base64 -w0
}

# currentuser_with COOKIE-VALUE: GET currentuser sending only that session cookie.
currentuser_with() {
	API_JAR='' api GET /api/users/currentuser "" -H "Cookie: session=$1"
}

expect_signed_out() {
	expect_status 200
	[[ $(json_get .) == '{"currentUser":null}' ]] || {
		echo "expected {\"currentUser\":null}, got: $body" >&2
		return 1
	}
}

# --- the happy path -----------------------------------------------------------

@test "signup answers 201 {id, email} and sets a session cookie HttpOnly, SameSite=Lax, Path=/" {
	local email
	email=$(new_email)
	signup "$email" "$PASSWORD"
	expect_status 201
	[[ $(json_get '.id') =~ ^[0-9a-f]{24}$ ]]
	[[ $(json_get '.email') == "$email" ]]
	[[ $(json_get 'keys') == '["email","id"]' ]]

	local cookie
	cookie=$(session_set_cookie)
	[[ -n $(session_value) ]]
	[[ ${cookie,,} =~ (^|;)[[:space:]]*httponly[[:space:]]*(;|$) ]]
	[[ ${cookie,,} =~ (^|;)[[:space:]]*samesite=lax[[:space:]]*(;|$) ]]
	[[ ${cookie,,} =~ (^|;)[[:space:]]*path=/[[:space:]]*(;|$) ]]
	# Plain HTTP and STORE_COOKIE_SECURE unset: no Secure flag.
	[[ ! ${cookie,,} =~ (^|;)[[:space:]]*secure[[:space:]]*(;|$) ]]
}

@test "the session cookie is base64 of {\"jwt\": token}, an HS256 JWT with id, email, iat and exp" {
	local email id value token now
	email=$(new_email)
	signup "$email" "$PASSWORD"
	expect_status 201
	id=$(json_get .id)
	value=$(session_value)

	[[ $(printf '%s' "$value" | b64url_decode | jq -c 'keys') == '["jwt"]' ]]
	token=$(jwt_of "$value")
	[[ $token =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]
	[[ $(jwt_part "$token" 1 | jq -r .alg) == HS256 ]]
	now=$(date +%s)
	jwt_part "$token" 2 | jq -e --arg id "$id" --arg email "$email" --argjson now "$now" '
		.id == $id and .email == $email
		and (.iat | type == "number") and (.exp | type == "number")
		and .exp > .iat and (.iat - $now | fabs) < 300'
}

@test "currentuser with the session cookie returns {currentUser: {id, email, iat}}" {
	local email id
	email=$(new_email)
	signup "$email" "$PASSWORD"
	id=$(json_get .id)
	api GET /api/users/currentuser
	expect_status 200
	json_get .currentUser | jq -e --arg id "$id" --arg email "$email" \
		'.id == $id and .email == $email and (.iat | type == "number")'
	[[ $(json_get '.currentUser | has("password")') == false ]]
}

@test "currentuser without a cookie returns {currentUser: null}" {
	api GET /api/users/currentuser
	expect_signed_out
}

@test "signin with the right password answers 200 {id, email} and a new session cookie" {
	local email id
	email=$(new_email)
	API_JAR='' signup "$email" "$PASSWORD"
	expect_status 201
	id=$(json_get .id)

	signin "$email" "$PASSWORD"
	expect_status 200
	[[ $(json_get .id) == "$id" && $(json_get .email) == "$email" ]]
	[[ $(json_get 'keys') == '["email","id"]' ]]
	local cookie
	cookie=$(session_set_cookie)
	[[ ${cookie,,} =~ httponly && ${cookie,,} =~ samesite=lax && ${cookie,,} =~ path=/ ]]
	api GET /api/users/currentuser
	[[ $(json_get .currentUser.id) == "$id" ]]
}

@test "signin compares the email case-insensitively" {
	local email
	email=$(new_email)
	signup "$email" "$PASSWORD"
	expect_status 201
	signin "${email^^}" "$PASSWORD"
	expect_status 200
}

@test "signout answers 200 {} and clears the session cookie" {
	signup "$(new_email)" "$PASSWORD"
	expect_status 201
	api GET /api/users/currentuser
	[[ $(json_get .currentUser) != null ]]

	api POST /api/users/signout
	expect_status 200
	[[ $(json_get .) == '{}' ]]
	local cookie
	cookie=$(session_set_cookie)
	[[ -n $cookie ]]
	# Cleared: an empty value, or an expiry in the past, on the same path.
	[[ ${cookie,,} =~ path=/ ]]
	[[ $(session_value) == "" || ${cookie,,} =~ max-age=0 || ${cookie,,} =~ expires=thu,\ 01\ jan\ 1970 ]]
	api GET /api/users/currentuser
	expect_signed_out
}

# --- bad requests -------------------------------------------------------------

@test "a body that is not valid JSON is a 400 in the error shape" {
	local bad
	for bad in '{"email":' 'not json' '{"email":"a@b.co","password":"Pw_abcd",}' $'{"email":"a@b.co"}\x01'; do
		api POST /api/users/signup "$bad"
		expect_error 400
		api POST /api/users/signin "$bad"
		expect_error 400
	done
}

@test "a JSON body that is not an object is a 400 in the error shape" {
	local bad
	for bad in '[]' '["a@b.co","Pw_abcd"]' '"a@b.co"' '42' 'null' 'true'; do
		api POST /api/users/signup "$bad"
		expect_error 400
	done
}

@test "a 2 MB body is refused by store-auth with 413 in the error shape" {
	local file="$BATS_TEST_TMPDIR/2mb.json"
	{
		printf '{"email":"big@example.com","password":"Pw_'
		head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'x'
		printf '"}'
	} >"$file"
	api POST /api/users/signup "" -H 'Content-Type: application/json' --data-binary "@$file" \
		-H "X-Request-Id: big-2mb-$RANDOM"
	expect_error 413
	# store-auth answered, not nginx (whose limit is 4 MB).
	access_log_line "$(header X-Request-Id)" | jq -e '.status == 413 and .upstream_status == "413"'
}

@test "a 5 MB body is refused by nginx with 413 Request body too large" {
	local file="$BATS_TEST_TMPDIR/5mb.json"
	head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$file"
	api POST /api/users/signup "" -H 'Content-Type: application/json' --data-binary "@$file"
	expect_error 413 "Request body too large"
	[[ $(json_get .) == '{"errors":[{"message":"Request body too large"}]}' ]]
	[[ -n $(header X-Request-Id) ]]
	access_log_line "$(header X-Request-Id)" | jq -e '.status == 413 and .upstream_status == ""'
}

@test "signup without an email is a 400 Email must be valid on field email" {
	api POST /api/users/signup '{"password":"Pw_abcd"}'
	expect_error 400 "Email must be valid" email
}

@test "signup without a password is a 400 on field password" {
	api POST /api/users/signup "{\"email\":\"$(new_email)\"}"
	expect_error 400 "Password must be between 4 and 20 characters" password
}

@test "signup with {} reports both fields, email and password" {
	api POST /api/users/signup '{}'
	expect_error 400 "Email must be valid" email
	expect_error 400 "Password must be between 4 and 20 characters" password
}

@test "signup with a bad email is a 400 Email must be valid on field email" {
	local bad
	for bad in not-an-email 'a@' '@example.com' 'a b@example.com' ''; do
		signup "$bad" "$PASSWORD"
		expect_error 400 "Email must be valid" email
	done
	api POST /api/users/signup '{"email":42,"password":"Pw_abcd"}'
	expect_error 400 "Email must be valid" email
}

@test "signup with a password of 3 or 21 characters is a 400 Password must be between 4 and 20 characters" {
	signup "$(new_email)" Pw_
	expect_error 400 "Password must be between 4 and 20 characters" password
	signup "$(new_email)" Pw_456789012345678901
	expect_error 400 "Password must be between 4 and 20 characters" password
}

@test "signup accepts passwords of exactly 4 and 20 characters" {
	local email
	email=$(new_email)
	API_JAR='' signup "$email" Pw_4
	expect_status 201
	signin "$email" Pw_4
	expect_status 200
	email=$(new_email)
	API_JAR='' signup "$email" Pw_45678901234567890
	expect_status 201
	signin "$email" Pw_45678901234567890
	expect_status 200
}

@test "passwords are trimmed: '  Pw_  ' is too short and '  Pw_trim1  ' signs in as 'Pw_trim1'" {
	signup "$(new_email)" "  Pw_  "
	expect_error 400 "Password must be between 4 and 20 characters" password

	local email
	email=$(new_email)
	API_JAR='' signup "$email" "  Pw_trim1  "
	expect_status 201
	signin "$email" Pw_trim1
	expect_status 200
	signin "$email" "  Pw_trim1  "
	expect_status 200
}

@test "signup with an email already used, in another letter case, is a 400 Email in use" {
	local email
	email=$(new_email)
	API_JAR='' signup "$email" "$PASSWORD"
	expect_status 201
	API_JAR='' signup "${email^^}" "$PASSWORD"
	expect_error 400 "Email in use"
	API_JAR='' signup "$email" Pw_other
	expect_error 400 "Email in use"
}

@test "signin with a wrong password or an unknown email is the same 400 Invalid credentials" {
	local email wrong unknown
	email=$(new_email)
	API_JAR='' signup "$email" "$PASSWORD"
	expect_status 201

	signin "$email" Pw_wrong
	expect_error 400 "Invalid credentials"
	[[ -z $(session_value) ]]
	wrong=$(json_get .)
	signin "nobody-$RANDOM@example.com" "$PASSWORD"
	expect_error 400 "Invalid credentials"
	unknown=$(json_get .)
	[[ $wrong == "$unknown" ]]
	api GET /api/users/currentuser
	expect_signed_out
}

# --- sessions that must not count -----------------------------------------------

@test "a tampered session cookie means not signed in" {
	local email value token header payload forged
	email=$(new_email)
	API_JAR='' signup "$email" "$PASSWORD"
	value=$(session_value)
	token=$(jwt_of "$value")
	currentuser_with "$value"
	[[ $(json_get .currentUser.email) == "$email" ]]

	# Another user's id and email in the payload, the original signature kept.
	header=$(cut -d. -f1 <<<"$token")
	payload=$(jwt_part "$token" 2 | jq -c '.id = "0123456789abcdef01234567" | .email = "admin@example.com"' | b64url_encode)
	forged="$header.$payload.$(cut -d. -f3 <<<"$token")"
	currentuser_with "$(cookie_of "$forged")"
	expect_signed_out

	# A flipped signature character.
	local sig
	sig=$(cut -d. -f3 <<<"$token")
	if [[ ${sig:0:1} == A ]]; then sig="B${sig:1}"; else sig="A${sig:1}"; fi
	currentuser_with "$(cookie_of "$header.$(cut -d. -f2 <<<"$token").$sig")"
	expect_signed_out

	# Garbage of all kinds: never a 500, always "not signed in".
	local bad
	for bad in 'x' '!!!' "$(printf 'not json' | base64 -w0)" "$(printf '{"jwt":42}' | base64 -w0)" \
		"$(printf '{"jwt":"a.b.c"}' | base64 -w0)" "$(printf '[]' | base64 -w0)" "${value:0:20}"; do
		currentuser_with "$bad"
		expect_signed_out
	done
}

@test "a JWT signed with another key means not signed in" {
	local value
	value=$(node "$STORE_ROOT/tests/lib/node-session.js" 0123456789abcdef01234567 other@example.com \
		"$JWT_KEY" --sign-key "another-key-of-at-least-32-characters-xx")
	currentuser_with "$value"
	expect_signed_out
}

@test "a JWT with alg none means not signed in" {
	local header payload now
	now=$(date +%s)
	header=$(printf '{"alg":"none","typ":"JWT"}' | b64url_encode)
	payload=$(jq -cn --argjson now "$now" \
		'{id: "0123456789abcdef01234567", email: "none@example.com", iat: $now, exp: ($now + 3600)}' | tr -d '\n' | b64url_encode)
	currentuser_with "$(cookie_of "$header.$payload.")"
	expect_signed_out
	# "None" spelled otherwise, and an empty signature with HS256 claimed.
	header=$(printf '{"alg":"None","typ":"JWT"}' | b64url_encode)
	currentuser_with "$(cookie_of "$header.$payload.")"
	expect_signed_out
	header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url_encode)
	currentuser_with "$(cookie_of "$header.$payload.")"
	expect_signed_out
}

@test "an expired JWT means not signed in" {
	local value
	value=$(node "$STORE_ROOT/tests/lib/node-session.js" 0123456789abcdef01234567 late@example.com \
		"$JWT_KEY" --expires-in -60)
	currentuser_with "$value"
	expect_signed_out
}

@test "a session made by the original Node.js store (jsonwebtoken, cookie-session) with an exp is accepted; one without exp is not" {
	local value id=5f1e2d3c4b5a69788796a5b4 email=node-user@example.com
	value=$(node "$STORE_ROOT/tests/lib/node-session.js" "$id" "$email" "$JWT_KEY" --expires-in 3600)
	currentuser_with "$value"
	expect_status 200
	json_get .currentUser | jq -e --arg id "$id" --arg email "$email" \
		'.id == $id and .email == $email and (.iat | type == "number")'

	# jsonwebtoken's default: no exp, a session valid for ever. Refused.
	value=$(node "$STORE_ROOT/tests/lib/node-session.js" "$id" "$email" "$JWT_KEY")
	currentuser_with "$value"
	expect_signed_out
}

# --- routing, methods, CSRF, request ids -----------------------------------------

@test "a wrong method on a known path is a 405 in the error shape" {
	api GET /api/users/signup
	expect_error 405
	api GET /api/users/signin
	expect_error 405
	api DELETE /api/users/signout
	expect_error 405
	api POST /api/users/currentuser '{}'
	expect_error 405
}

@test "an unknown path under /api/users is a 404 Not Found" {
	api GET /api/users/nope
	expect_error 404 "Not Found"
	api POST /api/users/nope '{}'
	expect_error 404 "Not Found"
	api GET /api/users/signup/extra
	expect_error 404 "Not Found"
}

@test "an unknown prefix, /healthz and /readyz are nginx's 404 in the API's error shape" {
	local path
	for path in /api/nope / /healthz /readyz /api/usersx /index.html; do
		api GET "$path"
		expect_error 404 "Not Found"
		[[ $(json_get .) == '{"errors":[{"message":"Not Found"}]}' ]]
		[[ $(header Content-Type) == application/json* ]]
	done
}

@test "a POST whose Origin is another site is refused with 403, and changes nothing" {
	local email
	email=$(new_email)
	signup "$email" "$PASSWORD" -H 'Origin: http://evil.example'
	expect_error 403
	[[ -z $(session_value) ]]
	signin "$email" "$PASSWORD" -H 'Origin: https://evil.example'
	expect_error 403
	# The user was not created: a same-origin signup with that email works.
	signup "$email" "$PASSWORD" -H "Origin: $STORE_URL"
	expect_status 201
	api POST /api/users/signout "" -H 'Origin: http://127.0.0.1.evil.example'
	expect_error 403
	api GET /api/users/currentuser
	[[ $(json_get .currentUser.email) == "$email" ]]
}

@test "a POST with no Origin header (curl, scripts) is allowed" {
	signup "$(new_email)" "$PASSWORD"
	expect_status 201
}

@test "every response carries an X-Request-Id, and a client's X-Request-Id is echoed" {
	local id
	api GET /api/users/currentuser
	[[ $(header X-Request-Id) =~ ^[A-Za-z0-9._:-]{8,}$ ]]
	local first
	first=$(header X-Request-Id)
	api GET /api/users/currentuser
	[[ $(header X-Request-Id) != "$first" ]]

	# One of each kind of answer: app 200/400/404/405, nginx 404.
	local n=0 args first_sent=""
	for args in "GET /api/users/currentuser" "POST /api/users/signup" "GET /api/users/nope" \
		"GET /api/users/signup" "GET /api/nope" "POST /api/users/signout"; do
		n=$((n + 1))
		id="test-$BATS_TEST_NUMBER-$n-$RANDOM"
		# shellcheck disable=SC2086 # METHOD PATH split on purpose
		api $args "" -H "X-Request-Id: $id"
		[[ $(header X-Request-Id) == "$id" ]] || {
			echo "$args: sent X-Request-Id $id, got '$(header X-Request-Id)'" >&2
			return 1
		}
		[[ $(grep -ci '^x-request-id:' "$headers") == 1 ]]
		first_sent=${first_sent:-$id}
	done
	# nginx's access log has the same id.
	access_log_line "$first_sent" >/dev/null
	# So does the program's own line for the request: method, path, status
	# and milliseconds to the tenth, at the time it was served.
	wait_until 10 grep -q "\"req_id\":\"$first_sent\"" "$STORE_VAR/log/auth.log"
	grep "\"req_id\":\"$first_sent\"" "$STORE_VAR/log/auth.log" |
		jq -e -s --arg now "$(date -u +%s)" 'length == 1 and (.[0] |
			.level == "info" and .svc == "auth" and
			(.msg | test("^GET /api/users/currentuser 200 [0-9]+\\.[0-9]ms$")) and
			(.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and
			((.ts | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) - ($now | tonumber) | fabs) < 60)'
}

@test "many requests at once, then none: each has its line in the program's log, once and whole" {
	local tag="burst-$BATS_TEST_NUMBER-$RANDOM" n=300
	seq "$n" | xargs -P 16 -I{} curl -s -o /dev/null -H "X-Request-Id: $tag-{}" \
		"$STORE_URL/api/users/currentuser"
	# Nothing else is asked for: the held lines must come out on their own.
	wait_until 10 bash -c '[[ $(grep -c "\"req_id\":\"$1-" "$2") -ge $3 ]]' _ \
		"$tag" "$STORE_VAR/log/auth.log" "$n"
	grep -F "\"req_id\":\"$tag-" "$STORE_VAR/log/auth.log" |
		jq -e -s --arg tag "$tag" --argjson n "$n" '
			length == $n and
			([.[].req_id] | unique | length) == $n and
			all(.[]; .level == "info" and
				(.msg | test("^GET /api/users/currentuser 200 [0-9]+\\.[0-9]ms$")))'
	# Every line of the log is whole JSON: no write cut another's line.
	jq -e -s 'length > 0' "$STORE_VAR/log/auth.log" >/dev/null
}

@test "the launcher generated a JWT key of 32 characters or more, readable only by its owner" {
	[[ ${#JWT_KEY} -ge 32 ]]
	[[ $(stat -c %a "$STORE_VAR/jwt.key") == 600 ]]
}

@test "a FastCGI program on a unix socket closes right after answering: one worker thread is not held until the front server closes" {
	# libfcgi's own close waits until the front server closed its end (up to
	# 2 s), holding the thread; store-auth with one thread and a client that
	# keeps its first connection open must still answer a second at once.
	local dir=$BATS_TEST_TMPDIR/one pid out
	mkdir -p "$dir"
	STORE_LISTEN=$dir/auth.sock JWT_KEY=0123456789abcdef0123456789abcdef \
		STORE_DB=sqlite:$dir/auth.db STORE_THREADS=1 NATS_URL=nats://127.0.0.1:1 \
		"$STORE_BUILD/bin/store-auth" </dev/null >"$dir/auth.log" 2>&1 3>&- &
	pid=$!
	wait_until 10 test -S "$dir/auth.sock"
	out=$(python3 "$BATS_TEST_DIRNAME/../lib/fcgi_hold.py" "$dir/auth.sock")
	kill -TERM "$pid"
	wait "$pid" || true
	echo "# second answer after ${out% *} s" >&3
	[[ $out == *"Status: 200 OK" ]]
	awk -v t="${out%% *}" 'BEGIN { exit !(t < 1) }'
}

@test "a program with one worker thread serves eight connections the front server keeps open, in turns" {
	local dir=$BATS_TEST_TMPDIR pid out
	STORE_LISTEN=$dir/auth.sock JWT_KEY=0123456789abcdef0123456789abcdef \
		STORE_DB=sqlite:$dir/auth.db STORE_THREADS=1 NATS_URL=nats://127.0.0.1:1 \
		"$STORE_BUILD/bin/store-auth" </dev/null >"$dir/auth.log" 2>&1 3>&- &
	pid=$!
	wait_until 10 test -S "$dir/auth.sock"
	# Each connection asks for FCGI_KEEP_CONN and stays open between its
	# requests: with a thread tied to a connection, the second would wait.
	out=$(python3 "$BATS_TEST_DIRNAME/../lib/fcgi_keep.py" "$dir/auth.sock" 8 3)
	# Still serving after the eight went away; then kept connections open
	# while it stops do not keep it from stopping.
	python3 "$BATS_TEST_DIRNAME/../lib/fcgi_keep.py" "$dir/auth.sock" 2 1 30 >"$dir/held" &
	wait_until 10 bash -c '[[ $(grep -c "Status: 200 OK" "$1") == 2 ]]' - "$dir/held"
	kill -TERM "$pid"
	wait "$pid"
	kill %2 2>/dev/null || true
	echo "$out" | head -n 3
	[[ $(grep -c "Status: 200 OK" <<<"$out") == 24 ]]
	! grep -E "closed|timeout" <<<"$out"
	grep -q "stopping on signal" "$dir/auth.log"
}

# --- file-wide checks: keep these last ------------------------------------------

@test "no response in this file was a 5xx" {
	if grep -E '^5[0-9][0-9] ' "$BATS_FILE_TMPDIR/api.statuses"; then
		return 1
	fi
	[[ $(wc -l <"$BATS_FILE_TMPDIR/api.statuses") -gt 50 ]]
}

@test "no response body and no log ever held a password or a password hash" {
	local hits
	# shellcheck disable=SC2016 # literal dollars: hash prefixes
	hits=$(grep -n -E 'Pw_|\$argon2|\$scrypt|\$7\$|"(password|hash|passwordHash|password_hash)":' \
		"$BATS_FILE_TMPDIR/api.bodies" "$STORE_VAR"/log/*.log || true)
	if [[ -n $hits ]]; then
		cut -c 1-300 <<<"$hits" >&2
		return 1
	fi
}

@test "store-auth is still up at the end, and the store stops cleanly with no sanitizer report" {
	local pid
	pid=$(<"$STORE_VAR/run/auth.pid")
	kill -0 "$pid"
	api GET /api/users/currentuser
	expect_status 200
	store_stop
}
