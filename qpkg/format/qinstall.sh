#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# qrescue's QPKG installer: "qinstall.sh" in the package's control archive.
#
# The package header (header.sh.in) extracts the control archive (this script, qpkg.cfg,
# package_routines, built_info) and data.tar.gz into <install path>/.tmp-<name> and runs
# this script there with /bin/sh (QTS: busybox ash). It implements the installation
# contract of QDK's qinstall.sh - the package_routines hooks, the qpkg.conf keys, the
# App Center progress file, the service links and .uninstall.sh - as described in
# docs/qpkg-format.md; it was written for qrescue from that description.
#
# Exit status: 0 installed; 1 failed (App Center also sees -1 in /tmp/update_process).

PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin
export PATH

# Commands package_routines may use (QDK provides the same $CMD_* names).
# shellcheck disable=SC2034
{
	CMD_CAT="cat"
	CMD_CHMOD="chmod"
	CMD_CP="cp"
	CMD_ECHO="echo"
	CMD_GETCFG="/sbin/getcfg"
	CMD_LN="ln"
	CMD_MKDIR="mkdir"
	CMD_MV="mv"
	CMD_RM="rm"
	CMD_SED="sed"
	CMD_SETCFG="/sbin/setcfg"
	CMD_TAR="tar"
}

SYS_EXTRACT_DIR=$(pwd)
SYS_CONFIG_DIR=/etc/config
SYS_QPKG_CONFIG_FILE=$SYS_CONFIG_DIR/qpkg.conf
SYS_INIT_DIR=/etc/init.d
SYS_STARTUP_DIR=/etc/rcS.d
SYS_SHUTDOWN_DIR=/etc/rcK.d
SYS_RSS_IMG_DIR=/home/httpd/RSS/images
SYS_QPKG_DATA_FILE=./data.tar.gz
SYS_PROGRESS_FILE=/tmp/update_process

# shellcheck source=../qpkg.cfg
. ./qpkg.cfg
QPKG_DISPLAY_NAME=${QPKG_DISPLAY_NAME:-$QPKG_NAME}

# The header extracted us into <install path>/.tmp-<name>: the package goes next to it.
SYS_QPKG_INSTALL_PATH=$(dirname "$SYS_EXTRACT_DIR")
SYS_QPKG_DIR=$SYS_QPKG_INSTALL_PATH/$QPKG_NAME

# App Center polls this file: 0 begin, 1 before install, 2 after install, 3 done, -1 failed.
progress() {
	echo "$1" >"$SYS_PROGRESS_FILE" 2>/dev/null
}

# event_log LEVEL TEXT: QTS system event log (0 information, 1 warning, 2 error).
event_log() {
	if [ -x /sbin/log_tool ]; then
		/sbin/log_tool -t "$1" -uSystem -p127.0.0.1 -mlocalhost -a "$2" >/dev/null 2>&1
	fi
	return 0
}
log() {
	[ -n "$1" ] || return 0
	echo "$1"
	event_log 0 "$1"
}
warn_log() {
	echo "$1" >&2
	event_log 1 "$1"
}
# err_log TEXT: report and abort the installation.
err_log() {
	echo "$1" >&2
	event_log 2 "$1"
	progress -1
	exit 1
}

# Call a package_routines hook if it is defined; hooks may cd, so return to our directory.
call_hook() {
	if command -v "$1" >/dev/null 2>&1; then
		"$1"
	fi
	cd "$SYS_EXTRACT_DIR" || err_log "[App Center] Failed to install $QPKG_DISPLAY_NAME: $SYS_EXTRACT_DIR is gone."
}

# version_lt A B: dotted version A is older than B (numeric per segment, missing = 0).
version_lt() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		na = split(a, x, "."); nb = split(b, y, ".")
		n = na > nb ? na : nb
		for (i = 1; i <= n; i++) {
			if (x[i] + 0 < y[i] + 0) exit 0
			if (x[i] + 0 > y[i] + 0) exit 1
		}
		exit 1
	}'
}

check_qts_version() {
	[ -n "$QTS_MINI_VERSION" ] || return 0
	fw=$(/sbin/getcfg System Version -f /etc/default_config/uLinux.conf 2>/dev/null)
	[ -n "$fw" ] || fw=$(/sbin/getcfg System Version -f /etc/config/uLinux.conf 2>/dev/null)
	if [ -z "$fw" ]; then
		warn_log "[App Center] $QPKG_DISPLAY_NAME: firmware version unknown, minimum $QTS_MINI_VERSION not checked."
		return 0
	fi
	if version_lt "$fw" "$QTS_MINI_VERSION"; then
		err_log "[App Center] Failed to install $QPKG_DISPLAY_NAME $QPKG_VER. Upgrade QTS to $QTS_MINI_VERSION or later (this NAS runs $fw)."
	fi
}

