#!/bin/bash
# tests/vm/migrate_held.sh - tests/vm/migrate_disk.sh with MIGDISK_HELD=1: an online migration of a
# disk VPS whose checkpoint cannot free the source's loop device (a process holds a copy of the
# disk's mount) fails after the dump without losing the VPS (restored from its dump on the source,
# by the migration or by the next `start`); then the VPS migrates. Suite "checkpoint".
MIGDISK_HELD=1 exec "$(dirname "$0")/migrate_disk.sh" "$@"
