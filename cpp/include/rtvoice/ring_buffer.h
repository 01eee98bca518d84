// Single-producer single-consumer lock-free ring buffer of float32 audio frames.
//
// One thread writes (an audio callback or a reader), one thread reads (a worker). Neither call blocks,
// locks or allocates: storage is allocated once at construction. Positions are monotonically increasing
// 64-bit frame counters published with release stores and observed with acquire loads, so the consumer
// never sees a frame before its samples are written.
#ifndef RTVOICE_RING_BUFFER_H_
#define RTVOICE_RING_BUFFER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rtvoice {

struct RingBufferConfig {
  // Requested capacity in frames; rounded up to the next power of two.
  std::size_t capacity_frames = 16384;
  // Samples per frame (interleaved).
  std::size_t channels = 1;

  void Validate() const;  // throws std::invalid_argument
  std::string ToString() const;
};

class RingBuffer {
 public:
  explicit RingBuffer(const RingBufferConfig &config);
  RingBuffer(const RingBuffer &) = delete;
  RingBuffer &operator=(const RingBuffer &) = delete;

  // Producer side. Copies up to `frames` interleaved frames; returns how many fit. The rest are
  // counted in OverflowFrames() (never silently lost).
  std::size_t Write(const float *data, std::size_t frames) noexcept;

  // Consumer side. Copies up to `frames` frames into `out`; returns how many were available.
  // A read that returns fewer frames than asked for counts one underflow.
  std::size_t Read(float *out, std::size_t frames) noexcept;

  // Consumer side. Like Read, but fills the rest of `out` with zeros (playback callbacks).
  std::size_t ReadOrSilence(float *out, std::size_t frames) noexcept;

  // Consumer side. Drops every frame ready to read, without copying (a playback callback flushing the
  // queue on barge-in); returns how many were dropped. Not an underflow.
  std::size_t Discard() noexcept;

  // Frames ready to read (consumer view) and free space (producer view).
  std::size_t Available() const noexcept;
  std::size_t Space() const noexcept;

  std::size_t Capacity() const noexcept { return capacity_; }
  std::size_t Channels() const noexcept { return channels_; }
  std::uint64_t OverflowFrames() const noexcept { return overflow_frames_.load(std::memory_order_relaxed); }
  std::uint64_t UnderflowReads() const noexcept { return underflow_reads_.load(std::memory_order_relaxed); }
  std::uint64_t FramesWritten() const noexcept { return write_pos_.load(std::memory_order_acquire); }
  std::uint64_t FramesRead() const noexcept { return read_pos_.load(std::memory_order_acquire); }

  // Empties the buffer and zeroes the counters. Not safe while either side is running.
  void Reset() noexcept;

 private:
  std::size_t capacity_;
  std::size_t mask_;
  std::size_t channels_;
  std::unique_ptr<float[]> storage_;

  // Separate cache lines so producer and consumer do not false-share.
  alignas(64) std::atomic<std::uint64_t> write_pos_{0};
  alignas(64) std::atomic<std::uint64_t> read_pos_{0};
  alignas(64) std::atomic<std::uint64_t> overflow_frames_{0};
  alignas(64) std::atomic<std::uint64_t> underflow_reads_{0};
};

}  // namespace rtvoice

#endif  // RTVOICE_RING_BUFFER_H_