# set_field KEY VALUE: one key of our section in qpkg.conf (empty values are skipped).
set_field() {
	[ -n "$2" ] || return 0
	/sbin/setcfg "$QPKG_NAME" "$1" "$2" -f "$SYS_QPKG_CONFIG_FILE" ||
		err_log "[App Center] Failed to install $QPKG_DISPLAY_NAME: cannot write $SYS_QPKG_CONFIG_FILE."
}

register() {
	[ -f "$SYS_QPKG_CONFIG_FILE" ] || : >"$SYS_QPKG_CONFIG_FILE"
	set_field Name "$QPKG_NAME"
	set_field Display_Name "$QPKG_DISPLAY_NAME"
	set_field Version "$QPKG_VER"
	set_field Author "$QPKG_AUTHOR"
	set_field QPKG_File "$QPKG_NAME.qpkg"
	set_field Date "$(date +%F)"
	set_field Shell "$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM"
	set_field Install_Path "$SYS_QPKG_DIR"
	set_field RC_Number "$QPKG_RC_NUM"
	set_field Pid_File "$QPKG_SERVICE_PIDFILE"
	set_field Timeout "$QPKG_TIMEOUT"
	set_field FW_Ver_Min "$QTS_MINI_VERSION"
	set_field Distribution_Type "${QPKG_DISTRIBUTION_TYPE:-0}"
	set_field Build "$(/sbin/getcfg "" time -f ./built_info 2>/dev/null)"
}

# QTS's init links: /etc/init.d/<service>, /etc/rcS.d/QS<rc><name>, /etc/rcK.d/QK<1000-rc><name>.
link_service() {
	SYS_START_LINK=$SYS_STARTUP_DIR/QS$QPKG_RC_NUM$QPKG_NAME
	SYS_STOP_LINK=$SYS_SHUTDOWN_DIR/QK$(printf '%03d' $((1000 - QPKG_RC_NUM)))$QPKG_NAME
	mkdir -p "$SYS_INIT_DIR" "$SYS_STARTUP_DIR" "$SYS_SHUTDOWN_DIR"
	ln -sf "$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM" "$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM"
	ln -sf "$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM" "$SYS_START_LINK"
	ln -sf "$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM" "$SYS_STOP_LINK"
}

# App Center shows /home/httpd/RSS/images/<name>{,_80,_gray}.gif.
copy_icons() {
	[ -d "$SYS_RSS_IMG_DIR" ] || return 0
	for suffix in "" _80 _gray; do
		rm -f "$SYS_RSS_IMG_DIR/$QPKG_NAME$suffix.gif"
		if [ -f "$SYS_QPKG_DIR/.qpkg_icon$suffix.gif" ]; then
			cp -f "$SYS_QPKG_DIR/.qpkg_icon$suffix.gif" "$SYS_RSS_IMG_DIR/$QPKG_NAME$suffix.gif"
		fi
	done
}

# After an upgrade, delete what the previous version installed and this one does not
# (.oldlist minus .list): files first, then the directories left empty, deepest first.
remove_obsolete() {
	[ -f "$SYS_QPKG_DIR/.oldlist" ] || return 0
	awk 'NR == FNR { keep[$0] = 1; next } !($0 in keep)' \
		"$SYS_QPKG_DIR/.list" "$SYS_QPKG_DIR/.oldlist" | sort -r |
		while IFS= read -r path; do
			case $path in '' | /* | ../* | */../* | */..) continue ;; esac
			target=$SYS_QPKG_DIR/${path#./}
			if [ -d "$target" ] && [ ! -L "$target" ]; then
				rmdir "$target" 2>/dev/null
			else
				rm -f "$target"
			fi
		done
	rm -f "$SYS_QPKG_DIR/.oldlist"
}

