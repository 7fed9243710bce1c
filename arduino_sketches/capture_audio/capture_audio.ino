// capture_audio.ino: record one-second clips and send them to the computer in the kit's framed serial
// protocol (kit_protocol.h), for `tinymlkit capture` to save into a dataset.
//
// A clip is recorded on a CAPTURE_AUDIO command from the computer (its argument: how many clips,
// 0 = until STOP) or on a press of a push button between D2 and GND. LED: blue while recording,
// green when a clip has been sent, red on an error.
#include <PDM.h>

#include "frame_codec.h"
#include "kit_status.h"

namespace {
constexpr int kSampleRate = 16000;
constexpr int kClipSamples = kSampleRate;  // one second
constexpr int kButtonPin = 2;
constexpr uint32_t kPauseMs = 500;  // between clips of a batch: time to say the next word

int16_t g_clip[kClipSamples];
volatile int g_filled = kClipSamples;  // == kClipSamples: not recording
int16_t g_chunk[512];
KitFrameWriter g_writer;
KitFrameDecoder g_decoder;
uint32_t g_remaining = 0;  // clips still to send for the current command (UINT32_MAX: until STOP)
uint32_t g_sent = 0;
uint32_t g_next_ms = 0;
enum class State { kIdle, kWaiting, kRecording };
State g_state = State::kIdle;

void on_pdm_data() {
  const int n = PDM.read(g_chunk, PDM.available()) / 2;
  int f = g_filled;
  for (int i = 0; i < n && f < kClipSamples; ++i) g_clip[f++] = g_chunk[i];
  g_filled = f;
}

void write_serial(void*, const uint8_t* data, size_t length) { Serial.write(data, length); }

void send_hello() {
  KitHello h = {KIT_CAP_AUDIO, (uint32_t)NRF_FICR->DEVICEID[0], kSampleRate, kClipSamples, 0, 0, KIT_PIXEL_NONE,
                "nano33ble capture_audio"};
  kit_send_hello(&g_writer, &h);
}

void on_frame(void*, uint8_t type, uint8_t, const uint8_t* payload, uint32_t length) {
  KitCommand c;
  if (type != KIT_FRAME_COMMAND || !kit_parse_command(payload, length, &c)) {
    kit_send_error(&g_writer, KIT_ERRCODE_BAD_FRAME, "expected a COMMAND frame");
    return;
  }
  switch (c.op) {
    case KIT_CMD_HELLO: send_hello(); break;
    case KIT_CMD_CAPTURE_AUDIO:
      g_remaining = c.arg == 0 ? UINT32_MAX : c.arg;
      g_sent = 0;
      g_next_ms = millis();
      kit_send_status(&g_writer, KIT_CMD_CAPTURE_AUDIO, KIT_STATE_STARTED, 0);
      break;
    case KIT_CMD_STOP:
      if (g_remaining) kit_send_status(&g_writer, KIT_CMD_CAPTURE_AUDIO, KIT_STATE_STOPPED, g_sent);
      g_remaining = 0;
      g_filled = kClipSamples;  // a clip being recorded is dropped
      g_state = State::kIdle;
      break;
    default: kit_send_error(&g_writer, KIT_ERRCODE_UNSUPPORTED, "capture_audio records audio only"); break;
  }
}
}  // namespace

void setup() {
  Serial.begin(115200);
  kit_led_begin();
  pinMode(kButtonPin, INPUT_PULLUP);
  kit_writer_init(&g_writer, write_serial, nullptr);
  kit_decoder_init(&g_decoder);
  PDM.onReceive(on_pdm_data);
  PDM.setBufferSize(sizeof g_chunk);
  if (!PDM.begin(1, kSampleRate)) {
    kit_led(true, false, false);
    while (true) {
      kit_send_error(&g_writer, KIT_ERRCODE_SENSOR, "PDM microphone did not start");
      delay(2000);
    }
  }
}

void loop() {
  uint8_t buf[64];
  int n = 0;
  while (Serial.available() && n < (int)sizeof buf) buf[n++] = (uint8_t)Serial.read();
  if (n) kit_decoder_feed(&g_decoder, buf, n, on_frame, nullptr);

  switch (g_state) {
    case State::kIdle:
      if (g_remaining == 0 && digitalRead(kButtonPin) == LOW) {
        delay(30);  // debounce
        while (digitalRead(kButtonPin) == LOW) delay(10);  // one clip per press, recorded after release
        g_remaining = 1;
        g_sent = 0;
        g_next_ms = millis();
      }
      if (g_remaining) g_state = State::kWaiting;
      break;
    case State::kWaiting:
      if (g_remaining == 0) {
        g_state = State::kIdle;
      } else if ((int32_t)(millis() - g_next_ms) >= 0) {
        kit_led(false, false, true);
        g_filled = 0;  // the PDM callback fills the clip from now on
        g_state = State::kRecording;
      }
      break;
    case State::kRecording:
      if (g_filled < kClipSamples) break;
      kit_send_audio(&g_writer, kSampleRate, g_clip, kClipSamples);
      kit_led(false, true, false);
      g_sent++;
      if (g_remaining != UINT32_MAX && g_remaining > 0) g_remaining--;
      if (g_remaining == 0) {
        kit_send_status(&g_writer, KIT_CMD_CAPTURE_AUDIO, KIT_STATE_DONE, g_sent);
        g_state = State::kIdle;
      } else {
        g_next_ms = millis() + kPauseMs;
        g_state = State::kWaiting;
      }
      break;
  }
}
