#!/usr/bin/env bats
# make install PREFIX=...: programs, the library with its pkg-config file, the
# headers and the man pages, usable by a program built against them.

load '../lib/store'

setup_file() {
	export PREFIX="$BATS_FILE_TMPDIR/prefix"
	# Install from the tested build folder (already built: nothing is rebuilt).
	local san=0
	[[ $STORE_BUILD == *san* ]] && san=1
	make -s -C "$STORE_ROOT" SAN="$san" BUILD="$STORE_BUILD" PREFIX="$PREFIX" install \
		>"$BATS_FILE_TMPDIR/install.log" 2>&1
}

@test "make install puts the programs, storectl, store-nothp and the launcher in place" {
	local p
	for p in store-auth store-products store-cart store-payments productsd cartd paymentsd expirerd \
		store-web store-nothp; do
		[[ -x $PREFIX/sbin/$p ]] || { echo "missing sbin/$p" >&2; return 1; }
	done
	[[ -x $PREFIX/bin/storectl && -x $PREFIX/bin/store-run && -x $PREFIX/bin/store-nginx-conf ]]
}

@test "make install puts the MongoDB module where the installed programs load it from" {
	[[ -f $PREFIX/lib/store/db_mongo.so ]]
	# The installed program finds it beside its own folder (PREFIX/lib/store)
	# and gets as far as the server, which does not answer.
	run env -i PATH="$PATH" STORE_LISTEN="$BATS_TEST_TMPDIR/a.sock" \
		JWT_KEY=0123456789abcdef0123456789abcdef \
		STORE_DB="mongodb://127.0.0.1:1/shop?serverSelectionTimeoutMS=200&connectTimeoutMS=200" \
		"$PREFIX/sbin/store-auth"
	[[ $output == *"cannot reach mongodb database 'shop'"* ]] || { echo "exited $status: $output" >&2; return 1; }
	# Its one exported symbol is its entry point.
	run nm -D --defined-only "$PREFIX/lib/store/db_mongo.so"
	[[ $status == 0 && $(awk 'NF == 3 { print $3 }' <<<"$output") == store_db_module ]] || {
		echo "$output" >&2; return 1; }
}

@test "make install puts every man page in its section" {
	[[ -f $PREFIX/share/man/man1/storectl.1 ]]
	[[ -f $PREFIX/share/man/man3/libstore.3 ]]
	[[ -f $PREFIX/share/man/man7/store.7 ]]
	[[ -f $PREFIX/share/man/man8/store-auth.8 ]]
	[[ -f $PREFIX/share/man/man8/expirerd.8 ]]
	[[ -f $PREFIX/share/man/man8/store-nothp.8 ]]
}

@test "a program builds and links against the installed libstore through pkg-config" {
	cat >"$BATS_TEST_TMPDIR/hello.c" <<'C'
#include <stdio.h>
#include <store/oid.h>
#include <store/err.h>
int main(void) {
	char id[STORE_OID_LEN + 1];
	store_oid_new(id);
	printf("%s %d %s\n", id, store_oid_valid(id), store_strerror(STORE_ENOTFOUND));
	return 0;
}
C
	export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
	run pkg-config --cflags --libs libstore
	[[ $status == 0 ]]
	[[ $output == *"-I$PREFIX/include"* && $output == *"-lstore"* ]]
	# The sanitizer build's archive needs the sanitizer runtime as well.
	local san=()
	[[ $STORE_BUILD == *san* ]] && san=(-fsanitize=address,undefined)
	run cc "${san[@]}" -o "$BATS_TEST_TMPDIR/hello" "$BATS_TEST_TMPDIR/hello.c" \
		$(pkg-config --cflags --libs libstore)
	[[ $status == 0 ]] || { echo "$output" >&2; return 1; }
	run "$BATS_TEST_TMPDIR/hello"
	[[ $status == 0 ]]
	[[ $output =~ ^[0-9a-f]{24}\ 1\ not\ found$ ]]
}

@test "the installed libstore is only the shared API: store_ symbols, no web front or storectl header" {
	[[ -f $PREFIX/lib/libstore.a && -f $PREFIX/include/store/db.h ]]
	[[ ! -e $PREFIX/include/store/web.h ]]
	local other
	other=$(nm -g --defined-only "$PREFIX/lib/libstore.a" | awk 'NF == 3 && $3 !~ /^store_/ {print $3}')
	if [[ -n $other ]]; then
		echo "libstore exports names outside its API: $other" >&2
		return 1
	fi
	# The web front's and storectl's code is not in it.
	if nm "$PREFIX/lib/libstore.a" | grep -E ' [A-Za-z] (web_|ctl_|cmd_)'; then
		echo "libstore holds the web front's or storectl's code" >&2
		return 1
	fi
}
