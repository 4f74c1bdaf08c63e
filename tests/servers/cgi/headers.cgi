#!/bin/sh
# Status, repeated and unusual headers, and a body without a final newline.
printf 'Status: 202 Accepted\n'
printf 'Content-Type: application/x-cgiguard-test; charset=utf-8\n'
printf 'X-Cgiguard-Test: one\nX-Cgiguard-Test: two\n'
printf 'Set-Cookie: a=1; Path=/\nSet-Cookie: b=2; Path=/\n'
printf 'Cache-Control: no-store\n'
printf '\n'
printf 'query=%s method=%s args=%d:' "$QUERY_STRING" "$REQUEST_METHOD" $#
printf ' [%s]' "$@"
printf '\n'
printf 'caf\303\251 \342\202\254 end'
