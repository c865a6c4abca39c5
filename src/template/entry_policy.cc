// sanitize_entry(): the id, device, hardlink, xattr and ACL rules of entry_policy.h.
//
// libarchive's write_disk sets ownership, then the mode, then xattrs (security.capability last,
// since chown clears it), so rewriting the entry before archive_write_header() is enough: nothing
// of the original values reaches the disk.
#include "template/entry_policy.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstring>
#include <map>
#include <set>
#include <vector>

namespace berth::tmpl {
namespace {

// linux/capability.h, spelled out so this file does not depend on the kernel headers' version.
constexpr uint32_t kCapRevisionMask = 0xFF000000;
constexpr uint32_t kCapRevision2 = 0x02000000;
constexpr uint32_t kCapRevision3 = 0x03000000;
constexpr uint32_t kCapFlagsEffective = 0x000001;
constexpr size_t kCapSize2 = 20, kCapSize3 = 24;

uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void put_le32(std::string& s, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[off + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

bool is_kept_xattr(std::string_view name) { return name.starts_with("user."); }

struct AclEntry {
  int type, permset, tag, qual;
};

void sanitize_acl(struct archive_entry* e, const std::string& rel, const IdPolicy& p,
                  EntryReport& r) {
  const int want =
      ARCHIVE_ENTRY_ACL_TYPE_ACCESS | ARCHIVE_ENTRY_ACL_TYPE_DEFAULT | ARCHIVE_ENTRY_ACL_TYPE_NFS4;
  if (archive_entry_acl_reset(e, want) == 0) return;
  std::vector<AclEntry> kept;
  bool changed = false;
  int type, permset, tag, qual;
  const char* name;
  while (archive_entry_acl_next(e, want, &type, &permset, &tag, &qual, &name) == ARCHIVE_OK) {
    if (tag == ARCHIVE_ENTRY_ACL_USER || tag == ARCHIVE_ENTRY_ACL_GROUP) {
      changed = true;  // names are dropped: libarchive would look them up in the host's databases
      if (qual < 0 || static_cast<int64_t>(qual) >= kCtIdCount) {
        r.note(r.acl_dropped, r.first_acl, rel + " (id " + std::to_string(qual) + ")");
        continue;
      }
      uint32_t base = tag == ARCHIVE_ENTRY_ACL_USER ? p.uid_base : p.gid_base;
      qual = static_cast<int>(base + static_cast<uint32_t>(qual));
    } else if (name) {
      changed = true;
    }
    kept.push_back({type, permset, tag, qual});
  }
  if (!changed) return;
  archive_entry_acl_clear(e);
  for (const auto& a : kept)
    archive_entry_acl_add_entry(e, a.type, a.permset, a.tag, a.qual, nullptr);
}

void sanitize_xattrs(struct archive_entry* e, const std::string& rel, const IdPolicy& p,
                     EntryReport& r) {
  if (archive_entry_xattr_reset(e) == 0) return;
  // A pax archive may name one xattr twice (LIBARCHIVE.xattr.* and SCHILY.xattr.*): the last wins.
  std::map<std::string, std::string> kept;
  std::set<std::string> dropped;
  bool changed = false;
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    std::string_view n = name ? name : "";
    if (kept.contains(std::string(n)) || dropped.contains(std::string(n))) changed = true;
    if (is_kept_xattr(n)) {
      kept[std::string(n)] = std::string(static_cast<const char*>(value), size);
      continue;
    }
    if (n == "security.capability") {
      std::string caps = sanitize_file_caps(value, size, p.uid_base);
      if (!caps.empty()) {
        changed = changed || caps.size() != size || std::memcmp(caps.data(), value, size) != 0;
        dropped.erase(std::string(n));
        kept[std::string(n)] = std::move(caps);
        continue;
      }
      kept.erase(std::string(n));
    }
    changed = true;
    if (dropped.insert(std::string(n)).second)
      r.note(r.xattrs_dropped, r.first_xattr, std::string(n) + " on " + rel);
  }
  if (!changed) return;
  archive_entry_xattr_clear(e);
  for (const auto& [n, v] : kept) archive_entry_xattr_add_entry(e, n.c_str(), v.data(), v.size());
}

}  // namespace

uint32_t map_id(int64_t id, uint32_t base, bool* changed) {
  if (id >= 0 && id < static_cast<int64_t>(kCtIdCount)) return base + static_cast<uint32_t>(id);
  *changed = true;
  return base + kCtOverflowId;
}

std::string sanitize_file_caps(const void* value, size_t size, uint32_t uid_base) {
  if (size != kCapSize2 && size != kCapSize3) return "";
  auto* v = static_cast<const unsigned char*>(value);
  uint32_t magic = le32(v);
  uint32_t rev = magic & kCapRevisionMask;
  if ((magic & ~kCapRevisionMask & ~kCapFlagsEffective) != 0) return "";
  if (!(rev == kCapRevision2 && size == kCapSize2) && !(rev == kCapRevision3 && size == kCapSize3))
    return "";
  uint32_t rootid = rev == kCapRevision3 ? le32(v + 20) : 0;
  if (rootid >= kCtIdCount) return "";
  uint32_t host_root = uid_base + rootid;
  std::string out(reinterpret_cast<const char*>(v), kCapSize2);
  if (host_root == 0) {
    put_le32(out, 0, kCapRevision2 | (magic & kCapFlagsEffective));
    return out;
  }
  out.resize(kCapSize3);
  put_le32(out, 0, kCapRevision3 | (magic & kCapFlagsEffective));
  put_le32(out, 20, host_root);
  return out;
}

EntryVerdict sanitize_entry(struct archive_entry* e, const std::string& rel,
                            const std::string& link_rel, const IdPolicy& p, StreamState& state,
                            EntryReport& r) {
  const mode_t type = archive_entry_filetype(e);
  // Whatever this entry is, it replaces what an earlier entry put at rel: a regular file that a
  // later entry turned into a symlink is no hardlink target any more.
  state.files.erase(rel);
  if (!link_rel.empty()) {
    // A hardlink is only taken to a regular file this stream wrote: never to a device skipped
    // above, a file of the host, or anything reached through a symlink.
    if (!state.files.contains(link_rel)) {
      r.note(r.hardlinks_dropped, r.first_hardlink, rel + " -> " + link_rel);
      return EntryVerdict::kSkip;
    }
  } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) {
    r.note(r.specials, r.first_special, rel);
    return EntryVerdict::kSkip;
  } else if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO) {
    r.note(r.specials, r.first_special, rel);
    return EntryVerdict::kSkip;
  }

