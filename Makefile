# Netloom's two everyday commands: `make run` and `make test` (plus build and benchmarks).
# Each installs missing Debian packages first, then configures and builds with CMake/Ninja.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test bench bench-train clean

all: build

deps:
	@bash tools/install-deps.sh

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	fi

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Netloom's main job. Until the main window lands it is the headless one: train the shapes
# CNN example with a progress bar (outputs in build/shapes_cnn-run/).
EXAMPLE ?= resources/examples/shapes_cnn.netloom
run: build
	@$(BUILD_DIR)/app/netloom train $(EXAMPLE) --out $(BUILD_DIR)/$(basename $(notdir $(EXAMPLE)))-run

test: build
	@bash tools/install-test-oracles.sh
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash tests/benchmarks/run.sh $(BUILD_DIR)

# Training steps side by side with PyTorch (needs Debian's python3-torch).
bench-train: build
	@bash tests/benchmarks/run_train.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
