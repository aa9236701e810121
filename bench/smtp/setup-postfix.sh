#!/usr/bin/env bash
# Sets up a private Postfix instance for the SMTP bench: installs Debian's postfix package if it
# is missing, then writes a config under DIR that listens on 127.0.0.1:PORT only and delivers
# RECIPIENT to a Maildir under DIR, with no DNS. It does not start Postfix: the bench runs
# `postfix -c DIR/etc start` and `postfix -c DIR/etc stop` itself.
#
# Usage: setup-postfix.sh DIR PORT RECIPIENT
# Prints, on its last line, the Maildir (with trailing slash) the recipient's mail lands in.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 DIR PORT RECIPIENT" >&2
  exit 2
fi
dir=$1
port=$2
rcpt=$3
domain=${rcpt#*@}
local_part=${rcpt%@*}

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-postfix: Postfix must be started as root" >&2
  exit 3
fi

if ! command -v postfix >/dev/null 2>&1 && [ ! -x /usr/sbin/postfix ]; then
  echo "setup-postfix: installing Debian's postfix package" >&2
  # "No configuration": the package leaves the system instance unconfigured and stopped, so
  # nothing but the private instance below listens.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postfix >&2; then
    apt-get update -q >&2
    apt-get install -y -q postfix >&2
  fi
fi
export PATH="/usr/sbin:/usr/lib/postfix/sbin:$PATH"

# A user the virtual(8) agent delivers as. virtual_minimum_uid (default 100) rules out system
# users such as root.
vuid=$(id -u nobody)
vgid=$(id -g nobody)

mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail"
# The queue and data directories sit below DIR, so every directory up to DIR must be searchable
# by the postfix user, and postfix-script insists that the queue directory belongs to root.
chmod 0755 "$dir" "$dir/etc" "$dir/queue" "$dir/mail"
chown root:root "$dir/queue"
chown postfix:postfix "$dir/data"
chmod 0700 "$dir/data"

maildir="$dir/mail/$domain/$local_part/Maildir/"
mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp"
chown -R "$vuid:$vgid" "$dir/mail/$domain"

cat >"$dir/etc/main.cf" <<EOF
# Private instance for bench/smtp: loopback only, no DNS, virtual delivery to a Maildir.
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
# No DNS anywhere: this machine has no network, and a lookup would stall the measurement.
smtpd_peername_lookup = no
smtp_host_lookup = native
lmtp_host_lookup = native
smtp_dns_support_level = disabled
# The message sizes of the bench (up to 1 MB) fit the default, raised for headroom.
message_size_limit = 52428800
virtual_mailbox_domains = $domain
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/etc/vmailbox
virtual_uid_maps = static:$vuid
virtual_gid_maps = static:$vgid
virtual_mailbox_limit = 0
# Logs to a file in DIR (there may be no syslog on this machine), read when something fails.
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
biff = no
EOF

echo "$rcpt $domain/$local_part/Maildir/" >"$dir/etc/vmailbox"

# Only the services this flow needs; chroot off (column 5 "n"): the private queue directory
# holds none of the files a chroot would need.
cat >"$dir/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
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
virtual    unix - n n - - virtual
anvil      unix - - n - 1 anvil
scache     unix - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF

postfix -c "$dir/etc" check >&2
echo "$maildir"
