#!/usr/bin/env bash
# Installs what `deno task bench` compares against and drives: nats-server, redis-server, socat and
# nc (OpenBSD netcat), from Debian/Ubuntu packages. Starts nothing: the benchmark starts every server
# itself on a loopback port and stops it afterwards. Safe to run again.
set -euo pipefail

declare -A pkg_of=([nats-server]=nats-server [redis-server]=redis-server [socat]=socat [nc]=netcat-openbsd)
missing=()
for tool in nats-server redis-server socat nc; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg_of[$tool]}")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bench/setup.sh: nats-server, redis-server, socat and nc are installed"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench/setup.sh: no apt-get here; install these packages yourself: ${missing[*]}" >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "bench/setup.sh: installing ${missing[*]}"
  $sudo apt-get install -y "${missing[@]}" || { $sudo apt-get update && $sudo apt-get install -y "${missing[@]}"; }
  # The Debian redis-server package starts a system service on port 6379; the benchmark does not
  # use it (it starts its own on a free port), so it may be left or stopped.
fi

# 10,000 idle clients need more than 10,000 open files in the server and in the load client. The
# benchmark raises the soft limit to the hard one for every process it starts; check the hard one.
hard=$(ulimit -Hn)
if [ "$hard" != "unlimited" ] && [ "$hard" -lt 10300 ]; then
  echo "bench/setup.sh: the hard open-files limit is $hard; the idle workload needs 10300." >&2
  echo "  Raise it (e.g. 'ulimit -Hn 65536' as root, or nofile in /etc/security/limits.conf)," >&2
  echo "  or run a smaller idle workload: deno task bench --only idle --scale 0.5" >&2
fi
