#include "bindings.h"
#include "rtvoice/dc_blocker.h"

namespace rtvoice_py {

void BindDcBlocker(py::module_ &m) {
  using rtvoice::DcBlocker;
  using rtvoice::DcBlockerConfig;
  py::class_<DcBlockerConfig>(m, "DcBlockerConfig", "DC blocker settings (see rtvoice/dc_blocker.h).")
      .def(py::init<>())
      .def_readwrite("sample_rate", &DcBlockerConfig::sample_rate, "Hz")
      .def_readwrite("cutoff_hz", &DcBlockerConfig::cutoff_hz, "-3 dB corner (Hz), in (0, sample_rate / 100]")
      .def("validate", &DcBlockerConfig::Validate)
      .def("__repr__", &DcBlockerConfig::ToString);

  py::class_<DcBlocker>(m, "DcBlocker", R"doc(
One-pole DC-blocking high-pass, y[n] = x[n] - x[n-1] + R y[n-1], R = 1 - 2 pi cutoff_hz / sample_rate.
Streaming: ``process(chunk)`` returns as many samples, the same whatever the chunking.

Args:
    sample_rate: Hz.
    cutoff_hz: -3 dB corner (Hz), in (0, sample_rate / 100].
)doc")
      .def(py::init([](int sample_rate, double cutoff_hz) {
             DcBlockerConfig c;
             c.sample_rate = sample_rate;
             c.cutoff_hz = cutoff_hz;
             return new DcBlocker(c);
           }),
           py::arg("sample_rate") = 16000, py::arg("cutoff_hz") = DcBlockerConfig().cutoff_hz)
      .def(
          "process",
          [](DcBlocker &self, const py::handle &chunk) {
            auto samples = AsMonoFloat32(chunk, "chunk");
            py::array_t<float> out(samples.size());
            self.Process(samples.data(), static_cast<std::size_t>(samples.size()), out.mutable_data());
            return out;
          },
          py::arg("chunk"), "Filter finite float samples; returns a float32 array of the same length.")
      .def("reset", &DcBlocker::Reset, "Back to the initial state (a new stream).")
      .def_property_readonly("coefficient", &DcBlocker::Coefficient, "R, the pole")
      .def_property_readonly("config", &DcBlocker::Config);
}

}  // namespace rtvoice_py
