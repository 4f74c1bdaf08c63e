#!/usr/bin/env bats
# RECIPES.md is generated from the configs the server tests use; it must not drift.

@test "RECIPES.md matches the configs the server tests use" {
	run diff -u "$BATS_TEST_DIRNAME/RECIPES.md" <(bash "$BATS_TEST_DIRNAME/gen-recipes.bash")
	[ "$status" -eq 0 ] || {
		echo "$output"
		echo "regenerate: bash tests/servers/gen-recipes.bash >tests/servers/RECIPES.md"
		false
	}
}
