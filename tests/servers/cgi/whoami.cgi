#!/bin/sh
# The user and group the CGI runs as.
printf 'Content-Type: text/plain\n\n'
echo "user=$(id -un) group=$(id -gn)"
