#include "rtvoice/endpointer.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

namespace {
bool InRange(double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; }
}  // namespace

const char *SegmentEventKindName(SegmentEventKind kind) {
  return kind == SegmentEventKind::kSpeechStart ? "speech_start" : "speech_end";
}

void EndpointerConfig::Validate() const {
  if (sample_rate < 1000 || sample_rate > 384000)
    throw std::invalid_argument("EndpointerConfig sample_rate must be in [1000, 384000] Hz, got " + std::to_string(sample_rate));
  if (chunk_samples == 0 || chunk_samples > (std::size_t{1} << 20))
    throw std::invalid_argument("EndpointerConfig chunk_samples must be in [1, 2^20], got " + std::to_string(chunk_samples));
  if (!InRange(threshold, 0.0, 1.0) || threshold <= 0.0f)
    throw std::invalid_argument("EndpointerConfig threshold must be in (0, 1], got " + std::to_string(threshold));
  if (!InRange(neg_threshold, 0.0, threshold))
    throw std::invalid_argument("EndpointerConfig neg_threshold must be in [0, threshold=" + std::to_string(threshold) +
                                "], got " + std::to_string(neg_threshold));
  const double kMaxMs = 3600.0 * 1000.0;
  if (!InRange(min_speech_ms, 0.0, kMaxMs))
    throw std::invalid_argument("EndpointerConfig min_speech_ms must be in [0, 3.6e6] ms, got " + std::to_string(min_speech_ms));
  if (!InRange(min_silence_ms, 0.0, kMaxMs) || min_silence_ms <= 0.0)
    throw std::invalid_argument("EndpointerConfig min_silence_ms must be in (0, 3.6e6] ms, got " + std::to_string(min_silence_ms));
  if (!InRange(pad_before_ms, 0.0, kMaxMs))
    throw std::invalid_argument("EndpointerConfig pad_before_ms must be >= 0 ms, got " + std::to_string(pad_before_ms));
  if (!InRange(pad_after_ms, 0.0, min_silence_ms))
    throw std::invalid_argument("EndpointerConfig pad_after_ms must be in [0, min_silence_ms=" + std::to_string(min_silence_ms) +
                                "] ms, got " + std::to_string(pad_after_ms));
  const double chunk_ms = 1000.0 * static_cast<double>(chunk_samples) / sample_rate;
  const double shortest = pad_before_ms + min_speech_ms + min_silence_ms + 2.0 * chunk_ms;
  if (!InRange(max_segment_s * 1000.0, shortest, kMaxMs)) {
    std::ostringstream os;
    os << "EndpointerConfig max_segment_s must be in [" << shortest / 1000.0
       << " (pad_before + min_speech + min_silence + 2 chunks), 3600] s, got " << max_segment_s;
    throw std::invalid_argument(os.str());
  }
}

std::string EndpointerConfig::ToString() const {
  std::ostringstream os;
  os << "EndpointerConfig(sample_rate=" << sample_rate << ", chunk_samples=" << chunk_samples
     << ", threshold=" << threshold << ", neg_threshold=" << neg_threshold << ", min_speech_ms=" << min_speech_ms
     << ", min_silence_ms=" << min_silence_ms << ", pad_before_ms=" << pad_before_ms
     << ", pad_after_ms=" << pad_after_ms << ", max_segment_s=" << max_segment_s << ")";
  return os.str();
}

Endpointer::Endpointer(const EndpointerConfig &config) : config_(config) {
  config_.Validate();
  min_speech_ = Ms(config_.min_speech_ms);
  min_silence_ = Ms(config_.min_silence_ms);
  pad_before_ = Ms(config_.pad_before_ms);
  pad_after_ = Ms(config_.pad_after_ms);
  max_segment_ = Ms(config_.max_segment_s * 1000.0);
}

std::int64_t Endpointer::Ms(double ms) const {
  return static_cast<std::int64_t>(std::llround(ms * config_.sample_rate / 1000.0));
}

void Endpointer::Reset() {
  state_ = State::kSilence;
  position_ = 0;
  onset_ = 0;
  silence_start_ = -1;
  segment_start_ = 0;
  last_end_ = 0;
  pause_start_ = pause_end_ = -1;
}

std::int64_t Endpointer::PaddedStart() const {
  return std::max<std::int64_t>({onset_ - pad_before_, last_end_, 0});
}

