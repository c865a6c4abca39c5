// chkpnt, suspend, resume, and restore without --backup/--import (vzctl's checkpoint commands):
// thin front-ends over runtime/checkpoint.h.
//   chkpnt CTID [--dumpfile DIR] [--suspend|--dump|--kill|--resume]
//   restore CTID [--dumpfile DIR] [--undump|--resume] [--keep-dump]
//   suspend CTID [--dumpfile DIR]     (= chkpnt)      resume CTID [--dumpfile DIR]  (= restore)
#include <cstdio>
#include <string>

#include "cli/cli.h"
#include "core/exit_codes.h"
#include "runtime/checkpoint.h"
#include "runtime/lifecycle.h"

namespace berth::cli {
namespace {

Error usage_error(const std::string& what) {
  return Error::with_status(exitcode::kBadArgument, what);
}

struct CkptArgs {
  std::string ctid, dumpfile;
  std::vector<std::string> stages;  // --suspend, --dump, --kill, --resume, --undump
  bool keep_dump = false;
};

Result<CkptArgs> parse(const Invocation& inv, std::initializer_list<const char*> stages) {
  CkptArgs a;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    std::string s = inv.args[i];
    if (s == "--dumpfile" || s.rfind("--dumpfile=", 0) == 0) {
      if (s == "--dumpfile") {
        if (i + 1 >= inv.args.size()) return usage_error(inv.command + ": --dumpfile needs a value");
        a.dumpfile = inv.args[++i];
      } else {
        a.dumpfile = s.substr(11);
      }
      if (a.dumpfile.empty() || a.dumpfile[0] != '/')
        return Error::with_status(exitcode::kBadValue,
                                  inv.command + ": --dumpfile must be an absolute path");
      continue;
    }
    if (s == "--keep-dump") {
      a.keep_dump = true;
      continue;
    }
    // start of a suspended CT restores it: start's own options mean nothing here.
    if (inv.command == "start" && (s == "--wait" || s == "--force")) continue;
    if (inv.command == "start" && s == "--timeout") {
      ++i;
      continue;
    }
    // vzctl's options this does not need: accepted, as scripts pass them.
    if (s == "--skip_arpdetect" || s == "--skip-arpdetect" || s == "--skip-fsck" ||
        s == "--skip-remount")
      continue;
    bool stage = false;
    for (const char* k : stages)
      if (s == k) stage = true;
    if (stage) {
      a.stages.push_back(s);
      continue;
    }
    if (!s.empty() && s[0] == '-') return usage_error(inv.command + ": invalid option `" + s + "`");
    if (!a.ctid.empty()) return usage_error(inv.command + ": one CTID expected");
    a.ctid = s;
  }
  if (a.ctid.empty()) return usage_error(inv.command + ": CT ID or name expected");
  if (a.stages.size() > 1) return usage_error(inv.command + ": one of " + a.stages[0] + " and " +
                                              a.stages[1] + ", not both");
  return a;
}

Result<CtConfig> load(const HostConfig& host, const std::string& arg) {
  BERTH_ASSIGN_OR_RETURN(std::string ctid, resolve_ctid(host, arg));
  auto ct = CtConfig::load(host, ctid);
  if (!ct.ok() && ct.error().code() == ENOENT)
    return Error::with_status(exitcode::kNoConfig, "CT " + ctid + " does not exist");
  return ct;
}

int run(const Invocation& inv, Error e, const std::string& ctid) {
  e.context(inv.command + " CT " + ctid);
  return report(inv, e);
}

std::string ms(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f ms", v);
  return b;
}

}  // namespace

int cmd_chkpnt(const Invocation& inv, const HostConfig& host) {
  auto a = parse(inv, {"--suspend", "--dump", "--kill", "--resume"});
  if (!a.ok()) return report(inv, a.error());
  auto ct = load(host, a->ctid);
  if (!ct.ok()) return report(inv, ct.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  runtime::ChkpntOptions o;
  o.dumpdir = a->dumpfile;
  std::string stage = a->stages.empty() ? "" : a->stages[0];
  if (stage == "--suspend") o.stage = runtime::ChkpntStage::kSuspend;
  if (stage == "--dump") o.stage = runtime::ChkpntStage::kDump;
  if (stage == "--kill") o.stage = runtime::ChkpntStage::kKill;
  if (stage == "--resume") o.stage = runtime::ChkpntStage::kResume;
  if (stage.empty() || stage == "--dump") say(inv, "Setting up checkpoint...");
  auto r = runtime::checkpoint(*ct, o);
  if (!r.ok()) return run(inv, std::move(r).error(), ct->ctid());
  if (stage.empty() || stage == "--dump") {
    say(inv, "Checkpointing completed successfully");
    say(inv, "Dump: " + r->dumpdir + " (" + std::to_string(r->bytes / 1024) + " KiB); frozen " +
                 ms(r->frozen_ms) + ", CRIU dump " + ms(r->dump_ms));
  } else if (stage == "--suspend") {
    say(inv, "CT " + ct->ctid() + " is suspended (frozen)");
  } else if (stage == "--kill") {
    say(inv, "CT " + ct->ctid() + " was killed; its dump is in " + r->dumpdir);
  } else {
    say(inv, "CT " + ct->ctid() + " resumed");
  }
  return 0;
}

int cmd_restore_checkpoint(const Invocation& inv, const HostConfig& host) {
  auto a = parse(inv, {"--undump", "--resume"});
  if (!a.ok()) return report(inv, a.error());
  auto ct = load(host, a->ctid);
  if (!ct.ok()) return report(inv, ct.error());
  auto lock = runtime::lock_ct(host, ct->ctid(), inv.skiplock);
  if (!lock.ok()) return run(inv, std::move(lock).error(), ct->ctid());
  runtime::UndumpOptions o;
  o.dumpdir = a->dumpfile;
  o.keep_dump = a->keep_dump;
  std::string stage = a->stages.empty() ? "" : a->stages[0];
  if (stage == "--undump") o.stage = runtime::UndumpOptions::Stage::kUndump;
  if (stage == "--resume") o.stage = runtime::UndumpOptions::Stage::kResume;
  if (stage != "--resume") say(inv, "Restoring CT " + ct->ctid() + " ...");
  auto r = runtime::restore_checkpoint(*ct, o);
  if (!r.ok()) return run(inv, std::move(r).error(), ct->ctid());
  if (stage == "--resume")
    say(inv, "CT " + ct->ctid() + " resumed");
  else
    say(inv, "Restoring completed successfully (CRIU restore " + ms(r->restore_ms) + ", total " +
                 ms(r->total_ms) + ")");
  return 0;
}

}  // namespace berth::cli
