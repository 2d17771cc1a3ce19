#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>

#include "vmm/exit_status.h"

using namespace wisp;

TEST_CASE("README.md's exit status table is the one wisp --help prints") {
  std::ifstream in(std::string(PROJECT_SOURCE_DIR) + "/README.md");
  REQUIRE(in);
  std::string readme(std::istreambuf_iterator<char>(in), {});
  // On a mismatch, paste the expected table (in the failure message) into README.md.
  INFO("expected in README.md:\n" << exit_status_markdown());
  CHECK(readme.find("### Exit status\n\n" + exit_status_markdown()) != std::string::npos);
}

TEST_CASE("the help text lists every status and meaning, without Markdown") {
  std::string help = exit_status_help();
  CHECK(help.starts_with("Exit status:\n  0 "));
  CHECK(help.find("odd: (v << 1) | 1  the guest wrote v to the debug-exit port 0xf4") !=
        std::string::npos);
  CHECK(help.find("12") != std::string::npos);
  CHECK(help.find('`') == std::string::npos);
}
