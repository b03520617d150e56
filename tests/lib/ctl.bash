# ctl.bash - helpers for the tests of storectl (tests/bats/storectl.bats), on
# top of store.bash and shop.bash (load all three).
#
#   storectl ARGS...      the storectl of STORE_BUILD, with the store's NATS_URL
#   run_ctl ARGS...       bats' run of it, stdout and stderr apart: status,
#                         output (stdout), stderr
#   ctl_json [-s] [-r] FILTER   jq -c FILTER on the JSON lines of the last stdout
#                         ($output); -s: slurped into one array
#   ctl_expect [JQ-ARGS...] FILTER   FILTER holds for the lines of $output
#   ctl_redis_start       a redis-server for the jobs tests when the launcher
#                         runs none (REDIS_URL exported); ctl_redis_stop
#   ctl_expirerd_start    an expirerd on that Redis when the launcher runs none;
#                         ctl_expirerd_stop
#   cart_lines            the current user's cart lines, comparable: sorted
#                         [{id, name, price, version, qty, limit}]

# status, output and stderr are set by bats' run.
# shellcheck disable=SC2154

storectl() {
	"$STORE_BUILD/bin/storectl" "$@"
}

# run_ctl ARGS...: run storectl with stdout in $output and stderr in $stderr.
run_ctl() {
	run --separate-stderr "$STORE_BUILD/bin/storectl" "$@"
}

# ctl_json [-s] [-r] FILTER: jq FILTER over the JSON lines of $output, compact;
# -s slurps them into one array, -r prints strings raw.
ctl_json() {
	local -a flags=(-c)
	while [[ $1 == -s || $1 == -r ]]; do
		flags+=("$1")
		shift
	done
	jq "${flags[@]}" "$1" <<<"$output"
}

# ctl_expect [JQ-ARGS...] FILTER: FILTER, applied to each JSON line of $output,
# gives at least one result and only true ones (jq -e alone passes on no input).
ctl_expect() {
	local filter=${*: -1}
	if ! jq -e -s "${@:1:$#-1}" "[.[] | $filter] | length > 0 and all" <<<"$output" >/dev/null; then
		printf 'not true for the lines of stdout: %s\nstdout: %s\n' "$filter" "$output" >&2
		return 1
	fi
}

# expect_exit CODE: the last run exited CODE; says what it printed otherwise.
expect_exit() {
	if [[ $status != "$1" ]]; then
		printf 'expected exit %s, got %s\nstdout: %s\nstderr: %s\n' "$1" "$status" \
			"$output" "${stderr:-}" >&2
		return 1
	fi
}

# expect_stderr TEXT: the last run's stderr holds TEXT.
expect_stderr() {
	if [[ ${stderr:-} != *"$1"* ]]; then
		printf 'stderr lacks "%s": %s\n' "$1" "${stderr:-}" >&2
		return 1
	fi
}

# dead_letter_of EVENT-ID [DEAD-LS-OPTIONS...]: storectl dead ls lists a dead
# letter of that event; for wait_until.
dead_letter_of() {
	local id=$1
	shift
	"$STORE_BUILD/bin/storectl" dead ls "$@" | jq -e -s --arg e "$id" 'any(.[]; .event_id == $e)' >/dev/null
}

# job_of ID: storectl jobs ls lists job ID; for wait_until.
job_of() {
	"$STORE_BUILD/bin/storectl" jobs ls | jq -e -s --arg s "$1" 'any(.[]; .id == $s)' >/dev/null
}

# --- Redis and expirerd, for the jobs tests ---------------------------------------

# ctl_redis_start: REDIS_URL of the launcher's Redis, or a redis-server of our
# own on a free port in the file's temporary folder.
ctl_redis_start() {
	local port dir url
	if url=$(grep -h '^REDIS_URL=' "$STORE_VAR"/run/*.env 2>/dev/null | head -n 1) && [[ -n $url ]]; then
		export REDIS_URL=${url#REDIS_URL=}
		return 0
	fi
	command -v redis-server >/dev/null || return 1
	dir="$BATS_FILE_TMPDIR/redis"
	mkdir -p "$dir"
	port=$(free_port)
	redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
		--appendonly no --daemonize no >"$dir/redis.log" 2>&1 3>&- &
	echo $! >"$dir/redis.pid"
	export REDIS_URL="redis://127.0.0.1:$port"
	wait_until 10 redis-cli -p "$port" ping
}

ctl_redis_stop() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/redis/redis.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
	while _alive "$pid"; do sleep 0.05; done
	rm -f "$BATS_FILE_TMPDIR/redis/redis.pid"
}

# ctl_expirerd_start: an expirerd on REDIS_URL and the store's NATS, unless the
# launcher runs one.
ctl_expirerd_start() {
	local dir="$BATS_FILE_TMPDIR/expirerd"
	[[ ! -s $STORE_VAR/run/expirerd.cmd ]] || return 0
	mkdir -p "$dir"
	env REDIS_URL="$REDIS_URL" NATS_URL="$NATS_URL" \
		"$STORE_BUILD/bin/expirerd" </dev/null >>"$dir/expirerd.log" 2>&1 3>&- &
	echo $! >"$dir/expirerd.pid"
}

ctl_expirerd_stop() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/expirerd/expirerd.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
	while _alive "$pid"; do sleep 0.05; done
	rm -f "$BATS_FILE_TMPDIR/expirerd/expirerd.pid"
}

# --- the cart --------------------------------------------------------------------

# cart_lines: the current user's cart lines, sorted by product id, in a form
# two carts can be compared by.
cart_lines() {
	api GET /api/cart || return 1
	expect_status 200 || return 1
	jq -c '[(.info // [])[] | {id: .product.id, name: .product.name,
		price: .product.price, version: .product.version, qty, limit}] | sort_by(.id)' <<<"$body"
}

# cart_lines_are JSON: cart_lines equals JSON; for wait_until.
cart_lines_are() {
	local now
	now=$(cart_lines) || return 1
	if [[ $now != "$1" ]]; then
		printf 'cart lines: %s\nwanted:     %s\n' "$now" "$1" >&2
		return 1
	fi
}
