#!/usr/bin/env bash
# Sets up a private Postfix instance for the outbound bench: installs Debian's postfix package
# if it is missing (it also brings smtp-sink), then writes a config under DIR that takes mail
# on 127.0.0.1:PORT only and relays everything to [127.0.0.1]:SINKPORT with up to CONNECTIONS
# sessions, no DNS. Delivery is held back (defer_transports = smtp) so the queue can be
# filled first; the bench clears it, reloads and flushes. It does not start Postfix: the bench
# runs `postfix -c DIR/etc start` and `stop` itself.
#
# Usage: setup-postfix.sh DIR PORT SINKPORT CONNECTIONS
#        setup-postfix.sh --install    (only make sure the package is installed)
set -euo pipefail
. "$(dirname "$0")/../lib/postfix-common.sh"

if [ "${1:-}" = "--install" ]; then
  postfix_install
  exit 0
fi
if [ $# -ne 4 ]; then
  echo "usage: $0 DIR PORT SINKPORT CONNECTIONS | $0 --install" >&2
  exit 2
fi
dir=$1
port=$2
sink=$3
conns=$4

postfix_require_root
postfix_install
export PATH="/usr/sbin:/usr/lib/postfix/sbin:$PATH"
postfix_dirs "$dir"

# Loopback only, no DNS, everything relayed to the sink.
postfix_main_cf "$dir"
cat >>"$dir/etc/main.cf" <<EOF
# The fill is not what is measured: no slowing of smtpd while the queue manager catches up.
in_flow_delay = 0
relayhost = [127.0.0.1]:$sink
# Held back while the queue fills; the bench empties this, reloads and runs postqueue -f.
defer_transports = smtp
# CONNECTIONS sessions to the one destination from the start (Postfix would otherwise begin
# at 5 and grow with each success), reused from message to message.
default_destination_concurrency_limit = $conns
smtp_destination_concurrency_limit = $conns
initial_destination_concurrency = $conns
default_process_limit = $((conns + 50))
smtp_connection_cache_on_demand = yes
EOF

postfix_master_cf "$dir" "$port"
cat >>"$dir/etc/master.cf" <<EOF
# postqueue -f checks that pickup answers before it asks for the flush.
pickup     unix n - n 60 1 pickup
smtp       unix - - n - - smtp
relay      unix - - n - - smtp
EOF

postfix -c "$dir/etc" check >&2
