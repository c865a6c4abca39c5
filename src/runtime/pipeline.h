// Pipelines of named steps (ARCHITECTURE.md section 2): start, its child side, stop, exec and
// destroy are each a table of `verb_object(ctx)` steps run in order over one context. The table
// is the operation's table of contents; the context owns what the steps acquired (guards), so a
// failed step unwinds by the context's destruction. Steps do not call each other.
//
// Every run of a pipeline is timed per step. Tracing (BERTH_TRACE=1 in the environment, or
// `berth --verbose`, which calls set_trace) prints one line per step on stderr:
//   berth: trace: <pipeline> <i>/<n> <step> <ms> ms
// and a last `berth: trace: <pipeline> total <ms> ms`. bench/lifecycle reads these lines.
//
// Failure injection, for the host admin and the tests (also in release builds; it is the
// caller's own environment): BERTH_FAIL_STEP=<step> | <index> | <pipeline>:<step> |
// <pipeline>:<index> makes that step fail before it runs, as if it had failed (EIO, "failure
// injected by BERTH_FAIL_STEP"), and the pipeline unwinds as on any failure. Indexes count from 1.
// The child side of start runs its pipeline in the child (pipeline "start-child"), so an injected
// failure there travels over the sync socket like a real one.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::runtime {

template <class Ctx>
struct Step {
  const char* name;  // verb_object
  Status (*run)(Ctx&);
};

// Turn tracing on for this process (--verbose); BERTH_TRACE=1 does the same.
void set_trace(bool on);
bool trace_enabled();

// The non-template half of run_pipeline: injection and trace output.
class PipelineRun {
 public:
  PipelineRun(std::string_view pipeline, size_t steps);
  // Before step i (0-based): the injected failure, if BERTH_FAIL_STEP names this step.
  Status before(size_t i, std::string_view step);
  void after(size_t i, std::string_view step, std::chrono::steady_clock::duration took);
  void finish();

 private:
  std::string pipeline_;
  size_t steps_;
  std::chrono::steady_clock::time_point start_;
};

// Whether BERTH_FAIL_STEP names step i (0-based) `step` of `pipeline` (exposed for unit tests).
bool fail_step_matches(std::string_view spec, std::string_view pipeline, size_t i,
                       std::string_view step);

template <class Ctx>
Status run_pipeline(std::string_view pipeline, std::span<const Step<Ctx>> steps, Ctx& ctx) {
  PipelineRun run(pipeline, steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    BERTH_RETURN_IF_ERROR(run.before(i, steps[i].name));
    auto t0 = std::chrono::steady_clock::now();
    Status st = steps[i].run(ctx);
    run.after(i, steps[i].name, std::chrono::steady_clock::now() - t0);
    if (!st.ok()) return st;
  }
  run.finish();
  return {};
}

template <class Ctx>
std::vector<std::string> step_names(std::span<const Step<Ctx>> steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) out.emplace_back(s.name);
  return out;
}

// The step names of each pipeline, in order (unit tests check the order rules on them).
std::vector<std::string> start_parent_step_names();  // "start" (runtime/start.cc)
std::vector<std::string> start_child_step_names();   // "start-child" (runtime/child_init.cc)
std::vector<std::string> stop_step_names();          // "stop" (runtime/stop.cc)
std::vector<std::string> exec_step_names();          // "exec" (runtime/exec.cc)
std::vector<std::string> destroy_step_names();       // "destroy" (runtime/create.cc)

}  // namespace berth::runtime
