#include "vmm/cgroup.h"

#include <catch2/catch.hpp>

using namespace wisp;

namespace {

// This kind of host: v1 controllers, and a v2 hierarchy with none of them.
constexpr std::string_view kHybridMounts =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr std::string_view kHybridCgroups = "8:pids:/\n4:memory:/jobs/42\n2:cpu,cpuacct:/\n0::/\n";

constexpr std::string_view kV2Mounts =
    "26 23 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

}  // namespace

TEST_CASE("the values of --cgroup", "[cgroup]") {
  auto limits = parse_cgroup_limits("memory=512M,cpu=1.5,pids=100,parent=/wisp");
  REQUIRE(limits);
  CHECK(limits->memory_bytes == 512ull << 20);
  CHECK(limits->cpus == 1.5);
  CHECK(limits->pids == 100u);
  CHECK(limits->parent == "/wisp");

  auto memory_only = parse_cgroup_limits("memory=1G");
  REQUIRE(memory_only);
  CHECK_FALSE(memory_only->cpus);
  CHECK(memory_only->parent.empty());

  CHECK(parse_cgroup_limits("parent=/wisp").error().message().find("sets no limit") !=
        std::string::npos);
  CHECK(parse_cgroup_limits("pids=0").error().message() ==
        "--cgroup pids=0: not a positive whole number");
  CHECK(parse_cgroup_limits("cpu=fast").error().message() ==
        "--cgroup cpu=fast: not a number of CPUs from 0.01 to 4096");
  CHECK(parse_cgroup_limits("memory").error().message().find("--cgroup memory=") == 0);
}

TEST_CASE("a hybrid host's controllers are found on v1", "[cgroup]") {
  auto memory = find_cgroup_hierarchy("memory", kHybridMounts, kHybridCgroups, "hugetlb");
  REQUIRE(memory);
  CHECK_FALSE(memory->v2);
  CHECK(memory->mount_point == "/sys/fs/cgroup/memory");
  CHECK(memory->current_path == "/jobs/42");

  auto cpu = find_cgroup_hierarchy("cpu", kHybridMounts, kHybridCgroups, "hugetlb");
  REQUIRE(cpu);
  CHECK(cpu->mount_point == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(cpu->current_path == "/");

  // A controller that v2 has (here hugetlb) is taken from v2.
  auto hugetlb = find_cgroup_hierarchy("hugetlb", kHybridMounts, kHybridCgroups, "hugetlb");
  REQUIRE(hugetlb);
  CHECK(hugetlb->v2);
  CHECK(hugetlb->mount_point == "/sys/fs/cgroup/unified");

  auto missing = find_cgroup_hierarchy("io", kHybridMounts, kHybridCgroups, "hugetlb");
  CHECK(missing.error().message() ==
        "no cgroup hierarchy with the io controller is mounted (/proc/self/mountinfo)");
}

TEST_CASE("a v2 host's controllers, and a cgroup mount of a subtree", "[cgroup]") {
  auto memory = find_cgroup_hierarchy("memory", kV2Mounts, "0::/user.slice/session-1.scope\n",
                                      "cpu memory pids");
  REQUIRE(memory);
  CHECK(memory->v2);
  CHECK(memory->mount_point == "/sys/fs/cgroup");
  CHECK(memory->current_path == "/user.slice/session-1.scope");

  // Inside a container the mount's root is the container's cgroup: paths are below it.
  std::string container = "40 30 0:23 /machine/box /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  auto inside = find_cgroup_hierarchy("pids", container, "0::/machine/box/init\n", "pids");
  REQUIRE(inside);
  CHECK(inside->current_path == "/init");
}
