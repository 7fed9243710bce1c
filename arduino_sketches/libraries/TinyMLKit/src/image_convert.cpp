// image_convert.cpp: see image_convert.h.
#include "image_convert.h"

int kit_image_bytes_per_pixel(int format) {
  switch (format) {
    case KIT_IMG_GRAY8: return 1;
    case KIT_IMG_RGB565_BE: return 2;
    case KIT_IMG_RGB565_LE: return 2;
    case KIT_IMG_RGB888: return 3;
    default: return 0;
  }
}

void kit_rgb565_to_rgb888(uint16_t v, uint8_t* r, uint8_t* g, uint8_t* b) {
  const uint32_t r5 = (v >> 11) & 0x1Fu, g6 = (v >> 5) & 0x3Fu, b5 = v & 0x1Fu;
  *r = (uint8_t)((r5 << 3) | (r5 >> 2));
  *g = (uint8_t)((g6 << 2) | (g6 >> 4));
  *b = (uint8_t)((b5 << 3) | (b5 >> 2));
}

uint8_t kit_rgb_to_gray(uint8_t r, uint8_t g, uint8_t b) {
  return (uint8_t)((19595u * r + 38470u * g + 7471u * b + 32768u) >> 16);
}

KitCropBox kit_center_crop_box(int width, int height, int out_width, int out_height) {
  int w, h;
  if ((int64_t)width * out_height > (int64_t)height * out_width) {  // wider than the output: keep the height
    w = (int)(((int64_t)height * out_width) / out_height);
    h = height;
  } else {
    w = width;
    h = (int)(((int64_t)width * out_height) / out_width);
  }
  if (w < 1) w = 1;
  if (h < 1) h = 1;
  KitCropBox box = {(width - w) / 2, (height - h) / 2, w, h};
  return box;
}

// One source pixel in the model's channel count.
static inline void fetch(const uint8_t* frame, int width, int format, int channels, int x, int y, uint8_t* px) {
  const size_t i = (size_t)y * (size_t)width + (size_t)x;
  uint8_t r, g, b;
  switch (format) {
    case KIT_IMG_GRAY8:
      px[0] = frame[i];
      if (channels == 3) px[1] = px[2] = frame[i];
      return;
    case KIT_IMG_RGB565_BE:
      kit_rgb565_to_rgb888((uint16_t)((frame[2 * i] << 8) | frame[2 * i + 1]), &r, &g, &b);
      break;
    case KIT_IMG_RGB565_LE:
      kit_rgb565_to_rgb888((uint16_t)((frame[2 * i + 1] << 8) | frame[2 * i]), &r, &g, &b);
      break;
    default:  // KIT_IMG_RGB888
      r = frame[3 * i];
      g = frame[3 * i + 1];
      b = frame[3 * i + 2];
      break;
  }
  if (channels == 1) {
    px[0] = kit_rgb_to_gray(r, g, b);
  } else {
    px[0] = r;
    px[1] = g;
    px[2] = b;
  }
}

// Source index pair and right-neighbour weight (1/256 steps) of output position i: pixel centres aligned,
// source coordinate ((2i + 1) * src - dst) / (2 * dst), clamped to the edges.
static inline void axis(int i, int src, int dst, int* i0, int* i1, int* frac) {
  int64_t num = (int64_t)(2 * i + 1) * src - dst;
  const int64_t den = 2 * (int64_t)dst;
  if (num < 0) num = 0;
  int64_t x0 = num / den;
  *frac = (int)(((num - x0 * den) * 256) / den);
  if (x0 > src - 1) x0 = src - 1;
  *i0 = (int)x0;
  *i1 = (int)(x0 + 1 > src - 1 ? src - 1 : x0 + 1);
}

bool kit_prepare_frame(const uint8_t* frame, int width, int height, int format, int channels, uint8_t* out,
                       int out_width, int out_height) {
  if (kit_image_bytes_per_pixel(format) == 0 || (channels != 1 && channels != 3)) return false;
  if (width < 1 || height < 1 || out_width < 1 || out_height < 1) return false;
  const KitCropBox box = kit_center_crop_box(width, height, out_width, out_height);
  uint8_t p00[3], p01[3], p10[3], p11[3];
  if (box.width == out_width && box.height == out_height) {  // the crop is the output: no resize
    for (int y = 0; y < out_height; ++y) {
      for (int x = 0; x < out_width; ++x) {
        fetch(frame, width, format, channels, box.left + x, box.top + y, out + ((size_t)y * out_width + x) * channels);
      }
    }
    return true;
  }
  for (int y = 0; y < out_height; ++y) {
    int y0, y1, fy;
    axis(y, box.height, out_height, &y0, &y1, &fy);
    for (int x = 0; x < out_width; ++x) {
      int x0, x1, fx;
      axis(x, box.width, out_width, &x0, &x1, &fx);
      fetch(frame, width, format, channels, box.left + x0, box.top + y0, p00);
      fetch(frame, width, format, channels, box.left + x1, box.top + y0, p01);
      fetch(frame, width, format, channels, box.left + x0, box.top + y1, p10);
      fetch(frame, width, format, channels, box.left + x1, box.top + y1, p11);
      uint8_t* o = out + ((size_t)y * out_width + x) * channels;
      for (int c = 0; c < channels; ++c) {
        const int32_t top = p00[c] * (256 - fx) + p01[c] * fx;
        const int32_t bottom = p10[c] * (256 - fx) + p11[c] * fx;
        o[c] = (uint8_t)((top * (256 - fy) + bottom * fy + 32768) >> 16);
      }
    }
  }
  return true;
}

bool kit_place_mcu_rgb565(const uint16_t* mcu, int mcu_width, int mcu_height, int x, int y, uint8_t* frame,
                          int frame_width, int frame_height, int frame_format) {
  if (frame_format != KIT_IMG_GRAY8 && frame_format != KIT_IMG_RGB888) return false;
  if (x < 0 || y < 0 || mcu_width < 1 || mcu_height < 1) return false;
  for (int j = 0; j < mcu_height && y + j < frame_height; ++j) {
    for (int i = 0; i < mcu_width && x + i < frame_width; ++i) {
      uint8_t r, g, b;
      kit_rgb565_to_rgb888(mcu[j * mcu_width + i], &r, &g, &b);
      const size_t k = (size_t)(y + j) * frame_width + (x + i);
      if (frame_format == KIT_IMG_GRAY8) {
        frame[k] = kit_rgb_to_gray(r, g, b);
      } else {
        frame[3 * k] = r;
        frame[3 * k + 1] = g;
        frame[3 * k + 2] = b;
      }
    }
  }
  return true;
}

void kit_pixels_to_int8(const uint8_t* pixels, size_t count, const int8_t table[256], int8_t* out) {
  for (size_t i = 0; i < count; ++i) out[i] = table[pixels[i]];
}
