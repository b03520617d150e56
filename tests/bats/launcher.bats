#!/usr/bin/env bats
# The local launcher (bin/store-run): infrastructure from the service table's
# "needs" column (nats-server, redis-server), the env and cmd files of every
# process, restarts by the test helpers, nats-server without transparent huge
# pages (store-nothp), STORE_NATS_PORT, STORE_REDIS_PORT,
# STORE_RUN_KEEP_GOING, ports, the front server's routing (the web front at
# "/", skipped while it is not built). Each test runs its own small store.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'

setup() {
	STORE_VAR="$BATS_TEST_TMPDIR/var"
	export STORE_VAR
}

teardown() {
	if [[ -n ${launcher_pid:-} ]] && _alive "$launcher_pid"; then
		kill -TERM "$launcher_pid"
		wait_until 60 test -s "$launcher_rc" || true
	fi
	if [[ -e $STORE_VAR/store-run.out ]]; then
		store_stop || true
	fi
}

# build_without PROGRAM: prints a build folder in the test's temporary folder
# holding links to every program of STORE_BUILD but PROGRAM.
build_without() {
	local build="$BATS_TEST_TMPDIR/build" f
	mkdir -p "$build/bin"
	for f in "$STORE_BUILD"/bin/*; do
		[[ ${f##*/} == "$1" ]] || ln -s "$f" "$build/bin/"
	done
	printf '%s\n' "$build"
}

# env_of NAME: the KEY=VALUE lines of DIR/run/NAME.env, comments left out.
env_of() {
	grep -v '^#' "$STORE_VAR/run/$1.env"
}

# start_launcher KEEP-GOING ARGS...: bin/store-run in the background on a free
# port, with STORE_RUN_KEEP_GOING=KEEP-GOING; waits until it serves. Sets
# launcher_pid, launcher_out (its output) and launcher_rc (a file: its status).
start_launcher() {
	local keep=$1
	shift
	launcher_out="$BATS_TEST_TMPDIR/launcher.out"
	launcher_rc="$BATS_TEST_TMPDIR/launcher.rc"
	(
		_close_fds
		rc=0
		env STORE_RUN_KEEP_GOING="$keep" BUILD="$STORE_BUILD" "$STORE_ROOT/bin/store-run" \
			--var "$STORE_VAR" --port "$(free_port)" "$@" || rc=$?
		echo "$rc" >"$launcher_rc"
	) </dev/null >"$launcher_out" 2>&1 &
	wait_until 60 grep -q '^store: serving ' "$launcher_out"
	launcher_pid=$(<"$STORE_VAR/run/store-run.pid")
}

@test "--help documents STORE_NATS_PORT, STORE_REDIS_PORT, STORE_RUN_KEEP_GOING, --free-port and the env and cmd files" {
	run "$STORE_ROOT/bin/store-run" --help
	[[ $status == 0 ]]
	[[ $output == *STORE_NATS_PORT* && $output == *STORE_RUN_KEEP_GOING* ]]
	[[ $output == *STORE_REDIS_PORT* && $output == *DIR/redis* && $output == *STORE_API_URL* ]]
	[[ $output == *--free-port* && $output == *NAME.env* && $output == *NAME.cmd* ]]
	run "$STORE_ROOT/bin/store-nginx-conf" --services
	[[ $status == 0 ]]
	grep -Eq '^cart store-cart no cart nats /api/cart$' <<<"$output"
	grep -Eq '^cartd cartd yes cart nats -$' <<<"$output"
	grep -Eq '^auth store-auth no auth nats /api/users$' <<<"$output"
	grep -Eq '^payments store-payments no payments nats /api/payments$' <<<"$output"
	grep -Eq '^paymentsd paymentsd yes payments nats -$' <<<"$output"
	grep -Eq '^expirerd expirerd yes - nats,redis -$' <<<"$output"
	grep -Eq '^web store-web no - - /$' <<<"$output"
	# A db name selects a program and its daemon; "-" is no database's name.
	run "$STORE_ROOT/bin/store-nginx-conf" --services --only payments
	[[ $status == 0 && $(cut -d' ' -f1 <<<"$output" | tr '\n' ' ') == "payments paymentsd " ]]
	run "$STORE_ROOT/bin/store-nginx-conf" --services --only -
	[[ $status == 64 && $output == *"unknown service '-'"* ]]
}

