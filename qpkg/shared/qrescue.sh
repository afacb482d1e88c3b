#!/bin/sh
# qrescue service script (QTS busybox sh). QTS runs "qrescue.sh start" at boot when the app
# is enabled ([qrescue] Enable = TRUE in /etc/config/qpkg.conf) and "stop" at shutdown;
# App Center runs start/stop/restart; the uninstaller runs "stop" and then "remove".
#
#   start    recreate /usr/bin/qrescue (QTS's /usr/bin is a RAM disk) and start the
#            reset-button watcher: qrescue watch --foreground $WATCH_ARGS; a disabled
#            app is not started: the message names the command that enables it, exit 1
#            (as QDK's template does)
#   stop     SIGTERM to the watcher, wait up to 10 s (then SIGKILL)
#   restart  stop, then start; a disabled app: nothing is stopped, exit 1
#   status   "running (pid N); stores: ...; button: ..." with exit 0, or "stopped" with exit 3
#   link     recreate /usr/bin/qrescue and the optional man page / completion links
#   remove   stop, then delete those links (the package is being removed)
#
# Watcher options: /etc/config/qrescue/watch.conf (optional, root-only), one line
#   WATCH_ARGS="--device /dev/input/event0 --on-hold '/share/homes/admin/hold.sh now'"
# The value is split into words at blanks, '...' groups words; it is never evaluated by
# the shell, so $ ` ; and the like are plain characters. See watch.conf.example.

PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin
export PATH

QPKG_NAME=qrescue
QPKG_CONF=/etc/config/qpkg.conf
STATE_DIR=/etc/config/qrescue
WATCH_CONF=$STATE_DIR/watch.conf
PIDFILE=/var/run/qrescue.pid
LOGFILE=/var/log/qrescue.log
PATH_LINK=/usr/bin/qrescue
STOP_TIMEOUT=10

# QTS's Resource Monitor attributes processes carrying QNAP_QPKG to the app.
QNAP_QPKG=$QPKG_NAME
export QNAP_QPKG

QPKG_DIR=$(/sbin/getcfg "$QPKG_NAME" Install_Path -f "$QPKG_CONF" 2>/dev/null)
if [ -z "$QPKG_DIR" ] || [ ! -d "$QPKG_DIR" ]; then
	# Not registered (yet): use the directory this script is installed in.
	QPKG_DIR=$(dirname "$(readlink -f "$0")")
fi
BIN=$QPKG_DIR/qrescue

# say LEVEL TEXT: to the console and, when QTS's log_tool exists, to the system event
# log (LEVEL 0 information, 1 warning, 2 error).
say() {
	level=$1
	shift
	if [ "$level" -eq 0 ]; then
		echo "$QPKG_NAME: $*"
	else
		echo "$QPKG_NAME: $*" >&2
	fi
	if [ -x /sbin/log_tool ]; then
		/sbin/log_tool -t "$level" -uSystem -p127.0.0.1 -mlocalhost -a "[$QPKG_NAME] $*" >/dev/null 2>&1 || :
	fi
}

# nap: a short pause (busybox builds without fractional sleep get one second).
nap() {
	sleep 0.2 2>/dev/null || sleep 1
}

# is_watcher PID: PID is a live process running "$BIN watch ..." (argv[0] is the binary,
# or argv[1] when an interpreter runs it). Guards every signal we send against a stale
# pid file whose number now belongs to another process. Zombies have an empty cmdline.
is_watcher() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$1/cmdline" ] || return 1
	tr '\000' '\n' <"/proc/$1/cmdline" 2>/dev/null | awk -v bin="$BIN" '
		NR <= 3 { a[NR] = $0 }
		END { exit !((a[1] == bin && a[2] == "watch") || (a[2] == bin && a[3] == "watch")) }'
}