std::size_t Endpointer::CloseSegment(std::int64_t silence_start, std::int64_t limit, bool forced, SegmentEvent *out) {
  std::size_t n = 0;
  const std::int64_t end = std::min(silence_start + pad_after_, limit);
  if (state_ == State::kCandidate) {
    if (silence_start - onset_ >= min_speech_) {
      segment_start_ = PaddedStart();
      out[n++] = {SegmentEventKind::kSpeechStart, segment_start_, false};
      out[n++] = {SegmentEventKind::kSpeechEnd, std::max(end, segment_start_), forced};
      last_end_ = std::max(end, segment_start_);
    }
  } else if (state_ == State::kSpeech) {
    out[n++] = {SegmentEventKind::kSpeechEnd, std::max(end, segment_start_), forced};
    last_end_ = std::max(end, segment_start_);
  }
  state_ = State::kSilence;
  silence_start_ = -1;
  pause_start_ = pause_end_ = -1;
  return n;
}

std::size_t Endpointer::ForceSplit(std::int64_t now, SegmentEvent *out) {
  if (silence_start_ >= 0) return CloseSegment(silence_start_, now, /*forced=*/true, out);
  std::int64_t split = now;
  if (pause_start_ >= 0) split = pause_start_ + (pause_end_ - pause_start_) / 2;
  out[0] = {SegmentEventKind::kSpeechEnd, split, true};
  out[1] = {SegmentEventKind::kSpeechStart, split, true};
  segment_start_ = split;
  last_end_ = split;
  pause_start_ = pause_end_ = -1;
  return 2;
}

std::size_t Endpointer::Accept(float prob, std::size_t num_samples, SegmentEvent *out) {
  if (!(prob >= 0.0f && prob <= 1.0f))
    throw std::invalid_argument("Endpointer probability must be in [0, 1], got " + std::to_string(prob));
  if (num_samples == 0 || num_samples > config_.chunk_samples)
    throw std::invalid_argument("Endpointer num_samples must be in [1, chunk_samples=" +
                                std::to_string(config_.chunk_samples) + "], got " + std::to_string(num_samples));
  const std::int64_t pos = position_;
  const std::int64_t end = pos + static_cast<std::int64_t>(num_samples);
  position_ = end;
  const bool speech = prob >= config_.threshold;
  const bool silent = prob < config_.neg_threshold;

  if (state_ == State::kSilence) {
    if (!speech) return 0;
    state_ = State::kCandidate;
    onset_ = pos;
    silence_start_ = -1;
    pause_start_ = pause_end_ = -1;
  } else if (speech) {
    if (silence_start_ >= 0) {  // a pause ends: remember the longest (the latest on ties)
      if (pause_start_ < 0 || pos - silence_start_ >= pause_end_ - pause_start_) {
        pause_start_ = silence_start_;
        pause_end_ = pos;
      }
      silence_start_ = -1;
    }
  } else if (silent && silence_start_ < 0) {
    silence_start_ = pos;
  }

  if (silence_start_ >= 0 && end - silence_start_ >= min_silence_) {
    return CloseSegment(silence_start_, end, /*forced=*/false, out);
  }
  std::size_t n = 0;
  if (state_ == State::kCandidate && silence_start_ < 0 && end - onset_ >= min_speech_) {
    segment_start_ = PaddedStart();
    out[n++] = {SegmentEventKind::kSpeechStart, segment_start_, false};
    state_ = State::kSpeech;
  }
  if (state_ == State::kSpeech && end + static_cast<std::int64_t>(config_.chunk_samples) - segment_start_ > max_segment_) {
    n += ForceSplit(end, out + n);
  }
  return n;
}

std::size_t Endpointer::Finish(SegmentEvent *out) {
  std::size_t n = 0;
  if (state_ == State::kCandidate || state_ == State::kSpeech) {
    const std::int64_t speech_end = silence_start_ >= 0 ? silence_start_ : position_;
    if (silence_start_ >= 0) {
      n = CloseSegment(silence_start_, position_, false, out);
    } else if (state_ == State::kCandidate) {
      if (speech_end - onset_ >= min_speech_) {
        segment_start_ = PaddedStart();
        out[n++] = {SegmentEventKind::kSpeechStart, segment_start_, false};
        out[n++] = {SegmentEventKind::kSpeechEnd, position_, false};
        last_end_ = position_;
      }
    } else {
      out[n++] = {SegmentEventKind::kSpeechEnd, position_, false};
      last_end_ = position_;
    }
  }
  state_ = State::kSilence;
  silence_start_ = -1;
  pause_start_ = pause_end_ = -1;
  return n;
}

}  // namespace rtvoice
