// `wisp ctl --api-sock PATH COMMAND`: a client of the API socket for people at a shell and for
// scripts, as Cloud Hypervisor's ch-remote is: info, pause, resume, stop, ctrl-alt-del,
// swap-drive, config, flush-metrics, and any request (`request METHOD PATH [JSON]`).
#pragma once

#include <string>

#include "vmm/api/http_message.h"
#include "vmm/base/result.h"

namespace wisp::api {

// Sends one request to the API socket at `socket_path` and returns the response; connecting,
// sending and receiving are bounded by `timeout_seconds`.
Result<HttpResponse> send_api_request(const std::string& socket_path, std::string_view method,
                                      std::string_view path, std::string_view body,
                                      int timeout_seconds = 10);

// `wisp ctl ...` (argv[0] is "ctl"); returns the exit status: 0 done, 1 refused by the API (its
// fault_message on stderr), 2 usage, 10 no answer from the socket.
int run_ctl(int argc, char** argv);

}  // namespace wisp::api
