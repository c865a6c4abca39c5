#include "cli/cli.h"

#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>

#include "monitor/client.h"
#include "monitor/server.h"
#include "runtime/pipeline.h"
#include "state/instance_owner.h"

namespace berth::cli {

namespace {

struct CommandEntry {
  const char* name;
  CommandFn fn;
};

constexpr CommandEntry kCommands[] = {
    {"create", cmd_create},
    {"destroy", cmd_destroy},
    {"delete", cmd_destroy},
    {"start", cmd_start},
    {"stop", cmd_stop},
    {"restart", cmd_restart},
    {"status", cmd_status},
    {"mount", cmd_mount},
    {"umount", cmd_umount},
    {"set", cmd_set},
    {"exec", cmd_exec},
    {"exec2", cmd_exec},
    {"exec3", cmd_exec},
    {"enter", cmd_enter},
    {"runscript", cmd_runscript},
    {"console", cmd_console},
    {"list", cmd_list},
    {"template", cmd_template},
    {"ubc", cmd_ubc},
    {"netstat", cmd_netstat},
    {"backup", cmd_backup},
    {"backup-list", cmd_backup_list},
    {"backup-verify", cmd_backup_verify},
    {"backup-delete", cmd_backup_delete},
    {"restore", cmd_restore},
    {"chkpnt", cmd_chkpnt},
    {"suspend", cmd_chkpnt},
    {"resume", cmd_restore_checkpoint},
    {"snapshot", cmd_snapshot},
    {"snapshot-list", cmd_snapshot_list},
    {"snapshot-switch", cmd_snapshot_switch},
    {"snapshot-delete", cmd_snapshot_delete},
    {"snapshot-mount", cmd_snapshot_mount},
    {"snapshot-umount", cmd_snapshot_umount},
    {"clone", cmd_clone},
    {"migrate", cmd_migrate},
    {"_migrate-recv", cmd_migrate_recv},  // hidden: the destination's end of migrate (over ssh)
    {"_monitor", cmd_monitor},            // hidden: the instance's watcher (monitor/server.h)
    {"_teardown", cmd_teardown},
    {"token", cmd_token},
};

// The vzctl release whose command surface Berth follows (legacy vzctl's last, 4.11.1). Tools that
// check for vzctl parse "vzctl version X.Y.Z" from --version or the first line of --help.
constexpr const char* kVzctlVersion = "4.11.1";

void print_version(FILE* out) {
  std::fprintf(out, "vzctl version %s (berth %s)\n", kVzctlVersion, BERTH_VERSION);
}

void usage(FILE* out, const std::string& prog) {
  print_version(out);
  std::fprintf(out,
               "Usage: %s [--quiet|--verbose|--skiplock] <command> <CTID|name> [options]\n"
               "Commands:\n"
               "  create CTID --ostemplate NAME [--config NAME] [--layout overlay|image|simfs]\n"
               "         [--hostname H] [--name N] [--ipadd IP] [--local_uid N --local_gid N]\n"
               "         [--i-trust-this-vps]  (needed for --local_uid 0: the CT is host root)\n"
               "  start CTID [--wait] [--force]     stop CTID [--fast] [--skip-umount]\n"
               "  restart CTID   status CTID   mount CTID   umount CTID   destroy|delete CTID\n"
               "  set CTID [options] [--save] [--setmode restart|ignore]\n"
               "  exec|exec2|exec3 CTID command [arg...]   enter CTID [--exec cmd...]\n"
               "  runscript CTID script   console CTID\n"
               "  list [vzlist options]   template list|create|import|remove\n"
               "  netstat [-j] [-a] [CTID...]   (traffic counters)\n"
               "  backup CTID [--storage DIR] [--full-read] [--export FILE.tar{.zst,.gz}]\n"
               "  backup-list [CTID] [--storage DIR] [-j]   backup-verify|backup-delete ID\n"
               "  restore CTID --backup ID|--import FILE [--ctid NEW] [--force] [--storage DIR]\n"
               "  chkpnt|suspend CTID [--dumpfile DIR] [--suspend|--dump|--kill|--resume]\n"
               "  restore|resume CTID [--dumpfile DIR] [--undump|--resume] [--keep-dump]\n"
               "  snapshot CTID [--id UUID] [--name N] [--description D] [--skip-suspend]\n"
               "         [--skip-config]\n"
               "  snapshot-list CTID [-H] [-o field,...] [--id UUID] [-j]\n"
               "  snapshot-switch CTID --id UUID [--skip-resume] [--skip-config]\n"
               "  snapshot-delete CTID --id UUID\n"
               "  snapshot-mount CTID --id UUID --target DIR   snapshot-umount CTID --id UUID\n"
               "  clone SRC DST [--snapshot UUID] [--hostname H] [--name N] [--ipadd IP]...\n"
               "  migrate CTID [user@]HOST [--online] [--keep-dst] [--remove-area yes|no]\n"
               "         [--ssh \"OPTS\"] [--check-only] [-t] [--remote-berth PATH]\n"
               "  token create NAME (--ct CTID,... | --admin) [--password]   token list [-j]\n"
               "  token delete NAME   (berthd's API tokens, docs/api.md)\n"
               "Also installed as vzctl, vzlist, vzubc, vznetstat, vzmigrate.\n",
               prog.c_str());
}

std::string base_name(const char* argv0) {
  std::string_view s(argv0 ? argv0 : "berth");
  size_t slash = s.rfind('/');
  return std::string(slash == std::string_view::npos ? s : s.substr(slash + 1));
}

// The watcher in a fork of this command (monitor/client.h): as a fresh `berth _monitor` would
// run, its workers running this program's entry in forks of their own. A --verbose of the
// command that spawned it is not the watcher's.
int serve_forked_watcher(const HostConfig& host) {
  runtime::set_trace(false);
  return monitor::serve(host, &cli::main);
}

}  // namespace

int report(const Invocation& inv, const Error& err) {
  std::fprintf(stderr, "%s: %s\n", inv.prog.c_str(), err.message().c_str());
  return err.exit_status();
}

void say(const Invocation& inv, const std::string& line) {
  if (!inv.quiet) std::printf("%s\n", line.c_str());
}

int main(int argc, char** argv) {
  Invocation inv;
  inv.prog = base_name(argv[0]);
  int i = 1;
  if (inv.prog == "vzlist") {
    inv.command = "list";
  } else if (inv.prog == "vzubc") {
    inv.command = "ubc";
  } else if (inv.prog == "vznetstat") {
    inv.command = "netstat";
  } else if (inv.prog == "vzmigrate") {
    inv.command = "migrate";
  } else {
    for (; i < argc; ++i) {
      std::string_view a = argv[i];
      if (a == "--quiet" || a == "-q")
        inv.quiet = true;
      else if (a == "--verbose" || a == "-v")
        ++inv.verbose;
      else if (a == "--skiplock")
        inv.skiplock = true;
      else if (a == "--help" || a == "-h") {
        usage(stdout, inv.prog);
        return 0;
      } else if (a == "--version") {
        print_version(stdout);
        return 0;
      } else if (!a.empty() && a.front() == '-') {
        std::fprintf(stderr, "%s: invalid option `%s'\n", inv.prog.c_str(), argv[i]);
        return exitcode::kBadArgument;
      } else
        break;
    }
    if (i >= argc) {
      usage(stderr, inv.prog);
      return exitcode::kBadArgument;
    }
    inv.command = argv[i++];
  }
  for (; i < argc; ++i) inv.args.emplace_back(argv[i]);
  // --verbose: the start/stop/exec pipelines print each step's duration (runtime/pipeline.h).
  if (inv.verbose > 0) runtime::set_trace(true);

  auto host = HostConfig::load();
  if (!host.ok()) return report(inv, host.error());
  // Another root's instance (the same CGROUP_PARENT) with VPSs: nothing here may act on them.
  if (auto owner = state::check_instance_owner(*host); !owner.ok())
    return report(inv, owner.error());

  // A start runs as a worker of the instance's watcher, so the CT's init becomes its child and
  // a reboot or poweroff inside is seen (monitor/server.h). The worker runs this same command
  // line with our fds: its output and exit status are a direct run's.
  // snapshot-switch starts a CT it stopped: the same worker, for the same reason.
  // A checkpoint's restore makes the CT's init too (restore without --backup/--import, resume).
  bool restores = inv.command == "resume" || inv.command == "restore";
  for (const auto& a : inv.args)
    if (a.rfind("--backup", 0) == 0 || a.rfind("--import", 0) == 0) restores = false;
  if (inv.command == "start" || inv.command == "restart" || inv.command == "snapshot-switch" ||
      restores) {
    std::vector<std::string> all(argv, argv + argc);
    monitor::set_watcher_entry(&serve_forked_watcher);
    if (auto rc = monitor::run_in_worker(*host, all)) return *rc;
  }
  for (const auto& c : kCommands)
    if (inv.command == c.name) return c.fn(inv, *host);
  std::fprintf(stderr, "%s: invalid command `%s' (see %s --help)\n", inv.prog.c_str(),
               inv.command.c_str(), inv.prog.c_str());
  return exitcode::kBadArgument;
}

}  // namespace berth::cli
