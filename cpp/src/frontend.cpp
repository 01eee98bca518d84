#include "rtvoice/frontend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace rtvoice {

namespace {
constexpr std::size_t kChunk = SileroVadModel::kChunkSamples;

const FrontEndConfig &Validated(const FrontEndConfig &config) {
  config.Validate();
  return config;
}

void CheckCount(std::size_t v, std::size_t lo, std::size_t hi, const char *name) {
  if (v < lo || v > hi)
    throw std::invalid_argument(std::string("FrontEndConfig ") + name + " must be in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], got " + std::to_string(v));
}

void RaiseTo(std::atomic<std::uint64_t> &mark, std::uint64_t value) {
  if (value > mark.load(std::memory_order_relaxed)) mark.store(value, std::memory_order_relaxed);
}

std::int64_t NanosSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

void FrontEndConfig::Validate() const {
  if (sample_rate != SileroVadModel::kSampleRate)
    throw std::invalid_argument("FrontEndConfig sample_rate must be 16000 Hz (Silero VAD 16 kHz), got " +
                                std::to_string(sample_rate) + ": resample the source first");
  CheckCount(input_capacity_samples, kChunk, std::size_t{1} << 26, "input_capacity_samples");
  if (dc_block) {
    dc_blocker.Validate();
    if (dc_blocker.sample_rate != sample_rate)
      throw std::invalid_argument("FrontEndConfig dc_blocker.sample_rate must equal sample_rate (16000), got " +
                                  std::to_string(dc_blocker.sample_rate));
  }
  if (denoise) {
    denoiser.Validate();
    if (denoiser.sample_rate != sample_rate)
      throw std::invalid_argument("FrontEndConfig denoiser.sample_rate must equal sample_rate (16000), got " +
                                  std::to_string(denoiser.sample_rate));
  }
  vad_level.Validate();
  if (vad_level.sample_rate != sample_rate || vad_level.chunk_samples != kChunk)
    throw std::invalid_argument("FrontEndConfig vad_level must use sample_rate 16000 and chunk_samples 512, got " +
                                std::to_string(vad_level.sample_rate) + " and " +
                                std::to_string(vad_level.chunk_samples));
  endpointer.Validate();
  if (endpointer.sample_rate != sample_rate || endpointer.chunk_samples != kChunk)
    throw std::invalid_argument("FrontEndConfig endpointer must use sample_rate 16000 and chunk_samples 512, got " +
                                std::to_string(endpointer.sample_rate) + " and " +
                                std::to_string(endpointer.chunk_samples));
  CheckCount(audio_queue_blocks, 1, std::size_t{1} << 20, "audio_queue_blocks");
  CheckCount(prob_queue_capacity, 1, std::size_t{1} << 24, "prob_queue_capacity");
  CheckCount(event_queue_capacity, 1, std::size_t{1} << 24, "event_queue_capacity");
  if (!(idle_sleep_ms > 0.0 && idle_sleep_ms <= 100.0))
    throw std::invalid_argument("FrontEndConfig idle_sleep_ms must be in (0, 100] ms, got " + std::to_string(idle_sleep_ms));
}

std::string FrontEndConfig::ToString() const {
  std::ostringstream os;
  os << "FrontEndConfig(sample_rate=" << sample_rate << ", input_capacity_samples=" << input_capacity_samples
     << ", dc_block=" << (dc_block ? "true" : "false") << ", dc_blocker=" << dc_blocker.ToString()
     << ", denoise=" << (denoise ? "true" : "false") << ", vad_level=" << vad_level.ToString() << ", endpointer=" << endpointer.ToString()
     << ", audio_queue_blocks=" << audio_queue_blocks << ", prob_queue_capacity=" << prob_queue_capacity
     << ", event_queue_capacity=" << event_queue_capacity << ", idle_sleep_ms=" << idle_sleep_ms << ")";
  return os.str();
}

FrontEnd::FrontEnd(const FrontEndConfig &config, std::shared_ptr<const SileroVadModel> vad_model)
    : config_(Validated(config)),
      input_(RingBufferConfig{config.input_capacity_samples, 1}),
      vad_(std::move(vad_model)),
      vad_level_(config.vad_level),
      endpointer_(config.endpointer),
      audio_(config.audio_queue_blocks),
      probs_(config.prob_queue_capacity),
      events_(config.event_queue_capacity),
      denoised_(kChunk, 0.0f),
      read_buffer_(kChunk, 0.0f),
      staging_(kChunk, 0.0f),
      vad_input_(kChunk, 0.0f) {
  if (config_.dc_block) dc_blocker_ = std::make_unique<DcBlocker>(config_.dc_blocker);
  if (config_.denoise) {
    denoiser_ = std::make_unique<Denoiser>(config_.denoiser);
    denoiser_latency_ = denoiser_->LatencySamples();
    preroll_left_ = denoiser_latency_;
  }
}

FrontEnd::~FrontEnd() {
  abort_.store(true, std::memory_order_release);
  if (worker_.joinable()) worker_.join();
}

void FrontEnd::Start() {
  if (started_) throw std::logic_error("FrontEnd already started");
  started_ = true;
  worker_ = std::thread(&FrontEnd::Run, this);
}

void FrontEnd::Finish() { input_ended_.store(true, std::memory_order_release); }

void FrontEnd::Stop() {
  if (!started_) Start();
  Finish();
  if (worker_.joinable()) worker_.join();
}

std::string FrontEnd::Error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

// --- worker -----------------------------------------------------------------------------------------
void FrontEnd::Run() {
  try {
    const auto idle = std::chrono::microseconds(static_cast<std::int64_t>(config_.idle_sleep_ms * 1000.0));
    while (!abort_.load(std::memory_order_acquire)) {
      // Read the end flag before the fill level: everything written before Finish() is then visible.
      const bool ended = input_ended_.load(std::memory_order_acquire);
      const std::size_t available = input_.Available();
      RaiseTo(input_high_water_, available);
      if (available >= kChunk) {
        const std::size_t n = input_.Read(read_buffer_.data(), kChunk);
        ProcessInput(read_buffer_.data(), n);
        continue;
      }
      if (ended) {
        const std::size_t n = input_.Read(read_buffer_.data(), available);
        if (n > 0) ProcessInput(read_buffer_.data(), n);
        FinishStream();
        break;
      }
      std::this_thread::sleep_for(idle);
    }
  } catch (const std::exception &e) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = e.what();
  }
  done_.store(true, std::memory_order_release);
  SignalConsumer();
}

