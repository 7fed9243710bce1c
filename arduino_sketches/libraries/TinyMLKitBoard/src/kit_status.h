// kit_status.h: what a sketch shows on the board's RGB LED and says on Serial when it starts or fails.
//
// Board code (Arduino headers), shared by every sketch through this library (TinyMLKitBoard). The Nano 33
// BLE Sense's RGB LED is active low: LOW lights a colour.
#ifndef KIT_STATUS_H_
#define KIT_STATUS_H_

#include <Arduino.h>

// Lights the colours asked for and turns the others off.
inline void kit_led(bool red, bool green, bool blue) {
  digitalWrite(LEDR, red ? LOW : HIGH);
  digitalWrite(LEDG, green ? LOW : HIGH);
  digitalWrite(LEDB, blue ? LOW : HIGH);
}

// Makes the three LED pins outputs, all off.
inline void kit_led_begin() {
  pinMode(LEDR, OUTPUT);
  pinMode(LEDG, OUTPUT);
  pinMode(LEDB, OUTPUT);
  kit_led(false, false, false);
}

// The keyword sketches' colours for a recognised label: off for none (-1) or silence, blue for unknown,
// green for the first keyword (label 2), red for the second, yellow (red + green) for any other.
inline void kit_led_label(int label, int silence_index, int unknown_index) {
  if (label < 0 || label == silence_index) {
    kit_led(false, false, false);
  } else if (label == unknown_index) {
    kit_led(false, false, true);
  } else if (label == 2) {
    kit_led(false, true, false);
  } else if (label == 3) {
    kit_led(true, false, false);
  } else {
    kit_led(true, true, false);
  }
}

// Opens Serial at 115200 baud and waits up to `wait_ms` for a computer to open the port, so the first
// lines are not lost; a board running without a computer starts anyway.
inline void kit_serial_begin(uint32_t wait_ms) {
  Serial.begin(115200);
  const uint32_t t0 = millis();
  while (!Serial && millis() - t0 < wait_ms) {
  }
}

// Setup failed: "ERROR <what>" on Serial, then the red LED blinks fast for ever.
inline void kit_fail(const char* what) {
  Serial.print("ERROR ");
  Serial.println(what);
  kit_led(false, false, false);
  while (true) {
    digitalWrite(LEDR, LOW);
    delay(100);
    digitalWrite(LEDR, HIGH);
    delay(100);
  }
}

#endif  // KIT_STATUS_H_
