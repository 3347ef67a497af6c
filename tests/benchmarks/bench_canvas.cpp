// The editor on a big graph (issue: a 2,000-node graph opens and pans smoothly): time to open
// a residual CNN of ~2,000 nodes into a document and canvas, to lay it out with graphviz and
// apply the layout, to re-sync the canvas after one edit, and the frame time while panning
// at 100 % and zoomed out to show the whole graph. Offscreen; prints JSON lines (medians and
// 95th percentiles of repeated frames). Not a test: no timing is asserted.
#include <QApplication>
#include <QScrollBar>
#include <cstdio>

#include "bench_common.h"
#include "bench_graphs.h"
#include "editor/canvas/graph_scene.h"
#include "editor/canvas/graph_view.h"
#include "editor/graph_document.h"
#include "editor/layout/auto_layout.h"

using namespace nl;

namespace {

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Scrolls the view by `step` pixels `frames` times, painting each frame synchronously; the
// times of the paints in ms.
std::vector<double> pan_frames(editor::GraphView& view, int frames, int step) {
  std::vector<double> ms;
  QScrollBar* h = view.horizontalScrollBar();
  QScrollBar* v = view.verticalScrollBar();
  for (int i = 0; i < frames; ++i) {
    double t0 = bench::now_seconds();
    // A diagonal sweep, back and forth, as a hand pans.
    int dir = (i / (frames / 4 + 1)) % 2 ? -1 : 1;
    h->setValue(h->value() + dir * step);
    v->setValue(v->value() + dir * step / 3);
    view.viewport()->repaint();
    ms.push_back(1e3 * (bench::now_seconds() - t0));
  }
  return ms;
}

void print_frames(const char* what, int nodes, double zoom, const std::vector<double>& ms) {
  std::printf("{\"bench\": \"canvas_pan\", \"case\": \"%s\", \"nodes\": %d, \"zoom\": %.3f, \"frames\": %zu, "
              "\"median_ms\": %.2f, \"p95_ms\": %.2f}\n",
              what, nodes, zoom, ms.size(), bench::median(ms), percentile(ms, 0.95));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  // 285 blocks: 2,000 nodes (BENCH_BLOCKS changes it, to compare with a small graph).
  graph::ModelGraph g = bench::residual_cnn(qEnvironmentVariableIntValue("BENCH_BLOCKS") ?: 285);
  const int nodes = static_cast<int>(g.size());

  editor::GraphDocument doc;
  editor::GraphScene scene(doc);
  editor::GraphView view(&scene);
  view.resize(1600, 900);
  view.show();
  QApplication::processEvents();
  // The reference: the same view with nothing on it (background and grid only), so the
  // graph's share of a frame shows whatever the machine's load.
  pan_frames(view, 10, 20);
  print_frames("empty canvas", 0, view.zoom(), pan_frames(view, 120, 20));

  double t0 = bench::now_seconds();
  doc.reset(std::move(g));  // analysis + every item built
  double open_ms = 1e3 * (bench::now_seconds() - t0);

  t0 = bench::now_seconds();
  editor::LayoutResult layout =
      editor::compute_layered_layout(editor::AutoLayout::snapshot(doc, editor::LayoutDirection::LeftToRight));
  double layout_ms = 1e3 * (bench::now_seconds() - t0);
  t0 = bench::now_seconds();
  doc.moveNodes(layout.positions, doc.newMoveId());
  double apply_ms = 1e3 * (bench::now_seconds() - t0);
  QRectF extent = scene.itemsBoundingRect();
  std::printf("{\"bench\": \"canvas_open\", \"nodes\": %d, \"edges\": %zu, \"open_ms\": %.1f, \"layout_ms\": %.1f, "
              "\"apply_layout_ms\": %.1f, \"extent\": [%.0f, %.0f], \"layout_error\": \"%s\"}\n",
              nodes, doc.graph().edges().size(), open_ms, layout_ms, apply_ms, extent.width(), extent.height(),
              layout.error.c_str());
  std::fflush(stdout);

  // One attribute edit: analysis plus the canvas catching up.
  std::vector<double> edit_ms;
  graph::NodeId conv = 0;
  for (const auto& [id, node] : doc.graph().nodes())
    if (node.type == "Conv2d") conv = id;
  for (int i = 0; i < (qEnvironmentVariableIntValue("BENCH_EDITS") ?: 9); ++i) {
    t0 = bench::now_seconds();
    doc.setAttribute(conv, "out_channels", int64_t{16 + (i % 2) * 8});
    edit_ms.push_back(1e3 * (bench::now_seconds() - t0));
  }
  std::printf("{\"bench\": \"canvas_edit\", \"nodes\": %d, \"median_ms\": %.1f}\n", nodes, bench::median(edit_ms));

  // Panning at 100 % from the graph's start, then with the whole graph in view.
  view.resetTransform();
  view.centerOn(scene.itemsBoundingRect().topLeft() + QPointF(700, 400));
  QApplication::processEvents();
  pan_frames(view, 10, 20);  // warm-up: item caches fill
  print_frames("100%", nodes, view.zoom(), pan_frames(view, qEnvironmentVariableIntValue("BENCH_FRAMES") ?: 120, 20));
  view.resetTransform();
  view.scale(0.1, 0.1);  // the canvas's smallest zoom
  view.centerOn(scene.itemsBoundingRect().center());
  QApplication::processEvents();
  pan_frames(view, 5, 20);
  print_frames("10%", nodes, view.zoom(), pan_frames(view, 40, 20));
  view.resetTransform();
  view.scale(0.35, 0.35);
  view.centerOn(scene.itemsBoundingRect().center());
  QApplication::processEvents();
  pan_frames(view, 5, 20);
  print_frames("35%", nodes, view.zoom(), pan_frames(view, 60, 20));
  return 0;
}
