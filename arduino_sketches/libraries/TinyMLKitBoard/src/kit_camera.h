// kit_camera.h: one frame from the configured camera (kit_camera_config.h) into a GRAY8, RGB565 or RGB888
// buffer. Board code (Arduino headers): shared by person_detection, capture_image and test_camera through
// this library (TinyMLKitBoard), so there is one copy.
#ifndef KIT_CAMERA_H_
#define KIT_CAMERA_H_

#include <Arduino.h>

#include "kit_camera_config.h"
#include "image_convert.h"

#if KIT_CAMERA == KIT_CAMERA_OV7675
#include <Arduino_OV767X.h>
constexpr int kFrameWidth = 160;
constexpr int kFrameHeight = 120;
constexpr int kFrameFormat = KIT_OV7675_GRAYSCALE ? KIT_IMG_GRAY8 : KIT_IMG_RGB565_BE;
#elif KIT_CAMERA == KIT_CAMERA_ARDUCAM
#include <ArduCAM.h>
#include <JPEGDecoder.h>
#include <SPI.h>
#include <Wire.h>
constexpr int kFrameWidth = KIT_ARDUCAM_WIDTH;
constexpr int kFrameHeight = KIT_ARDUCAM_HEIGHT;
// JPEG blocks are converted as they are decoded: gray for gray models, RGB888 otherwise.
constexpr int kFrameFormat = KIT_ARDUCAM_COLOR ? KIT_IMG_RGB888 : KIT_IMG_GRAY8;
constexpr uint32_t kMaxJpegBytes = 16 * 1024;
#else
#error "kit_camera_config.h: set KIT_CAMERA to KIT_CAMERA_OV7675 or KIT_CAMERA_ARDUCAM"
#endif

constexpr int kFrameBytes = kFrameWidth * kFrameHeight * (kFrameFormat == KIT_IMG_GRAY8 ? 1 : kFrameFormat == KIT_IMG_RGB888 ? 3 : 2);

#if KIT_CAMERA == KIT_CAMERA_ARDUCAM
static ArduCAM g_arducam(OV2640, KIT_ARDUCAM_CS_PIN);
static uint8_t g_jpeg[kMaxJpegBytes];
static uint32_t g_jpeg_len = 0;
#endif

// Starts the camera; false (with the reason on Serial) when it does not answer.
inline bool camera_begin() {
#if KIT_CAMERA == KIT_CAMERA_OV7675
  if (!Camera.begin(QQVGA, KIT_OV7675_GRAYSCALE ? GRAYSCALE : RGB565, 5)) {
    Serial.println("ERROR camera: the OV7675 did not answer; check the shield's ribbon and seating");
    return false;
  }
  return true;
#else
  pinMode(KIT_ARDUCAM_CS_PIN, OUTPUT);
  digitalWrite(KIT_ARDUCAM_CS_PIN, HIGH);
  Wire.begin();
  SPI.begin();
  g_arducam.write_reg(ARDUCHIP_TEST1, 0x55);  // SPI check: the chip echoes a test register
  if (g_arducam.read_reg(ARDUCHIP_TEST1) != 0x55) {
    Serial.println("ERROR camera: no Arducam on SPI; check CS (D7), SCK (D13), MISO (D12), MOSI (D11), power");
    return false;
  }
  uint8_t vid = 0, pid = 0;
  g_arducam.wrSensorReg8_8(0xff, 0x01);
  g_arducam.rdSensorReg8_8(OV2640_CHIPID_HIGH, &vid);
  g_arducam.rdSensorReg8_8(OV2640_CHIPID_LOW, &pid);
  if (vid != 0x26 || (pid != 0x41 && pid != 0x42)) {
    Serial.println("ERROR camera: no OV2640 on I2C; check SDA (A4) and SCL (A5)");
    return false;
  }
  g_arducam.set_format(JPEG);
  g_arducam.InitCAM();
  g_arducam.OV2640_set_JPEG_size(OV2640_176x144);
  return true;
#endif
}

#if KIT_CAMERA == KIT_CAMERA_ARDUCAM
// Captures one JPEG into g_jpeg.
inline bool arducam_capture_jpeg() {
  g_arducam.flush_fifo();
  g_arducam.clear_fifo_flag();
  g_arducam.start_capture();
  const uint32_t start = millis();
  while (!g_arducam.get_bit(ARDUCHIP_TRIG, CAP_DONE_MASK)) {
    if (millis() - start > 2000) return false;
  }
  uint32_t len = g_arducam.read_fifo_length();
  if (len == 0 || len > kMaxJpegBytes) return false;
  g_arducam.CS_LOW();
  g_arducam.set_fifo_burst();
  for (uint32_t i = 0; i < len; ++i) g_jpeg[i] = SPI.transfer(0x00);
  g_arducam.CS_HIGH();
  g_jpeg_len = len;
  return true;
}
#endif

// Reads one frame into `frame` (kFrameBytes bytes, kFrameFormat layout).
inline bool camera_read(uint8_t* frame) {
#if KIT_CAMERA == KIT_CAMERA_OV7675
  Camera.readFrame(frame);
  return true;
#else
  if (!arducam_capture_jpeg()) return false;
  if (JpegDec.decodeArray(g_jpeg, g_jpeg_len) != 1) return false;
  while (JpegDec.read()) {
    kit_place_mcu_rgb565(JpegDec.pImage, JpegDec.MCUWidth, JpegDec.MCUHeight, JpegDec.MCUx * JpegDec.MCUWidth,
                         JpegDec.MCUy * JpegDec.MCUHeight, frame, kFrameWidth, kFrameHeight, kFrameFormat);
  }
  return true;
#endif
}

#endif  // KIT_CAMERA_H_
