// person_detection.ino: is there a person in front of the camera? The kit's exported vision model on
// the Nano 33 BLE Sense, with the OV7675 (TinyML kit shield) or an Arducam Mini 2MP Plus (kit_camera_config.h
// in the TinyMLKitBoard library).
//
// Frame -> centre crop + integer bilinear resize + gray/RGB (image_convert.h, bit for bit as
// tinymlkit.vision.preprocess.prepare_frame) -> int8 through the generated kPixelToInt8 table ->
// inference -> person score on the LED and Serial. The model files are generated (see README.md).
// `tinymlkit bench --port PORT` asks it to time its next inferences and pixel steps (kit_bench.h).
#include <Chirale_TensorFlowLite.h>

#include "image_convert.h"
#include "kit_bench.h"
#include "kit_camera.h"
#include "kit_interpreter.h"
#include "kit_status.h"

#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"

static_assert(kImageWidth * kImageHeight * kImageChannels == kInputElementCount, "image settings differ: re-export");

namespace {
uint8_t g_frame[kFrameBytes];
uint8_t g_pixels[kImageWidth * kImageHeight * kImageChannels];
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
ModelOpResolver g_resolver;
tflite::MicroInterpreter* g_interpreter = nullptr;
TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_output = nullptr;
KitBench g_bench;

void show(bool person) { kit_led(!person, person, false); }  // green: person, red: no person
}  // namespace

void setup() {
  kit_led_begin();
  kit_serial_begin(3000);
  if (RegisterModelOps(g_resolver) != kTfLiteOk) kit_fail("op resolver: re-export (model_ops.h)");
  const char* problem = kit_interpreter_begin(g_model, g_resolver, tensor_arena, kTensorArenaSize,
                                              kInputElementCount, &g_interpreter);
  if (problem != nullptr) kit_fail(problem);
  g_input = g_interpreter->input(0);
  g_output = g_interpreter->output(0);
  kit_bench_begin(&g_bench, KIT_STEP_PIXELS, "one camera frame: crop, resize, int8 table");
  if (!camera_begin()) kit_fail("camera not detected (see README: camera not detected)");
  Serial.println("person_detection ready");
}

void loop() {
  kit_bench_poll(&g_bench);
  const uint32_t t_frame = millis();
  if (!camera_read(g_frame)) {
    Serial.println("WARN camera: no frame");
    return;
  }
  const uint32_t t_pixels = micros();
  kit_prepare_frame(g_frame, kFrameWidth, kFrameHeight, kFrameFormat, kImageChannels, g_pixels, kImageWidth,
                    kImageHeight);
  kit_pixels_to_int8(g_pixels, sizeof g_pixels, kPixelToInt8, g_input->data.int8);
  kit_bench_step(&g_bench, micros() - t_pixels);
  const uint32_t t_start = micros();
  if (g_interpreter->Invoke() != kTfLiteOk) {
    Serial.println("ERROR Invoke failed");
    return;
  }
  const uint32_t latency_us = micros() - t_start;
  kit_bench_inference(&g_bench, latency_us);
  const int score = (int)g_output->data.int8[kPersonIndex] - kOutputZeroPoint;  // 0..255 for a softmax output
  const bool person = score >= kDetectionThreshold;
  show(person);
  // One line per frame: "person <0|1> score <0..255> (inference <us> us, frame <ms> ms)"
  Serial.print("person ");
  Serial.print(person ? 1 : 0);
  Serial.print(" score ");
  Serial.print(score);
  Serial.print(" (inference ");
  Serial.print(latency_us);
  Serial.print(" us, frame ");
  Serial.print(millis() - t_frame);
  Serial.println(" ms)");
}
