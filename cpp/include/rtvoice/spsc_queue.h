// Bounded single-producer single-consumer lock-free queue of trivially copyable items.
//
// One thread pushes, one thread pops; neither blocks, locks or allocates after construction. A push
// into a full queue is refused and counted in Dropped() (never silent); HighWater() records the largest
// occupancy the producer has seen. Positions are 64-bit counters published with release stores and
// observed with acquire loads, as in RingBuffer.
#ifndef RTVOICE_SPSC_QUEUE_H_
#define RTVOICE_SPSC_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace rtvoice {

template <typename T>
class SpscQueue {
  static_assert(std::is_trivially_copyable<T>::value, "SpscQueue holds trivially copyable items");

 public:
  // capacity: items, rounded up to a power of two (1 .. 2^24).
  explicit SpscQueue(std::size_t capacity) {
    if (capacity == 0 || capacity > (std::size_t{1} << 24))
      throw std::invalid_argument("SpscQueue capacity must be in [1, 2^24], got " + std::to_string(capacity));
    capacity_ = 1;
    while (capacity_ < capacity) capacity_ <<= 1;
    mask_ = capacity_ - 1;
    slots_.reset(new T[capacity_]());
  }
  SpscQueue(const SpscQueue &) = delete;
  SpscQueue &operator=(const SpscQueue &) = delete;

  // Producer. False (and one more Dropped()) when full.
  bool Push(const T &item) noexcept {
    const std::uint64_t w = write_.load(std::memory_order_relaxed);
    const std::uint64_t r = read_.load(std::memory_order_acquire);
    if (w - r >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    slots_[static_cast<std::size_t>(w) & mask_] = item;
    write_.store(w + 1, std::memory_order_release);
    const std::uint64_t size = w + 1 - r;
    if (size > high_water_.load(std::memory_order_relaxed)) high_water_.store(size, std::memory_order_relaxed);
    return true;
  }

  // Consumer. The oldest item, or null when empty; valid until PopFront().
  const T *Front() const noexcept {
    const std::uint64_t r = read_.load(std::memory_order_relaxed);
    if (write_.load(std::memory_order_acquire) == r) return nullptr;
    return &slots_[static_cast<std::size_t>(r) & mask_];
  }
  // Consumer. Discards the oldest item (call only after Front() returned one).
  void PopFront() noexcept { read_.store(read_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Consumer. Copies the oldest item into out; false when empty.
  bool Pop(T *out) noexcept {
    const T *front = Front();
    if (!front) return false;
    *out = *front;
    PopFront();
    return true;
  }

  std::size_t Size() const noexcept {
    const std::uint64_t w = write_.load(std::memory_order_acquire);
    const std::uint64_t r = read_.load(std::memory_order_acquire);
    return static_cast<std::size_t>(w - r);
  }
  bool Empty() const noexcept { return Size() == 0; }
  std::size_t Capacity() const noexcept { return capacity_; }
  std::uint64_t Pushed() const noexcept { return write_.load(std::memory_order_acquire); }
  std::uint64_t Dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t HighWater() const noexcept { return high_water_.load(std::memory_order_relaxed); }

 private:
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  std::unique_ptr<T[]> slots_;
  alignas(64) std::atomic<std::uint64_t> write_{0};
  alignas(64) std::atomic<std::uint64_t> read_{0};
  alignas(64) std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> high_water_{0};
};

}  // namespace rtvoice

#endif  // RTVOICE_SPSC_QUEUE_H_
