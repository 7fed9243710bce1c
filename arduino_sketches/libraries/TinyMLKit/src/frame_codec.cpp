// frame_codec.cpp: see frame_codec.h.
#include "frame_codec.h"

#include <string.h>

namespace {

// CRC-32 four bits at a time: a 64-byte table instead of zlib's 1 KB, fast enough for USB rates.
// The table is computed by the compiler from the polynomial in kit_protocol.h.
struct NibbleTable {
  uint32_t value[16];
};

constexpr NibbleTable make_nibble_table() {
  NibbleTable t{};
  for (uint32_t n = 0; n < 16; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 4; ++k) c = (c & 1u) ? (c >> 1) ^ KIT_CRC32_POLY_REFLECTED : (c >> 1);
    t.value[n] = c;
  }
  return t;
}

constexpr NibbleTable kCrcNibble = make_nibble_table();

size_t bounded_strlen(const char* text, size_t limit) {
  if (text == nullptr) return 0;
  size_t n = 0;
  while (n < limit && text[n] != '\0') ++n;
  return n;
}

void emit(KitFrameWriter* w, const uint8_t* data, size_t length) {
  w->crc = kit_crc32_update(w->crc, data, length);
  w->write(w->context, data, length);
}

bool send_fixed_and_text(KitFrameWriter* w, uint8_t type, const uint8_t* fixed, size_t fixed_size,
                         const char* text, size_t limit) {
  const size_t n = bounded_strlen(text, limit);
  if (!kit_frame_begin(w, type, static_cast<uint32_t>(fixed_size + n))) return false;
  kit_frame_write(w, fixed, fixed_size);
  if (n) kit_frame_write(w, text, n);
  return kit_frame_end(w);
}

}  // namespace

uint32_t kit_crc32_update(uint32_t crc, const void* data, size_t length) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < length; ++i) {
    crc ^= p[i];
    crc = (crc >> 4) ^ kCrcNibble.value[crc & 0x0Fu];
    crc = (crc >> 4) ^ kCrcNibble.value[crc & 0x0Fu];
  }
  return ~crc;
}

void kit_put_u16(uint8_t* out, uint16_t value) {
  out[0] = static_cast<uint8_t>(value & 0xFFu);
  out[1] = static_cast<uint8_t>(value >> 8);
}

void kit_put_u32(uint8_t* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>((value >> (8 * i)) & 0xFFu);
}

uint16_t kit_get_u16(const uint8_t* in) {
  return static_cast<uint16_t>(in[0] | (in[1] << 8));
}

uint32_t kit_get_u32(const uint8_t* in) {
  return static_cast<uint32_t>(in[0]) | (static_cast<uint32_t>(in[1]) << 8) |
         (static_cast<uint32_t>(in[2]) << 16) | (static_cast<uint32_t>(in[3]) << 24);
}

bool kit_payload_limits(uint8_t type, uint32_t* min_length, uint32_t* max_length) {
  uint32_t lo = 0, hi = 0;
  switch (type) {
    case KIT_FRAME_HELLO: lo = KIT_HELLO_MIN_PAYLOAD; hi = KIT_HELLO_MAX_PAYLOAD; break;
    case KIT_FRAME_AUDIO: lo = KIT_AUDIO_MIN_PAYLOAD; hi = KIT_AUDIO_MAX_PAYLOAD; break;
    case KIT_FRAME_IMAGE: lo = KIT_IMAGE_MIN_PAYLOAD; hi = KIT_IMAGE_MAX_PAYLOAD; break;
    case KIT_FRAME_RESULT: lo = KIT_RESULT_MIN_PAYLOAD; hi = KIT_RESULT_MAX_PAYLOAD; break;
    case KIT_FRAME_LOG: lo = KIT_LOG_MIN_PAYLOAD; hi = KIT_LOG_MAX_PAYLOAD; break;
    case KIT_FRAME_COMMAND: lo = KIT_COMMAND_MIN_PAYLOAD; hi = KIT_COMMAND_MAX_PAYLOAD; break;
    case KIT_FRAME_ERROR: lo = KIT_ERROR_MIN_PAYLOAD; hi = KIT_ERROR_MAX_PAYLOAD; break;
    case KIT_FRAME_STATUS: lo = KIT_STATUS_MIN_PAYLOAD; hi = KIT_STATUS_MAX_PAYLOAD; break;
    case KIT_FRAME_TIMING: lo = KIT_TIMING_MIN_PAYLOAD; hi = KIT_TIMING_MAX_PAYLOAD; break;
    default: return false;
  }
  if (min_length) *min_length = lo;
  if (max_length) *max_length = hi;
  return true;
}

