// Level normalisation of what the VAD hears (never of the clean stream the recogniser gets).
//
// Why: Silero's recurrent state, after a loud speaker, hears a much quieter one only in part. On
// speech_more/long.wav three FLEURS readers at -62 to -67 dBFS RMS that follow louder speech were 35-37%
// covered by speech segments where each clip alone is 80-90% covered, and their words were lost. Raising
// the VAD's copy of the audio by 12 dB or more restores it (docs/asr.md, "Quiet speakers").
//
// The gain for a chunk is target_peak / (the largest sample magnitude over the last window_s, this chunk
// included), clamped to [1, max_gain_db]: loud input is never attenuated, a quiet speaker is raised to
// about target_peak, and since the window includes the chunk a raised chunk never exceeds target_peak
// (no clipping). Below `floor` (digital silence, dither) the gain is 1, so nothing is made out of nothing.
// Noise is not raised into speech: the gain is also at most max_noise_rms / (the quietest chunk RMS over
// the window, digital silence left out), so a noisy feed (noise floor -52 dBFS at 20 dB SNR) is not raised
// at all, while the quiet FLEURS readers (floor -84 to -89 dBFS) get the full gain.
//
// Streaming: one peak per chunk in a fixed ring of window chunks; Gain() never allocates, locks or throws.
#ifndef RTVOICE_VAD_LEVEL_H_
#define RTVOICE_VAD_LEVEL_H_

#include <cstddef>
#include <string>
#include <vector>

namespace rtvoice {

struct VadLevelConfig {
  bool enabled = true;
  float target_peak = 0.25f;   // linear full scale (-12 dBFS), in (0, 1]
  float max_gain_db = 24.0f;   // dB, in [0, 60]
  float window_s = 1.5f;       // s, in [0.032, 30]: how long a loud peak holds the gain down
  float floor = 1e-4f;         // linear (-80 dBFS), in [0, target_peak): no gain below it
  float max_noise_rms = 1e-3f; // linear (-60 dBFS), in (0, target_peak]: the noise floor is raised to at most this
  int sample_rate = 16000;     // Hz
  std::size_t chunk_samples = 512;

  void Validate() const;  // throws std::invalid_argument naming the field
  std::string ToString() const;
};

class VadLevel {
 public:
  explicit VadLevel(const VadLevelConfig &config);

  // Gain (linear, >= 1) for the next chunk of n samples (finite), and the chunk enters the window.
  float Gain(const float *chunk, std::size_t n) noexcept;

  // out[i] = chunk[i] * Gain(chunk, n); returns the gain. out may equal chunk.
  float Apply(const float *chunk, std::size_t n, float *out) noexcept;

  void Reset();  // a new stream: an empty window

  const VadLevelConfig &Config() const { return config_; }
  float MaxGain() const { return max_gain_; }  // linear

 private:
  VadLevelConfig config_;
  float max_gain_;
  std::vector<float> peaks_;  // ring of chunk peaks
  std::vector<float> rms_;    // ring of chunk RMS (0: digital silence, left out of the floor)
  std::size_t next_ = 0;
};

}  // namespace rtvoice

#endif  // RTVOICE_VAD_LEVEL_H_