@test "the nginx config: \"/\" is one catch-all location; /healthz, /readyz and /api/... stay nginx's 404" {
	local conf="$BATS_TEST_TMPDIR/nginx.conf"
	mkdir -p "$STORE_VAR/nginx" "$STORE_VAR/log" "$STORE_VAR/run"
	"$STORE_ROOT/bin/store-nginx-conf" --var "$STORE_VAR" --port 8080 >"$conf"
	# The web front takes "/", once, as a prefix; nothing like "location = /" or "//".
	[[ $(grep -Ec '^ *location / \{' "$conf") == 1 ]]
	grep -A1 -E '^ *location / \{' "$conf" | grep -qx "            fastcgi_pass store_web;"
	grep -A1 -E '^ *upstream store_web \{' "$conf" | grep -qx "        server unix:$STORE_VAR/run/web.sock;"
	# Connections to every program stay open between requests.
	grep -qx "        fastcgi_keep_conn on;" "$conf"
	[[ $(grep -c '^        keepalive [0-9]*;' "$conf") == $(grep -c '^    upstream store_' "$conf") ]]
	[[ $(grep -Ec 'location (= )?/ *\{' "$conf") == 1 && $(<"$conf") != *"location //"* ]]
	local path
	for path in "= /healthz" "= /readyz" "= /api" "/api/"; do
		grep -A1 -F "location $path {" "$conf" | grep -q 'return 404;'
	done
	nginx -t -q -p "$STORE_VAR/nginx/" -c "$conf" -e "$STORE_VAR/log/nginx-error.log"
	# Without the web front, "/" is nginx's 404 as before.
	"$STORE_ROOT/bin/store-nginx-conf" --var "$STORE_VAR" --port 8080 --only auth >"$conf"
	[[ $(grep -Ec '^ *location / \{' "$conf") == 1 ]]
	grep -A1 -E '^ *location / \{' "$conf" | grep -q 'return 404;'
	[[ $(<"$conf") != *web.sock* ]]
	nginx -t -q -p "$STORE_VAR/nginx/" -c "$conf" -e "$STORE_VAR/log/nginx-error.log"
}

# signup_with CURL-ARGS...: POST /api/users/signup for a new address, with CURL-ARGS.
signup_with() {
	api POST /api/users/signup "$(jq -cn --arg e "$(new_email origin)" '{email: $e, password: "secret1"}')" \
		"$@"
}

@test "the CSRF check takes the request's own origin: a proxy on another port may write, another site may not" {
	store_start auth
	# Same origin as the store's own address.
	signup_with -H "Origin: $STORE_URL"
	expect_status 201
	# A front on another host and port that passes the Host on (proxy_set_header Host $http_host).
	signup_with -H 'Host: shop.example:3000' -H 'Origin: http://shop.example:3000'
	expect_status 201
	# A proxy that says where the browser was: X-Forwarded-Host and -Proto.
	signup_with -H 'X-Forwarded-Host: shop.example' -H 'X-Forwarded-Proto: https' \
		-H 'Origin: https://shop.example'
	expect_status 201
	# Another site, another port, another scheme: 403, nothing created.
	local before
	before=$(sqlite3 "$STORE_VAR/db/auth.db" 'select count(*) from users')
	[[ $before == 3 ]]
	signup_with -H 'Host: shop.example:3000' -H 'Origin: http://evil.example'
	expect_error 403
	signup_with -H 'Host: shop.example:3000' -H 'Origin: http://shop.example:3001'
	expect_error 403
	signup_with -H 'Origin: http://evil.example'
	expect_error 403
	signup_with -H "Origin: ${STORE_URL/http:/https:}"
	expect_error 403
	signup_with -H 'X-Forwarded-Host: evil.example' -H 'Origin: http://shop.example'
	expect_error 403
	signup_with -H 'X-Forwarded-Proto: https' -H "Origin: $STORE_URL"
	expect_error 403
	[[ $(sqlite3 "$STORE_VAR/db/auth.db" 'select count(*) from users') == "$before" ]]
	store_stop
}

