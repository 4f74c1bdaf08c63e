#!/bin/sh
# A large body: the 1 MiB fixture repeated. Query: mb=N.
n=${QUERY_STRING#mb=}
case $n in '' | *[!0-9]*) printf 'Status: 400\n\n'; exit 1 ;; esac
printf 'Content-Type: application/octet-stream\n\n'
i=0
while [ $i -lt "$n" ]; do
	cat "@FIXTURES@/binary.bin"
	i=$((i + 1))
done
