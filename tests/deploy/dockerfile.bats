#!/usr/bin/env bats
# compose/Dockerfile, offline: it passes the linter (tests/deploy/dockerfile-lint:
# the Dockerfile language server's validator plus a hadolint-style checklist),
# the linter fails on each rule broken, and what the Dockerfile installs and
# copies matches what the store builds and runs on this Debian machine.

load 'deploy'

lint() { "$DEPLOY_DIR/dockerfile-lint" "$@"; }

@test "dockerfile: compose/Dockerfile passes the linter" {
	run lint "$STORE_ROOT/compose/Dockerfile"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *clean* ]]
}

# broken SED-SCRIPT RULE: the Dockerfile edited by SED-SCRIPT fails RULE.
broken() {
	local f="$BATS_TEST_TMPDIR/Dockerfile"
	mutate "$STORE_ROOT/compose/Dockerfile" "$1" "$f"
	cp "$STORE_ROOT/compose/Dockerfile.dockerignore" "$f.dockerignore"
	run lint "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *" $2 "* ]]
}

@test "dockerfile: the linter fails on each broken rule of its checklist" {
	broken 's/^EXPOSE 9000/EXPOSES 9000/' SYNTAX
	broken 's/^FROM debian:12-slim AS store$/FROM debian AS store/' DF01
	broken 's/^FROM debian:12-slim AS store-redis$/FROM debian:latest AS store-redis/' DF01
	broken '0,/^USER 10001:10001$/s//USER store/' DF02
	broken '0,/^USER 10001:10001$/s//USER 0:0/' DF02
	broken '0,/^USER 10001:10001$/{//d;}' DF02
	broken 's#^COPY Makefile ./#ADD https://example.com/store.tar.gz ./#' DF03
	broken 's/--no-install-recommends nginx/nginx/' DF04
	broken '0,/rm -rf \/var\/lib\/apt\/lists\/\*/s//true/' DF04
	broken 's/apt-get install -y --no-install-recommends nats-server/apt install -y --no-install-recommends nats-server/' DF04
	broken '0,/^SHELL .*/{//d;}' DF05
	broken 's#^RUN make -j#RUN wget -qO- https://example.com/x | sh \&\& make -j#' DF06
	broken '/^HEALTHCHECK/{N;/redis-cli/d;}' DF07
	broken 's/^ENTRYPOINT \["redis-server"\]/ENTRYPOINT redis-server/' DF08
	broken 's#^WORKDIR /var/lib/store#ENV STRIPE_KEY=sk_test_abcdefghijklmnop\nWORKDIR /var/lib/store#' DF09
	broken 's#^COPY Makefile ./#COPY compose/.env ./#' DF09
	broken 's#^RUN nginx -e stderr#RUN chown -R 10001:10001 /etc/nginx \&\& nginx -e stderr#' DF10
	broken 's#^RUN make -j#RUN cd /src \&\& make -j#' DF11
	broken 's#^WORKDIR /src#WORKDIR src#' DF11
	broken 's/--from=build \/out\/usr/--from=biuld \/out\/usr/' DF12
	broken 's/^EXPOSE 6379/EXPOSE 70000/' DF14
}

@test "dockerfile: the linter wants a .dockerignore that keeps secrets and build output out" {
	local f="$BATS_TEST_TMPDIR/Dockerfile"
	cp "$STORE_ROOT/compose/Dockerfile" "$f"
	run lint "$f"
	[ "$status" -eq 1 ]
	[[ $output == *DF13* ]]
	grep -v '^\*\*/\.env$' "$STORE_ROOT/compose/Dockerfile.dockerignore" >"$f.dockerignore"
	run lint "$f"
	[ "$status" -eq 1 ]
	[[ $output == *"does not exclude **/.env"* ]]
}

# stage_packages STAGE: the Debian packages the stage's apt-get install names.
stage_packages() {
	awk -v stage="$1" '
		/^FROM / { in_stage = ($NF == stage) }
		in_stage && /apt-get install/ { grab = 1 }
		in_stage && grab { print; if ($0 !~ /\\$/ || /rm -rf/) grab = 0 }
	' "$STORE_ROOT/compose/Dockerfile" | tr ' \t\\' '\n\n\n' |
		grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|update)$' | sort -u
}

