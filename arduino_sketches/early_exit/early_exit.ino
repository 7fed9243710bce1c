// early_exit.ino: two-stage keyword spotting on the Nano 33 BLE Sense: a small model answers first, the
// big one runs only when the small one is unsure.
//
// Audio and features as in the kws sketch (PDM at 16 kHz, TFLM micro frontend every 20 ms, int8 with the
// model's own scale and zero point). Each inference runs stage 1 (model_data.cc, model_settings.h); when
// its top int8 score is at least kExitThresholdInt8 (generated into early_exit.h from validation data)
// its answer stands, otherwise stage 2 (stage2/, through stage2_runner.cpp) runs on the same features.
// Serial shows which stage answered and the time each took.
#include <Chirale_TensorFlowLite.h>
#include <PDM.h>

#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"
#include "tensorflow/lite/experimental/microfrontend/lib/frontend_util.h"

#include "feature_quant.h"
#include "kit_interpreter.h"
#include "recognize_commands.h"

#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"
#include "early_exit.h"
#include "stage2_runner.h"

static_assert(kNumLabels <= KIT_RECOGNIZER_MAX_LABELS, "more labels than the recognizer holds");
static_assert(kFeatureElementCount == kInputElementCount, "features and model input differ: re-export");
static_assert(kNumLabels <= 16, "more labels than the score buffer holds");

namespace {

// ---- Audio: the PDM callback writes, loop() reads. 8192 samples = 512 ms of slack.
constexpr int kRingSamples = 8192;
int16_t g_ring[kRingSamples];
volatile uint32_t g_written = 0;  // samples written since start (wraps after 74 hours)
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

// ---- Model
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
ModelOpResolver g_resolver;
tflite::MicroInterpreter* g_interpreter = nullptr;
TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_output = nullptr;
KitRecognizer g_recognizer;
int8_t g_scores[16];
uint32_t g_inferences = 0;
uint32_t g_exits = 0;

void set_led(int label) {  // built-in RGB LED, active low: off, green for a keyword, blue for 'unknown'
  digitalWrite(LEDR, HIGH);
  digitalWrite(LEDG, HIGH);
  digitalWrite(LEDB, HIGH);
  if (label < 0 || label == kSilenceIndex) return;
  if (label == kUnknownIndex) {
    digitalWrite(LEDB, LOW);
  } else if (label == 2) {
    digitalWrite(LEDG, LOW);
  } else if (label == 3) {
    digitalWrite(LEDR, LOW);
  } else {
    digitalWrite(LEDR, LOW);
    digitalWrite(LEDG, LOW);
  }
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

// Feeds new audio to the frontend; each finished frame is shifted in as int8.
void process_audio() {
  while (g_read != g_written) {
    const uint32_t w = g_written;
    uint32_t n = w - g_read;
    const uint32_t pos = g_read % kRingSamples;
    if (pos + n > kRingSamples) n = kRingSamples - pos;  // up to the end of the ring, the rest next time
    if (w - g_read > kRingSamples) {  // fell behind by a whole ring: restart from the newest audio
      Serial.println("WARN audio overrun: inference is slower than the audio; raise inference_every_frames");
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
  const char* why = "";
  if (!stage2_begin(&why)) fail(why);
  if (stage2_input_bytes() != (size_t)kInputElementCount || stage2_output_count() != kNumLabels) {
    fail("stage 2 does not take the same input or give the same labels as stage 1: export both again");
  }
  if (!start_frontend()) fail("micro frontend: out of memory");
  memset(g_features, kInputZeroPoint, sizeof g_features);

  KitRecognizerSettings rs = {kRecognizerAverageWindowMs, kRecognizerDetectionThreshold, kRecognizerSuppressionMs,
                              kRecognizerMinimumCount};
  const uint32_t ignore = (1u << kSilenceIndex) | (1u << kUnknownIndex);
  if (kit_recognizer_init(&g_recognizer, &rs, kNumLabels, ignore) != KIT_RECOGNIZER_OK) fail("recognizer settings");

  PDM.onReceive(on_pdm_data);
  PDM.setBufferSize(sizeof g_pdm_chunk);
  if (!PDM.begin(1, kAudioSampleRate)) fail("PDM microphone did not start");
  Serial.print("early_exit ready: ");
  for (int i = 0; i < kNumLabels; ++i) {
    Serial.print(kLabels[i]);
    Serial.print(i + 1 < kNumLabels ? "," : "\n");
  }
}

void loop() {
  process_audio();
  if (g_total_frames < kFeatureCount || g_new_frames < kRecognizerInferenceEveryFrames) return;
  g_new_frames = 0;
  memcpy(g_input->data.int8, g_features, kFeatureElementCount);
  const uint32_t t_start = micros();
  if (g_interpreter->Invoke() != kTfLiteOk) {
    Serial.println("ERROR Invoke failed");
    return;
  }
  int best = 0;
  const bool exited = ExitAtStage1(g_output->data.int8, kNumLabels, &best);
  const int8_t* scores = g_output->data.int8;
  if (!exited) {  // stage 1 is unsure: the big model decides
    if (!stage2_run(&g_features[0][0], g_scores)) {
      Serial.println("ERROR stage 2 Invoke failed");
      return;
    }
    scores = g_scores;
  }
  const uint32_t latency_us = micros() - t_start;
  g_inferences++;
  if (exited) g_exits++;
  KitDecision d;
  kit_recognizer_process_int8(&g_recognizer, millis(), scores, &d);
  if (d.is_new) {
    set_led(d.top_index);
    // One line per command: "heard <label> score <0..255> at <ms> ms (<stage>, <us> us; stage 1 answered N of M)"
    Serial.print("heard ");
    Serial.print(kLabels[d.top_index]);
    Serial.print(" score ");
    Serial.print(d.top_score);
    Serial.print(" at ");
    Serial.print(d.time_ms);
    Serial.print(" ms (");
    Serial.print(exited ? "stage 1" : "stages 1+2");
    Serial.print(", ");
    Serial.print(latency_us);
    Serial.print(" us; stage 1 answered ");
    Serial.print(g_exits);
    Serial.print(" of ");
    Serial.print(g_inferences);
    Serial.println(")");
  } else if (d.top_index == kSilenceIndex) {
    set_led(-1);
  }
}
