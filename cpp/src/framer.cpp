#include "rtvoice/framer.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

WindowType ParseWindowType(const std::string &name) {
  if (name == "hann" || name == "hanning") return WindowType::kHann;
  if (name == "hamming") return WindowType::kHamming;
  if (name == "povey") return WindowType::kPovey;
  if (name == "rectangular") return WindowType::kRectangular;
  if (name == "blackman") return WindowType::kBlackman;
  throw std::invalid_argument("unknown window type '" + name +
                              "' (expected hann, hamming, povey, rectangular or blackman)");
}

std::string WindowTypeName(WindowType type) {
  switch (type) {
    case WindowType::kHann: return "hann";
    case WindowType::kHamming: return "hamming";
    case WindowType::kPovey: return "povey";
    case WindowType::kRectangular: return "rectangular";
    case WindowType::kBlackman: return "blackman";
  }
  return "unknown";
}

std::vector<float> MakeWindow(WindowType type, std::size_t length, double blackman_coeff) {
  std::vector<float> w(length);
  const double a = length > 1 ? 2.0 * M_PI / static_cast<double>(length - 1) : 0.0;
  for (std::size_t i = 0; i < length; ++i) {
    const double x = a * static_cast<double>(i);
    double v = 1.0;
    switch (type) {
      case WindowType::kHann: v = 0.5 - 0.5 * std::cos(x); break;
      case WindowType::kHamming: v = 0.54 - 0.46 * std::cos(x); break;
      case WindowType::kPovey: v = std::pow(0.5 - 0.5 * std::cos(x), 0.85); break;
      case WindowType::kRectangular: v = 1.0; break;
      case WindowType::kBlackman:
        v = blackman_coeff - 0.5 * std::cos(x) + (0.5 - blackman_coeff) * std::cos(2.0 * x);
        break;
    }
    w[i] = static_cast<float>(v);
  }
  return w;
}

void FramerConfig::Validate() const {
  if (frame_length == 0) throw std::invalid_argument("frame_length must be > 0 samples");
  if (frame_shift == 0) throw std::invalid_argument("frame_shift must be > 0 samples");
}

std::string FramerConfig::ToString() const {
  std::ostringstream os;
  os << "FramerConfig(frame_length=" << frame_length << ", frame_shift=" << frame_shift
     << ", snip_edges=" << (snip_edges ? "True" : "False") << ", window='" << WindowTypeName(window) << "')";
  return os.str();
}

Framer::Framer(const FramerConfig &config) : config_(config) {
  config_.Validate();
  if (config_.window != WindowType::kRectangular) window_ = MakeWindow(config_.window, config_.frame_length);
}

std::int64_t Framer::FirstSample(std::int64_t frame) const {
  const auto shift = static_cast<std::int64_t>(config_.frame_shift);
  const auto length = static_cast<std::int64_t>(config_.frame_length);
  return config_.snip_edges ? frame * shift : frame * shift + shift / 2 - length / 2;
}

void Framer::AcceptWaveform(const float *samples, std::size_t n) {
  if (finished_) throw std::logic_error("AcceptWaveform called after InputFinished; call Reset first");
  buffer_.insert(buffer_.end(), samples, samples + n);
  num_samples_ += static_cast<std::int64_t>(n);
}

void Framer::InputFinished() { finished_ = true; }

std::int64_t Framer::NumFramesReady() const {
  const auto shift = static_cast<std::int64_t>(config_.frame_shift);
  const auto length = static_cast<std::int64_t>(config_.frame_length);
  const std::int64_t n = num_samples_;
  if (finished_) {
    if (config_.snip_edges) return n < length ? 0 : 1 + (n - length) / shift;
    return (n + shift / 2) / shift;
  }
  // Not finished: a frame is ready when its last sample has arrived. Centred frames also need the
  // signal to hold at least one frame's worth, since early frames reflect across sample 0.
  if (n < length) return 0;
  if (config_.snip_edges) return 1 + (n - length) / shift;
  const std::int64_t offset = shift / 2 - length / 2;  // FirstSample(f) = f*shift + offset
  const std::int64_t last_start = n - length - offset;
  return last_start < 0 ? 0 : 1 + last_start / shift;
}

bool Framer::PopFrame(float *out) {
  if (next_frame_ >= NumFramesReady()) return false;
  const std::int64_t first = FirstSample(next_frame_);
  const auto length = static_cast<std::int64_t>(config_.frame_length);
  const std::int64_t n = num_samples_;
  if (first >= 0 && first + length <= n) {
    std::copy_n(buffer_.begin() + (first - buffer_start_), length, out);
  } else {
    for (std::int64_t i = 0; i < length; ++i) {
      std::int64_t s = first + i;
      // Kaldi's reflection: -1 -> 0, -2 -> 1, ...; n -> n-1, n+1 -> n-2, ...
      while (s < 0 || s >= n) s = s < 0 ? -s - 1 : 2 * n - 1 - s;
      if (s < buffer_start_) throw std::logic_error("Framer: sample discarded before it was read");
      out[i] = buffer_[static_cast<std::size_t>(s - buffer_start_)];
    }
  }
  if (!window_.empty()) {
    for (std::int64_t i = 0; i < length; ++i) out[i] *= window_[static_cast<std::size_t>(i)];
  }
  ++next_frame_;
  DiscardConsumed();
  return true;
}

void Framer::DiscardConsumed() {
  // Keep what the next frame can read. Reflection at the start reads samples from 0 on (FirstSample < 0
  // keeps them all). Reflection at the end mirrors across the last sample: a frame's mirrored reads reach
  // back to 2N - first - length, which is >= first - length because first <= N for every frame.
  std::int64_t keep_from = FirstSample(next_frame_);
  if (!config_.snip_edges) keep_from -= static_cast<std::int64_t>(config_.frame_length);
  // With a hop longer than the frame the next frame may start past the input received so far.
  keep_from = std::clamp<std::int64_t>(keep_from, 0, num_samples_);
  const std::int64_t drop = keep_from - buffer_start_;
  // Compact in batches so the erase cost stays amortised O(1) per sample.
  if (drop > 0 && drop >= static_cast<std::int64_t>(buffer_.size() / 2)) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + drop);
    buffer_start_ = keep_from;
  }
}

void Framer::Reset() {
  buffer_.clear();
  buffer_start_ = 0;
  num_samples_ = 0;
  next_frame_ = 0;
  finished_ = false;
}

}  // namespace rtvoice
