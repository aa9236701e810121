# Shell functions the benches' private Postfix set-ups share (bench/smtp/setup-postfix.sh,
# bench/outbound/setup-postfix.sh): installing Debian's package, the instance's directories,
# the part of main.cf and master.cf every private instance has. Sourced, not run.

# Installs Debian's postfix package when it is missing (it brings smtp-source and smtp-sink).
postfix_install() {
  if command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ]; then
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-postfix: postfix is not installed and only root can install it" >&2
    exit 3
  fi
  echo "setup-postfix: installing Debian's postfix package" >&2
  # "No configuration": the package leaves the system instance unconfigured and stopped, so
  # nothing but the private instance listens.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postfix >&2; then
    apt-get update -q >&2
    apt-get install -y -q postfix >&2
  fi
}

postfix_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-postfix: Postfix must be started as root" >&2
    exit 3
  fi
}

# postfix_dirs DIR: etc, queue and data below DIR, owned and searchable as Postfix wants them.
postfix_dirs() {
  local dir=$1
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
  # The queue and data directories sit below DIR, so every directory up to DIR must be
  # searchable by the postfix user, and postfix-script insists that the queue directory
  # belongs to root.
  chmod 0755 "$dir" "$dir/etc" "$dir/queue"
  chown root:root "$dir/queue"
  chown postfix:postfix "$dir/data"
  chmod 0700 "$dir/data"
}

# postfix_main_cf DIR: the first part of DIR/etc/main.cf (loopback only, no DNS, logs to a file
# in DIR); the caller appends what its flow needs.
postfix_main_cf() {
  local dir=$1
  cat >"$dir/etc/main.cf" <<EOF
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
smtp_dns_support_level = disabled
message_size_limit = 52428800
# Logs to a file in DIR (there may be no syslog on this machine), read when something fails.
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
biff = no
EOF
}

# postfix_master_cf DIR PORT: DIR/etc/master.cf with smtpd on 127.0.0.1:PORT and the services
# every flow needs; the caller appends its delivery agent. Chroot off (column 5 "n"): the
# private queue directory holds none of the files a chroot would need.
postfix_master_cf() {
  local dir=$1 port=$2
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
anvil      unix - - n - 1 anvil
scache     unix - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
}
