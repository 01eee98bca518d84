#include <cstring>
#include <memory>
#include <string>

#include "bindings.h"
#include "rtvoice/lstm.h"

namespace rtvoice_py {

namespace {
using rtvoice::LstmCell;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

FloatArray AsMatrix(const py::handle &obj, const char *what, py::ssize_t rows, py::ssize_t cols) {
  FloatArray a = FloatArray::ensure(obj);
  if (!a) throw py::value_error(std::string(what) + " must be a float array");
  const bool ok = (cols < 0) ? (a.ndim() == 1 && a.shape(0) == rows) : (a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols);
  if (!ok) {
    throw py::value_error(std::string(what) + " must have shape (" + std::to_string(rows) +
                          (cols < 0 ? ",)" : ", " + std::to_string(cols) + ")") + ", got " +
                          std::string(py::str(py::tuple(a.attr("shape")))));
  }
  return a;
}

// An owned LSTM cell plus the sizes the bindings check against.
struct PyLstmCell {
  std::unique_ptr<LstmCell> cell;
};

FloatArray StateOrZeros(const py::object &obj, const char *what, std::size_t hidden) {
  if (obj.is_none()) {
    FloatArray z(static_cast<py::ssize_t>(hidden));
    std::memset(z.mutable_data(), 0, hidden * sizeof(float));
    return z;
  }
  FloatArray a = AsMatrix(obj, what, static_cast<py::ssize_t>(hidden), -1);
  FloatArray copy(static_cast<py::ssize_t>(hidden));
  std::memcpy(copy.mutable_data(), a.data(), hidden * sizeof(float));
  return copy;
}
}  // namespace

void BindLstm(py::module_ &m) {
  py::class_<PyLstmCell>(m, "LstmCell", R"doc(
LSTM cell with explicit (h, c) state, PyTorch semantics and layout (gate order i, f, g, o).

Args:
    weight_ih: (4H, I) float array.
    weight_hh: (4H, H) float array.
    bias_ih, bias_hh: (4H,) float arrays, or None for zeros.

The weights are copied once; the cell holds no state, so one cell may serve several streams.
)doc")
      .def(py::init([](const py::handle &weight_ih, const py::handle &weight_hh, const py::object &bias_ih,
                       const py::object &bias_hh) {
             FloatArray wih = FloatArray::ensure(weight_ih);
             FloatArray whh = FloatArray::ensure(weight_hh);
             if (!wih || wih.ndim() != 2) throw py::value_error("weight_ih must be a 2-D float array (4H, I)");
             if (!whh || whh.ndim() != 2) throw py::value_error("weight_hh must be a 2-D float array (4H, H)");
             const py::ssize_t gates = wih.shape(0);
             if (gates == 0 || gates % 4 != 0)
               throw py::value_error("weight_ih must have 4H rows, got " + std::to_string(gates));
             const py::ssize_t hidden = gates / 4, input = wih.shape(1);
             whh = AsMatrix(whh, "weight_hh", gates, hidden);
             FloatArray bih, bhh;
             if (!bias_ih.is_none()) bih = AsMatrix(bias_ih, "bias_ih", gates, -1);
             if (!bias_hh.is_none()) bhh = AsMatrix(bias_hh, "bias_hh", gates, -1);
             rtvoice::LstmConfig config;
             config.input_size = static_cast<std::size_t>(input);
             config.hidden_size = static_cast<std::size_t>(hidden);
             auto out = new PyLstmCell;
             out->cell = std::make_unique<LstmCell>(config, wih.data(), whh.data(),
                                                    bias_ih.is_none() ? nullptr : bih.data(),
                                                    bias_hh.is_none() ? nullptr : bhh.data());
             return out;
           }),
           py::arg("weight_ih"), py::arg("weight_hh"), py::arg("bias_ih") = py::none(),
           py::arg("bias_hh") = py::none())
      .def_property_readonly("input_size", [](const PyLstmCell &s) { return s.cell->InputSize(); })
      .def_property_readonly("hidden_size", [](const PyLstmCell &s) { return s.cell->HiddenSize(); })
      .def(
          "step",
          [](const PyLstmCell &s, const py::handle &x, const py::object &h, const py::object &c) {
            const LstmCell &cell = *s.cell;
            FloatArray xa = AsMatrix(x, "x", static_cast<py::ssize_t>(cell.InputSize()), -1);
            FloatArray h2 = StateOrZeros(h, "h", cell.HiddenSize());
            FloatArray c2 = StateOrZeros(c, "c", cell.HiddenSize());
            std::vector<float> workspace(cell.WorkspaceSize());
            cell.Step(xa.data(), h2.mutable_data(), c2.mutable_data(), workspace.data());
            return py::make_tuple(h2, c2);
          },
          py::arg("x"), py::arg("h") = py::none(), py::arg("c") = py::none(),
          "One time step: x (I,), h and c (H,) or None for zeros. Returns the new (h, c); inputs are not modified.")
      .def(
          "run",
          [](const PyLstmCell &s, const py::handle &xs, const py::object &h, const py::object &c) {
            const LstmCell &cell = *s.cell;
            FloatArray xa = FloatArray::ensure(xs);
            if (!xa || xa.ndim() != 2 || xa.shape(1) != static_cast<py::ssize_t>(cell.InputSize()))
              throw py::value_error("xs must be a float array of shape (steps, " + std::to_string(cell.InputSize()) + ")");
            const py::ssize_t steps = xa.shape(0);
            FloatArray h2 = StateOrZeros(h, "h", cell.HiddenSize());
            FloatArray c2 = StateOrZeros(c, "c", cell.HiddenSize());
            FloatArray out({steps, static_cast<py::ssize_t>(cell.HiddenSize())});
            std::vector<float> workspace(cell.WorkspaceSize());
            {
              py::gil_scoped_release release;
              cell.Run(xa.data(), static_cast<std::size_t>(steps), h2.mutable_data(), c2.mutable_data(),
                       out.mutable_data(), workspace.data());
            }
            return py::make_tuple(out, h2, c2);
          },
          py::arg("xs"), py::arg("h") = py::none(), py::arg("c") = py::none(),
          "Run over a sequence xs (steps, I) from state (h, c) (None: zeros). Returns (hs (steps, H), h, c).");
}

}  // namespace rtvoice_py
