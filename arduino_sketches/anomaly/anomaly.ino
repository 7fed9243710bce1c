// anomaly.ino: machine-sound anomaly detection on the Arduino Nano 33 BLE Sense with the kit's exported model.
//
// 16 kHz PDM audio -> ring buffer -> TFLM micro frontend every 32 ms (64 ms windows, no noise reduction
// or automatic gain: settings from the generated model_settings.h) -> int8 frames (feature_quant.h, the
// model's own scale and zero point) -> the autoencoder on the last kFeatureCount frames after every new
// frame -> reconstruction error (anomaly_score.h) -> mean of the last kAnomalyAverageInferences errors
// compared with kAnomalyThreshold -> LED (green normal, red anomaly) and one line on Serial per change,
// plus the running score once a second. Nothing here is model-specific: `tinymlkit anomaly export`, rebuild.
#include <Chirale_TensorFlowLite.h>
#include <PDM.h>

#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"
#include "tensorflow/lite/experimental/microfrontend/lib/frontend_util.h"

#include "anomaly_score.h"
#include "feature_quant.h"
#include "kit_interpreter.h"

#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"

static_assert(kFeatureElementCount == kInputElementCount, "features and model input differ: re-export");
static_assert(kOutputElementCount == kInputElementCount, "not an autoencoder: output and input sizes differ");
static_assert(kAnomalyAverageInferences >= 1 && kAnomalyAverageInferences <= 256, "average window out of range");

namespace {

// ---- Audio: the PDM callback writes, loop() reads. 8192 samples = 512 ms of slack.
constexpr int kRingSamples = 8192;
int16_t g_ring[kRingSamples];
volatile uint32_t g_written = 0;
uint32_t g_read = 0;
int16_t g_pdm_chunk[512];

void on_pdm_data() {
  const int bytes = PDM.available();
  const int n = PDM.read(g_pdm_chunk, bytes) / 2;
  uint32_t w = g_written;
  for (int i = 0; i < n; ++i) g_ring[(w + i) % kRingSamples] = g_pdm_chunk[i];
  g_written = w + n;
}

// ---- Features: the last kFeatureCount frames, oldest first, already int8.
FrontendState g_frontend;
int8_t g_features[kFeatureCount][kFeatureSize];
int g_new_frames = 0;
int g_total_frames = 0;

// ---- Model and alarm
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
ModelOpResolver g_resolver;
tflite::MicroInterpreter* g_interpreter = nullptr;
TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_output = nullptr;
KitErrorAverage g_average;
int g_state = -1;  // -1 warming up, 0 normal, 1 anomaly
uint32_t g_last_report_ms = 0;

void set_led(int state) {  // built-in RGB LED, active low
  digitalWrite(LEDR, state == 1 ? LOW : HIGH);
  digitalWrite(LEDG, state == 0 ? LOW : HIGH);
  digitalWrite(LEDB, state < 0 ? LOW : HIGH);  // blue while the average fills
}

void fail(const char* what) {  // red LED blinking fast: setup failed, the reason is on Serial
  Serial.print("ERROR ");
  Serial.println(what);
  while (true) {
    digitalWrite(LEDR, LOW);
    delay(100);
    digitalWrite(LEDR, HIGH);
    delay(100);
  }
}

bool start_frontend() {
  FrontendConfig c;
  FrontendFillConfigWithDefaults(&c);
  KitFillFrontendConfig(&c);  // generated in model_settings.h from the config training used
  return FrontendPopulateState(&c, &g_frontend, kAudioSampleRate) != 0;
}

void process_audio() {
  while (g_read != g_written) {
    const uint32_t w = g_written;
    uint32_t n = w - g_read;
    const uint32_t pos = g_read % kRingSamples;
    if (pos + n > kRingSamples) n = kRingSamples - pos;
    if (w - g_read > kRingSamples) {
      Serial.println("WARN audio overrun: inference is slower than the audio");
      g_read = w;
      continue;
    }
    size_t used = 0;
    FrontendOutput out = FrontendProcessSamples(&g_frontend, &g_ring[pos], n, &used);
    g_read += used;
    if (out.size == (size_t)kFeatureSize) {
      memmove(&g_features[0][0], &g_features[1][0], (kFeatureCount - 1) * kFeatureSize);
      kit_features_to_int8(out.values, kFeatureSize, kAudioFeatureScaleNumerator, kAudioFeatureScaleDenominator,
                           kInputScale, kInputZeroPoint, g_features[kFeatureCount - 1]);
      g_new_frames++;
      g_total_frames++;
    }
    if (used == 0) break;
  }
}

}  // namespace

void setup() {
  Serial.begin(115200);
  pinMode(LEDR, OUTPUT);
  pinMode(LEDG, OUTPUT);
  pinMode(LEDB, OUTPUT);
  set_led(-1);
  const uint32_t t0 = millis();
  while (!Serial && millis() - t0 < 3000) {
  }
  if (RegisterModelOps(g_resolver) != kTfLiteOk) fail("op resolver: re-export (model_ops.h)");
  const char* problem = kit_interpreter_begin(g_model, g_resolver, tensor_arena, kTensorArenaSize,
                                              kInputElementCount, &g_interpreter);
  if (problem != nullptr) fail(problem);
  g_input = g_interpreter->input(0);
  g_output = g_interpreter->output(0);
  if (g_output->bytes != (size_t)kOutputElementCount) fail("output tensor is not the exported shape: re-export");
  if (!start_frontend()) fail("micro frontend: out of memory");
  if (!kit_average_init(&g_average, kAnomalyAverageInferences)) fail("average window");
  PDM.onReceive(on_pdm_data);
  PDM.setBufferSize(sizeof g_pdm_chunk);
  if (!PDM.begin(1, kAudioSampleRate)) fail("PDM microphone did not start");
  Serial.print("anomaly ready: threshold ");
  Serial.println(kAnomalyThreshold, 6);
}

void loop() {
  process_audio();
  if (g_total_frames < kFeatureCount || g_new_frames < 1) return;
  g_new_frames = 0;
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
  if (state != g_state) set_led(state);
  g_state = state;
}