@test "STORE_ORIGIN, when set, is passed on and is the only origin allowed to write" {
	STORE_ORIGIN=https://shop.example store_start auth
	env_of auth | grep -qx "STORE_ORIGIN=https://shop.example"
	signup_with -H 'Origin: https://shop.example'
	expect_status 201
	signup_with -H "Origin: $STORE_URL"
	expect_error 403
	signup_with -H 'Host: other.example' -H 'Origin: http://other.example'
	expect_error 403
	store_stop
}

@test "requests nginx cannot parse get a JSON 400 with a request id, and leave no error-log line" {
	store_start auth
	local path ids=()
	for path in /api/products/%00 /api/products/picture/%00 /static/../../etc/passwd \
		/api/users/%00 /../api/users/currentuser /a%2 /%; do
		api GET "$path" "" --path-as-is
		expect_error 400 "Bad request" || { echo "path $path" >&2; return 1; }
		[[ $(json_get .) == '{"errors":[{"message":"Bad request"}]}' ]]
		[[ $(header Content-Type) == application/json* && -n $(header X-Request-Id) ]]
	done
	# A header too large and a URI too long: JSON too.
	api GET /api/users/currentuser "" -H "X-Big: $(printf 'a%.0s' {1..9000})"
	expect_error 400 "Bad request"
	api GET "/api/users/$(printf 'a%.0s' {1..9000})"
	expect_error 414 "Request URI too long"
	# The internal error locations are not reachable from outside.
	api GET /.store/400
	expect_error 404 "Not Found"
	# The store still serves, and nginx logged no error for any of these.
	api GET /api/users/currentuser
	expect_status 200
	if [[ -s $STORE_VAR/log/nginx-error.log ]]; then
		grep -E '\[(error|crit|alert|emerg)\]|empty URI' "$STORE_VAR/log/nginx-error.log" >&2 && return 1
	fi
	store_stop
}

@test "--free-port prints ports nothing listens on, outside the kernel's ephemeral range" {
	local lo hi port i
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	for ((i = 0; i < 10; i++)); do
		port=$("$STORE_ROOT/bin/store-run" --free-port)
		[[ $port =~ ^[0-9]+$ ]]
		((port >= 1024 && port <= 65535 && (port < lo || port > hi)))
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "something listens on $port" >&2
			return 1
		fi
	done
}

# nats_without_thp: nats-server was started through store-nothp and is
# nats-server itself (the pid in nats.pid), running without transparent huge
# pages where the kernel says so in /proc/PID/status.
nats_without_thp() {
	local pid
	pid=$(<"$STORE_VAR/run/nats.pid")
	[[ $(<"$STORE_VAR/run/nats.cmd") == "$STORE_BUILD/bin/store-nothp nats-server "* ]]
	[[ $(<"/proc/$pid/comm") == nats-server ]]
	if grep -q '^THP_enabled:' /proc/self/status; then
		grep -qx $'THP_enabled:\t0' "/proc/$pid/status"
	fi
}

@test "--only auth starts nats-server (for store.user.signedout) but no redis-server; each process has NAME.pid, NAME.env (mode 600) and NAME.cmd" {
	store_start auth
	[[ -s $STORE_VAR/run/nats.pid && -s $STORE_VAR/run/nats.cmd ]]
	[[ ! -e $STORE_VAR/run/redis.pid && ! -e $STORE_VAR/run/redis.cmd ]]
	local name
	for name in auth nginx; do
		[[ -s $STORE_VAR/run/$name.pid && -s $STORE_VAR/run/$name.cmd ]]
		[[ $(stat -c %a "$STORE_VAR/run/$name.env") == 600 ]]
	done
	[[ $(<"$STORE_VAR/run/auth.cmd") == "$STORE_BUILD/bin/store-auth" ]]
	env_of auth | grep -qx "STORE_LISTEN=$STORE_VAR/run/auth.sock"
	env_of auth | grep -qx "STORE_DB=sqlite:$STORE_VAR/db/auth.db"
	env_of auth | grep -qx "JWT_KEY=$JWT_KEY"
	# No STORE_ORIGIN unless given: the programs take the request's own origin.
	[[ $(env_of auth) != *STORE_ORIGIN=* ]]
	env_of auth | grep -qx "STORE_ACK_WAIT_MS=1000" # passed through
	env_of auth | grep -qx "NATS_URL=$NATS_URL"
	[[ $(env_of auth) != *REDIS_URL=* && $(env_of auth) != *STORE_RUN_KEEP_GOING=* ]]
	grep -q 'daemon\\ off\\;' "$STORE_VAR/run/nginx.cmd"
	nats_without_thp
	api GET /api/users/currentuser
	expect_status 200
	store_stop
}

