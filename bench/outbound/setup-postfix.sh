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

install_postfix() {
  if command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ]; then
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-postfix: postfix is not installed and only root can install it" >&2
    exit 3
  fi
  echo "setup-postfix: installing Debian's postfix package" >&2
  # "No configuration": the package leaves the system instance unconfigured and stopped, so
  # nothing but the private instance below listens.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postfix >&2; then
    apt-get update -q >&2
    apt-get install -y -q postfix >&2
  fi
}

if [ "${1:-}" = "--install" ]; then
  install_postfix
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

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-postfix: Postfix must be started as root" >&2
  exit 3
fi
install_postfix
export PATH="/usr/sbin:/usr/lib/postfix/sbin:$PATH"

mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
# The queue and data directories sit below DIR, so every directory up to DIR must be searchable
# by the postfix user, and postfix-script insists that the queue directory belongs to root.
chmod 0755 "$dir" "$dir/etc" "$dir/queue"
chown root:root "$dir/queue"
chown postfix:postfix "$dir/data"
chmod 0700 "$dir/data"

cat >"$dir/etc/main.cf" <<EOF
# Private instance for bench/outbound: loopback only, no DNS, everything relayed to the sink.
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-bench.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
relay_domains =
local_recipient_maps =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_banner = \$myhostname ESMTP
# The fill is not what is measured: no slowing of smtpd while the queue manager catches up.
in_flow_delay = 0
# No DNS anywhere: the next hop is an address.
smtpd_peername_lookup = no
smtp_host_lookup = native
smtp_dns_support_level = disabled
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
message_size_limit = 52428800
# Logs to a file in DIR (there may be no syslog on this machine), read when something fails.
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
biff = no
EOF

# Only the services this flow needs; chroot off (column 5 "n"): the private queue directory
# holds none of the files a chroot would need.
cat >"$dir/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
# postqueue -f checks that pickup answers before it asks for the flush.
pickup     unix n - n 60 1 pickup
cleanup    unix n - n - 0 cleanup
qmgr       unix n - n 300 1 qmgr
rewrite    unix - - n - - trivial-rewrite
bounce     unix - - n - 0 bounce
defer      unix - - n - 0 bounce
trace      unix - - n - 0 bounce
verify     unix - - n - 1 verify
flush      unix n - n 1000? 0 flush
proxymap   unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq      unix n - n - - showq
error      unix - - n - - error
retry      unix - - n - - error
discard    unix - - n - - discard
smtp       unix - - n - - smtp
relay      unix - - n - - smtp
anvil      unix - - n - 1 anvil
scache     unix - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF

postfix -c "$dir/etc" check >&2