@test "dockerfile: the build stage installs bin/store-deps' build packages" {
	mapfile -t want < <(sed -n '/^BUILD_PKGS=(/,/^)/p' "$STORE_ROOT/bin/store-deps" |
		sed '1d;$d' | tr ' \t' '\n\n' | grep -E '^[a-z0-9]' | grep -vx libfcgi-bin)
	((${#want[@]} > 5))
	have=$(stage_packages build)
	for p in "${want[@]}"; do
		grep -qx "$p" <<<"$have" || { echo "build stage lacks $p"; return 1; }
	done
}

@test "dockerfile: the store image installs the runtime library of every library the programs link" {
	need objdump dpkg-query
	[ -x "$STORE_BUILD/bin/store-auth" ] || { echo "no build in $STORE_BUILD (make)"; return 1; }
	have=$(stage_packages store)
	for bin in "$STORE_BUILD"/bin/* "$STORE_BUILD"/lib/store/*.so; do
		[ -f "$bin" ] || continue
		for lib in $(objdump -p "$bin" | awk '/NEEDED/ { print $2 }'); do
			path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
			[ -n "$path" ] || { echo "$bin: $lib not found"; return 1; }
			pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(realpath "$path")" 2>/dev/null ||
				dpkg -S "$(realpath "$path" | sed 's#^/usr##')")
			pkg=${pkg%%:*}
			[[ $pkg == libc6 ]] && continue
			grep -qx "$pkg" <<<"$have" || { echo "${bin##*/} links $lib of $pkg, which the store image does not install"; return 1; }
		done
	done
	# The backend modules are in the image where the programs look for them
	# (lib/store beside their sbin).
	grep -qx 'COPY --from=build /out/usr/local/lib/store/ /usr/local/lib/store/' \
		"$STORE_ROOT/compose/Dockerfile"
	# And what the scripts of the image run.
	for p in libfcgi-bin tini ca-certificates; do grep -qx "$p" <<<"$have"; done
}

@test "dockerfile: the store-nats image runs nats-server through store-nothp, which needs only libc" {
	need objdump
	[ -x "$STORE_BUILD/bin/store-nothp" ] || { echo "no build in $STORE_BUILD (make)"; return 1; }
	local stage
	stage=$(awk '/^FROM / { in_stage = ($NF == "store-nats") } in_stage' "$STORE_ROOT/compose/Dockerfile")
	grep -qx 'COPY --from=build /out/usr/local/sbin/store-nothp /usr/local/sbin/' <<<"$stage"
	grep -qx 'ENTRYPOINT \["/usr/local/sbin/store-nothp", "nats-server"\]' <<<"$stage"
	# The image has none of the store's libraries: store-nothp links libc
	# alone (and the sanitizers' runtimes, in a SAN=1 build).
	[[ $(objdump -p "$STORE_BUILD/bin/store-nothp" | awk '/NEEDED/ { print $2 }' |
		grep -vE '^lib(asan|ubsan)\.so') == libc.so.6 ]]
}

@test "dockerfile: every COPY source exists and no ignore pattern hides it" {
	cd "$STORE_ROOT"
	mapfile -t srcs < <(grep -E '^COPY ' compose/Dockerfile | grep -v -- '--from=' |
		awk '{ for (i = 2; i < NF; i++) print $i }')
	((${#srcs[@]} >= 5))
	for s in "${srcs[@]}"; do
		[ -e "$s" ] || { echo "COPY $s: no such file"; return 1; }
		top=${s%%/*}
		if grep -qxE "$top|$top/|${s%/}" compose/Dockerfile.dockerignore; then
			echo "COPY $s, but compose/Dockerfile.dockerignore excludes it"
			return 1
		fi
	done
	# The scripts the images run are executable in git's eyes too.
	for f in compose/store-entrypoint compose/store-probe compose/nginx-container; do [ -x "$f" ]; done
}

@test "dockerfile: the container scripts pass shellcheck" {
	need shellcheck
	cd "$STORE_ROOT"
	shellcheck compose/store-entrypoint compose/store-probe compose/nginx-container tests/deploy/install-tools
}