@test "STORE_NATS_PORT fixes nats-server's port; programs that need it get NATS_URL; restarts work" {
	local port
	port=$(free_port)
	STORE_NATS_PORT=$port store_start cart
	[[ $NATS_URL == "nats://127.0.0.1:$port" ]]
	[[ $(_cmd_option nats -p) == "$port" ]]
	[[ $(_cmd_option nats -sd) == "$STORE_VAR/nats" ]]
	env_of cart | grep -qx "NATS_URL=nats://127.0.0.1:$port"
	env_of cartd | grep -qx "NATS_URL=nats://127.0.0.1:$port"
	env_of cartd | grep -qx "STORE_DB=sqlite:$STORE_VAR/db/cart.db"
	# A daemon has no socket, and no use for the session key.
	[[ $(env_of cartd) != *JWT_KEY=* && $(env_of cartd) != *STORE_LISTEN=* ]]
	[[ ! -e $STORE_VAR/run/products.pid && ! -e $STORE_VAR/run/auth.pid ]]
	# Nothing of cart's needs redis.
	[[ ! -e $STORE_VAR/run/redis.pid && -z ${REDIS_URL:-} && $(env_of cartd) != *REDIS_URL=* ]]

	# A restarted program answers through nginx, a restarted nats-server
	# keeps its port, and the launcher stops them all at the end.
	svc_kill cart
	api GET /api/cart
	expect_error 503
	svc_start cart
	api GET /api/cart
	expect_error 401 "Not authorized"
	nats_stop
	nats_start
	[[ $(_cmd_option nats -p) == "$port" ]]
	nats_without_thp
	svc_stop cartd
	svc_start cartd

	# The port taken: exit 75, saying so.
	run env STORE_NATS_PORT="$STORE_PORT" BUILD="$STORE_BUILD" "$STORE_ROOT/bin/store-run" \
		--var "$BATS_TEST_TMPDIR/other" --port "$(free_port)" --only cart
	[[ $status == 75 ]]
	[[ $output == *"port $STORE_PORT (STORE_NATS_PORT) is taken"* ]]
	store_stop
}

@test "STORE_RUN_KEEP_GOING=1: a process that dies is reported in DIR/run/exits and the rest keeps serving" {
	store_start auth
	local pid
	pid=$(<"$STORE_VAR/run/auth.pid")
	kill -KILL "$pid"
	wait_until 30 grep -q "^$pid auth signal KILL$" "$STORE_VAR/run/exits"
	grep -q "store: auth (pid $pid) exited on its own (signal KILL): keeping on" "$STORE_VAR/store-run.out"
	kill -0 "$STORE_PID"
	# store_stop reports it: nobody asked for that death.
	run store_stop
	[[ $status == 1 ]]
	[[ $output == *"auth (pid $pid) died on its own (signal KILL)"* ]]
}

@test "without STORE_RUN_KEEP_GOING, a process that dies stops the store with exit 1" {
	start_launcher 0 --only auth
	local pid
	pid=$(<"$STORE_VAR/run/auth.pid")
	kill -KILL "$pid"
	wait_until 30 test -s "$launcher_rc"
	[[ $(<"$launcher_rc") == 1 ]]
	grep -q "auth (pid $pid) exited unexpectedly (signal KILL): stopping the store" "$launcher_out"
	[[ ! -e $STORE_VAR/run/nginx.pid && ! -e $STORE_VAR/run/store-run.pid ]]
}

