// An alternate signal stack for the calling thread. sigaltstack is per thread: without one, a
// thread that overflows its stack dies before the fatal-signal handler can restore the terminal.
#pragma once

namespace wisp {

// Gives the calling thread its own alternate stack (once; freed when the thread ends). Every
// thread Wisp starts calls this first.
void use_alternate_signal_stack();

}  // namespace wisp
