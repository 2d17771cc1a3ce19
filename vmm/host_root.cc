#include "vmm/host_root.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vmm/base/temporary_directory.h"
#include "vmm/host_root_init.h"  // generated from host_root_init.sh: kHostRootInit

namespace wisp {
namespace {

bool has_word(const std::string& cmdline, std::string_view prefix) {
  std::istringstream words(cmdline);
  std::string word;
  while (words >> word)
    if (word.starts_with(prefix)) return true;
  return false;
}

Result<void> write_file(const std::string& path, std::string_view content, mode_t mode) {
  std::ofstream file(path, std::ios::binary);
  file << content;
  file.close();
  if (!file) return fail("writing {}", path);
  if (::chmod(path.c_str(), mode) != 0) return fail_errno(fmt::format("chmod {}", path));
  return {};
}

// The words go before a "--", after which the kernel hands the rest to init.
void add_to_cmdline(std::string& cmdline, const std::string& words) {
  size_t separator = (" " + cmdline + " ").find(" -- ");  // at the index of "--" in cmdline
  if (separator == std::string::npos) {
    cmdline += (cmdline.empty() ? "" : " ") + words;
  } else {
    cmdline.insert(separator, words + " ");
  }
}

}  // namespace

Result<HostRootRun> HostRootRun::prepare(VmConfig& config, const std::string& command) {
  for (std::string_view word : {"root=", "rootfstype=", "init="})
    if (has_word(config.cmdline, word))
      return fail_usage("--host-root sets {} itself: leave it out of --cmdline", word);
  std::error_code error;
  std::string cwd = std::filesystem::current_path(error).string();
  if (error) return fail("--host-root: the current directory: {}", error.message());

  std::string directory = TRY_CONTEXT(make_temporary_directory("wisp-host-root"), "--host-root");
  HostRootRun run(directory);
  // The guest's root is uid 0 on the back end's side too, but keep the directory readable.
  ::chmod(directory.c_str(), 0755);
  const char* term = ::getenv("TERM");
  TRY(write_file(directory + "/init", kHostRootInit, 0755));
  TRY(write_file(directory + "/cwd", cwd, 0644));
  TRY(write_file(directory + "/command", command, 0644));
  TRY(write_file(directory + "/term", term && *term ? term : "vt100", 0644));
  if (::mkdir((directory + "/layer").c_str(), 0755) != 0)
    return fail_errno(fmt::format("--host-root: mkdir {}/layer", directory));

  config.filesystems.push_back({kHostRootTag, "", "/", true});
  config.filesystems.push_back({kHostRunTag, "", directory, false});
  add_to_cmdline(config.cmdline, fmt::format("root={} rootfstype=virtiofs ro init={}/init "
                                             "wisp.modules=virtio_mmio,virtiofs,overlay",
                                             kHostRootTag, directory));
  return run;
}

HostRootRun::~HostRootRun() {
  if (directory_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

std::optional<int> HostRootRun::guest_status() const {
  std::ifstream file(directory_ + "/status");
  int status = 0;
  if (!(file >> status) || status < 0 || status > 255) return std::nullopt;
  return status;
}

}  // namespace wisp
