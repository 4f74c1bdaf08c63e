#!/bin/sh
# 1 MiB with every byte value, NULs and CRs included.
printf 'Content-Type: application/octet-stream\n\n'
exec cat "@FIXTURES@/binary.bin"
