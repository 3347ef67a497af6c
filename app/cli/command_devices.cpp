// `netloom devices`: the devices training can run on here, as --device takes them, with what
// each is; without a GPU, why none answered (no driver, no CUDA build …).
#include <cstdio>

#include "app/cli/cli.h"
#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "engine/run/training_run.h"

namespace nl::app {

namespace {

int devices(const Arguments& args) {
  if (!args.positionals().empty()) throw Error("takes no arguments (netloom devices)");
  const std::vector<std::string> found = run::available_devices();
  for (const std::string& d : found)
    std::printf("%-8s %s\n", d.c_str(), backend_for(run::device_from_setting(d)).description().c_str());
  if (found.size() == 1) std::printf("no GPU: %s\n", device_unavailable_reason(Device::cuda(0)).c_str());
  return 0;
}

}  // namespace

Command devices_command() {
  return {"devices", "", "List the devices training can run on (--device cpu, cuda:N) and what each is.", {}, devices};
}

}  // namespace nl::app