static void put_header(uint8_t* h, uint8_t type, uint8_t seq, uint32_t length) {
  h[0] = KIT_SYNC0;
  h[1] = KIT_SYNC1;
  h[KIT_OFFSET_TYPE] = type;
  h[KIT_OFFSET_SEQ] = seq;
  kit_put_u32(h + KIT_OFFSET_LENGTH, length);
}

size_t kit_encode_frame(uint8_t type, uint8_t seq, const void* payload, uint32_t length,
                        uint8_t* out, size_t capacity) {
  uint32_t lo, hi;
  if (!kit_payload_limits(type, &lo, &hi) || length < lo || length > hi) return 0;
  const size_t total = KIT_FRAME_OVERHEAD + static_cast<size_t>(length);
  if (capacity < total) return 0;
  put_header(out, type, seq, length);
  if (length) memcpy(out + KIT_HEADER_SIZE, payload, length);
  kit_put_u32(out + KIT_HEADER_SIZE + length, kit_crc32_update(0, out, KIT_HEADER_SIZE + length));
  return total;
}

void kit_writer_init(KitFrameWriter* writer, KitWriteFn write, void* context) {
  writer->write = write;
  writer->context = context;
  writer->next_seq = 0;
  writer->crc = 0;
  writer->remaining = 0;
  writer->open = false;
}

bool kit_frame_begin(KitFrameWriter* w, uint8_t type, uint32_t length) {
  uint32_t lo, hi;
  if (w->open || !kit_payload_limits(type, &lo, &hi) || length < lo || length > hi) return false;
  uint8_t header[KIT_HEADER_SIZE];
  put_header(header, type, w->next_seq, length);
  w->next_seq = static_cast<uint8_t>(w->next_seq + 1u);
  w->crc = 0;
  w->remaining = length;
  w->open = true;
  emit(w, header, sizeof header);
  return true;
}

bool kit_frame_write(KitFrameWriter* w, const void* data, size_t length) {
  if (!w->open || length > w->remaining) return false;
  emit(w, static_cast<const uint8_t*>(data), length);
  w->remaining -= static_cast<uint32_t>(length);
  return true;
}

bool kit_frame_end(KitFrameWriter* w) {
  if (!w->open || w->remaining != 0) return false;
  uint8_t crc[KIT_CRC_SIZE];
  kit_put_u32(crc, w->crc);
  w->write(w->context, crc, sizeof crc);
  w->open = false;
  return true;
}

bool kit_send_hello(KitFrameWriter* w, const KitHello* hello) {
  uint8_t fixed[KIT_HELLO_FIXED_SIZE] = {0};
  const size_t name_len = bounded_strlen(hello->name, KIT_MAX_NAME);
  kit_put_u16(fixed + KIT_HELLO_OFF_VERSION, KIT_PROTOCOL_VERSION);
  kit_put_u16(fixed + KIT_HELLO_OFF_CAPABILITIES, hello->capabilities);
  kit_put_u32(fixed + KIT_HELLO_OFF_BOARD_ID, hello->board_id);
  kit_put_u32(fixed + KIT_HELLO_OFF_SAMPLE_RATE, hello->sample_rate);
  kit_put_u32(fixed + KIT_HELLO_OFF_CLIP_SAMPLES, hello->clip_samples);
  kit_put_u16(fixed + KIT_HELLO_OFF_IMAGE_WIDTH, hello->image_width);
  kit_put_u16(fixed + KIT_HELLO_OFF_IMAGE_HEIGHT, hello->image_height);
  fixed[KIT_HELLO_OFF_PIXEL_FORMAT] = hello->pixel_format;
  fixed[KIT_HELLO_OFF_NAME_LEN] = static_cast<uint8_t>(name_len);
  return send_fixed_and_text(w, KIT_FRAME_HELLO, fixed, sizeof fixed, hello->name, KIT_MAX_NAME);
}

bool kit_send_audio(KitFrameWriter* w, uint32_t sample_rate, const int16_t* samples, uint32_t count) {
  if (count > KIT_MAX_CLIP_SAMPLES) return false;
  uint8_t fixed[KIT_AUDIO_FIXED_SIZE];
  kit_put_u32(fixed + KIT_AUDIO_OFF_SAMPLE_RATE, sample_rate);
  if (!kit_frame_begin(w, KIT_FRAME_AUDIO, KIT_AUDIO_FIXED_SIZE + 2u * count)) return false;
  kit_frame_write(w, fixed, sizeof fixed);
  // Converted in small blocks so the byte order is right on any CPU without a clip-sized buffer.
  uint8_t block[64];
  uint32_t i = 0;
  while (i < count) {
    size_t n = 0;
    while (i < count && n + 2 <= sizeof block) {
      kit_put_u16(block + n, static_cast<uint16_t>(samples[i]));
      n += 2;
      ++i;
    }
    kit_frame_write(w, block, n);
  }
  return kit_frame_end(w);
}

