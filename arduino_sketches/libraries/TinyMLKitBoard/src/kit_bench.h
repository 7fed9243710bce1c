// kit_bench.h: answer `tinymlkit bench` from a model sketch (the BENCH command of the kit's protocol).
//
// Board code (Arduino headers). The sketch calls kit_bench_poll() in loop(), kit_bench_step() with the
// micros() its feature or pixel step took, and kit_bench_inference() with the micros() of each Invoke().
// On BENCH (argument: how many inferences, 0 for KIT_BENCH_DEFAULT_RUNS) the next inferences are timed;
// then one TIMING frame per step and STATUS DONE go out on Serial, framed like every kit message
// (frame_codec.h), between the sketch's text lines. Timing costs two micros() calls per step.
#ifndef KIT_BENCH_H_
#define KIT_BENCH_H_

#include <Arduino.h>

#include "frame_codec.h"
#include "kit_timing.h"

#ifndef KIT_BENCH_DEFAULT_RUNS
#define KIT_BENCH_DEFAULT_RUNS 20u
#endif

// CPU clock the figures are taken at: the core's F_CPU where it defines one, else the nRF52840's
// 64 MHz (nRF52840 Product Specification).
#if defined(F_CPU)
#define KIT_BENCH_CPU_HZ ((uint32_t)(F_CPU))
#else
#define KIT_BENCH_CPU_HZ 64000000u
#endif

struct KitBench {
  KitFrameWriter writer;
  KitFrameDecoder decoder;
  KitTiming inference;
  KitTiming step;
  uint8_t step_code;  // KIT_STEP_FEATURES or KIT_STEP_PIXELS
  const char* note;   // what the step is, sent with the figures
  uint32_t wanted;    // inferences to time; 0 when idle
};

inline void kit_bench_serial_write(void*, const uint8_t* data, size_t length) {
  Serial.write(data, length);
}

// step_code: KIT_STEP_FEATURES (one audio frame to int8) or KIT_STEP_PIXELS (one camera frame to int8).
inline void kit_bench_begin(KitBench* b, uint8_t step_code, const char* note) {
  kit_writer_init(&b->writer, kit_bench_serial_write, nullptr);
  kit_decoder_init(&b->decoder);
  kit_timing_reset(&b->inference);
  kit_timing_reset(&b->step);
  b->step_code = step_code;
  b->note = note;
  b->wanted = 0;
}

inline void kit_bench_on_frame(void* context, uint8_t type, uint8_t, const uint8_t* payload, uint32_t length) {
  KitBench* b = static_cast<KitBench*>(context);
  KitCommand c;
  if (type != KIT_FRAME_COMMAND || !kit_parse_command(payload, length, &c)) return;
  if (c.op == KIT_CMD_BENCH) {
    kit_timing_reset(&b->inference);
    kit_timing_reset(&b->step);
    b->wanted = c.arg ? c.arg : KIT_BENCH_DEFAULT_RUNS;
    kit_send_status(&b->writer, KIT_CMD_BENCH, KIT_STATE_STARTED, 0);
  } else if (c.op == KIT_CMD_STOP && b->wanted) {
    b->wanted = 0;
    kit_send_status(&b->writer, KIT_CMD_BENCH, KIT_STATE_STOPPED, 0);
  }
}

// Reads what the computer sent (non-blocking).
inline void kit_bench_poll(KitBench* b) {
  uint8_t buf[32];
  while (Serial.available() > 0) {
    size_t n = 0;
    while (n < sizeof buf && Serial.available() > 0) buf[n++] = static_cast<uint8_t>(Serial.read());
    kit_decoder_feed(&b->decoder, buf, n, kit_bench_on_frame, b);
  }
}

inline void kit_bench_step(KitBench* b, uint32_t elapsed_us) {
  if (b->wanted) kit_timing_add(&b->step, elapsed_us);
}

// After each inference; sends the answer once the requested number of inferences is timed.
inline void kit_bench_inference(KitBench* b, uint32_t elapsed_us) {
  if (!b->wanted) return;
  kit_timing_add(&b->inference, elapsed_us);
  if (b->inference.runs < b->wanted) return;
  KitTimingSummary s;
  uint32_t sent = 0;
  if (kit_timing_summarize(&b->inference, &s) &&
      kit_send_timing(&b->writer, KIT_TIMING_MEASURED, KIT_STEP_INFERENCE, &s, KIT_BENCH_CPU_HZ, "Invoke()")) {
    ++sent;
  }
  if (kit_timing_summarize(&b->step, &s) &&
      kit_send_timing(&b->writer, KIT_TIMING_MEASURED, b->step_code, &s, KIT_BENCH_CPU_HZ, b->note)) {
    ++sent;
  }
  kit_send_status(&b->writer, KIT_CMD_BENCH, KIT_STATE_DONE, sent);
  b->wanted = 0;
}

#endif  // KIT_BENCH_H_
