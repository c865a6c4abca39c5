// Exit statuses: vzctl 4.x's (its manual's EXIT STATUS list), which Berth returns so that scripts
// and panels written for vzctl keep working, then the few Berth adds. Every exit status in src/ is
// one of these names (scripts/check-exit-codes.sh checks it); a helper child's internal statuses,
// read only by its parent, are named constants of that module.
#pragma once

namespace berth::exitcode {

inline constexpr int kOk = 0;
inline constexpr int kSetUbc = 1;
inline constexpr int kSystem = 3;
inline constexpr int kResource = 6;
inline constexpr int kExecFailed = 8;
inline constexpr int kLocked = 9;
inline constexpr int kNoGlobalConfig = 10;
inline constexpr int kPermission = 12;
inline constexpr int kCapability = 13;
inline constexpr int kNoConfig = 14;
inline constexpr int kExecTimeout = 15;
inline constexpr int kChkpntFailed = 16;   // suspend error: the CT could not be checkpointed
inline constexpr int kRestoreFailed = 17;  // resume error: the CT could not be restored
inline constexpr int kBadArgument = 20;    // invalid command-line parameter
inline constexpr int kBadValue = 21;       // invalid parameter value
inline constexpr int kNoVeRoot = 22;
inline constexpr int kNoVePrivate = 23;
inline constexpr int kNoTemplate = 24;
inline constexpr int kNoOsTemplate = 29;
inline constexpr int kNotRunning = 31;
inline constexpr int kRunning = 32;
inline constexpr int kStopFailed = 33;
inline constexpr int kNotMounted = 40;
inline constexpr int kMounted = 41;
inline constexpr int kPrivateNotFound = 43;
inline constexpr int kPrivateExists = 44;
inline constexpr int kNoDiskSpace = 46;
inline constexpr int kBadCt = 47;  // no /sbin/init or /bin/sh
inline constexpr int kCreatePrivate = 48;
inline constexpr int kCreateRoot = 49;
inline constexpr int kMountFailed = 50;
inline constexpr int kUmountFailed = 51;
inline constexpr int kDeleteFailed = 52;
inline constexpr int kPrivateMissing = 53;
inline constexpr int kBadIp = 71;
inline constexpr int kPasswordFailed = 74;
inline constexpr int kIpInUse = 78;
inline constexpr int kActionScript = 79;
inline constexpr int kConfigCopy = 82;
inline constexpr int kDevices = 86;
inline constexpr int kTemplateNotFound = 91;
inline constexpr int kPloopUnsupported = 99;
inline constexpr int kStartDisabled = 105;
inline constexpr int kApplyConfig = 109;
inline constexpr int kVeth = 130;
inline constexpr int kName = 131;
inline constexpr int kWaitFailed = 133;
inline constexpr int kConfigSave = 139;

// Snapshots and clone (Berth's; legacy vzctl has no codes of its own for them: docs/storage.md).
inline constexpr int kSnapshotNotFound = 160;  // no snapshot with that uuid
inline constexpr int kSnapshotExists = 161;    // --id of a snapshot the CT already has
inline constexpr int kSnapshotMounted = 162;   // the snapshot (or one of the CT's) is mounted
inline constexpr int kSnapshotFreeze = 163;    // the CT could not be frozen for a consistent copy
inline constexpr int kSnapshotSwitch = 164;  // the snapshot's files or config could not be restored
inline constexpr int kCloneFailed = 165;     // clone: copying or adapting the files failed

// vzmigrate's own statuses (legacy vzmigrate's manual; `berth migrate` and the vzmigrate link
// return them; docs/migration.md).
inline constexpr int kMigUsage = 1;       // bad command line (or a bad stream to the receiver)
inline constexpr int kMigNotRunning = 2;  // --online of a CT that is not running
inline constexpr int kMigConnect = 4;     // cannot connect to the destination (ssh)
inline constexpr int kMigCopy = 6;        // copying the CT's files or dump failed
inline constexpr int kMigDestStart = 7;   // cannot create, start or restore it on the destination
inline constexpr int kMigSourceStop = 8;  // cannot stop or checkpoint it on the source
inline constexpr int kMigExists = 9;      // the CTID exists on the destination
inline constexpr int kMigNoSource = 10;   // the CT does not exist on the source
inline constexpr int kMigIpInUse = 12;    // one of its addresses is in use on the destination
inline constexpr int kMigVersion = 17;  // Berth's protocol or CRIU incompatible on the destination
inline constexpr int kMigLocked = 20;   // the CT is locked by another command

// Not vzctl's list.
inline constexpr int kVzubcFailed = 1;  // vzubc: any failure (its only error status)
inline constexpr int kHelperFailed =
    1;  // a helper process of Berth's own failed (its stderr says why)
inline constexpr int kCommandNotExecutable =
    126;  // a command run in a CT: found but not run (the shell's)
inline constexpr int kCommandNotFound = 127;  // a command run in a CT: not found (the shell's)
inline constexpr int kBackupNotFound = 150;   // no such backup (or backup store) (docs/storage.md)
inline constexpr int kBackupBroken = 151;  // backup-verify found problems; a restore read bad data
inline constexpr int kArchiveRefused = 152;  // an import archive breaks the rules (hostile input)

}  // namespace berth::exitcode