  bool uid_changed = false, gid_changed = false;
  const int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  archive_entry_set_uid(e, map_id(uid, p.uid_base, &uid_changed));
  archive_entry_set_gid(e, map_id(gid, p.gid_base, &gid_changed));
  // Owner names would be looked up in the host's databases by some writers: numeric ids only.
  archive_entry_set_uname(e, nullptr);
  archive_entry_set_gname(e, nullptr);
  if (uid_changed || gid_changed) {
    r.note(r.ids_mapped, r.first_id,
           rel + " (uid " + std::to_string(uid) + " gid " + std::to_string(gid) + ")");
    mode_t perm = archive_entry_perm(e);
    if (type != AE_IFDIR && (perm & (S_ISUID | S_ISGID))) {
      archive_entry_set_perm(e, perm & ~(S_ISUID | S_ISGID));
      r.note(r.setid_dropped, r.first_setid, rel);
    }
  }
  sanitize_xattrs(e, rel, p, r);
  sanitize_acl(e, rel, p, r);
  if (type == AE_IFREG) state.files.insert(rel);
  return EntryVerdict::kWrite;
}

std::string EntryReport::summary() const {
  std::string s;
  auto add = [&s](unsigned n, const char* what, const std::string& first) {
    if (!n) return;
    if (!s.empty()) s += "; ";
    s += std::to_string(n) + " " + what + " (first: " + first + ")";
  };
  add(specials, "device node(s)/socket(s) not taken", first_special);
  add(ids_mapped, "file(s) with ids outside 0..65535 given the overflow id 65534", first_id);
  add(setid_dropped, "setuid/setgid bit(s) dropped", first_setid);
  add(hardlinks_dropped, "hardlink(s) to a file not in the archive not taken", first_hardlink);
  add(xattrs_dropped, "extended attribute(s) dropped", first_xattr);
  add(acl_dropped, "ACL entries naming ids outside 0..65535 dropped", first_acl);
  return s;
}

}  // namespace berth::tmpl