bool kit_image_begin(KitFrameWriter* w, uint16_t width, uint16_t height, uint8_t pixel_format,
                     uint32_t pixel_bytes) {
  uint32_t bpp = 0;
  if (pixel_format == KIT_PIXEL_GRAY8) bpp = 1;
  if (pixel_format == KIT_PIXEL_RGB565_BE || pixel_format == KIT_PIXEL_RGB565_LE) bpp = 2;
  if (pixel_format == KIT_PIXEL_NONE || pixel_format > KIT_PIXEL_JPEG) return false;
  if (bpp && pixel_bytes != static_cast<uint32_t>(width) * height * bpp) return false;
  uint8_t fixed[KIT_IMAGE_FIXED_SIZE] = {0};
  kit_put_u16(fixed + KIT_IMAGE_OFF_WIDTH, width);
  kit_put_u16(fixed + KIT_IMAGE_OFF_HEIGHT, height);
  fixed[KIT_IMAGE_OFF_PIXEL_FORMAT] = pixel_format;
  if (!kit_frame_begin(w, KIT_FRAME_IMAGE, KIT_IMAGE_FIXED_SIZE + pixel_bytes)) return false;
  return kit_frame_write(w, fixed, sizeof fixed);
}

bool kit_send_image(KitFrameWriter* w, uint16_t width, uint16_t height, uint8_t pixel_format,
                    const uint8_t* pixels, uint32_t pixel_bytes) {
  if (!kit_image_begin(w, width, height, pixel_format, pixel_bytes)) return false;
  kit_frame_write(w, pixels, pixel_bytes);
  return kit_frame_end(w);
}

bool kit_send_result(KitFrameWriter* w, uint32_t timestamp_ms, uint32_t latency_us, uint8_t top_index,
                     const uint8_t* scores, uint8_t score_count, const char* label) {
  if (score_count > KIT_MAX_LABELS || top_index >= score_count) return false;
  const size_t label_len = bounded_strlen(label, KIT_MAX_LABEL_TEXT);
  uint8_t fixed[KIT_RESULT_FIXED_SIZE];
  kit_put_u32(fixed + KIT_RESULT_OFF_TIMESTAMP_MS, timestamp_ms);
  kit_put_u32(fixed + KIT_RESULT_OFF_LATENCY_US, latency_us);
  fixed[KIT_RESULT_OFF_TOP_INDEX] = top_index;
  fixed[KIT_RESULT_OFF_TOP_SCORE] = scores[top_index];
  fixed[KIT_RESULT_OFF_N_SCORES] = score_count;
  fixed[KIT_RESULT_OFF_LABEL_LEN] = static_cast<uint8_t>(label_len);
  if (!kit_frame_begin(w, KIT_FRAME_RESULT, static_cast<uint32_t>(sizeof fixed + score_count + label_len))) {
    return false;
  }
  kit_frame_write(w, fixed, sizeof fixed);
  kit_frame_write(w, scores, score_count);
  if (label_len) kit_frame_write(w, label, label_len);
  return kit_frame_end(w);
}

bool kit_send_log(KitFrameWriter* w, uint8_t level, const char* text) {
  const uint8_t fixed[KIT_LOG_FIXED_SIZE] = {level};
  return send_fixed_and_text(w, KIT_FRAME_LOG, fixed, sizeof fixed, text, KIT_MAX_TEXT);
}

bool kit_send_error(KitFrameWriter* w, uint8_t code, const char* text) {
  const uint8_t fixed[KIT_ERROR_FIXED_SIZE] = {code};
  return send_fixed_and_text(w, KIT_FRAME_ERROR, fixed, sizeof fixed, text, KIT_MAX_TEXT);
}

bool kit_send_status(KitFrameWriter* w, uint8_t op, uint8_t state, uint32_t count) {
  uint8_t payload[KIT_STATUS_FIXED_SIZE] = {0};
  payload[KIT_STATUS_OFF_OP] = op;
  payload[KIT_STATUS_OFF_STATE] = state;
  kit_put_u32(payload + KIT_STATUS_OFF_COUNT, count);
  if (!kit_frame_begin(w, KIT_FRAME_STATUS, sizeof payload)) return false;
  kit_frame_write(w, payload, sizeof payload);
  return kit_frame_end(w);
}

