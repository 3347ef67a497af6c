#!/usr/bin/env bash
# Takes the screenshots in docs/screenshots/ from a build tree, offscreen (no display needed):
# the main window in light and dark themes, the start page, the canvas alone, and the training
# dashboard during and after a 40-epoch run of the spirals example.
#   bash tools/take-screenshots.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=docs/screenshots
cmake --build "$build" --target netloom_main_window_screenshot netloom_canvas_screenshot netloom_dashboard_screenshot
export QT_QPA_PLATFORM=offscreen
mkdir -p "$out"
"$build"/app/netloom_main_window_screenshot resources/examples/shapes_cnn.netloom "$out"/main-window.png light
"$build"/app/netloom_main_window_screenshot resources/examples/cifar_resnet.netloom "$out"/main-window-dark.png dark
"$build"/app/netloom_main_window_screenshot resources/examples/cifar_resnet.netloom "$out"/blocks.png light
"$build"/app/netloom_main_window_screenshot --start-page "$out"/start-page.png light
"$build"/editor/netloom_canvas_screenshot resources/examples/shapes_cnn.netloom "$out"
"$build"/app/netloom_dashboard_screenshot resources/examples/spirals_mlp.netloom "$out" 40
"$build"/app/netloom_dashboard_screenshot resources/examples/spirals_mlp.netloom "$out" 40 dark
