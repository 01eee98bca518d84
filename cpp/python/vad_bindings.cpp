#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "rtvoice/lstm.h"
#include "rtvoice/silero_vad.h"

namespace rtvoice_py {

namespace {
using rtvoice::SileroVad;
using rtvoice::SileroVadModel;
using rtvoice::SileroVadWeights;

// ONNX initializer name -> expected shape.
struct WeightSpec {
  const char *name;
  std::vector<py::ssize_t> shape;
};

const std::vector<WeightSpec> &Specs() {
  static const std::vector<WeightSpec> specs = {
      {"model.stft.forward_basis_buffer", {258, 1, 256}},
      {"model.encoder.0.reparam_conv.weight", {128, 129, 3}},
      {"model.encoder.0.reparam_conv.bias", {128}},
      {"model.encoder.1.reparam_conv.weight", {64, 128, 3}},
      {"model.encoder.1.reparam_conv.bias", {64}},
      {"model.encoder.2.reparam_conv.weight", {64, 64, 3}},
      {"model.encoder.2.reparam_conv.bias", {64}},
      {"model.encoder.3.reparam_conv.weight", {128, 64, 3}},
      {"model.encoder.3.reparam_conv.bias", {128}},
      {"model.decoder.rnn.weight_ih", {512, 128}},
      {"model.decoder.rnn.weight_hh", {512, 128}},
      {"model.decoder.rnn.bias_ih", {512}},
      {"model.decoder.rnn.bias_hh", {512}},
      {"model.decoder.decoder.2.weight", {1, 128, 1}},
      {"model.decoder.decoder.2.bias", {1}},
  };
  return specs;
}

std::string ShapeString(const std::vector<py::ssize_t> &shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::vector<float> TakeWeight(const py::dict &tensors, const WeightSpec &spec) {
  if (!tensors.contains(spec.name)) throw py::value_error(std::string("Silero VAD weights lack ") + spec.name);
  py::array a = py::array::ensure(tensors[spec.name]);
  if (!a || a.dtype().kind() != 'f')
    throw py::value_error(std::string("Silero VAD weight ") + spec.name + " must be a float array");
  std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
  if (shape != spec.shape)
    throw py::value_error(std::string("Silero VAD weight ") + spec.name + " must have shape " + ShapeString(spec.shape) +
                          ", got " + ShapeString(shape));
  auto f = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  return std::vector<float>(f.data(), f.data() + f.size());
}

// The chunk as float32, or a ValueError naming what is wrong (length, dtype, NaN/Inf).
py::array_t<float, py::array::c_style> CheckedSamples(const py::handle &obj, const char *what) {
  py::array a = py::array::ensure(obj);
  if (!a) throw py::value_error(std::string(what) + " must be an array of float samples");
  const char kind = a.dtype().kind();
  if (kind == 'i' || kind == 'u')
    throw py::value_error(std::string(what) + " must hold float samples in [-1, 1], got integer dtype " +
                          std::string(py::str(a.dtype())) + " (divide int16 PCM by 32768)");
  if (kind != 'f')
    throw py::value_error(std::string(what) + " must hold float samples, got dtype " + std::string(py::str(a.dtype())));
  return AsMonoFloat32(a, what, /*check_finite=*/true);
}

struct PyVad {
  std::unique_ptr<SileroVad> vad;
};
}  // namespace

void BindVad(py::module_ &m) {
  m.def("dense_kernel_isa", &rtvoice::DenseKernelIsa,
        "Instruction set of the LSTM/VAD kernels on this CPU: 'avx+fma' or 'baseline' (RTVOICE_KERNELS=baseline forces it).");

  py::class_<SileroVadModel, std::shared_ptr<SileroVadModel>>(m, "SileroVadModel", R"doc(
Silero VAD 16 kHz network weights, repacked for the native forward pass. Immutable; share it.

Args:
    tensors: dict of the ONNX initializers of silero_vad_16k_op15.onnx (name -> float array), e.g.
        {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}. Shapes are checked, and
        the STFT basis must be a periodic-Hann 256-point DFT.
)doc")
      .def(py::init([](const py::dict &tensors) {
             const auto &specs = Specs();
             SileroVadWeights w;
             w.stft_basis = TakeWeight(tensors, specs[0]);
             for (int i = 0; i < 4; ++i) {
               w.conv_weight[i] = TakeWeight(tensors, specs[1 + 2 * i]);
               w.conv_bias[i] = TakeWeight(tensors, specs[2 + 2 * i]);
             }
             w.lstm_weight_ih = TakeWeight(tensors, specs[9]);
             w.lstm_weight_hh = TakeWeight(tensors, specs[10]);
             w.lstm_bias_ih = TakeWeight(tensors, specs[11]);
             w.lstm_bias_hh = TakeWeight(tensors, specs[12]);
             w.out_weight = TakeWeight(tensors, specs[13]);
             w.out_bias = TakeWeight(tensors, specs[14]);
             return std::make_shared<SileroVadModel>(w);
           }),
           py::arg("tensors"))
      .def_property_readonly_static("weight_names", [](const py::object &) {
        py::list names;
        for (const auto &spec : Specs()) names.append(spec.name);
        return names;
      }, "Names of the ONNX initializers the model reads.");

  py::class_<PyVad>(m, "SileroVad", R"doc(
One stream of the native Silero VAD (16 kHz): speech probability per 512-sample (32 ms) chunk.

The stream keeps the previous chunk's last 64 samples as context and the LSTM state (h, c) from chunk
to chunk, like the silero package's ONNX wrapper.

Args:
    model: a SileroVadModel (shared between streams).
)doc")
      .def(py::init([](std::shared_ptr<SileroVadModel> model) {
             auto out = new PyVad;
             out->vad = std::make_unique<SileroVad>(std::move(model));
             return out;
           }),
           py::arg("model"))
      .def_property_readonly_static("chunk_samples", [](const py::object &) { return SileroVad::kChunkSamples; },
                                    "Samples per chunk (512 = 32 ms at 16 kHz).")
      .def_property_readonly_static("sample_rate", [](const py::object &) { return SileroVadModel::kSampleRate; },
                                    "Sample rate in Hz (16000).")
      .def(
          "prob",
          [](PyVad &self, const py::handle &chunk) {
            auto samples = CheckedSamples(chunk, "chunk");
            if (samples.size() != static_cast<py::ssize_t>(SileroVad::kChunkSamples))
              throw py::value_error("chunk must have exactly 512 samples (32 ms at 16 kHz), got " +
                                    std::to_string(samples.size()));
            return self.vad->Prob(samples.data());
          },
          py::arg("chunk"),
          "Speech probability (0..1) of the next 512 float samples at 16 kHz; keeps context and LSTM state.")
      .def(
          "process",
          [](PyVad &self, const py::handle &audio) {
            auto samples = CheckedSamples(audio, "audio");
            const std::size_t n = static_cast<std::size_t>(samples.size());
            const std::size_t chunk = SileroVad::kChunkSamples;
            const std::size_t chunks = (n + chunk - 1) / chunk;
            py::array_t<float> out(static_cast<py::ssize_t>(chunks));
            float *probs = out.mutable_data();
            const float *p = samples.data();
            {
              py::gil_scoped_release release;
              std::vector<float> tail(chunk, 0.0f);
              for (std::size_t i = 0; i < chunks; ++i) {
                const std::size_t start = i * chunk;
                if (start + chunk <= n) {
                  probs[i] = self.vad->Prob(p + start);
                } else {
                  std::copy(p + start, p + n, tail.begin());
                  probs[i] = self.vad->Prob(tail.data());
                }
              }
            }
            return out;
          },
          py::arg("audio"),
          "Probabilities of consecutive 512-sample chunks of `audio` (16 kHz float), continuing the stream. A "
          "trailing partial chunk is zero-padded (so feed multiples of 512 to continue a stream exactly).")
      .def("reset", [](PyVad &self) { self.vad->Reset(); }, "Start a new stream: zero context and LSTM state.")
      .def_property_readonly("chunks_processed", [](const PyVad &self) { return self.vad->ChunksProcessed(); },
                             "Chunks seen since creation or reset().")
      .def_property_readonly(
          "state",
          [](const PyVad &self) {
            py::array_t<float> s(std::vector<py::ssize_t>{2, static_cast<py::ssize_t>(SileroVadModel::kHidden)});
            std::memcpy(s.mutable_data(), self.vad->H(), SileroVadModel::kHidden * sizeof(float));
            std::memcpy(s.mutable_data() + SileroVadModel::kHidden, self.vad->C(), SileroVadModel::kHidden * sizeof(float));
            return s;
          },
          "LSTM state as a (2, 128) copy: row 0 = h, row 1 = c (the ONNX model's `state`, batch squeezed).");
}

}  // namespace rtvoice_py
