#!/usr/bin/env bash
# Builds the test guest (a multiboot ELF32 for QEMU's -kernel) into $1 (default: ./guest.elf). Needs gcc and binutils.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/guest.elf}"
obj="$(mktemp /tmp/guest.XXXXXX.o)"
trap 'rm -f "$obj"' EXIT
gcc -m32 -ffreestanding -fno-pic -fno-stack-protector -fno-builtin -nostdlib -O2 -Wall -Werror -c "$here/guest.c" -o "$obj"
ld -m elf_i386 --no-warn-rwx-segments -T "$here/guest.ld" -nostdlib -o "$out" "$obj"
