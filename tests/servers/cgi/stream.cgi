#!/bin/sh
# Streams 6 lines 0.4 s apart, each with the time it was written (ms since the
# epoch): a client must see each one as it is written, not all at the end.
printf 'Content-Type: text/plain\n\n'
i=0
while [ $i -lt 6 ]; do
	echo "line $i $(date +%s%3N)"
	i=$((i + 1))
	[ $i -lt 6 ] && sleep 0.4
done