void FrontEnd::ProcessInput(float *samples, std::size_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(samples[i])) {
      samples[i] = 0.0f;
      ++bad;
    }
  }
  if (bad) nonfinite_.fetch_add(bad, std::memory_order_relaxed);
  samples_in_.fetch_add(n, std::memory_order_relaxed);
  if (dc_blocker_) {
    // What was removed, smoothed over about 0.5 s so that speech's own low end does not count as offset.
    const double removed = dc_blocker_->Process(samples, n, samples);
    const double alpha = std::min(1.0, static_cast<double>(n) / (0.5 * config_.sample_rate));
    dc_estimate_ += alpha * (removed - dc_estimate_);
    const double offset = std::fabs(dc_estimate_);
    if (offset > dc_offset_max_.load(std::memory_order_relaxed)) dc_offset_max_.store(offset, std::memory_order_relaxed);
  }

  if (config_.denoise) {
    Denoise(samples, n);
  } else {
    Stage(samples, n);
  }
  busy_ns_.fetch_add(NanosSince(t0), std::memory_order_relaxed);
}

// The denoiser's output is delayed by its latency L: its first L outputs precede the stream and are
// dropped, so clean sample i is the enhanced input sample i; FinishStream() feeds L zeros to get the
// last L out.
void FrontEnd::Denoise(const float *samples, std::size_t n) {
  denoiser_->Process(samples, n, denoised_.data());
  const std::size_t skip = std::min(n, preroll_left_);
  preroll_left_ -= skip;
  Stage(denoised_.data() + skip, n - skip);
}

// Clean samples in; full chunks go to ProcessChunk, the rest waits in staging_.
void FrontEnd::Stage(const float *samples, std::size_t n) {
  if (staged_ == 0 && n == kChunk) {
    ProcessChunk(samples, n);
    return;
  }
  std::size_t i = 0;
  while (i < n) {
    const std::size_t take = std::min(n - i, kChunk - staged_);
    std::memcpy(staging_.data() + staged_, samples + i, take * sizeof(float));
    staged_ += take;
    i += take;
    if (staged_ == kChunk) {
      ProcessChunk(staging_.data(), kChunk);
      staged_ = 0;
    }
  }
}

