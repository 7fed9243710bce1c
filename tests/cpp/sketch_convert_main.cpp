// Host driver for the sketches' board-independent C++ (TinyMLKit library): tests/test_sketches_cpp.py
// feeds it files and compares its output with the Python implementation of the same step.
//
//   features IN OUT NUM DEN SCALE_BITS ZERO_POINT   uint16 LE values -> int8 (scale as float32 bits)
//   recognize WINDOW THRESHOLD SUPPRESSION MIN_COUNT N_LABELS IGNORE_MASK
//             stdin: "time s0 .. sN-1" (int8) per line; stdout: "time top score is_new count"
//   prepare IN W H FORMAT CHANNELS OUT_W OUT_H OUT  frame -> model pixels
//   mcu IN FRAME_W FRAME_H FRAME_FORMAT CHANNELS OUT_W OUT_H OUT
//             IN: blocks "x y w h" (int32 LE each) + w*h uint16 LE RGB565; places them, then prepares
//   int8 IN TABLE OUT                               pixels through a 256-byte table
//   window IN FRAMES SIZE ZERO_POINT EVERY OUT      int8 frames (SIZE each) shifted into a window one by one;
//             OUT: the window (FRAMES * SIZE) each time kit_window_ready() says to run the model
//   batch SCRIPT RESULTS                            many of the above in one process (test_batch.h)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "feature_quant.h"
#include "feature_window.h"
#include "image_convert.h"
#include "recognize_commands.h"
#include "test_batch.h"

static std::vector<uint8_t> read_all(const char* path) {
  std::vector<uint8_t> out;
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  uint8_t buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  fclose(f);
  return out;
}

static void write_all(const char* path, const void* data, size_t n) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  fclose(f);
}

static int32_t get_i32(const uint8_t* p) {
  return (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}

static int features(char** a) {
  std::vector<uint8_t> in = read_all(a[0]);
  const size_t n = in.size() / 2;
  std::vector<uint16_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (uint16_t)(in[2 * i] | (in[2 * i + 1] << 8));
  uint32_t bits = (uint32_t)strtoul(a[4], nullptr, 0);
  float scale;
  memcpy(&scale, &bits, 4);
  std::vector<int8_t> out(n);
  kit_features_to_int8(v.data(), n, atoi(a[2]), atoi(a[3]), scale, atoi(a[5]), out.data());
  write_all(a[1], out.data(), n);
  return 0;
}

static int recognize(char** a) {
  KitRecognizerSettings s = {atoi(a[0]), atoi(a[1]), atoi(a[2]), atoi(a[3])};
  const int n = atoi(a[4]);
  static KitRecognizer r;
  if (kit_recognizer_init(&r, &s, n, (uint32_t)strtoul(a[5], nullptr, 0)) != KIT_RECOGNIZER_OK) {
    printf("bad-settings\n");
    return 0;
  }
  long t;
  while (scanf("%ld", &t) == 1) {
    int8_t sc[KIT_RECOGNIZER_MAX_LABELS];
    for (int i = 0; i < n; ++i) {
      int v;
      if (scanf("%d", &v) != 1) return 3;
      sc[i] = (int8_t)v;
    }
    KitDecision d;
    if (kit_recognizer_process_int8(&r, (uint32_t)t, sc, &d) != KIT_RECOGNIZER_OK) {
      printf("time-backwards\n");
      continue;
    }
    printf("%lu %d %d %d %d\n", (unsigned long)d.time_ms, d.top_index, d.top_score, d.is_new ? 1 : 0, d.count);
  }
  return 0;
}

static int prepare(char** a) {
  std::vector<uint8_t> in = read_all(a[0]);
  const int w = atoi(a[1]), h = atoi(a[2]), fmt = atoi(a[3]), ch = atoi(a[4]), ow = atoi(a[5]), oh = atoi(a[6]);
  if ((size_t)w * h * kit_image_bytes_per_pixel(fmt) != in.size()) return 4;
  std::vector<uint8_t> out((size_t)ow * oh * ch);
  if (!kit_prepare_frame(in.data(), w, h, fmt, ch, out.data(), ow, oh)) return 5;
  write_all(a[7], out.data(), out.size());
  return 0;
}

static int mcu(char** a) {
  std::vector<uint8_t> in = read_all(a[0]);
  const int fw = atoi(a[1]), fh = atoi(a[2]), ff = atoi(a[3]), ch = atoi(a[4]), ow = atoi(a[5]), oh = atoi(a[6]);
  std::vector<uint8_t> frame((size_t)fw * fh * kit_image_bytes_per_pixel(ff));
  size_t pos = 0;
  while (pos + 16 <= in.size()) {
    const int x = get_i32(&in[pos]), y = get_i32(&in[pos + 4]), bw = get_i32(&in[pos + 8]), bh = get_i32(&in[pos + 12]);
    pos += 16;
    std::vector<uint16_t> block((size_t)bw * bh);
    for (size_t i = 0; i < block.size(); ++i) block[i] = (uint16_t)(in[pos + 2 * i] | (in[pos + 2 * i + 1] << 8));
    pos += 2 * block.size();
    if (!kit_place_mcu_rgb565(block.data(), bw, bh, x, y, frame.data(), fw, fh, ff)) return 6;
  }
  std::vector<uint8_t> out((size_t)ow * oh * ch);
  if (!kit_prepare_frame(frame.data(), fw, fh, ff, ch, out.data(), ow, oh)) return 5;
  write_all(a[7], out.data(), out.size());
  return 0;
}

static int to_int8(char** a) {
  std::vector<uint8_t> in = read_all(a[0]);
  std::vector<uint8_t> table = read_all(a[1]);
  if (table.size() != 256) return 7;
  std::vector<int8_t> out(in.size());
  kit_pixels_to_int8(in.data(), in.size(), reinterpret_cast<const int8_t*>(table.data()), out.data());
  write_all(a[2], out.data(), out.size());
  return 0;
}

static int window(char** a) {
  std::vector<uint8_t> in = read_all(a[0]);
  const int frames = atoi(a[1]), size = atoi(a[2]), every = atoi(a[4]);
  if (frames < 1 || size < 1 || in.size() % (size_t)size) return 7;
  std::vector<int8_t> data((size_t)frames * (size_t)size);
  KitFeatureWindow w;
  kit_window_init(&w, data.data(), frames, size, atoi(a[3]));
  for (size_t i = 0; i < (size_t)frames * (size_t)size; ++i) {
    if (data[i] != (int8_t)atoi(a[3])) return 8;  // not filled with the zero point
  }
  std::vector<int8_t> out;
  for (size_t at = 0; at < in.size(); at += (size_t)size) {
    kit_window_push(&w, reinterpret_cast<const int8_t*>(in.data() + at));
    if (kit_window_ready(&w, every)) out.insert(out.end(), data.begin(), data.end());
  }
  write_all(a[5], out.data(), out.size());
  return 0;
}

static int run(int argc, char** argv) {
  if (argc < 1) return 1;
  const std::string cmd = argv[0];
  if (cmd == "features" && argc == 7) return features(argv + 1);
  if (cmd == "recognize" && argc == 7) return recognize(argv + 1);
  if (cmd == "prepare" && argc == 9) return prepare(argv + 1);
  if (cmd == "mcu" && argc == 9) return mcu(argv + 1);
  if (cmd == "int8" && argc == 4) return to_int8(argv + 1);
  if (cmd == "window" && argc == 7) return window(argv + 1);
  fprintf(stderr, "bad arguments\n");
  return 1;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "batch") == 0) return test_run_batch(argv[2], argv[3], run);
  return run(argc - 1, argv + 1);
}
