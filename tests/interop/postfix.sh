# shellcheck shell=bash
# A private Postfix's configuration pieces shared by the interop scripts
# (sourced; defines functions only, no side effects).

# The master.cf of a private Postfix: no chroot, smtpd only on LISTEN
# (ADDR:PORT), and the services relaying and local delivery need; extra
# service lines (e.g. "virtual unix - n n - - virtual") follow as arguments.
postfix_master_cf() { # postfix_master_cf FILE LISTEN [SERVICE_LINE...]
    local file=$1 listen=$2
    shift 2
    {
        echo "$listen inet n - n - - smtpd"
        cat <<'EOF2'
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
proxywrite unix - - n -  1 proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF2
        local line
        for line in "$@"; do echo "$line"; done
    } >"$file"
}
