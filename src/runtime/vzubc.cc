// The vzubc report (see vzubc.h): beancounter blocks of CTs or of a file, and the -r / -i stores.
#include "runtime/vzubc.h"

#include <cstdio>
#include <iostream>
#include <iterator>

#include "core/exit_codes.h"
#include "state/inventory.h"
#include "sys/fs.h"
#include "ubc/collect.h"

namespace berth::runtime {
namespace {

Result<std::vector<ubc::Block>> blocks_from_file(const std::string& file) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto t = sys::read_file(file);
    if (!t.ok())
      return Error::with_status(exitcode::kVzubcFailed,
                                "read `" + file + "`: " + t.error().message());
    text = std::move(*t);
  }
  return ubc::parse_v25(text);
}

Result<std::vector<ubc::Block>> blocks_of_cts(const HostConfig& host,
                                              const std::vector<std::string>& ids) {
  std::vector<ubc::Block> out;
  if (ids.empty()) {  // every running CT
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> all, state::list_ctids(host));
    for (const auto& id : all) {
      auto ct = CtConfig::load(host, id);
      if (!ct.ok()) continue;
      auto b = ubc::read_block(*ct);
      if (b.ok()) out.push_back(std::move(*b));
    }
    return out;
  }
  for (const auto& arg : ids) {
    BERTH_ASSIGN_OR_RETURN(std::string ctid, resolve_ctid(host, arg));
    auto ct = CtConfig::load(host, ctid);
    if (!ct.ok())
      return Error::with_status(exitcode::kNoConfig, "CT " + ctid + ": config file does not exist");
    auto b = ubc::read_block(*ct);
    if (!b.ok()) return Error(b.error()).context("CT " + ctid);
    out.push_back(std::move(*b));
  }
  return out;
}

std::string store_dir(const HostConfig& host, const ubc::VzubcOptions& o) {
  return o.relative_dir.empty() ? host.paths().run + "/vzubc.store" : o.relative_dir;
}
std::string istore_dir(const HostConfig& host, const ubc::VzubcOptions& o) {
  return o.incremental_dir.empty() ? host.paths().run + "/vzubc.istore" : o.incremental_dir;
}

// The counts of the last -r / -i run (none yet: empty).
ubc::FailCounts read_store(const std::string& path) {
  auto t = sys::read_file(path);
  return t.ok() ? ubc::parse_fail_counts(*t) : ubc::FailCounts{};
}

Status write_store(const std::string& path, const std::string& text) {
  FILE* f = std::fopen((path + ".tmp").c_str(), "we");
  if (!f) return Error::from_errno(errno, "write vzubc store `" + path + "`");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  if (std::rename((path + ".tmp").c_str(), path.c_str()) != 0)
    return Error::from_errno(errno, "write vzubc store `" + path + "`");
  return {};
}

}  // namespace

Result<std::string> vzubc_render(const HostConfig& host, const ubc::VzubcOptions& o) {
  std::vector<ubc::Block> blocks;
  if (o.file) {
    BERTH_ASSIGN_OR_RETURN(blocks, blocks_from_file(*o.file));
  } else {
    BERTH_ASSIGN_OR_RETURN(blocks, blocks_of_cts(host, o.ids));
  }
  if (o.raw) return ubc::render_v25(blocks);
  std::string out;
  std::string dir = store_dir(host, o), idir = istore_dir(host, o);
  if (o.relative) BERTH_RETURN_IF_ERROR(make_dirs(dir, 0700));
  if (o.incremental) BERTH_RETURN_IF_ERROR(make_dirs(idir, 0700));
  for (const auto& b : blocks) {
    std::optional<ubc::FailCounts> prev, prev_held;
    if (o.relative) prev = read_store(dir + "/" + b.uid);
    if (o.incremental) prev_held = read_store(idir + "/" + b.uid);
    out += ubc::format_table(b, o, prev, prev_held);
    if (o.relative)
      BERTH_RETURN_IF_ERROR(write_store(dir + "/" + b.uid, ubc::format_fail_counts(b)));
    if (o.incremental)
      BERTH_RETURN_IF_ERROR(write_store(idir + "/" + b.uid, ubc::format_held_counts(b)));
  }
  return out;
}

void vzubc_clear_stores(const HostConfig& host, const ubc::VzubcOptions& o) {
  if (o.relative_clear) (void)sys::remove_tree(store_dir(host, o));
  if (o.incremental_clear) (void)sys::remove_tree(istore_dir(host, o));
}

}  // namespace berth::runtime