void FrontEnd::ProcessChunk(const float *samples, std::size_t n) {
  AudioBlock block;
  block.start = clean_position_;
  block.size = static_cast<std::uint32_t>(n);
  std::memcpy(block.samples, samples, n * sizeof(float));
  std::fill(block.samples + n, block.samples + kChunk, 0.0f);  // the last chunk of a stream may be partial
  if (!audio_.Push(block)) audio_dropped_samples_.fetch_add(n, std::memory_order_relaxed);

  // zero-padded like SileroVad.process(); the VAD hears a level-normalised copy (rtvoice/vad_level.h)
  const float gain = vad_level_.Apply(block.samples, kChunk, vad_input_.data());
  if (gain > 1.0f) {
    vad_raised_chunks_.fetch_add(1, std::memory_order_relaxed);
    if (gain > vad_gain_max_.load(std::memory_order_relaxed)) vad_gain_max_.store(gain, std::memory_order_relaxed);
  }
  const float prob = vad_.Prob(vad_input_.data());
  probs_.Push(ChunkProbability{clean_position_, static_cast<std::uint32_t>(n), prob});

  SegmentEvent events[Endpointer::kMaxEventsPerCall];
  const std::size_t count = endpointer_.Accept(prob, n, events);
  clean_position_ += static_cast<std::int64_t>(n);
  chunks_.fetch_add(1, std::memory_order_relaxed);
  PushEvents(events, count);
}

void FrontEnd::FinishStream() {
  const auto t0 = std::chrono::steady_clock::now();
  if (denoiser_) {
    // Zeros push the last LatencySamples() enhanced samples out; keep exactly as many clean samples as
    // went in.
    std::fill(read_buffer_.begin(), read_buffer_.end(), 0.0f);
    const std::uint64_t total = samples_in_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t emitted = static_cast<std::uint64_t>(clean_position_) + staged_;
      if (emitted >= total) break;
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(total - emitted + preroll_left_, kChunk));
      denoiser_->Process(read_buffer_.data(), want, denoised_.data());
      const std::size_t skip = std::min(want, preroll_left_);
      preroll_left_ -= skip;
      Stage(denoised_.data() + skip, want - skip);
    }
  }
  if (staged_ > 0) {
    ProcessChunk(staging_.data(), staged_);
    staged_ = 0;
  }
  SegmentEvent events[Endpointer::kMaxEventsPerCall];
  const std::size_t count = endpointer_.Finish(events);
  PushEvents(events, count);
  busy_ns_.fetch_add(NanosSince(t0), std::memory_order_relaxed);
}

void FrontEnd::PushEvents(const SegmentEvent *events, std::size_t n) {
  if (n == 0) return;
  for (std::size_t i = 0; i < n; ++i) events_.Push(events[i]);
  events_emitted_.fetch_add(n, std::memory_order_relaxed);
  SignalConsumer();
}

void FrontEnd::SignalConsumer() {
  { std::lock_guard<std::mutex> lock(mutex_); }
  events_ready_.notify_all();
}

// --- consumer ---------------------------------------------------------------------------------------
bool FrontEnd::WaitForEvents(double timeout_s) {
  if (!events_.Empty() || Done()) return !events_.Empty();
  if (!(timeout_s > 0.0)) return false;  // also NaN
  const double capped = std::min(timeout_s, 1e6);
  std::unique_lock<std::mutex> lock(mutex_);
  events_ready_.wait_for(lock, std::chrono::duration<double>(capped), [this] { return !events_.Empty() || Done(); });
  return !events_.Empty();
}

std::size_t FrontEnd::PopEvents(SegmentEvent *out, std::size_t max_events) {
  std::size_t n = 0;
  while (n < max_events && events_.Pop(out + n)) ++n;
  return n;
}

std::size_t FrontEnd::PopProbabilities(ChunkProbability *out, std::size_t max_items) {
  std::size_t n = 0;
  while (n < max_items && probs_.Pop(out + n)) ++n;
  return n;
}

FrontEndStats FrontEnd::Stats() const {
  FrontEndStats s;
  s.samples_in = samples_in_.load(std::memory_order_relaxed);
  s.input_overflow = input_.OverflowFrames();
  s.nonfinite_samples = nonfinite_.load(std::memory_order_relaxed);
  s.dc_offset_max = dc_offset_max_.load(std::memory_order_relaxed);
  s.vad_gain_max_db = 20.0 * std::log10(static_cast<double>(vad_gain_max_.load(std::memory_order_relaxed)));
  s.vad_raised_chunks = vad_raised_chunks_.load(std::memory_order_relaxed);
  s.chunks = chunks_.load(std::memory_order_relaxed);
  s.audio_dropped_blocks = audio_.Dropped();
  s.audio_dropped_samples = audio_dropped_samples_.load(std::memory_order_relaxed);
  s.probs_dropped = probs_.Dropped();
  s.events_dropped = events_.Dropped();
  s.events_emitted = events_emitted_.load(std::memory_order_relaxed);
  s.audio_queue_high_water = audio_.HighWater();
  s.prob_queue_high_water = probs_.HighWater();
  s.event_queue_high_water = events_.HighWater();
  s.input_high_water = input_high_water_.load(std::memory_order_relaxed);
  s.busy_seconds = static_cast<double>(busy_ns_.load(std::memory_order_relaxed)) * 1e-9;
  return s;
}

}  // namespace rtvoice
