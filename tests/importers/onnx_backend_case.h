// The tensors of one ONNX backend test case (../shared/onnx-backend-tests/node/<case>/
// test_data_set_0: input_<i>.pb, output_<i>.pb), read for the importer's tests and for the
// same cases run on a device (tests/emulated_device/test_onnx_on_device.cpp).
#pragma once
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "importers/onnx/onnx_import.h"

namespace onnx_testing {

struct BackendCaseData {
  std::map<std::string, nl::Tensor> inputs, outputs;  // by graph input/output name
  std::vector<std::string> input_order;               // the inputs' names, as numbered
};

// Reads every input_<i>.pb and output_<i>.pb of `data` for model `m` (a file without a name
// takes the graph's i-th name; its declared element type guides narrow types). Throws
// nl::Error naming the file when one cannot be read.
inline BackendCaseData read_backend_case(const onnx::ModelProto& m, const std::filesystem::path& data) {
  BackendCaseData c;
  auto read = [&](const char* prefix, const auto& declared, std::map<std::string, nl::Tensor>& into,
                  std::vector<std::string>* order) {
    for (int i = 0; std::filesystem::exists(data / (prefix + std::to_string(i) + ".pb")); ++i) {
      std::string name;
      const int32_t type = i < declared.size() ? declared.Get(i).type().tensor_type().elem_type() : 0;
      nl::Tensor t = nl::importers::read_onnx_tensor_file((data / (prefix + std::to_string(i) + ".pb")).string(),
                                                          &name, type);
      if (name.empty() && i < declared.size()) name = declared.Get(i).name();
      into[name] = t;
      if (order) order->push_back(name);
    }
  };
  read("input_", m.graph().input(), c.inputs, &c.input_order);
  read("output_", m.graph().output(), c.outputs, nullptr);
  return c;
}

}  // namespace onnx_testing
