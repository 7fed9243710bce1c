// Host test program for the sketches' frame codec (arduino_sketches/libraries/TinyMLKit/src).
//   board_codec crc     prints the CRC-32 of "123456789"
//   board_codec encode  writes one frame of every kind to stdout (values mirrored in test_board_cpp.py)
//   board_codec decode  reads stdin, prints each decoded frame and the decoder's counters
//   board_codec timing SOURCE STEP CLOCK_HZ NOTE  reads elapsed times (us) from stdin, writes their
//                       TIMING frame to stdout (the sketch's BENCH answer)
//   board_codec batch SCRIPT RESULTS  many of the above in one process (test_batch.h)
// Exits 1 if a codec call returns something unexpected.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "frame_codec.h"
#include "kit_timing.h"
#include "test_batch.h"

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

void write_stdout(void*, const uint8_t* data, size_t length) {
  fwrite(data, 1, length, stdout);
}

void count_bytes(void* context, const uint8_t*, size_t length) {
  *static_cast<size_t*>(context) += length;
}

int encode() {
  failures = 0;
  KitFrameWriter w;
  kit_writer_init(&w, write_stdout, nullptr);

  KitHello hello = {7, 0x1A2B3C4Du, 16000, 16000, 160, 120, KIT_PIXEL_RGB565_BE, "nano33 capture"};
  expect(kit_send_hello(&w, &hello), "hello");

  std::vector<int16_t> samples(16000);
  for (uint32_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<int16_t>((i * 7919u) & 0xFFFFu);
  expect(kit_send_audio(&w, 16000, samples.data(), static_cast<uint32_t>(samples.size())), "audio");

  // A camera frame streamed in pieces, as the sketch does row by row.
  const uint32_t rgb_bytes = 160u * 120u * 2u;
  expect(kit_image_begin(&w, 160, 120, KIT_PIXEL_RGB565_BE, rgb_bytes), "image begin");
  uint8_t chunk[1000];
  for (uint32_t j = 0; j < rgb_bytes;) {
    uint32_t n = 0;
    while (n < sizeof chunk && j < rgb_bytes) chunk[n++] = static_cast<uint8_t>((j++ * 31u + 7u) & 0xFFu);
    expect(kit_frame_write(&w, chunk, n), "image chunk");
  }
  expect(kit_frame_end(&w), "image end");

  std::vector<uint8_t> gray(96 * 96);
  for (uint32_t j = 0; j < gray.size(); ++j) gray[j] = static_cast<uint8_t>((j ^ (j >> 8)) & 0xFFu);
  expect(kit_send_image(&w, 96, 96, KIT_PIXEL_GRAY8, gray.data(), static_cast<uint32_t>(gray.size())), "gray image");

  const uint8_t scores[4] = {10, 20, 200, 25};
  expect(kit_send_result(&w, 123456u, 7890u, 2, scores, 4, "yes"), "result");
  expect(kit_send_log(&w, KIT_LOGLEVEL_INFO, "hello from C++"), "log");
  expect(kit_send_error(&w, KIT_ERRCODE_SENSOR, "camera not found"), "error");
  expect(kit_send_status(&w, KIT_CMD_CAPTURE_AUDIO, KIT_STATE_DONE, 20), "status");
  expect(kit_send_command(&w, KIT_CMD_CAPTURE_IMAGE, 5), "command");
  fflush(stdout);

  // Limits: nothing may reach the wire for a refused frame.
  size_t sent = 0;
  KitFrameWriter counter;
  kit_writer_init(&counter, count_bytes, &sent);
  expect(!kit_send_audio(&counter, 16000, samples.data(), KIT_MAX_CLIP_SAMPLES + 1), "too many samples refused");
  expect(!kit_image_begin(&counter, 160, 120, KIT_PIXEL_GRAY8, 160u * 120u + 1u), "wrong pixel byte count refused");
  expect(!kit_image_begin(&counter, 400, 400, KIT_PIXEL_RGB565_LE, 400u * 400u * 2u), "image over the limit refused");
  expect(!kit_frame_begin(&counter, 0x7F, 0), "unknown type refused");
  expect(!kit_send_result(&counter, 0, 0, 5, scores, 4, "x"), "top index outside the scores refused");
  expect(sent == 0, "refused frames send nothing");
  expect(kit_frame_begin(&counter, KIT_FRAME_LOG, 3), "begin log");
  expect(!kit_frame_write(&counter, "abcd", 4), "more than announced refused");
  expect(!kit_frame_end(&counter), "end before the payload is complete refused");
  expect(!kit_frame_begin(&counter, KIT_FRAME_LOG, 1), "second begin while open refused");

  uint8_t small[16];
  expect(kit_encode_frame(KIT_FRAME_LOG, 0, "hi", 3, small, sizeof small) == 15, "encode into a buffer");
  expect(kit_encode_frame(KIT_FRAME_LOG, 0, "0123456789", 10, small, sizeof small) == 0, "buffer too small refused");
  return failures ? 1 : 0;
}

void print_frame(void*, uint8_t type, uint8_t seq, const uint8_t* payload, uint32_t length) {
  if (type == KIT_FRAME_COMMAND) {
    KitCommand c;
    if (kit_parse_command(payload, length, &c)) {
      printf("CMD %u %u %lu\n", seq, c.op, static_cast<unsigned long>(c.arg));
      return;
    }
  }
  printf("FRAME %u %u %lu\n", type, seq, static_cast<unsigned long>(length));
}

int decode() {
  static KitFrameDecoder d;
  kit_decoder_init(&d);
  uint8_t buf[7];  // small reads, like a UART handing over a few bytes at a time
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) kit_decoder_feed(&d, buf, n, print_frame, nullptr);
  printf("STATS %lu %lu %lu %lu %lu\n", static_cast<unsigned long>(d.stats.frames),
         static_cast<unsigned long>(d.stats.dropped_bytes), static_cast<unsigned long>(d.stats.crc_errors),
         static_cast<unsigned long>(d.stats.bad_lengths), static_cast<unsigned long>(d.stats.unknown_types));
  return 0;
}