# running_pid: print the watcher's pid (from the pid file, else by scanning /proc in case
# the pid file was lost); fail when no watcher runs.
running_pid() {
	pid=$(cat "$PIDFILE" 2>/dev/null)
	if is_watcher "$pid"; then
		echo "$pid"
		return 0
	fi
	for dir in /proc/[0-9]*; do
		pid=${dir#/proc/}
		if is_watcher "$pid"; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

# watch_args: print the watcher's extra arguments from $WATCH_CONF, one per line. Fails
# (and the watcher is not started) when the file is unsafe or malformed.
watch_args() {
	[ -e "$WATCH_CONF" ] || return 0
	# The file can add "--on-hold COMMAND", which runs as root: only root may write it.
	# (ls, not stat -c: QTS's busybox may be built without stat's format option.)
	# shellcheck disable=SC2012
	mode=$(ls -ln "$WATCH_CONF" | awk '{ print $1 }')
	# shellcheck disable=SC2012
	owner=$(ls -ln "$WATCH_CONF" | awk '{ print $3 }')
	case $mode in
	-????-??-*) ;;
	*)
		say 2 "not starting the watcher: $WATCH_CONF must be a regular file that only its owner can write (mode $mode)"
		return 1
		;;
	esac
	if [ "$owner" != 0 ]; then
		say 2 "not starting the watcher: $WATCH_CONF must be owned by root (uid $owner)"
		return 1
	fi
	if ! out=$(awk '
		function fail(msg) { print "line " NR ": " msg; bad = 1; exit 1 }
		/^[ \t]*(#.*)?\r?$/ { next }
		{
			line = $0
			sub(/^[ \t]+/, "", line)
			sub(/[ \t\r]+$/, "", line)
			if (line !~ /^WATCH_ARGS=".*"$/) fail("expected WATCH_ARGS=\"...\"")
			val = substr(line, 13, length(line) - 13)
			if (index(val, "\"")) fail("the value contains a double quote")
			have = 1
		}
		END {
			if (bad) exit 1
			if (!have) exit 0
			word = ""; inword = 0; q = 0
			for (i = 1; i <= length(val); i++) {
				c = substr(val, i, 1)
				if (q) { if (c == "\047") q = 0; else word = word c; continue }
				if (c == "\047") { q = 1; inword = 1; continue }
				if (c == " " || c == "\t") {
					if (inword) { print word; word = ""; inword = 0 }
					continue
				}
				word = word c; inword = 1
			}
			if (q) { print "unterminated single quote in WATCH_ARGS"; exit 1 }
			if (inword) print word
		}' "$WATCH_CONF"); then
		say 2 "not starting the watcher: $WATCH_CONF: $out"
		return 1
	fi
	[ -z "$out" ] || printf '%s\n' "$out"
}

# link_into SOURCE DIR...: symlink SOURCE into every DIR that exists (optional files).
link_into() {
	src=$1
	shift
	[ -e "$src" ] || return 0
	for dir in "$@"; do
		[ -d "$dir" ] && ln -sf "$src" "$dir/${src##*/}"
	done
	return 0
}

do_link() {
	[ -x "$BIN" ] || return 0
	# Start afresh: after an upgrade some targets (an optional file) may be gone.
	do_unlink
	if [ -e "$PATH_LINK" ] && [ ! -L "$PATH_LINK" ]; then
		say 1 "replacing the file $PATH_LINK with a link to $BIN"
	fi
	ln -sf "$BIN" "$PATH_LINK"
	link_into "$QPKG_DIR/share/man/man8/qrescue.8" \
		/usr/share/man/man8 /usr/local/share/man/man8 /opt/share/man/man8
	link_into "$QPKG_DIR/share/bash-completion/completions/qrescue" \
		/usr/share/bash-completion/completions /etc/bash_completion.d /opt/share/bash-completion/completions
}

# Delete the links do_link made, and only links that point into the package directory.
do_unlink() {
	for link in "$PATH_LINK" \
		/usr/share/man/man8/qrescue.8 /usr/local/share/man/man8/qrescue.8 /opt/share/man/man8/qrescue.8 \
		/usr/share/bash-completion/completions/qrescue /etc/bash_completion.d/qrescue \
		/opt/share/bash-completion/completions/qrescue; do
		[ -L "$link" ] || continue
		case $(readlink "$link") in
		"$QPKG_DIR"/*) rm -f "$link" ;;
		esac
	done
}

# enabled: the app is enabled in App Center ([qrescue] Enable = TRUE), as QDK's template
# reads it (getcfg ... Enable -u -d FALSE).
enabled() {
	[ "$(/sbin/getcfg "$QPKG_NAME" Enable -u -d FALSE -f "$QPKG_CONF" 2>/dev/null)" = TRUE ]
}

# refuse_disabled: what start and restart of a disabled app do (QDK's template: a message
# and exit 1), with the command that enables it.
refuse_disabled() {
	echo "$QPKG_NAME is disabled: not starting. Enable it in App Center, or run: qpkg_service enable $QPKG_NAME"
	return 1
}

do_start() {
	enabled || {
		refuse_disabled
		return 1
	}
	if [ ! -x "$BIN" ]; then
		say 2 "cannot start: $BIN is missing"
		return 1
	fi
	do_link
	if pid=$(running_pid); then
		echo "$QPKG_NAME: watcher already running (pid $pid)"
		return 0
	fi
	args=$(watch_args) || return 1
	set --
	if [ -n "$args" ]; then
		while IFS= read -r arg; do
			set -- "$@" "$arg"
		done <<EOF
$args
EOF
	fi
	mkdir -p "${PIDFILE%/*}" "${LOGFILE%/*}"
	# Ignored signals stay ignored across exec: a closing SSH session that ran
	# "qrescue.sh start" must not take the watcher with it.
	trap '' HUP
	rm -f "$STATE_DIR/watch.status"
	"$BIN" watch --foreground "$@" </dev/null >>"$LOGFILE" 2>&1 &
	pid=$!
	echo "$pid" >"$PIDFILE"
	# A watcher that cannot run (no button device, bad option) exits at once: say so now
	# rather than leaving App Center showing a running app.
	sleep 1
	if is_watcher "$pid"; then
		say 0 "watcher started (pid $pid, log $LOGFILE)$(watching)"
		return 0
	fi
	rm -f "$PIDFILE"
	say 2 "the watcher exited at start: $(tail -n 3 "$LOGFILE" 2>/dev/null | tr '\n' ' ')(log: $LOGFILE)"
	return 1
}

do_stop() {
	if ! pid=$(running_pid); then
		rm -f "$PIDFILE"
		echo "$QPKG_NAME: watcher not running"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	deadline=$(($(date +%s) + STOP_TIMEOUT))
	while is_watcher "$pid" && [ "$(date +%s)" -lt "$deadline" ]; do
		nap
	done
	if is_watcher "$pid"; then
		say 1 "the watcher (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT} s: sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		sleep 1
	fi
	rm -f "$PIDFILE"
	say 0 "watcher stopped"
}

# watching: "; stores: /etc/config; button: ..." as the running watcher wrote it (what it
# really watches: on most x86 models no button device exists, the firmware reads it).
watching() {
	line=$(head -n 1 "$STATE_DIR/watch.status" 2>/dev/null)
	[ -z "$line" ] || printf '; %s' "$line"
}

do_status() {
	if pid=$(running_pid); then
		echo "$QPKG_NAME: watcher running (pid $pid)$(watching)"
		return 0
	fi
	echo "$QPKG_NAME: watcher stopped"
	return 3
}

case "$1" in
start) do_start ;;
stop) do_stop ;;
restart)
	# A disabled app is neither stopped nor started (a watcher started by hand stays).
	if enabled; then
		do_stop
		do_start
	else
		refuse_disabled
	fi
	;;
status) do_status ;;
link) do_link ;;
remove)
	if running_pid >/dev/null; then do_stop; fi
	do_unlink
	;;
*)
	echo "Usage: $0 {start|stop|restart|status|link|remove}" >&2
	exit 2
	;;
esac
