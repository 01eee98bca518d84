// Endpointer: per-chunk speech probabilities -> speech-start / speech-end events at exact sample positions.
//
// The stream is cut into chunks (512 samples for Silero VAD); each Accept() gives the probability of
// the next chunk [position, position + num_samples). Rules:
//   - Onset: a chunk with prob >= threshold begins speech at its first sample (speech onset).
//   - Hysteresis: inside speech, a chunk with prob < neg_threshold begins a (pending) silence; only a
//     chunk with prob >= threshold cancels it (a pause). Chunks in between change nothing.
//   - Minimum trailing silence: a pending silence that reaches min_silence_ms ends the segment.
//   - Minimum speech: the start event is emitted once speech (onset to now, or to the start of its
//     trailing silence) has lasted min_speech_ms; shorter bursts produce no events at all.
//   - Padding: start = onset - pad_before_ms (never before the stream start or the previous segment's
//     end); end = start of the trailing silence + pad_after_ms (pad_after_ms <= min_silence_ms, so the
//     end is never in the future).
//   - Maximum segment length: a segment about to exceed max_segment_s is split, with forced = true on
//     both the end and the following start, at the middle of its longest pause (if it had one), else at
//     the current position. If a silence is pending at that moment the segment just ends there (forced
//     end; speech that resumes starts a new segment normally).
// Event sample positions are int64 indices into the stream (the first Accept()ed sample is 0). The start
// event is reported late (after min_speech_ms) but carries the exact earlier position; consumers keep
// audio accordingly. No allocation after construction.
#ifndef RTVOICE_ENDPOINTER_H_
#define RTVOICE_ENDPOINTER_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace rtvoice {

struct EndpointerConfig {
  int sample_rate = 16000;          // Hz
  std::size_t chunk_samples = 512;  // samples per probability
  float threshold = 0.5f;           // onset: prob >= threshold is speech
  float neg_threshold = 0.35f;      // offset: prob < neg_threshold inside speech starts a silence
  double min_speech_ms = 250.0;     // shorter speech bursts are ignored
  double min_silence_ms = 300.0;    // trailing silence that ends a segment
  double pad_before_ms = 100.0;     // audio kept before the onset
  double pad_after_ms = 100.0;      // audio kept after the last speech (<= min_silence_ms)
  double max_segment_s = 25.0;      // longer segments are split (forced)

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};

enum class SegmentEventKind { kSpeechStart = 0, kSpeechEnd = 1 };

struct SegmentEvent {
  SegmentEventKind kind = SegmentEventKind::kSpeechStart;
  std::int64_t sample = 0;  // stream position (samples)
  bool forced = false;      // true for both sides of a split made by max_segment_s
};

const char *SegmentEventKindName(SegmentEventKind kind);  // "speech_start" / "speech_end"

class Endpointer {
 public:
  static constexpr std::size_t kMaxEventsPerCall = 4;

  explicit Endpointer(const EndpointerConfig &config);

  // Probability of the next num_samples samples (1..chunk_samples; fewer than chunk_samples only for the
  // last chunk of a stream). Writes the events this chunk completes to out (room for
  // kMaxEventsPerCall) and returns how many. Throws std::invalid_argument if prob is not in [0, 1] or
  // num_samples is out of range.
  std::size_t Accept(float prob, std::size_t num_samples, SegmentEvent *out);

  // The stream ended at Position(): closes an open segment (and emits a pending one that is long
  // enough). Returns the number of events written to out (room for kMaxEventsPerCall).
  std::size_t Finish(SegmentEvent *out);

  // A new stream starting at sample 0.
  void Reset();

  std::int64_t Position() const { return position_; }
  bool InSegment() const { return state_ == State::kSpeech; }  // a start was emitted, no end yet
  const EndpointerConfig &Config() const { return config_; }

 private:
  enum class State { kSilence, kCandidate, kSpeech };

  std::int64_t Ms(double ms) const;
  std::int64_t PaddedStart() const;
  std::size_t CloseSegment(std::int64_t silence_start, std::int64_t limit, bool forced, SegmentEvent *out);
  std::size_t ForceSplit(std::int64_t now, SegmentEvent *out);

  EndpointerConfig config_;
  std::int64_t min_speech_, min_silence_, pad_before_, pad_after_, max_segment_;

  State state_ = State::kSilence;
  std::int64_t position_ = 0;
  std::int64_t onset_ = 0;           // first sample of the current speech
  std::int64_t silence_start_ = -1;  // start of the pending silence, -1 if none
  std::int64_t segment_start_ = 0;   // start sample emitted for the open segment
  std::int64_t last_end_ = 0;        // end sample of the previous segment (pads never overlap it)
  std::int64_t pause_start_ = -1;    // longest completed pause inside the open segment, -1 if none
  std::int64_t pause_end_ = -1;
};

}  // namespace rtvoice

#endif  // RTVOICE_ENDPOINTER_H_
