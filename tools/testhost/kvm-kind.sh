#!/usr/bin/env bash
# Print what kind of KVM this machine has, for callers that choose between running a
# Linux guest directly and running it inside the nested test host (tools/testhost/run.sh):
#   hardware  /dev/kvm exists, the CPU has vmx or svm, and kvm_pvm is not loaded
#   pvm       kvm_pvm is loaded: /dev/kvm is PVM, which cannot run a stock Linux kernel
#   none      no /dev/kvm (or a /dev/kvm on a CPU without vmx/svm)
set -euo pipefail

usage() { echo "usage: $0   (prints hardware, pvm or none)" >&2; exit 2; }

kvm_kind() {
    if [[ ! -e /dev/kvm ]]; then
        echo none
    elif [[ -d /sys/module/kvm_pvm ]]; then
        echo pvm
    elif grep -qwE 'vmx|svm' /proc/cpuinfo; then
        echo hardware
    else
        echo none
    fi
}

[[ $# -eq 0 ]] || usage
kvm_kind
