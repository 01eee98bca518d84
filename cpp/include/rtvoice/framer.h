// Streaming framing: cuts a sample stream into overlapping frames, and the analysis windows.
//
// Frame f starts at sample f*shift (snip_edges) or f*shift + shift/2 - length/2 (Kaldi's centred
// framing, reflecting samples across the signal's edges). Output is identical whatever the chunking of
// the input: a frame is emitted only once every sample it needs has arrived, and frames that need
// samples past the end wait for InputFinished().
#ifndef RTVOICE_FRAMER_H_
#define RTVOICE_FRAMER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rtvoice {

enum class WindowType { kHann, kHamming, kPovey, kRectangular, kBlackman };

// Parses "hann"/"hanning", "hamming", "povey", "rectangular", "blackman"; throws on anything else.
WindowType ParseWindowType(const std::string &name);
std::string WindowTypeName(WindowType type);

// Kaldi's symmetric windows over `length` samples (a[i] uses 2*pi*i/(length-1)).
std::vector<float> MakeWindow(WindowType type, std::size_t length, double blackman_coeff = 0.42);

struct FramerConfig {
  std::size_t frame_length = 400;  // samples
  std::size_t frame_shift = 160;   // samples
  bool snip_edges = true;
  // Window applied to every popped frame; rectangular leaves the samples untouched.
  WindowType window = WindowType::kRectangular;

  void Validate() const;
  std::string ToString() const;
};

class Framer {
 public:
  explicit Framer(const FramerConfig &config);

  void AcceptWaveform(const float *samples, std::size_t n);
  // No more input: frames reaching past the end become ready (reflected, when !snip_edges).
  void InputFinished();

  // Total frames that will exist given the input so far (all of them once input is finished).
  std::int64_t NumFramesReady() const;
  // Copies the next frame (frame_length samples, windowed) into `out`; false when none is ready.
  bool PopFrame(float *out);
  std::int64_t FramesPopped() const { return next_frame_; }
  std::int64_t SamplesReceived() const { return num_samples_; }

  void Reset();
  const FramerConfig &Config() const { return config_; }

 private:
  std::int64_t FirstSample(std::int64_t frame) const;
  void DiscardConsumed();

  FramerConfig config_;
  std::vector<float> window_;      // empty for rectangular
  std::vector<float> buffer_;      // samples [buffer_start_, num_samples_)
  std::int64_t buffer_start_ = 0;  // absolute index of buffer_[0]
  std::int64_t num_samples_ = 0;
  std::int64_t next_frame_ = 0;
  bool finished_ = false;
};

}  // namespace rtvoice

#endif  // RTVOICE_FRAMER_H_
