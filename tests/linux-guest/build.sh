#!/usr/bin/env bash
# Builds a real Linux test guest into $1 (a directory): vmlinuz, a Debian cloud kernel downloaded from the Debian
# archive (apt-get download, at test time), and initrd.img, a busybox initramfs made here with the kernel's own
# virtio, ACPI button and pvpanic modules (Debian builds them as modules) and tests/linux-guest/init as /init.
# Needs apt (the Debian archive), busybox-static and cpio; ./test.sh installs them. Fails loudly, never skips.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUTDIR}"
mkdir -p "$out"
work="$(mktemp -d /tmp/linux-guest.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# The newest cloud kernel the archive has (the metapackage names it).
kernel_package() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
pkg="$(kernel_package)"
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then apt-get update -q >/dev/null 2>&1 || true; pkg="$(kernel_package)"; fi
[ -n "$pkg" ] || { echo "no linux-image-cloud-amd64 in the apt lists: run apt-get update" >&2; exit 1; }
apt-get download -q "$pkg" >/dev/null 2>download.log || { cat download.log >&2; exit 1; }
dpkg-deb -x ./*.deb kernel
cp kernel/boot/vmlinuz-* "$out/vmlinuz"
mods="$(echo kernel/lib/modules/*/kernel)"

busybox="$(command -v busybox || true)"
[ -n "$busybox" ] && file -L "$busybox" | grep -q 'statically linked' || { echo "a static busybox is needed: apt-get install busybox-static" >&2; exit 1; }
command -v cpio >/dev/null || { echo "cpio is needed: apt-get install cpio" >&2; exit 1; }

root="$work/root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules,etc}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
# Loaded by /init in this order (each after what it depends on; the kernel's modules.dep is made at install time).
order="virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev virtio/virtio_pci_legacy_dev virtio/virtio_pci
  virtio/virtio_balloon ../net/core/failover net/net_failover net/virtio_net block/virtio_blk acpi/button input/evdev
  misc/pvpanic/pvpanic misc/pvpanic/pvpanic-mmio"
: > "$root/lib/modules/order"
for m in $order; do
  src="$mods/drivers/$m.ko"
  [ -f "$src" ] || { echo "module $m missing from $pkg" >&2; exit 1; }
  cp "$src" "$root/lib/modules/"
  basename "$src" >> "$root/lib/modules/order"
done
cp "$here/init" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.img"
echo "$pkg" > "$out/kernel-package"
