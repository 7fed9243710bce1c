// frame_codec.h: encode and decode TinyML Course Kit serial frames (see kit_protocol.h).
//
// Plain C++ with no Arduino headers, so the same file is compiled into the sketches and tested on
// the computer with g++ against the Python reader (tests/test_board_cpp.py).
//
// Sending: give a KitFrameWriter a function that writes bytes (on the board, a wrapper around
// Serial.write). Large payloads (a camera frame) can be streamed in pieces between
// kit_frame_begin() and kit_frame_end(), so the board never holds a second copy of them.
//
// Receiving: feed bytes to a KitFrameDecoder; it calls back for every valid frame and resynchronises
// on its own after garbage, a bad CRC or a length outside the limits.
#ifndef TINYMLKIT_FRAME_CODEC_H_
#define TINYMLKIT_FRAME_CODEC_H_

#include <stddef.h>
#include <stdint.h>

#include "kit_protocol.h"
#include "kit_timing.h"

// CRC-32/IEEE as zlib computes it: start with 0, pass the previous result to continue.
uint32_t kit_crc32_update(uint32_t crc, const void* data, size_t length);

// Little-endian stores into a byte buffer.
void kit_put_u16(uint8_t* out, uint16_t value);
void kit_put_u32(uint8_t* out, uint32_t value);
uint16_t kit_get_u16(const uint8_t* in);
uint32_t kit_get_u32(const uint8_t* in);

// Smallest and largest payload the protocol allows for a frame type (0 and 0 for an unknown type).
bool kit_payload_limits(uint8_t type, uint32_t* min_length, uint32_t* max_length);

// Writes a whole frame into out[0..capacity); returns its length, or 0 if it does not fit or the
// payload length is outside the type's limits.
size_t kit_encode_frame(uint8_t type, uint8_t seq, const void* payload, uint32_t length,
                        uint8_t* out, size_t capacity);

typedef void (*KitWriteFn)(void* context, const uint8_t* data, size_t length);

struct KitFrameWriter {
  KitWriteFn write;
  void* context;
  uint8_t next_seq;    // sequence number of the next frame
  uint32_t crc;        // running CRC of the frame being written
  uint32_t remaining;  // payload bytes still expected for it
  bool open;           // a frame has begun and not ended
};

void kit_writer_init(KitFrameWriter* writer, KitWriteFn write, void* context);
// Starts a frame of `length` payload bytes; false if a frame is already open or the length is
// outside the type's limits.
bool kit_frame_begin(KitFrameWriter* writer, uint8_t type, uint32_t length);
// Adds payload bytes; false if more than announced.
bool kit_frame_write(KitFrameWriter* writer, const void* data, size_t length);
// Sends the CRC; false if fewer payload bytes were written than announced.
bool kit_frame_end(KitFrameWriter* writer);

// Whole messages. Text is cut to the protocol's limit.
struct KitHello {
  uint16_t capabilities;  // KIT_CAP_* bits
  uint32_t board_id;
  uint32_t sample_rate;
  uint32_t clip_samples;
  uint16_t image_width;
  uint16_t image_height;
  uint8_t pixel_format;  // KIT_PIXEL_*
  const char* name;
};
bool kit_send_hello(KitFrameWriter* writer, const KitHello* hello);
// Samples go out little-endian whatever the CPU's byte order.
bool kit_send_audio(KitFrameWriter* writer, uint32_t sample_rate, const int16_t* samples, uint32_t count);
// Begins an IMAGE frame; the caller then streams `pixel_bytes` bytes with kit_frame_write() and
// calls kit_frame_end().
bool kit_image_begin(KitFrameWriter* writer, uint16_t width, uint16_t height, uint8_t pixel_format,
                     uint32_t pixel_bytes);
bool kit_send_image(KitFrameWriter* writer, uint16_t width, uint16_t height, uint8_t pixel_format,
                    const uint8_t* pixels, uint32_t pixel_bytes);
bool kit_send_result(KitFrameWriter* writer, uint32_t timestamp_ms, uint32_t latency_us,
                     uint8_t top_index, const uint8_t* scores, uint8_t score_count, const char* label);
bool kit_send_log(KitFrameWriter* writer, uint8_t level, const char* text);
bool kit_send_error(KitFrameWriter* writer, uint8_t code, const char* text);
bool kit_send_status(KitFrameWriter* writer, uint8_t op, uint8_t state, uint32_t count);
bool kit_send_command(KitFrameWriter* writer, uint8_t op, uint32_t arg);
// A TIMING frame (answer to BENCH): source KIT_TIMING_MEASURED or KIT_TIMING_ESTIMATE, step KIT_STEP_*;
// false if the summary is out of order (min <= median <= max).
bool kit_send_timing(KitFrameWriter* writer, uint8_t source, uint8_t step, const KitTimingSummary* summary,
                     uint32_t clock_hz, const char* note);

struct KitCommand {
  uint8_t op;    // KIT_CMD_*
  uint32_t arg;  // count (0: until STOP)
};
// Decodes a COMMAND payload; false if it has the wrong length.
bool kit_parse_command(const uint8_t* payload, uint32_t length, KitCommand* command);

// Largest payload the decoder accepts; a board only receives COMMAND frames (8 bytes).
#ifndef KIT_DECODER_MAX_PAYLOAD
#define KIT_DECODER_MAX_PAYLOAD 64u
#endif

struct KitDecoderStats {
  uint32_t frames;
  uint32_t dropped_bytes;
  uint32_t crc_errors;
  uint32_t bad_lengths;
  uint32_t unknown_types;
};

typedef void (*KitFrameFn)(void* context, uint8_t type, uint8_t seq, const uint8_t* payload,
                           uint32_t length);

struct KitFrameDecoder {
  uint8_t buffer[KIT_HEADER_SIZE + KIT_DECODER_MAX_PAYLOAD + KIT_CRC_SIZE];
  size_t used;
  KitDecoderStats stats;
};

void kit_decoder_init(KitFrameDecoder* decoder);
// Feeds received bytes; calls on_frame for each valid frame; returns the number of frames.
size_t kit_decoder_feed(KitFrameDecoder* decoder, const uint8_t* data, size_t length,
                        KitFrameFn on_frame, void* context);

#endif  // TINYMLKIT_FRAME_CODEC_H_
