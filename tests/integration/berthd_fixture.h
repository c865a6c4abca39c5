// BerthdTest: a BerthTest (fresh BERTH_ROOT, busybox CTs, leak check) with a real berthd started
// in the foreground on it (unix socket under the root, HTTPS on a free 127.0.0.1 port, the panel
// from a directory of the test), tokens for two customers and an operator, and request helpers
// that check every answer against the OpenAPI document berthd serves (openapi_check.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "api_client.h"
#include "harness.h"

namespace berth::itest {

class BerthdTest : public BerthTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Start berthd (extra: "KEY=value" environment); waits until it answers. Stop: SIGTERM (or
  // SIGKILL when kill) and wait.
  void start_berthd(const std::vector<std::string>& extra_env = {},
                    const std::vector<std::string>& extra_args = {});
  void stop_berthd(bool kill = false);
  pid_t berthd_pid() const { return berthd_; }

  // `berth token create NAME args...` -> the token.
  std::string make_token(const std::string& name, const std::vector<std::string>& args,
                         const std::string& password = "");

  Endpoint tls() const { return Endpoint{"", "127.0.0.1", port_}; }
  Endpoint unix_socket() const { return Endpoint{root() + "/run/berth/berthd.sock"}; }

  // A request over TLS with token (empty: none); the answer is checked against the OpenAPI
  // document (a mismatch is a test failure).
  HttpResult call(const std::string& token, const std::string& method, const std::string& path,
                  const std::string& body = "", Headers headers = {});
  HttpResult call_unix(const std::string& method, const std::string& path,
                       const std::string& body = "");
  void check(const std::string& method, const std::string& path, const HttpResult& r);
  // Poll GET /v1/jobs/{id} (admin) until the job is final; returns it.
  nlohmann::json wait_job(const std::string& id, int seconds = 60);

  nlohmann::json openapi_;
  std::string admin_, alice_, bob_;  // tokens: operator, customer of ct_a_, customer of ct_b_
  std::string panel_dir_;
  int port_ = 0;

 private:
  pid_t berthd_ = -1;
};

}  // namespace berth::itest
