#!/usr/bin/env bats
# The compose file (compose/compose.yaml), offline: Debian's docker-compose
# validates it ("docker-compose config" checks it against the Compose schema
# and resolves variables and anchors), the store's rules hold on the result,
# secrets come from the uncommitted compose/.env only, and the validation
# fails on a broken file.

load 'deploy'

setup_file() {
	need docker-compose
}

@test "compose: docker-compose config validates compose/compose.yaml" {
	run compose_config --quiet
	echo "$output"
	[ "$status" -eq 0 ]
	run compose_config --services
	[ "$status" -eq 0 ]
	for s in nginx nats redis auth products productsd cart cartd payments paymentsd expirerd web; do
		grep -qx "$s" <<<"$output"
	done
}

@test "compose: the store's rules hold and every row of the service table runs" {
	compose_config >"$BATS_TEST_TMPDIR/config.yaml"
	run deploy_node compose-check.mjs --config "$BATS_TEST_TMPDIR/config.yaml" --table "$(service_table)" \
		--compose-file "$STORE_ROOT/compose/compose.yaml" --env-example "$STORE_ROOT/compose/env.example"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "compose: it refuses to start without JWT_KEY, and git ignores compose/.env" {
	JWT_KEY='' run compose_config --quiet
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *JWT_KEY* ]]
	# The example leaves every secret empty.
	grep -qx 'JWT_KEY=' "$STORE_ROOT/compose/env.example"
	grep -qx 'STRIPE_KEY=' "$STORE_ROOT/compose/env.example"
	cd "$STORE_ROOT"
	git check-ignore -q compose/.env
	! git check-ignore -q compose/env.example
}

@test "compose: the secrets reach only the containers that use them" {
	compose_config >"$BATS_TEST_TMPDIR/config.yaml"
	run deploy_node - "$BATS_TEST_TMPDIR/config.yaml" <<'EOF'
import { readFileSync } from "node:fs";
import { YAML } from "./lib.mjs";
const cfg = YAML.parse(readFileSync(process.argv[2], "utf8"));
for (const [name, s] of Object.entries(cfg.services)) {
  const e = s.environment ?? {};
  console.log(name, "JWT_KEY" in e ? "jwt" : "-", "STRIPE_KEY" in e ? "stripe" : "-");
}
EOF
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'payments jwt stripe' <<<"$output"
	for s in auth products cart web; do grep -qx "$s jwt -" <<<"$output"; done
	for s in nginx nats redis productsd cartd paymentsd expirerd; do grep -qx "$s - -" <<<"$output"; done
}

deploy_node() {
	local script=$1
	shift
	if [[ $script == - ]]; then
		(cd "$DEPLOY_DIR" && node --input-type=module - "$@")
	else
		node "$DEPLOY_DIR/$script" "$@"
	fi
}

# broken_compose SED-SCRIPT WANT: compose.yaml edited by SED-SCRIPT fails
# "docker-compose config" (the edited copy stays in compose/ for the paths).
broken_compose() {
	local f="$BATS_TEST_TMPDIR/compose.yaml"
	mutate "$STORE_ROOT/compose/compose.yaml" "$1" "$f"
	COMPOSE_FILE_UNDER_TEST=$f run compose_config --quiet
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"$2"* ]]
}

@test "compose: docker-compose config fails on a broken compose file" {
	broken_compose 's/^  restart: unless-stopped/  restat: unless-stopped/' 'restat'
	broken_compose 's/^    read_only: true/    read_only: [true]/' 'read_only'
	broken_compose 's/^  nats-data:$/  nats-data: [1]/' 'nats-data'
	broken_compose 's/^    depends_on:$/    depends_ob:/' 'depends_ob'
	broken_compose 's/^      - "${STORE_BIND:-127.0.0.1}:${STORE_PORT:-8080}:8080"/      - "127.0.0.1:eighty:8080"/' 'ports'
}

@test "compose: the store's rules fail on a compose file that breaks them" {
	local f="$BATS_TEST_TMPDIR/compose.yaml" cfg="$BATS_TEST_TMPDIR/config.yaml"
	check() {
		mutate "$STORE_ROOT/compose/compose.yaml" "$1" "$f"
		COMPOSE_FILE_UNDER_TEST=$f compose_config >"$cfg"
		run deploy_node compose-check.mjs --config "$cfg" --table "$(service_table)"
		echo "$output"
		[ "$status" -eq 1 ]
		[[ $output == *"$2"* ]]
	}
	check '0,/^  read_only: true/s//  read_only: false/' 'read-only'
	check 's/^  STORE_LISTEN: 0.0.0.0:9000/  STORE_LISTEN: 127.0.0.1:9000/' 'STORE_LISTEN'
	check 's#STORE_DB: sqlite:/var/lib/store/db/cart.db#STORE_DB: sqlite:/tmp/cart.db#' 'not on a named volume'
	check 's#- db-payments:/var/lib/store/db#- db-cart:/var/lib/store/db#' 'several services'
	check 's/command: \["cartd"\]/command: ["productsd"]/' 'the service table says cartd'
	check '/^  redis:$/,/^  # ---- auth/{/^    healthcheck:$/,/^      start_period: 10s$/d;}' 'no healthcheck'
}
