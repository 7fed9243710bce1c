// image_convert.h: a camera frame to the vision model's input, on the board and bit for bit as in Python.
//
// Plain C++ with no Arduino headers. The steps and their Python twins (tinymlkit/vision/, which the
// host tests compare this file with on real images: tests/test_sketches_cpp.py):
//   - RGB565 to RGB888 by repeating each channel's top bits      vision.pixels.rgb565_to_rgb888
//   - RGB to gray, (19595 R + 38470 G + 7471 B + 32768) >> 16    vision.preprocess.rgb_to_gray
//   - gray to RGB by repeating the gray value                    vision.preprocess.to_channels
//   - the largest centred crop with the model's aspect ratio     vision.preprocess.center_crop_box
//   - integer bilinear resize with 8-bit weights                 vision.preprocess.resize_bilinear_int
//   - pixel to int8 through the generated 256-entry table        vision.int8_input.pixels_to_int8
// kit_prepare_frame() does all but the last in one pass with no second frame buffer: each source pixel
// is converted to the model's channel count as it is read (Python converts first, then crops and
// resizes, which gives the same numbers).
//
// JPEG (Arducam): JPEGDecoder hands out the picture in MCU blocks of native (little-endian) RGB565;
// kit_place_mcu_rgb565() writes one block into a GRAY8 or RGB888 frame, clipping blocks that hang over
// the right or bottom edge, and kit_prepare_frame() then reads that frame.
#ifndef TINYMLKIT_IMAGE_CONVERT_H_
#define TINYMLKIT_IMAGE_CONVERT_H_

#include <stddef.h>
#include <stdint.h>

// Frame layouts. The first three codes equal the serial protocol's KIT_PIXEL_* codes.
enum KitImageFormat {
  KIT_IMG_GRAY8 = 1,      // one byte per pixel
  KIT_IMG_RGB565_BE = 2,  // two bytes per pixel, high byte first (OV7670/OV7675 byte order)
  KIT_IMG_RGB565_LE = 3,  // two bytes per pixel, low byte first (a uint16_t array on the Cortex-M)
  KIT_IMG_RGB888 = 16,    // three bytes per pixel, R G B
};

struct KitCropBox {
  int left, top, width, height;
};

// Bytes per pixel of a format (0 for an unknown one).
int kit_image_bytes_per_pixel(int format);

void kit_rgb565_to_rgb888(uint16_t v, uint8_t* r, uint8_t* g, uint8_t* b);
uint8_t kit_rgb_to_gray(uint8_t r, uint8_t g, uint8_t b);

// The largest centred box of a width x height frame with the aspect ratio out_width:out_height.
KitCropBox kit_center_crop_box(int width, int height, int out_width, int out_height);

// Frame (width x height, `format`) to model pixels (out_width x out_height x channels, rows top to
// bottom): centre crop, integer bilinear resize (skipped when the crop already has the output size),
// channels 1 (gray) or 3 (RGB). Returns false for a bad format, channel count or size.
bool kit_prepare_frame(const uint8_t* frame, int width, int height, int format, int channels, uint8_t* out,
                       int out_width, int out_height);

// Writes one decoded JPEG block (mcu_width x mcu_height native RGB565 values, rows top to bottom) whose
// top-left pixel is (x, y) into a GRAY8 or RGB888 frame of frame_width x frame_height.
bool kit_place_mcu_rgb565(const uint16_t* mcu, int mcu_width, int mcu_height, int x, int y, uint8_t* frame,
                          int frame_width, int frame_height, int frame_format);

// Model pixels to int8 input through the table in the generated model_settings.h (kPixelToInt8).
void kit_pixels_to_int8(const uint8_t* pixels, size_t count, const int8_t table[256], int8_t* out);

#endif  // TINYMLKIT_IMAGE_CONVERT_H_
