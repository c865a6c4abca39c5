#include "runtime/ct_ops.h"

#include "core/ct_model.h"
#include "core/exit_codes.h"
#include "runtime/migrate.h"
#include "state/status.h"

namespace berth::runtime {

Status start_ct(const CtConfig& ct, const StartOptions& opts) {
  // A migration that committed and was killed before removing this host's copy: the CT runs
  // on the destination; starting it here too would make two.
  if (std::string dest = migrated_away_to(ct.host(), ct.ctid()); !dest.empty())
    return Error::with_status(exitcode::kStartDisabled, "it was migrated to " + dest +
                                                            "; run `berth migrate " + ct.ctid() +
                                                            " " + dest + "` to finish");
  return start(ct, opts);
}

Status restart_ct(const CtConfig& ct, bool fast, const StartOptions& opts, const Say& say) {
  BERTH_RETURN_IF_ERROR(validate_config(ct));
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (s.running) {
    if (say) say("Restarting CT " + ct.ctid());
    BERTH_RETURN_IF_ERROR(stop(ct, {fast, false}));
  }
  if (say) say("Starting CT " + ct.ctid() + " ...");
  return start(ct, opts);
}

Status teardown_dead_init(const HostConfig& host, const std::string& ctid, bool restart) {
  BERTH_ASSIGN_OR_RETURN(CtConfig ct, CtConfig::load(host, ctid));
  BERTH_ASSIGN_OR_RETURN(auto lock, lock_ct(host, ct.ctid(), false));
  BERTH_ASSIGN_OR_RETURN(state::CtStatus s, state::query_status(ct));
  if (s.running) return {};
  auto st = stop(ct, {true, false});
  if (!st.ok() && st.error().exit_status() != exitcode::kNotRunning)
    return Error(st.error()).context("stop CT " + ct.ctid());
  if (!restart) return {};
  return start(ct, {}).context("start CT " + ct.ctid());
}

}  // namespace berth::runtime
