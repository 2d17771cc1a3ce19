// What the API does to a VM once it runs: the calls of Firecracker's post-boot endpoints. The Vm
// implements it; the API's tests use a fake. Called on the main thread.
#pragma once

#include <string>

#include "vmm/base/result.h"

namespace wisp::api {

class VmControl {
 public:
  virtual ~VmControl() = default;
  // Holds every vCPU out of the guest (and the guest's clock with them) until resume().
  virtual Result<void> pause() = 0;
  virtual Result<void> resume() = 0;
  // Ctrl+Alt+Del on the guest's keyboard: a Linux guest reboots, which ends the VM.
  virtual Result<void> send_ctrl_alt_del() = 0;
  // The `index`-th disk (the guest's order: vda, vdb, ...) reads and writes `path` from now on;
  // the guest is told of its new size.
  virtual Result<void> replace_disk(size_t index, const std::string& path) = 0;
  // Ends the VM as a stop signal does.
  virtual void stop() = 0;
};

}  // namespace wisp::api