@test "SIGTERM stops a process restarted outside the launcher too, and exits 0" {
	start_launcher 1 --only auth
	svc_stop auth
	svc_start auth
	local pid
	pid=$(<"$STORE_VAR/run/auth.pid")
	kill -TERM "$launcher_pid"
	wait_until 60 test -s "$launcher_rc"
	[[ $(<"$launcher_rc") == 0 ]]
	run _alive "$pid"
	[[ $status == 1 ]]
	[[ ! -e $STORE_VAR/run/auth.pid ]]
}

@test "STORE_REDIS_PORT fixes redis-server's port; expirerd gets REDIS_URL and no STORE_DB; its data survives a restart" {
	local port
	port=$(free_port)
	STORE_REDIS_PORT=$port store_start expirerd
	[[ $REDIS_URL == "redis://127.0.0.1:$port" ]]
	[[ $(_cmd_option redis --port) == "$port" && $(_cmd_option redis --bind) == 127.0.0.1 ]]
	[[ $(_cmd_option redis --dir) == "$STORE_VAR/redis" ]]
	[[ $(_cmd_option redis --appendonly) == yes && $(_cmd_option redis --appendfsync) == everysec ]]
	[[ $(stat -c %a "$STORE_VAR/run/redis.env") == 600 && -s $STORE_VAR/run/redis.pid ]]
	env_of expirerd | grep -qx "REDIS_URL=redis://127.0.0.1:$port"
	env_of expirerd | grep -qx "NATS_URL=$NATS_URL"
	# No database of its own: no STORE_DB, no socket, no session key.
	[[ $(env_of expirerd) != *STORE_DB=* && $(env_of expirerd) != *STORE_LISTEN=* ]]
	[[ $(env_of expirerd) != *JWT_KEY=* && ! -e $STORE_VAR/db/-.db ]]
	[[ $(env_of redis) != *STORE_REDIS_PORT=* ]]
	[[ $(redis_cli CONFIG GET appendonly | tail -n 1) == yes ]]
	[[ $(redis_cli CONFIG GET save | tail -n 1) == "" ]]

	# Stopped as the launcher stops it (SIGTERM), it writes its append-only
	# file; started again on the same port and folder, the data is there.
	[[ $(redis_cli SET launcher-test kept) == OK ]]
	redis_stop
	run redis_cli PING
	[[ $status != 0 ]]
	redis_start
	[[ $(_cmd_option redis --port) == "$port" ]]
	[[ $(redis_cli GET launcher-test) == kept ]]
	grep -q 'Calling fsync() on the AOF file' "$STORE_VAR/log/redis.log"
	[[ -n $(find "$STORE_VAR/redis" -type f -name '*.aof' -size +0) ]]
	# expirerd is still there, and a restarted expirerd finds it.
	svc_stop expirerd
	svc_start expirerd

	# The port taken: exit 75, saying so.
	run env STORE_REDIS_PORT="$port" BUILD="$STORE_BUILD" "$STORE_ROOT/bin/store-run" \
		--var "$BATS_TEST_TMPDIR/other" --port "$(free_port)" --only expirerd
	[[ $status == 75 ]]
	[[ $output == *"port $port (STORE_REDIS_PORT) is taken"* ]]

	# The launcher stops redis-server after the programs, cleanly (exit 0).
	store_stop
	[[ $(grep -c 'Calling fsync() on the AOF file' "$STORE_VAR/log/redis.log") == 2 ]]
	[[ ! -e $STORE_VAR/run/redis.pid ]]
}