bool kit_send_command(KitFrameWriter* w, uint8_t op, uint32_t arg) {
  uint8_t payload[KIT_COMMAND_FIXED_SIZE] = {0};
  payload[KIT_COMMAND_OFF_OP] = op;
  kit_put_u32(payload + KIT_COMMAND_OFF_ARG, arg);
  if (!kit_frame_begin(w, KIT_FRAME_COMMAND, sizeof payload)) return false;
  kit_frame_write(w, payload, sizeof payload);
  return kit_frame_end(w);
}

bool kit_parse_command(const uint8_t* payload, uint32_t length, KitCommand* command) {
  if (length != KIT_COMMAND_FIXED_SIZE) return false;
  command->op = payload[KIT_COMMAND_OFF_OP];
  command->arg = kit_get_u32(payload + KIT_COMMAND_OFF_ARG);
  return true;
}

void kit_decoder_init(KitFrameDecoder* d) {
  memset(d, 0, sizeof *d);
}

static void drop_front(KitFrameDecoder* d, size_t n) {
  memmove(d->buffer, d->buffer + n, d->used - n);
  d->used -= n;
}

// Scans the buffer for frames, dropping bytes that cannot start one. Returns frames delivered.
static size_t decoder_scan(KitFrameDecoder* d, KitFrameFn on_frame, void* context) {
  size_t delivered = 0;
  for (;;) {
    // Find the sync pair; keep a lone trailing first sync byte.
    size_t i = 0;
    while (i < d->used && !(d->buffer[i] == KIT_SYNC0 && (i + 1 >= d->used || d->buffer[i + 1] == KIT_SYNC1))) ++i;
    if (i) {
      d->stats.dropped_bytes += static_cast<uint32_t>(i);
      drop_front(d, i);
    }
    if (d->used < KIT_HEADER_SIZE) return delivered;
    const uint8_t type = d->buffer[KIT_OFFSET_TYPE];
    const uint32_t length = kit_get_u32(d->buffer + KIT_OFFSET_LENGTH);
    uint32_t lo, hi;
    if (!kit_payload_limits(type, &lo, &hi)) {
      ++d->stats.unknown_types;
      ++d->stats.dropped_bytes;
      drop_front(d, 1);
      continue;
    }
    if (length < lo || length > hi || length > KIT_DECODER_MAX_PAYLOAD) {
      ++d->stats.bad_lengths;
      ++d->stats.dropped_bytes;
      drop_front(d, 1);
      continue;
    }
    const size_t total = KIT_FRAME_OVERHEAD + length;
    if (d->used < total) return delivered;
    const uint32_t crc = kit_get_u32(d->buffer + KIT_HEADER_SIZE + length);
    if (crc != kit_crc32_update(0, d->buffer, KIT_HEADER_SIZE + length)) {
      ++d->stats.crc_errors;
      ++d->stats.dropped_bytes;
      drop_front(d, 1);
      continue;
    }
    ++d->stats.frames;
    ++delivered;
    if (on_frame) on_frame(context, type, d->buffer[KIT_OFFSET_SEQ], d->buffer + KIT_HEADER_SIZE, length);
    drop_front(d, total);
  }
}

size_t kit_decoder_feed(KitFrameDecoder* d, const uint8_t* data, size_t length, KitFrameFn on_frame,
                        void* context) {
  size_t delivered = 0;
  for (size_t k = 0; k < length; ++k) {
    // A full buffer always holds either a complete frame or bytes the scan drops, so this is safe.
    d->buffer[d->used++] = data[k];
    delivered += decoder_scan(d, on_frame, context);
  }
  return delivered;
}

bool kit_send_timing(KitFrameWriter* w, uint8_t source, uint8_t step, const KitTimingSummary* summary,
                     uint32_t clock_hz, const char* note) {
  if (summary->min_us > summary->median_us || summary->median_us > summary->max_us) return false;
  uint8_t fixed[KIT_TIMING_FIXED_SIZE] = {0};
  fixed[KIT_TIMING_OFF_SOURCE] = source;
  fixed[KIT_TIMING_OFF_STEP] = step;
  kit_put_u32(fixed + KIT_TIMING_OFF_RUNS, summary->runs);
  kit_put_u32(fixed + KIT_TIMING_OFF_MIN_US, summary->min_us);
  kit_put_u32(fixed + KIT_TIMING_OFF_MEDIAN_US, summary->median_us);
  kit_put_u32(fixed + KIT_TIMING_OFF_MAX_US, summary->max_us);
  kit_put_u32(fixed + KIT_TIMING_OFF_MEAN_US, summary->mean_us);
  kit_put_u32(fixed + KIT_TIMING_OFF_CLOCK_HZ, clock_hz);
  return send_fixed_and_text(w, KIT_FRAME_TIMING, fixed, sizeof fixed, note, KIT_MAX_TEXT);
}