int timing(char** a) {
  static KitTiming t;
  kit_timing_reset(&t);
  unsigned long us;
  while (scanf("%lu", &us) == 1) kit_timing_add(&t, static_cast<uint32_t>(us));
  KitTimingSummary s;
  if (!kit_timing_summarize(&t, &s)) return 3;
  KitFrameWriter w;
  kit_writer_init(&w, write_stdout, nullptr);
  const bool ok = kit_send_timing(&w, static_cast<uint8_t>(atoi(a[0])), static_cast<uint8_t>(atoi(a[1])), &s,
                                  static_cast<uint32_t>(strtoul(a[2], nullptr, 10)), a[3]);
  KitTimingSummary bad = s;
  bad.median_us = s.max_us + 1;  // out of order: must be refused
  size_t sent = 0;
  KitFrameWriter counter;
  kit_writer_init(&counter, count_bytes, &sent);
  const bool refused = !kit_send_timing(&counter, 1, 1, &bad, 0, "") && sent == 0;
  fflush(stdout);
  return ok && refused ? 0 : 1;
}

int run(int argc, char** argv) {
  if (argc == 1 && strcmp(argv[0], "crc") == 0) {
    printf("%08lx\n", static_cast<unsigned long>(kit_crc32_update(0, "123456789", 9)));
    return 0;
  }
  if (argc == 1 && strcmp(argv[0], "encode") == 0) return encode();
  if (argc == 1 && strcmp(argv[0], "decode") == 0) return decode();
  if (argc == 5 && strcmp(argv[0], "timing") == 0) return timing(argv + 1);
  fprintf(stderr, "unknown mode or arguments\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "batch") == 0) return test_run_batch(argv[2], argv[3], run);
  if (argc < 2) {
    fprintf(stderr, "usage: %s crc|encode|decode|timing ...|batch SCRIPT RESULTS\n", argv[0]);
    return 2;
  }
  return run(argc - 1, argv + 1);
}
