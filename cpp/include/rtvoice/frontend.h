// Front end: a worker thread turning live 16 kHz mono audio into clean audio, speech probabilities and
// speech segment events.
//
//   producer (audio callback / file reader) --Write()--> Input() RingBuffer
//   worker thread: [DC blocker] -> [denoise] -> Silero VAD (512-sample chunks, on a level-normalised
//       copy: rtvoice/vad_level.h) -> Endpointer
//       -> audio queue   (AudioBlock: up to 512 clean samples + absolute start sample)
//       -> prob queue    (ChunkProbability: chunk start sample + speech probability)
//       -> event queue   (SegmentEvent: speech_start / speech_end at a sample, forced flag)
//   consumer thread: WaitForEvents() / PopEvents() / PopAudio() / PopProbabilities()
//
// Positions are sample indices of the input stream (0 = first sample written). With a denoiser the
// clean stream is realigned by its latency, so clean sample i is the enhanced input sample i.
// The producer side only writes into the lock-free ring (what does not fit is counted, see
// RingBuffer::OverflowFrames). The worker never blocks on the consumer: a full output queue drops the
// item and counts it. The consumer may block in WaitForEvents (the worker signals under a mutex
// after pushing events, never from the audio callback).
//
// Lifecycle: Start() launches the worker. Finish() says the input ended: the worker processes what is
// left (a final partial chunk included), closes an open segment, and becomes Done(). Stop() is
// Finish() + join. Destroying a FrontEnd without Stop() abandons unprocessed input and joins safely.
// Writes made after Finish() are ignored.
#ifndef RTVOICE_FRONTEND_H_
#define RTVOICE_FRONTEND_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rtvoice/dc_blocker.h"
#include "rtvoice/endpointer.h"
#include "rtvoice/ring_buffer.h"
#include "rtvoice/denoiser.h"
#include "rtvoice/silero_vad.h"
#include "rtvoice/spsc_queue.h"
#include "rtvoice/vad_level.h"

namespace rtvoice {

struct FrontEndConfig {
  int sample_rate = 16000;                     // Hz; the Silero VAD network is 16 kHz only
  std::size_t input_capacity_samples = 65536;  // input ring (rounded up to a power of two; 4.1 s)
  // Remove a DC offset (rtvoice::DcBlocker, a 10 Hz one-pole high-pass) first: with an offset of 0.3
  // the VAD hears no speech. The clean stream (what the ASR gets) is the blocked signal.
  bool dc_block = true;
  DcBlockerConfig dc_blocker;  // sample_rate must equal sample_rate
  // Run rtvoice::Denoiser before the VAD.
  bool denoise = false;
  DenoiserConfig denoiser;  // sample_rate must equal sample_rate
  // Gain on the VAD's copy of each chunk (the clean stream is not changed); sample_rate / chunk_samples
  // must match (16000 / 512).
  VadLevelConfig vad_level;
  EndpointerConfig endpointer;                  // sample_rate / chunk_samples must match (16000 / 512)
  std::size_t audio_queue_blocks = 1024;        // clean-audio blocks of 512 samples (32.8 s)
  std::size_t prob_queue_capacity = 4096;       // per-chunk probabilities (131 s)
  std::size_t event_queue_capacity = 256;       // segment events
  double idle_sleep_ms = 2.0;                   // worker sleep while less than one chunk is waiting

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};

// Up to 512 consecutive samples of the clean stream starting at `start`.
struct AudioBlock {
  static constexpr std::size_t kMaxSamples = SileroVadModel::kChunkSamples;
  std::int64_t start = 0;
  std::uint32_t size = 0;
  float samples[kMaxSamples];
};

struct ChunkProbability {
  std::int64_t sample = 0;  // first sample of the chunk
  std::uint32_t size = 0;   // samples in the chunk (512, fewer for the last one)
  float prob = 0.0f;
};

struct FrontEndStats {
  std::uint64_t samples_in = 0;          // samples the worker took from the input ring
  std::uint64_t input_overflow = 0;      // samples the producer could not write (ring full)
  std::uint64_t nonfinite_samples = 0;   // NaN/Inf input samples replaced by 0
  double dc_offset_max = 0.0;            // largest |offset| the DC blocker removed (smoothed over ~0.5 s)
  double vad_gain_max_db = 0.0;          // largest gain the VAD level stage applied (dB)
  std::uint64_t vad_raised_chunks = 0;   // chunks the VAD heard raised (gain > 1)
  std::uint64_t chunks = 0;              // VAD chunks processed
  std::uint64_t audio_dropped_blocks = 0, audio_dropped_samples = 0;
  std::uint64_t probs_dropped = 0;
  std::uint64_t events_dropped = 0;
  std::uint64_t events_emitted = 0;      // events the endpointer produced (queued + dropped)
  std::uint64_t audio_queue_high_water = 0, prob_queue_high_water = 0, event_queue_high_water = 0;
  std::uint64_t input_high_water = 0;    // most samples the worker found waiting in the input ring
  double busy_seconds = 0.0;             // worker time spent processing (not waiting)
};

class FrontEnd {
 public:
  FrontEnd(const FrontEndConfig &config, std::shared_ptr<const SileroVadModel> vad_model);
  ~FrontEnd();  // abandons unprocessed input, joins the worker
  FrontEnd(const FrontEnd &) = delete;
  FrontEnd &operator=(const FrontEnd &) = delete;

