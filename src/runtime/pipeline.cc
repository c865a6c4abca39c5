#include "runtime/pipeline.h"

#include <cstdio>
#include <cstdlib>

namespace berth::runtime {
namespace {

bool g_trace = false;

bool env_trace() {
  const char* v = std::getenv("BERTH_TRACE");
  return v && *v && std::string_view(v) != "0";
}

bool is_index(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

double ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

void set_trace(bool on) { g_trace = on; }
bool trace_enabled() { return g_trace || env_trace(); }

bool fail_step_matches(std::string_view spec, std::string_view pipeline, size_t i,
                       std::string_view step) {
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    if (spec.substr(0, colon) != pipeline) return false;
    spec = spec.substr(colon + 1);
  }
  if (is_index(spec)) return spec == std::to_string(i + 1);
  return spec == step;
}

PipelineRun::PipelineRun(std::string_view pipeline, size_t steps)
    : pipeline_(pipeline), steps_(steps), start_(std::chrono::steady_clock::now()) {}

Status PipelineRun::before(size_t i, std::string_view step) {
  const char* spec = std::getenv("BERTH_FAIL_STEP");
  if (!spec || !fail_step_matches(spec, pipeline_, i, step)) return {};
  if (trace_enabled())
    std::fprintf(stderr, "berth: trace: %s %zu/%zu %.*s injected failure\n", pipeline_.c_str(),
                 i + 1, steps_, static_cast<int>(step.size()), step.data());
  return Error::from_errno(EIO,
                           "step " + std::string(step) + ": failure injected by BERTH_FAIL_STEP");
}

void PipelineRun::after(size_t i, std::string_view step, std::chrono::steady_clock::duration took) {
  if (!trace_enabled()) return;
  std::fprintf(stderr, "berth: trace: %s %zu/%zu %.*s %.3f ms\n", pipeline_.c_str(), i + 1, steps_,
               static_cast<int>(step.size()), step.data(), ms(took));
}

void PipelineRun::finish() {
  if (!trace_enabled()) return;
  std::fprintf(stderr, "berth: trace: %s total %.3f ms\n", pipeline_.c_str(),
               ms(std::chrono::steady_clock::now() - start_));
}

}  // namespace berth::runtime
