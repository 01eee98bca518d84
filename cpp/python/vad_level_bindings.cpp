#include <algorithm>
#include <vector>

#include "bindings.h"
#include "rtvoice/vad_level.h"

namespace rtvoice_py {

void BindVadLevel(py::module_ &m) {
  using rtvoice::VadLevel;
  using rtvoice::VadLevelConfig;
  py::class_<VadLevelConfig>(m, "VadLevelConfig", "Level normalisation of the VAD's input (see rtvoice/vad_level.h).")
      .def(py::init<>())
      .def_readwrite("enabled", &VadLevelConfig::enabled, "False: gain 1 always")
      .def_readwrite("target_peak", &VadLevelConfig::target_peak, "peak a quiet input is raised to (linear, (0, 1])")
      .def_readwrite("max_gain_db", &VadLevelConfig::max_gain_db, "largest gain (dB, [0, 60])")
      .def_readwrite("window_s", &VadLevelConfig::window_s, "peak window (s): how long a loud peak holds the gain down")
      .def_readwrite("floor", &VadLevelConfig::floor, "no gain while the window's peak is below this (linear)")
      .def_readwrite("max_noise_rms", &VadLevelConfig::max_noise_rms,
                     "the noise floor (quietest chunk RMS in the window) is raised to at most this (linear)")
      .def_readwrite("sample_rate", &VadLevelConfig::sample_rate, "Hz")
      .def_readwrite("chunk_samples", &VadLevelConfig::chunk_samples, "samples a chunk (the VAD's 512)")
      .def("validate", &VadLevelConfig::Validate)
      .def("__repr__", &VadLevelConfig::ToString);

  py::class_<VadLevel>(m, "VadLevel", R"doc(
The VAD's level stage: each chunk scaled by target_peak / (peak over the last window_s), at most
max_noise_rms / (quietest chunk RMS over the window, digital silence left out), within [1, max_gain]; no
gain while the window's peak is under floor. ``process(audio)`` works chunk by chunk (chunk_samples; a
trailing partial chunk zero-padded, as the front end does) and returns (scaled float32 audio, gain per
chunk).
)doc")
      .def(py::init<const VadLevelConfig &>(), py::arg("config") = VadLevelConfig())
      .def(
          "process",
          [](VadLevel &self, const py::handle &audio) {
            auto samples = AsMonoFloat32(audio, "audio");
            const std::size_t n = static_cast<std::size_t>(samples.size());
            const std::size_t chunk = self.Config().chunk_samples;
            py::array_t<float> out(static_cast<py::ssize_t>(n));
            py::array_t<float> gains(static_cast<py::ssize_t>((n + chunk - 1) / chunk));
            float *o = out.mutable_data();
            float *g = gains.mutable_data();
            std::vector<float> last(chunk, 0.0f);
            for (std::size_t i = 0, k = 0; i < n; i += chunk, ++k) {
              if (n - i >= chunk) {
                g[k] = self.Apply(samples.data() + i, chunk, o + i);
              } else {  // the front end zero-pads a stream's last partial chunk: so is it measured here
                std::copy(samples.data() + i, samples.data() + n, last.begin());
                g[k] = self.Apply(last.data(), chunk, last.data());
                std::copy(last.begin(), last.begin() + static_cast<std::ptrdiff_t>(n - i), o + i);
              }
            }
            return py::make_tuple(out, gains);
          },
          py::arg("audio"), "Finite float samples -> (scaled float32 samples, float32 gain per chunk).")
      .def("reset", &VadLevel::Reset, "A new stream: an empty window.")
      .def_property_readonly("max_gain", &VadLevel::MaxGain, "largest gain (linear)")
      .def_property_readonly("config", &VadLevel::Config);
}

}  // namespace rtvoice_py