@test "the whole store: payments, paymentsd, expirerd, web; \"/\" goes to the web front, /healthz, /readyz and unknown /api/ paths stay 404" {
	STORE_HOLD_SECONDS=2 store_start
	local name
	for name in nats redis auth products productsd cart cartd payments paymentsd expirerd web nginx; do
		[[ -s $STORE_VAR/run/$name.pid ]] || {
			echo "no $name.pid" >&2
			return 1
		}
	done
	env_of payments | grep -qx "STORE_DB=sqlite:$STORE_VAR/db/payments.db"
	env_of paymentsd | grep -qx "STORE_DB=sqlite:$STORE_VAR/db/payments.db"
	env_of paymentsd | grep -qx "NATS_URL=$NATS_URL"
	[[ $(env_of payments) != *REDIS_URL=* && $(env_of paymentsd) != *REDIS_URL=* ]]
	# The web front: no database, the API through the front server itself.
	env_of web | grep -qx "STORE_LISTEN=$STORE_VAR/run/web.sock"
	env_of web | grep -qx "STORE_API_URL=$STORE_URL"
	env_of web | grep -qx "JWT_KEY=$JWT_KEY"
	[[ $(env_of web) != *STORE_ORIGIN=* ]]
	[[ $(env_of web) != *STORE_DB=* && $(env_of web) != *NATS_URL=* ]]
	# The hold time passes through to the products service.
	env_of products | grep -qx "STORE_HOLD_SECONDS=2"

	local id="launcher-$RANDOM$RANDOM"
	api GET / "" -H "X-Request-Id: $id"
	[[ $status_code != 404 && $status_code != 5* ]]
	access_log_line "$id" | jq -e --arg s "unix:$STORE_VAR/run/web.sock" '.upstream == $s'
	local path
	for path in /healthz /readyz /api /api/ /api/nope /api/usersx /api/payment; do
		api GET "$path"
		expect_error 404 "Not Found"
		[[ $(json_get .) == '{"errors":[{"message":"Not Found"}]}' ]]
	done
	api GET /api/payments
	expect_error 401 "Not authorized"
	store_stop
}

@test "store-web not built yet: the web row is skipped, saying so, and \"/\" is nginx's 404; --only web fails" {
	local build
	build=$(build_without store-web)
	STORE_BUILD=$build store_start
	grep -qx "store: skipping web: '$build/bin/store-web' is not built yet" "$STORE_VAR/store-run.out"
	[[ ! -e $STORE_VAR/run/web.pid && ! -e $STORE_VAR/run/web.cmd ]]
	[[ $(<"$STORE_VAR/nginx/nginx.conf") != *web.sock* ]]
	[[ -s $STORE_VAR/run/payments.pid && -s $STORE_VAR/run/expirerd.pid ]]
	api GET /
	expect_error 404 "Not Found"
	api GET /api/payments
	expect_error 401 "Not authorized"
	store_stop

	run env BUILD="$build" "$STORE_ROOT/bin/store-run" --var "$BATS_TEST_TMPDIR/other" \
		--port "$(free_port)" --only web
	[[ $status == 78 ]]
	[[ $output == *"'$build/bin/store-web' is missing: run make (service 'web')"* ]]
}

@test "store-nothp not built: a store that needs nats-server is refused (78) before anything starts" {
	local build
	build=$(build_without store-nothp)
	run env BUILD="$build" "$STORE_ROOT/bin/store-run" --var "$BATS_TEST_TMPDIR/other" \
		--port "$(free_port)" --only cart
	[[ $status == 78 ]]
	[[ $output == *"'$build/bin/store-nothp' is missing: run make (nats-server runs under it)"* ]]
	[[ ! -e $BATS_TEST_TMPDIR/other/run/nats.pid ]]
}

@test "on the embedded default no process maps libmongoc, and only the programs that charge cards map libcurl" {
	store_start auth,products,payments
	local name pid maps n=0
	for name in auth products productsd payments paymentsd; do
		pid=$(<"$STORE_VAR/run/$name.pid")
		maps=$(<"/proc/$pid/maps")
		[[ $maps == *libsqlite3* ]] || { echo "$name: not the program ($pid)" >&2; return 1; }
		[[ $maps != *libmongoc* && $maps != *libbson* ]] || { echo "$name maps libmongoc" >&2; return 1; }
		case $name in
		payments*) [[ $maps == *libcurl* ]] || { echo "$name lacks libcurl" >&2; return 1; } ;;
		*) [[ $maps != *libcurl* ]] || { echo "$name maps libcurl" >&2; return 1; } ;;
		esac
		n=$((n + 1))
	done
	((n == 5))
}
