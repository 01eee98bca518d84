#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "bindings.h"
#include "rtvoice/ring_buffer.h"

namespace rtvoice_py {

namespace {
using rtvoice::RingBuffer;

// Copies above this many samples release the GIL; below it, the release costs more than the copy.
constexpr py::ssize_t kReleaseGilSamples = 4096;

std::size_t ParseCapacity(const py::handle &capacity) {
  if (py::isinstance<py::bool_>(capacity) || !(py::isinstance<py::int_>(capacity) || py::hasattr(capacity, "__index__"))) {
    if (py::isinstance<py::float_>(capacity)) {
      const double v = capacity.cast<double>();
      if (!std::isfinite(v)) throw py::value_error("capacity_frames must be a finite whole number of frames");
      throw py::type_error("capacity_frames must be an int (frames), got float " + std::to_string(v));
    }
    throw py::type_error("capacity_frames must be an int (frames)");
  }
  const long long v = py::reinterpret_borrow<py::object>(capacity).attr("__index__")().cast<long long>();
  if (v <= 0) throw py::value_error("capacity_frames must be > 0, got " + std::to_string(v));
  return static_cast<std::size_t>(v);
}

// Checks that `arr` is float32 frames of the buffer's channel count; returns the number of frames.
py::ssize_t CheckFrames(const RingBuffer &rb, const py::array &arr, const char *what) {
  if (!py::isinstance<py::array_t<float>>(arr) || arr.dtype().kind() != 'f' || arr.itemsize() != 4)
    throw py::type_error(std::string(what) + " must be a float32 array, got dtype " + std::string(py::str(arr.dtype())));
  const auto channels = static_cast<py::ssize_t>(rb.Channels());
  if (arr.ndim() == 1) {
    if (channels != 1)
      throw py::value_error(std::string(what) + " is 1-D but the buffer has " + std::to_string(channels) +
                            " channels: pass shape (frames, channels)");
    return arr.shape(0);
  }
  if (arr.ndim() == 2 && arr.shape(1) == channels) return arr.shape(0);
  throw py::value_error(std::string(what) + " must have shape (frames,) or (frames, " + std::to_string(channels) +
                        "), got " + std::string(py::str(py::tuple(arr.attr("shape")))));
}

py::array MakeFrames(const RingBuffer &rb, py::ssize_t frames) {
  if (rb.Channels() == 1) return py::array_t<float>(frames);
  return py::array_t<float>({frames, static_cast<py::ssize_t>(rb.Channels())});
}
}  // namespace

void BindRingBuffer(py::module_ &m) {
  py::class_<RingBuffer>(m, "RingBuffer", R"doc(
Single-producer single-consumer lock-free ring buffer of float32 audio frames.

One thread writes (for example an audio callback), one thread reads. ``write`` and ``read`` never
block and never allocate inside the native call; what does not fit is counted in ``overflow_frames``.

Args:
    capacity_frames: capacity in frames (rounded up to a power of two).
    channels: samples per frame.
)doc")
      .def(py::init([](const py::handle &capacity_frames, const py::handle &channels) {
             if (!py::isinstance<py::int_>(channels) || py::isinstance<py::bool_>(channels))
               throw py::type_error("channels must be an int");
             const long long c = channels.cast<long long>();
             if (c <= 0) throw py::value_error("channels must be >= 1, got " + std::to_string(c));
             rtvoice::RingBufferConfig config;
             config.capacity_frames = ParseCapacity(capacity_frames);
             config.channels = static_cast<std::size_t>(c);
             return new RingBuffer(config);
           }),
           py::arg("capacity_frames"), py::arg("channels") = 1)
      .def(
          "write",
          [](RingBuffer &rb, const py::array &data) {
            const py::ssize_t frames = CheckFrames(rb, data, "data");
            auto contiguous = py::array_t<float, py::array::c_style>::ensure(data);
            const float *p = contiguous.data();
            if (frames * static_cast<py::ssize_t>(rb.Channels()) >= kReleaseGilSamples) {
              py::gil_scoped_release release;
              return rb.Write(p, static_cast<std::size_t>(frames));
            }
            return rb.Write(p, static_cast<std::size_t>(frames));
          },
          py::arg("data"),
          "Write float32 frames, shape (n,) or (n, channels). Returns frames written; the rest are counted "
          "in overflow_frames. Never blocks.")
      .def(
          "read",
          [](RingBuffer &rb, const py::handle &n_obj) {
            if (!py::isinstance<py::int_>(n_obj)) throw py::type_error("n must be an int (frames)");
            const long long n = n_obj.cast<long long>();
            if (n < 0) throw py::value_error("n must be >= 0 frames");
            // More than the capacity can never be ready at once; asking for it is asking for everything.
            const auto frames = static_cast<py::ssize_t>(std::min<unsigned long long>(n, rb.Capacity()));
            py::array out = MakeFrames(rb, frames);
            float *p = static_cast<float *>(out.mutable_data());
            std::size_t got;
            if (frames * static_cast<py::ssize_t>(rb.Channels()) >= kReleaseGilSamples) {
              py::gil_scoped_release release;
              got = rb.Read(p, static_cast<std::size_t>(frames));
            } else {
              got = rb.Read(p, static_cast<std::size_t>(frames));
            }
            if (static_cast<py::ssize_t>(got) < frames) {
              out = py::array(out[py::slice(0, static_cast<py::ssize_t>(got), 1)]);
            }
            return out;
          },
          py::arg("n"), "Read up to n frames; returns an array of shape (k,) or (k, channels), k <= n.")
      .def(
          "read_into",
          [](RingBuffer &rb, py::array &out) {
            const py::ssize_t frames = CheckFrames(rb, out, "out");
            if (!(out.flags() & py::array::c_style) || !out.writeable())
              throw py::value_error("out must be a writeable C-contiguous float32 array");
            float *p = static_cast<float *>(out.mutable_data());
            if (frames * static_cast<py::ssize_t>(rb.Channels()) >= kReleaseGilSamples) {
              py::gil_scoped_release release;
              return rb.Read(p, static_cast<std::size_t>(frames));
            }
            return rb.Read(p, static_cast<std::size_t>(frames));
          },
          py::arg("out"), "Read into `out` (frames,) or (frames, channels); returns frames read.")
      .def(
          "read_or_silence_into",
          [](RingBuffer &rb, py::array &out) {
            const py::ssize_t frames = CheckFrames(rb, out, "out");
            if (!(out.flags() & py::array::c_style) || !out.writeable())
              throw py::value_error("out must be a writeable C-contiguous float32 array");
            return rb.ReadOrSilence(static_cast<float *>(out.mutable_data()), static_cast<std::size_t>(frames));
          },
          py::arg("out"),
          "Playback form of read_into: fills what is missing with zeros (counted as an underflow). Returns "
          "frames of real audio read.")
      .def("discard", &RingBuffer::Discard,
           "Consumer side: drop every frame ready to read, without copying; returns how many (not an underflow).")
      .def_property_readonly("available", &RingBuffer::Available, "Frames ready to read.")
      .def_property_readonly("space", &RingBuffer::Space, "Frames that can be written without overflow.")
      .def_property_readonly("capacity", &RingBuffer::Capacity, "Capacity in frames (a power of two).")
      .def_property_readonly("channels", &RingBuffer::Channels, "Samples per frame.")
      .def_property_readonly("overflow_frames", &RingBuffer::OverflowFrames, "Frames refused by write() so far.")
      .def_property_readonly("underflow_reads", &RingBuffer::UnderflowReads,
                             "Reads that returned fewer frames than asked for.")
      .def_property_readonly("frames_written", &RingBuffer::FramesWritten, "Frames accepted since creation/reset.")
      .def_property_readonly("frames_read", &RingBuffer::FramesRead, "Frames read since creation/reset.")
      .def("reset", &RingBuffer::Reset,
           "Empty the buffer and zero the counters. NOT safe while a producer or consumer is running.")
      .def("__repr__", [](const RingBuffer &rb) {
        return "RingBuffer(capacity=" + std::to_string(rb.Capacity()) + ", channels=" + std::to_string(rb.Channels()) +
               ", available=" + std::to_string(rb.Available()) + ")";
      });
}

}  // namespace rtvoice_py
