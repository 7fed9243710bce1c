// kit_timing.h: statistics of a step timed with the board's microsecond timer (BENCH command).
//
// Plain C++ with no Arduino headers: the sketch calls micros() around a step and adds the difference;
// the BENCH answer sends the summary in a TIMING frame (frame_codec.h). The same code is checked on the
// computer and on an emulated Cortex-M4 against Python (tests/test_board_cpp.py, tests/test_qemu_m4.py).
#ifndef TINYMLKIT_KIT_TIMING_H_
#define TINYMLKIT_KIT_TIMING_H_

#include <stdint.h>

// Runs held for the median; min, max and mean cover every run added.
#ifndef KIT_TIMING_MAX_SAMPLES
#define KIT_TIMING_MAX_SAMPLES 64u
#endif

struct KitTiming {
  uint32_t samples[KIT_TIMING_MAX_SAMPLES];  // the first KIT_TIMING_MAX_SAMPLES runs
  uint32_t runs;                             // runs added
  uint32_t min_us;
  uint32_t max_us;
  uint64_t total_us;  // 64 bits: 2^32 us is only 72 minutes
};

struct KitTimingSummary {
  uint32_t runs;
  uint32_t min_us;
  uint32_t median_us;  // lower median of the held runs: sorted[(n - 1) / 2]
  uint32_t max_us;
  uint32_t mean_us;    // total / runs, rounded down
};

void kit_timing_reset(KitTiming* timing);
void kit_timing_add(KitTiming* timing, uint32_t elapsed_us);
// False (and a zero summary) when no run was added.
bool kit_timing_summarize(const KitTiming* timing, KitTimingSummary* summary);

#endif  // TINYMLKIT_KIT_TIMING_H_