  // Producer side: the ring the source writes 16 kHz mono float32 samples into.
  RingBuffer &Input() { return input_; }

  void Start();   // launches the worker (once; throws std::logic_error when called twice)
  void Finish();  // the input ended (idempotent)
  void Stop();    // Finish(), wait until everything is processed, join (starts the worker if needed)

  bool Started() const { return started_; }
  // The worker has processed all input after Finish() (or failed, see Error()).
  bool Done() const { return done_.load(std::memory_order_acquire); }
  // Non-empty if the worker stopped on an exception.
  std::string Error() const;

  // Consumer side (one consumer thread).
  // Blocks until an event is queued, Done(), or timeout_s passes. True when events are available.
  bool WaitForEvents(double timeout_s);
  std::size_t PopEvents(SegmentEvent *out, std::size_t max_events);
  std::size_t PopProbabilities(ChunkProbability *out, std::size_t max_items);
  const AudioBlock *FrontAudio() const { return audio_.Front(); }  // oldest block or null
  void PopAudio() { audio_.PopFront(); }

  FrontEndStats Stats() const;
  const FrontEndConfig &Config() const { return config_; }
  // Delay of the denoiser the worker compensates for (0 without one), in samples.
  std::size_t DenoiserLatencySamples() const { return denoiser_latency_; }

 private:
  void Run();
  void ProcessInput(float *samples, std::size_t n);
  void Stage(const float *samples, std::size_t n);
  void Denoise(const float *samples, std::size_t n);
  void ProcessChunk(const float *samples, std::size_t n);
  void FinishStream();
  void PushEvents(const SegmentEvent *events, std::size_t n);
  void SignalConsumer();

  FrontEndConfig config_;
  RingBuffer input_;
  SileroVad vad_;
  VadLevel vad_level_;
  Endpointer endpointer_;
  SpscQueue<AudioBlock> audio_;
  SpscQueue<ChunkProbability> probs_;
  SpscQueue<SegmentEvent> events_;

  // Worker-only state.
  std::unique_ptr<DcBlocker> dc_blocker_;  // null when !config_.dc_block
  double dc_estimate_ = 0.0;               // removed offset, smoothed (see ProcessInput)
  std::unique_ptr<Denoiser> denoiser_;  // null when !config_.denoise
  std::size_t denoiser_latency_ = 0;
  std::size_t preroll_left_ = 0;     // denoiser outputs still to discard (they precede sample 0)
  std::vector<float> denoised_;     // denoiser output scratch, one chunk
  std::vector<float> read_buffer_;  // one chunk from the input ring
  std::vector<float> staging_;      // clean samples waiting to fill a chunk
  std::vector<float> vad_input_;    // the VAD's level-normalised copy of a chunk
  std::size_t staged_ = 0;
  std::int64_t clean_position_ = 0;

  std::thread worker_;
  bool started_ = false;
  std::atomic<bool> input_ended_{false};
  std::atomic<bool> abort_{false};
  std::atomic<bool> done_{false};

  mutable std::mutex mutex_;  // guards error_ and the wait below
  std::condition_variable events_ready_;
  std::string error_;

  std::atomic<std::uint64_t> samples_in_{0}, nonfinite_{0}, chunks_{0}, audio_dropped_samples_{0};
  std::atomic<std::uint64_t> events_emitted_{0}, input_high_water_{0};
  std::atomic<std::int64_t> busy_ns_{0};
  std::atomic<double> dc_offset_max_{0.0};
  std::atomic<float> vad_gain_max_{1.0f};
  std::atomic<std::uint64_t> vad_raised_chunks_{0};
};

}  // namespace rtvoice

#endif  // RTVOICE_FRONTEND_H_
