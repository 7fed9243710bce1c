// capture_image.ino: send camera frames to the computer in the kit's framed serial protocol
// (kit_protocol.h), for `tinymlkit capture` to save into an image dataset.
//
// A frame is sent on a CAPTURE_IMAGE command (argument: how many, 0 = until STOP) or on a press of a
// push button between D2 and GND. OV7675: raw GRAY8 or RGB565 (big-endian) 160x120 frames; Arducam:
// the JPEG file as the camera made it. LED: blue while capturing, green when sent, red on an error.
#include "kit_camera.h"
#include "frame_codec.h"
#include "kit_status.h"

namespace {
constexpr int kButtonPin = 2;
constexpr uint32_t kPauseMs = 300;
#if KIT_CAMERA == KIT_CAMERA_OV7675
uint8_t g_frame[kFrameBytes];
constexpr uint8_t kPixel = KIT_OV7675_GRAYSCALE ? KIT_PIXEL_GRAY8 : KIT_PIXEL_RGB565_BE;
#else
constexpr uint8_t kPixel = KIT_PIXEL_JPEG;
#endif
KitFrameWriter g_writer;
KitFrameDecoder g_decoder;
uint32_t g_remaining = 0;
uint32_t g_sent = 0;
uint32_t g_next_ms = 0;
bool g_camera_ok = false;

void write_serial(void*, const uint8_t* data, size_t length) { Serial.write(data, length); }

void send_hello() {
  KitHello h = {KIT_CAP_IMAGE, (uint32_t)NRF_FICR->DEVICEID[0], 0, 0, (uint16_t)kFrameWidth, (uint16_t)kFrameHeight,
                kPixel, "nano33ble capture_image"};
  kit_send_hello(&g_writer, &h);
}

// Captures and sends one frame; false on a camera error.
bool send_frame() {
#if KIT_CAMERA == KIT_CAMERA_OV7675
  if (!camera_read(g_frame)) return false;
  return kit_send_image(&g_writer, kFrameWidth, kFrameHeight, kPixel, g_frame, kFrameBytes);
#else
  if (!arducam_capture_jpeg()) return false;
  return kit_send_image(&g_writer, kFrameWidth, kFrameHeight, kPixel, g_jpeg, g_jpeg_len);
#endif
}

void on_frame(void*, uint8_t type, uint8_t, const uint8_t* payload, uint32_t length) {
  KitCommand c;
  if (type != KIT_FRAME_COMMAND || !kit_parse_command(payload, length, &c)) {
    kit_send_error(&g_writer, KIT_ERRCODE_BAD_FRAME, "expected a COMMAND frame");
    return;
  }
  switch (c.op) {
    case KIT_CMD_HELLO: send_hello(); break;
    case KIT_CMD_CAPTURE_IMAGE:
      if (!g_camera_ok) {
        kit_send_error(&g_writer, KIT_ERRCODE_SENSOR, "camera not detected; see the sketch README");
        break;
      }
      g_remaining = c.arg == 0 ? UINT32_MAX : c.arg;
      g_sent = 0;
      g_next_ms = millis();
      kit_send_status(&g_writer, KIT_CMD_CAPTURE_IMAGE, KIT_STATE_STARTED, 0);
      break;
    case KIT_CMD_STOP:
      if (g_remaining) kit_send_status(&g_writer, KIT_CMD_CAPTURE_IMAGE, KIT_STATE_STOPPED, g_sent);
      g_remaining = 0;
      break;
    default: kit_send_error(&g_writer, KIT_ERRCODE_UNSUPPORTED, "capture_image sends camera frames only"); break;
  }
}
}  // namespace

void setup() {
  Serial.begin(115200);
  kit_led_begin();
  pinMode(kButtonPin, INPUT_PULLUP);
  kit_writer_init(&g_writer, write_serial, nullptr);
  kit_decoder_init(&g_decoder);
  g_camera_ok = camera_begin();
  if (!g_camera_ok) kit_led(true, false, false);
}

void loop() {
  uint8_t buf[64];
  int n = 0;
  while (Serial.available() && n < (int)sizeof buf) buf[n++] = (uint8_t)Serial.read();
  if (n) kit_decoder_feed(&g_decoder, buf, n, on_frame, nullptr);
  if (g_camera_ok && g_remaining == 0 && digitalRead(kButtonPin) == LOW) {
    delay(30);
    while (digitalRead(kButtonPin) == LOW) delay(10);
    g_remaining = 1;
    g_sent = 0;
    g_next_ms = millis();
  }
  if (g_remaining == 0 || (int32_t)(millis() - g_next_ms) < 0) return;
  kit_led(false, false, true);
  if (!send_frame()) {
    kit_led(true, false, false);
    kit_send_error(&g_writer, KIT_ERRCODE_SENSOR, "no frame from the camera");
    g_remaining = 0;
    return;
  }
  kit_led(false, true, false);
  g_sent++;
  if (g_remaining != UINT32_MAX) g_remaining--;
  if (g_remaining == 0) kit_send_status(&g_writer, KIT_CMD_CAPTURE_IMAGE, KIT_STATE_DONE, g_sent);
  g_next_ms = millis() + kPauseMs;
}
