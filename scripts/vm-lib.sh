#!/usr/bin/env bash
# Shared pieces of the real-kernel tests (scripts/vm-*.sh): Debian's kernel under
# qemu-system-x86_64 (TCG: KVM hangs on the development machines) with a busybox initramfs
# built from the host's own packages. Source it; every function fails loudly.
#
#   vm_qrescue [EXAMPLE…]           sets VM_QRESCUE (absolute path) to the static x86_64
#                                   release binary (dist/'s when scripts/build-release.sh made
#                                   it, else built), and builds the named examples beside it
#                                   (target/x86_64-unknown-linux-musl/release/examples/)
#   vm_kernel                       sets VM_KERNEL (/boot/vmlinuz-…) and VM_KVER
#   vm_root DIR                     busybox skeleton (/bin with applets, /proc, /sys, /dev, /tmp)
#   vm_modules DIR NAME…            copy NAME.ko and every module it depends on, uncompressed,
#                                   to DIR/lib/mod/, and append them, dependencies first, to
#                                   DIR/lib/mod/order (load them with `vm_load_modules` in init)
#   vm_exe DIR PATH…                copy a host executable to DIR/bin with the shared libraries
#                                   ldd lists (and the dynamic loader) at the same paths
#   vm_initrd DIR OUT               pack DIR as a gzip'd newc cpio
#   vm_boot INITRD LOG SECS [ARG…]  boot it; the console (CR stripped) goes to LOG; extra
#                                   qemu arguments (e.g. -drive …) follow
#
# In the guest's init, `. /lib/vm-init.sh` mounts proc/sys/dev and defines
# vm_load_modules (insmod every module in /lib/mod/order).
# Needs (installed by .ci/run): qemu-system-x86 linux-image-amd64 busybox-static cpio kmod.

vm_die() {
    echo "vm: $*" >&2
    exit 2
}

# shellcheck disable=SC2120 # the examples are optional
vm_qrescue() {
    local target=x86_64-unknown-linux-musl version ex build=()
    if command -v rustup >/dev/null; then
        rustup target list --installed | grep -qx $target || rustup target add $target
    fi
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
    for ex in "$@"; do build+=(--example "$ex"); done
    # The release artifact itself when scripts/build-release.sh has made it.
    VM_QRESCUE=dist/qrescue-$version-x86_64
    if [[ ! -x $VM_QRESCUE ]]; then
        build+=(--bin qrescue)
        VM_QRESCUE=target/$target/release/qrescue
    fi
    if ((${#build[@]})); then
        cargo build --locked --release --target $target "${build[@]}"
    fi
    VM_QRESCUE=$(realpath "$VM_QRESCUE")
    export VM_QRESCUE
}

vm_kernel() {
    local kernels=(/boot/vmlinuz-*)
    [[ -e ${kernels[0]} ]] || vm_die "no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
    VM_KERNEL=$(printf '%s\n' "${kernels[@]}" | sort -V | tail -1)
    VM_KVER=${VM_KERNEL#/boot/vmlinuz-}
    [[ -d /lib/modules/$VM_KVER ]] || vm_die "no /lib/modules/$VM_KVER"
    export VM_KERNEL VM_KVER
}

vm_root() {
    local ir=$1 busybox a
    busybox=$(command -v busybox) || vm_die "no busybox (apt-get install busybox-static)"
    mkdir -p "$ir"/{bin,lib/mod,proc,sys,dev,tmp,mnt}
    : >"$ir/lib/mod/order"
    cp "$busybox" "$ir/bin/busybox"
    for a in $("$busybox" --list); do
        [[ $a == busybox || -e $ir/bin/$a ]] || ln -s busybox "$ir/bin/$a"
    done
    cat >"$ir/lib/vm-init.sh" <<'EOF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
vm_load_modules() {
    while read -r m; do
        insmod "/lib/mod/$m.ko" || echo "VMTEST: insmod $m failed"
    done </lib/mod/order
}
EOF
}

# One module and its dependencies (modinfo's depends field), dependencies first.
vm_modules() {
    local ir=$1 name path dep
    shift
    [[ -n ${VM_KVER:-} ]] || vm_kernel
    for name in "$@"; do
        grep -qx "$name" "$ir/lib/mod/order" && continue
        path=$(modinfo -k "$VM_KVER" -F filename "$name" 2>/dev/null) ||
            vm_die "no module $name for $VM_KVER"
        case $path in
        (builtin) continue ;;
        esac
        for dep in $(modinfo -k "$VM_KVER" -F depends "$name" | tr ',' ' '); do
            vm_modules "$ir" "$dep"
        done
        case $path in
        (*.xz) xz -dc "$path" >"$ir/lib/mod/$name.ko" ;;
        (*.zst) zstd -dc "$path" >"$ir/lib/mod/$name.ko" ;;
        (*) cp "$path" "$ir/lib/mod/$name.ko" ;;
        esac
        echo "$name" >>"$ir/lib/mod/order"
    done
}

vm_exe() {
    local ir=$1 exe lib
    shift
    for exe in "$@"; do
        [[ -x $exe ]] || exe=$(command -v "$exe") || vm_die "no executable $1"
        mkdir -p "$ir/bin"
        # A busybox applet of the same name is a symlink to busybox: replace the link, never
        # write through it.
        rm -f "$ir/bin/${exe##*/}"
        cp -L "$exe" "$ir/bin/"
        # ldd prints "name => /path (addr)" and the loader as "/lib64/ld-… (addr)".
        for lib in $(ldd "$exe" 2>/dev/null | grep -o '/[^ ]*' || true); do
            mkdir -p "$ir$(dirname "$lib")"
            cp -L "$lib" "$ir$lib"
        done
    done
}

vm_initrd() {
    (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

vm_boot() {
    local initrd=$1 log=$2 secs=$3
    shift 3
    [[ -n ${VM_KERNEL:-} ]] || vm_kernel
    timeout "$secs" qemu-system-x86_64 -machine accel=tcg -m 512 -nographic -no-reboot \
        -kernel "$VM_KERNEL" -initrd "$initrd" \
        -append "console=ttyS0 quiet panic=-1 rdinit=/init" "$@" </dev/null |
        tr -d '\r' >"$log" || true
}
