// kit_camera_config.h: which camera the kit's camera sketches drive (person_detection, capture_image,
// test_camera: all three read this one file). Change the one #define below, then rebuild with the
// matching profile: `--profile nano33ble` (OV7675) or `--profile nano33ble_arducam` (Arducam).
#ifndef KIT_CAMERA_CONFIG_H_
#define KIT_CAMERA_CONFIG_H_

#define KIT_CAMERA_OV7675 1   // OV7675 on the Arduino TinyML kit's shield (Arduino_OV767X library)
#define KIT_CAMERA_ARDUCAM 2  // Arducam Mini 2MP Plus (OV2640, SPI + I2C, JPEG frames)

#define KIT_CAMERA KIT_CAMERA_OV7675

// OV7675: frame size and pixel format. QQVGA = 160x120; GRAYSCALE frames are 1 byte per pixel,
// RGB565 frames 2 (the driver stores the camera's high byte first).
#define KIT_OV7675_GRAYSCALE 1  // 0: RGB565 (for colour models)

// Arducam: the JPEG frame size (OV2640_176x144 = QCIF) and the SPI chip-select pin.
#define KIT_ARDUCAM_CS_PIN 7
#define KIT_ARDUCAM_WIDTH 176
#define KIT_ARDUCAM_HEIGHT 144
#define KIT_ARDUCAM_COLOR 0  // 1: decode JPEG blocks to RGB888 (colour models)

#endif  // KIT_CAMERA_CONFIG_H_
