// anomaly.ino: machine-sound anomaly detection on the Arduino Nano 33 BLE Sense with the kit's exported model.
//
// 16 kHz PDM audio -> ring buffer -> TFLM micro frontend every 32 ms (64 ms windows, no noise reduction
// or automatic gain: settings from the generated model_settings.h) -> int8 frames (kit_audio.h, with the
// model's own scale and zero point) -> the autoencoder on the last kFeatureCount frames after every new
// frame -> reconstruction error (anomaly_score.h) -> mean of the last kAnomalyAverageInferences errors
// compared with kAnomalyThreshold -> LED (green normal, red anomaly) and one line on Serial per change,
// plus the running score once a second. Nothing here is model-specific: `tinymlkit anomaly export`, rebuild.
#include <Chirale_TensorFlowLite.h>

#include "anomaly_score.h"
#include "feature_window.h"
#include "kit_audio.h"
#include "kit_interpreter.h"
#include "kit_status.h"

#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"

static_assert(kFeatureElementCount == kInputElementCount, "features and model input differ: re-export");
static_assert(kOutputElementCount == kInputElementCount, "not an autoencoder: output and input sizes differ");
static_assert(kAnomalyAverageInferences >= 1 && kAnomalyAverageInferences <= 256, "average window out of range");

namespace {

// ---- Features (kit_audio.h feeds them): the last kFeatureCount frames, oldest first, already int8.
const KitAudioSettings g_audio = {kAudioSampleRate, kFeatureSize, kAudioFeatureScaleNumerator,
                                  kAudioFeatureScaleDenominator, kInputScale, kInputZeroPoint,
                                  "the autoencoder must run once per frame: use a smaller model"};
int8_t g_features[kFeatureCount * kFeatureSize];
KitFeatureWindow g_window;

// ---- Model and alarm
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
ModelOpResolver g_resolver;
tflite::MicroInterpreter* g_interpreter = nullptr;
TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_output = nullptr;
KitErrorAverage g_average;
int g_state = -1;  // -1 warming up, 0 normal, 1 anomaly
uint32_t g_last_report_ms = 0;

void show(int state) { kit_led(state == 1, state == 0, state < 0); }  // green normal, red anomaly, blue filling

void on_frame(const int8_t* frame, uint32_t) { kit_window_push(&g_window, frame); }

}  // namespace

void setup() {
  kit_led_begin();
  show(-1);
  kit_serial_begin(3000);
  if (RegisterModelOps(g_resolver) != kTfLiteOk) kit_fail("op resolver: re-export (model_ops.h)");
  const char* problem = kit_interpreter_begin(g_model, g_resolver, tensor_arena, kTensorArenaSize,
                                              kInputElementCount, &g_interpreter);
  if (problem != nullptr) kit_fail(problem);
  g_input = g_interpreter->input(0);
  g_output = g_interpreter->output(0);
  if (g_output->bytes != (size_t)kOutputElementCount) kit_fail("output tensor is not the exported shape: re-export");
  kit_window_init(&g_window, g_features, kFeatureCount, kFeatureSize, kInputZeroPoint);
  if (!kit_average_init(&g_average, kAnomalyAverageInferences)) kit_fail("average window");
  problem = kit_audio_begin(g_audio, KitFillFrontendConfig<FrontendConfig>);  // settings training used
  if (problem != nullptr) kit_fail(problem);
  Serial.print("anomaly ready: threshold ");
  Serial.println(kAnomalyThreshold, 6);
}

void loop() {
  kit_audio_poll(on_frame);
  if (!kit_window_ready(&g_window, 1)) return;
  memcpy(g_input->data.int8, g_features, kFeatureElementCount);
  const uint32_t t_start = micros();
  if (g_interpreter->Invoke() != kTfLiteOk) {
    Serial.println("ERROR Invoke failed");
    return;
  }
  const uint32_t latency_us = micros() - t_start;
  const double error = kit_reconstruction_error(g_input->data.int8, kInputScale, kInputZeroPoint, g_output->data.int8,
                                                kOutputScale, kOutputZeroPoint, kInputElementCount);
  double mean = 0.0;
  if (!kit_average_add(&g_average, error, &mean)) return;  // still filling the window
  const int state = mean > kAnomalyThreshold ? 1 : 0;
  const uint32_t now = millis();
  if (state != g_state || now - g_last_report_ms >= 1000) {
    // "anomaly score <mean> threshold <t> at <ms> ms (inference <us> us)" or "normal score ..."
    Serial.print(state ? "anomaly" : "normal");
    Serial.print(" score ");
    Serial.print(mean, 6);
    Serial.print(" threshold ");
    Serial.print(kAnomalyThreshold, 6);
    Serial.print(" at ");
    Serial.print(now);
    Serial.print(" ms (inference ");
    Serial.print(latency_us);
    Serial.println(" us)");
    g_last_report_ms = now;
  }
  if (state != g_state) show(state);
  g_state = state;
}