# quote TEXT: TEXT as one single-quoted shell word.
quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# .uninstall.sh: QTS runs it when the app is removed. The PKG_*_REMOVE blocks of
# package_routines go in as they expanded at install time (the QDK convention).
write_uninstall() {
	uninstall=$SYS_QPKG_DIR/.uninstall.sh
	{
		echo '#!/bin/sh'
		echo "# Written by the $QPKG_NAME $QPKG_VER installer: QTS runs it when the app is removed."
		echo 'PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin'
		echo 'export PATH'
		echo "QPKG_NAME=$(quote "$QPKG_NAME")"
		echo "QPKG_DIR=$(quote "$SYS_QPKG_DIR")"
		echo "SERVICE=$(quote "$QPKG_SERVICE_PROGRAM")"
		echo "INIT_LINKS=$(quote "$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM $SYS_START_LINK $SYS_STOP_LINK")"
		echo "ICONS=$(quote "$SYS_RSS_IMG_DIR/$QPKG_NAME.gif $SYS_RSS_IMG_DIR/${QPKG_NAME}_80.gif $SYS_RSS_IMG_DIR/${QPKG_NAME}_gray.gif")"
		cat <<'EOF'

# Stop the service; "remove" deletes the links it made (/usr/bin/qrescue...).
if [ -x "$QPKG_DIR/$SERVICE" ]; then
	"$QPKG_DIR/$SERVICE" stop
	"$QPKG_DIR/$SERVICE" remove
fi
EOF
		printf '%s\n' "$PKG_PRE_REMOVE"
		cat <<'EOF'

# The package directory, init links, icons and the App Center registration.
rm -rf "$QPKG_DIR"
# shellcheck disable=SC2086 # lists of paths without blanks
rm -f $INIT_LINKS $ICONS
if [ -x /sbin/rmcfg ]; then
	/sbin/rmcfg "$QPKG_NAME" -f /etc/config/qpkg.conf
fi
EOF
		printf '%s\n' "$PKG_MAIN_REMOVE"
		printf '%s\n' "$PKG_POST_REMOVE"
	} >"$uninstall" || err_log "[App Center] Failed to install $QPKG_DISPLAY_NAME: cannot write $uninstall."
	chmod 0755 "$uninstall"
}

main() {
	progress 0
	[ -f "$SYS_QPKG_DATA_FILE" ] ||
		err_log "[App Center] Failed to install $QPKG_DISPLAY_NAME. Data file is missing."
	# Read the whole data archive before touching anything installed.
	tar -tzf "$SYS_QPKG_DATA_FILE" >./data.list 2>/dev/null ||
		err_log "[App Center] Failed to install $QPKG_DISPLAY_NAME due to data file error."
	check_qts_version

	# shellcheck source=../package_routines
	. ./package_routines
	call_hook pkg_init
	call_hook pkg_check_requirement

	# Pre-install: keep the App Center state (a new install starts enabled), stop a running
	# older version with its own service script.
	enabled=$(/sbin/getcfg "$QPKG_NAME" Enable -u -d TRUE -f "$SYS_QPKG_CONFIG_FILE" 2>/dev/null)
	[ "$enabled" = FALSE ] || enabled=TRUE
	if [ -d "$SYS_QPKG_DIR" ]; then
		old=$(/sbin/getcfg "$QPKG_NAME" Version -f "$SYS_QPKG_CONFIG_FILE" 2>/dev/null)
		echo "$QPKG_NAME ${old:-(unknown version)} is already installed in $SYS_QPKG_DIR: upgrading."
		if [ -x "$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM" ]; then
			"$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM" stop
		fi
		[ ! -f "$SYS_QPKG_DIR/.list" ] || mv -f "$SYS_QPKG_DIR/.list" "$SYS_QPKG_DIR/.oldlist"
	fi
	mkdir -p "$SYS_QPKG_DIR" ||
		err_log "[App Center] Failed to install $QPKG_DISPLAY_NAME: cannot create $SYS_QPKG_DIR."
	call_hook pkg_pre_install
	progress 1

	tar -xzf "$SYS_QPKG_DATA_FILE" -C "$SYS_QPKG_DIR" ||
		err_log "[App Center] Failed to install $QPKG_DISPLAY_NAME due to data file error."
	cp -f ./data.list "$SYS_QPKG_DIR/.list"
	call_hook pkg_install
	progress 2

	remove_obsolete
	copy_icons
	link_service
	register
	call_hook pkg_post_install
	write_uninstall
	sync
	log "[App Center] Installed $QPKG_DISPLAY_NAME $QPKG_VER in $SYS_QPKG_DIR."

	set_field Enable "$enabled"
	if [ "$enabled" = TRUE ]; then
		"$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM" start ||
			warn_log "[App Center] $QPKG_DISPLAY_NAME is installed but its service did not start; see $SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM status."
		log "[App Center] Enabled $QPKG_DISPLAY_NAME."
	fi
	progress 3
}

main
