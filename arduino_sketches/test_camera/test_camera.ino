// test_camera.ino: the first camera sketch to flash. Starts the camera, says on Serial (as kit LOG
// frames) whether it answered, and sends one frame every two seconds as a kit IMAGE frame:
// `tinymlkit board monitor` (or capture) on the computer shows it. LED: green blink per frame sent,
// red when the camera is not detected.
#include "kit_camera.h"
#include "frame_codec.h"

namespace {
#if KIT_CAMERA == KIT_CAMERA_OV7675
uint8_t g_frame[kFrameBytes];
constexpr uint8_t kPixel = KIT_OV7675_GRAYSCALE ? KIT_PIXEL_GRAY8 : KIT_PIXEL_RGB565_BE;
#else
constexpr uint8_t kPixel = KIT_PIXEL_JPEG;
#endif
KitFrameWriter g_writer;
bool g_camera_ok = false;

void write_serial(void*, const uint8_t* data, size_t length) { Serial.write(data, length); }
}  // namespace

void setup() {
  Serial.begin(115200);
  pinMode(LEDR, OUTPUT);
  pinMode(LEDG, OUTPUT);
  digitalWrite(LEDR, HIGH);
  digitalWrite(LEDG, HIGH);
  const uint32_t t0 = millis();
  while (!Serial && millis() - t0 < 5000) {
  }
  kit_writer_init(&g_writer, write_serial, nullptr);
  g_camera_ok = camera_begin();
  digitalWrite(LEDR, g_camera_ok ? HIGH : LOW);
}

void loop() {
  if (!g_camera_ok) {
    kit_send_log(&g_writer, KIT_LOGLEVEL_ERROR, "camera not detected: check the wiring (see README) and reset");
    delay(2000);
    return;
  }
  bool ok;
#if KIT_CAMERA == KIT_CAMERA_OV7675
  ok = camera_read(g_frame) && kit_send_image(&g_writer, kFrameWidth, kFrameHeight, kPixel, g_frame, kFrameBytes);
#else
  ok = arducam_capture_jpeg() && kit_send_image(&g_writer, kFrameWidth, kFrameHeight, kPixel, g_jpeg, g_jpeg_len);
#endif
  kit_send_log(&g_writer, ok ? KIT_LOGLEVEL_INFO : KIT_LOGLEVEL_WARNING, ok ? "frame sent" : "no frame from the camera");
  digitalWrite(LEDG, LOW);
  delay(100);
  digitalWrite(LEDG, HIGH);
  delay(1900);
}
