// test_microphone.ino: the first sketch to flash. Prints the microphone's level 50 times a second in
// a form the Arduino IDE's Serial Plotter draws: "peak:<0..32767> rms:<0..32767>". Speak: both rise.
// The LED turns green while the level is above a whisper, so the test works without a computer too.
#include <PDM.h>

namespace {
constexpr int kSampleRate = 16000;
constexpr int kBlock = kSampleRate / 50;  // 20 ms
int16_t g_chunk[512];
volatile int32_t g_peak = 0;
volatile int64_t g_sum_sq = 0;
volatile int32_t g_count = 0;

void on_pdm_data() {
  const int n = PDM.read(g_chunk, PDM.available()) / 2;
  for (int i = 0; i < n; ++i) {
    const int32_t v = g_chunk[i] < 0 ? -(int32_t)g_chunk[i] : g_chunk[i];
    if (v > g_peak) g_peak = v;
    g_sum_sq += (int64_t)g_chunk[i] * g_chunk[i];
  }
  g_count += n;
}
}  // namespace

void setup() {
  Serial.begin(115200);
  pinMode(LEDG, OUTPUT);
  digitalWrite(LEDG, HIGH);
  PDM.onReceive(on_pdm_data);
  PDM.setBufferSize(sizeof g_chunk);
  if (!PDM.begin(1, kSampleRate)) {
    while (true) {
      Serial.println("ERROR PDM microphone did not start (is this a Nano 33 BLE *Sense*?)");
      delay(1000);
    }
  }
}

void loop() {
  if (g_count < kBlock) return;
  noInterrupts();
  const int32_t peak = g_peak, count = g_count;
  const int64_t sum_sq = g_sum_sq;
  g_peak = 0;
  g_sum_sq = 0;
  g_count = 0;
  interrupts();
  const int32_t rms = (int32_t)sqrt((double)sum_sq / count);
  digitalWrite(LEDG, rms > 300 ? LOW : HIGH);
  Serial.print("peak:");
  Serial.print(peak);
  Serial.print(" rms:");
  Serial.println(rms);
}
