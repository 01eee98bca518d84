// Duration histogram for audio callbacks: how long each callback took, recorded from inside it.
//
// One thread records (the audio callback), any thread reads. Record() is lock-free and wait-free: a
// relaxed load and store on one bucket counter, the exact maximum and the running sum (single writer, so
// no read-modify-write is needed), no allocation. Buckets are linear, `bucket_us` wide, up to
// `range_ms`; longer durations land in an overflow bucket and still update the exact maximum.
//
// A reader sums the buckets itself, so the count it reports always matches the buckets it read
// (a reading taken while the writer runs may miss the latest durations, never mix them up).
#ifndef RTVOICE_CALLBACK_METER_H_
#define RTVOICE_CALLBACK_METER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rtvoice {

struct CallbackMeterConfig {
  // Bucket width in microseconds (percentiles are exact to this).
  double bucket_us = 1.0;
  // Upper end of the linear buckets in milliseconds; longer durations are counted in one overflow
  // bucket (the maximum stays exact).
  double range_ms = 20.0;

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};

struct CallbackMeterReading {
  std::uint64_t count = 0;       // durations recorded
  std::uint64_t overflow = 0;    // of which longer than range_ms
  std::uint64_t invalid = 0;     // Record() calls with a negative or non-finite duration (not counted)
  std::uint64_t from_entry = 0;  // spans timed from native entry: their start timestamp was on no known clock
  double mean_s = 0.0;
  double p50_s = 0.0;
  double p99_s = 0.0;
  double max_s = 0.0;            // exact
};

// Monotonic and wall-clock readings in seconds (std::chrono::steady_clock and system_clock: on Linux
// CLOCK_MONOTONIC and CLOCK_REALTIME, the clocks of Python's time.monotonic() and time.time()).
double MonotonicSeconds() noexcept;
double WallSeconds() noexcept;

// Which clock a callback's start timestamp (PortAudio's time_info.currentTime) is on, judged from how
// far before `now` it lies: 0 <= now - started < kMaxCallbackSpanS on that clock. CLOCK_REALTIME and
// CLOCK_MONOTONIC are decades apart, so the two can not be confused.
enum class StartClock { kWall, kMonotonic, kEntry };
constexpr double kMaxCallbackSpanS = 10.0;
StartClock ClassifyStart(double started, double wall_now, double monotonic_now) noexcept;

// A callback being timed: where it started and on which clock (see CallbackMeter::Begin).
struct CallbackSpan {
  double begin_s;
  StartClock clock;
};

class CallbackMeter {
 public:
  explicit CallbackMeter(const CallbackMeterConfig &config);
  CallbackMeter(const CallbackMeter &) = delete;
  CallbackMeter &operator=(const CallbackMeter &) = delete;

  // Writer side (one thread). Durations in seconds; negative or non-finite ones are counted as invalid.
  void Record(double seconds) noexcept;

  // Writer side: time a callback's work. `started` is when the callback began according to the audio
  // API (PortAudio's time_info.currentTime: on Linux/ALSA it is CLOCK_REALTIME, elsewhere it may be
  // CLOCK_MONOTONIC); a timestamp on neither clock (0, or unknown epoch) makes the span start now, at
  // native entry, and is counted in `from_entry`. End() records from the span's start to now.
  CallbackSpan Begin(double started) const noexcept;
  void End(const CallbackSpan &span) noexcept;

  // Any thread. While disabled, End() records nothing (a benchmark measures only while the chain runs,
  // not while models load between inputs). Record() always records. Enabled at construction.
  void SetEnabled(bool enabled) noexcept { enabled_.store(enabled, std::memory_order_relaxed); }
  bool Enabled() const noexcept { return enabled_.load(std::memory_order_relaxed); }

  // Any thread. Nearest-rank percentile (q in [0, 1]): the upper edge of the bucket holding the
  // ceil(q * count)-th shortest duration, capped at the exact maximum; the maximum when that duration
  // overflowed the range; 0 when nothing was recorded.
  double Percentile(double q) const noexcept;
  CallbackMeterReading Read() const noexcept;

  std::uint64_t Count() const noexcept;
  double MaxSeconds() const noexcept { return max_ns_.load(std::memory_order_relaxed) * 1e-9; }
  std::size_t Buckets() const noexcept { return buckets_; }
  const CallbackMeterConfig &Config() const noexcept { return config_; }

  // Zeroes everything. Not safe while the writer runs.
  void Reset() noexcept;

 private:
  double PercentileOf(double q, std::uint64_t count) const noexcept;

  CallbackMeterConfig config_;
  double bucket_ns_;
  std::size_t buckets_;  // linear buckets; index buckets_ is the overflow bucket
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  alignas(64) std::atomic<std::uint64_t> max_ns_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> invalid_{0};
  std::atomic<std::uint64_t> from_entry_{0};
  std::atomic<bool> enabled_{true};
};

}  // namespace rtvoice

#endif  // RTVOICE_CALLBACK_METER_H_
