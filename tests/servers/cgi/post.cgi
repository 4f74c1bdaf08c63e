#!/bin/sh
# Echoes the length and SHA-256 of the request body, then the body itself.
body=@STATE@/post.$$
head -c "${CONTENT_LENGTH:-0}" >"$body"
printf 'Content-Type: application/octet-stream\n\n'
printf 'length=%s sha256=%s\n' "$(wc -c <"$body")" "$(sha256sum <"$body" | cut -d' ' -f1)"
cat "$body"
rm -f "$body"
