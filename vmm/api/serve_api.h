// `wisp --api-sock PATH [--id ID] [--config-file FILE]`: Wisp run as Firecracker is run by an
// orchestrator. The API socket takes the configuration until InstanceStart (or the VM starts
// from FILE at once), then serves the running VM until it stops; Wisp then exits with the status
// `wisp run` would have (exit_status.h).
#pragma once

#include "vmm/cli.h"

namespace wisp::api {

int serve_api(const Command& command);

}  // namespace wisp::api
